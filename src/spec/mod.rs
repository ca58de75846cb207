//! The desired state: what a run declares. Parsed with unknown keys rejected; every error names its field path.

mod connection;
mod defaults;
mod kafka;
mod kafka_security;
mod names;
mod rabbit;
mod services;
pub(crate) mod strict;
mod verify;

pub use connection::{AmqpEndpoint, RabbitConnection};
pub use defaults::request_defaults;
pub use kafka::{
    DEFAULT_NOTIFICATION_TOPIC, KafkaConnection, NotificationsSpec, OSLO_PRIORITIES, SaslMechanism, SecurityProtocol,
    TopicSpec, check_topic_name,
};
pub use kafka_security::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, AclSpec, CLUSTER_RESOURCE_NAME,
    KafkaUserSpec, SCRAM_DEFAULT_ITERATIONS, ScramMechanism,
};
pub(crate) use names::kind;
pub use names::{check_rabbit_credential, check_vhost_name, parse_vhost_list};
pub use rabbit::{
    ApplyTo, HashingAlgorithm, PasswordSpec, PermissionSpec, PolicySpec, QueueType, State, TopicPermissionSpec,
    UpdatePassword, UserSpec, VhostSpec,
};
pub use services::{BusSpec, DEFAULT_CONSUMER_GROUP, ServicePolicy, ServicePrincipal, ServiceSpec, Transport};
pub use strict::shown;
pub use verify::VerifySpec;

use serde::Deserialize;

use crate::error::{Error, Result};

/// What `check_only` checks instead of planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOnly {
    Upgrade,
}

/// One module call: connection options plus the objects to declare. `None` means the key was not given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default, deserialize_with = "crate::spec::strict::opt_obj")]
    pub rabbitmq: Option<RabbitConnection>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub vhosts: Option<Vec<VhostSpec>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub users: Option<Vec<UserSpec>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub policies: Option<Vec<PolicySpec>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_obj")]
    pub kafka: Option<KafkaConnection>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub topics: Option<Vec<TopicSpec>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_obj")]
    pub notifications: Option<NotificationsSpec>,
    /// Kafka SCRAM users (`spec/kafka_security.rs`).
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub kafka_users: Option<Vec<KafkaUserSpec>>,
    /// Kafka ACLs; `purge_kafka_acls` removes the undeclared ones of the principals named here.
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub kafka_acls: Option<Vec<AclSpec>>,
    #[serde(default)]
    pub purge_kafka_acls: Option<bool>,
    /// Per-service shorthand, expanded by `from_json` into the lists above (`spec/services.rs`).
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub services: Option<Vec<ServiceSpec>>,
    /// Probes to run after apply (`src/verify/`).
    #[serde(default)]
    pub verify: Option<VerifySpec>,
    /// Read `GET /api/deprecated-features/used` (RabbitMQ 3.13+) and report what is in use (default false:
    /// one request more, so only on demand).
    #[serde(default)]
    pub report_deprecated_features: Option<bool>,
    /// `upgrade`: read RabbitMQ and report what `target_version` would refuse or warn about; plan nothing.
    #[serde(default)]
    pub check_only: Option<CheckOnly>,
    /// The RabbitMQ version `check_only: upgrade` checks against, e.g. `4.3`.
    #[serde(default)]
    pub target_version: Option<String>,
    #[serde(skip)]
    origins: Origins,
}

/// The request path of every vhost, user and policy (`vhosts[2]`, or `services[1].rpc.vhost[0]` for one
/// the shorthand produced), and the topics the shorthand produced.
#[derive(Debug, Default)]
struct Origins {
    vhosts: Vec<String>,
    users: Vec<String>,
    policies: Vec<String>,
    topics: Vec<(String, TopicSpec)>,
    kafka_acls: Vec<String>,
    kafka_principals: Vec<ServicePrincipal>,
}

fn origin(paths: &[String], kind: &str, i: usize) -> String {
    paths.get(i).cloned().unwrap_or_else(|| format!("{kind}[{i}]"))
}

impl Request {
    /// Parses and validates a request. The error path is the JSON path of the offending field.
    pub fn from_json(text: &str) -> Result<Self> {
        if text.contains("\\u0000") || text.contains('\0') {
            refuse_nul(text)?;
        }
        let de = &mut serde_json::Deserializer::from_str(text);
        let strict::Obj(mut request): strict::Obj<Request> =
            serde_path_to_error::deserialize(&mut *de).map_err(|e| {
                let path = e.path().to_string();
                let path = if path.is_empty() || path == "." {
                    "request".to_owned()
                } else {
                    path
                };
                Error::spec(path, clean_serde_message(&e.into_inner().to_string()))
            })?;
        // serde_json leaves what follows the value unread unless asked.
        de.end()
            .map_err(|e| Error::spec("request", clean_serde_message(&e.to_string())))?;
        request.validate()?;
        request.expand_services()?;
        request.validate_verify()?;
        request.validate_check_only()?;
        Ok(request)
    }

    /// The request path of `vhosts()[i]`, for error messages.
    pub fn vhost_path(&self, i: usize) -> String {
        origin(&self.origins.vhosts, "vhosts", i)
    }

    /// The request path of `users()[i]`.
    pub fn user_path(&self, i: usize) -> String {
        origin(&self.origins.users, "users", i)
    }

    /// The request path of `policies()[i]`.
    pub fn policy_path(&self, i: usize) -> String {
        origin(&self.origins.policies, "policies", i)
    }

    /// The services' own Kafka principals (SASL only), for probes that run as each service.
    pub fn kafka_service_principals(&self) -> &[ServicePrincipal] {
        &self.origins.kafka_principals
    }

    /// The request path of `kafka_acls()[i]` (`services[0].notify.topics` for one the shorthand produced).
    pub fn kafka_acl_path(&self, i: usize) -> String {
        origin(&self.origins.kafka_acls, "kafka_acls", i)
    }

    /// Appends what `services` declares to the vhost, user, policy and topic lists. An object also
    /// declared explicitly is refused, naming both places.
    fn expand_services(&mut self) -> Result<()> {
        let Some(services) = &self.services else {
            return Ok(());
        };
        let sasl = self
            .kafka
            .as_ref()
            .filter(|c| c.protocol().uses_sasl())
            .map(|c| services::KafkaSasl {
                mechanism: c.sasl_mechanism,
            });
        let expanded = services::expand(services, sasl)?;
        let clash = |path: &str, what: String, at: String| {
            Error::spec(
                path,
                format!("{what} is also declared at {at}; declare it in one place"),
            )
        };
        for (path, v) in &expanded.vhosts {
            if let Some(i) = self.vhosts().iter().position(|x| x.name == v.name) {
                return Err(clash(path, format!("vhost '{}'", v.name), format!("vhosts[{i}]")));
            }
        }
        for (path, u) in &expanded.users {
            if let Some(i) = self.users().iter().position(|x| x.name == u.name) {
                return Err(clash(path, format!("user '{}'", u.name), format!("users[{i}]")));
            }
        }
        for (path, p) in &expanded.policies {
            if let Some(i) = self
                .policies()
                .iter()
                .position(|x| x.name == p.name && x.vhost == p.vhost)
            {
                let what = format!("policy '{}' on vhost '{}'", p.name, p.vhost);
                return Err(clash(path, what, format!("policies[{i}]")));
            }
        }
        for (path, u) in &expanded.kafka_users {
            if let Some(i) = self.kafka_users().iter().position(|x| x.name == u.name) {
                return Err(clash(
                    path,
                    format!("Kafka user '{}'", u.name),
                    format!("kafka_users[{i}]"),
                ));
            }
        }
        let declared = self.kafka_topics();
        for (path, t) in &expanded.topics {
            if let Some((at, _)) = declared.iter().find(|(_, x)| x.name == t.name) {
                return Err(clash(path, format!("topic '{}'", t.name), at.clone()));
            }
        }
        let own = |n: usize, kind: &str| (0..n).map(|i| format!("{kind}[{i}]")).collect::<Vec<_>>();
        self.origins.vhosts = own(self.vhosts().len(), "vhosts");
        self.origins.users = own(self.users().len(), "users");
        self.origins.policies = own(self.policies().len(), "policies");
        for (path, v) in expanded.vhosts {
            self.origins.vhosts.push(path);
            self.vhosts.get_or_insert_with(Vec::new).push(v);
        }
        for (path, u) in expanded.users {
            self.origins.users.push(path);
            self.users.get_or_insert_with(Vec::new).push(u);
        }
        for (path, p) in expanded.policies {
            self.origins.policies.push(path);
            self.policies.get_or_insert_with(Vec::new).push(p);
        }
        self.origins.topics = expanded.topics;
        // Explicit ACLs of a service's principal add to the shorthand's; the planner merges equal bindings.
        self.origins.kafka_acls = own(self.kafka_acls().len(), "kafka_acls");
        for (path, a) in expanded.kafka_acls {
            self.origins.kafka_acls.push(path);
            self.kafka_acls.get_or_insert_with(Vec::new).push(a);
        }
        self.origins.kafka_principals = expanded.kafka_principals;
        for (_, u) in expanded.kafka_users {
            self.kafka_users.get_or_insert_with(Vec::new).push(u);
        }
        Ok(())
    }

    pub fn vhosts(&self) -> &[VhostSpec] {
        self.vhosts.as_deref().unwrap_or_default()
    }

    pub fn users(&self) -> &[UserSpec] {
        self.users.as_deref().unwrap_or_default()
    }

    pub fn policies(&self) -> &[PolicySpec] {
        self.policies.as_deref().unwrap_or_default()
    }

    pub fn report_deprecated_features(&self) -> bool {
        self.report_deprecated_features.unwrap_or(false)
    }

    /// The upgrade pre-check writes nothing: Kafka objects and probes, which would, are refused beside it.
    fn validate_check_only(&self) -> Result<()> {
        if self.check_only.is_none() {
            return Ok(());
        }
        if self.has_kafka_objects() {
            return Err(Error::spec(
                "check_only",
                "the upgrade pre-check reads RabbitMQ only and writes nothing; remove the Kafka declarations (topics, notifications, kafka_users, kafka_acls, kafka buses of services) from this task",
            ));
        }
        if self.verify().any() {
            return Err(Error::spec(
                "verify",
                "the upgrade pre-check writes nothing, so it runs no probes; set verify: false",
            ));
        }
        Ok(())
    }

    /// With `check_only: upgrade`, the target version as (major, minor, patch); validated at parse time.
    pub fn upgrade_target(&self) -> Option<(u32, u32, u32)> {
        self.check_only?;
        parse_version(self.target_version.as_deref()?)
    }

    pub fn verify(&self) -> VerifySpec {
        self.verify.unwrap_or_default()
    }

    /// True when the request declares any RabbitMQ object, or asks for the upgrade pre-check (which reads it).
    pub fn has_rabbitmq_objects(&self) -> bool {
        !(self.vhosts().is_empty() && self.users().is_empty() && self.policies().is_empty())
            || self.check_only.is_some()
    }

    /// True when the request declares any Kafka topic, SCRAM user or ACL.
    pub fn has_kafka_objects(&self) -> bool {
        !self.kafka_topics().is_empty() || self.has_kafka_security()
    }

    /// True when the request declares SCRAM users or ACLs (or purges ACLs).
    pub fn has_kafka_security(&self) -> bool {
        !self.kafka_users().is_empty() || !self.kafka_acls().is_empty()
    }

    pub fn kafka_users(&self) -> &[KafkaUserSpec] {
        self.kafka_users.as_deref().unwrap_or_default()
    }

    pub fn kafka_acls(&self) -> &[AclSpec] {
        self.kafka_acls.as_deref().unwrap_or_default()
    }

    pub fn purge_kafka_acls(&self) -> bool {
        self.purge_kafka_acls.unwrap_or(false)
    }

    /// Every declared topic with the request path that names it: `topics[i]`, then the
    /// `notifications` expansion as `notifications(<name>)`.
    pub fn kafka_topics(&self) -> Vec<(String, TopicSpec)> {
        let explicit = self
            .topics
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("topics[{i}]"), t.clone()));
        let expanded = self
            .notifications
            .iter()
            .flat_map(NotificationsSpec::expand)
            .map(|t| (format!("notifications({})", t.name), t));
        let services = self.origins.topics.iter().cloned();
        explicit.chain(expanded).chain(services).collect()
    }

    /// `verify: amqp` needs the AMQP endpoints once any present user is declared, `services` included.
    fn validate_verify(&self) -> Result<()> {
        if self.verify().amqp
            && self.users().iter().any(|u| u.state() == State::Present)
            && self
                .rabbitmq
                .as_ref()
                .and_then(|c| c.amqp_urls.as_ref())
                .is_none_or(Vec::is_empty)
        {
            return Err(Error::spec(
                "rabbitmq.amqp_urls",
                "verify: amqp logs in over AMQP and needs the AMQP endpoints, e.g. ['amqp://10.0.0.5:5672'] or ['amqps://rabbit1.example.com:5671']",
            ));
        }
        Ok(())
    }

    /// Checks what serde cannot: empty names, regexes, duplicates, combinations of fields.
    pub fn validate(&self) -> Result<()> {
        if let Some(conn) = &self.rabbitmq {
            conn.validate("rabbitmq")?;
        }
        rabbit::validate_vhosts(self.vhosts())?;
        rabbit::validate_users(self.users())?;
        rabbit::validate_policies(self.policies())?;
        match (self.check_only, self.target_version.as_deref()) {
            (Some(_), None) => {
                return Err(Error::spec(
                    "target_version",
                    "is required with check_only: upgrade, e.g. '4.3'",
                ));
            }
            (None, Some(_)) => {
                return Err(Error::spec(
                    "target_version",
                    "is used only by the upgrade pre-check; set check_only: upgrade, or leave target_version out",
                ));
            }
            (Some(_), Some(v)) if parse_version(v).is_none() => {
                return Err(Error::spec(
                    "target_version",
                    format!(
                        "'{}' is not a RabbitMQ version; give major.minor, e.g. '4.0' or '4.3'",
                        strict::shown(v)
                    ),
                ));
            }
            _ => {}
        }
        if let Some(conn) = &self.kafka {
            conn.validate("kafka")?;
        }
        kafka::validate_topics(self.topics.as_deref().unwrap_or_default())?;
        kafka_security::validate_users(self.kafka_users())?;
        kafka_security::validate_acls(self.kafka_acls())?;
        let sasl = self.kafka.as_ref().is_some_and(|c| c.protocol().uses_sasl());
        if let Some(i) = self.kafka_users().iter().position(KafkaUserSpec::needs_login_test)
            && !sasl
        {
            return Err(Error::spec(
                format!("kafka_users[{i}].update_password"),
                "'always' tests the stored password by logging in as the user, which needs kafka.security_protocol SASL_SSL or SASL_PLAINTEXT; set it, or use update_password: on_create",
            ));
        }
        if let Some(n) = &self.notifications {
            kafka::validate_notifications("notifications", n)?;
        }
        let mut seen = std::collections::HashMap::new();
        for (path, t) in self.kafka_topics() {
            if let Some(first) = seen.insert(t.name.clone(), path.clone()) {
                return Err(Error::spec(
                    path,
                    format!("topic '{}' is also declared at {first}; declare each once", t.name),
                ));
            }
        }
        Ok(())
    }
}

/// serde echoes the value it could not use: `invalid type: string "<a megabyte>"`, or a password given as a
/// number (`invalid type: integer `123456``). A type mismatch is told by type alone; an unusable value (an
/// unknown variant or key, a number out of range) is shown clipped to 64 characters.
fn without_values(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (unexpected, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, ""));
        let kind = match unexpected.split_once([' ', '`']) {
            Some((kind @ ("string" | "integer" | "boolean" | "character" | "byte"), _)) => kind,
            Some(("floating", _)) => "floating point",
            _ => unexpected,
        };
        return if expected.is_empty() {
            format!("invalid type: {}", shown(kind))
        } else {
            format!("invalid type: {}, expected {}", shown(kind), shown(expected))
        };
    }
    for (open, close) in [("`", "`"), ("\"", "\"")] {
        // `unknown variant `x`, expected ...`, `unknown field `x``, `invalid value: string "x", expected ...`
        if let Some(start) = message.find(open)
            && let Some(len) = message[start + 1..].find(close)
            && len > 64
        {
            let inner = &message[start + 1..start + 1 + len];
            return format!(
                "{}{open}{}{close}{}",
                &message[..start],
                shown(inner),
                &message[start + 1 + len + 1..]
            );
        }
    }
    message.to_owned()
}

/// A NUL character fits no name, password, URL or path any broker or file system takes, so a string (or
/// key) holding one is refused wherever it is, naming its path and never echoing the value (it may be a
/// password). Runs only when the text holds a NUL, escaped or raw.
pub(crate) fn refuse_nul(text: &str) -> Result<()> {
    fn walk(path: &str, v: &serde_json::Value) -> Result<()> {
        let nul = |path: &str| {
            Err(Error::spec(
                if path.is_empty() { "request" } else { path },
                "contains a NUL character (\\u0000), which no broker name, password, URL or file path can carry; remove it",
            ))
        };
        match v {
            serde_json::Value::String(s) if s.contains('\0') => nul(path),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), item)?;
                }
                Ok(())
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k.contains('\0') {
                        return nul(&if path.is_empty() {
                            "request".to_owned()
                        } else {
                            path.to_owned()
                        });
                    }
                    walk(&p, item)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    // Text that is not JSON is left to the typed parse, whose message names where it breaks.
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => walk("", &v),
        Err(_) => Ok(()),
    }
}

/// serde's messages end with " at line L column C", which means nothing to an Ansible user. A lone UTF-16
/// surrogate (`\\ud800`, which Python makes of bytes that are not UTF-8) gets a message that says so.
pub(crate) fn clean_serde_message(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    let message = &without_values(message);
    if message.contains("surrogate") || message.contains("hex escape") {
        return format!(
            "is not valid Unicode text ({message}: a lone UTF-16 surrogate, as undecodable bytes become in Python); \
             give the value as UTF-8 text"
        );
    }
    message.to_owned()
}

/// `4.3` or `4.3.6` as (major, minor, patch).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let parts: Vec<&str> = text.trim().split('.').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse().ok());
    Some((n(0)?, n(1)?, n(2)?))
}
