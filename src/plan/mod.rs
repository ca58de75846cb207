//! The planner: desired × observed → an ordered list of changes. Pure: no I/O, no clock, no randomness.
//! Check mode returns this plan as it is; apply executes it (`src/apply.rs`). One file per backend.

pub mod deprecations;
mod kafka;
mod kafka_security;
mod pattern_overlap;
pub mod policy_lint;
pub mod policy_rules;
mod rabbit;
pub mod upgrade;

pub use kafka::plan as plan_kafka;
pub use kafka_security::plan as plan_kafka_security;
pub use rabbit::plan as plan_rabbit;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Broker;
use crate::result::Diff;
use crate::spec::{AclBinding, ApplyTo, HashingAlgorithm, ScramMechanism};

pub const HIDDEN: &str = "<hidden>";
pub const HIDDEN_CHANGED: &str = "<hidden, changed>";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vhost,
    /// RabbitMQ 4.1+ deletion protection of a vhost, its own endpoint and change.
    VhostProtection,
    User,
    Permission,
    TopicPermission,
    Policy,
    Topic,
    KafkaUser,
    KafkaAcl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Planned,
    Applied,
    Failed,
    /// Sent, but no answer came back, even to retries: it may or may not have been applied.
    Unknown,
    NotApplied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::NotApplied => "not_applied",
        }
    }
}

/// A secret that only the backend may read: its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HIDDEN)
    }
}

/// How a user write sets the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordWrite {
    /// Resend the stored hash, because a user PUT replaces the whole user (rabbitmq-management#141).
    Keep { hash: Secret, algorithm: Option<String> },
    /// Hash this password (the backend salts it) with this algorithm.
    Plain {
        password: Secret,
        algorithm: HashingAlgorithm,
    },
    /// Store this hash as given.
    Hash { hash: Secret, algorithm: HashingAlgorithm },
    /// No password: password login disabled (RabbitMQ's empty `password_hash`).
    Disabled,
}

/// What the backend executes. One operation, one idempotent request.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    PutVhost {
        name: String,
        description: String,
        tags: Vec<String>,
        default_queue_type: Option<String>,
    },
    DeleteVhost {
        name: String,
    },
    /// `POST` (on) or `DELETE` (off) `/api/vhosts/{name}/deletion/protection`, RabbitMQ 4.1+.
    SetVhostProtection {
        name: String,
        protected: bool,
    },
    PutUser {
        name: String,
        password: PasswordWrite,
        tags: Vec<String>,
    },
    DeleteUser {
        name: String,
    },
    PutPermission {
        user: String,
        vhost: String,
        configure: String,
        write: String,
        read: String,
    },
    DeletePermission {
        user: String,
        vhost: String,
    },
    /// `clear_first`: the API can only delete all of a user's topic permissions on a vhost at once.
    PutTopicPermissions {
        user: String,
        vhost: String,
        entries: BTreeMap<String, (String, String)>,
        clear_first: bool,
    },
    DeleteTopicPermissions {
        user: String,
        vhost: String,
    },
    PutPolicy {
        vhost: String,
        name: String,
        pattern: String,
        apply_to: ApplyTo,
        priority: i64,
        definition: Map<String, Value>,
    },
    DeletePolicy {
        vhost: String,
        name: String,
    },
    /// Kafka: `-1` partitions or replication factor means the broker default (KIP-464).
    CreateTopic {
        name: String,
        partitions: i32,
        replication_factor: i32,
        config: BTreeMap<String, String>,
    },
    /// Kafka: the new total partition count.
    CreatePartitions {
        name: String,
        total: i32,
    },
    /// Kafka IncrementalAlterConfigs: SET and DELETE of the managed keys only.
    AlterTopicConfig {
        name: String,
        set: BTreeMap<String, String>,
        delete: Vec<String>,
    },
    DeleteTopic {
        name: String,
    },
    /// Kafka AlterUserScramCredentials upsertion; the broker salts the password.
    UpsertScramCredential {
        user: String,
        mechanism: ScramMechanism,
        iterations: i32,
        password: Secret,
    },
    DeleteScramCredential {
        user: String,
        mechanism: ScramMechanism,
    },
    CreateAcl {
        acl: AclBinding,
    },
    /// Deleted with a filter that matches exactly this binding.
    DeleteAcl {
        acl: AclBinding,
    },
}

impl Op {
    /// Changes run in stages: a stage starts when the one before it has finished. Within a stage, concurrently.
    /// Creates go parents first (vhost, user, grants, policies); deletes go children first.
    pub fn stage(&self) -> u8 {
        match self {
            Op::PutVhost { .. } => 0,
            // Protection goes on once the vhost exists, and comes off just before a delete of the vhost.
            Op::PutUser { .. } | Op::SetVhostProtection { protected: true, .. } => 1,
            Op::PutPermission { .. } | Op::PutTopicPermissions { .. } => 2,
            Op::PutPolicy { .. } => 3,
            Op::DeletePolicy { .. } | Op::DeletePermission { .. } | Op::DeleteTopicPermissions { .. } => 4,
            Op::DeleteUser { .. } | Op::SetVhostProtection { protected: false, .. } => 5,
            Op::DeleteVhost { .. } => 6,
            Op::CreateTopic { .. } => 10,
            Op::CreatePartitions { .. } => 11,
            Op::AlterTopicConfig { .. } => 12,
            Op::DeleteTopic { .. } => 13,
            Op::UpsertScramCredential { .. } => 14,
            Op::CreateAcl { .. } => 15,
            Op::DeleteAcl { .. } => 16,
            Op::DeleteScramCredential { .. } => 17,
        }
    }

    pub fn backend(&self) -> Broker {
        match self {
            Op::PutVhost { .. }
            | Op::DeleteVhost { .. }
            | Op::SetVhostProtection { .. }
            | Op::PutUser { .. }
            | Op::DeleteUser { .. }
            | Op::PutPermission { .. }
            | Op::DeletePermission { .. }
            | Op::PutTopicPermissions { .. }
            | Op::DeleteTopicPermissions { .. }
            | Op::PutPolicy { .. }
            | Op::DeletePolicy { .. } => Broker::RabbitMq,
            Op::CreateTopic { .. }
            | Op::CreatePartitions { .. }
            | Op::AlterTopicConfig { .. }
            | Op::DeleteTopic { .. }
            | Op::UpsertScramCredential { .. }
            | Op::DeleteScramCredential { .. }
            | Op::CreateAcl { .. }
            | Op::DeleteAcl { .. } => Broker::Kafka,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub before: Value,
    pub after: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub backend: Broker,
    pub kind: Kind,
    pub name: String,
    pub vhost: Option<String>,
    pub action: Action,
    pub fields: BTreeMap<String, FieldChange>,
    pub status: Status,
    /// Why this change failed, in the broker's words; set only on `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub op: Op,
}

impl Change {
    /// A planned change; the backend follows from the operation.
    pub fn new(
        kind: Kind,
        name: impl Into<String>,
        vhost: Option<String>,
        action: Action,
        fields: BTreeMap<String, FieldChange>,
        op: Op,
    ) -> Self {
        Change {
            backend: op.backend(),
            kind,
            name: name.into(),
            vhost,
            action,
            fields,
            status: Status::Planned,
            error: None,
            op,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        };
        match (self.kind, &self.vhost) {
            (Kind::Vhost, _) => write!(f, "{action} vhost '{}'", self.name),
            (Kind::VhostProtection, _) => write!(f, "{action} deletion protection of vhost '{}'", self.name),
            (Kind::User, _) => write!(f, "{action} user '{}'", self.name),
            (Kind::Permission, Some(v)) => write!(f, "{action} permissions of user '{}' on vhost '{v}'", self.name),
            (Kind::TopicPermission, Some(v)) => {
                write!(f, "{action} topic permissions of user '{}' on vhost '{v}'", self.name)
            }
            (Kind::Policy, Some(v)) => write!(f, "{action} policy '{}' on vhost '{v}'", self.name),
            (Kind::Topic, _) => write!(f, "{action} topic '{}'", self.name),
            (Kind::KafkaUser, _) => write!(f, "{action} Kafka SCRAM user '{}'", self.name),
            (Kind::KafkaAcl, _) => write!(f, "{action} Kafka ACL {}", self.name),
            (kind, _) => write!(f, "{action} {kind:?} '{}'", self.name),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    /// The warnings (and findings with no warning text of their own) in machine-readable form.
    pub findings: Vec<crate::result::Finding>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Appends another backend's plan; each backend's changes keep their own order.
    pub fn extend(&mut self, other: Plan) {
        self.changes.extend(other.changes);
        self.warnings.extend(other.warnings);
        self.findings.extend(other.findings);
    }

    /// `before` and `after` documents for Ansible's `--diff`, built from the changed fields only.
    pub fn diff(&self) -> Diff {
        let mut before = Map::new();
        let mut after = Map::new();
        for c in &self.changes {
            let section = match c.kind {
                Kind::Vhost => "vhosts",
                Kind::VhostProtection => "vhost_protection",
                Kind::User => "users",
                Kind::Permission => "permissions",
                Kind::TopicPermission => "topic_permissions",
                Kind::Policy => "policies",
                Kind::Topic => "topics",
                Kind::KafkaUser => "kafka_users",
                Kind::KafkaAcl => "kafka_acls",
            };
            let key = match &c.vhost {
                Some(v) => format!("{v}/{}", c.name),
                None => c.name.clone(),
            };
            let side = |pick: fn(&FieldChange) -> &Value| -> Value {
                Value::Object(c.fields.iter().map(|(k, fc)| (k.clone(), pick(fc).clone())).collect())
            };
            let (b, a) = match c.action {
                Action::Create => (Value::Null, side(|fc| &fc.after)),
                Action::Delete => (side(|fc| &fc.before), Value::Null),
                Action::Update => (side(|fc| &fc.before), side(|fc| &fc.after)),
            };
            for (doc, value) in [(&mut before, b), (&mut after, a)] {
                if let Value::Object(m) = doc.entry(section).or_insert_with(|| Value::Object(Map::new())) {
                    // One topic may have a partition change and a config change: merge them.
                    match (m.get_mut(&key), value) {
                        (Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                        (_, value) => {
                            m.insert(key.clone(), value);
                        }
                    }
                }
            }
        }
        Diff { before, after }
    }
}

pub(crate) fn field(before: impl Into<Value>, after: impl Into<Value>) -> FieldChange {
    FieldChange {
        before: before.into(),
        after: after.into(),
    }
}
