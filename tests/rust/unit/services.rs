//! The `services:` shorthand: what it expands to (OSA-FACTS §4), de-duplication, conflicts and paths.

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::plan::plan_rabbit;
use osa_hybrid_msg::spec::Request;
use serde_json::{Value, json};

use super::snapshot;

fn request(v: &Value) -> Request {
    Request::from_json(&v.to_string()).expect("valid request")
}

fn spec_error(v: &Value) -> (String, String) {
    match Request::from_json(&v.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn cqv2() -> Value {
    json!({"name": "CQv2", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}, "state": "present"})
}

fn nova() -> Value {
    json!({
        "name": "nova",
        "rpc": {"transport": "rabbit", "userid": "nova", "password": "pw-nova",
                "vhost": [{"name": "/nova", "state": "absent"}, {"name": "nova", "state": "present"}],
                "policies": [cqv2()]},
        "notify": {"transport": "kafka", "topics": ["notifications"]},
    })
}

#[test]
fn expands_like_mq_setup_and_kafka_topics() {
    let r = request(&json!({"services": [nova()]}));
    let vhosts: Vec<(String, bool)> = r
        .vhosts()
        .iter()
        .map(|v| (v.name.clone(), v.state() == osa_hybrid_msg::spec::State::Present))
        .collect();
    assert_eq!(vhosts, [("/nova".to_owned(), false), ("nova".to_owned(), true)]);
    let user = &r.users()[0];
    assert_eq!(user.name, "nova");
    assert_eq!(user.purge_permissions, Some(false));
    let perms = user.permissions.as_ref().unwrap();
    assert_eq!(perms.len(), 1);
    assert_eq!((perms[0].vhost.as_str(), perms[0].configure.as_str()), ("nova", ".*"));
    let policies: Vec<(String, String)> = r.policies().iter().map(|p| (p.vhost.clone(), p.name.clone())).collect();
    assert_eq!(policies, [("nova".to_owned(), "CQv2".to_owned())]);
    let topics: Vec<String> = r.kafka_topics().into_iter().map(|(_, t)| t.name).collect();
    assert_eq!(
        topics,
        ["audit", "debug", "info", "warn", "error", "critical", "sample"].map(|p| format!("notifications.{p}"))
    );
    assert_eq!(r.vhost_path(1), "services[0].rpc.vhost[1]");
    assert_eq!(r.policy_path(0), "services[0].rpc.policies[0]");
}

#[test]
fn rpc_and_notify_on_the_same_vhost_and_user_are_declared_once() {
    let mut svc = nova();
    svc["notify"] = svc["rpc"].clone();
    let r = request(&json!({"services": [svc]}));
    assert_eq!(r.vhosts().len(), 2);
    assert_eq!(r.users().len(), 1);
    assert_eq!(r.policies().len(), 1);
    assert!(r.kafka_topics().is_empty());
}

#[test]
fn none_transport_and_configure_false_declare_nothing() {
    let mut svc = nova();
    svc["rpc"]["transport"] = json!("none");
    svc["notify"]["configure"] = json!(false);
    let r = request(&json!({"services": [svc]}));
    assert!(r.vhosts().is_empty() && r.users().is_empty() && r.kafka_topics().is_empty());
}

#[test]
fn lookup_keys_are_accepted_checked_and_unknown_keys_refused() {
    let mut svc = nova();
    svc["nova_oslomsg_rpc_userid"] = json!("nova");
    svc["rpc_transport_url"] = json!("rabbit://...");
    request(&json!({"services": [svc.clone()]}));
    svc["nova_oslomsg_rpc_password"] = json!("another");
    let (path, message) = spec_error(&json!({"services": [svc.clone()]}));
    assert_eq!(path, "services[0].nova_oslomsg_rpc_password");
    assert!(message.contains("differs from services[0].rpc.password") && !message.contains("another"));
    let mut svc = nova();
    svc["vhost"] = json!("nova");
    assert_eq!(spec_error(&json!({"services": [svc]})).0, "services[0].vhost");
}

#[test]
fn errors_name_the_service_path() {
    let mut svc = nova();
    svc["name"] = json!("neutron");
    svc["rpc"]["vhost"] = json!([{"name": "nova", "state": "maybe"}]);
    assert_eq!(
        spec_error(&json!({"services": [nova(), svc]})).0,
        "services[1].rpc.vhost[0].state"
    );
    let mut svc = nova();
    svc["rpc"]["transport"] = json!("kafka");
    assert_eq!(spec_error(&json!({"services": [svc]})).0, "services[0].rpc.transport");
    let mut svc = nova();
    svc["rpc"]["password"] = json!("has/slash");
    let (path, message) = spec_error(&json!({"services": [svc]}));
    assert_eq!(path, "services[0].rpc.password");
    assert!(!message.contains("has/slash"));
    let mut svc = nova();
    svc["rpc"]["policies"][0]["pattern"] = json!("(");
    assert_eq!(
        spec_error(&json!({"services": [svc]})).0,
        "services[0].rpc.policies[0].pattern"
    );
    let mut svc = nova();
    svc["rpc"]["colour"] = json!("blue");
    assert_eq!(spec_error(&json!({"services": [svc]})).0, "services[0].rpc.colour");
}

#[test]
fn conflicts_with_explicit_objects_name_both_paths() {
    let (path, message) = spec_error(&json!({"vhosts": [{"name": "nova"}], "services": [nova()]}));
    assert_eq!(path, "services[0].rpc.vhost[1]");
    assert!(message.contains("vhosts[0]"), "{message}");
    let (path, message) = spec_error(&json!({"notifications": {"topics": ["notifications"]}, "services": [nova()]}));
    assert_eq!(path, "services[0].notify.topics[0]");
    assert!(message.contains("notifications(notifications.audit)"), "{message}");
}

#[test]
fn two_services_disagreeing_on_a_shared_user_are_refused() {
    let mut neutron = nova();
    neutron["name"] = json!("neutron");
    neutron["rpc"]["vhost"] = json!("neutron");
    neutron["rpc"]["password"] = json!("zz-different");
    let (path, message) = spec_error(&json!({"services": [nova(), neutron]}));
    assert_eq!(path, "services[1].rpc.password");
    assert!(
        message.contains("services[0].rpc.userid") && !message.contains("zz-different"),
        "{message}"
    );
}

#[test]
fn kafka_topics_shared_by_services_are_declared_once() {
    let mut neutron = nova();
    neutron["name"] = json!("neutron");
    neutron["rpc"]["userid"] = json!("neutron");
    neutron["rpc"]["vhost"] = json!([{"name": "/neutron", "state": "absent"}, {"name": "neutron"}]);
    let r = request(&json!({"services": [nova(), neutron]}));
    assert_eq!(r.kafka_topics().len(), 7);
    assert_eq!(r.users().len(), 2);
    assert_eq!(r.vhosts().len(), 4);
}

#[test]
fn plan_errors_for_expanded_policies_name_the_service() {
    let mut svc = nova();
    svc["rpc"]["policies"] = json!([{"name": "q", "pattern": ".*", "apply_to": "quorum_queues",
                                      "definition": {"max-length": 10}}]);
    let r = request(&json!({"services": [svc]}));
    match plan_rabbit(&r, &snapshot("3.10.8")) {
        Err(Error::Plan { path, .. }) => assert_eq!(path, "services[0].rpc.policies[0].apply_to"),
        other => panic!("expected a plan error, got {other:?}"),
    }
}
