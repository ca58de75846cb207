//! The per-service set: each `<svc>_oslomsg_*` variable defaults to the global one (os_nova's chains),
//! the quorum options chain into each other, and the entry ends with what the module's `services:`
//! option declares for the service.

use serde_json::{Map, Value, json};

use super::global::{
    Global, KafkaSettings, check_ini_value, check_transport, group_addresses, kafka_settings, parse_sasl_mechanism,
    parse_security_protocol,
};
use super::url::transport_url;
use super::vars::{Vars, var_path};
use super::{DEFAULT_SSL_VERSION, Facts, LookupOptions};
use crate::error::{Error, Result};
use crate::spec::{DEFAULT_CONSUMER_GROUP, DEFAULT_NOTIFICATION_TOPIC, SaslMechanism, Transport};

/// The notification topic designate's sink listens to (`[service:sink] notification_topics`), which OSA's
/// os_nova and os_neutron add to their topics when designate is deployed.
pub const DESIGNATE_TOPIC: &str = "notifications_designate";

/// The topics a service's listeners read, as OSA wires them: ceilometer's notification agent reads
/// `notifications`, designate's sink `notifications_designate`. Others only produce.
fn consumed_topics(svc: &str) -> &'static [&'static str] {
    match svc {
        "ceilometer" => &[DEFAULT_NOTIFICATION_TOPIC],
        "designate" => &[DESIGNATE_TOPIC],
        _ => &[],
    }
}

/// One bus of one service after the `<svc>_oslomsg_*` chain.
pub(super) struct ServiceBus {
    pub(super) transport: Transport,
    pub(super) servers: String,
    pub(super) port: i64,
    pub(super) use_ssl: bool,
    pub(super) ssl_version: String,
    pub(super) ssl_ca_file: String,
    pub(super) userid: String,
    pub(super) password: Option<String>,
    pub(super) vhost: Value,
}

#[allow(clippy::too_many_lines)]
pub(super) fn service_vars(facts: &Facts, g: &Global, svc: &str) -> Result<Map<String, Value>> {
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
    let rpc_transport = match vars.string(&p("rpc_transport"))? {
        Some(t) => check_transport(&var_path(&p("rpc_transport")), &t, true)?,
        None => g.rpc.transport,
    };
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
    let notify_transport = match vars.string(&p("notify_transport"))? {
        Some(t) => check_transport(&var_path(&p("notify_transport")), &t, false)?,
        None => g.notify.transport,
    };
    let notify_is_kafka = notify_transport == Transport::Kafka;
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
    // os_nova and os_neutron add designate's topic when designate is deployed.
    let mut notify_topics = vec![DEFAULT_NOTIFICATION_TOPIC];
    if matches!(svc, "nova" | "neutron") && facts.groups.get("designate_all").is_some_and(|h| !h.is_empty()) {
        notify_topics.push(DESIGNATE_TOPIC);
    }
    let consumes = consumed_topics(svc);
    // oslo.messaging's Kafka listener joins its pool, else `[oslo_messaging_kafka] consumer_group`; neither
    // ceilometer nor designate passes a pool by default.
    let consumer_group = match vars.string(&p("notify_consumer_group"))? {
        Some(g) => g,
        None => vars
            .string("oslomsg_notify_consumer_group")?
            .unwrap_or_else(|| DEFAULT_CONSUMER_GROUP.to_owned()),
    };
    if consumer_group.is_empty() {
        return Err(Error::spec(
            var_path(&p("notify_consumer_group")),
            "is empty; name the group the service's listeners join, e.g. ceilometer",
        ));
    }
    check_ini_value(&var_path(&p("notify_consumer_group")), &consumer_group)?;
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
        m.insert(p(&format!("{bus}_transport")), json!(b.transport.as_str()));
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
        m.insert(p("notify_security_protocol"), json!(k.security_protocol.as_str()));
        m.insert(
            p("notify_sasl_mechanism"),
            json!(k.sasl_mechanism.map(SaslMechanism::as_str)),
        );
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
        opts.insert("security_protocol".into(), json!(k.security_protocol.as_str()));
        if let Some(mech) = k.sasl_mechanism {
            opts.insert("sasl_mechanism".into(), json!(mech.as_str()));
        }
        if !consumes.is_empty() {
            opts.insert("consumer_group".into(), json!(consumer_group));
        }
        if k.security_protocol.uses_ssl() {
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
            "transport": b.transport.as_str(),
            "configure": configure,
            "userid": b.userid,
            "password": b.password,
        });
        if b.transport == Transport::Kafka {
            entry["topics"] = json!(notify_topics);
            if !consumes.is_empty() {
                entry["consumes"] = json!(consumes);
                entry["consumer_group"] = json!(consumer_group);
            }
            // The SCRAM mechanism the service's user is created with is the one it logs in with.
            if let Some(m) = kafka.as_ref().and_then(|k| k.sasl_mechanism) {
                entry["sasl_mechanism"] = json!(m.as_str());
            }
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
        Some(k) => k.clone(),
        // Notify is Kafka for this service only: start from the lookup's options.
        None => kafka_settings(vars, opts, use_ssl)?,
    };
    let protocol = match vars.string(&p("notify_security_protocol"))? {
        Some(proto) => parse_security_protocol(&var_path(&p("notify_security_protocol")), &proto)?,
        None => base.security_protocol,
    };
    let mechanism = match vars.string(&p("notify_sasl_mechanism"))? {
        Some(m) => Some(parse_sasl_mechanism(&var_path(&p("notify_sasl_mechanism")), &m)?),
        None => base.sasl_mechanism,
    };
    let mechanism = if protocol.uses_sasl() {
        Some(mechanism.unwrap_or(SaslMechanism::Plain))
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
