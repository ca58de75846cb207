//! Typed reads of the overriding `vars`: Ansible's truthiness, integers, ports, strings, passwords,
//! policy lists and vhost lists. Every error names `vars.<name>`, the variable the user set.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::spec::{kind, parse_vhost_list, shown};

/// Reads overriding variables; a missing or null variable is unset. Errors name `vars.<name>`.
pub(super) struct Vars<'a>(pub(super) &'a Map<String, Value>);

pub(super) fn var_path(name: &str) -> String {
    format!("vars.{name}")
}

impl Vars<'_> {
    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// Ansible's `bool` filter: booleans, 0/1, and yes/no/on/off/true/false in any case.
    pub(super) fn bool(&self, name: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let parsed = match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
                "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            Error::spec(
                var_path(name),
                format!("{} is not a boolean; use true or false", shown(&v.to_string())),
            )
        })
    }

    pub(super) fn int(&self, name: &str) -> Result<Option<i64>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| Error::spec(var_path(name), format!("{} is not an integer", shown(&v.to_string()))))
    }

    pub(super) fn port(&self, name: &str) -> Result<Option<i64>> {
        let port = self.int(name)?;
        if let Some(p) = port
            && !(1..=65535).contains(&p)
        {
            return Err(Error::spec(var_path(name), format!("{p} is not a TCP port (1-65535)")));
        }
        Ok(port)
    }

    /// Strings, and numbers as their text (a YAML `5671` in a string variable).
    pub(super) fn string(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(Error::spec(var_path(name), format!("is a {}, not a string", kind(v)))),
        }
    }

    /// A password: a string. Never echoed.
    pub(super) fn secret(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(Error::spec(
                var_path(name),
                format!("is a {}, not a string; quote the password", kind(v)),
            )),
        }
    }

    /// A list of policies (`name`, `pattern`, `priority`, `tags`, optional `apply_to`, `state`), as given.
    pub(super) fn policies(&self, name: &str) -> Result<Option<Vec<Value>>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let Value::Array(items) = v else {
            return Err(Error::spec(
                var_path(name),
                format!("is a {}, not a list of policies", kind(v)),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let ok = item.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
            if !ok {
                return Err(Error::spec(
                    format!("vars.{name}[{i}].name"),
                    "each policy needs a name, as in {name: CQv2, pattern: '.*', priority: 0, tags: {queue-version: 2}}",
                ));
            }
        }
        Ok(Some(items.clone()))
    }

    /// A vhost: a string (legacy) or a list of `{name, state}`.
    pub(super) fn vhost(&self, name: &str) -> Result<Option<Value>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        parse_vhost_list(&var_path(name), v)?;
        Ok(Some(v.clone()))
    }
}
