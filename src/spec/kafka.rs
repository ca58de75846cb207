//! Desired Kafka state: the connection, topics, and the `notifications:` shorthand that expands to
//! the `<topic>.<priority>` topics oslo.messaging's notifier and listeners use (never a vhost suffix).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::connection::show_seconds;
use super::rabbit::State;
use crate::error::{Error, Result};

pub const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";
/// The notification topic every service emits on (`[oslo_messaging_notifications] topics`).
pub const DEFAULT_NOTIFICATION_TOPIC: &str = "notifications";
/// oslo.messaging's notification priorities (`notify/dispatcher.py`).
pub const OSLO_PRIORITIES: [&str; 7] = ["audit", "debug", "info", "warn", "error", "critical", "sample"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// Every protocol, in the order messages list them.
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    /// The protocol spelled `name` as Kafka (and the serde name) spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_sasl(self) -> bool {
        matches!(self, SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl)
    }

    pub fn uses_ssl(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// Every mechanism, in the order messages list them.
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The mechanism spelled `name` as Kafka (and the serde name) spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConnection {
    #[serde(default)]
    pub bootstrap_servers: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub security_protocol: Option<SecurityProtocol>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub sasl_mechanism: Option<SaslMechanism>,
    #[serde(default)]
    pub sasl_username: Option<String>,
    #[serde(default)]
    pub sasl_password: Option<String>,
    #[serde(default)]
    pub ssl_cafile: Option<String>,
    #[serde(default)]
    pub ssl_certfile: Option<String>,
    #[serde(default)]
    pub ssl_keyfile: Option<String>,
    /// Seconds for each admin request and for the metadata read.
    #[serde(default)]
    pub timeout: Option<f64>,
}

// Hand-written so that the SASL password can never reach a log line.
impl std::fmt::Debug for KafkaConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConnection")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password.as_ref().map(|_| "<hidden>"))
            .field("ssl_cafile", &self.ssl_cafile)
            .field("ssl_certfile", &self.ssl_certfile)
            .field("ssl_keyfile", &self.ssl_keyfile)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl KafkaConnection {
    /// The bootstrap servers as given, or the default one when the option is unset; an empty list stays empty
    /// (`validate` refuses it).
    pub fn bootstrap(&self) -> Vec<String> {
        match &self.bootstrap_servers {
            Some(s) => s.clone(),
            None => vec![DEFAULT_BOOTSTRAP.to_owned()],
        }
    }

    pub fn protocol(&self) -> SecurityProtocol {
        self.security_protocol.unwrap_or(SecurityProtocol::Plaintext)
    }

    pub fn timeout_seconds(&self) -> f64 {
        self.timeout.unwrap_or(super::connection::DEFAULT_TIMEOUT_SECONDS)
    }

    pub fn validate(&self, path: &str) -> Result<()> {
        super::connection::check_not_empty(
            &format!("{path}.bootstrap_servers"),
            self.bootstrap_servers.as_deref(),
            "at least one HOST:PORT, e.g. ['kafka1.example.com:9092']",
        )?;
        if let Some(servers) = &self.bootstrap_servers {
            for (i, s) in servers.iter().enumerate() {
                check_server(&format!("{path}.bootstrap_servers[{i}]"), s)?;
            }
        }
        // librdkafka refuses a connection setup timeout under one second, with a message about its own
        // property (socket.connection.setup.timeout.ms) that names no option of ours.
        if let Some(t) = self.timeout
            && !(t.is_finite() && (1.0..=3600.0).contains(&t))
        {
            return Err(Error::spec(
                format!("{path}.timeout"),
                format!(
                    "{} is not a timeout in seconds for Kafka; use a number from 1 to 3600",
                    show_seconds(t)
                ),
            ));
        }
        let sasl = self.protocol().uses_sasl();
        if sasl && (self.sasl_username.is_none() || self.sasl_password.is_none()) {
            return Err(Error::spec(
                format!("{path}.sasl_username"),
                format!(
                    "security_protocol {} needs sasl_username and sasl_password",
                    self.protocol().as_str()
                ),
            ));
        }
        if !sasl {
            let set = [
                ("sasl_username", self.sasl_username.is_some()),
                ("sasl_password", self.sasl_password.is_some()),
                ("sasl_mechanism", self.sasl_mechanism.is_some()),
            ];
            if let Some((option, _)) = set.iter().find(|(_, is_set)| *is_set) {
                return Err(Error::spec(
                    format!("{path}.{option}"),
                    format!(
                        "is set but security_protocol is {}, not SASL_PLAINTEXT or SASL_SSL; set security_protocol, or drop the SASL options",
                        self.protocol().as_str()
                    ),
                ));
            }
        }
        if let Some(user) = &self.sasl_username {
            super::rabbit::check_no_control(&format!("{path}.sasl_username"), user, "the user name")?;
        }
        if self.ssl_certfile.is_some() != self.ssl_keyfile.is_some() {
            return Err(Error::spec(
                format!("{path}.ssl_certfile"),
                "ssl_certfile and ssl_keyfile go together",
            ));
        }
        Ok(())
    }
}

/// `host:port`, with IPv6 hosts in brackets; librdkafka needs the port.
fn check_server(path: &str, server: &str) -> Result<()> {
    let fail = || {
        Error::spec(
            path,
            format!(
                "'{}' is not HOST:PORT; write e.g. 10.0.0.5:9092 or [fd00::5]:9092",
                super::shown(server)
            ),
        )
    };
    let (host, port) = if let Some(rest) = server.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(fail)?;
        (h, p)
    } else {
        let (h, p) = server.rsplit_once(':').ok_or_else(fail)?;
        if h.contains(':') {
            return Err(fail());
        }
        (h, p)
    };
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(fail());
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    /// Unset: the broker's `num.partitions` on create, left alone after.
    #[serde(default)]
    pub partitions: Option<i32>,
    /// Unset: the broker's `default.replication.factor` on create, left alone after.
    #[serde(default)]
    pub replication_factor: Option<i32>,
    /// Managed keys only; a `null` value removes the override.
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

impl TopicSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSpec {
    /// `[oslo_messaging_notifications] topics`; default `[notifications]`.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    /// Default: all seven oslo.messaging priorities.
    #[serde(default)]
    pub priorities: Option<Vec<String>>,
    #[serde(default)]
    pub partitions: Option<i32>,
    #[serde(default)]
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

impl NotificationsSpec {
    pub fn state(&self) -> State {
        self.state.unwrap_or_default()
    }

    /// The notification topics, `[notifications]` unless given.
    pub fn topics(&self) -> Vec<&str> {
        match &self.topics {
            Some(t) => t.iter().map(String::as_str).collect(),
            None => vec![DEFAULT_NOTIFICATION_TOPIC],
        }
    }

    /// The priorities, all seven of oslo.messaging's unless given.
    pub fn priorities(&self) -> Vec<&str> {
        match &self.priorities {
            Some(p) => p.iter().map(String::as_str).collect(),
            None => OSLO_PRIORITIES.to_vec(),
        }
    }

    /// The topics oslo.messaging uses: `<topic>.<priority>` for every pair.
    pub fn expand(&self) -> Vec<TopicSpec> {
        let priorities = self.priorities();
        self.topics()
            .into_iter()
            .flat_map(|t| priorities.iter().map(move |p| format!("{t}.{p}")))
            .map(|name| TopicSpec {
                name,
                partitions: self.partitions,
                replication_factor: self.replication_factor,
                config: self.config.clone(),
                state: self.state,
            })
            .collect()
    }
}

/// Kafka's topic name rules (`Topic.java`): 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn check_topic_name(path: &str, name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::spec(
            path,
            format!("'{name}' is not a legal Kafka topic name; use 1 to 249 of [a-zA-Z0-9._-]"),
        ));
    }
    if name.len() > 249 {
        return Err(Error::spec(
            path,
            format!("topic name is {} characters; Kafka allows at most 249", name.len()),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Error::spec(
            path,
            format!(
                "'{}' contains '{}'; Kafka topic names use only letters, digits, '.', '_' and '-'",
                super::shown(name),
                c.escape_debug()
            ),
        ));
    }
    Ok(())
}

fn check_config(path: &str, config: &Map<String, Value>) -> Result<()> {
    for (k, v) in config {
        if k.is_empty() {
            return Err(Error::spec(path, "config keys must not be empty"));
        }
        if matches!(v, Value::Array(_) | Value::Object(_)) {
            return Err(Error::spec(
                format!("{path}.{k}"),
                "a topic config value is a string, number or boolean (null removes the override)",
            ));
        }
    }
    Ok(())
}

fn check_counts(path: &str, partitions: Option<i32>, replication_factor: Option<i32>) -> Result<()> {
    if let Some(p) = partitions
        && p < 1
    {
        return Err(Error::spec(
            format!("{path}.partitions"),
            format!("{p} is not a partition count; use 1 or more"),
        ));
    }
    if let Some(r) = replication_factor
        && r < 1
    {
        return Err(Error::spec(
            format!("{path}.replication_factor"),
            format!("{r} is not a replication factor; use 1 or more, or leave it unset for the broker default"),
        ));
    }
    Ok(())
}

pub(super) fn validate_topics(topics: &[TopicSpec]) -> Result<()> {
    for (i, t) in topics.iter().enumerate() {
        let p = format!("topics[{i}]");
        check_topic_name(&format!("{p}.name"), &t.name)?;
        check_counts(&p, t.partitions, t.replication_factor)?;
        if let Some(c) = &t.config {
            check_config(&format!("{p}.config"), c)?;
        }
    }
    Ok(())
}

/// Checks a `notifications` block, or a service's kafka notify bus, whose request path is `path`.
pub(super) fn validate_notifications(path: &str, n: &NotificationsSpec) -> Result<()> {
    if let Some(topics) = &n.topics {
        if topics.is_empty() {
            return Err(Error::spec(
                format!("{path}.topics"),
                "must list at least one topic, e.g. [notifications]",
            ));
        }
        for (i, t) in topics.iter().enumerate() {
            check_topic_name(&format!("{path}.topics[{i}]"), t)?;
            if let Some(first) = topics[..i].iter().position(|x| x == t) {
                return Err(Error::spec(
                    format!("{path}.topics[{i}]"),
                    format!("'{t}' is also listed at {path}.topics[{first}]; list each topic once"),
                ));
            }
        }
    }
    if let Some(priorities) = &n.priorities {
        if priorities.is_empty() {
            return Err(Error::spec(
                format!("{path}.priorities"),
                "must list at least one priority",
            ));
        }
        for (i, prio) in priorities.iter().enumerate() {
            if !OSLO_PRIORITIES.contains(&prio.as_str()) {
                return Err(Error::spec(
                    format!("{path}.priorities[{i}]"),
                    format!(
                        "'{prio}' is not an oslo.messaging priority; use {}",
                        OSLO_PRIORITIES.join(", ")
                    ),
                ));
            }
            if let Some(first) = priorities[..i].iter().position(|x| x == prio) {
                return Err(Error::spec(
                    format!("{path}.priorities[{i}]"),
                    format!("'{prio}' is also listed at {path}.priorities[{first}]; list each priority once"),
                ));
            }
        }
    }
    check_counts(path, n.partitions, n.replication_factor)?;
    if let Some(c) = &n.config {
        check_config(&format!("{path}.config"), c)?;
    }
    Ok(())
}
