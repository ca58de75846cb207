//! Planner and spec tests for Kafka SCRAM users and ACLs, on hand-made snapshots (the real broker is in
//! tests/rust/integration/kafka_security.rs).

use std::collections::BTreeMap;

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::observed::KafkaSnapshot;
use osa_hybrid_msg::plan::{Action, Kind, Op, plan_kafka_security};
use osa_hybrid_msg::spec::{
    AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, Request, ScramMechanism,
};
use serde_json::{Value, json};

const SASL: &str = "SASL_SSL";

fn request(v: &Value) -> Request {
    let mut v = v.clone();
    v["kafka"] = json!({"security_protocol": SASL, "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "admin", "sasl_password": "x"});
    Request::from_json(&v.to_string()).expect("valid request")
}

fn spec_error(v: &Value) -> (String, String) {
    match Request::from_json(&v.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn with_user(name: &str, iterations: i32, login: Option<bool>) -> KafkaSnapshot {
    let mut s = KafkaSnapshot::default();
    s.scram
        .insert(name.into(), BTreeMap::from([(ScramMechanism::Sha512, iterations)]));
    if let Some(ok) = login {
        s.logins.insert(name.into(), ok);
    }
    s
}

fn binding(principal: &str, topic: &str, operation: AclOperation) -> AclBinding {
    AclBinding {
        principal: principal.into(),
        resource_type: AclResourceType::Topic,
        resource_name: topic.into(),
        pattern_type: AclPatternType::Literal,
        operation,
        permission: AclPermission::Allow,
        host: "*".into(),
    }
}

fn summary(r: &Request, s: &KafkaSnapshot) -> Vec<(Kind, Action, String)> {
    plan_kafka_security(r, s)
        .unwrap()
        .changes
        .into_iter()
        .map(|c| (c.kind, c.action, c.name))
        .collect()
}

#[test]
fn scram_user_is_created_then_left_alone_while_its_password_logs_in() {
    let r = request(&json!({"kafka_users": [{"name": "nova", "password": "s3cr/t"}]}));
    let created = plan_kafka_security(&r, &KafkaSnapshot::default()).unwrap();
    assert_eq!(created.changes.len(), 1);
    assert_eq!(created.changes[0].action, Action::Create);
    assert!(matches!(
        &created.changes[0].op,
        Op::UpsertScramCredential {
            mechanism: ScramMechanism::Sha512,
            iterations: 4096,
            ..
        }
    ));
    assert!(
        !format!("{:?}", created.changes).contains("s3cr/t"),
        "the password reached the plan"
    );
    assert!(summary(&r, &with_user("nova", 4096, Some(true))).is_empty());
}

#[test]
fn scram_refused_login_rewrites_the_password_and_on_create_never_tests_it() {
    let always = request(&json!({"kafka_users": [{"name": "nova", "password": "new"}]}));
    let p = plan_kafka_security(&always, &with_user("nova", 4096, Some(false))).unwrap();
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(p.changes[0].fields["password"].after, "<hidden, changed>");
    let on_create =
        request(&json!({"kafka_users": [{"name": "nova", "password": "new", "update_password": "on_create"}]}));
    assert!(!on_create.kafka_users()[0].needs_login_test());
    assert!(summary(&on_create, &with_user("nova", 4096, None)).is_empty());
}

#[test]
fn scram_iteration_change_and_missing_mechanism_are_updates_and_absent_deletes_each_credential() {
    let r = request(&json!({"kafka_users": [{"name": "nova", "password": "p", "iterations": 8192}]}));
    let p = plan_kafka_security(&r, &with_user("nova", 4096, Some(true))).unwrap();
    assert_eq!(p.changes[0].fields["iterations"].before, 4096);
    let mut both = with_user("nova", 4096, None);
    both.scram.get_mut("nova").unwrap().insert(ScramMechanism::Sha256, 4096);
    let sha256 = request(
        &json!({"kafka_users": [{"name": "nova", "password": "p", "mechanism": "SCRAM-SHA-256", "iterations": 4096, "update_password": "on_create"}]}),
    );
    assert!(summary(&sha256, &both).is_empty());
    let absent = request(&json!({"kafka_users": [{"name": "nova", "state": "absent"}]}));
    assert_eq!(
        summary(&absent, &both).iter().map(|(_, a, _)| *a).collect::<Vec<_>>(),
        [Action::Delete, Action::Delete]
    );
    assert!(summary(&absent, &KafkaSnapshot::default()).is_empty());
}

#[test]
fn acls_are_one_binding_per_operation_and_purge_touches_only_declared_principals() {
    let r = request(&json!({"kafka_acls": [
        {"principal": "User:nova", "resource_type": "topic", "resource_name": "n.info", "operations": ["write", "describe"]}
    ], "purge_kafka_acls": true}));
    let mut s = KafkaSnapshot::default();
    s.acls.insert(binding("User:nova", "n.info", AclOperation::Write));
    s.acls.insert(binding("User:nova", "other", AclOperation::Read));
    s.acls.insert(binding("User:glance", "other", AclOperation::Read));
    let p = plan_kafka_security(&r, &s).unwrap();
    let ops: Vec<&Op> = p.changes.iter().map(|c| &c.op).collect();
    assert_eq!(
        ops,
        [
            &Op::CreateAcl {
                acl: binding("User:nova", "n.info", AclOperation::Describe)
            },
            &Op::DeleteAcl {
                acl: binding("User:nova", "other", AclOperation::Read)
            },
        ]
    );
    let mut no_purge = r;
    no_purge.purge_kafka_acls = Some(false);
    assert_eq!(plan_kafka_security(&no_purge, &s).unwrap().changes.len(), 1);
}

#[test]
fn an_acl_declared_present_and_absent_is_refused() {
    let r = request(&json!({"kafka_acls": [
        {"principal": "User:nova", "resource_type": "cluster", "operations": ["idempotent_write"]},
        {"principal": "User:nova", "resource_type": "cluster", "operations": ["idempotent_write"], "state": "absent"}
    ]}));
    match plan_kafka_security(&r, &KafkaSnapshot::default()) {
        Err(Error::Plan { path, message }) => {
            assert_eq!(path, "kafka_acls[0]");
            assert!(message.contains("kafka_acls[1]"), "{message}");
        }
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn bad_security_declarations_name_the_field_and_the_fix() {
    let cases = [
        (
            json!({"kafka_acls": [{"principal": "nova", "resource_type": "topic", "resource_name": "t", "operations": ["read"]}]}),
            "kafka_acls[0].principal",
            "User:nova",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:*", "resource_type": "topic", "resource_name": "t", "operations": ["read"]}]}),
            "kafka_acls[0].principal",
            "name each user",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:n", "resource_type": "topic", "operations": ["read"]}]}),
            "kafka_acls[0].resource_name",
            "required",
        ),
        (
            json!({"kafka_acls": [{"principal": "User:n", "resource_type": "topic", "resource_name": "*", "operations": ["read"]}]}),
            "kafka_acls[0].resource_name",
            "wildcard",
        ),
        (
            json!({"kafka_users": [{"name": "n", "password": "p", "iterations": 100}]}),
            "kafka_users[0].iterations",
            "4096",
        ),
        (
            json!({"kafka_users": [{"name": "n"}]}),
            "kafka_users[0].password",
            "needs a password",
        ),
        (
            json!({"kafka_users": [{"name": "n", "password": "p"}]}),
            "kafka_users[0].update_password",
            "on_create",
        ),
    ];
    for (body, path, fix) in cases {
        let (p, m) = spec_error(&body);
        assert_eq!(p, path, "{body}");
        assert!(m.contains(fix), "{path}: {m}");
    }
}
