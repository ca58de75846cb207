//! `verify` against the real loopback RabbitMQ (scripts/brokers/rabbitmq.sh's broker under test) and the
//! Apache Kafka cluster of `scripts/brokers/kafka.sh`.
//!
//! The run-level tests go through `run()`, as the module does. Two failures the planner makes
//! unreachable through a declaration, a user without any permission on the vhost it opens and a vhost
//! that does not exist, are produced by calling the probe with such a target: after apply, every
//! declared user holds a permission on every vhost it is probed on.

use std::time::Duration;

use osa_hybrid_msg::backend::rabbit_http::HttpRabbit;
use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::{KafkaConnection, RabbitConnection, Request};
use osa_hybrid_msg::verify::{AmqpSettings, AmqpTarget, KafkaTarget, Mode, ProbeStatus, probe_amqp, probe_kafka};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{Value, json};

use super::kafka::{bootstrap_list, kafka};
use super::{broker, ensure_broker, mgmt_text, serial, unique};

fn amqp_url() -> &'static str {
    &broker().amqp_urls[0]
}

fn rabbit_conn() -> Value {
    let mut c = super::conn();
    c["amqp_urls"] = json!([amqp_url()]);
    c
}

fn kafka_conn() -> Value {
    json!({"bootstrap_servers": bootstrap_list(), "timeout": 15})
}

async fn go(mut body: Value, check_mode: bool) -> Result<Value, Error> {
    ensure_broker();
    body["rabbitmq"] = rabbit_conn();
    if body.get("topics").is_some() || body.get("notifications").is_some() {
        body["kafka"] = kafka_conn();
    }
    let request = Request::from_json(&body.to_string()).expect("valid request");
    // Boxed: with the request beside it, the run's future is over clippy's large_futures limit.
    Box::pin(run(
        &request,
        Options {
            check_mode,
            diff: false,
        },
    ))
    .await
    .map(|r| serde_json::to_value(r).unwrap())
}

/// `GET /api/{path}` as the admin user, outside the code under test.
async fn mgmt_get(path: &str) -> Value {
    serde_json::from_str(&mgmt_text(path).await).unwrap_or(Value::Null)
}

/// The definitions of the objects whose names contain `tag`: other tests share the broker.
async fn definitions_of(tag: &str) -> Value {
    let defs = mgmt_get("definitions").await;
    let mut out = serde_json::Map::new();
    for section in [
        "users",
        "vhosts",
        "permissions",
        "policies",
        "queues",
        "exchanges",
        "bindings",
    ] {
        let items: Vec<Value> = defs[section]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|item| item.to_string().contains(tag))
            .collect();
        out.insert(section.to_owned(), Value::Array(items));
    }
    Value::Object(out)
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Names of the probe queues anywhere on the broker.
async fn probe_queues() -> Vec<String> {
    mgmt_get("queues?columns=name,vhost")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|q| q["name"].as_str())
        .filter(|n| n.starts_with("osa_hybrid_msg.probe."))
        .map(str::to_owned)
        .collect()
}

fn kafka_client() -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &kafka().bootstrap);
    cfg
}

fn topic_exists(name: &str) -> bool {
    let consumer: BaseConsumer = kafka_client().create().unwrap();
    let md = consumer.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics().iter().any(|t| t.name() == name && t.error().is_none())
}

/// The sum of the high watermarks of a topic's partitions: how many records it ever took.
fn records_in(name: &str) -> i64 {
    let consumer: BaseConsumer = kafka_client().create().unwrap();
    let md = consumer.fetch_metadata(Some(name), Duration::from_secs(10)).unwrap();
    let partitions = md.topics()[0].partitions().len();
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(name, i32::try_from(p).unwrap(), Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum()
}

fn probe_groups() -> Vec<String> {
    let consumer: BaseConsumer = kafka_client().create().unwrap();
    consumer
        .fetch_group_list(None, Duration::from_secs(10))
        .map(|l| {
            l.groups()
                .iter()
                .map(|g| g.name().to_owned())
                .filter(|n| n.starts_with("osa_hybrid_msg.probe."))
                .collect()
        })
        .unwrap_or_default()
}

fn service(vhost: &str, user: &str, password: &str) -> Value {
    json!({
        "vhosts": [{"name": vhost}],
        "users": [{"name": user, "password": password,
                   "permissions": [{"vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "probe-cap", "vhost": vhost, "pattern": "^osa_hybrid_msg\\.probe\\.",
                      "apply_to": "queues", "priority": 5, "definition": {"max-length": 10}}]
    })
}

async fn cleanup(vhosts: &[&str], users: &[&str]) {
    let body = json!({
        "vhosts": vhosts.iter().map(|v| json!({"name": v, "state": "absent"})).collect::<Vec<_>>(),
        "users": users.iter().map(|u| json!({"name": u, "state": "absent"})).collect::<Vec<_>>(),
    });
    go(body, false).await.unwrap();
}

fn settings() -> AmqpSettings {
    AmqpSettings::new(&serde_json::from_value::<RabbitConnection>(rabbit_conn()).unwrap())
}

fn target(user: &str, vhost: &str, password: &str) -> AmqpTarget {
    AmqpTarget {
        user: user.into(),
        vhost: vhost.into(),
        password: Some(osa_hybrid_msg::plan::Secret::new(password)),
        configure: Some(".*".into()),
        skip: None,
        hint: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_reports_the_applied_policy_and_leaves_nothing_behind() {
    let _serial = serial().await;
    let svc = unique("it-verify-ok");
    let topic = format!("{}.info", svc.replace('-', "_"));
    let mut body = service(&svc, &svc, "pw-ok");
    body["topics"] = json!([{"name": topic, "partitions": 2}]);
    body["verify"] = json!(["amqp", "kafka"]);
    let result = go(body, false).await.unwrap_or_else(|e| panic!("{e}"));
    let v = &result["verify"];
    assert_eq!(v["mode"], "full");
    assert_eq!(v["ok"], true, "{v:#}");
    let amqp = &v["amqp"][0];
    assert_eq!(
        (amqp["user"].as_str(), amqp["vhost"].as_str()),
        (Some(&*svc), Some(&*svc))
    );
    assert_eq!(amqp["status"], "ok", "{amqp:#}");
    assert_eq!(amqp["url"], amqp_url());
    let queue = &amqp["queue"];
    assert!(queue["name"].as_str().unwrap().starts_with("osa_hybrid_msg.probe."));
    assert_eq!(queue["type"], "quorum");
    assert_eq!(queue["policy"], "probe-cap");
    assert_eq!(queue["policy_definition"]["max-length"], 10);
    assert_eq!(queue["deleted"], true);
    let hops: Vec<&String> = amqp["hops"].as_object().unwrap().keys().collect();
    assert_eq!(
        hops,
        ["connect", "channel", "declare", "publish", "get", "policy", "delete"]
    );
    let kafka = &v["kafka"][0];
    assert_eq!(kafka["topic"], topic.as_str());
    assert_eq!(kafka["status"], "ok", "{kafka:#}");
    assert_eq!(kafka["partitions"], 2);
    assert!(kafka["offset"].as_i64().unwrap() >= 0);
    assert_eq!(records_in(&topic), 1, "exactly one probe record");
    eprintln!(
        "measured: amqp probe {} ms {}; kafka probe {} ms {}; group {}",
        amqp["ms"], amqp["hops"], kafka["ms"], kafka["hops"], v["consumer_group"]
    );
    let group = v["consumer_group"]["name"].as_str().unwrap();
    if v["consumer_group"]["deleted"] == true {
        assert!(
            !probe_groups().contains(&group.to_owned()),
            "group {group} still listed"
        );
    } else {
        // The broker refused DeleteGroups: that is a warning, with its reason, not a failure.
        let warnings = result["warnings"].to_string();
        assert!(warnings.contains(group), "{warnings}");
    }
    assert!(
        !probe_queues()
            .await
            .iter()
            .any(|q| q == queue["name"].as_str().unwrap()),
        "probe queue left behind"
    );
    assert_eq!(
        mgmt_get(&format!("queues/{}", enc(&svc))).await,
        json!([]),
        "no queue at all in the vhost"
    );
    go(json!({"topics": [{"name": topic, "state": "absent"}]}), false)
        .await
        .unwrap();
    cleanup(&[&svc], &[&svc]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail_at_login_and_what_was_applied_stays_applied() {
    let _serial = serial().await;
    let svc = unique("it-verify-pw");
    go(service(&svc, &svc, "the-right-one"), false).await.unwrap();
    // update_password: on_create keeps the broker's password, so the declared one is wrong.
    let mut body = service(&svc, &svc, "Wrong-Secret-4711");
    body["users"][0]["update_password"] = json!("on_create");
    body["policies"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "added", "vhost": svc, "pattern": "^x$", "definition": {"max-length": 1}}));
    body["verify"] = json!("amqp");
    let err = go(body, false).await.unwrap_err();
    let Error::Verify { message, result } = &err else {
        panic!("expected Error::Verify, got {err:?}")
    };
    let result = serde_json::to_value(result).unwrap();
    assert!(
        message.contains(&format!(
            "user '{svc}' on vhost '{svc}' failed at login: ACCESS_REFUSED"
        )),
        "{message}"
    );
    assert!(message.contains("update_password is on_create"), "{message}");
    assert!(
        message.contains(&format!(
            "applied and stay applied: create policy 'added' on vhost '{svc}'"
        )),
        "{message}"
    );
    assert!(!message.contains("Wrong-Secret-4711") && !result.to_string().contains("Wrong-Secret-4711"));
    assert_eq!(result["changes"][0]["status"], "applied");
    assert_eq!(result["verify"]["amqp"][0]["hop"], "login");
    assert_eq!(result["verify"]["ok"], false);
    assert_eq!(
        mgmt_get(&format!("policies/{}/added", enc(&svc))).await["name"],
        "added"
    );
    cleanup(&[&svc], &[&svc]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_permission_on_the_vhost_is_refused_at_vhost_open() {
    let _serial = serial().await;
    let own = unique("it-verify-own");
    let other = unique("it-verify-other");
    let mut body = service(&own, &own, "pw");
    body["vhosts"].as_array_mut().unwrap().push(json!({"name": other}));
    go(body, false).await.unwrap();
    let probe = probe_amqp(
        &settings(),
        None::<&HttpRabbit>,
        &target(&own, &other, "pw"),
        Mode::Full,
    )
    .await;
    assert_eq!(probe.status, ProbeStatus::Failed);
    assert_eq!(probe.hop, Some("vhost"));
    let error = probe.error.unwrap();
    assert!(
        error.starts_with("NOT_ALLOWED - access to vhost") && error.contains("refused for user"),
        "{error}"
    );
    cleanup(&[&own, &other], &[&own]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vhost_that_does_not_exist_is_reported_as_not_found() {
    let _serial = serial().await;
    ensure_broker();
    let missing = unique("it-verify-missing");
    let probe = probe_amqp(
        &settings(),
        None::<&HttpRabbit>,
        &target(&broker().user, &missing, &broker().password),
        Mode::ReadOnly,
    )
    .await;
    assert_eq!(probe.status, ProbeStatus::Failed);
    assert_eq!(probe.hop, Some("vhost"));
    assert_eq!(
        probe.error.as_deref(),
        Some(format!("NOT_ALLOWED - vhost {missing} not found").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_amqp_port_fails_at_connect_within_the_timeout_and_names_each_url() {
    let _serial = serial().await;
    let mut conn = rabbit_conn();
    conn["amqp_urls"] = json!(["amqp://127.0.0.1:1", "amqp://127.0.0.1:2"]);
    conn["timeout"] = json!(2);
    let settings = AmqpSettings::new(&serde_json::from_value::<RabbitConnection>(conn).unwrap());
    let started = std::time::Instant::now();
    let probe = probe_amqp(
        &settings,
        None::<&HttpRabbit>,
        &target("guest", "/", "guest"),
        Mode::Full,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    assert_eq!(probe.hop, Some("connect"));
    let error = probe.error.unwrap();
    assert!(
        error.contains("amqp://127.0.0.1:1") && error.contains("amqp://127.0.0.1:2"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_fails_at_publish_and_the_probe_queue_is_still_deleted() {
    let _serial = serial().await;
    let svc = unique("it-verify-write");
    let mut body = service(&svc, &svc, "pw");
    body["users"][0]["permissions"][0]["write"] = json!("^$");
    body["verify"] = json!(true);
    let err = go(body, false).await.unwrap_err();
    let Error::Verify { message, result } = &err else {
        panic!("expected Error::Verify, got {err:?}")
    };
    let result = serde_json::to_value(result).unwrap();
    assert!(message.contains("failed at publish: ACCESS_REFUSED"), "{message}");
    let probe = &result["verify"]["amqp"][0];
    assert_eq!(probe["queue"]["deleted"], true, "{probe:#}");
    assert_eq!(mgmt_get(&format!("queues/{}", enc(&svc))).await, json!([]));
    cleanup(&[&svc], &[&svc]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configure_permission_that_excludes_the_probe_name_checks_the_login_only() {
    let _serial = serial().await;
    let svc = unique("it-verify-cfg");
    let mut body = service(&svc, &svc, "pw");
    body["users"][0]["permissions"][0]["configure"] = json!("^nova\\.");
    body["verify"] = json!(["amqp"]);
    let result = go(body, false).await.unwrap_or_else(|e| panic!("{e}"));
    let probe = &result["verify"]["amqp"][0];
    assert_eq!(probe["status"], "ok");
    assert_eq!(probe["queue"], Value::Null);
    assert!(probe["note"].as_str().unwrap().contains("^nova\\."), "{probe:#}");
    cleanup(&[&svc], &[&svc]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_fails_at_metadata_and_the_probe_does_not_create_it() {
    let _serial = serial().await;
    let missing = unique("it.verify.missing").replace('-', "_");
    let conn: KafkaConnection = serde_json::from_value(kafka_conn()).unwrap();
    let targets = [KafkaTarget {
        topic: missing.clone(),
        skip: None,
    }];
    let (probes, group) = probe_kafka(&conn, &targets, Mode::Full).await;
    assert_eq!(probes[0].status, ProbeStatus::Failed);
    assert_eq!(probes[0].hop, Some("metadata"));
    assert!(
        probes[0]
            .error
            .as_deref()
            .unwrap()
            .contains("Unknown topic or partition"),
        "{:?}",
        probes[0].error
    );
    assert!(group.is_none(), "no record, so no consumer group");
    assert!(!topic_exists(&missing), "the probe created {missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_mode_runs_only_probes_that_write_nothing() {
    let _serial = serial().await;
    let svc = unique("it-verify-check");
    let topic = format!("{}.info", svc.replace('-', "_"));
    let mut body = service(&svc, &svc, "pw");
    body["topics"] = json!([{"name": topic}]);
    go(body.clone(), false).await.unwrap();
    let groups_before = probe_groups();
    let records_before = records_in(&topic);

    // One more user, vhost and topic that do not exist yet, and a policy change: all planned, none made.
    let new_vhost = format!("{svc}-new");
    let new_user = format!("{svc}-new");
    let new_topic = format!("{topic}.new");
    body["vhosts"].as_array_mut().unwrap().push(json!({"name": new_vhost}));
    body["users"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": new_user, "password": "pw2",
        "permissions": [{"vhost": new_vhost, "configure": ".*", "write": ".*", "read": ".*"}]}));
    body["topics"].as_array_mut().unwrap().push(json!({"name": new_topic}));
    body["policies"][0]["definition"] = json!({"max-length": 20});
    body["verify"] = json!(true);
    ensure_broker();
    let definitions_before = definitions_of(&svc).await;
    assert_eq!(definitions_before["users"].as_array().unwrap().len(), 1);
    let result = go(body, true).await.unwrap();
    let v = &result["verify"];
    assert_eq!(v["mode"], "read_only");
    assert_eq!(v["ok"], true, "{v:#}");
    let probes = v["amqp"].as_array().unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[0]["status"], "ok");
    let hops: Vec<&String> = probes[0]["hops"].as_object().unwrap().keys().collect();
    assert_eq!(hops, ["connect", "channel", "passive"]);
    assert_eq!(probes[0]["queue"], Value::Null);
    assert_eq!(probes[1]["status"], "skipped");
    assert_eq!(probes[1]["reason"], "the user does not exist yet (planned: create)");
    let kafka = v["kafka"].as_array().unwrap();
    assert_eq!(kafka[0]["status"], "ok");
    assert_eq!(
        kafka[0]["hops"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["metadata"]
    );
    assert_eq!(kafka[1]["status"], "skipped");
    assert_eq!(v["consumer_group"], Value::Null);

    assert!(
        definitions_of(&svc).await == definitions_before,
        "check mode changed the definitions"
    );
    assert_eq!(mgmt_get(&format!("queues/{}", enc(&svc))).await, json!([]));
    assert_eq!(records_in(&topic), records_before, "check mode produced a record");
    assert!(!topic_exists(&new_topic));
    assert_eq!(probe_groups(), groups_before, "check mode made a consumer group");

    go(json!({"topics": [{"name": topic, "state": "absent"}]}), false)
        .await
        .unwrap();
    cleanup(&[&svc], &[&svc]).await;
}
