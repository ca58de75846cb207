//! The `verify` option: which probes run after apply (`src/verify/`).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// `false` (the default), `true` (every kind), or a list of kinds: `amqp`, `kafka`. One kind may be
/// given as a bare string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifySpec {
    /// Log in as each declared user on each of its vhosts, and a probe queue where it may configure one.
    pub amqp: bool,
    /// Produce one record to each declared topic and read it back with a fresh consumer group.
    pub kafka: bool,
}

impl VerifySpec {
    pub const KINDS: [&'static str; 2] = ["amqp", "kafka"];

    pub fn any(self) -> bool {
        self.amqp || self.kafka
    }

    fn with(mut self, kind: &str) -> Option<Self> {
        match kind {
            "amqp" => self.amqp = true,
            "kafka" => self.kafka = true,
            _ => return None,
        }
        Some(self)
    }
}

impl<'de> Deserialize<'de> for VerifySpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let unknown = |what: &str| {
            D::Error::custom(format!(
                "'{}' is not something verify can check; use true, false, or a list of {}",
                super::shown(what),
                Self::KINDS.join(", ")
            ))
        };
        match Value::deserialize(deserializer)? {
            Value::Null | Value::Bool(false) => Ok(Self::default()),
            Value::Bool(true) => Ok(Self {
                amqp: true,
                kafka: true,
            }),
            Value::String(kind) => Self::default().with(&kind).ok_or_else(|| unknown(&kind)),
            Value::Array(items) => items.iter().try_fold(Self::default(), |spec, item| match item {
                Value::String(kind) => spec.with(kind).ok_or_else(|| unknown(kind)),
                other => Err(unknown(&other.to_string())),
            }),
            other => Err(unknown(&other.to_string())),
        }
    }
}
