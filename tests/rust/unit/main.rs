//! Planner table tests, spec validation and applier tests on the in-memory fakes. No broker needed.

mod closing;
mod hostile;
mod kafka;
mod kafka_security;
mod no_log;
mod oslomsg;
mod policy_lint;
mod readiness;
mod run;
mod services;
mod services_kafka;
mod verify;

use osa_hybrid_msg::backend::RabbitAdmin;
use osa_hybrid_msg::backend::fake::{FakeKafka, FakeRabbit};
use osa_hybrid_msg::error::{Broker, Error};
use osa_hybrid_msg::observed::{ObservedPermission, ObservedPolicy, ObservedUser, ObservedVhost, RabbitSnapshot};
use osa_hybrid_msg::password;
use osa_hybrid_msg::plan::{Action, Kind, Op, PasswordWrite, Plan, Status, plan_rabbit as plan};
use osa_hybrid_msg::spec::{HashingAlgorithm, Request};
use serde_json::{Value, json};

pub(crate) fn request(value: &Value) -> Request {
    Request::from_json(&value.to_string()).expect("valid request")
}

fn spec_error(value: &Value) -> (String, String) {
    match Request::from_json(&value.to_string()) {
        Err(Error::Spec { path, message }) => (path, message),
        other => panic!("expected a spec error, got {other:?}"),
    }
}

fn plan_error(value: &Value, snap: &RabbitSnapshot) -> (String, String) {
    match plan(&request(value), snap) {
        Err(Error::Plan { path, message } | Error::Refused { path, message, .. }) => (path, message),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

pub(crate) fn snapshot(version: &str) -> RabbitSnapshot {
    let mut s = RabbitSnapshot {
        version: Some(version.into()),
        ..Default::default()
    };
    s.vhosts.insert(
        "/".into(),
        ObservedVhost {
            description: "Default virtual host".into(),
            ..Default::default()
        },
    );
    s
}

fn user(pw: &str, tags: &[&str]) -> ObservedUser {
    ObservedUser {
        password_hash: password::hash_with_salt(pw, HashingAlgorithm::Sha256, &[1, 2, 3, 4]),
        hashing_algorithm: Some("rabbit_password_hashing_sha256".into()),
        tags: tags.iter().map(ToString::to_string).collect(),
    }
}

fn perm(c: &str, w: &str, r: &str) -> ObservedPermission {
    ObservedPermission {
        configure: c.into(),
        write: w.into(),
        read: r.into(),
    }
}

fn summary(p: &Plan) -> Vec<String> {
    p.changes.iter().map(ToString::to_string).collect()
}

fn nova_topology() -> Value {
    json!({
        "vhosts": [{"name": "/nova", "state": "absent"}, {"name": "nova", "state": "present"}],
        "users": [{"name": "nova", "password": "secret-nova",
                   "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "CQv2", "vhost": "nova", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}}]
    })
}

#[test]
fn creates_in_dependency_order_vhost_user_permission_policy() {
    let p = plan(&request(&nova_topology()), &snapshot("3.10.8")).unwrap();
    assert_eq!(
        summary(&p),
        [
            "create vhost 'nova'",
            "create user 'nova'",
            "create permissions of user 'nova' on vhost 'nova'",
            "create policy 'CQv2' on vhost 'nova'"
        ]
    );
    assert!(
        p.changes
            .iter()
            .all(|c| c.status == Status::Planned && c.backend == Broker::RabbitMq)
    );
}

#[test]
fn matching_state_plans_nothing() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("nova".into(), ObservedVhost::default());
    s.users.insert("nova".into(), user("secret-nova", &[]));
    s.permissions
        .insert(("nova".into(), "nova".into()), perm(".*", ".*", ".*"));
    s.policies.insert(
        ("nova".into(), "CQv2".into()),
        ObservedPolicy {
            pattern: ".*".into(),
            apply_to: "all".into(),
            priority: 0,
            definition: json!({"queue-version": 2}).as_object().unwrap().clone(),
        },
    );
    let p = plan(&request(&nova_topology()), &s).unwrap();
    assert!(p.is_empty(), "unexpected changes: {:?}", summary(&p));
}

#[test]
fn unset_vhost_attributes_are_left_alone() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert(
        "keep".into(),
        ObservedVhost {
            description: "set by hand".into(),
            tags: vec!["x".into()],
            default_queue_type: Some("quorum".into()),
        },
    );
    let p = plan(&request(&json!({"vhosts": [{"name": "keep"}]})), &s).unwrap();
    assert!(p.is_empty());
}

#[test]
fn vhost_update_resends_metadata_it_does_not_change() {
    let mut s = snapshot("3.13.0");
    s.vhosts.insert(
        "v".into(),
        ObservedVhost {
            description: "old".into(),
            tags: vec!["t".into()],
            default_queue_type: Some("quorum".into()),
        },
    );
    let p = plan(&request(&json!({"vhosts": [{"name": "v", "description": "new"}]})), &s).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].fields.keys().collect::<Vec<_>>(), ["description"]);
    // A vhost PUT replaces metadata, so the op carries the tags and queue type it keeps.
    assert_eq!(
        p.changes[0].op,
        Op::PutVhost {
            name: "v".into(),
            description: "new".into(),
            tags: vec!["t".into()],
            default_queue_type: Some("quorum".into())
        }
    );
}

#[test]
fn default_queue_type_change_on_3_10_is_a_warning_not_a_change() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert(
        "v".into(),
        ObservedVhost {
            default_queue_type: Some("classic".into()),
            ..Default::default()
        },
    );
    let p = plan(
        &request(&json!({"vhosts": [{"name": "v", "default_queue_type": "quorum"}]})),
        &s,
    )
    .unwrap();
    assert!(p.is_empty());
    assert!(
        p.warnings[0].contains("vhosts[0].default_queue_type"),
        "{:?}",
        p.warnings
    );
    s.version = Some("4.1.0".into());
    let p = plan(
        &request(&json!({"vhosts": [{"name": "v", "default_queue_type": "quorum"}]})),
        &s,
    )
    .unwrap();
    assert_eq!(summary(&p), ["update vhost 'v'"]);
}

#[test]
fn tags_only_change_resends_the_stored_hash() {
    let mut s = snapshot("3.10.8");
    let stored = user("pw", &["monitoring"]);
    s.users.insert("u".into(), stored.clone());
    let p = plan(
        &request(&json!({"users": [{"name": "u", "password": "pw", "tags": ["management"]}]})),
        &s,
    )
    .unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].fields.keys().collect::<Vec<_>>(), ["tags"]);
    match &p.changes[0].op {
        Op::PutUser {
            password: PasswordWrite::Keep { hash, algorithm },
            ..
        } => {
            assert_eq!(hash.expose(), stored.password_hash);
            assert_eq!(algorithm.as_deref(), Some("rabbit_password_hashing_sha256"));
        }
        other => panic!("expected Keep, got {other:?}"),
    }
}

#[test]
fn unset_tags_and_password_leave_the_user_alone() {
    let mut s = snapshot("3.10.8");
    s.users.insert("u".into(), user("pw", &["monitoring"]));
    let p = plan(&request(&json!({"users": [{"name": "u"}]})), &s).unwrap();
    assert!(p.is_empty());
}

#[test]
fn password_change_is_detected_by_local_hash_compare() {
    let mut s = snapshot("3.10.8");
    s.users.insert("u".into(), user("old", &[]));
    let same = plan(&request(&json!({"users": [{"name": "u", "password": "old"}]})), &s).unwrap();
    assert!(same.is_empty());
    let p = plan(&request(&json!({"users": [{"name": "u", "password": "new"}]})), &s).unwrap();
    assert_eq!(p.changes[0].action, Action::Update);
    assert_eq!(p.changes[0].fields["password"].after, json!("<hidden, changed>"));
    assert!(matches!(
        &p.changes[0].op,
        Op::PutUser {
            password: PasswordWrite::Plain { .. },
            ..
        }
    ));
}

#[test]
fn sha512_and_md5_hashes_are_compared_too() {
    let mut s = snapshot("3.10.8");
    s.users.insert(
        "u512".into(),
        ObservedUser {
            password_hash: password::hash_with_salt("pw", HashingAlgorithm::Sha512, &[9, 9, 9, 9]),
            hashing_algorithm: Some("rabbit_password_hashing_sha512".into()),
            tags: vec![],
        },
    );
    s.users.insert(
        "umd5".into(),
        ObservedUser {
            password_hash: password::hash_with_salt("pw", HashingAlgorithm::Md5, &[7, 7, 7, 7]),
            // Old exports omit the algorithm; the digest length tells.
            hashing_algorithm: None,
            tags: vec![],
        },
    );
    let p = plan(
        &request(&json!({"users": [{"name": "u512", "password": "pw"}, {"name": "umd5", "password": "pw"}]})),
        &s,
    )
    .unwrap();
    assert!(p.is_empty(), "{:?}", summary(&p));
    let p = plan(&request(&json!({"users": [{"name": "u512", "password": "other"}]})), &s).unwrap();
    assert!(matches!(
        &p.changes[0].op,
        Op::PutUser {
            password: PasswordWrite::Plain {
                algorithm: HashingAlgorithm::Sha512,
                ..
            },
            ..
        }
    ));
}

#[test]
fn update_password_on_create_ignores_a_mismatch() {
    let mut s = snapshot("3.10.8");
    s.users.insert("u".into(), user("old", &[]));
    let p = plan(
        &request(&json!({"users": [{"name": "u", "password": "new", "update_password": "on_create"}]})),
        &s,
    )
    .unwrap();
    assert!(p.is_empty());
}

#[test]
fn unreadable_stored_hash_counts_as_a_change() {
    let mut s = snapshot("3.10.8");
    s.users.insert("ldap".into(), ObservedUser::default());
    let p = plan(&request(&json!({"users": [{"name": "ldap", "password": "pw"}]})), &s).unwrap();
    assert_eq!(summary(&p), ["update user 'ldap'"]);
}

#[test]
fn deleting_what_is_absent_is_not_a_change() {
    let p = plan(
        &request(&json!({
            "vhosts": [{"name": "gone", "state": "absent"}],
            "users": [{"name": "gone", "state": "absent"}],
            "policies": [{"name": "gone", "vhost": "/", "state": "absent"}]
        })),
        &snapshot("3.10.8"),
    )
    .unwrap();
    assert!(p.is_empty());
}

#[test]
fn deletes_run_children_first_and_a_deleted_vhost_takes_its_grants_along() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("old".into(), ObservedVhost::default());
    s.users.insert("u".into(), user("pw", &[]));
    s.permissions.insert(("u".into(), "old".into()), perm(".*", ".*", ".*"));
    s.policies.insert(
        ("old".into(), "p".into()),
        ObservedPolicy {
            pattern: ".*".into(),
            apply_to: "all".into(),
            priority: 0,
            definition: serde_json::Map::new(),
        },
    );
    s.policies.insert(
        ("/".into(), "q".into()),
        ObservedPolicy {
            pattern: ".*".into(),
            apply_to: "all".into(),
            priority: 0,
            definition: serde_json::Map::new(),
        },
    );
    let p = plan(
        &request(&json!({
            "vhosts": [{"name": "old", "state": "absent"}],
            "users": [{"name": "u", "permissions": []}],
            "policies": [{"name": "p", "vhost": "old", "state": "absent"}, {"name": "q", "vhost": "/", "state": "absent"}]
        })),
        &s,
    )
    .unwrap();
    assert_eq!(summary(&p), ["delete policy 'q' on vhost '/'", "delete vhost 'old'"]);
}

#[test]
fn purge_permissions_removes_unlisted_vhosts_unless_disabled() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("a".into(), ObservedVhost::default());
    s.vhosts.insert("b".into(), ObservedVhost::default());
    s.users.insert("u".into(), user("pw", &[]));
    s.permissions.insert(("u".into(), "a".into()), perm(".*", ".*", ".*"));
    s.permissions.insert(("u".into(), "b".into()), perm(".*", ".*", ".*"));
    let only_a = json!({"users": [{"name": "u", "permissions": [{"vhost": "a", "configure": ".*", "write": ".*", "read": ".*"}]}]});
    assert_eq!(
        summary(&plan(&request(&only_a), &s).unwrap()),
        ["delete permissions of user 'u' on vhost 'b'"]
    );
    let mut keep = only_a.clone();
    keep["users"][0]["purge_permissions"] = json!(false);
    assert!(plan(&request(&keep), &s).unwrap().is_empty());
}

#[test]
fn permission_change_lists_only_changed_regexes() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("a".into(), ObservedVhost::default());
    s.users.insert("u".into(), user("pw", &[]));
    s.permissions.insert(("u".into(), "a".into()), perm(".*", ".*", ".*"));
    let p = plan(
        &request(&json!({"users": [{"name": "u", "permissions": [{"vhost": "a", "configure": "^$", "write": ".*", "read": ".*"}]}]})),
        &s,
    )
    .unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(p.changes[0].kind, Kind::Permission);
    assert_eq!(p.changes[0].fields.keys().collect::<Vec<_>>(), ["configure"]);
}

#[test]
fn topic_permissions_clear_first_only_when_an_exchange_goes_away() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("a".into(), ObservedVhost::default());
    s.users.insert("u".into(), user("pw", &[]));
    s.topic_permissions
        .entry(("u".into(), "a".into()))
        .or_default()
        .insert("amq.topic".into(), (".*".into(), ".*".into()));
    let add = json!({"users": [{"name": "u", "topic_permissions": [
        {"vhost": "a", "exchange": "amq.topic", "write": ".*", "read": ".*"},
        {"vhost": "a", "exchange": "logs", "write": "^x", "read": ".*"}]}]});
    assert!(matches!(
        plan(&request(&add), &s).unwrap().changes[0].op,
        Op::PutTopicPermissions { clear_first: false, .. }
    ));
    let replace = json!({"users": [{"name": "u", "topic_permissions": [{"vhost": "a", "exchange": "logs", "write": "^x", "read": ".*"}]}]});
    assert!(matches!(
        plan(&request(&replace), &s).unwrap().changes[0].op,
        Op::PutTopicPermissions { clear_first: true, .. }
    ));
}

#[test]
fn policy_definitions_compare_as_maps() {
    let mut s = snapshot("3.10.8");
    s.policies.insert(
        ("/".into(), "p".into()),
        ObservedPolicy {
            pattern: "^q".into(),
            apply_to: "queues".into(),
            priority: 5,
            definition: json!({"max-length": 10, "overflow": "reject-publish"})
                .as_object()
                .unwrap()
                .clone(),
        },
    );
    let same = json!({"policies": [{"name": "p", "vhost": "/", "pattern": "^q", "apply_to": "queues", "priority": 5,
                                   "definition": {"overflow": "reject-publish", "max-length": 10.0}}]});
    assert!(plan(&request(&same), &s).unwrap().is_empty());
    let changed = json!({"policies": [{"name": "p", "vhost": "/", "pattern": "^q", "apply_to": "queues", "priority": 6,
                                      "definition": {"overflow": "reject-publish", "max-length": 10}}]});
    let p = plan(&request(&changed), &s).unwrap();
    assert_eq!(p.changes[0].fields.keys().collect::<Vec<_>>(), ["priority"]);
}

#[test]
fn queue_type_policy_targets_need_3_12() {
    let req = json!({"policies": [{"name": "p", "vhost": "/", "pattern": ".*", "apply_to": "quorum_queues", "definition": {"delivery-limit": 5}}]});
    let (path, message) = plan_error(&req, &snapshot("3.10.8"));
    assert_eq!(path, "policies[0].apply_to");
    assert!(message.contains("3.12"), "{message}");
    assert_eq!(plan(&request(&req), &snapshot("3.13.7")).unwrap().changes.len(), 1);
}

#[test]
fn ha_keys_are_refused_on_rabbitmq_4() {
    let req = json!({"policies": [{"name": "ha", "vhost": "/", "pattern": ".*", "definition": {"ha-mode": "all"}}]});
    let (path, _) = plan_error(&req, &snapshot("4.1.2"));
    assert_eq!(path, "policies[0].definition.ha-mode");
}

#[test]
fn grants_on_unknown_or_absent_vhosts_are_plan_errors() {
    let s = snapshot("3.10.8");
    let (path, message) = plan_error(
        &json!({"users": [{"name": "u", "permissions": [{"vhost": "nope", "configure": ".*", "write": ".*", "read": ".*"}]}]}),
        &s,
    );
    assert_eq!(path, "users[0].permissions[0].vhost");
    assert!(message.contains("'nope' does not exist"));
    let (path, message) = plan_error(
        &json!({"vhosts": [{"name": "x", "state": "absent"}],
                "policies": [{"name": "p", "vhost": "x", "pattern": ".*", "definition": {"a": 1}}]}),
        &s,
    );
    assert_eq!(path, "policies[0].vhost");
    assert!(message.contains("declared absent at vhosts[0]"));
}

#[test]
fn the_default_vhost_is_never_deleted() {
    let (path, _) = plan_error(
        &json!({"vhosts": [{"name": "/", "state": "absent"}]}),
        &snapshot("3.10.8"),
    );
    assert_eq!(path, "vhosts[0].state");
}

#[test]
fn spec_errors_name_the_field_path() {
    let cases = [
        (
            json!({"users": [{"name": "a"}, {"name": "b"}, {"name": "c", "permissions": [{"vhost": 3, "configure": "", "write": "", "read": ""}]}]}),
            "users[2].permissions[0].vhost",
        ),
        (json!({"vhosts": [{"name": "a", "colour": "red"}]}), "vhosts[0].colour"),
        (json!({"vhosts": [{"name": ""}]}), "vhosts[0].name"),
        (
            json!({"users": [{"name": "u", "permissions": [{"vhost": "v", "configure": "(", "write": ".*", "read": ".*"}]}]}),
            "users[0].permissions[0].configure",
        ),
        (
            json!({"policies": [{"name": "p", "vhost": "/", "pattern": "[", "definition": {"a": 1}}]}),
            "policies[0].pattern",
        ),
        (
            json!({"policies": [{"name": "p", "vhost": "/", "pattern": ".*", "apply_to": "topics", "definition": {"a": 1}}]}),
            "policies[0].apply_to",
        ),
        (
            json!({"policies": [{"name": "p", "vhost": "/", "pattern": ".*"}]}),
            "policies[0].definition",
        ),
        (json!({"vhosts": [{"name": "a"}, {"name": "a"}]}), "vhosts[1]"),
        (
            json!({"users": [{"name": "u", "password": "x", "password_hash": "eA=="}]}),
            "users[0].password_hash",
        ),
        (json!({"rabbitmq": {"urls": ["ftp://x"]}}), "rabbitmq.urls[0]"),
        (json!({"rabbitmq": {"timeout": -1}}), "rabbitmq.timeout"),
        (json!({"kafka": {}, "brokers": 1}), "brokers"),
    ];
    for (input, want) in cases {
        let (path, message) = spec_error(&input);
        assert_eq!(path, want, "for {input}: {message}");
        assert!(!message.contains(" at line "), "{message}");
    }
}

#[test]
fn a_bad_password_hash_is_refused_without_echoing_it() {
    let (path, message) = spec_error(&json!({"users": [{"name": "u", "password_hash": "not base64 at all!"}]}));
    assert_eq!(path, "users[0].password_hash");
    assert!(!message.contains("not base64 at all!"));
}

#[test]
fn plans_diffs_and_errors_never_contain_the_password() {
    let secret = "Sup3r-S3cret-Value";
    let mut s = snapshot("3.10.8");
    s.users.insert("u".into(), user("old", &[]));
    let p = plan(
        &request(&json!({"users": [{"name": "u", "password": secret}, {"name": "n", "password": secret}]})),
        &s,
    )
    .unwrap();
    let rendered = format!(
        "{} {} {:?}",
        serde_json::to_string(&p.changes).unwrap(),
        serde_json::to_string(&p.diff()).unwrap(),
        p.changes
    );
    assert!(!rendered.contains(secret), "{rendered}");
    assert!(!rendered.contains(&s.users["u"].password_hash));
    let bad = Request::from_json(&json!({"users": [{"name": "u", "password": secret, "colour": 1}]}).to_string());
    assert!(!format!("{bad:?}").contains(secret));
}

#[test]
fn diff_shows_before_and_after_of_changed_fields() {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert(
        "v".into(),
        ObservedVhost {
            description: "old".into(),
            ..Default::default()
        },
    );
    let p = plan(
        &request(&json!({"vhosts": [{"name": "v", "description": "new"}, {"name": "w"}]})),
        &s,
    )
    .unwrap();
    let d = p.diff();
    assert_eq!(d.before["vhosts"]["v"], json!({"description": "old"}));
    assert_eq!(d.after["vhosts"]["v"], json!({"description": "new"}));
    assert_eq!(d.before["vhosts"]["w"], Value::Null);
}

pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn applying_then_planning_again_is_empty() {
    let fake = FakeRabbit::new(snapshot("3.10.8"));
    let req = request(&nova_topology());
    let p = plan(&req, &fake.snapshot_now()).unwrap();
    let report = block_on(osa_hybrid_msg::apply::apply(p, Some(&fake), None::<&FakeKafka>));
    assert!(report.error.is_none(), "{:?}", report.error);
    assert!(report.changes.iter().all(|c| c.status == Status::Applied));
    let again = plan(&req, &block_on(fake.snapshot(true)).unwrap()).unwrap();
    assert!(again.is_empty(), "{:?}", summary(&again));
}

#[test]
fn a_failure_stops_later_stages_and_reports_each_change() {
    let fake = FakeRabbit::new(snapshot("3.10.8"));
    fake.fail_on.lock().unwrap().push("PutPermission".into());
    let p = plan(&request(&nova_topology()), &fake.snapshot_now()).unwrap();
    let mut report = block_on(osa_hybrid_msg::apply::apply(p, Some(&fake), None::<&FakeKafka>));
    assert!(report.plain_error().is_none());
    let cause = report.error.as_ref().expect("the injected failure");
    let statuses: Vec<(String, Status)> = report.changes.iter().map(|c| (c.to_string(), c.status)).collect();
    assert_eq!(
        statuses,
        [
            ("create vhost 'nova'".to_owned(), Status::Applied),
            ("create user 'nova'".to_owned(), Status::Applied),
            (
                "create permissions of user 'nova' on vhost 'nova'".to_owned(),
                Status::Failed
            ),
            ("create policy 'CQv2' on vhost 'nova'".to_owned(), Status::NotApplied),
        ]
    );
    assert!(cause.to_string().contains("injected failure"));
    // Nothing of the policy stage ran.
    assert!(
        !fake
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|op| matches!(op, Op::PutPolicy { .. }))
    );
}

#[test]
fn a_failure_before_anything_applied_is_the_plain_cause() {
    let fake = FakeRabbit::new(snapshot("3.10.8"));
    fake.fail_on.lock().unwrap().push("PutVhost".into());
    let p = plan(&request(&nova_topology()), &fake.snapshot_now()).unwrap();
    let mut report = block_on(osa_hybrid_msg::apply::apply(p, Some(&fake), None::<&FakeKafka>));
    let err = report.plain_error();
    assert!(matches!(err, Some(Error::Api { .. })), "{err:?}");
}

#[test]
fn stored_hash_round_trips_through_rabbitmq_format() {
    // A hash RabbitMQ 3.10.8 produced for the password "x" (GET /api/definitions after PUT {"password":"x"}).
    assert!(password::matches(
        "x",
        "4xBRzSAln1LvMH2HcsVxjPeb6DHaI/ApxzDFX6KeanwMSTEu",
        None
    ));
    assert!(!password::matches(
        "y",
        "4xBRzSAln1LvMH2HcsVxjPeb6DHaI/ApxzDFX6KeanwMSTEu",
        None
    ));
    let h = password::hash("pw", HashingAlgorithm::Sha256);
    assert!(password::matches("pw", &h, Some(HashingAlgorithm::Sha256)));
}

#[test]
fn patterns_are_checked_with_pcre_extensions_allowed() {
    let with = |pattern: &str| {
        json!({
            "users": [{"name": "u", "password": "p",
                       "permissions": [{"vhost": "v", "configure": ".*", "write": ".*", "read": pattern}]}],
            "policies": [{"name": "p", "vhost": "v", "pattern": pattern, "definition": {"queue-version": 2}}],
        })
    };
    // Lookaround and backreferences are beyond the plain syntax that is parsed first; the fallback
    // compiles them, as RabbitMQ's PCRE would accept them.
    for ok in [".*", "^notifications\\.", "^(?!amq\\.).*", "(?<=a)b", "(a)\\1", "^$"] {
        request(&with(ok));
    }
    for bad in ["(", "[z-a]", "a{2,1}", "*x", "(?<=a"] {
        let (path, message) = spec_error(&with(bad));
        assert_eq!(path, "users[0].permissions[0].read", "{bad}");
        assert!(
            message.contains(&format!("'{bad}' is not a valid regular expression")),
            "{bad}: {message}"
        );
    }
}

#[test]
fn protected_users_are_refused_on_4_2_and_later_only() {
    let mut s = snapshot("4.3.6");
    s.users.insert("keep".into(), user("pw", &["protected"]));
    let delete = json!({"users": [{"name": "keep", "state": "absent"}]});
    let (path, message) = plan_error(&delete, &s);
    assert_eq!(path, "users[0].state");
    assert!(
        message.contains("user 'keep' is protected") && message.contains("RabbitMQ 4.3.6"),
        "{message}"
    );
    assert!(
        message.contains("rabbitmqctl") && message.ends_with("Nothing was written"),
        "{message}"
    );
    let (path, _) = plan_error(&json!({"users": [{"name": "keep", "password": "other"}]}), &s);
    assert_eq!(path, "users[0].password");
    let (path, _) = plan_error(&json!({"users": [{"name": "keep", "tags": ["management"]}]}), &s);
    assert_eq!(path, "users[0].tags");
    // Unchanged, the user is no change at all; its grants may still change (the broker allows that).
    let same = json!({"users": [{"name": "keep", "password": "pw", "tags": ["protected"],
                                 "permissions": [{"vhost": "/", "configure": "", "write": "", "read": ""}]}]});
    assert_eq!(
        summary(&plan(&request(&same), &s).unwrap()),
        ["create permissions of user 'keep' on vhost '/'"]
    );
    // Before 4.2 the tag is only a tag.
    let mut old = snapshot("4.0.5");
    old.users.insert("keep".into(), user("pw", &["protected"]));
    assert_eq!(summary(&plan(&request(&delete), &old).unwrap()), ["delete user 'keep'"]);
}

#[test]
fn deleting_a_deletion_protected_vhost_is_refused_and_the_flag_is_read_from_the_vhost_list() {
    let vhosts = r#"[{"name": "/", "protected_from_deletion": false},
                     {"name": "keep", "metadata": {"description": ""}, "protected_from_deletion": true}]"#;
    let s = RabbitSnapshot::from_responses(r#"{"rabbitmq_version": "4.3.6"}"#, Some(vhosts)).unwrap();
    assert_eq!(s.deletion_protected.iter().collect::<Vec<_>>(), ["keep"]);
    let (path, message) = plan_error(&json!({"vhosts": [{"name": "keep", "state": "absent"}]}), &s);
    assert_eq!(path, "vhosts[0].state");
    assert!(
        message.contains("'keep' is protected from deletion") && message.contains("protected: false"),
        "{message}"
    );
    // Kept present, a protected vhost plans like any other.
    assert!(
        plan(&request(&json!({"vhosts": [{"name": "keep"}]})), &s)
            .unwrap()
            .is_empty()
    );
}
