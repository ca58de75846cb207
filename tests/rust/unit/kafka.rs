//! Kafka planner, spec and fake-applier tests. Partition growth is covered here and not against
//! tansu, which has no CreatePartitions.

use std::collections::BTreeMap;

use osa_hybrid_msg::apply::apply;
use osa_hybrid_msg::backend::fake::{FakeKafka, FakeRabbit};
use osa_hybrid_msg::error::{Broker, Error};
use osa_hybrid_msg::observed::{KafkaSnapshot, ObservedTopic};
use osa_hybrid_msg::plan::{Op, Status, plan_kafka};
use osa_hybrid_msg::spec::Request;
use serde_json::{Value, json};

use super::block_on;

fn request(v: &Value) -> Request {
    Request::from_json(&v.to_string()).expect("valid request")
}

fn topic(partitions: i32, rf: i32, config: &[(&str, &str)]) -> ObservedTopic {
    ObservedTopic {
        partitions,
        replication_factor: rf,
        config: config.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..Default::default()
    }
}

fn snapshot(topics: &[(&str, ObservedTopic)]) -> KafkaSnapshot {
    KafkaSnapshot {
        topics: topics.iter().map(|(n, t)| ((*n).to_owned(), t.clone())).collect(),
        ..KafkaSnapshot::default()
    }
}

fn plan_error(v: &Value, s: &KafkaSnapshot) -> (String, String) {
    match plan_kafka(&request(v), s) {
        Err(Error::Plan { path, message }) => (path, message),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn kafka_unset_counts_create_with_the_broker_defaults() {
    let p = plan_kafka(&request(&json!({"topics": [{"name": "t"}]})), &KafkaSnapshot::default()).unwrap();
    assert_eq!(
        p.changes[0].op,
        Op::CreateTopic {
            name: "t".into(),
            partitions: -1,
            replication_factor: -1,
            config: BTreeMap::new()
        }
    );
    assert_eq!(p.changes[0].backend, Broker::Kafka);
}

#[test]
fn kafka_partitions_only_grow() {
    let s = snapshot(&[("t", topic(4, 1, &[]))]);
    let grow = plan_kafka(&request(&json!({"topics": [{"name": "t", "partitions": 6}]})), &s).unwrap();
    assert_eq!(
        grow.changes[0].op,
        Op::CreatePartitions {
            name: "t".into(),
            total: 6
        }
    );
    assert_eq!(grow.changes[0].fields["partitions"].before, json!(4));
    assert!(
        plan_kafka(&request(&json!({"topics": [{"name": "t", "partitions": 4}]})), &s)
            .unwrap()
            .is_empty()
    );
    let (path, message) = plan_error(&json!({"topics": [{"name": "t", "partitions": 2}]}), &s);
    assert_eq!(path, "topics[0].partitions");
    assert!(
        message.contains("'t' has 4 partitions") && message.contains("decrease them to 2"),
        "{message}"
    );
}

#[test]
fn kafka_replication_factor_change_is_refused_not_recreated() {
    let s = snapshot(&[("t", topic(3, 3, &[]))]);
    assert!(
        plan_kafka(
            &request(&json!({"topics": [{"name": "t", "replication_factor": 3}]})),
            &s
        )
        .unwrap()
        .is_empty()
    );
    let (path, message) = plan_error(&json!({"topics": [{"name": "t", "replication_factor": 2}]}), &s);
    assert_eq!(path, "topics[0].replication_factor");
    assert!(message.contains("reassignment"), "{message}");
}

#[test]
fn kafka_only_managed_config_keys_are_altered() {
    let s = snapshot(&[(
        "t",
        topic(1, 1, &[("retention.ms", "1000"), ("max.message.bytes", "2000000")]),
    )]);
    let p = plan_kafka(
        &request(&json!({"topics": [{"name": "t", "config": {"retention.ms": 2000}}]})),
        &s,
    )
    .unwrap();
    assert_eq!(
        p.changes[0].op,
        Op::AlterTopicConfig {
            name: "t".into(),
            set: [("retention.ms".to_owned(), "2000".to_owned())].into(),
            delete: vec![]
        }
    );
    let remove = plan_kafka(
        &request(&json!({"topics": [{"name": "t", "config": {"max.message.bytes": null}}]})),
        &s,
    )
    .unwrap();
    assert_eq!(
        remove.changes[0].op,
        Op::AlterTopicConfig {
            name: "t".into(),
            set: BTreeMap::new(),
            delete: vec!["max.message.bytes".into()]
        }
    );
    // Numbers and booleans compare in the broker's string form; unset keys are never reset.
    let same = json!({"topics": [{"name": "t", "config": {"retention.ms": 1000.0, "max.message.bytes": "2000000"}}]});
    assert!(plan_kafka(&request(&same), &s).unwrap().is_empty());
}

#[test]
fn kafka_sensitive_values_are_left_alone_with_a_warning() {
    let mut t = topic(1, 1, &[]);
    t.sensitive.insert("some.secret".into());
    let p = plan_kafka(
        &request(&json!({"topics": [{"name": "t", "config": {"some.secret": "x"}}]})),
        &snapshot(&[("t", t)]),
    )
    .unwrap();
    assert!(p.is_empty());
    assert!(
        p.warnings[0].starts_with("topics[0].config.some.secret"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn kafka_internal_topics_are_never_touched() {
    for name in [
        "__consumer_offsets",
        "__transaction_state",
        "__strimzi_store_topic",
        "_schemas",
        "_confluent-metrics",
    ] {
        let (path, message) = plan_error(
            &json!({"topics": [{"name": name, "state": "absent"}]}),
            &snapshot(&[(name, topic(1, 1, &[]))]),
        );
        assert_eq!(path, "topics[0].name");
        assert!(message.contains("internal topic"), "{message}");
    }
}

#[test]
fn kafka_notifications_expand_to_topic_dot_priority_without_vhost() {
    let r = request(&json!({"notifications": {}}));
    let names: Vec<String> = r.kafka_topics().into_iter().map(|(_, t)| t.name).collect();
    assert_eq!(
        names,
        ["audit", "debug", "info", "warn", "error", "critical", "sample"].map(|p| format!("notifications.{p}"))
    );
    let r = request(
        &json!({"notifications": {"topics": ["notifications", "notifications_designate"], "priorities": ["info", "error"], "partitions": 3}}),
    );
    let topics = r.kafka_topics();
    assert_eq!(topics.len(), 4);
    assert_eq!(topics[3].0, "notifications(notifications_designate.error)");
    assert!(topics.iter().all(|(_, t)| t.partitions == Some(3)));
}

#[test]
fn kafka_spec_errors_name_the_field() {
    let cases = [
        (
            json!({"notifications": {"priorities": ["info", "verbose"]}}),
            "notifications.priorities[1]",
        ),
        (json!({"notifications": {"topics": []}}), "notifications.topics"),
        (json!({"topics": [{"name": "a b"}]}), "topics[0].name"),
        (
            json!({"topics": [{"name": "t", "partitions": 0}]}),
            "topics[0].partitions",
        ),
        (
            json!({"topics": [{"name": "t", "config": {"x": [1]}}]}),
            "topics[0].config.x",
        ),
        (
            json!({"topics": [{"name": "notifications.info"}], "notifications": {}}),
            "notifications(notifications.info)",
        ),
        (
            json!({"kafka": {"bootstrap_servers": ["localhost"]}}),
            "kafka.bootstrap_servers[0]",
        ),
        (
            json!({"kafka": {"bootstrap_servers": ["fd00::1:9092"]}}),
            "kafka.bootstrap_servers[0]",
        ),
        (
            json!({"kafka": {"security_protocol": "SASL_SSL"}}),
            "kafka.sasl_username",
        ),
        (
            json!({"kafka": {"sasl_username": "u", "sasl_password": "p"}}),
            "kafka.sasl_username",
        ),
        (json!({"kafka": {"sasl_mechanism": "GSSAPI"}}), "kafka.sasl_mechanism"),
    ];
    for (input, want) in cases {
        match Request::from_json(&input.to_string()) {
            Err(Error::Spec { path, .. }) => assert_eq!(path, want, "for {input}"),
            other => panic!("for {input}: expected a spec error, got {other:?}"),
        }
    }
    assert!(
        Request::from_json(&json!({"kafka": {"bootstrap_servers": ["[fd00::1]:9092", "k1:9093"]}}).to_string()).is_ok()
    );
}

#[test]
fn kafka_sasl_password_never_shows_in_debug_output() {
    let r = request(
        &json!({"kafka": {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                                      "sasl_username": "u", "sasl_password": "Kafka-S3cret"}}),
    );
    assert!(!format!("{r:?}").contains("Kafka-S3cret"));
}

#[test]
fn kafka_dot_underscore_collisions_warn() {
    let p = plan_kafka(
        &request(&json!({"topics": [{"name": "a.b"}]})),
        &snapshot(&[("a_b", topic(1, 1, &[]))]),
    )
    .unwrap();
    assert!(p.warnings[0].contains("collides with topic 'a_b'"), "{:?}", p.warnings);
}

#[test]
fn kafka_applier_sends_one_batch_per_stage_and_reports_each_topic() {
    let fake = FakeKafka::new(snapshot(&[("old", topic(1, 1, &[("retention.ms", "1")]))]));
    fake.fail_topics.lock().unwrap().push("bad".into());
    let req = request(&json!({"topics": [
        {"name": "a"}, {"name": "bad"}, {"name": "c"},
        {"name": "old", "partitions": 2, "config": {"retention.ms": 5}}
    ]}));
    let p = plan_kafka(&req, &fake.snapshot_now()).unwrap();
    let report = block_on(apply(p, None::<&FakeRabbit>, Some(&fake)));
    assert!(report.error.is_some());
    let statuses: Vec<(String, Status)> = report.changes.iter().map(|c| (c.name.clone(), c.status)).collect();
    assert_eq!(
        statuses,
        [
            ("a".to_owned(), Status::Applied),
            ("bad".to_owned(), Status::Failed),
            ("c".to_owned(), Status::Applied),
            ("old".to_owned(), Status::NotApplied),
            ("old".to_owned(), Status::NotApplied),
        ]
    );
    assert_eq!(
        report.changes[1].error.as_deref(),
        Some("Kafka rejected fake op on topic 'bad': injected failure")
    );
    // One CreateTopics request for the three new topics; the later stages did not run.
    let batches = fake.batches.lock().unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].len(), 3);
}

#[test]
fn kafka_apply_then_plan_is_empty() {
    let fake = FakeKafka::new(snapshot(&[("old", topic(1, 1, &[("retention.ms", "1"), ("x", "y")]))]));
    let req = request(&json!({
        "topics": [{"name": "old", "partitions": 3, "config": {"retention.ms": 5, "x": null}}, {"name": "gone", "state": "absent"}],
        "notifications": {"config": {"retention.ms": 86_400_000}}
    }));
    let p = plan_kafka(&req, &fake.snapshot_now()).unwrap();
    let report = block_on(apply(p, None::<&FakeRabbit>, Some(&fake)));
    assert!(report.error.is_none(), "{:?}", report.error);
    let again = plan_kafka(&req, &fake.snapshot_now()).unwrap();
    assert!(
        again.is_empty(),
        "{:?}",
        again.changes.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
}

#[test]
fn every_accepted_kafka_timeout_makes_a_client_librdkafka_takes() {
    // kafka.timeout is run-wide and may be up to 3600 s; librdkafka refuses socket.timeout.ms above
    // 300 s, which made `timeout: 900` an "Unusable connection options" error.
    use osa_hybrid_msg::backend::kafka_rd::client_config;
    use rdkafka::admin::AdminClient;
    use rdkafka::client::DefaultClientContext;

    for timeout in [1.0, 299.9, 300.0, 900.0, 3600.0] {
        let req = request(&json!({
            "kafka": {"bootstrap_servers": ["127.0.0.1:1"], "timeout": timeout},
            "topics": [{"name": "t"}],
        }));
        let conn = req.kafka.as_ref().expect("kafka connection");
        let created: Result<AdminClient<DefaultClientContext>, _> = client_config(conn).create();
        assert!(created.is_ok(), "timeout {timeout}: {:?}", created.err());
    }
}
