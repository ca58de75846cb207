//! The `services:` shorthand on a SASL Kafka: each service's SCRAM user and exactly the ACLs it needs
//! (Write on what it produces; Read on what it consumes and on its consumer group), and nothing without SASL.

use std::collections::BTreeSet;

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::observed::KafkaSnapshot;
use osa_hybrid_msg::plan::{Action, Kind, plan_kafka_security};
use osa_hybrid_msg::spec::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, Request, ScramMechanism, UpdatePassword,
};
use serde_json::{Value, json};

fn sasl(mechanism: &str) -> Value {
    json!({"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism, "sasl_username": "admin",
           "sasl_password": "x", "bootstrap_servers": ["k1:9093"]})
}

fn request(v: &Value) -> Request {
    Request::from_json(&v.to_string()).expect("valid request")
}

fn spec_error(v: &Value) -> (String, String) {
    match Request::from_json(&v.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn producer(name: &str) -> Value {
    json!({"name": name, "notify": {"transport": "kafka", "password": format!("pw/{name}"),
                                     "priorities": ["info", "error"]}})
}

fn ceilometer() -> Value {
    json!({"name": "ceilometer", "notify": {"transport": "kafka", "password": "pw-ceilo",
           "priorities": ["info", "error"], "consumes": ["notifications"], "consumer_group": "ceilometer"}})
}

fn bindings(r: &Request) -> BTreeSet<(String, AclResourceType, String, AclOperation)> {
    r.kafka_acls()
        .iter()
        .flat_map(osa_hybrid_msg::spec::AclSpec::bindings)
        .map(|b| {
            assert_eq!(b.pattern_type, AclPatternType::Literal);
            assert_eq!(b.permission, AclPermission::Allow);
            assert_eq!(b.host, "*");
            (b.principal, b.resource_type, b.resource_name, b.operation)
        })
        .collect()
}

fn topic(p: &str, name: &str, op: AclOperation) -> (String, AclResourceType, String, AclOperation) {
    (p.to_owned(), AclResourceType::Topic, name.to_owned(), op)
}

#[test]
fn a_producer_gets_a_scram_user_and_write_on_its_topics_only() {
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [producer("nova")]}));
    let users = r.kafka_users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].name, "nova");
    assert_eq!(users[0].password.as_deref(), Some("pw/nova"));
    assert_eq!(users[0].mechanism(), ScramMechanism::Sha512);
    assert_eq!(users[0].update_password(), UpdatePassword::Always);
    assert_eq!(
        bindings(&r),
        BTreeSet::from([
            topic("User:nova", "notifications.info", AclOperation::Write),
            topic("User:nova", "notifications.error", AclOperation::Write),
        ])
    );
    assert_eq!(r.kafka_acl_path(0), "services[0].notify.topics");
}

#[test]
fn a_consumer_gets_read_on_the_topics_it_consumes_and_on_its_group() {
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [producer("nova"), ceilometer()]}));
    let ceilo: BTreeSet<_> = bindings(&r).into_iter().filter(|b| b.0 == "User:ceilometer").collect();
    assert_eq!(
        ceilo,
        BTreeSet::from([
            topic("User:ceilometer", "notifications.info", AclOperation::Write),
            topic("User:ceilometer", "notifications.error", AclOperation::Write),
            topic("User:ceilometer", "notifications.info", AclOperation::Read),
            topic("User:ceilometer", "notifications.error", AclOperation::Read),
            (
                "User:ceilometer".to_owned(),
                AclResourceType::Group,
                "ceilometer".to_owned(),
                AclOperation::Read
            ),
        ])
    );
    // The consumed topics are the produced ones: declared once.
    assert_eq!(r.kafka_topics().len(), 2);
}

#[test]
fn a_consumer_without_a_group_gets_oslo_messagings_default_group() {
    let mut c = ceilometer();
    c["notify"].as_object_mut().unwrap().remove("consumer_group");
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [c]}));
    assert!(
        bindings(&r)
            .iter()
            .any(|b| b.1 == AclResourceType::Group && b.2 == "oslo_messaging_consumer")
    );
}

#[test]
fn consumed_topics_nobody_produces_are_created_too() {
    let designate = json!({"name": "designate", "notify": {"transport": "kafka", "password": "pw-d",
        "priorities": ["info"], "consumes": ["notifications_designate"]}});
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [designate]}));
    let topics: Vec<String> = r.kafka_topics().into_iter().map(|(_, t)| t.name).collect();
    assert_eq!(topics, ["notifications.info", "notifications_designate.info"]);
}

#[test]
fn no_wildcard_prefix_cluster_or_describe_all_grant_is_ever_made() {
    let all: Vec<Value> = ["nova", "neutron", "cinder"].into_iter().map(producer).collect();
    let mut services = all;
    services.push(ceilometer());
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": services}));
    for a in r.kafka_acls() {
        for b in a.bindings() {
            assert!(b.resource_name != "*" && !b.principal.ends_with('*'), "{b}");
            assert_ne!(b.resource_type, AclResourceType::Cluster, "{b}");
            assert!(matches!(b.operation, AclOperation::Read | AclOperation::Write), "{b}");
        }
    }
}

#[test]
fn without_sasl_only_topics_are_declared() {
    for kafka in [
        json!(null),
        json!({"security_protocol": "SSL", "bootstrap_servers": ["k1:9093"]}),
    ] {
        let mut v = json!({"services": [producer("nova"), ceilometer()]});
        if !kafka.is_null() {
            v["kafka"] = kafka;
        }
        let r = request(&v);
        assert!(r.kafka_users().is_empty() && r.kafka_acls().is_empty());
        assert_eq!(r.kafka_topics().len(), 2);
    }
}

#[test]
fn the_service_mechanism_wins_over_the_connections() {
    let mut nova = producer("nova");
    nova["notify"]["sasl_mechanism"] = json!("SCRAM-SHA-256");
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [nova, producer("glance")]}));
    let mechanisms: Vec<_> = r
        .kafka_users()
        .iter()
        .map(|u| (u.name.clone(), u.mechanism()))
        .collect();
    assert_eq!(
        mechanisms,
        [
            ("nova".to_owned(), ScramMechanism::Sha256),
            ("glance".to_owned(), ScramMechanism::Sha512)
        ]
    );
}

#[test]
fn bad_service_kafka_declarations_name_the_field() {
    let cases = [
        (
            json!({"name": "nova", "notify": {"transport": "kafka"}}),
            "services[0].notify.password",
            "nova_oslomsg_notify_password",
        ),
        (
            json!({"name": "nova", "notify": {"transport": "kafka", "password": "p", "sasl_mechanism": "PLAIN"}}),
            "services[0].notify.sasl_mechanism",
            "SCRAM",
        ),
        (
            json!({"name": "nova", "notify": {"transport": "kafka", "password": "p", "consumer_group": "g"}}),
            "services[0].notify.consumer_group",
            "consumes lists no topic",
        ),
        (
            json!({"name": "nova", "notify": {"transport": "kafka", "password": "p", "consumes": ["a", "a"]}}),
            "services[0].notify.consumes[1]",
            "list each topic once",
        ),
        (
            json!({"name": "c", "notify": {"transport": "kafka", "password": "p", "consumes": ["n"], "consumer_group": "*"}}),
            "services[0].notify.consumer_group",
            "wildcard",
        ),
        (
            json!({"name": "nova", "notify": {"transport": "kafka", "password": "p", "userid": "a,b"}}),
            "services[0].notify.userid",
            "','",
        ),
    ];
    for (svc, path, words) in cases {
        let (p, m) = spec_error(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [svc]}));
        assert_eq!(p, path, "{m}");
        assert!(m.contains(words), "{path}: {m}");
        assert!(!m.contains("pw"), "{m}");
    }
    // A PLAIN connection with no service mechanism: the service must name a SCRAM one.
    let (p, m) = spec_error(&json!({"kafka": sasl("PLAIN"), "services": [producer("nova")]}));
    assert_eq!(p, "services[0].notify.sasl_mechanism");
    assert!(m.contains("JAAS"), "{m}");
}

#[test]
fn one_kafka_user_for_two_services_needs_one_password_and_a_clash_with_kafka_users_is_refused() {
    let mut nova = producer("nova");
    let mut neutron = producer("neutron");
    nova["notify"]["userid"] = json!("shared");
    neutron["notify"]["userid"] = json!("shared");
    neutron["notify"]["password"] = nova["notify"]["password"].clone();
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [nova.clone(), neutron.clone()]}));
    assert_eq!(r.kafka_users().len(), 1);
    neutron["notify"]["password"] = json!("zz-secret");
    let (path, msg) = spec_error(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [nova.clone(), neutron]}));
    assert_eq!(path, "services[1].notify.password");
    assert!(
        msg.contains("services[0].notify.userid") && !msg.contains("zz-secret"),
        "{msg}"
    );
    let (path, msg) = spec_error(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [nova],
        "kafka_users": [{"name": "shared", "password": "x"}]}));
    assert_eq!(path, "services[0].notify.userid");
    assert!(msg.contains("kafka_users[0]"), "{msg}");
}

#[test]
fn the_plan_creates_the_user_and_acls_then_nothing_once_they_exist() {
    let r = request(&json!({"kafka": sasl("SCRAM-SHA-512"), "services": [producer("nova"), ceilometer()]}));
    let empty = KafkaSnapshot::default();
    let plan = plan_kafka_security(&r, &empty).unwrap();
    let users = plan.changes.iter().filter(|c| c.kind == Kind::KafkaUser).count();
    let acls = plan.changes.iter().filter(|c| c.kind == Kind::KafkaAcl).count();
    assert_eq!((users, acls), (2, 2 + 5));
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    let text = serde_json::to_string(&plan.changes).unwrap();
    assert!(!text.contains("pw/nova") && !text.contains("pw-ceilo"), "{text}");

    let mut have = KafkaSnapshot::default();
    for u in r.kafka_users() {
        have.scram.insert(u.name.clone(), [(u.mechanism(), 4096)].into());
        have.logins.insert(u.name.clone(), true);
    }
    have.acls = r
        .kafka_acls()
        .iter()
        .flat_map(osa_hybrid_msg::spec::AclSpec::bindings)
        .collect();
    assert!(plan_kafka_security(&r, &have).unwrap().changes.is_empty());

    // An extra binding of a service principal goes only with purge_kafka_acls.
    have.acls.insert(AclBinding {
        principal: "User:nova".into(),
        resource_type: AclResourceType::Group,
        resource_name: "x".into(),
        pattern_type: AclPatternType::Literal,
        operation: AclOperation::Read,
        permission: AclPermission::Allow,
        host: "*".into(),
    });
    assert!(plan_kafka_security(&r, &have).unwrap().changes.is_empty());
    let purging = request(
        &json!({"kafka": sasl("SCRAM-SHA-512"), "services": [producer("nova"), ceilometer()],
        "purge_kafka_acls": true}),
    );
    let purge = plan_kafka_security(&purging, &have).unwrap();
    assert_eq!(
        purge.changes.iter().map(|c| (c.kind, c.action)).collect::<Vec<_>>(),
        [(Kind::KafkaAcl, Action::Delete)]
    );
}
