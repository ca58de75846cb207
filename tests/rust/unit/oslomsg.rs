//! `oslomsg`: OSA's defaults, the per-service chains, and transport URL rules (OSA-FACTS §2, §5).
//! Expected values come from OSA's group_vars and os_nova defaults as OSA-FACTS.md quotes them.

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::oslomsg::oslomsg_vars_json;
use serde_json::{Value, json};

fn vars(request: &Value) -> Value {
    serde_json::from_str(&oslomsg_vars_json(&request.to_string()).expect("valid facts")).unwrap()
}

fn error(request: &Value) -> (String, String) {
    match oslomsg_vars_json(&request.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn three_rabbits() -> Value {
    json!({
        "groups": {"rabbitmq_all": ["r1", "r2", "r3"]},
        "hostvars": {
            "r1": {"management_address": "172.29.236.101"},
            "r2": {"management_address": "172.29.236.102"},
            "r3": {"management_address": "172.29.236.103"},
        },
        "vars": {"nova_oslomsg_rpc_password": "0123abcd"},
    })
}

#[test]
fn global_defaults_match_osa_group_vars() {
    let g = vars(&three_rabbits())["global"].clone();
    assert_eq!(g["rabbitmq_host_group"], "rabbitmq_all");
    assert_eq!(g["rabbitmq_use_ssl"], true);
    assert_eq!(g["rabbitmq_port"], 5671);
    assert_eq!(g["rabbitmq_servers"], "172.29.236.101,172.29.236.102,172.29.236.103");
    assert_eq!(g["oslomsg_rabbit_quorum_queues"], true);
    assert_eq!(g["oslomsg_rabbit_queue_manager"], false);
    assert_eq!(g["oslomsg_rpc_transport"], "rabbit");
    assert_eq!(g["oslomsg_notify_transport"], "rabbit");
    assert_eq!(g["oslomsg_notify_port"], 5671);
    assert_eq!(
        g["rabbitmq_policies"],
        json!([{"name": "CQv2", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}, "state": "present"}])
    );
    assert!(g.get("oslomsg_notify_security_protocol").is_none());
}

#[test]
fn notify_is_none_without_rabbitmq_hosts_and_no_url_is_built() {
    let out = vars(&json!({"vars": {"oslomsg_rpc_transport": "none"}, "services": ["nova"]}));
    assert_eq!(out["global"]["oslomsg_notify_transport"], "none");
    let nova = &out["services"][0];
    assert_eq!(nova["rpc_transport_url"], Value::Null);
    assert_eq!(nova["notify_transport_url"], Value::Null);
}

#[test]
fn tls_off_gives_port_5672_ssl_0_and_quorum_off_gives_the_slash_vhost() {
    let mut facts = three_rabbits();
    facts["vars"]["rabbitmq_use_ssl"] = json!(false);
    facts["vars"]["oslomsg_rabbit_quorum_queues"] = json!("False");
    facts["services"] = json!(["nova"]);
    let out = vars(&facts);
    assert_eq!(out["global"]["rabbitmq_port"], 5672);
    // Quorum off with replication on: CQv2 absent (OSA-FACTS §2.1).
    assert_eq!(out["global"]["rabbitmq_policies"][0]["state"], "absent");
    let nova = &out["services"][0];
    assert_eq!(
        nova["nova_oslomsg_rpc_vhost"],
        json!([{"name": "/nova", "state": "present"}, {"name": "nova", "state": "absent"}])
    );
    assert_eq!(
        nova["rpc_transport_url"],
        "rabbit://nova:0123abcd@172.29.236.101:5672,nova:0123abcd@172.29.236.102:5672,nova:0123abcd@172.29.236.103:5672//nova?ssl=0"
    );
    assert_eq!(nova["oslo_messaging_rabbit"]["rabbit_quorum_queue"], false);
    assert_eq!(nova["oslo_messaging_rabbit"]["rabbit_qos_prefetch_count"], 0);
}

#[test]
fn quorum_chain_follows_os_nova() {
    let mut facts = three_rabbits();
    facts["services"] = json!(["nova"]);
    let nova = vars(&facts)["services"][0].clone();
    assert_eq!(
        nova["oslo_messaging_rabbit"],
        json!({
            "rabbit_quorum_queue": true, "rabbit_transient_quorum_queue": true, "rabbit_qos_prefetch_count": 10,
            "use_queue_manager": false, "rabbit_stream_fanout": true, "rabbit_quorum_delivery_limit": 0,
            "rabbit_quorum_max_memory_bytes": 0,
        })
    );
    assert_eq!(
        nova["rpc_transport_url"],
        "rabbit://nova:0123abcd@172.29.236.101:5671,nova:0123abcd@172.29.236.102:5671,nova:0123abcd@172.29.236.103:5671/nova?ssl=1&ssl_version=TLSv1_2"
    );
    assert_eq!(nova["notify_transport_url"], nova["rpc_transport_url"]);
    assert_eq!(nova["nova_oslomsg_rpc_setup_host"], "r1");
    assert!(nova.get("oslo_messaging_kafka").is_none());
}

#[test]
fn stream_fanout_without_prefetch_is_refused() {
    let mut facts = three_rabbits();
    facts["services"] = json!(["nova"]);
    facts["vars"]["nova_oslomsg_rabbit_qos_prefetch_count"] = json!(0);
    let (path, message) = error(&facts);
    assert_eq!(path, "vars.nova_oslomsg_rabbit_stream_fanout");
    assert!(message.contains("qos prefetch"), "{message}");
}

#[test]
fn kafka_hosts_switch_notify_to_kafka_without_vhost_or_query() {
    let mut facts = three_rabbits();
    facts["groups"]["kafka_all"] = json!(["k1", "k2"]);
    facts["hostvars"]["k1"] = json!({"management_address": "10.0.0.5"});
    facts["hostvars"]["k2"] = json!({"management_address": "fd00::6"});
    facts["services"] = json!(["nova"]);
    let out = vars(&facts);
    assert_eq!(out["global"]["oslomsg_notify_transport"], "kafka");
    assert_eq!(out["global"]["oslomsg_notify_port"], 9092);
    assert_eq!(out["global"]["oslomsg_notify_policies"], json!([]));
    let nova = &out["services"][0];
    assert_eq!(nova["notify_transport_url"], "kafka://10.0.0.5:9092,[fd00::6]:9092/");
    assert_eq!(nova["oslo_messaging_kafka"], json!({"security_protocol": "PLAINTEXT"}));
    assert_eq!(nova["notify"]["transport"], "kafka");
    assert_eq!(nova["notify"]["topics"], json!(["notifications"]));
}

#[test]
fn kafka_sasl_ssl_puts_credentials_on_every_host_and_tls_in_the_options() {
    let mut facts = three_rabbits();
    facts["groups"]["kafka_all"] = json!(["k1", "k2"]);
    facts["hostvars"]["k1"] = json!({"management_address": "10.0.0.5"});
    facts["hostvars"]["k2"] = json!({"management_address": "10.0.0.6"});
    facts["options"] = json!({"kafka_port": 9093, "kafka_use_ssl": true, "kafka_sasl_mechanism": "SCRAM-SHA-512",
                              "kafka_ssl_ca_file": "/etc/ssl/ca.pem"});
    facts["vars"]["nova_oslomsg_notify_password"] = json!("s3cr:t");
    facts["services"] = json!(["nova"]);
    let nova = vars(&facts)["services"][0].clone();
    assert_eq!(
        nova["notify_transport_url"],
        "kafka://nova:s3cr%3At@10.0.0.5:9093,nova:s3cr%3At@10.0.0.6:9093/"
    );
    assert_eq!(
        nova["oslo_messaging_kafka"],
        json!({"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "ssl_cafile": "/etc/ssl/ca.pem"})
    );
}

#[test]
fn ipv6_servers_are_bracketed_and_a_host_with_a_port_is_refused() {
    let facts = json!({
        "groups": {"rabbitmq_all": ["r1"]},
        "hostvars": {"r1": {"management_address": "fd00::11"}},
        "vars": {"nova_oslomsg_rpc_password": "pw"},
        "services": ["nova"],
    });
    let nova = vars(&facts)["services"][0].clone();
    assert_eq!(
        nova["rpc_transport_url"],
        "rabbit://nova:pw@[fd00::11]:5671/nova?ssl=1&ssl_version=TLSv1_2"
    );
    let mut bad = facts.clone();
    bad["vars"]["rabbitmq_servers"] = json!("10.0.0.1:5672");
    let (path, message) = error(&bad);
    assert_eq!(path, "vars.nova_oslomsg_rpc_servers");
    assert!(message.contains("without ports"), "{message}");
}

#[test]
fn credentials_are_percent_encoded_and_slash_is_refused_without_echo() {
    let mut facts = three_rabbits();
    facts["services"] = json!(["nova"]);
    facts["vars"]["nova_oslomsg_rpc_password"] = json!("a@b:c%d?e#f&g+h=i,j;k$l!m");
    let url = vars(&facts)["services"][0]["rpc_transport_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("rabbit://nova:a%40b%3Ac%25d%3Fe%23f%26g%2Bh%3Di%2Cj%3Bk%24l%21m@"),
        "{url}"
    );
    facts["vars"]["nova_oslomsg_rpc_password"] = json!("secret/with-slash");
    let (path, message) = error(&facts);
    assert_eq!(path, "vars.nova_oslomsg_rpc_password");
    assert!(
        message.contains("cannot carry") && message.contains("without '/'"),
        "{message}"
    );
    assert!(!message.contains("secret/with-slash"));
}

#[test]
fn vhost_with_percent_is_refused_and_a_slash_vhost_gets_a_double_slash() {
    let mut facts = three_rabbits();
    facts["services"] = json!(["nova"]);
    facts["vars"]["nova_oslomsg_rpc_vhost"] = json!("/nova");
    let url = vars(&facts)["services"][0]["rpc_transport_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains("5671//nova?"), "{url}");
    facts["vars"]["nova_oslomsg_rpc_vhost"] = json!([{"name": "no%va", "state": "present"}]);
    let (path, message) = error(&facts);
    assert_eq!(path, "vars.nova_oslomsg_rpc_vhost");
    assert!(message.contains("decodes the vhost twice"), "{message}");
}

#[test]
fn a_service_policy_wins_over_the_global_one_of_the_same_name() {
    let mut facts = three_rabbits();
    facts["services"] = json!(["nova"]);
    facts["vars"]["nova_oslomsg_rpc_policies"] =
        json!([{"name": "CQv2", "pattern": "^nova", "priority": 1, "tags": {"queue-version": 2}}]);
    let nova = vars(&facts)["services"][0].clone();
    assert_eq!(
        nova["rpc"]["policies"],
        json!([{"name": "CQv2", "pattern": "^nova", "priority": 1, "tags": {"queue-version": 2}}])
    );
}

#[test]
fn missing_management_address_and_kafka_rpc_are_refused_with_paths() {
    let facts = json!({"groups": {"rabbitmq_all": ["r1"]}, "hostvars": {"r1": {}}});
    assert_eq!(error(&facts).0, "hostvars.r1.management_address");
    let facts = json!({"vars": {"oslomsg_rpc_transport": "kafka"}});
    let (path, message) = error(&facts);
    assert_eq!(path, "vars.oslomsg_rpc_transport");
    assert!(message.contains("NotImplementedError"));
    let facts = json!({"options": {"kafka_prot": 1}});
    assert_eq!(error(&facts).0, "options.kafka_prot");
    let facts = json!({"vars": {"rabbitmq_use_ssl": "maybe"}});
    assert_eq!(error(&facts).0, "vars.rabbitmq_use_ssl");
}

#[test]
fn hosts_agreeing_on_a_port_variable_set_the_default_port_and_disagreeing_ones_are_refused() {
    let mut facts = json!({
        "groups": {"rabbitmq_all": ["r1", "r2"], "kafka_all": ["k1", "k2"]},
        "hostvars": {
            "r1": {"management_address": "10.0.0.1", "rabbitmq_port": 5673},
            "r2": {"management_address": "10.0.0.2", "rabbitmq_port": "5673"},
            "k1": {"management_address": "10.0.0.5", "kafka_port": 9093},
            "k2": {"management_address": "10.0.0.6", "kafka_port": 9093},
        },
    });
    let g = vars(&facts)["global"].clone();
    assert_eq!(
        (g["rabbitmq_port"].clone(), g["oslomsg_notify_port"].clone()),
        (json!(5673), json!(9093))
    );
    // An explicit variable or option wins over the hosts.
    facts["vars"] = json!({"rabbitmq_port": 5672});
    facts["options"] = json!({"kafka_port": 9094});
    let g = vars(&facts)["global"].clone();
    assert_eq!(
        (g["rabbitmq_port"].clone(), g["oslomsg_notify_port"].clone()),
        (json!(5672), json!(9094))
    );
    facts["options"] = json!({});
    facts["hostvars"]["k2"]["kafka_port"] = json!(9092);
    let (path, message) = error(&facts);
    assert_eq!(path, "hostvars.k2.kafka_port");
    assert!(message.contains("one port"), "{message}");
}

#[test]
fn unknown_transport_protocol_and_mechanism_name_the_valid_ones() {
    let refused = |vars: Value| error(&json!({"vars": vars, "services": ["nova"]}));
    let transport = "'amqp' is not a transport here; use rabbit, kafka (notifications only) or none \
                     (the amqp driver was removed from oslo.messaging)";
    for var in ["oslomsg_notify_transport", "nova_oslomsg_rpc_transport"] {
        assert_eq!(
            refused(json!({var: "amqp"})),
            (format!("vars.{var}"), transport.to_owned())
        );
    }
    let kafka = |extra: Value| {
        let mut vars = json!({"oslomsg_notify_transport": "kafka", "oslomsg_notify_servers": "10.0.0.5"});
        vars.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        refused(vars)
    };
    let protocol = "'TLS' is not a Kafka security protocol; use PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL";
    let mechanism = "'GSSAPI' is not a SASL mechanism; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512";
    for (var, value, message) in [
        ("oslomsg_notify_security_protocol", "TLS", protocol),
        ("nova_oslomsg_notify_security_protocol", "TLS", protocol),
        ("oslomsg_notify_sasl_mechanism", "GSSAPI", mechanism),
        ("nova_oslomsg_notify_sasl_mechanism", "GSSAPI", mechanism),
    ] {
        assert_eq!(kafka(json!({var: value})), (format!("vars.{var}"), message.to_owned()));
    }
    assert_eq!(
        kafka(json!({"oslomsg_notify_security_protocol": "SSL"})).1,
        "SSL contradicts oslomsg_notify_use_ssl = false; make them agree"
    );
    assert_eq!(
        kafka(json!({"oslomsg_notify_sasl_mechanism": "PLAIN", "oslomsg_notify_security_protocol": "PLAINTEXT"})),
        (
            "vars.oslomsg_notify_sasl_mechanism".to_owned(),
            "a SASL mechanism is set but the security protocol is PLAINTEXT; drop one".to_owned()
        )
    );
}

#[test]
fn the_lookups_sasl_entries_declare_each_services_user_and_acls_in_the_module() {
    let mut facts = three_rabbits();
    facts["groups"]["kafka_all"] = json!(["k1"]);
    facts["groups"]["ceilometer_all"] = json!(["c1"]);
    facts["hostvars"]["k1"] = json!({"management_address": "10.0.0.5"});
    facts["options"] = json!({"kafka_port": 9093, "kafka_use_ssl": true, "kafka_sasl_mechanism": "SCRAM-SHA-256"});
    facts["vars"]["nova_oslomsg_notify_password"] = json!("n/ova");
    facts["vars"]["ceilometer_oslomsg_rpc_password"] = json!("ceilo");
    facts["services"] = json!(["nova", "ceilometer"]);
    let services = vars(&facts)["services"].clone();
    let request = json!({
        "kafka": {"bootstrap_servers": ["10.0.0.5:9093"], "security_protocol": "SASL_SSL",
                  "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "admin", "sasl_password": "x"},
        "services": services,
    });
    let r = osa_hybrid_msg::spec::Request::from_json(&request.to_string()).expect("the lookup's entries are valid");
    let users: Vec<(String, &str)> = r
        .kafka_users()
        .iter()
        .map(|u| (u.name.clone(), u.mechanism().as_str()))
        .collect();
    assert_eq!(
        users,
        [
            ("nova".to_owned(), "SCRAM-SHA-256"),
            ("ceilometer".to_owned(), "SCRAM-SHA-256")
        ]
    );
    let groups: Vec<String> = r
        .kafka_acls()
        .iter()
        .filter(|a| a.resource_type == osa_hybrid_msg::spec::AclResourceType::Group)
        .map(|a| format!("{} {}", a.principal, a.resource_name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(groups, ["User:ceilometer oslo_messaging_consumer"]);
}
