//! `verify`: the option's forms, its spec checks, and which probes a request gets (pure, no broker).

use osa_hybrid_msg::observed::{ObservedVhost, RabbitSnapshot};
use osa_hybrid_msg::plan::plan_rabbit;
use osa_hybrid_msg::spec::VerifySpec;
use osa_hybrid_msg::verify::{amqp_targets, failure_message, kafka_targets};
use serde_json::{Value, json};

use super::{perm, request, snapshot, spec_error, user};

const AMQP: &str = "amqp://127.0.0.1:5672";

fn with_verify(mut body: Value, verify: Value) -> Value {
    body["verify"] = verify;
    body["rabbitmq"] = json!({"amqp_urls": [AMQP]});
    body
}

#[test]
fn verify_takes_a_bool_one_kind_or_a_list() {
    let cases = [
        (json!(false), VerifySpec::default()),
        (json!(null), VerifySpec::default()),
        (
            json!(true),
            VerifySpec {
                amqp: true,
                kafka: true,
            },
        ),
        (
            json!("kafka"),
            VerifySpec {
                amqp: false,
                kafka: true,
            },
        ),
        (
            json!(["amqp"]),
            VerifySpec {
                amqp: true,
                kafka: false,
            },
        ),
        (
            json!(["amqp", "kafka"]),
            VerifySpec {
                amqp: true,
                kafka: true,
            },
        ),
        (json!([]), VerifySpec::default()),
    ];
    for (value, want) in cases {
        let r = request(&with_verify(json!({}), value.clone()));
        assert_eq!(r.verify(), want, "{value}");
    }
}

#[test]
fn an_unknown_verify_kind_names_the_field_and_the_kinds() {
    for value in [json!(["amqp", "http"]), json!(3), json!({"amqp": true})] {
        let (path, message) = spec_error(&with_verify(json!({}), value.clone()));
        assert_eq!(path, "verify", "{value}");
        assert!(
            message.contains("use true, false, or a list of amqp, kafka"),
            "{message}"
        );
    }
}

#[test]
fn verify_amqp_with_a_present_user_needs_amqp_urls() {
    let body = json!({"users": [{"name": "nova", "password": "pw"}], "verify": ["amqp"]});
    let (path, message) = spec_error(&body);
    assert_eq!(path, "rabbitmq.amqp_urls");
    assert!(message.contains("amqp://"), "{message}");
    // Kafka probes alone, or no present user, need no AMQP endpoint.
    request(&json!({"users": [{"name": "nova", "password": "pw"}], "verify": "kafka"}));
    request(&json!({"users": [{"name": "old", "state": "absent"}], "verify": true}));
}

#[test]
fn amqp_urls_are_checked_and_never_echo_credentials() {
    let cases = [
        ("http://h:5672", "rabbitmq.amqp_urls[0]", "not amqp or amqps"),
        (
            "amqp://h:5672/nova",
            "rabbitmq.amqp_urls[0]",
            "the vhosts come from the declared permissions",
        ),
        ("amqp://", "rabbitmq.amqp_urls[0]", "has no host"),
    ];
    for (url, want_path, want) in cases {
        let (path, message) = spec_error(&json!({"rabbitmq": {"amqp_urls": [url]}}));
        assert_eq!(path, want_path, "{url}");
        assert!(message.contains(want), "{url}: {message}");
    }
    let (_, message) = spec_error(&json!({"rabbitmq": {"amqp_urls": ["amqp://nova:Secret-99@h"]}}));
    assert!(message.contains("credentials do not belong"), "{message}");
    assert!(!message.contains("Secret-99"), "{message}");
    let endpoints = request(&json!({"rabbitmq": {"amqp_urls": ["amqps://rabbit1", "amqp://[fd00::1]:5673"]}}))
        .rabbitmq
        .unwrap()
        .amqp_endpoints()
        .unwrap();
    assert_eq!(
        endpoints.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["amqps://rabbit1:5671", "amqp://[fd00::1]:5673"]
    );
}

fn existing_nova() -> RabbitSnapshot {
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("nova".into(), ObservedVhost::default());
    s.vhosts.insert("shared".into(), ObservedVhost::default());
    s.users.insert("nova".into(), user("pw", &[]));
    s.permissions
        .insert(("nova".into(), "nova".into()), perm(".*", ".*", ".*"));
    s.permissions
        .insert(("nova".into(), "shared".into()), perm("^$", ".*", ".*"));
    s
}

fn pairs(targets: &[osa_hybrid_msg::verify::AmqpTarget]) -> Vec<(String, String, Option<String>)> {
    targets
        .iter()
        .map(|t| (t.user.clone(), t.vhost.clone(), t.skip.clone()))
        .collect()
}

#[test]
fn amqp_targets_are_the_declared_permissions_or_the_current_ones() {
    let s = existing_nova();
    let declared = request(&with_verify(
        json!({"users": [{"name": "nova", "password": "Pw-Secret-1",
                          "permissions": [{"vhost": "nova", "configure": "^nova", "write": ".*", "read": ".*"}]}]}),
        json!(true),
    ));
    let (t, warnings) = amqp_targets(&declared, &s, &[], false);
    assert_eq!(pairs(&t), [("nova".into(), "nova".into(), None)]);
    assert_eq!(
        t[0].configure.as_deref(),
        Some("^nova"),
        "the declared regex, not the broker's"
    );
    assert!(warnings.is_empty());
    assert!(
        !format!("{t:?}").contains("Pw-Secret-1"),
        "a target's Debug hides the password"
    );

    let mut keep = declared_body();
    keep["users"][0]["purge_permissions"] = json!(false);
    let (t, _) = amqp_targets(&request(&keep), &s, &[], false);
    assert_eq!(
        t.iter().map(|t| t.vhost.as_str()).collect::<Vec<_>>(),
        ["nova", "shared"]
    );

    let unset = request(&with_verify(
        json!({"users": [{"name": "nova", "password": "pw"}]}),
        json!(true),
    ));
    let (t, _) = amqp_targets(&unset, &s, &[], false);
    assert_eq!(
        t.iter().map(|t| t.vhost.as_str()).collect::<Vec<_>>(),
        ["nova", "shared"]
    );
    assert_eq!(t[1].configure.as_deref(), Some("^$"));

    // A vhost this run deletes is not probed.
    let mut deleting = with_verify(json!({"users": [{"name": "nova", "password": "pw"}]}), json!(true));
    deleting["vhosts"] = json!([{"name": "shared", "state": "absent"}]);
    let (t, _) = amqp_targets(&request(&deleting), &s, &[], false);
    assert_eq!(t.iter().map(|t| t.vhost.as_str()).collect::<Vec<_>>(), ["nova"]);
}

fn declared_body() -> Value {
    with_verify(
        json!({"users": [{"name": "nova", "password": "pw",
                          "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"}]}]}),
        json!(true),
    )
}

#[test]
fn users_that_cannot_log_in_are_skipped_with_a_warning() {
    let s = existing_nova();
    let hash = osa_hybrid_msg::password::hash("pw", osa_hybrid_msg::spec::HashingAlgorithm::Sha256);
    let body = with_verify(
        json!({"users": [
            {"name": "nova", "password_hash": hash},
            {"name": "lonely", "password": "pw", "permissions": []},
            {"name": "gone", "state": "absent"}
        ]}),
        json!(["amqp"]),
    );
    let (t, warnings) = amqp_targets(&request(&body), &s, &[], false);
    assert_eq!(t.len(), 2, "nova on both vhosts; lonely and gone have none");
    assert!(t.iter().all(|t| t.password.is_none()));
    assert!(
        t[0].skip
            .as_deref()
            .unwrap()
            .starts_with("only password_hash is declared")
    );
    assert!(
        warnings.iter().any(|w| w.contains("user 'nova': only password_hash")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("user 'lonely' has no permissions on any vhost")),
        "{warnings:?}"
    );
}

#[test]
fn check_mode_skips_what_the_plan_has_yet_to_create_or_change() {
    let s = existing_nova();
    let mut body = with_verify(
        json!({
            "vhosts": [{"name": "fresh"}],
            "users": [
                {"name": "nova", "password": "pw",
                 "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"},
                                 {"vhost": "fresh", "configure": ".*", "write": ".*", "read": ".*"}]}
            ]
        }),
        json!(true),
    );
    body["users"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "newbie", "password": "pw",
        "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"}]}));
    body["users"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "rotated", "password": "new",
        "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"}]}));
    let mut s = s;
    s.users.insert("rotated".into(), user("old", &[]));
    s.permissions
        .insert(("rotated".into(), "nova".into()), perm(".*", ".*", ".*"));
    let r = request(&body);
    let plan = plan_rabbit(&r, &s).unwrap();
    let (t, _) = amqp_targets(&r, &s, &plan.changes, true);
    assert_eq!(
        pairs(&t),
        [
            ("nova".into(), "nova".into(), None),
            (
                "nova".into(),
                "fresh".into(),
                Some("the vhost does not exist yet (planned: create)".into())
            ),
            (
                "newbie".into(),
                "nova".into(),
                Some("the user does not exist yet (planned: create)".into())
            ),
            (
                "rotated".into(),
                "nova".into(),
                Some("the user's password changes in this run (planned)".into())
            ),
        ]
    );
    // After apply nothing is skipped: everything the plan made exists.
    let (t, _) = amqp_targets(&r, &s, &plan.changes, false);
    assert!(t.iter().all(|t| t.skip.is_none()));
}

#[test]
fn kafka_targets_cover_the_notifications_expansion_and_skip_planned_topics_in_check_mode() {
    let body = json!({
        "topics": [{"name": "a"}, {"name": "gone", "state": "absent"}],
        "notifications": {"topics": ["notifications"], "priorities": ["info", "error"]},
        "verify": "kafka"
    });
    let r = request(&body);
    let mut snap = osa_hybrid_msg::observed::KafkaSnapshot::default();
    snap.topics
        .insert("a".into(), osa_hybrid_msg::observed::ObservedTopic::default());
    let plan = osa_hybrid_msg::plan::plan_kafka(&r, &snap).unwrap();
    let after = kafka_targets(&r, &plan.changes, false);
    assert_eq!(
        after.iter().map(|t| t.topic.as_str()).collect::<Vec<_>>(),
        ["a", "notifications.info", "notifications.error"]
    );
    assert!(after.iter().all(|t| t.skip.is_none()));
    let check = kafka_targets(&r, &plan.changes, true);
    assert_eq!(check[0].skip, None);
    assert_eq!(
        check[1].skip.as_deref(),
        Some("the topic does not exist yet (planned: create)")
    );
}

#[test]
fn the_failure_message_lists_each_probe_then_what_stays_applied() {
    let r = request(&json!({"vhosts": [{"name": "nova"}]}));
    let mut plan = plan_rabbit(&r, &snapshot("3.10.8")).unwrap();
    plan.changes[0].status = osa_hybrid_msg::plan::Status::Applied;
    let failures = ["user 'nova' on vhost 'nova' failed at login: ACCESS_REFUSED - Login was refused".to_owned()];
    assert_eq!(
        failure_message(&failures, 3, &plan.changes, false),
        "1 of 3 probes failed: user 'nova' on vhost 'nova' failed at login: ACCESS_REFUSED - Login was refused. \
         These changes were applied and stay applied: create vhost 'nova'. Fix the cause and run again"
    );
    assert!(failure_message(&failures, 1, &[], true).contains("Check mode: nothing was changed"));
    assert!(failure_message(&failures, 1, &[], false).contains("Nothing needed changing"));
}

#[test]
fn services_users_and_topics_are_probed_and_need_amqp_urls_too() {
    let nova = json!({
        "name": "nova",
        "rpc": {"transport": "rabbit", "userid": "nova", "password": "pw-nova",
                "vhost": [{"name": "/nova", "state": "absent"}, {"name": "nova", "state": "present"}]},
        "notify": {"transport": "kafka", "topics": ["notifications"]},
    });
    let (path, _) = spec_error(&json!({"services": [nova], "verify": true}));
    assert_eq!(path, "rabbitmq.amqp_urls", "checked after the services expansion");
    let r = request(&with_verify(json!({"services": [nova]}), json!(true)));
    let mut s = snapshot("3.10.8");
    s.vhosts.insert("nova".into(), ObservedVhost::default());
    let (t, _) = amqp_targets(&r, &s, &[], false);
    assert_eq!(pairs(&t), [("nova".into(), "nova".into(), None)]);
    let topics = kafka_targets(&r, &[], false);
    assert_eq!(topics.len(), 7, "notifications.<each oslo priority>");
    assert!(topics.iter().all(|t| t.topic.starts_with("notifications.")));
}

/// A service principal as (service, user, produces, consumes, group).
type Principal = (String, String, Vec<String>, Vec<String>, Option<String>);

#[test]
fn on_a_sasl_kafka_the_services_topics_are_probed_as_the_services_not_as_the_connection() {
    let body = json!({
        "kafka": {"bootstrap_servers": ["k1:9093"], "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                  "sasl_username": "admin", "sasl_password": "x"},
        "topics": [{"name": "own.topic"}],
        "services": [
            {"name": "nova", "notify": {"transport": "kafka", "password": "p1", "priorities": ["info"]}},
            {"name": "ceilometer", "notify": {"transport": "kafka", "password": "p2", "priorities": ["info"],
                                              "consumes": ["notifications"]}},
        ],
        "verify": "kafka",
    });
    let r = request(&body);
    let targets: Vec<String> = kafka_targets(&r, &[], false).into_iter().map(|t| t.topic).collect();
    assert_eq!(targets, ["own.topic"]);
    let principals: Vec<Principal> = r
        .kafka_service_principals()
        .iter()
        .map(|p| {
            (
                p.service.clone(),
                p.user.clone(),
                p.produces.clone(),
                p.consumes.clone(),
                p.group.clone(),
            )
        })
        .collect();
    assert_eq!(
        principals,
        [
            (
                "nova".to_owned(),
                "nova".to_owned(),
                vec!["notifications.info".to_owned()],
                vec![],
                None
            ),
            (
                "ceilometer".to_owned(),
                "ceilometer".to_owned(),
                vec!["notifications.info".to_owned()],
                vec!["notifications.info".to_owned()],
                Some("oslo_messaging_consumer".to_owned())
            ),
        ]
    );
    assert!(!format!("{:?}", r.kafka_service_principals()).contains("p1"));
    // Without SASL there is no service principal, and every topic is probed as the connection.
    let mut plain = body.clone();
    plain["kafka"] = json!({"bootstrap_servers": ["k1:9092"]});
    let r = request(&plain);
    assert!(r.kafka_service_principals().is_empty());
    assert_eq!(kafka_targets(&r, &[], false).len(), 2);
}
