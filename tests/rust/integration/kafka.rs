//! Kafka topics against the real Kafka-protocol broker that `scripts/brokers/tansu.sh` starts
//! (tansu 0.6.0, loopback). Where tansu cannot exercise a path the test says which other way covers it.

use std::sync::Once;
use std::time::{Duration, Instant};

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::Request;
use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use serde_json::{Value, json};

use super::{serial, unique};

pub(crate) const BOOTSTRAP: &str = "127.0.0.1:9092";

pub(crate) fn ensure_tansu() {
    static START: Once = Once::new();
    START.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/brokers/tansu.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg("start")
            .status()
            .expect("run tansu.sh");
        assert!(status.success(), "scripts/brokers/tansu.sh start failed");
    });
}

async fn go(body: &Value, check_mode: bool) -> Result<Value, Error> {
    ensure_tansu();
    let mut body = body.clone();
    if body.get("kafka").is_none() {
        body["kafka"] = json!({"bootstrap_servers": [BOOTSTRAP], "timeout": 10});
    }
    run(
        &Request::from_json(&body.to_string()).expect("valid request"),
        Options { check_mode, diff: true },
    )
    .await
}

/// An admin client of the test's own, to read the broker independently of the code under test.
fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", BOOTSTRAP)
        .create()
        .expect("admin client")
}

fn topic_name(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

fn partitions_of(name: &str) -> Option<usize> {
    let md = admin()
        .inner()
        .fetch_metadata(Some(name), Duration::from_secs(10))
        .expect("metadata");
    md.topics()
        .iter()
        .find(|t| t.name() == name && t.error().is_none())
        .map(|t| t.partitions().len())
}

fn all_topics() -> Vec<String> {
    let md = admin()
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    md.topics().iter().map(|t| t.name().to_owned()).collect()
}

async fn config_of(name: &str) -> Vec<(String, Option<String>)> {
    let described = admin()
        .describe_configs(
            &[ResourceSpecifier::Topic(name)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("describe");
    let mut entries: Vec<(String, Option<String>)> = described[0]
        .as_ref()
        .expect("resource")
        .entries
        .iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    entries.sort();
    entries
}

fn delete(name: &str) -> Value {
    json!({"topics": [{"name": name, "state": "absent"}]})
}

#[tokio::test]
async fn kafka_creates_topics_with_config_then_a_second_run_changes_nothing() {
    let _serial = serial().await;
    let name = topic_name("it.create");
    let body = json!({"topics": [{"name": name, "partitions": 2, "config": {"retention.ms": 3_600_000, "cleanup.policy": "delete"}}]});
    let first = go(&body, false).await.unwrap();
    assert_eq!(first["changed"], true);
    assert_eq!(first["changes"][0]["backend"], "kafka");
    assert_eq!(first["changes"][0]["status"], "applied");
    assert_eq!(partitions_of(&name), Some(2));
    assert!(
        config_of(&name)
            .await
            .contains(&("retention.ms".into(), Some("3600000".into())))
    );
    let second = go(&body, false).await.unwrap();
    assert_eq!(second["changed"], false, "{second}");
    assert_eq!(second["stats"]["writes"], 0);
    // One metadata read plus one DescribeConfigs, whatever the number of topics.
    assert_eq!(second["stats"]["reads"], 2);
    go(&delete(&name), false).await.unwrap();
}

#[tokio::test]
async fn kafka_config_change_alters_only_that_key_and_keeps_an_unmanaged_override() {
    let _serial = serial().await;
    let name = topic_name("it.alter");
    go(
        &json!({"topics": [{"name": name, "config": {"retention.ms": 1000, "max.message.bytes": 2_000_000}}]}),
        false,
    )
    .await
    .unwrap();
    // The next run manages retention.ms only: max.message.bytes is an override it must not reset.
    let changed = go(
        &json!({"topics": [{"name": name, "config": {"retention.ms": 2000}}]}),
        false,
    )
    .await
    .unwrap();
    assert_eq!(changed["changes"].as_array().unwrap().len(), 1, "{changed}");
    assert_eq!(
        changed["changes"][0]["fields"]["config"],
        json!({"before": {"retention.ms": "1000"}, "after": {"retention.ms": "2000"}})
    );
    let config = config_of(&name).await;
    assert!(
        config.contains(&("retention.ms".into(), Some("2000".into()))),
        "{config:?}"
    );
    assert!(
        config.contains(&("max.message.bytes".into(), Some("2000000".into()))),
        "{config:?}"
    );
    // null removes an override.
    go(
        &json!({"topics": [{"name": name, "config": {"max.message.bytes": null}}]}),
        false,
    )
    .await
    .unwrap();
    assert!(!config_of(&name).await.iter().any(|(k, _)| k == "max.message.bytes"));
    let again = go(
        &json!({"topics": [{"name": name, "config": {"retention.ms": 2000, "max.message.bytes": null}}]}),
        false,
    )
    .await
    .unwrap();
    assert_eq!(again["changed"], false, "{again}");
    go(&delete(&name), false).await.unwrap();
}

#[tokio::test]
async fn kafka_absent_deletes_and_absent_again_is_no_change() {
    let _serial = serial().await;
    let name = topic_name("it.delete");
    go(&json!({"topics": [{"name": name}]}), false).await.unwrap();
    assert!(partitions_of(&name).is_some());
    let deleted = go(&delete(&name), false).await.unwrap();
    assert_eq!(deleted["changes"][0]["action"], "delete");
    assert!(!all_topics().contains(&name));
    assert_eq!(go(&delete(&name), false).await.unwrap()["changed"], false);
}

#[tokio::test]
async fn kafka_notifications_expand_to_the_topics_oslo_messaging_uses() {
    let _serial = serial().await;
    let base = topic_name("notif");
    let body = json!({"notifications": {"topics": [base, format!("{base}_designate")], "partitions": 1}});
    let r = go(&body, false).await.unwrap();
    let mut created: Vec<String> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    created.sort();
    let mut want: Vec<String> = [base.clone(), format!("{base}_designate")]
        .iter()
        .flat_map(|t| ["audit", "critical", "debug", "error", "info", "sample", "warn"].map(|p| format!("{t}.{p}")))
        .collect();
    want.sort();
    assert_eq!(created, want);
    let existing = all_topics();
    assert!(want.iter().all(|t| existing.contains(t)));
    assert!(
        !existing
            .iter()
            .any(|t| t.starts_with(&base) && t.matches('.').count() > 1),
        "no vhost suffix"
    );
    assert_eq!(go(&body, false).await.unwrap()["changed"], false);
    let mut absent = body.clone();
    absent["notifications"]["state"] = json!("absent");
    go(&absent, false).await.unwrap();
}

#[tokio::test]
async fn kafka_partition_decrease_is_refused_before_anything_is_written() {
    let _serial = serial().await;
    let name = topic_name("it.shrink");
    go(&json!({"topics": [{"name": name, "partitions": 4}]}), false)
        .await
        .unwrap();
    let err = go(
        &json!({"topics": [{"name": name, "partitions": 2, "config": {"retention.ms": 5}}]}),
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Plan { .. }), "{err:?}");
    assert!(
        text.starts_with("topics[0].partitions:") && text.contains("has 4 partitions") && text.contains("to 2"),
        "{text}"
    );
    assert_eq!(partitions_of(&name), Some(4));
    assert!(
        !config_of(&name).await.iter().any(|(k, _)| k == "retention.ms"),
        "nothing of the run was applied"
    );
    go(&delete(&name), false).await.unwrap();
}

/// tansu 0.6.0 has no CreatePartitions: growth is covered by the planner and fake-applier unit tests
/// (`kafka_partitions_only_grow` in tests/rust/unit); here we assert that tansu's refusal reaches the
/// operator as a clear error naming the topic and the target count.
#[tokio::test]
async fn kafka_partition_increase_reports_tansus_refusal_clearly() {
    let _serial = serial().await;
    let name = topic_name("it.grow");
    go(&json!({"topics": [{"name": name, "partitions": 1}]}), false)
        .await
        .unwrap();
    let err = go(&json!({"topics": [{"name": name, "partitions": 3}]}), false)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("grow topic '{name}' to 3 partitions")), "{text}");
    assert_eq!(partitions_of(&name), Some(1));
    go(&delete(&name), false).await.unwrap();
}

#[tokio::test]
async fn kafka_internal_topics_are_refused() {
    let _serial = serial().await;
    for body in [
        json!({"topics": [{"name": "__consumer_offsets", "state": "absent"}]}),
        json!({"topics": [{"name": "__transaction_state", "config": {"retention.ms": 1}}]}),
    ] {
        let err = go(&body, false).await.unwrap_err();
        assert!(matches!(err, Error::Plan { .. }), "{err:?}");
        assert!(err.to_string().contains("internal topic"), "{err}");
    }
}

#[tokio::test]
async fn kafka_check_mode_creates_nothing() {
    let _serial = serial().await;
    let name = topic_name("it.check");
    let r = go(
        &json!({"topics": [{"name": name, "config": {"retention.ms": 1000}}]}),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r["changed"], true);
    assert_eq!(r["changes"][0]["status"], "planned");
    assert_eq!(
        r["diff"]["after"]["topics"][&name]["config"],
        json!({"retention.ms": "1000"})
    );
    assert!(!all_topics().contains(&name));
}

#[tokio::test]
async fn kafka_unreachable_bootstrap_servers_are_named_within_the_timeout() {
    let _serial = serial().await;
    let started = Instant::now();
    let err = go(
        &json!({"kafka": {"bootstrap_servers": ["127.0.0.1:1", "127.0.0.1:2"], "timeout": 2}, "topics": [{"name": "x"}]}),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(text.contains("127.0.0.1:1,127.0.0.1:2"), "{text}");
}

#[tokio::test]
async fn kafka_invalid_topic_names_are_refused_with_kafkas_rules() {
    let _serial = serial().await;
    for (name, want) in [
        ("bad name", "contains ' '"),
        ("..", "not a legal"),
        (&"x".repeat(250) as &str, "at most 249"),
    ] {
        let err = Request::from_json(&json!({"topics": [{"name": name}]}).to_string()).unwrap_err();
        assert!(
            err.to_string().starts_with("topics[0].name:") && err.to_string().contains(want),
            "{err}"
        );
    }
    let r = go(
        &json!({"topics": [{"name": "it_collide.x"}, {"name": "it_collide_x", "state": "absent"}]}),
        true,
    )
    .await
    .unwrap();
    // Only a present topic is checked for collisions; both here cannot collide with an existing one.
    assert!(r["warnings"].as_array().unwrap().is_empty(), "{r}");
}

/// One call declares RabbitMQ and Kafka objects; a Kafka failure (tansu refuses CreatePartitions)
/// does not hide the RabbitMQ changes that were applied.
#[tokio::test]
async fn kafka_and_rabbitmq_in_one_call_report_each_backend() {
    let _serial = serial().await;
    super::ensure_broker();
    let vhost = unique("it-mixed");
    let name = topic_name("it.mixed");
    go(&json!({"topics": [{"name": name, "partitions": 1}]}), false)
        .await
        .unwrap();
    let body = json!({
        "rabbitmq": super::conn(),
        "vhosts": [{"name": vhost}],
        "topics": [{"name": name, "partitions": 2}]
    });
    let err = go(&body, false).await.unwrap_err();
    let Error::PartialApply { report, .. } = &err else {
        panic!("expected PartialApply, got {err:?}")
    };
    let statuses: Vec<(&str, String)> = report
        .changes
        .iter()
        .map(|c| (c.backend, format!("{:?}", c.status)))
        .collect();
    assert_eq!(
        statuses,
        [("rabbitmq", "Applied".to_owned()), ("kafka", "Failed".to_owned())]
    );
    assert!(
        err.to_string().contains(&format!("Applied: create vhost '{vhost}'")),
        "{err}"
    );
    let ok = json!({"rabbitmq": body["rabbitmq"], "vhosts": [{"name": vhost, "state": "absent"}], "topics": [{"name": name, "state": "absent"}]});
    let cleaned = go(&ok, false).await.unwrap();
    let backends: Vec<&str> = cleaned["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["backend"].as_str().unwrap())
        .collect();
    assert_eq!(backends, ["rabbitmq", "kafka"]);
    assert!(cleaned["backends"]["rabbitmq"]["reads"].as_u64().unwrap() >= 1);
    assert!(cleaned["backends"]["kafka"]["reads"].as_u64().unwrap() >= 1);
    // Each broker's read time is its own, within the run's read phase (the two overlap).
    let read_ms = cleaned["stats"]["read_ms"].as_f64().unwrap();
    for backend in ["rabbitmq", "kafka"] {
        let own = cleaned["backends"][backend]["read_ms"].as_f64().unwrap();
        assert!(own > 0.0 && own <= read_ms, "{backend}: {own} ms of {read_ms} ms");
    }
}

/// tansu is one node and does not enforce replication: replica lists come from librdkafka's mock
/// cluster (three brokers, metadata only; it answers no admin API, so no config is declared here).
#[tokio::test]
async fn kafka_replication_factor_is_read_from_replicas_and_a_change_is_refused() {
    let _serial = serial().await;
    let mock = rdkafka::mocking::MockCluster::new(3).expect("mock cluster");
    mock.create_topic("rf.three", 2, 3).expect("mock topic");
    let servers: Vec<String> = mock.bootstrap_servers().split(',').map(str::to_owned).collect();
    let conn = json!({"bootstrap_servers": servers, "timeout": 5});
    let same = go(
        &json!({"kafka": conn, "topics": [{"name": "rf.three", "partitions": 2, "replication_factor": 3}]}),
        false,
    )
    .await
    .unwrap();
    assert_eq!(same["changed"], false, "{same}");
    let err = go(
        &json!({"kafka": conn, "topics": [{"name": "rf.three", "replication_factor": 2}]}),
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("topics[0].replication_factor:") && text.contains("replication factor 3"),
        "{text}"
    );
    assert!(text.contains("never by delete and re-create"), "{text}");
}
