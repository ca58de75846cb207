//! Kafka topics against real Apache Kafka on loopback: the three-broker KRaft cluster that
//! `scripts/brokers/kafka.sh` starts (PLAINTEXT, and SASL_SSL with SCRAM-SHA-512 and a test CA).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use osa_hybrid_msg::error::{Broker, Error};
use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::Request;
use rdkafka::admin::{AdminClient, AdminOptions, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use serde_json::{Value, json};

use super::{serial, unique};

// SCRAM users and ACLs; under `kafka::` so that the runs against other RabbitMQ versions skip them too.
#[path = "kafka_security.rs"]
mod security;

/// The broker the tests use: the `OSA_KAFKA_*` variables of `scripts/brokers/kafka.sh` (the env-file
/// contract) when `OSA_KAFKA_BOOTSTRAP` is set, else the three-broker cluster that script starts.
pub(crate) struct Kafka {
    pub bootstrap: String,
    pub sasl_bootstrap: String,
    pub ca_file: String,
    pub admin_user: String,
    pub admin_password: String,
    pub nodes: Vec<String>,
    pub profile: String,
}

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/brokers/kafka.sh");

fn load_env_file(path: &str) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

pub(crate) fn kafka() -> &'static Kafka {
    static ENV: OnceLock<Kafka> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut vars: HashMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("OSA_KAFKA_")).collect();
        if !vars.contains_key("OSA_KAFKA_BOOTSTRAP") {
            let status = std::process::Command::new("bash")
                .args([SCRIPT, "--profile", "cluster", "start"])
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run kafka.sh");
            assert!(
                status.success(),
                "scripts/brokers/kafka.sh --profile cluster start failed"
            );
            vars = load_env_file(concat!(env!("CARGO_MANIFEST_DIR"), "/.cache/brokers/kafka-cluster.env"));
        }
        let get = |k: &str| vars.get(k).cloned().unwrap_or_else(|| panic!("{k} is not set"));
        let password_file = get("OSA_KAFKA_ADMIN_PASSWORD_FILE");
        Kafka {
            bootstrap: get("OSA_KAFKA_BOOTSTRAP"),
            sasl_bootstrap: get("OSA_KAFKA_SASL_BOOTSTRAP"),
            ca_file: get("OSA_KAFKA_CA_FILE"),
            admin_user: get("OSA_KAFKA_ADMIN_USER"),
            admin_password: std::fs::read_to_string(&password_file)
                .unwrap_or_else(|e| panic!("{password_file}: {e}"))
                .trim()
                .to_owned(),
            nodes: get("OSA_KAFKA_NODES").split(',').map(str::to_owned).collect(),
            profile: vars
                .get("OSA_KAFKA_PROFILE")
                .cloned()
                .unwrap_or_else(|| "cluster".into()),
        }
    })
}

pub(crate) fn bootstrap_list() -> Vec<String> {
    kafka().bootstrap.split(',').map(str::to_owned).collect()
}

async fn go(body: &Value, check_mode: bool) -> Result<Value, Error> {
    let mut body = body.clone();
    if body.get("kafka").is_none() {
        body["kafka"] = json!({"bootstrap_servers": bootstrap_list(), "timeout": 10});
    }
    run(
        &Request::from_json(&body.to_string()).expect("valid request"),
        Options { check_mode, diff: true },
    )
    .await
    .map(|r| serde_json::to_value(r).unwrap())
}

/// Creates a one-partition topic and waits until a run's own read sees it: a new topic's metadata reaches
/// each broker a moment after CreateTopics was answered, and a run reads from the first bootstrap server
/// (CI once read the topic as missing there and planned its creation again).
async fn create_and_see(name: &str) {
    let body = json!({"topics": [{"name": name, "partitions": 1}]});
    go(&body, false).await.unwrap();
    for _ in 0..50 {
        if go(&body, true).await.unwrap()["changed"] == false {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("topic {name} is still missing from a run's read 10 s after its creation");
}

/// An admin client of the test's own, to read the broker independently of the code under test.
fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", &kafka().bootstrap)
        .create()
        .expect("admin client")
}

fn topic_name(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

/// From a metadata request for all topics: one that names a missing topic lets a broker with
/// `auto.create.topics.enable` (Kafka's default, and the test cluster's) create it.
/// The topic's partition count as the cluster's metadata shows it, `None` when it has no such topic.
/// Metadata reaches the brokers after the controller commits it: a broker that was just restarted by an
/// earlier test can answer without a topic that exists, so an absent topic is asked again for up to 15 s.
fn partitions_of(name: &str) -> Option<usize> {
    metadata_until(name, Option::is_some)
}

/// Whether the topic is gone from the metadata, asked again for up to 15 s (a broker can lag the delete).
fn topic_gone(name: &str) -> bool {
    metadata_until(name, Option::is_none).is_none()
}

/// The topic's partition count, read until `done` holds of it or 15 s have passed.
fn metadata_until(name: &str, done: fn(&Option<usize>) -> bool) -> Option<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let md = admin()
            .inner()
            .fetch_metadata(None, Duration::from_secs(10))
            .expect("metadata");
        let found = md
            .topics()
            .iter()
            .find(|t| t.name() == name && t.error().is_none())
            .map(|t| t.partitions().len());
        if done(&found) || std::time::Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn all_topics() -> Vec<String> {
    let md = admin()
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    md.topics().iter().map(|t| t.name().to_owned()).collect()
}

/// The topic's own overrides (`DynamicTopic`), as an operator's `kafka-configs --describe` shows them.
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
        .filter(|e| matches!(e.source, ConfigSource::DynamicTopic))
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    entries.sort();
    entries
}

async fn full_listing_len(name: &str) -> usize {
    let described = admin()
        .describe_configs(
            &[ResourceSpecifier::Topic(name)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("describe");
    described[0].as_ref().expect("resource").entries.len()
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

#[tokio::test]
async fn kafka_partition_increase_is_applied_and_read_back() {
    let _serial = serial().await;
    let name = topic_name("it.grow");
    create_and_see(&name).await;
    let body = json!({"topics": [{"name": name, "partitions": 3}]});
    let grown = go(&body, false).await.unwrap();
    assert_eq!(grown["changes"][0]["status"], "applied", "{grown}");
    assert_eq!(
        grown["changes"][0]["fields"]["partitions"],
        json!({"before": 1, "after": 3}),
        "{grown}"
    );
    assert_eq!(partitions_of(&name), Some(3));
    assert_eq!(go(&body, false).await.unwrap()["changed"], false);
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

/// Check mode writes nothing (not even a `validate_only` request): the topic is absent afterwards for
/// an independent metadata read, and an existing topic keeps its partitions and configs.
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
    assert_eq!(r["stats"]["writes"], 0, "{r}");
    assert_eq!(
        r["diff"]["after"]["topics"][&name]["config"],
        json!({"retention.ms": "1000"})
    );
    assert!(!all_topics().contains(&name));
    assert!(topic_gone(&name), "topic {name} is still in the metadata");

    create_and_see(&name).await;
    let planned = go(
        &json!({"topics": [{"name": name, "partitions": 2, "config": {"retention.ms": 1000}}]}),
        true,
    )
    .await
    .unwrap();
    assert_eq!(planned["changed"], true, "{planned}");
    assert_eq!(planned["stats"]["writes"], 0, "{planned}");
    assert_eq!(partitions_of(&name), Some(1));
    assert!(!config_of(&name).await.iter().any(|(k, _)| k == "retention.ms"));
    go(&delete(&name), false).await.unwrap();
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
    assert!(
        matches!(
            err,
            Error::Unreachable {
                broker: Broker::Kafka,
                ..
            }
        ),
        "{err:?}"
    );
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

/// One call declares RabbitMQ and Kafka objects; a Kafka failure (the broker refuses a replication
/// factor above its broker count) does not hide the RabbitMQ changes that were applied.
#[tokio::test]
async fn kafka_and_rabbitmq_in_one_call_report_each_backend() {
    let _serial = serial().await;
    super::ensure_broker();
    let vhost = unique("it-mixed");
    let name = topic_name("it.mixed");
    create_and_see(&name).await;
    let body = json!({
        "rabbitmq": super::conn(),
        "vhosts": [{"name": vhost}],
        "topics": [{"name": name, "partitions": 1}, {"name": format!("{name}_rf7"), "replication_factor": 7}]
    });
    let err = go(&body, false).await.unwrap_err();
    let Error::PartialApply { result: report, .. } = &err else {
        panic!("expected PartialApply, got {err:?}")
    };
    let statuses: Vec<(Broker, String)> = report
        .changes
        .iter()
        .map(|c| (c.backend, format!("{:?}", c.status)))
        .collect();
    assert_eq!(
        statuses,
        [
            (Broker::RabbitMq, "Applied".to_owned()),
            (Broker::Kafka, "Failed".to_owned())
        ]
    );
    assert!(
        err.to_string().contains(&format!("Applied: create vhost '{vhost}'")),
        "{err}"
    );
    assert!(err.to_string().contains("replication factor"), "{err}");
    let ok = json!({"rabbitmq": body["rabbitmq"], "vhosts": [{"name": vhost, "state": "absent"}],
        "topics": [{"name": name, "state": "absent"}, {"name": format!("{name}_rf7"), "state": "absent"}]});
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

fn replica_counts(name: &str) -> Vec<usize> {
    let md = admin()
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    md.topics()
        .iter()
        .filter(|t| t.name() == name)
        .flat_map(|t| t.partitions().iter().map(|p| p.replicas().len()))
        .collect()
}

/// Replication factor 3 on three brokers with a topic config; the second run is a no-op, which
/// compares only the topic's own (`DynamicTopic`) entries of Apache Kafka's full DescribeConfigs
/// listing. A change of the factor is refused at plan time with the current and the wanted value.
#[tokio::test]
async fn kafka_replication_factor_three_with_config_then_no_op_and_a_change_is_refused() {
    let _serial = serial().await;
    let name = topic_name("it.rf3");
    let body = json!({"topics": [{"name": name, "partitions": 2, "replication_factor": 3,
        "config": {"min.insync.replicas": 2, "retention.ms": 7_200_000}}]});
    let created = go(&body, false).await.unwrap();
    assert_eq!(created["changes"][0]["status"], "applied", "{created}");
    assert_eq!(replica_counts(&name), [3, 3]);
    assert!(
        full_listing_len(&name).await > 20,
        "Apache Kafka lists every topic key, defaults included"
    );
    assert_eq!(
        config_of(&name).await,
        [
            ("min.insync.replicas".into(), Some("2".into())),
            ("retention.ms".into(), Some("7200000".into()))
        ]
    );

    let again = go(&body, false).await.unwrap();
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["stats"]["writes"], 0);

    let err = go(
        &json!({"topics": [{"name": name, "replication_factor": 2, "config": {"retention.ms": 1}}]}),
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Plan { .. }), "{err:?}");
    assert!(
        text.starts_with("topics[0].replication_factor:")
            && text.contains("has replication factor 3")
            && text.contains("changing it to 2"),
        "{text}"
    );
    assert!(text.contains("never by delete and re-create"), "{text}");
    assert_eq!(replica_counts(&name), [3, 3]);
    assert!(
        config_of(&name)
            .await
            .contains(&("retention.ms".into(), Some("7200000".into()))),
        "nothing of the refused run was applied"
    );
    go(&delete(&name), false).await.unwrap();
}

/// Restarts a stopped broker when dropped, so that a failing assertion leaves the cluster whole.
struct StoppedNode<'a>(&'a str);

fn node_action(action: &str, node: &str) {
    let k = kafka();
    let status = std::process::Command::new("bash")
        .args([SCRIPT, "--profile", &k.profile, action, node])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run kafka.sh");
    assert!(status.success(), "kafka.sh {action} {node} failed");
}

impl Drop for StoppedNode<'_> {
    fn drop(&mut self) {
        node_action("start-node", self.0);
    }
}

/// The first of the three bootstrap servers is down: the run reads and writes through the others.
#[tokio::test]
async fn kafka_run_succeeds_with_one_of_three_bootstrap_servers_down() {
    let _serial = serial().await;
    let k = kafka();
    assert_eq!(k.nodes.len(), 3, "needs the cluster profile, got nodes {:?}", k.nodes);
    let name = topic_name("it.failover");
    let down = &k.nodes[0];
    node_action("stop-node", down);
    let _restart = StoppedNode(down);
    let body = json!({"topics": [{"name": name, "partitions": 2, "replication_factor": 2,
        "config": {"retention.ms": 3_600_000}}]});
    let created = go(&body, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created["changes"][0]["status"], "applied", "{created}");
    assert_eq!(partitions_of(&name), Some(2));
    assert_eq!(go(&body, false).await.unwrap()["changed"], false);
    go(&delete(&name), false).await.unwrap();
}

pub(crate) fn sasl_conn(password: &str, ca_file: &str) -> Value {
    let k = kafka();
    json!({
        "bootstrap_servers": k.sasl_bootstrap.split(',').collect::<Vec<_>>(),
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": k.admin_user,
        "sasl_password": password,
        "ssl_cafile": ca_file,
        "timeout": 5,
    })
}

/// The whole run over SASL_SSL: SCRAM-SHA-512 and the broker certificate checked against the CA.
#[tokio::test]
async fn kafka_over_sasl_ssl_with_scram_creates_alters_and_deletes() {
    let _serial = serial().await;
    let k = kafka();
    let conn = sasl_conn(&k.admin_password, &k.ca_file);
    let name = topic_name("it.sasl");
    let body = json!({"kafka": conn, "topics": [{"name": name, "partitions": 2, "config": {"retention.ms": 60_000}}]});
    let created = go(&body, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created["changes"][0]["status"], "applied", "{created}");
    assert_eq!(partitions_of(&name), Some(2));
    assert_eq!(go(&body, false).await.unwrap()["changed"], false);
    let grown = json!({"kafka": conn, "topics": [{"name": name, "partitions": 3}]});
    go(&grown, false).await.unwrap();
    assert_eq!(partitions_of(&name), Some(3));
    go(
        &json!({"kafka": conn, "topics": [{"name": name, "state": "absent"}]}),
        false,
    )
    .await
    .unwrap();
    assert!(topic_gone(&name), "topic {name} is still in the metadata");
}

#[tokio::test]
async fn kafka_sasl_wrong_password_is_an_authentication_error_without_the_password() {
    let _serial = serial().await;
    let k = kafka();
    let wrong = "not-the-admin-password-4711";
    let err = go(
        &json!({"kafka": sasl_conn(wrong, &k.ca_file), "topics": [{"name": "it_sasl_denied"}]}),
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    assert!(text.contains("SASL authentication error"), "{text}");
    assert!(text.contains("kafka.sasl_password"), "{text}");
    assert!(!text.contains(wrong) && !format!("{err:?}").contains(wrong), "{text}");
    assert!(!text.contains(&k.admin_password));
}

#[tokio::test]
async fn kafka_sasl_ssl_with_a_ca_that_did_not_sign_the_broker_fails_on_verification() {
    let _serial = serial().await;
    let k = kafka();
    let other_ca = std::env::temp_dir().join(format!("osa-it-other-ca-{}.pem", std::process::id()));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=not the broker's CA",
        ])
        .arg("-keyout")
        .arg(std::env::temp_dir().join(format!("osa-it-other-ca-{}.key", std::process::id())))
        .arg("-out")
        .arg(&other_ca)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let err = go(
        &json!({"kafka": sasl_conn(&k.admin_password, other_ca.to_str().unwrap()), "topics": [{"name": "it_sasl_ca"}]}),
        false,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::ConnectionConfig { .. }), "{err:?}");
    assert!(text.contains("certificate verify failed"), "{text}");
    assert!(text.contains("kafka.ssl_cafile"), "{text}");
    assert!(!text.contains(&k.admin_password), "{text}");
}

/// A fresh cluster creates `__consumer_offsets` on the first group-coordinator lookup.
fn ensure_consumer_offsets() {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka().bootstrap)
        .set("group.id", "osa-it-offsets")
        .create()
        .expect("consumer");
    let deadline = Instant::now() + Duration::from_mins(1);
    while partitions_of("__consumer_offsets").is_none() {
        assert!(Instant::now() < deadline, "no __consumer_offsets after 60 s");
        let _ = consumer.committed(Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Declaring nothing about internal topics leaves them alone; naming one is refused (above).
#[tokio::test]
async fn kafka_runs_leave_consumer_offsets_untouched() {
    let _serial = serial().await;
    ensure_consumer_offsets();
    let before = partitions_of("__consumer_offsets");
    let before_config = config_of("__consumer_offsets").await;
    let name = topic_name("it.internal");
    let notif = json!({"notifications": {"topics": [name], "partitions": 1}});
    go(&notif, false).await.unwrap();
    let mut absent = notif.clone();
    absent["notifications"]["state"] = json!("absent");
    go(&absent, false).await.unwrap();
    assert!(before.is_some(), "the cluster has __consumer_offsets");
    assert_eq!(partitions_of("__consumer_offsets"), before);
    assert_eq!(config_of("__consumer_offsets").await, before_config);
}

/// The read without librdkafka (src/backend/kafka_wire.rs) sees what librdkafka's sees: partitions,
/// replication factor, the topics' own overrides and nothing else, over PLAINTEXT and over SASL_SSL
/// with SCRAM-SHA-512; a declared topic that does not exist is simply absent.
#[tokio::test]
async fn kafka_read_without_librdkafka_matches_librdkafkas_read() {
    use osa_hybrid_msg::backend::KafkaAdmin as _;
    use osa_hybrid_msg::backend::{kafka_rd::RdKafka, kafka_wire};
    use osa_hybrid_msg::deadline::Deadline;
    use osa_hybrid_msg::spec::KafkaConnection;

    let _serial = serial().await;
    let k = kafka();
    let (a, b, missing) = (
        topic_name("it.wire.a"),
        topic_name("it.wire.b"),
        topic_name("it.wire.none"),
    );
    let body = json!({"topics": [
        {"name": a, "partitions": 3, "replication_factor": 2, "config": {"retention.ms": 3_600_000, "cleanup.policy": "compact"}},
        {"name": b, "partitions": 1},
    ]});
    go(&body, false).await.unwrap_or_else(|e| panic!("{e}"));
    let declared = vec![a.clone(), b.clone(), missing.clone()];
    let plain = json!({"bootstrap_servers": bootstrap_list(), "timeout": 10});
    for conn in [plain, sasl_conn(&k.admin_password, &k.ca_file)] {
        let conn: KafkaConnection = serde_json::from_value(conn).expect("connection");
        assert!(kafka_wire::supports(&conn), "{conn:?}");
        // A new topic reaches each broker's metadata a moment after the creation is answered (CI once
        // read none from the first bootstrap server right after): both reads again until both see it.
        let mut tries = 0;
        let (wire, by_librdkafka) = loop {
            let wire = kafka_wire::snapshot(&conn, &declared, Duration::from_secs(10))
                .await
                .unwrap_or_else(|e| panic!("wire read over {:?}: {e}", conn.protocol()));
            let (backend, _) = RdKafka::connect(
                &conn,
                declared.clone(),
                Deadline::after(Duration::from_secs(10), "kafka.timeout"),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            let by_librdkafka = backend.snapshot(&declared).await.unwrap_or_else(|e| panic!("{e}"));
            backend.close();
            tries += 1;
            let seen = |t: &std::collections::BTreeMap<String, _>| t.contains_key(&a) && t.contains_key(&b);
            if (seen(&wire.topics) && seen(&by_librdkafka.topics)) || tries == 50 {
                break (wire, by_librdkafka);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(wire.topics, by_librdkafka.topics, "over {:?}", conn.protocol());
        let t = &wire.topics[&a];
        assert_eq!((t.partitions, t.replication_factor), (3, 2));
        assert_eq!(t.config.get("cleanup.policy").map(String::as_str), Some("compact"));
        assert_eq!(t.config.get("retention.ms").map(String::as_str), Some("3600000"));
        assert_eq!(t.config.len(), 2, "{:?}", t.config);
        assert!(wire.topics[&b].config.is_empty());
        assert!(!wire.topics.contains_key(&missing));
    }
    // A wrong password is the wire read's error (the run then asks librdkafka, whose error it reports).
    let wrong: KafkaConnection = serde_json::from_value(sasl_conn("not-the-password-0815", &k.ca_file)).unwrap();
    let refused = kafka_wire::snapshot(&wrong, &declared, Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(refused.contains("SASL authentication refused"), "{refused}");
    assert!(!refused.contains("not-the-password-0815"), "{refused}");
    go(
        &json!({"topics": [{"name": a, "state": "absent"}, {"name": b, "state": "absent"}]}),
        false,
    )
    .await
    .unwrap();
}

/// The first bootstrap server accepts the connection but is not Kafka: the read without librdkafka fails
/// on its answer, and the run reads (and writes) through librdkafka, which goes on to the next server.
#[tokio::test]
async fn kafka_run_reads_through_librdkafka_when_the_first_bootstrap_server_is_not_kafka() {
    let _serial = serial().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let junk = listener.local_addr().expect("address").to_string();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = std::sync::Arc::clone(&answered);
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let _ = socket
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let mut servers = vec![junk];
    servers.extend(bootstrap_list());
    let name = topic_name("it.notkafka");
    let body = json!({"kafka": {"bootstrap_servers": servers, "timeout": 20},
        "topics": [{"name": name, "partitions": 1, "config": {"retention.ms": 3_600_000}}]});
    let created = go(&body, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created["changes"][0]["status"], "applied", "{created}");
    let again = go(&body, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["stats"]["reads"], 2, "{again}");
    assert!(
        answered.load(std::sync::atomic::Ordering::Relaxed) >= 2,
        "the read without librdkafka asked the first server"
    );
    server.abort();
    go(&delete(&name), false).await.unwrap();
}
