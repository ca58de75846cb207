//! The desired state: what a run declares. Parsed with unknown keys rejected; every error names its field path.

mod connection;
mod kafka;
mod rabbit;

pub use connection::RabbitConnection;
pub use kafka::{
    KafkaConnection, NotificationsSpec, OSLO_PRIORITIES, SaslMechanism, SecurityProtocol, TopicSpec, check_topic_name,
};
pub use rabbit::{
    ApplyTo, HashingAlgorithm, PasswordSpec, PermissionSpec, PolicySpec, QueueType, State, TopicPermissionSpec,
    UpdatePassword, UserSpec, VhostSpec,
};

use serde::Deserialize;

use crate::error::{Error, Result};

/// One module call: connection options plus the objects to declare. `None` means the key was not given.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub rabbitmq: Option<RabbitConnection>,
    #[serde(default)]
    pub vhosts: Option<Vec<VhostSpec>>,
    #[serde(default)]
    pub users: Option<Vec<UserSpec>>,
    #[serde(default)]
    pub policies: Option<Vec<PolicySpec>>,
    #[serde(default)]
    pub kafka: Option<KafkaConnection>,
    #[serde(default)]
    pub topics: Option<Vec<TopicSpec>>,
    #[serde(default)]
    pub notifications: Option<NotificationsSpec>,
}

impl Request {
    /// Parses and validates a request. The error path is the JSON path of the offending field.
    pub fn from_json(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let request: Request = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "request".to_owned() } else { path };
            Error::spec(path, clean_serde_message(&e.into_inner().to_string()))
        })?;
        request.validate()?;
        Ok(request)
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

    /// True when the request declares any RabbitMQ object.
    pub fn has_rabbitmq_objects(&self) -> bool {
        !(self.vhosts().is_empty() && self.users().is_empty() && self.policies().is_empty())
    }

    /// True when the request declares any Kafka topic.
    pub fn has_kafka_objects(&self) -> bool {
        !self.kafka_topics().is_empty()
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
        explicit.chain(expanded).collect()
    }

    /// Checks what serde cannot: empty names, regexes, duplicates, combinations of fields.
    pub fn validate(&self) -> Result<()> {
        if let Some(conn) = &self.rabbitmq {
            conn.validate("rabbitmq")?;
        }
        rabbit::validate_vhosts(self.vhosts())?;
        rabbit::validate_users(self.users())?;
        rabbit::validate_policies(self.policies())?;
        if let Some(conn) = &self.kafka {
            conn.validate("kafka")?;
        }
        kafka::validate_topics(self.topics.as_deref().unwrap_or_default())?;
        if let Some(n) = &self.notifications {
            kafka::validate_notifications(n)?;
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

/// serde's messages end with " at line L column C", which means nothing to an Ansible user.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}
