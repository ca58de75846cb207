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

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

pub const DEFAULT_RABBITMQ_HOST_GROUP: &str = "rabbitmq_all";
pub const DEFAULT_KAFKA_HOST_GROUP: &str = "kafka_all";
pub const DEFAULT_KAFKA_PORT: i64 = 9092;
/// `<svc>_oslomsg_{rpc,notify}_ssl_version` when `oslomsg_*_ssl_version` is not set (os_nova).
pub const DEFAULT_SSL_VERSION: &str = "TLSv1_2";
/// The notification topic every service emits on (`[oslo_messaging_notifications] topics`).
pub const DEFAULT_NOTIFICATION_TOPIC: &str = "notifications";

const TRANSPORTS: [&str; 3] = ["rabbit", "kafka", "none"];
const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
const SASL_MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];

/// Python's `quote(s, safe='')`: everything but letters, digits and `-._~` is percent-encoded.
const QUOTE_ALL: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Python's `quote(s)` (`safe='/'`), for the vhost path and file paths in the query.
const QUOTE_PATH: &AsciiSet = &QUOTE_ALL.remove(b'/');

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
    #[serde(default)]
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
    let de = &mut serde_json::Deserializer::from_str(text);
    let facts: Facts = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "request".to_owned() } else { path };
        let message = e.into_inner().to_string();
        let message = message
            .rfind(" at line ")
            .map_or(message.as_str(), |i| &message[..i])
            .to_owned();
        Error::spec(path, message)
    })?;
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
            format!("'{name}' is not a service name; use letters, digits and '_' as in nova or neutron"),
        ));
    }
    Ok(())
}

// --- typed reads of `vars` --------------------------------------------------------------------------

/// Reads overriding variables; a missing or null variable is unset. Errors name `vars.<name>`.
struct Vars<'a>(&'a Map<String, Value>);

fn var_path(name: &str) -> String {
    format!("vars.{name}")
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// Ansible's `bool` filter: booleans, 0/1, and yes/no/on/off/true/false in any case.
    fn bool(&self, name: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let parsed = match v {
            Value::Bool(b) => Some(*b),
            Value::Number(n) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "yes" | "on" | "1" | "true" | "y" | "t" => Some(true),
                "no" | "off" | "0" | "false" | "n" | "f" | "" => Some(false),
                _ => None,
            },
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| Error::spec(var_path(name), format!("{v} is not a boolean; use true or false")))
    }

    fn int(&self, name: &str) -> Result<Option<i64>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let parsed = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(Some)
            .ok_or_else(|| Error::spec(var_path(name), format!("{v} is not an integer")))
    }

    fn port(&self, name: &str) -> Result<Option<i64>> {
        let port = self.int(name)?;
        if let Some(p) = port
            && !(1..=65535).contains(&p)
        {
            return Err(Error::spec(var_path(name), format!("{p} is not a TCP port (1-65535)")));
        }
        Ok(port)
    }

    /// Strings, and numbers as their text (a YAML `5671` in a string variable).
    fn string(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(Error::spec(var_path(name), format!("is a {}, not a string", kind(v)))),
        }
    }

    /// A password: a string. Never echoed.
    fn secret(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(Error::spec(
                var_path(name),
                format!("is a {}, not a string; quote the password", kind(v)),
            )),
        }
    }

    /// A list of policies (`name`, `pattern`, `priority`, `tags`, optional `apply_to`, `state`), as given.
    fn policies(&self, name: &str) -> Result<Option<Vec<Value>>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let Value::Array(items) = v else {
            return Err(Error::spec(
                var_path(name),
                format!("is a {}, not a list of policies", kind(v)),
            ));
        };
        for (i, item) in items.iter().enumerate() {
            let ok = item.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
            if !ok {
                return Err(Error::spec(
                    format!("vars.{name}[{i}].name"),
                    "each policy needs a name, as in {name: CQv2, pattern: '.*', priority: 0, tags: {queue-version: 2}}",
                ));
            }
        }
        Ok(Some(items.clone()))
    }

    /// A vhost: a string (legacy) or a list of `{name, state}`.
    fn vhost(&self, name: &str) -> Result<Option<Value>> {
        let Some(v) = self.get(name) else { return Ok(None) };
        parse_vhost_list(&var_path(name), v)?;
        Ok(Some(v.clone()))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// `(name, present)` for each entry of a vhost variable: a string, or a list of `{name, state}`.
pub fn parse_vhost_list(path: &str, v: &Value) -> Result<Vec<(String, bool)>> {
    match v {
        Value::String(s) => Ok(vec![(s.clone(), true)]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let Value::Object(entry) = item else {
                    return Err(Error::spec(p, "each entry is {name: VHOST, state: present|absent}"));
                };
                if let Some(k) = entry.keys().find(|k| !matches!(k.as_str(), "name" | "state")) {
                    return Err(Error::spec(
                        format!("{p}.{k}"),
                        "unknown key; an entry has only name and state",
                    ));
                }
                let Some(name) = entry.get("name").and_then(Value::as_str) else {
                    return Err(Error::spec(format!("{p}.name"), "is required, a string"));
                };
                let present = match entry.get("state") {
                    None | Some(Value::Null) => true,
                    Some(Value::String(s)) if s == "present" => true,
                    Some(Value::String(s)) if s == "absent" => false,
                    Some(other) => {
                        return Err(Error::spec(
                            format!("{p}.state"),
                            format!("{other} is not a state; use present or absent"),
                        ));
                    }
                };
                out.push((name.to_owned(), present));
            }
            Ok(out)
        }
        other => Err(Error::spec(
            path,
            format!("is a {}; give a vhost name or a list of {{name, state}}", kind(other)),
        )),
    }
}

/// The vhost a service uses: the first entry with `state: present` (OSA's rendering rule).
pub fn rendered_vhost(path: &str, v: &Value) -> Result<String> {
    parse_vhost_list(path, v)?
        .into_iter()
        .find_map(|(name, present)| present.then_some(name))
        .ok_or_else(|| Error::spec(path, "no entry has state present, so there is no vhost to connect to"))
}

// --- the global set ----------------------------------------------------------------------------------

/// The settings of one bus as the `oslomsg_{rpc,notify}_*` variables give them.
struct Bus {
    transport: String,
    servers: String,
    port: i64,
    use_ssl: bool,
    host_group: String,
    policies: Vec<Value>,
}

struct KafkaSettings {
    security_protocol: String,
    sasl_mechanism: Option<String>,
    ssl_ca_file: String,
    ssl_client_cert_file: String,
    ssl_client_key_file: String,
}

// The booleans are OSA's own variables, one field each.
#[allow(clippy::struct_excessive_bools)]
struct Global {
    rabbitmq_host_group: String,
    rabbitmq_use_ssl: bool,
    rabbitmq_port: i64,
    rabbitmq_servers: String,
    rabbitmq_queue_replication: bool,
    rabbitmq_policies: Vec<Value>,
    quorum_queues: bool,
    queue_manager: bool,
    rpc: Bus,
    notify: Bus,
    /// Set when notify is Kafka.
    kafka: Option<KafkaSettings>,
    /// Where Kafka is, for a service whose notify alone is switched to Kafka.
    kafka_host_group: String,
    kafka_port: i64,
    kafka_use_ssl: bool,
    /// `oslomsg_*` variables roles read with `default(...)` but OSA never defines; passed on when given.
    passthrough: Vec<(String, Value)>,
}

/// Variables roles read but OSA never defines (OSA-FACTS §2.1); the global set carries them when given.
const PASSTHROUGH: [&str; 10] = [
    "oslomsg_rpc_ssl_version",
    "oslomsg_rpc_ssl_ca_file",
    "oslomsg_notify_ssl_version",
    "oslomsg_notify_configure",
    "oslomsg_rabbit_stream_fanout",
    "oslomsg_rabbit_transient_quorum_queues",
    "oslomsg_rabbit_qos_prefetch_count",
    "oslomsg_rabbit_quorum_delivery_limit",
    "oslomsg_rabbit_quorum_max_memory_bytes",
    "oslomsg_notify_ssl_ca_file",
];

/// The `management_address` of each host in `group`, in inventory order.
fn group_addresses(facts: &Facts, group: &str) -> Result<Vec<String>> {
    let hosts = facts.groups.get(group).map(Vec::as_slice).unwrap_or_default();
    let mut out = Vec::with_capacity(hosts.len());
    for host in hosts {
        let address = facts
            .hostvars
            .get(host)
            .and_then(|hv| hv.get("management_address"))
            .and_then(|a| match a {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                _ => None,
            });
        let Some(address) = address else {
            return Err(Error::spec(
                format!("hostvars.{host}.management_address"),
                format!(
                    "host '{host}' of group '{group}' has no management_address; set it to the address services \
                     reach it on (OSA's inventory does, and so does the osa.hybrid_msg.messaging inventory plugin)"
                ),
            ));
        };
        out.push(address);
    }
    Ok(out)
}

/// The port the hosts of `group` agree on in their host variable `var` (the messaging inventory plugin
/// sets `rabbitmq_port` and `kafka_port` per host); `None` when none sets it. OSA's `oslomsg_*_port` is
/// one port for every server, so hosts that disagree are refused rather than given a wrong URL.
fn group_port(facts: &Facts, group: &str, var: &str) -> Result<Option<i64>> {
    let mut found: Option<(i64, &str)> = None;
    for host in facts.groups.get(group).map(Vec::as_slice).unwrap_or_default() {
        let Some(value) = facts
            .hostvars
            .get(host)
            .and_then(|hv| hv.get(var))
            .filter(|v| !v.is_null())
        else {
            continue;
        };
        let path = format!("hostvars.{host}.{var}");
        let port = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| Error::spec(&path, format!("{value} is not a TCP port (1-65535)")))?;
        match found {
            Some((first, first_host)) if first != port => {
                return Err(Error::spec(
                    path,
                    format!(
                        "host '{host}' of group '{group}' uses port {port} and '{first_host}' uses {first}; a \
                         transport URL here has one port for all servers (OSA's oslomsg_*_port), so give them \
                         one port or set the port variable explicitly"
                    ),
                ));
            }
            Some(_) => {}
            None => found = Some((port, host)),
        }
    }
    Ok(found.map(|(p, _)| p))
}

fn check_transport(path: &str, transport: &str, rpc: bool) -> Result<()> {
    if !TRANSPORTS.contains(&transport) {
        return Err(Error::spec(
            path,
            format!(
                "'{transport}' is not a transport here; use rabbit, kafka (notifications only) or none \
                 (the amqp driver was removed from oslo.messaging)"
            ),
        ));
    }
    if rpc && transport == "kafka" {
        return Err(Error::spec(
            path,
            "kafka cannot carry RPC: oslo.messaging's kafka driver raises NotImplementedError for RPC; \
             use rabbit for RPC and kafka for notifications",
        ));
    }
    Ok(())
}

impl Global {
    fn compute(facts: &Facts) -> Result<Self> {
        let vars = Vars(&facts.vars);
        let opts = &facts.options;
        let rabbitmq_host_group = opts
            .rabbitmq_host_group
            .clone()
            .unwrap_or_else(|| DEFAULT_RABBITMQ_HOST_GROUP.to_owned());
        let kafka_host_group = opts
            .kafka_host_group
            .clone()
            .unwrap_or_else(|| DEFAULT_KAFKA_HOST_GROUP.to_owned());

        let rabbitmq_use_ssl = vars.bool("rabbitmq_use_ssl")?.unwrap_or(true);
        let rabbitmq_port = match vars.port("rabbitmq_port")? {
            Some(p) => p,
            None => group_port(facts, &rabbitmq_host_group, "rabbitmq_port")?.unwrap_or(if rabbitmq_use_ssl {
                5671
            } else {
                5672
            }),
        };
        let rabbitmq_servers = match vars.string("rabbitmq_servers")? {
            Some(s) => s,
            None => group_addresses(facts, &rabbitmq_host_group)?.join(","),
        };
        let rabbitmq_queue_replication = vars.bool("rabbitmq_queue_replication")?.unwrap_or(true);
        let quorum_queues = vars
            .bool("oslomsg_rabbit_quorum_queues")?
            .unwrap_or(rabbitmq_queue_replication);
        let rabbitmq_policies = if let Some(p) = vars.policies("rabbitmq_policies")? {
            p
        } else {
            // CQv2 is present iff (quorum or not replication) and the install method is not distro.
            let distro = vars.string("rabbitmq_install_method")?.as_deref() == Some("distro");
            let present = (quorum_queues || !rabbitmq_queue_replication) && !distro;
            vec![json!({
                "name": "CQv2",
                "pattern": ".*",
                "priority": 0,
                "tags": {"queue-version": 2},
                "state": if present { "present" } else { "absent" },
            })]
        };
        let queue_manager = vars.bool("oslomsg_rabbit_queue_manager")?.unwrap_or(false);

        let rabbit_bus = |prefix: &str, transport: String| -> Result<Bus> {
            Ok(Bus {
                transport,
                servers: vars
                    .string(&format!("{prefix}_servers"))?
                    .unwrap_or_else(|| rabbitmq_servers.clone()),
                port: vars.port(&format!("{prefix}_port"))?.unwrap_or(rabbitmq_port),
                use_ssl: vars.bool(&format!("{prefix}_use_ssl"))?.unwrap_or(rabbitmq_use_ssl),
                host_group: vars
                    .string(&format!("{prefix}_host_group"))?
                    .unwrap_or_else(|| rabbitmq_host_group.clone()),
                policies: vars
                    .policies(&format!("{prefix}_policies"))?
                    .unwrap_or_else(|| rabbitmq_policies.clone()),
            })
        };

        let rpc_transport = vars.string("oslomsg_rpc_transport")?.unwrap_or_else(|| "rabbit".into());
        check_transport(&var_path("oslomsg_rpc_transport"), &rpc_transport, true)?;
        let rpc = rabbit_bus("oslomsg_rpc", rpc_transport)?;

        let kafka_port = match opts.kafka_port {
            Some(p) => p,
            None => group_port(facts, &kafka_host_group, "kafka_port")?.unwrap_or(DEFAULT_KAFKA_PORT),
        };
        if !(1..=65535).contains(&kafka_port) {
            return Err(Error::spec(
                "options.kafka_port",
                format!("{kafka_port} is not a TCP port (1-65535)"),
            ));
        }
        let rabbit_hosts = facts.groups.get(&rabbitmq_host_group).is_some_and(|h| !h.is_empty());
        let kafka_hosts = facts.groups.get(&kafka_host_group).is_some_and(|h| !h.is_empty());
        let notify_transport = match vars.string("oslomsg_notify_transport")? {
            Some(t) => t,
            None if kafka_hosts => "kafka".into(),
            None if rabbit_hosts => "rabbit".into(),
            None => "none".into(),
        };
        check_transport(&var_path("oslomsg_notify_transport"), &notify_transport, false)?;

        let (notify, kafka) = if notify_transport == "kafka" {
            let use_ssl = match vars.bool("oslomsg_notify_use_ssl")? {
                Some(b) => b,
                None => opts.kafka_use_ssl.unwrap_or(false),
            };
            let servers = match vars.string("oslomsg_notify_servers")? {
                Some(s) => s,
                None => group_addresses(facts, &kafka_host_group)?.join(","),
            };
            let port = vars.port("oslomsg_notify_port")?.unwrap_or(kafka_port);
            let bus = Bus {
                transport: notify_transport,
                servers,
                port,
                use_ssl,
                host_group: vars
                    .string("oslomsg_notify_host_group")?
                    .unwrap_or_else(|| kafka_host_group.clone()),
                // Policies are a RabbitMQ notion; Kafka has none.
                policies: vars.policies("oslomsg_notify_policies")?.unwrap_or_default(),
            };
            let settings = kafka_settings(&vars, opts, use_ssl)?;
            (bus, Some(settings))
        } else {
            (rabbit_bus("oslomsg_notify", notify_transport)?, None)
        };

        let mut passthrough = Vec::new();
        for name in PASSTHROUGH {
            // Kafka's CA file is part of the computed Kafka settings.
            if kafka.is_some() && name == "oslomsg_notify_ssl_ca_file" {
                continue;
            }
            if let Some(v) = vars.get(name) {
                passthrough.push((name.to_owned(), v.clone()));
            }
        }

        Ok(Global {
            rabbitmq_host_group,
            rabbitmq_use_ssl,
            rabbitmq_port,
            rabbitmq_servers,
            rabbitmq_queue_replication,
            rabbitmq_policies,
            quorum_queues,
            queue_manager,
            rpc,
            notify,
            kafka,
            kafka_use_ssl: opts.kafka_use_ssl.unwrap_or(false),
            kafka_host_group,
            kafka_port,
            passthrough,
        })
    }

    fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("rabbitmq_host_group".into(), json!(self.rabbitmq_host_group));
        m.insert("rabbitmq_use_ssl".into(), json!(self.rabbitmq_use_ssl));
        m.insert("rabbitmq_port".into(), json!(self.rabbitmq_port));
        m.insert("rabbitmq_servers".into(), json!(self.rabbitmq_servers));
        m.insert(
            "rabbitmq_queue_replication".into(),
            json!(self.rabbitmq_queue_replication),
        );
        m.insert("rabbitmq_policies".into(), json!(self.rabbitmq_policies));
        m.insert("oslomsg_rabbit_quorum_queues".into(), json!(self.quorum_queues));
        m.insert("oslomsg_rabbit_queue_manager".into(), json!(self.queue_manager));
        for (bus, b) in [("rpc", &self.rpc), ("notify", &self.notify)] {
            m.insert(format!("oslomsg_{bus}_transport"), json!(b.transport));
            m.insert(format!("oslomsg_{bus}_servers"), json!(b.servers));
            m.insert(format!("oslomsg_{bus}_port"), json!(b.port));
            m.insert(format!("oslomsg_{bus}_use_ssl"), json!(b.use_ssl));
            m.insert(format!("oslomsg_{bus}_host_group"), json!(b.host_group));
            m.insert(format!("oslomsg_{bus}_policies"), json!(b.policies));
        }
        if let Some(k) = &self.kafka {
            m.insert("oslomsg_notify_security_protocol".into(), json!(k.security_protocol));
            m.insert("oslomsg_notify_sasl_mechanism".into(), json!(k.sasl_mechanism));
            m.insert("oslomsg_notify_ssl_ca_file".into(), json!(k.ssl_ca_file));
            m.insert(
                "oslomsg_notify_ssl_client_cert_file".into(),
                json!(k.ssl_client_cert_file),
            );
            m.insert(
                "oslomsg_notify_ssl_client_key_file".into(),
                json!(k.ssl_client_key_file),
            );
        }
        for (k, v) in &self.passthrough {
            m.insert(k.clone(), v.clone());
        }
        m
    }
}

fn kafka_settings(vars: &Vars<'_>, opts: &LookupOptions, use_ssl: bool) -> Result<KafkaSettings> {
    let sasl_mechanism = match vars.string("oslomsg_notify_sasl_mechanism")? {
        Some(m) => Some((m, var_path("oslomsg_notify_sasl_mechanism"))),
        None => opts
            .kafka_sasl_mechanism
            .clone()
            .map(|m| (m, "options.kafka_sasl_mechanism".to_owned())),
    };
    if let Some((m, path)) = &sasl_mechanism
        && !SASL_MECHANISMS.contains(&m.as_str())
    {
        return Err(Error::spec(
            path,
            format!("'{m}' is not a SASL mechanism; use {}", SASL_MECHANISMS.join(", ")),
        ));
    }
    let derived = match (use_ssl, sasl_mechanism.is_some()) {
        (false, false) => "PLAINTEXT",
        (true, false) => "SSL",
        (false, true) => "SASL_PLAINTEXT",
        (true, true) => "SASL_SSL",
    };
    let security_protocol = match vars.string("oslomsg_notify_security_protocol")? {
        None => derived.to_owned(),
        Some(p) => {
            let path = var_path("oslomsg_notify_security_protocol");
            if !SECURITY_PROTOCOLS.contains(&p.as_str()) {
                return Err(Error::spec(
                    path,
                    format!(
                        "'{p}' is not a Kafka security protocol; use {}",
                        SECURITY_PROTOCOLS.join(", ")
                    ),
                ));
            }
            if p.ends_with("SSL") != use_ssl {
                return Err(Error::spec(
                    path,
                    format!("{p} contradicts oslomsg_notify_use_ssl = {use_ssl}; make them agree"),
                ));
            }
            p
        }
    };
    let sasl_mechanism = if security_protocol.starts_with("SASL_") {
        // oslo.messaging's own default, stated so the rendered config says what is used.
        Some(sasl_mechanism.map_or_else(|| "PLAIN".to_owned(), |(m, _)| m))
    } else if let Some((_, path)) = sasl_mechanism {
        return Err(Error::spec(
            path,
            format!("a SASL mechanism is set but the security protocol is {security_protocol}; drop one"),
        ));
    } else {
        None
    };
    let file = |var: &str, opt: &Option<String>, opt_name: &str| -> Result<String> {
        let (value, path) = match vars.string(var)? {
            Some(v) => (v, var_path(var)),
            None => (opt.clone().unwrap_or_default(), format!("options.{opt_name}")),
        };
        check_ini_value(&path, &value)?;
        Ok(value)
    };
    Ok(KafkaSettings {
        security_protocol,
        sasl_mechanism,
        ssl_ca_file: file(
            "oslomsg_notify_ssl_ca_file",
            &opts.kafka_ssl_ca_file,
            "kafka_ssl_ca_file",
        )?,
        ssl_client_cert_file: file(
            "oslomsg_notify_ssl_client_cert_file",
            &opts.kafka_ssl_client_cert_file,
            "kafka_ssl_client_cert_file",
        )?,
        ssl_client_key_file: file(
            "oslomsg_notify_ssl_client_key_file",
            &opts.kafka_ssl_client_key_file,
            "kafka_ssl_client_key_file",
        )?,
    })
}

/// A value written verbatim into a service's config file: oslo.config would interpolate `$`.
fn check_ini_value(path: &str, value: &str) -> Result<()> {
    if value.contains('$') {
        return Err(Error::spec(
            path,
            "contains '$', which oslo.config reads as a variable reference in a config file; use a path without '$'",
        ));
    }
    Ok(())
}

// --- per service -------------------------------------------------------------------------------------

/// One bus of one service after the `<svc>_oslomsg_*` chain.
struct ServiceBus {
    transport: String,
    servers: String,
    port: i64,
    use_ssl: bool,
    ssl_version: String,
    ssl_ca_file: String,
    userid: String,
    password: Option<String>,
    vhost: Value,
}

#[allow(clippy::too_many_lines)]
fn service_vars(facts: &Facts, g: &Global, svc: &str) -> Result<Map<String, Value>> {
    let vars = Vars(&facts.vars);
    let p = |suffix: &str| format!("{svc}_oslomsg_{suffix}");
    let mut m = Map::new();
    m.insert("name".into(), json!(svc));

    let setup_host = |group: &str| {
        facts
            .groups
            .get(group)
            .and_then(|h| h.first())
            .cloned()
            .unwrap_or_else(|| "localhost".to_owned())
    };

    let quorum = vars.bool(&p("rabbit_quorum_queues"))?.unwrap_or(g.quorum_queues);
    // os_nova's default: `/nova` absent and `nova` present with quorum queues, the reverse without.
    let default_vhost = json!([
        {"name": format!("/{svc}"), "state": if quorum { "absent" } else { "present" }},
        {"name": svc, "state": if quorum { "present" } else { "absent" }},
    ]);

    // RPC
    let rpc_host_group = vars
        .string(&p("rpc_host_group"))?
        .unwrap_or_else(|| g.rpc.host_group.clone());
    let rpc_setup_host = vars
        .string(&p("rpc_setup_host"))?
        .unwrap_or_else(|| setup_host(&rpc_host_group));
    let rpc_transport = vars
        .string(&p("rpc_transport"))?
        .unwrap_or_else(|| g.rpc.transport.clone());
    check_transport(&var_path(&p("rpc_transport")), &rpc_transport, true)?;
    let rpc_policies = vars.policies(&p("rpc_policies"))?.unwrap_or_default();
    let rpc = ServiceBus {
        transport: rpc_transport,
        servers: vars.string(&p("rpc_servers"))?.unwrap_or_else(|| g.rpc.servers.clone()),
        port: vars.port(&p("rpc_port"))?.unwrap_or(g.rpc.port),
        use_ssl: vars.bool(&p("rpc_use_ssl"))?.unwrap_or(g.rpc.use_ssl),
        ssl_version: match vars.string(&p("rpc_ssl_version"))? {
            Some(v) => v,
            None => vars
                .string("oslomsg_rpc_ssl_version")?
                .unwrap_or_else(|| DEFAULT_SSL_VERSION.into()),
        },
        ssl_ca_file: match vars.string(&p("rpc_ssl_ca_file"))? {
            Some(v) => v,
            None => vars.string("oslomsg_rpc_ssl_ca_file")?.unwrap_or_default(),
        },
        userid: vars.string(&p("rpc_userid"))?.unwrap_or_else(|| svc.to_owned()),
        password: vars.secret(&p("rpc_password"))?,
        vhost: vars.vhost(&p("rpc_vhost"))?.unwrap_or_else(|| default_vhost.clone()),
    };

    // Notify: the same chain from `oslomsg_notify_*`; user, password and vhost default to RPC's.
    let notify_configure = match vars.bool(&p("notify_configure"))? {
        Some(b) => b,
        None => match vars.bool("oslomsg_notify_configure")? {
            Some(b) => b,
            // os_nova: `nova_ceilometer_enabled`, itself true when the ceilometer_all group has hosts.
            None => match vars.bool(&format!("{svc}_ceilometer_enabled"))? {
                Some(b) => b,
                None => facts.groups.get("ceilometer_all").is_some_and(|h| !h.is_empty()),
            },
        },
    };
    let notify_transport = vars
        .string(&p("notify_transport"))?
        .unwrap_or_else(|| g.notify.transport.clone());
    check_transport(&var_path(&p("notify_transport")), &notify_transport, false)?;
    let notify_is_kafka = notify_transport == "kafka";
    // Notify switched to Kafka for this service alone: its defaults come from the Kafka group, not RabbitMQ's.
    let kafka_alone = notify_is_kafka && g.kafka.is_none();
    let notify_host_group = match vars.string(&p("notify_host_group"))? {
        Some(group) => group,
        None if kafka_alone => g.kafka_host_group.clone(),
        None => g.notify.host_group.clone(),
    };
    let notify_setup_host = vars
        .string(&p("notify_setup_host"))?
        .unwrap_or_else(|| setup_host(&notify_host_group));
    let notify_policies = vars.policies(&p("notify_policies"))?.unwrap_or_default();
    let notify_use_ssl = match vars.bool(&p("notify_use_ssl"))? {
        Some(b) => b,
        None if kafka_alone => g.kafka_use_ssl,
        None => g.notify.use_ssl,
    };
    let kafka = if notify_is_kafka {
        Some(service_kafka(&vars, &facts.options, g, svc, notify_use_ssl)?)
    } else {
        None
    };
    let notify = ServiceBus {
        servers: match vars.string(&p("notify_servers"))? {
            Some(s) => s,
            None if kafka_alone => group_addresses(facts, &g.kafka_host_group)?.join(","),
            None => g.notify.servers.clone(),
        },
        port: match vars.port(&p("notify_port"))? {
            Some(port) => port,
            None if kafka_alone => g.kafka_port,
            None => g.notify.port,
        },
        use_ssl: notify_use_ssl,
        ssl_version: match vars.string(&p("notify_ssl_version"))? {
            Some(v) => v,
            None => vars
                .string("oslomsg_notify_ssl_version")?
                .unwrap_or_else(|| DEFAULT_SSL_VERSION.into()),
        },
        ssl_ca_file: match vars.string(&p("notify_ssl_ca_file"))? {
            Some(v) => v,
            None => match &kafka {
                Some(k) => k.ssl_ca_file.clone(),
                None => vars.string("oslomsg_notify_ssl_ca_file")?.unwrap_or_default(),
            },
        },
        userid: vars.string(&p("notify_userid"))?.unwrap_or_else(|| rpc.userid.clone()),
        password: match vars.secret(&p("notify_password"))? {
            Some(s) => Some(s),
            None => rpc.password.clone(),
        },
        vhost: vars.vhost(&p("notify_vhost"))?.unwrap_or_else(|| rpc.vhost.clone()),
        transport: notify_transport,
    };

    // The quorum chain: each option defaults to the previous one (OSA-FACTS §2.2, §5.6).
    let global_or = |name: &str, var: &str| -> Result<Option<bool>> {
        match vars.bool(&p(name))? {
            Some(b) => Ok(Some(b)),
            None => vars.bool(var),
        }
    };
    let stream_fanout = global_or("rabbit_stream_fanout", "oslomsg_rabbit_stream_fanout")?.unwrap_or(quorum);
    let transient = global_or(
        "rabbit_transient_quorum_queues",
        "oslomsg_rabbit_transient_quorum_queues",
    )?
    .unwrap_or(stream_fanout);
    let int_or = |name: &str, var: &str, default: i64| -> Result<i64> {
        match vars.int(&p(name))? {
            Some(v) => Ok(v),
            None => Ok(vars.int(var)?.unwrap_or(default)),
        }
    };
    let qos = int_or(
        "rabbit_qos_prefetch_count",
        "oslomsg_rabbit_qos_prefetch_count",
        if stream_fanout { 10 } else { 0 },
    )?;
    let queue_manager = vars.bool(&p("rabbit_queue_manager"))?.unwrap_or(g.queue_manager);
    let delivery_limit = int_or(
        "rabbit_quorum_delivery_limit",
        "oslomsg_rabbit_quorum_delivery_limit",
        0,
    )?;
    let max_memory_bytes = int_or(
        "rabbit_quorum_max_memory_bytes",
        "oslomsg_rabbit_quorum_max_memory_bytes",
        0,
    )?;
    // oslo.messaging's hard checks (impl_rabbit.py): stream fanout needs transient quorum and a prefetch.
    if stream_fanout && !(transient && qos > 0) {
        return Err(Error::spec(
            var_path(&p("rabbit_stream_fanout")),
            "stream fanout needs transient quorum queues and a qos prefetch count above 0, or oslo.messaging \
             refuses to start; set those too, or turn stream fanout off",
        ));
    }

    for (bus, b, host_group, setup, policies) in [
        ("rpc", &rpc, &rpc_host_group, &rpc_setup_host, &rpc_policies),
        (
            "notify",
            &notify,
            &notify_host_group,
            &notify_setup_host,
            &notify_policies,
        ),
    ] {
        if bus == "notify" {
            m.insert(p("notify_configure"), json!(notify_configure));
        }
        m.insert(p(&format!("{bus}_host_group")), json!(host_group));
        m.insert(p(&format!("{bus}_setup_host")), json!(setup));
        m.insert(p(&format!("{bus}_transport")), json!(b.transport));
        m.insert(p(&format!("{bus}_servers")), json!(b.servers));
        m.insert(p(&format!("{bus}_port")), json!(b.port));
        m.insert(p(&format!("{bus}_use_ssl")), json!(b.use_ssl));
        m.insert(p(&format!("{bus}_ssl_version")), json!(b.ssl_version));
        m.insert(p(&format!("{bus}_ssl_ca_file")), json!(b.ssl_ca_file));
        m.insert(p(&format!("{bus}_userid")), json!(b.userid));
        m.insert(p(&format!("{bus}_password")), json!(b.password));
        m.insert(p(&format!("{bus}_vhost")), b.vhost.clone());
        m.insert(p(&format!("{bus}_policies")), json!(policies));
    }
    if let Some(k) = &kafka {
        m.insert(p("notify_security_protocol"), json!(k.security_protocol));
        m.insert(p("notify_sasl_mechanism"), json!(k.sasl_mechanism));
    }
    m.insert(p("rabbit_quorum_queues"), json!(quorum));
    m.insert(p("rabbit_stream_fanout"), json!(stream_fanout));
    m.insert(p("rabbit_transient_quorum_queues"), json!(transient));
    m.insert(p("rabbit_qos_prefetch_count"), json!(qos));
    m.insert(p("rabbit_queue_manager"), json!(queue_manager));
    m.insert(p("rabbit_quorum_delivery_limit"), json!(delivery_limit));
    m.insert(p("rabbit_quorum_max_memory_bytes"), json!(max_memory_bytes));

    m.insert("rpc_transport_url".into(), json!(transport_url(&rpc, &p("rpc"), None)?));
    m.insert(
        "notify_transport_url".into(),
        json!(transport_url(&notify, &p("notify"), kafka.as_ref())?),
    );

    let mut rabbit = Map::new();
    rabbit.insert("rabbit_quorum_queue".into(), json!(quorum));
    rabbit.insert("rabbit_transient_quorum_queue".into(), json!(transient));
    rabbit.insert("rabbit_qos_prefetch_count".into(), json!(qos));
    rabbit.insert("use_queue_manager".into(), json!(queue_manager));
    rabbit.insert("rabbit_stream_fanout".into(), json!(stream_fanout));
    rabbit.insert("rabbit_quorum_delivery_limit".into(), json!(delivery_limit));
    rabbit.insert("rabbit_quorum_max_memory_bytes".into(), json!(max_memory_bytes));
    // The queue manager names queues after `hostname` (oslo.messaging bug 2065922).
    if queue_manager && let Some(host) = vars.string("inventory_hostname")? {
        rabbit.insert("hostname".into(), json!(format!("{host}-{svc}")));
    }
    m.insert("oslo_messaging_rabbit".into(), Value::Object(rabbit));

    if let Some(k) = &kafka {
        let mut opts = Map::new();
        opts.insert("security_protocol".into(), json!(k.security_protocol));
        if let Some(mech) = &k.sasl_mechanism {
            opts.insert("sasl_mechanism".into(), json!(mech));
        }
        if k.security_protocol.ends_with("SSL") {
            check_ini_value(&var_path(&p("notify_ssl_ca_file")), &notify.ssl_ca_file)?;
            for (key, value) in [
                ("ssl_cafile", &notify.ssl_ca_file),
                ("ssl_client_cert_file", &k.ssl_client_cert_file),
                ("ssl_client_key_file", &k.ssl_client_key_file),
            ] {
                if !value.is_empty() {
                    opts.insert(key.into(), json!(value));
                }
            }
        }
        m.insert("oslo_messaging_kafka".into(), Value::Object(opts));
    }

    // What the module's `services:` option declares (OSA's mq_setup): the policies are the service's,
    // then the global ones, unique by name with the service's winning.
    let bus_entry = |b: &ServiceBus, configure: bool, own: &[Value], global: &[Value]| -> Value {
        let mut entry = json!({
            "transport": b.transport,
            "configure": configure,
            "userid": b.userid,
            "password": b.password,
        });
        if b.transport == "kafka" {
            entry["topics"] = json!([DEFAULT_NOTIFICATION_TOPIC]);
        } else {
            entry["vhost"] = b.vhost.clone();
            entry["policies"] = json!(merge_policies(own, global));
        }
        entry
    };
    m.insert("rpc".into(), bus_entry(&rpc, true, &rpc_policies, &g.rpc.policies));
    m.insert(
        "notify".into(),
        bus_entry(&notify, notify_configure, &notify_policies, &g.notify.policies),
    );
    Ok(m)
}

fn service_kafka(vars: &Vars<'_>, opts: &LookupOptions, g: &Global, svc: &str, use_ssl: bool) -> Result<KafkaSettings> {
    let p = |suffix: &str| format!("{svc}_oslomsg_{suffix}");
    let base = match &g.kafka {
        Some(k) => KafkaSettings {
            security_protocol: k.security_protocol.clone(),
            sasl_mechanism: k.sasl_mechanism.clone(),
            ssl_ca_file: k.ssl_ca_file.clone(),
            ssl_client_cert_file: k.ssl_client_cert_file.clone(),
            ssl_client_key_file: k.ssl_client_key_file.clone(),
        },
        // Notify is Kafka for this service only: start from the lookup's options.
        None => kafka_settings(vars, opts, use_ssl)?,
    };
    let protocol = match vars.string(&p("notify_security_protocol"))? {
        Some(proto) if !SECURITY_PROTOCOLS.contains(&proto.as_str()) => {
            return Err(Error::spec(
                var_path(&p("notify_security_protocol")),
                format!(
                    "'{proto}' is not a Kafka security protocol; use {}",
                    SECURITY_PROTOCOLS.join(", ")
                ),
            ));
        }
        Some(proto) => proto,
        None => base.security_protocol,
    };
    let mechanism = match vars.string(&p("notify_sasl_mechanism"))? {
        Some(m) if !SASL_MECHANISMS.contains(&m.as_str()) => {
            return Err(Error::spec(
                var_path(&p("notify_sasl_mechanism")),
                format!("'{m}' is not a SASL mechanism; use {}", SASL_MECHANISMS.join(", ")),
            ));
        }
        Some(m) => Some(m),
        None => base.sasl_mechanism,
    };
    let mechanism = if protocol.starts_with("SASL_") {
        Some(mechanism.unwrap_or_else(|| "PLAIN".into()))
    } else {
        None
    };
    Ok(KafkaSettings {
        security_protocol: protocol,
        sasl_mechanism: mechanism,
        ..base
    })
}

/// `(own + global) | unique(attribute='name')`: the first policy of each name wins.
pub fn merge_policies(own: &[Value], global: &[Value]) -> Vec<Value> {
    let mut seen = std::collections::HashSet::new();
    own.iter()
        .chain(global)
        .filter(|p| seen.insert(p.get("name").and_then(Value::as_str).unwrap_or_default().to_owned()))
        .cloned()
        .collect()
}

// --- transport URLs ----------------------------------------------------------------------------------

/// The URL oslo.messaging parses for one bus; `None` for transport `none`, which is no working URL.
fn transport_url(b: &ServiceBus, var_prefix: &str, kafka: Option<&KafkaSettings>) -> Result<Option<String>> {
    let servers = split_servers(&b.servers);
    let hosts_path = var_path(&format!("{var_prefix}_servers"));
    match b.transport.as_str() {
        "none" => Ok(None),
        "rabbit" => {
            if servers.is_empty() {
                return Err(Error::spec(
                    hosts_path,
                    "lists no server, so no transport URL can be built; put hosts in the RabbitMQ host group, \
                     or set the transport to none",
                ));
            }
            let password = b.password.as_deref().ok_or_else(|| {
                Error::spec(
                    var_path(&format!("{var_prefix}_password")),
                    "is not set; the transport URL needs it (OSA keeps it in user_secrets.yml)",
                )
            })?;
            let vhost = rendered_vhost(&var_path(&format!("{var_prefix}_vhost")), &b.vhost)?;
            let url = rabbit_url(&RabbitUrl {
                userid: &b.userid,
                password,
                servers: &servers,
                port: b.port,
                vhost: &vhost,
                use_ssl: b.use_ssl,
                ssl_version: &b.ssl_version,
                ssl_ca_file: &b.ssl_ca_file,
                var_prefix,
            })?;
            Ok(Some(url))
        }
        "kafka" => {
            if servers.is_empty() {
                return Err(Error::spec(
                    hosts_path,
                    "lists no server, so no transport URL can be built; put hosts in the Kafka host group \
                     (option kafka_host_group), or set the transport to none",
                ));
            }
            let sasl = kafka.is_some_and(|k| k.security_protocol.starts_with("SASL_"));
            let credentials = if sasl {
                let password = b.password.as_deref().ok_or_else(|| {
                    Error::spec(
                        var_path(&format!("{var_prefix}_password")),
                        "is not set; SASL needs it in the transport URL",
                    )
                })?;
                Some((b.userid.as_str(), password))
            } else {
                None
            };
            Ok(Some(kafka_url(credentials, &servers, b.port, var_prefix)?))
        }
        other => Err(Error::spec(
            var_path(&format!("{var_prefix}_transport")),
            format!("'{other}' is not a transport"),
        )),
    }
}

/// `servers` as OSA writes them: comma-separated hosts without ports.
pub fn split_servers(servers: &str) -> Vec<String> {
    servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A host as it goes into a URL: IPv6 in brackets. The port is never part of `server`.
pub fn url_host(path: &str, server: &str) -> Result<String> {
    let bad = |why: &str| Error::spec(path, format!("'{server}' {why}"));
    if let Some(inner) = server.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| bad("is not a bracketed IPv6 address"))?;
        return Ok(server.to_owned());
    }
    if server.contains(':') {
        if server.parse::<Ipv6Addr>().is_ok() {
            return Ok(format!("[{server}]"));
        }
        return Err(bad(
            "is not a host: give hosts without ports; the port comes from the matching _port variable",
        ));
    }
    if let Some(c) = server
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '/' | '@' | '?' | '#' | '[' | ']' | '%' | '$'))
    {
        return Err(bad(&format!("contains '{c}', which no host name has")));
    }
    Ok(server.to_owned())
}

/// Refuses what a rabbit URL cannot carry. Never echoes the value: it may be a password.
pub fn check_rabbit_credential(path: &str, what: &str, value: &str) -> Result<()> {
    if value.contains('/') {
        return Err(Error::spec(
            path,
            format!(
                "the {what} contains '/', which oslo.messaging's rabbit driver cannot carry in a transport URL, \
                 even percent-encoded (it re-quotes credentials keeping '/', and kombu then fails with \"Port \
                 could not be cast to integer\"); choose a {what} without '/' (OSA's pw-token-gen.py makes hex \
                 passwords)"
            ),
        ));
    }
    Ok(())
}

/// Refuses vhost names oslo.messaging mangles: it decodes the vhost twice, and `?`/`#` end the path.
pub fn check_vhost_name(path: &str, vhost: &str) -> Result<()> {
    if vhost.is_empty() {
        return Err(Error::spec(path, "the vhost name is empty"));
    }
    if let Some(c) = vhost.chars().find(|c| matches!(c, '%' | '?' | '#')) {
        return Err(Error::spec(
            path,
            format!(
                "vhost '{vhost}' contains '{c}', which oslo.messaging cannot carry in a transport URL (it decodes \
                 the vhost twice, and '?' and '#' end the path); rename the vhost"
            ),
        ));
    }
    Ok(())
}

pub struct RabbitUrl<'a> {
    pub userid: &'a str,
    pub password: &'a str,
    pub servers: &'a [String],
    pub port: i64,
    pub vhost: &'a str,
    pub use_ssl: bool,
    pub ssl_version: &'a str,
    pub ssl_ca_file: &'a str,
    /// `<svc>_oslomsg_rpc` or `…_notify`, for error paths.
    pub var_prefix: &'a str,
}

/// `rabbit://user:pass@host:port,…/vhost?ssl=…`: credentials on every host, `//x` for a vhost `/x`,
/// TLS as `ssl=1` with the version and CA file, `ssl=0` without (as OSA renders it).
pub fn rabbit_url(u: &RabbitUrl<'_>) -> Result<String> {
    let vp = |suffix: &str| var_path(&format!("{}_{suffix}", u.var_prefix));
    if u.userid.is_empty() {
        return Err(Error::spec(vp("userid"), "is empty"));
    }
    check_rabbit_credential(&vp("userid"), "user name", u.userid)?;
    check_rabbit_credential(&vp("password"), "password", u.password)?;
    check_vhost_name(&vp("vhost"), u.vhost)?;
    let credentials = format!(
        "{}:{}@",
        utf8_percent_encode(u.userid, QUOTE_ALL),
        utf8_percent_encode(u.password, QUOTE_ALL)
    );
    let hosts = u
        .servers
        .iter()
        .map(|s| Ok(format!("{credentials}{}:{}", url_host(&vp("servers"), s)?, u.port)))
        .collect::<Result<Vec<_>>>()?;
    let mut url = format!(
        "rabbit://{}/{}",
        hosts.join(","),
        utf8_percent_encode(u.vhost, QUOTE_PATH)
    );
    if u.use_ssl {
        url.push_str("?ssl=1");
        for (key, value) in [("ssl_version", u.ssl_version), ("ssl_ca_file", u.ssl_ca_file)] {
            if !value.is_empty() {
                url.push('&');
                url.push_str(key);
                url.push('=');
                url.extend(utf8_percent_encode(value, QUOTE_PATH));
            }
        }
    } else {
        url.push_str("?ssl=0");
    }
    Ok(url)
}

/// `kafka://host:port,…/`: no vhost (the producer would append it to the topic and listeners never do),
/// no query (the driver looks every key up in `[oslo_messaging_kafka]`, and `ssl` is not there).
/// Credentials only with SASL, on every host; the driver reads the first host's.
pub fn kafka_url(credentials: Option<(&str, &str)>, servers: &[String], port: i64, var_prefix: &str) -> Result<String> {
    let prefix = match credentials {
        Some((user, password)) => {
            if user.is_empty() {
                return Err(Error::spec(var_path(&format!("{var_prefix}_userid")), "is empty"));
            }
            format!(
                "{}:{}@",
                utf8_percent_encode(user, QUOTE_ALL),
                utf8_percent_encode(password, QUOTE_ALL)
            )
        }
        None => String::new(),
    };
    let path = var_path(&format!("{var_prefix}_servers"));
    let hosts = servers
        .iter()
        .map(|s| Ok(format!("{prefix}{}:{port}", url_host(&path, s)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(format!("kafka://{}/", hosts.join(",")))
}
