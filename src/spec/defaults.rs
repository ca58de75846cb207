//! The request's defaults as the core applies them, as one JSON document shaped like the request (lists of
//! objects by their element). Each value is read back through the accessor the core itself uses, so this is
//! not a second copy: `_core._request_defaults()` hands it to the test that holds the module's argument spec
//! to it (tests/unit/plugins/module_utils/test_request_schema.py), and a default changed on one side only
//! fails there.

use serde_json::{Value, json};

use super::{
    AclSpec, KafkaConnection, KafkaUserSpec, NotificationsSpec, PolicySpec, RabbitConnection, Request, TopicSpec,
    UserSpec, VhostSpec,
};
use crate::error::Result;

pub fn request_defaults() -> Result<Value> {
    let rabbit = RabbitConnection::default();
    let kafka = KafkaConnection::default();
    let vhost: VhostSpec = minimal(json!({"name": "v"}))?;
    let user: UserSpec = minimal(json!({"name": "u"}))?;
    let policy: PolicySpec = minimal(json!({"name": "p", "vhost": "v"}))?;
    let topic: TopicSpec = minimal(json!({"name": "t"}))?;
    let notifications: NotificationsSpec = minimal(json!({}))?;
    let kafka_user: KafkaUserSpec = minimal(json!({"name": "u"}))?;
    let acl: AclSpec = minimal(json!({"principal": "User:u", "resource_type": "cluster", "operations": ["describe"]}))?;
    Ok(json!({
        "rabbitmq": {
            "urls": rabbit.urls(),
            "username": rabbit.username(),
            "password": rabbit.password(),
            "validate_certs": rabbit.validate_certs(),
            "timeout": rabbit.timeout_seconds(),
        },
        "vhosts": {"state": vhost.state()},
        "users": {
            "state": user.state(),
            "update_password": user.update_password(),
            "purge_permissions": user.purge_permissions(),
        },
        "policies": {"state": policy.state(), "apply_to": policy.apply_to(), "priority": policy.priority()},
        "kafka": {
            "bootstrap_servers": kafka.bootstrap(),
            "security_protocol": kafka.protocol().as_str(),
            "timeout": kafka.timeout_seconds(),
        },
        "topics": {"state": topic.state()},
        "notifications": {
            "topics": notifications.topics(),
            "priorities": notifications.priorities(),
            "state": notifications.state(),
        },
        "kafka_users": {
            "mechanism": kafka_user.mechanism().as_str(),
            "iterations": kafka_user.iterations(),
            "update_password": kafka_user.update_password(),
            "state": kafka_user.state(),
        },
        "kafka_acls": {
            "pattern_type": acl.pattern_type(),
            "permission": acl.permission(),
            "host": acl.host(),
            "state": acl.state(),
        },
        "purge_kafka_acls": Request::default().purge_kafka_acls(),
        "verify": super::VerifySpec::default().any(),
    }))
}

/// An object with only its required fields, parsed the way a request's are.
fn minimal<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| crate::error::Error::Internal(format!("request defaults: {e}")))
}
