//! Kafka state: one metadata read (topics, partitions, replicas) plus one batched DescribeConfigs for
//! the declared topics that exist. Only dynamic topic-level entries count as set; broker and default
//! sources mean "unset", so broker defaults never read as drift.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::spec::{AclBinding, ScramMechanism};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedTopic {
    pub partitions: i32,
    /// The smallest replica count over the topic's partitions.
    pub replication_factor: i32,
    /// Dynamic topic config overrides, as the broker's strings.
    pub config: BTreeMap<String, String>,
    /// Overrides whose values the broker does not reveal.
    pub sensitive: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct KafkaSnapshot {
    pub topics: BTreeMap<String, ObservedTopic>,
    /// SCRAM credentials of the declared users: mechanism → iterations (DescribeUserScramCredentials).
    pub scram: BTreeMap<String, BTreeMap<ScramMechanism, i32>>,
    /// For users with `update_password: always`: whether the declared password logs in (a SASL
    /// authentication as that user, which writes nothing).
    pub logins: BTreeMap<String, bool>,
    /// Every ACL binding the broker has (one DescribeAcls with a match-any filter), when ACLs are declared.
    pub acls: BTreeSet<AclBinding>,
    /// Bindings whose resource type, pattern or operation librdkafka cannot name; never touched.
    pub unknown_acls: usize,
}

/// A config value in the broker's string form: `true`, `604800000`, `compact,delete`.
pub fn config_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            #[allow(clippy::cast_possible_truncation)]
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => (f as i64).to_string(),
            _ => n.to_string(),
        }),
        _ => None,
    }
}
