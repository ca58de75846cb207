//! What a rabbit transport URL can carry (user names, passwords, vhost names) and OSA's vhost variable
//! (a name, or a list of `{name, state}`). Here because both the `services:` shorthand and the `oslomsg`
//! lookup check them, with the same messages; the lookup depends on spec, not the reverse.

use serde_json::Value;

use crate::error::{Error, Result};

/// `(name, present)` for each entry of a vhost variable: a string, or a list of `{name, state}`.
pub fn parse_vhost_list(path: &str, v: &Value) -> Result<Vec<(String, bool)>> {
    match v {
        Value::String(s) => Ok(vec![(s.clone(), true)]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let Value::Object(entry) = item else {
                    return Err(Error::spec(p, "each entry is {name: VHOST, state: present|absent}"));
                };
                if let Some(k) = entry.keys().find(|k| !matches!(k.as_str(), "name" | "state")) {
                    return Err(Error::spec(
                        format!("{p}.{k}"),
                        "unknown key; an entry has only name and state",
                    ));
                }
                let Some(name) = entry.get("name").and_then(Value::as_str) else {
                    return Err(Error::spec(format!("{p}.name"), "is required, a string"));
                };
                let present = match entry.get("state") {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) if s == "present" => true,
                    Some(Value::String(s)) if s == "absent" => false,
                    Some(other) => {
                        return Err(Error::spec(
                            format!("{p}.state"),
                            format!(
                                "{} is not a state; use present or absent",
                                super::shown(&other.to_string())
                            ),
                        ));
                    }
                };
                out.push((name.to_owned(), present));
            }
            Ok(out)
        }
        other => Err(Error::spec(
            path,
            format!("is a {}; give a vhost name or a list of {{name, state}}", kind(other)),
        )),
    }
}

/// Refuses what a rabbit URL cannot carry. Never echoes the value: it may be a password.
pub fn check_rabbit_credential(path: &str, what: &str, value: &str) -> Result<()> {
    if value.contains('/') {
        return Err(Error::spec(
            path,
            format!(
                "the {what} contains '/', which oslo.messaging's rabbit driver cannot carry in a transport URL, \
                 even percent-encoded (it re-quotes credentials keeping '/', and kombu then fails with \"Port \
                 could not be cast to integer\"); choose a {what} without '/' (OSA's pw-token-gen.py makes hex \
                 passwords)"
            ),
        ));
    }
    Ok(())
}

/// Refuses vhost names oslo.messaging mangles: it decodes the vhost twice, and `?`/`#` end the path.
pub fn check_vhost_name(path: &str, vhost: &str) -> Result<()> {
    if vhost.is_empty() {
        return Err(Error::spec(path, "the vhost name is empty"));
    }
    if let Some(c) = vhost.chars().find(|c| matches!(c, '%' | '?' | '#')) {
        return Err(Error::spec(
            path,
            format!(
                "vhost '{}' contains '{c}', which oslo.messaging cannot carry in a transport URL (it decodes \
                 the vhost twice, and '?' and '#' end the path); rename the vhost",
                super::shown(vhost)
            ),
        ));
    }
    Ok(())
}

/// The YAML name of a JSON value's type, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}
