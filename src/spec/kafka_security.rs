//! Desired Kafka security state: SCRAM users (`kafka_users`) and ACLs (`kafka_acls`, with
//! `purge_kafka_acls` scoped to the principals the request names).

use serde::{Deserialize, Serialize};

use super::rabbit::{State, UpdatePassword};
use crate::error::{Error, Result};

/// Kafka's bounds on SCRAM iterations (`ScramMechanism.java`: 4096 to 16384).
pub const SCRAM_MIN_ITERATIONS: i32 = 4096;
pub const SCRAM_MAX_ITERATIONS: i32 = 16384;
/// kafka-configs' default.
pub const SCRAM_DEFAULT_ITERATIONS: i32 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum ScramMechanism {
    #[serde(rename = "SCRAM-SHA-256")]
    Sha256,
    #[serde(rename = "SCRAM-SHA-512")]
    Sha512,
}

impl ScramMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaUserSpec {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    /// Default SCRAM-SHA-512.
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub mechanism: Option<ScramMechanism>,
    #[serde(default)]
    pub iterations: Option<i32>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub update_password: Option<UpdatePassword>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

// Hand-written so that the password can never reach a log line.
impl std::fmt::Debug for KafkaUserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaUserSpec")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("mechanism", &self.mechanism)
            .field("iterations", &self.iterations)
            .field("update_password", &self.update_password)
            .field("state", &self.state)
            .finish()
    }
}

impl KafkaUserSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism.unwrap_or(ScramMechanism::Sha512)
    }

    pub fn iterations(&self) -> i32 {
        self.iterations.unwrap_or(SCRAM_DEFAULT_ITERATIONS)
    }

    pub fn update_password(&self) -> UpdatePassword {
        self.update_password.unwrap_or_default()
    }

    /// Whether the run must test the stored password by logging in (`update_password: always`).
    pub fn needs_login_test(&self) -> bool {
        self.state() == State::Present && self.update_password() == UpdatePassword::Always && self.password.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AclResourceType {
    Topic,
    Group,
    Cluster,
    TransactionalId,
}

impl AclResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            AclResourceType::Topic => "topic",
            AclResourceType::Group => "group",
            AclResourceType::Cluster => "cluster",
            AclResourceType::TransactionalId => "transactional_id",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AclPatternType {
    #[default]
    Literal,
    Prefixed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AclPermission {
    #[default]
    Allow,
    Deny,
}

/// The operations Kafka's ACLs name (`AclOperation.java`), in librdkafka's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AclOperation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl AclOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            AclOperation::All => "all",
            AclOperation::Read => "read",
            AclOperation::Write => "write",
            AclOperation::Create => "create",
            AclOperation::Delete => "delete",
            AclOperation::Alter => "alter",
            AclOperation::Describe => "describe",
            AclOperation::ClusterAction => "cluster_action",
            AclOperation::DescribeConfigs => "describe_configs",
            AclOperation::AlterConfigs => "alter_configs",
            AclOperation::IdempotentWrite => "idempotent_write",
        }
    }
}

/// The one name a cluster resource has.
pub const CLUSTER_RESOURCE_NAME: &str = "kafka-cluster";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclSpec {
    /// `User:<name>`, as the broker names the SCRAM user.
    pub principal: String,
    #[serde(deserialize_with = "crate::spec::strict::name")]
    pub resource_type: AclResourceType,
    /// Unset for `cluster` (always `kafka-cluster`); required otherwise.
    #[serde(default)]
    pub resource_name: Option<String>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub pattern_type: Option<AclPatternType>,
    #[serde(deserialize_with = "crate::spec::strict::names")]
    pub operations: Vec<AclOperation>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub permission: Option<AclPermission>,
    /// Default `*` (any host).
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

/// One ACL binding in normal form: one operation each, as the broker stores them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AclBinding {
    pub principal: String,
    pub resource_type: AclResourceType,
    pub resource_name: String,
    pub pattern_type: AclPatternType,
    pub operation: AclOperation,
    pub permission: AclPermission,
    pub host: String,
}

impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pattern = match self.pattern_type {
            AclPatternType::Literal => "",
            AclPatternType::Prefixed => "*",
        };
        let permission = match self.permission {
            AclPermission::Allow => "allow",
            AclPermission::Deny => "deny",
        };
        write!(
            f,
            "{permission} {} {} on {} '{}{pattern}' from host '{}'",
            self.principal,
            self.operation.as_str(),
            self.resource_type.as_str(),
            self.resource_name,
            self.host
        )
    }
}

impl AclSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }

    pub fn pattern_type(&self) -> AclPatternType {
        self.pattern_type.unwrap_or_default()
    }

    pub fn permission(&self) -> AclPermission {
        self.permission.unwrap_or_default()
    }

    /// Any host unless one is named.
    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or("*")
    }

    /// The bindings this entry declares, one per operation.
    pub fn bindings(&self) -> Vec<AclBinding> {
        let name = match self.resource_type {
            AclResourceType::Cluster => CLUSTER_RESOURCE_NAME.to_owned(),
            _ => self.resource_name.clone().unwrap_or_default(),
        };
        self.operations
            .iter()
            .map(|op| AclBinding {
                principal: self.principal.clone(),
                resource_type: self.resource_type,
                resource_name: name.clone(),
                pattern_type: self.pattern_type(),
                operation: *op,
                permission: self.permission(),
                host: self.host().to_owned(),
            })
            .collect()
    }
}

pub(super) fn validate_users(users: &[KafkaUserSpec]) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for (i, u) in users.iter().enumerate() {
        let p = format!("kafka_users[{i}]");
        if u.name.is_empty() {
            return Err(Error::spec(format!("{p}.name"), "must not be empty"));
        }
        super::rabbit::check_no_control(&format!("{p}.name"), &u.name, "the user name")?;
        if u.name.contains(',') || u.name.contains('=') {
            return Err(Error::spec(
                format!("{p}.name"),
                format!(
                    "'{}' contains ',' or '=', which SCRAM escapes in a way some clients do not; choose a name without them",
                    u.name
                ),
            ));
        }
        if let Some(first) = seen.insert(u.name.clone(), i) {
            return Err(Error::spec(
                format!("{p}.name"),
                format!(
                    "user '{}' is also declared at kafka_users[{first}]; declare each once",
                    u.name
                ),
            ));
        }
        if let Some(n) = u.iterations
            && !(SCRAM_MIN_ITERATIONS..=SCRAM_MAX_ITERATIONS).contains(&n)
        {
            return Err(Error::spec(
                format!("{p}.iterations"),
                format!("{n} is outside Kafka's range; use {SCRAM_MIN_ITERATIONS} to {SCRAM_MAX_ITERATIONS}"),
            ));
        }
        if u.state() == State::Present {
            match &u.password {
                None => {
                    return Err(Error::spec(
                        format!("{p}.password"),
                        "a present SCRAM user needs a password (Kafka keeps only a salted hash, so one is needed to create it)",
                    ));
                }
                Some(pw) if pw.is_empty() => {
                    return Err(Error::spec(format!("{p}.password"), "must not be empty"));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

pub(super) fn validate_acls(acls: &[AclSpec]) -> Result<()> {
    for (i, a) in acls.iter().enumerate() {
        let p = format!("kafka_acls[{i}]");
        super::rabbit::check_no_control(&format!("{p}.principal"), &a.principal, "the principal")?;
        if let Some(n) = &a.resource_name {
            super::rabbit::check_no_control(&format!("{p}.resource_name"), n, "the resource name")?;
        }
        if let Some(h) = &a.host {
            super::rabbit::check_no_control(&format!("{p}.host"), h, "the host")?;
        }
        match a.principal.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {
                if name == "*" {
                    return Err(Error::spec(
                        format!("{p}.principal"),
                        "the wildcard principal 'User:*' is not managed here; name each user",
                    ));
                }
            }
            _ => {
                return Err(Error::spec(
                    format!("{p}.principal"),
                    format!(
                        "'{}' is not TYPE:NAME; write e.g. User:nova",
                        super::shown(&a.principal)
                    ),
                ));
            }
        }
        if a.operations.is_empty() {
            return Err(Error::spec(
                format!("{p}.operations"),
                "must list at least one operation, e.g. [write, describe]",
            ));
        }
        match (a.resource_type, &a.resource_name) {
            (AclResourceType::Cluster, Some(n)) if n != CLUSTER_RESOURCE_NAME => {
                return Err(Error::spec(
                    format!("{p}.resource_name"),
                    format!("a cluster resource is always named '{CLUSTER_RESOURCE_NAME}'; leave resource_name out"),
                ));
            }
            (AclResourceType::Cluster, _) => {}
            (_, None) => {
                return Err(Error::spec(
                    format!("{p}.resource_name"),
                    format!("is required for resource_type {}", a.resource_type.as_str()),
                ));
            }
            (_, Some(n)) if n.is_empty() || n == "*" => {
                return Err(Error::spec(
                    format!("{p}.resource_name"),
                    "must name the resource; wildcard resources are not managed here",
                ));
            }
            (_, Some(_)) => {}
        }
        if a.host.as_deref().is_some_and(str::is_empty) {
            return Err(Error::spec(
                format!("{p}.host"),
                "must not be empty; '*' means any host",
            ));
        }
    }
    Ok(())
}
