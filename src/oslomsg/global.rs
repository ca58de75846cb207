//! The global set: `rabbitmq_*` and `oslomsg_{rpc,notify}_*` as OSA's group_vars compute them from the
//! inventory, and the Kafka settings when notifications go to Kafka. The per-service chains start here.

use serde_json::{Map, Value, json};

use super::vars::{Vars, var_path};
use super::{DEFAULT_KAFKA_HOST_GROUP, DEFAULT_KAFKA_PORT, DEFAULT_RABBITMQ_HOST_GROUP, Facts, LookupOptions};
use crate::error::{Error, Result};
use crate::spec::{SaslMechanism, SecurityProtocol, Transport, shown};

/// The settings of one bus as the `oslomsg_{rpc,notify}_*` variables give them.
pub(super) struct Bus {
    pub(super) transport: Transport,
    pub(super) servers: String,
    pub(super) port: i64,
    pub(super) use_ssl: bool,
    pub(super) host_group: String,
    pub(super) policies: Vec<Value>,
}

#[derive(Clone)]
pub(super) struct KafkaSettings {
    pub(super) security_protocol: SecurityProtocol,
    pub(super) sasl_mechanism: Option<SaslMechanism>,
    pub(super) ssl_ca_file: String,
    pub(super) ssl_client_cert_file: String,
    pub(super) ssl_client_key_file: String,
}

// The booleans are OSA's own variables, one field each.
#[allow(clippy::struct_excessive_bools)]
pub(super) struct Global {
    pub(super) rabbitmq_host_group: String,
    pub(super) rabbitmq_use_ssl: bool,
    pub(super) rabbitmq_port: i64,
    pub(super) rabbitmq_servers: String,
    pub(super) rabbitmq_queue_replication: bool,
    pub(super) rabbitmq_policies: Vec<Value>,
    pub(super) quorum_queues: bool,
    pub(super) queue_manager: bool,
    pub(super) rpc: Bus,
    pub(super) notify: Bus,
    /// Set when notify is Kafka.
    pub(super) kafka: Option<KafkaSettings>,
    /// Where Kafka is, for a service whose notify alone is switched to Kafka.
    pub(super) kafka_host_group: String,
    pub(super) kafka_port: i64,
    pub(super) kafka_use_ssl: bool,
    /// `oslomsg_*` variables roles read with `default(...)` but OSA never defines; passed on when given.
    pub(super) passthrough: Vec<(String, Value)>,
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
pub(super) fn group_addresses(facts: &Facts, group: &str) -> Result<Vec<String>> {
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
        .ok_or_else(|| {
            Error::spec(
                &path,
                format!("{} is not a TCP port (1-65535)", shown(&value.to_string())),
            )
        })?;
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

/// The transport a variable names; kafka is refused for RPC.
pub(super) fn check_transport(path: &str, name: &str, rpc: bool) -> Result<Transport> {
    let Some(transport) = Transport::from_name(name) else {
        return Err(Error::spec(
            path,
            format!(
                "'{}' is not a transport here; use rabbit, kafka (notifications only) or none \
                 (the amqp driver was removed from oslo.messaging)",
                shown(name)
            ),
        ));
    };
    if rpc && transport == Transport::Kafka {
        return Err(Error::spec(
            path,
            "kafka cannot carry RPC: oslo.messaging's kafka driver raises NotImplementedError for RPC; \
             use rabbit for RPC and kafka for notifications",
        ));
    }
    Ok(transport)
}

/// A Kafka security protocol from a variable; the message lists the valid ones.
pub(super) fn parse_security_protocol(path: &str, name: &str) -> Result<SecurityProtocol> {
    SecurityProtocol::from_name(name).ok_or_else(|| {
        let all = SecurityProtocol::ALL.map(SecurityProtocol::as_str);
        Error::spec(
            path,
            format!(
                "'{}' is not a Kafka security protocol; use {}",
                shown(name),
                all.join(", ")
            ),
        )
    })
}

/// A SASL mechanism from a variable or the lookup's option; the message lists the valid ones.
pub(super) fn parse_sasl_mechanism(path: &str, name: &str) -> Result<SaslMechanism> {
    SaslMechanism::from_name(name).ok_or_else(|| {
        let all = SaslMechanism::ALL.map(SaslMechanism::as_str);
        Error::spec(
            path,
            format!("'{}' is not a SASL mechanism; use {}", shown(name), all.join(", ")),
        )
    })
}

impl Global {
    pub(super) fn compute(facts: &Facts) -> Result<Self> {
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

        let rabbit_bus = |prefix: &str, transport: Transport| -> Result<Bus> {
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

        let rpc_transport = match vars.string("oslomsg_rpc_transport")? {
            Some(t) => check_transport(&var_path("oslomsg_rpc_transport"), &t, true)?,
            None => Transport::Rabbit,
        };
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
            Some(t) => check_transport(&var_path("oslomsg_notify_transport"), &t, false)?,
            None if kafka_hosts => Transport::Kafka,
            None if rabbit_hosts => Transport::Rabbit,
            None => Transport::None,
        };

        let (notify, kafka) = if notify_transport == Transport::Kafka {
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

    pub(super) fn to_map(&self) -> Map<String, Value> {
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
            m.insert(format!("oslomsg_{bus}_transport"), json!(b.transport.as_str()));
            m.insert(format!("oslomsg_{bus}_servers"), json!(b.servers));
            m.insert(format!("oslomsg_{bus}_port"), json!(b.port));
            m.insert(format!("oslomsg_{bus}_use_ssl"), json!(b.use_ssl));
            m.insert(format!("oslomsg_{bus}_host_group"), json!(b.host_group));
            m.insert(format!("oslomsg_{bus}_policies"), json!(b.policies));
        }
        if let Some(k) = &self.kafka {
            m.insert(
                "oslomsg_notify_security_protocol".into(),
                json!(k.security_protocol.as_str()),
            );
            m.insert(
                "oslomsg_notify_sasl_mechanism".into(),
                json!(k.sasl_mechanism.map(SaslMechanism::as_str)),
            );
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

pub(super) fn kafka_settings(vars: &Vars<'_>, opts: &LookupOptions, use_ssl: bool) -> Result<KafkaSettings> {
    let sasl_mechanism = match vars.string("oslomsg_notify_sasl_mechanism")? {
        Some(m) => Some((m, var_path("oslomsg_notify_sasl_mechanism"))),
        None => opts
            .kafka_sasl_mechanism
            .clone()
            .map(|m| (m, "options.kafka_sasl_mechanism".to_owned())),
    };
    let sasl_mechanism = match sasl_mechanism {
        Some((m, path)) => Some((parse_sasl_mechanism(&path, &m)?, path)),
        None => None,
    };
    let derived = match (use_ssl, sasl_mechanism.is_some()) {
        (false, false) => SecurityProtocol::Plaintext,
        (true, false) => SecurityProtocol::Ssl,
        (false, true) => SecurityProtocol::SaslPlaintext,
        (true, true) => SecurityProtocol::SaslSsl,
    };
    let security_protocol = match vars.string("oslomsg_notify_security_protocol")? {
        None => derived,
        Some(p) => {
            let path = var_path("oslomsg_notify_security_protocol");
            let protocol = parse_security_protocol(&path, &p)?;
            if protocol.uses_ssl() != use_ssl {
                return Err(Error::spec(
                    path,
                    format!("{p} contradicts oslomsg_notify_use_ssl = {use_ssl}; make them agree"),
                ));
            }
            protocol
        }
    };
    let sasl_mechanism = if security_protocol.uses_sasl() {
        // oslo.messaging's own default, stated so the rendered config says what is used.
        Some(sasl_mechanism.map_or(SaslMechanism::Plain, |(m, _)| m))
    } else if let Some((_, path)) = sasl_mechanism {
        return Err(Error::spec(
            path,
            format!(
                "a SASL mechanism is set but the security protocol is {}; drop one",
                security_protocol.as_str()
            ),
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
pub(super) fn check_ini_value(path: &str, value: &str) -> Result<()> {
    if value.contains('$') {
        return Err(Error::spec(
            path,
            "contains '$', which oslo.config reads as a variable reference in a config file; use a path without '$'",
        ));
    }
    Ok(())
}
