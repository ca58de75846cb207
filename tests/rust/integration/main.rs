//! Integration tests against the real loopback RabbitMQ that `scripts/brokers/rabbitmq.sh` starts.
//! They fail (never skip) when the broker cannot be started. Kafka tests are in `kafka.rs`.

mod cluster;
mod kafka;
mod verify;

use std::sync::Once;
use std::time::{Duration, Instant};

use osa_hybrid_msg::error::{Broker as ErrBroker, Error};
use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::Request;
use serde_json::{Value, json};

pub(crate) fn ensure_broker() {
    static START: Once = Once::new();
    START.call_once(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/brokers/rabbitmq.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg("start")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run rabbitmq.sh");
        assert!(status.success(), "scripts/brokers/rabbitmq.sh start failed");
    });
}

/// The broker under test, from `OSA_RABBITMQ_*` (scripts/brokers/rabbitmq.sh's env file contract): the
/// environment when `scripts/test.sh` exported it, else the env file of `OSA_RABBITMQ_PROFILE` (default 4.3).
pub(crate) struct Broker {
    pub mgmt_urls: Vec<String>,
    pub amqp_urls: Vec<String>,
    pub amqps_urls: Vec<String>,
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub user: String,
    pub password: String,
    /// (major, minor): behaviour that differs across 3.10, 4.0 and 4.3 branches on it.
    pub version: (u32, u32),
}

pub(crate) fn broker() -> &'static Broker {
    static BROKER: std::sync::OnceLock<Broker> = std::sync::OnceLock::new();
    BROKER.get_or_init(|| {
        ensure_broker();
        let mut vars: std::collections::HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("OSA_RABBITMQ_"))
            .collect();
        if !vars.contains_key("OSA_RABBITMQ_MGMT_URLS") {
            let profile = vars.get("OSA_RABBITMQ_PROFILE").map_or("4.3", String::as_str);
            let path = format!("{}/.cache/brokers/rabbitmq-{profile}.env", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    vars.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let list = |k: &str| -> Vec<String> {
            vars.get(k)
                .map(|v| v.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let opt = |k: &str| vars.get(k).filter(|v| !v.is_empty()).cloned();
        let version = vars["OSA_RABBITMQ_VERSION"].clone();
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
        Broker {
            mgmt_urls: list("OSA_RABBITMQ_MGMT_URLS"),
            amqp_urls: list("OSA_RABBITMQ_AMQP_URLS"),
            amqps_urls: list("OSA_RABBITMQ_AMQPS_URLS"),
            ca_file: opt("OSA_RABBITMQ_CA_FILE"),
            client_cert: opt("OSA_RABBITMQ_CLIENT_CERT"),
            client_key: opt("OSA_RABBITMQ_CLIENT_KEY"),
            user: opt("OSA_RABBITMQ_USER").unwrap_or_else(|| "guest".into()),
            password: opt("OSA_RABBITMQ_PASSWORD").unwrap_or_else(|| "guest".into()),
            version: (parts.next().unwrap(), parts.next().unwrap()),
        }
    })
}

/// The first management URL of the broker under test.
pub(crate) fn mgmt() -> &'static str {
    &broker().mgmt_urls[0]
}

/// The module's `rabbitmq:` connection to the broker under test: every management URL, its CA.
pub(crate) fn conn() -> Value {
    let b = broker();
    let mut c = json!({"urls": b.mgmt_urls, "username": b.user, "password": b.password, "timeout": 10});
    if let Some(ca) = &b.ca_file {
        c["ca_cert"] = json!(ca);
    }
    c
}

/// A test-side HTTP client that trusts the broker's CA.
pub(crate) fn client() -> reqwest::Client {
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = &broker().ca_file {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// The tests share one broker and some compare whole snapshots, so they run one at a time.
pub(crate) async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn with_conn(mut body: Value) -> Request {
    if body.get("rabbitmq").is_none() {
        body["rabbitmq"] = conn();
    }
    Request::from_json(&body.to_string()).expect("valid request")
}

async fn go(body: &Value, check_mode: bool) -> Result<Value, Error> {
    ensure_broker();
    run(&with_conn(body.clone()), Options { check_mode, diff: true })
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

/// `GET /api/{path}` as the admin user, read outside the code under test; the raw body.
pub(crate) async fn mgmt_text(path: &str) -> String {
    client()
        .get(format!("{}/api/{path}", mgmt()))
        .basic_auth(&broker().user, Some(&broker().password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Raw definitions, read outside the code under test.
async fn definitions() -> String {
    mgmt_text("definitions").await
}

/// Logs in as `user` through the management API (a test-side check, not something the module does).
async fn can_log_in(user: &str, password: &str) -> bool {
    client()
        .get(format!("{}/api/whoami", mgmt()))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

fn topology(svc: &str, password: &str) -> Value {
    json!({
        "vhosts": [{"name": format!("/{svc}"), "state": "absent"}, {"name": svc, "description": "it"}],
        "users": [{"name": svc, "password": password, "tags": ["management"],
                   "permissions": [{"vhost": svc, "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "CQv2", "vhost": svc, "pattern": ".*", "tags": {"queue-version": 2}},
                     {"name": "notify-limit", "vhost": svc, "pattern": "^notifications\\.", "apply_to": "queues",
                      "priority": 1, "definition": {"max-length": 10000, "overflow": "reject-publish", "queue-version": 2}}]
    })
}

fn cleanup(svc: &str) -> Value {
    json!({"vhosts": [{"name": svc, "state": "absent"}], "users": [{"name": svc, "state": "absent"}]})
}

#[tokio::test]
async fn creates_then_a_second_run_reads_once_and_writes_nothing() {
    let _serial = serial().await;
    let svc = unique("it-noop");
    let first = go(&topology(&svc, "pw-1"), false).await.unwrap();
    assert_eq!(first["changed"], true);
    assert_eq!(first["changes"].as_array().unwrap().len(), 5, "{first}");
    let second = go(&topology(&svc, "pw-1"), false).await.unwrap();
    assert_eq!(second["changed"], false, "{second}");
    assert_eq!(second["stats"]["writes"], 0);
    // definitions + vhost metadata: O(1) reads whatever the number of objects.
    assert_eq!(second["stats"]["reads"], 2);
    assert!(can_log_in(&svc, "pw-1").await);
    go(&cleanup(&svc), false).await.unwrap();
}

#[tokio::test]
async fn a_no_op_without_vhost_metadata_is_one_read() {
    let _serial = serial().await;
    let svc = unique("it-oneread");
    let body = json!({
        "vhosts": [{"name": svc}],
        "users": [{"name": svc, "password": "pw-1",
                   "permissions": [{"vhost": svc, "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "CQv2", "vhost": svc, "pattern": ".*", "tags": {"queue-version": 2}}]
    });
    assert_eq!(go(&body, false).await.unwrap()["changed"], true);
    let second = go(&body, false).await.unwrap();
    assert_eq!(second["changed"], false, "{second}");
    // GET /api/definitions alone: no vhost manages a description, tags or queue type, none is deleted.
    assert_eq!(second["stats"]["reads"], 1, "{second}");
    go(&cleanup(&svc), false).await.unwrap();
}

#[tokio::test]
async fn check_mode_leaves_definitions_byte_identical() {
    let _serial = serial().await;
    let svc = unique("it-check");
    ensure_broker();
    let before = definitions().await;
    let planned = go(&topology(&svc, "pw"), true).await.unwrap();
    assert_eq!(planned["changed"], true);
    assert!(
        planned["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "planned")
    );
    assert!(before == definitions().await, "check mode changed /api/definitions");
}

#[tokio::test]
async fn password_change_applies_and_a_later_tags_change_keeps_it() {
    let _serial = serial().await;
    let svc = unique("it-pw");
    go(&topology(&svc, "first"), false).await.unwrap();
    let changed = go(&topology(&svc, "second"), false).await.unwrap();
    let user_change = &changed["changes"][0];
    assert_eq!(user_change["kind"], "user");
    assert_eq!(user_change["fields"]["password"]["after"], "<hidden, changed>");
    assert!(can_log_in(&svc, "second").await);
    assert!(!can_log_in(&svc, "first").await);

    let mut tags_only = topology(&svc, "second");
    tags_only["users"][0]["tags"] = json!(["monitoring"]);
    let r = go(&tags_only, false).await.unwrap();
    assert_eq!(r["changes"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(
        r["changes"][0]["fields"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["tags"]
    );
    assert!(
        can_log_in(&svc, "second").await,
        "a tags-only change must keep the password"
    );

    let mut perms_only = tags_only.clone();
    perms_only["users"][0]["permissions"][0]["configure"] = json!("^$");
    perms_only["users"][0].as_object_mut().unwrap().remove("password");
    go(&perms_only, false).await.unwrap();
    assert!(
        can_log_in(&svc, "second").await,
        "a permissions-only change must keep the password"
    );
    go(&cleanup(&svc), false).await.unwrap();
}

#[tokio::test]
async fn vhost_names_with_slashes_are_percent_encoded() {
    let _serial = serial().await;
    let svc = format!("osa/{}/x", unique("it-slash"));
    let body = json!({
        "vhosts": [{"name": svc, "tags": ["a"]}],
        "users": [{"name": "it-slash-user", "password": "pw",
                   "permissions": [{"vhost": svc, "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "p/q", "vhost": svc, "pattern": ".*", "definition": {"max-length": 5}}]
    });
    go(&body, false).await.unwrap();
    let defs: Value = serde_json::from_str(&definitions().await).unwrap();
    assert!(
        defs["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["vhost"] == svc.as_str() && p["name"] == "p/q")
    );
    assert_eq!(go(&body, false).await.unwrap()["changed"], false);
    go(
        &json!({"vhosts": [{"name": svc, "state": "absent"}], "users": [{"name": "it-slash-user", "state": "absent"}]}),
        false,
    )
    .await
    .unwrap();
    let again = go(&json!({"vhosts": [{"name": svc, "state": "absent"}]}), false)
        .await
        .unwrap();
    assert_eq!(again["changed"], false, "deleting what is gone is not a change");
}

#[tokio::test]
async fn a_closed_first_url_fails_over_to_the_next() {
    let _serial = serial().await;
    let svc = unique("it-failover");
    let mut body = json!({"vhosts": [{"name": svc}]});
    body["rabbitmq"] = conn();
    body["rabbitmq"]["urls"] = json!(["http://127.0.0.1:1", mgmt()]);
    body["rabbitmq"]["timeout"] = json!(5);
    let r = go(&body, false).await.unwrap();
    assert_eq!(r["endpoint"], format!("{}/api", mgmt()));
    assert_eq!(r["changed"], true);
    go(&json!({"vhosts": [{"name": svc, "state": "absent"}]}), false)
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_endpoints_are_each_named() {
    let _serial = serial().await;
    let mut body = json!({"vhosts": [{"name": "x"}]});
    body["rabbitmq"] = json!({"urls": ["http://127.0.0.1:1", "http://127.0.0.1:2"], "timeout": 5});
    let err = go(&body, false).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Unreachable {
                broker: ErrBroker::RabbitMq,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(text.contains("127.0.0.1:1") && text.contains("127.0.0.1:2"), "{text}");
}

#[tokio::test]
async fn a_silent_endpoint_times_out_within_the_timeout() {
    let _serial = serial().await;
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut body = json!({"vhosts": [{"name": "x"}]});
    body["rabbitmq"] = json!({"urls": [url], "timeout": 1});
    let started = Instant::now();
    let err = go(&body, false).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("timed out after 1s"), "{err}");
    drop(listener);
}

#[tokio::test]
async fn bad_credentials_are_an_authentication_error() {
    let _serial = serial().await;
    let mut body = json!({"vhosts": [{"name": "x"}]});
    body["rabbitmq"] = conn();
    body["rabbitmq"]["password"] = json!("wrong-password-123");
    let err = go(&body, false).await.unwrap_err();
    assert!(matches!(err, Error::Authentication { status: 401, .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong-password-123"));
}

#[tokio::test]
async fn a_broker_rejection_carries_its_reason_and_what_was_applied() {
    let _serial = serial().await;
    let svc = unique("it-reject");
    let body = json!({
        "vhosts": [{"name": svc}],
        "policies": [{"name": "bad", "vhost": svc, "pattern": ".*", "definition": {"max-length": "lots"}}]
    });
    let err = go(&body, false).await.unwrap_err();
    let Error::PartialApply { result: report, cause } = &err else {
        panic!("expected PartialApply, got {err:?}")
    };
    assert!(matches!(**cause, Error::Api { status: 400, .. }), "{cause:?}");
    let text = err.to_string();
    assert!(text.contains("is not a valid maximum length"), "{text}");
    assert!(text.contains(&format!("Applied: create vhost '{svc}'")), "{text}");
    assert!(
        text.contains(&format!("Failed: create policy 'bad' on vhost '{svc}'")),
        "{text}"
    );
    assert_eq!(report.changes.len(), 2);
    go(&json!({"vhosts": [{"name": svc, "state": "absent"}]}), false)
        .await
        .unwrap();
}
