//! RabbitMQ state from `GET /api/definitions` (users, permissions, policies) and `GET /api/vhosts`
//! (vhost metadata, which 3.10's definitions omit). Field names and shapes vary by version, so
//! parsing is tolerant: tags may be a list or a comma-separated string, and missing fields are empty.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedVhost {
    pub description: String,
    /// Sorted, so that order never reads as drift.
    pub tags: Vec<String>,
    pub default_queue_type: Option<String>,
}

#[derive(Clone, Default, PartialEq, Eq)]
pub struct ObservedUser {
    pub password_hash: String,
    pub hashing_algorithm: Option<String>,
    pub tags: Vec<String>,
}

impl std::fmt::Debug for ObservedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedUser")
            .field("password_hash", &"<hidden>")
            .field("hashing_algorithm", &self.hashing_algorithm)
            .field("tags", &self.tags)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedPermission {
    pub configure: String,
    pub write: String,
    pub read: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPolicy {
    pub pattern: String,
    pub apply_to: String,
    pub priority: i64,
    pub definition: Map<String, Value>,
}

/// One read of the broker. Keys: vhost name; user name; (user, vhost); (user, vhost) → exchange; (vhost, policy).
#[derive(Debug, Clone, Default)]
pub struct RabbitSnapshot {
    pub version: Option<String>,
    pub vhosts: BTreeMap<String, ObservedVhost>,
    pub users: BTreeMap<String, ObservedUser>,
    pub permissions: BTreeMap<(String, String), ObservedPermission>,
    pub topic_permissions: BTreeMap<(String, String), BTreeMap<String, (String, String)>>,
    pub policies: BTreeMap<(String, String), ObservedPolicy>,
    /// Vhosts with 4.1+ deletion protection on (`protected_from_deletion` in `GET /api/vhosts`, and in the
    /// vhost `metadata` of `GET /api/definitions`, so a definitions-only read sees it too).
    pub deletion_protected: BTreeSet<String>,
    /// What `GET /api/deprecated-features/used` reported, when the request asked for it and the broker
    /// has the endpoint (3.13+); `None` otherwise.
    pub deprecated_features_used: Option<Vec<DeprecatedFeature>>,
}

/// One entry of `GET /api/deprecated-features/used` (3.13+): a deprecated feature something on the broker
/// uses now. 4.3.6 lists `name`, `desc`, `deprecation_phase`, `doc_url` and `provided_by`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct DeprecatedFeature {
    pub name: String,
    /// `permitted_by_default`, `denied_by_default`, `disconnected` or `removed`.
    #[serde(default)]
    pub deprecation_phase: String,
    #[serde(default)]
    pub doc_url: String,
}

#[derive(Deserialize)]
struct RawDefinitions {
    #[serde(default)]
    rabbitmq_version: Option<String>,
    #[serde(default)]
    rabbit_version: Option<String>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    vhosts: Vec<RawVhost>,
    #[serde(default)]
    permissions: Vec<RawPermission>,
    #[serde(default)]
    topic_permissions: Vec<RawTopicPermission>,
    #[serde(default)]
    policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
struct RawUser {
    name: String,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    hashing_algorithm: Option<String>,
    #[serde(default)]
    tags: Value,
}

#[derive(Deserialize)]
struct RawVhost {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    default_queue_type: Option<String>,
    #[serde(default)]
    metadata: Option<RawVhostMetadata>,
    #[serde(default)]
    protected_from_deletion: bool,
}

#[derive(Deserialize)]
struct RawVhostMetadata {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    default_queue_type: Option<String>,
    /// 4.1+ definitions carry deletion protection here only.
    #[serde(default)]
    protected_from_deletion: bool,
}

#[derive(Deserialize)]
struct RawPermission {
    user: String,
    vhost: String,
    #[serde(default)]
    configure: String,
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

#[derive(Deserialize)]
struct RawTopicPermission {
    user: String,
    vhost: String,
    exchange: String,
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

#[derive(Deserialize)]
struct RawPolicy {
    vhost: String,
    name: String,
    #[serde(default)]
    pattern: String,
    #[serde(default, rename = "apply-to")]
    apply_to: Option<String>,
    #[serde(default)]
    priority: Value,
    #[serde(default)]
    definition: Map<String, Value>,
}

/// Tags arrive as `["a", "b"]` (3.9+ definitions) or `"a,b"` (older, and user PUT bodies).
fn tags_of(value: &Value) -> Vec<String> {
    let mut tags: Vec<String> = match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Value::String(s) => s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    tags.sort();
    tags.dedup();
    tags
}

/// The default queue type as a real type name; RabbitMQ reports `undefined` when none is set.
fn queue_type_of(value: Option<&str>) -> Option<String> {
    value.filter(|q| !q.is_empty() && *q != "undefined").map(str::to_owned)
}

fn priority_of(value: &Value) -> i64 {
    match value {
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        Value::String(s) => s.trim().parse().unwrap_or_default(),
        _ => 0,
    }
}

/// Definitions compare as maps; integral floats become integers so `2` and `2.0` are one value.
pub fn normalize_definition(definition: &Map<String, Value>) -> Map<String, Value> {
    definition
        .iter()
        .map(|(k, v)| (k.clone(), normalize_value(v)))
        .collect()
}

fn normalize_value(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            #[allow(clippy::cast_possible_truncation)]
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Object(map) => Value::Object(normalize_definition(map)),
        Value::Array(items) => Value::Array(items.iter().map(normalize_value).collect()),
        _ => value.clone(),
    }
}

impl RabbitSnapshot {
    /// Builds the snapshot from the two response bodies. `vhosts_body` may be `None` when no vhost is declared.
    /// Whether `GET /api/definitions` alone gives the vhosts' description, tags and default queue
    /// type: from 4.0 (tested on 4.0 and 4.3); 3.10's definitions lack them.
    pub fn definitions_carry_vhost_metadata(&self) -> bool {
        self.version
            .as_deref()
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse::<u32>().ok())
            .is_some_and(|major| major >= 4)
    }

    pub fn from_responses(definitions_body: &str, vhosts_body: Option<&str>) -> Result<Self> {
        let defs: RawDefinitions = serde_json::from_str(definitions_body).map_err(|e| {
            Error::Internal(format!(
                "GET /api/definitions returned a body that is not RabbitMQ definitions ({e})"
            ))
        })?;
        let mut snap = RabbitSnapshot {
            version: defs.rabbitmq_version.or(defs.rabbit_version),
            ..Default::default()
        };
        let vhost_list: Vec<RawVhost> = match vhosts_body {
            Some(body) => serde_json::from_str(body).map_err(|e| {
                Error::Internal(format!(
                    "GET /api/vhosts returned a body that is not a vhost list ({e})"
                ))
            })?,
            None => defs.vhosts,
        };
        for v in vhost_list {
            let meta = v.metadata.as_ref();
            let description = v
                .description
                .or_else(|| meta.and_then(|m| m.description.clone()))
                .unwrap_or_default();
            let tags = if v.tags.is_null() {
                tags_of(meta.map_or(&Value::Null, |m| &m.tags))
            } else {
                tags_of(&v.tags)
            };
            if v.protected_from_deletion || meta.is_some_and(|m| m.protected_from_deletion) {
                snap.deletion_protected.insert(v.name.clone());
            }
            let dqt = queue_type_of(v.default_queue_type.as_deref())
                .or_else(|| queue_type_of(meta.and_then(|m| m.default_queue_type.as_deref())));
            snap.vhosts.insert(
                v.name,
                ObservedVhost {
                    description,
                    tags,
                    default_queue_type: dqt,
                },
            );
        }
        for u in defs.users {
            snap.users.insert(
                u.name,
                ObservedUser {
                    password_hash: u.password_hash.unwrap_or_default(),
                    hashing_algorithm: u.hashing_algorithm,
                    tags: tags_of(&u.tags),
                },
            );
        }
        for p in defs.permissions {
            snap.permissions.insert(
                (p.user, p.vhost),
                ObservedPermission {
                    configure: p.configure,
                    write: p.write,
                    read: p.read,
                },
            );
        }
        for t in defs.topic_permissions {
            snap.topic_permissions
                .entry((t.user, t.vhost))
                .or_default()
                .insert(t.exchange, (t.write, t.read));
        }
        for p in defs.policies {
            snap.policies.insert(
                (p.vhost, p.name),
                ObservedPolicy {
                    pattern: p.pattern,
                    apply_to: p.apply_to.unwrap_or_else(|| "all".to_owned()),
                    priority: priority_of(&p.priority),
                    definition: normalize_definition(&p.definition),
                },
            );
        }
        Ok(snap)
    }

    /// The broker version as (major, minor, patch), when known.
    pub fn version_tuple(&self) -> Option<(u32, u32, u32)> {
        let v = self.version.as_deref()?;
        let mut parts = v
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().ok());
        Some((
            parts.next()??,
            parts.next().flatten().unwrap_or(0),
            parts.next().flatten().unwrap_or(0),
        ))
    }
}
