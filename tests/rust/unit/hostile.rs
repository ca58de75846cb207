//! Hostile input (issue 18): empty connection lists, wrong shapes at every level, NUL and control characters,
//! lone surrogates, huge values. Each is refused with an error that names the field, never a panic, and a
//! secret never appears in the message. Regression tests for what tests/python/test_hostile_input.py and the
//! fuzz targets (fuzz/) found.

use std::time::{Duration, Instant};

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::oslomsg::oslomsg_vars_json;
use osa_hybrid_msg::plan::plan_rabbit;
use osa_hybrid_msg::spec::Request;
use serde_json::{Value, json};

fn spec_error_text(text: &str) -> (String, String) {
    match Request::from_json(text) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("{text}: expected a spec error, got {other:?}"),
    }
}

fn spec_error(value: &Value) -> (String, String) {
    spec_error_text(&value.to_string())
}

fn lookup_error(value: &Value) -> (String, String) {
    match oslomsg_vars_json(&value.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("{value}: expected a spec error, got {other:?}"),
    }
}

#[test]
fn an_empty_connection_list_is_an_error_whatever_is_declared() {
    for (request, path, hint) in [
        (
            json!({"rabbitmq": {"urls": []}, "vhosts": [{"name": "v"}]}),
            "rabbitmq.urls",
            "management URL",
        ),
        // Nothing declared on that side: still refused, an empty list is never "the default broker".
        (
            json!({"rabbitmq": {"urls": []}, "topics": [{"name": "t"}]}),
            "rabbitmq.urls",
            "management URL",
        ),
        (json!({"rabbitmq": {"urls": []}}), "rabbitmq.urls", "management URL"),
        (
            json!({"rabbitmq": {"amqp_urls": []}}),
            "rabbitmq.amqp_urls",
            "AMQP endpoint",
        ),
        (
            json!({"kafka": {"bootstrap_servers": []}, "topics": [{"name": "t"}]}),
            "kafka.bootstrap_servers",
            "HOST:PORT",
        ),
        (
            json!({"kafka": {"bootstrap_servers": []}, "vhosts": [{"name": "v"}]}),
            "kafka.bootstrap_servers",
            "HOST:PORT",
        ),
    ] {
        let (got, message) = spec_error(&request);
        assert_eq!(got, path, "{request}");
        assert!(message.starts_with("is an empty list; give at least one"), "{message}");
        assert!(
            message.contains(hint) && message.contains("inventory group"),
            "{message}"
        );
        assert!(
            !message.contains("127.0.0.1"),
            "the fix is never the loopback broker: {message}"
        );
    }
}

#[test]
fn connection_accessors_never_turn_an_empty_list_into_loopback() {
    let conn: osa_hybrid_msg::spec::RabbitConnection = serde_json::from_value(json!({"urls": []})).unwrap();
    assert!(conn.urls().is_empty() && conn.api_urls().is_empty());
    let conn: osa_hybrid_msg::spec::KafkaConnection = serde_json::from_value(json!({"bootstrap_servers": []})).unwrap();
    assert!(conn.bootstrap().is_empty());
    // Unset still means the documented default.
    let conn = osa_hybrid_msg::spec::RabbitConnection::default();
    assert_eq!(conn.urls(), ["http://127.0.0.1:15672"]);
}

#[test]
fn objects_and_names_given_in_another_shape_are_refused_at_every_level() {
    // serde's derived structs accept a sequence (fields by position) and its enums a one-key mapping;
    // `rabbitmq: []` used to be read as "all defaults".
    for (request, path) in [
        (json!([]), "request"),
        (json!([[["http://x:1"]]]), "request"),
        (json!({"rabbitmq": []}), "rabbitmq"),
        (
            json!({"rabbitmq": [["http://127.0.0.1:15672"], "admin", "pw"]}),
            "rabbitmq",
        ),
        (json!({"kafka": []}), "kafka"),
        (json!({"notifications": []}), "notifications"),
        (json!({"vhosts": [["v"]]}), "vhosts[0]"),
        (json!({"users": [["u", "pw"]]}), "users[0]"),
        (
            json!({"users": [{"name": "u", "permissions": [["v", ".*", ".*", ".*"]]}]}),
            "users[0].permissions[0]",
        ),
        (
            json!({"users": [{"name": "u", "topic_permissions": [["v", "x", ".*", ".*"]]}]}),
            "users[0].topic_permissions[0]",
        ),
        (json!({"policies": [["p", "v", ".*"]]}), "policies[0]"),
        (json!({"topics": [["t"]]}), "topics[0]"),
        (json!({"kafka_users": [["u", "pw"]]}), "kafka_users[0]"),
        (json!({"kafka_acls": [["User:u", "cluster"]]}), "kafka_acls[0]"),
        (
            json!({"services": [{"name": "nova", "rpc": ["rabbit"]}]}),
            "services[0].rpc",
        ),
        (
            json!({"vhosts": [{"name": "v", "state": {"absent": null}}]}),
            "vhosts[0].state",
        ),
        (
            json!({"policies": [{"name": "p", "vhost": "v", "pattern": ".*", "definition": {"a": 1}, "apply_to": {"queues": null}}]}),
            "policies[0].apply_to",
        ),
        (
            json!({"kafka": {"security_protocol": {"SASL_SSL": null}}}),
            "kafka.security_protocol",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:u", "resource_type": {"cluster": null}, "operations": ["describe"]}]}),
            "kafka_acls[0].resource_type",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:u", "resource_type": "cluster", "operations": [{"describe": null}]}]}),
            "kafka_acls[0].operations[0]",
        ),
    ] {
        let (got, message) = spec_error(&request);
        assert_eq!(got, path, "{request}: {message}");
        assert!(message.starts_with("invalid type:"), "{request}: {message}");
    }
    // The lookup's request too.
    assert_eq!(lookup_error(&json!([])).0, "request");
    assert_eq!(lookup_error(&json!({"options": []})).0, "options");
}

#[test]
fn text_after_the_request_is_refused() {
    let (path, message) = spec_error_text(r#"{"vhosts": []} {"vhosts": [{"name": "x"}]}"#);
    assert_eq!((path.as_str(), message.as_str()), ("request", "trailing characters"));
    assert!(oslomsg_vars_json("{} []").is_err());
}

#[test]
fn a_nul_anywhere_is_refused_by_path_without_echoing_the_value() {
    for (request, path) in [
        (json!({"vhosts": [{"name": "a\u{0}b"}]}), "vhosts[0].name"),
        (
            json!({"users": [{"name": "u", "password": "s3cr3t\u{0}pw"}]}),
            "users[0].password",
        ),
        (json!({"rabbitmq": {"password": "s3cr3t\u{0}pw"}}), "rabbitmq.password"),
        (
            json!({"rabbitmq": {"ca_cert": "/etc/ssl/ca\u{0}.pem"}}),
            "rabbitmq.ca_cert",
        ),
        (
            json!({"vhosts": [{"name": "v", "description": "x\u{0}"}]}),
            "vhosts[0].description",
        ),
        (
            json!({"policies": [{"name": "p", "vhost": "v", "pattern": ".*", "definition": {"k\u{0}": 1}}]}),
            "policies[0].definition",
        ),
        (
            json!({"kafka_users": [{"name": "u", "password": "s3cr3t\u{0}pw"}]}),
            "kafka_users[0].password",
        ),
        (
            json!({"services": [{"name": "nova", "rpc": {"transport": "rabbit", "password": "s3cr3t\u{0}pw"}}]}),
            "services[0].rpc.password",
        ),
    ] {
        let (got, message) = spec_error(&request);
        assert_eq!(got, path, "{request}");
        assert!(message.contains("NUL character"), "{message}");
        assert!(!message.contains("s3cr3t"), "a secret in the message: {message}");
    }
    let (path, message) = lookup_error(&json!({"vars": {"nova_oslomsg_rpc_password": "s3cr3t\u{0}"}}));
    assert_eq!(path, "vars.nova_oslomsg_rpc_password");
    assert!(!message.contains("s3cr3t"), "{message}");
}

#[test]
fn control_characters_in_names_and_tags_are_refused() {
    for (request, path) in [
        (json!({"vhosts": [{"name": "nova\n"}]}), "vhosts[0].name"),
        (
            json!({"vhosts": [{"name": "v", "tags": ["a\u{1b}[31m"]}]}),
            "vhosts[0].tags[0]",
        ),
        (json!({"users": [{"name": "nova\r"}]}), "users[0].name"),
        (
            json!({"users": [{"name": "u", "tags": ["monitoring\t"]}]}),
            "users[0].tags[0]",
        ),
        (
            json!({"users": [{"name": "u", "permissions": [{"vhost": "v\u{7f}", "configure": "", "write": "", "read": ""}]}]}),
            "users[0].permissions[0].vhost",
        ),
        (
            json!({"policies": [{"name": "p\u{85}", "vhost": "v", "pattern": ".*", "definition": {"a": 1}}]}),
            "policies[0].name",
        ),
        (
            json!({"kafka_users": [{"name": "u\n", "password": "pw"}]}),
            "kafka_users[0].name",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:u\n", "resource_type": "cluster", "operations": ["describe"]}]}),
            "kafka_acls[0].principal",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:u", "resource_type": "topic", "resource_name": "t\u{1}", "operations": ["read"]}]}),
            "kafka_acls[0].resource_name",
        ),
    ] {
        let (got, message) = spec_error(&request);
        assert_eq!(got, path, "{request}");
        assert!(message.contains("control character U+"), "{message}");
    }
    // Printable Unicode stays accepted.
    Request::from_json(&json!({"vhosts": [{"name": "ünï©ødé/nova"}]}).to_string()).unwrap();
}

#[test]
fn a_lone_surrogate_is_named_as_text_that_is_not_unicode() {
    // What Python's json.dumps writes for a str holding undecodable bytes (surrogateescape).
    let (path, message) = spec_error_text(r#"{"vhosts": [{"name": "\udc80abc"}]}"#);
    assert_eq!(path, "vhosts[0].name");
    assert!(message.starts_with("is not valid Unicode text"), "{message}");
}

#[test]
fn huge_values_give_short_messages() {
    let (path, message) = spec_error(&json!({"rabbitmq": {"timeout": 1e308}}));
    assert_eq!(path, "rabbitmq.timeout");
    assert!(
        message.len() < 120 && message.starts_with("1e308 is not a timeout"),
        "{message}"
    );
    let (path, message) = spec_error(&json!({"kafka": {"timeout": -1e-300}}));
    assert_eq!(path, "kafka.timeout");
    assert!(message.len() < 120, "{message}");
    let long = "x".repeat(1 << 20);
    for (request, path) in [
        (json!({"rabbitmq": {"urls": [long.clone()]}}), "rabbitmq.urls[0]"),
        (
            json!({"rabbitmq": {"amqp_urls": [long.clone()]}}),
            "rabbitmq.amqp_urls[0]",
        ),
        (
            json!({"kafka": {"bootstrap_servers": [long.clone()]}}),
            "kafka.bootstrap_servers[0]",
        ),
        (json!({"topics": [{"name": format!("{long}!")}]}), "topics[0].name"),
        (
            json!({"users": [{"name": "u", "permissions": [{"vhost": "v", "configure": format!("({long}"), "write": "", "read": ""}]}]}),
            "users[0].permissions[0].configure",
        ),
        (
            json!({"kafka_acls": [{"principal": long.clone(), "resource_type": "cluster", "operations": ["describe"]}]}),
            "kafka_acls[0].principal",
        ),
    ] {
        let (got, message) = spec_error(&request);
        assert_eq!(got, path);
        assert!(message.len() < 400, "{path}: a {} byte message", message.len());
    }
}

#[test]
fn nested_counted_repetitions_in_policy_patterns_plan_in_bounded_time() {
    // The overlap check builds sample names from both patterns; nested `{64}` used to multiply into names of
    // 64^5 characters (a gigabyte) before any comparison.
    let nested = "(((((a{64}){64}){64}){64}){64})";
    let request = Request::from_json(
        &json!({
            "vhosts": [{"name": "v"}],
            "policies": [
                {"name": "p1", "vhost": "v", "pattern": nested, "definition": {"max-length": 1}},
                {"name": "p2", "vhost": "v", "pattern": ".*", "definition": {"max-length": 2}},
            ],
        })
        .to_string(),
    )
    .unwrap();
    let snapshot = osa_hybrid_msg::observed::RabbitSnapshot {
        version: Some("4.3.6".into()),
        ..Default::default()
    };
    let started = Instant::now();
    let plan = plan_rabbit(&request, &snapshot).expect("a plan");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!plan.changes.is_empty());
}

#[test]
fn lookup_refuses_an_empty_group_and_control_characters_by_variable() {
    // An empty RabbitMQ group: no URL with no server, and never a loopback one.
    let (path, message) = lookup_error(&json!({
        "groups": {"rabbitmq_all": []},
        "vars": {"nova_oslomsg_rpc_password": "0123abcd"},
        "services": ["nova"],
    }));
    assert!(path.contains("nova_oslomsg_rpc_servers"), "{path}");
    assert!(
        message.contains("lists no server") && message.contains("host group"),
        "{message}"
    );
    // A management address with a control character.
    let (path, message) = lookup_error(&json!({
        "groups": {"rabbitmq_all": ["r1"]},
        "hostvars": {"r1": {"management_address": "10.0.0.1\u{7}"}},
        "vars": {"nova_oslomsg_rpc_password": "0123abcd"},
        "services": ["nova"],
    }));
    assert!(path.contains("servers"), "{path}");
    assert!(message.contains("which no host name has"), "{message}");
}

#[test]
fn a_kafka_timeout_under_a_second_is_named_before_librdkafka_refuses_it() {
    // librdkafka's socket.connection.setup.timeout.ms starts at 1000; 0.3 s used to fail creating the client
    // with a message about that property and no option of ours.
    let (path, message) = spec_error(&json!({"kafka": {"timeout": 0.3}}));
    assert_eq!(path, "kafka.timeout");
    assert!(message.contains("from 1 to 3600"), "{message}");
    Request::from_json(&json!({"kafka": {"timeout": 1}}).to_string()).unwrap();
}

#[test]
fn sasl_options_without_sasl_name_the_option_that_is_set() {
    let (path, message) = spec_error(&json!({"kafka": {"sasl_username": "admin"}}));
    assert_eq!(path, "kafka.sasl_username");
    assert!(message.contains("security_protocol is PLAINTEXT"), "{message}");
    let (path, _) = spec_error(&json!({"kafka": {"sasl_mechanism": "PLAIN"}}));
    assert_eq!(path, "kafka.sasl_mechanism");
}

#[test]
fn a_notification_topic_or_priority_listed_twice_is_named() {
    let (path, message) = spec_error(&json!({"notifications": {"topics": ["n", "m", "n"]}}));
    assert_eq!(path, "notifications.topics[2]");
    assert!(message.contains("also listed at notifications.topics[0]"), "{message}");
    let (path, _) = spec_error(&json!({"notifications": {"priorities": ["info", "info"]}}));
    assert_eq!(path, "notifications.priorities[1]");
}

#[test]
fn serde_messages_never_echo_a_value_in_full() {
    // A password given as a number must not come back in the message.
    let (path, message) = spec_error(&json!({"users": [{"name": "u", "password": 31_337_424_242_i64}]}));
    assert_eq!(path, "users[0].password");
    assert!(!message.contains("31337424242"), "{message}");
    let long = "v".repeat(100_000);
    let (_, message) = spec_error(&json!({"vhosts": [{"name": "v", "state": long}]}));
    assert!(
        message.len() < 300 && message.starts_with("unknown variant"),
        "{message}"
    );
    let (_, message) = spec_error(&json!({"vhosts": [{"name": "v", long.clone(): 1}]}));
    assert!(message.len() < 300 && message.starts_with("unknown field"), "{message}");
    let (_, message) = spec_error(&json!({"verify": long}));
    assert!(message.len() < 300, "{message}");
}

#[test]
fn an_empty_unknown_key_names_the_object_that_holds_it() {
    // Found by `cargo fuzz run request`: the path of an unknown key "" was empty.
    let (path, message) = spec_error_text(r#"{"": 1}"#);
    assert_eq!(path, "request");
    assert!(
        message.starts_with("unknown field ``, expected one of `rabbitmq`"),
        "{message}"
    );
    let (path, _) = lookup_error(&json!({"": 1}));
    assert_eq!(path, "request");
    let (path, _) = spec_error(&json!({"vhosts": [{"": 1}]}));
    assert_eq!(path, "vhosts[0].");
}

#[test]
fn the_url_builders_refuse_an_empty_server_list() {
    // Found by `cargo fuzz run url`: kafka_url built `kafka:///` from no servers, which reads as localhost.
    use osa_hybrid_msg::oslomsg::{RabbitUrl, kafka_url, rabbit_url};
    let err = kafka_url(None, &[], 9092, "nova_oslomsg_notify").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("vars.nova_oslomsg_notify_servers: lists no server"),
        "{err}"
    );
    let err = rabbit_url(&RabbitUrl {
        userid: "nova",
        password: "secret-pw",
        servers: &[],
        port: 5671,
        vhost: "nova",
        use_ssl: true,
        ssl_version: "TLSv1_2",
        ssl_ca_file: "",
        var_prefix: "nova_oslomsg_rpc",
    })
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("vars.nova_oslomsg_rpc_servers: lists no server"),
        "{err}"
    );
    assert!(!err.to_string().contains("secret-pw"));
}

#[test]
fn a_host_with_a_backslash_or_quote_is_not_a_host() {
    // Found by `cargo fuzz run url`: `0n\\` went into a transport URL as a host.
    use osa_hybrid_msg::oslomsg::url_host;
    for bad in ["0n\\\\", "a\"b", "h<1>", "x|y", "a`b", "{h}"] {
        let err = url_host("vars.oslomsg_rpc_servers", bad).unwrap_err();
        assert!(err.to_string().contains("which no host name has"), "{bad}: {err}");
    }
    assert_eq!(url_host("p", "rabbit-1.example.com").unwrap(), "rabbit-1.example.com");
}

#[test]
fn a_nul_in_a_request_that_is_only_a_string_names_the_request() {
    // Found by `cargo fuzz run request`: the path was empty.
    let (path, message) = spec_error_text(r#""r\u0000r""#);
    assert_eq!(path, "request");
    assert!(message.contains("NUL character"), "{message}");
    assert_eq!(lookup_error(&json!("r\u{0}r")).0, "request");
}
