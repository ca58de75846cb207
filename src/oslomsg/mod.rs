//! OpenStack-Ansible's `oslomsg_*` variables and transport URLs that oslo.messaging accepts, computed from
//! inventory facts.
//!
//! Pure: no network, no runtime. The `oslomsg` lookup calls it in forked controller workers, where the
//! tokio runtime of `src/runtime.rs` must never be touched (STYLE §6.5).
//!
//! The defaults are OSA's (`inventory/group_vars/all/oslo-messaging.yml`, `…/infra.yml`, and the per-service
//! chains of `openstack-ansible-os_nova defaults/main.yml`); OSA-FACTS §2 lists them. A variable given in
//! `vars` overrides the computed value, as a group or host variable overrides OSA's group_vars. When the
//! Kafka host group has hosts, notifications default to Kafka (OSA has no such switch).

mod global;
mod service;
mod url;
mod vars;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use global::Global;
use service::service_vars;

pub use service::merge_policies;
pub use url::{RabbitUrl, kafka_url, rabbit_url, rendered_vhost, split_servers, url_host};

pub const DEFAULT_RABBITMQ_HOST_GROUP: &str = "rabbitmq_all";
pub const DEFAULT_KAFKA_HOST_GROUP: &str = "kafka_all";
pub const DEFAULT_KAFKA_PORT: i64 = 9092;
/// `<svc>_oslomsg_{rpc,notify}_ssl_version` when `oslomsg_*_ssl_version` is not set (os_nova).
pub const DEFAULT_SSL_VERSION: &str = "TLSv1_2";

/// What the lookup passes: the inventory, overriding variables, its options, and the service names.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// `groups`: group name → host names.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    /// `hostvars`, reduced to what is read: `management_address` of the RabbitMQ and Kafka hosts.
    #[serde(default)]
    pub hostvars: BTreeMap<String, Map<String, Value>>,
    /// Variables that override the computed values: `rabbitmq_use_ssl`, `oslomsg_*`, `<svc>_oslomsg_*`, …
    #[serde(default)]
    pub vars: Map<String, Value>,
    #[serde(default, deserialize_with = "crate::spec::strict::obj")]
    pub options: LookupOptions,
    /// Services to compute the `<svc>_oslomsg_*` set for; empty for the global set only.
    #[serde(default)]
    pub services: Vec<String>,
}

/// The lookup's own options. Everything else comes from `vars`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupOptions {
    #[serde(default)]
    pub rabbitmq_host_group: Option<String>,
    #[serde(default)]
    pub kafka_host_group: Option<String>,
    #[serde(default)]
    pub kafka_port: Option<i64>,
    #[serde(default)]
    pub kafka_use_ssl: Option<bool>,
    /// Unset: no SASL.
    #[serde(default)]
    pub kafka_sasl_mechanism: Option<String>,
    #[serde(default)]
    pub kafka_ssl_ca_file: Option<String>,
    #[serde(default)]
    pub kafka_ssl_client_cert_file: Option<String>,
    #[serde(default)]
    pub kafka_ssl_client_key_file: Option<String>,
}

/// Parses the lookup's JSON request and returns `{"global": {...}, "services": [{...}, ...]}` as JSON.
pub fn oslomsg_vars_json(text: &str) -> Result<String> {
    if text.contains("\\u0000") || text.contains('\0') {
        crate::spec::refuse_nul(text)?;
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let crate::spec::strict::Obj(facts): crate::spec::strict::Obj<Facts> = serde_path_to_error::deserialize(&mut *de)
        .map_err(|e| {
        let path = e.path().to_string();
        let path = if path.is_empty() || path == "." {
            "request".to_owned()
        } else {
            path
        };
        Error::spec(path, crate::spec::clean_serde_message(&e.into_inner().to_string()))
    })?;
    de.end().map_err(|e| Error::spec("request", e.to_string()))?;
    let out = oslomsg_vars(&facts)?;
    serde_json::to_string(&out).map_err(|e| Error::Internal(format!("cannot serialise the oslomsg variables: {e}")))
}

/// The global set and, for each of `facts.services`, the per-service set.
pub fn oslomsg_vars(facts: &Facts) -> Result<Value> {
    let global = Global::compute(facts)?;
    let mut services = Vec::with_capacity(facts.services.len());
    for (i, name) in facts.services.iter().enumerate() {
        check_service_name(&format!("services[{i}]"), name)?;
        services.push(Value::Object(service_vars(facts, &global, name)?));
    }
    Ok(json!({"global": global.to_map(), "services": services}))
}

fn check_service_name(path: &str, name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::spec(
            path,
            format!(
                "'{}' is not a service name; use letters, digits and '_' as in nova or neutron",
                crate::spec::shown(name)
            ),
        ));
    }
    Ok(())
}
