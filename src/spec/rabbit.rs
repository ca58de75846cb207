//! Desired RabbitMQ objects: vhosts, users with permissions, policies.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Classic,
    Quorum,
    Stream,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
            QueueType::Stream => "stream",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VhostSpec {
    pub name: String,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub default_queue_type: Option<QueueType>,
    /// RabbitMQ 4.1+ deletion protection (`POST`/`DELETE /api/vhosts/{name}/deletion/protection`);
    /// `None` leaves it as it is.
    #[serde(default)]
    pub protected: Option<bool>,
}

impl VhostSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePassword {
    #[default]
    Always,
    OnCreate,
}

/// The hashing functions RabbitMQ's internal backend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HashingAlgorithm {
    #[serde(rename = "rabbit_password_hashing_sha256")]
    Sha256,
    #[serde(rename = "rabbit_password_hashing_sha512")]
    Sha512,
    #[serde(rename = "rabbit_password_hashing_md5")]
    Md5,
}

impl HashingAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            HashingAlgorithm::Sha256 => "rabbit_password_hashing_sha256",
            HashingAlgorithm::Sha512 => "rabbit_password_hashing_sha512",
            HashingAlgorithm::Md5 => "rabbit_password_hashing_md5",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "rabbit_password_hashing_sha256" => Some(HashingAlgorithm::Sha256),
            "rabbit_password_hashing_sha512" => Some(HashingAlgorithm::Sha512),
            "rabbit_password_hashing_md5" => Some(HashingAlgorithm::Md5),
            _ => None,
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    pub vhost: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl std::fmt::Debug for PermissionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}/{}/{}", self.vhost, self.configure, self.write, self.read)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicPermissionSpec {
    pub vhost: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_hash: Option<String>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub hashing_algorithm: Option<HashingAlgorithm>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub update_password: Option<UpdatePassword>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub permissions: Option<Vec<PermissionSpec>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub topic_permissions: Option<Vec<TopicPermissionSpec>>,
    /// With `permissions` given: remove permissions on vhosts it does not list (default true).
    #[serde(default)]
    pub purge_permissions: Option<bool>,
}

// Hand-written so that neither password nor hash can reach a log line.
impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<hidden>"))
            .field("hashing_algorithm", &self.hashing_algorithm)
            .field("tags", &self.tags)
            .field("update_password", &self.update_password)
            .field("state", &self.state)
            .field("permissions", &self.permissions)
            .field("topic_permissions", &self.topic_permissions)
            .field("purge_permissions", &self.purge_permissions)
            .finish()
    }
}

/// What the user wants the password to be, if anything.
pub enum PasswordSpec<'a> {
    Unset,
    Plain(&'a str),
    Hash { hash: &'a str, algorithm: HashingAlgorithm },
}

impl UserSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }

    pub fn update_password(&self) -> UpdatePassword {
        self.update_password.unwrap_or_default()
    }

    pub fn purge_permissions(&self) -> bool {
        self.purge_permissions.unwrap_or(true)
    }

    pub fn password_spec(&self) -> PasswordSpec<'_> {
        match (&self.password, &self.password_hash) {
            (Some(p), _) => PasswordSpec::Plain(p),
            (None, Some(h)) => PasswordSpec::Hash {
                hash: h,
                algorithm: self.hashing_algorithm.unwrap_or(HashingAlgorithm::Sha256),
            },
            (None, None) => PasswordSpec::Unset,
        }
    }
}

/// What a policy applies to. `classic_queues`, `quorum_queues` and `streams` need RabbitMQ 3.12 or later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyTo {
    #[default]
    All,
    Queues,
    Exchanges,
    ClassicQueues,
    QuorumQueues,
    Streams,
}

impl ApplyTo {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyTo::All => "all",
            ApplyTo::Queues => "queues",
            ApplyTo::Exchanges => "exchanges",
            ApplyTo::ClassicQueues => "classic_queues",
            ApplyTo::QuorumQueues => "quorum_queues",
            ApplyTo::Streams => "streams",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            ApplyTo::All,
            ApplyTo::Queues,
            ApplyTo::Exchanges,
            ApplyTo::ClassicQueues,
            ApplyTo::QuorumQueues,
            ApplyTo::Streams,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    pub name: String,
    pub vhost: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub apply_to: Option<ApplyTo>,
    #[serde(default)]
    pub priority: Option<i64>,
    /// OSA passes the definition as `tags`.
    #[serde(default, alias = "tags")]
    pub definition: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

impl PolicySpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }

    pub fn apply_to(&self) -> ApplyTo {
        self.apply_to.unwrap_or_default()
    }

    /// RabbitMQ's own default priority.
    pub fn priority(&self) -> i64 {
        self.priority.unwrap_or(0)
    }
}

fn check_name(path: &str, name: &str, what: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::spec(path, format!("{what} name must not be empty")));
    }
    if name.len() > 255 {
        return Err(Error::spec(
            path,
            format!("{what} name is {} bytes long; RabbitMQ allows at most 255", name.len()),
        ));
    }
    check_no_control(path, name, &format!("the {what} name"))
}

/// Refuses control characters (NUL, newline, escape, DEL…) in a name or tag, naming the first by code point.
pub(crate) fn check_no_control(path: &str, value: &str, what: &str) -> Result<()> {
    if let Some((i, c)) = value.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(Error::spec(
            path,
            format!(
                "{what} contains the control character U+{:04X} at character {i}; names and tags are printable text, remove it",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// RabbitMQ compiles these with Erlang's PCRE; fancy-regex accepts the same common syntax (lookaround included).
/// Patterns already found valid are remembered: a request repeats `.*` once per grant, and compiling
/// each copy took about half of a 16-service no-op run.
pub fn check_regex(path: &str, pattern: &str) -> Result<()> {
    thread_local! {
        static VALID: std::cell::RefCell<std::collections::HashSet<String>> = std::cell::RefCell::default();
    }
    if VALID.with(|v| v.borrow().contains(pattern)) {
        return Ok(());
    }
    // Parsing is enough to know a pattern is valid, and costs microseconds where compiling cost a
    // millisecond; what the plain syntax rejects (lookaround, backreferences) fancy-regex compiles.
    if regex_syntax::Parser::new().parse(pattern).is_ok() {
        VALID.with(|v| v.borrow_mut().insert(pattern.to_owned()));
        return Ok(());
    }
    fancy_regex::Regex::new(pattern).map_err(|e| {
        Error::spec(
            path,
            format!(
                "'{}' is not a valid regular expression ({}); fix or quote it",
                super::shown(pattern),
                super::shown(&e.to_string())
            ),
        )
    })?;
    VALID.with(|v| v.borrow_mut().insert(pattern.to_owned()));
    Ok(())
}

fn check_unique(keys: &[String], section: &str, what: &str) -> Result<()> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(first) = seen.insert(key.as_str(), i) {
            return Err(Error::spec(
                format!("{section}[{i}]"),
                format!("{what} {key} is also declared at {section}[{first}]; declare each once"),
            ));
        }
    }
    Ok(())
}

pub(super) fn validate_vhosts(vhosts: &[VhostSpec]) -> Result<()> {
    for (i, v) in vhosts.iter().enumerate() {
        check_name(&format!("vhosts[{i}].name"), &v.name, "vhost")?;
        if v.protected == Some(true) && v.state() == State::Absent {
            return Err(Error::spec(
                format!("vhosts[{i}].protected"),
                "a vhost declared absent cannot be protected; use protected: false to lift the protection and delete it, or state: present",
            ));
        }
        if let Some(tags) = &v.tags {
            for (j, t) in tags.iter().enumerate() {
                if t.is_empty() || t.contains(',') {
                    return Err(Error::spec(
                        format!("vhosts[{i}].tags[{j}]"),
                        "a tag must be non-empty and contain no comma",
                    ));
                }
                check_no_control(&format!("vhosts[{i}].tags[{j}]"), t, "the tag")?;
            }
        }
    }
    let keys: Vec<String> = vhosts.iter().map(|v| format!("'{}'", v.name)).collect();
    check_unique(&keys, "vhosts", "vhost")
}

pub(super) fn validate_users(users: &[UserSpec]) -> Result<()> {
    for (i, u) in users.iter().enumerate() {
        let p = format!("users[{i}]");
        check_name(&format!("{p}.name"), &u.name, "user")?;
        if u.password.is_some() && u.password_hash.is_some() {
            return Err(Error::spec(
                format!("{p}.password_hash"),
                "give password or password_hash, not both",
            ));
        }
        if u.hashing_algorithm.is_some() && u.password_hash.is_none() {
            return Err(Error::spec(
                format!("{p}.hashing_algorithm"),
                "only applies together with password_hash",
            ));
        }
        if let Some(hash) = &u.password_hash
            && crate::password::decode_hash(hash).is_none()
        {
            // Never echo the value: it is a secret.
            return Err(Error::spec(
                format!("{p}.password_hash"),
                "is not a base64 salted hash as RabbitMQ stores it",
            ));
        }
        if let Some(tags) = &u.tags {
            for (j, t) in tags.iter().enumerate() {
                if t.is_empty() || t.contains(',') {
                    return Err(Error::spec(
                        format!("{p}.tags[{j}]"),
                        "a tag must be non-empty and contain no comma",
                    ));
                }
                check_no_control(&format!("{p}.tags[{j}]"), t, "the tag")?;
            }
        }
        if let Some(perms) = &u.permissions {
            for (j, perm) in perms.iter().enumerate() {
                let pp = format!("{p}.permissions[{j}]");
                check_name(&format!("{pp}.vhost"), &perm.vhost, "vhost")?;
                check_regex(&format!("{pp}.configure"), &perm.configure)?;
                check_regex(&format!("{pp}.write"), &perm.write)?;
                check_regex(&format!("{pp}.read"), &perm.read)?;
            }
            let keys: Vec<String> = perms.iter().map(|x| format!("for vhost '{}'", x.vhost)).collect();
            check_unique(&keys, &format!("{p}.permissions"), "a permission")?;
        }
        if let Some(perms) = &u.topic_permissions {
            for (j, perm) in perms.iter().enumerate() {
                let pp = format!("{p}.topic_permissions[{j}]");
                check_name(&format!("{pp}.vhost"), &perm.vhost, "vhost")?;
                check_name(&format!("{pp}.exchange"), &perm.exchange, "exchange")?;
                check_regex(&format!("{pp}.write"), &perm.write)?;
                check_regex(&format!("{pp}.read"), &perm.read)?;
            }
            let keys: Vec<String> = perms
                .iter()
                .map(|x| format!("for vhost '{}' and exchange '{}'", x.vhost, x.exchange))
                .collect();
            check_unique(&keys, &format!("{p}.topic_permissions"), "a topic permission")?;
        }
    }
    let keys: Vec<String> = users.iter().map(|u| format!("'{}'", u.name)).collect();
    check_unique(&keys, "users", "user")
}

pub(super) fn validate_policies(policies: &[PolicySpec]) -> Result<()> {
    for (i, pol) in policies.iter().enumerate() {
        let p = format!("policies[{i}]");
        check_name(&format!("{p}.name"), &pol.name, "policy")?;
        check_name(&format!("{p}.vhost"), &pol.vhost, "vhost")?;
        if pol.state() == State::Present {
            let Some(pattern) = &pol.pattern else {
                return Err(Error::spec(
                    format!("{p}.pattern"),
                    "is required for a present policy, e.g. '.*'",
                ));
            };
            check_regex(&format!("{p}.pattern"), pattern)?;
            match &pol.definition {
                None => {
                    return Err(Error::spec(
                        format!("{p}.definition"),
                        "is required for a present policy, e.g. {queue-version: 2}",
                    ));
                }
                Some(d) if d.is_empty() => {
                    return Err(Error::spec(
                        format!("{p}.definition"),
                        "must have at least one key; RabbitMQ refuses an empty definition",
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(prio) = pol.priority
            && i32::try_from(prio).is_err()
        {
            return Err(Error::spec(
                format!("{p}.priority"),
                format!("{prio} does not fit a 32-bit integer"),
            ));
        }
    }
    let keys: Vec<String> = policies
        .iter()
        .map(|x| format!("'{}' on vhost '{}'", x.name, x.vhost))
        .collect();
    check_unique(&keys, "policies", "policy")
}
