//! serde's derived structs also accept a sequence (the fields in declaration order, so `rabbitmq: []` read as
//! "all defaults"), and its derived enums a one-key mapping (`state: {absent: null}`). A request holds only
//! mappings and names, so the fields that carry a struct or an enum go through these wrappers, which refuse
//! anything else with serde's own message ("invalid type: sequence, expected a mapping").

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{Deserialize, Deserializer, Error, MapAccess, Visitor};

/// A `T` read from a mapping only.
pub(crate) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(V(PhantomData)).map(Obj)
    }
}

/// A unit enum `T` read from its name only.
pub(crate) struct Name<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Name<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
                T::deserialize(StrDeserializer::<E>::new(v))
            }
        }
        deserializer.deserialize_str(V(PhantomData)).map(Name)
    }
}

pub(crate) fn obj<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Obj::deserialize(d)?.0)
}

pub(crate) fn opt_obj<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Obj<T>>::deserialize(d)?.map(|o| o.0))
}

pub(crate) fn opt_objs<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Vec<Obj<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|o| o.0).collect()))
}

pub(crate) fn name<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Name::deserialize(d)?.0)
}

pub(crate) fn opt_name<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Name<T>>::deserialize(d)?.map(|n| n.0))
}

pub(crate) fn names<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Vec::<Name<T>>::deserialize(d)?.into_iter().map(|n| n.0).collect())
}

/// A value for an error message: at most 64 characters, control characters escaped.
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    let n = value.chars().count();
    let head: String = value.chars().take(MAX).collect::<String>().escape_debug().collect();
    if n > MAX {
        format!("{head}… ({n} characters)")
    } else {
        head
    }
}
