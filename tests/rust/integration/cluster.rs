//! The production shape, through `run()`: a three-node RabbitMQ 4.x cluster with HTTPS management and AMQPS
//! (scripts/brokers/rabbitmq.sh, profiles 4.0 and 4.3). Against the 3.10 profile, which has neither, they fail.

use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::Request;
use serde_json::{Value, json};

use super::{broker, conn, ensure_broker, serial, unique};

/// The broker under test, which must be a 4.x cluster with TLS (the 3.10 profile has neither).
fn cluster() -> &'static super::Broker {
    let b = broker();
    assert!(
        b.version >= (4, 0) && b.mgmt_urls.len() == 3 && b.amqps_urls.len() == 3,
        "these tests need the 4.0 or 4.3 profile"
    );
    b
}

async fn go(body: &Value) -> Value {
    ensure_broker();
    let request = Request::from_json(&body.to_string()).expect("valid request");
    Box::pin(run(
        &request,
        Options {
            check_mode: false,
            diff: false,
        },
    ))
    .await
    .map_or_else(|e| panic!("{e}"), |r| serde_json::to_value(r).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_the_ca_and_a_client_certificate_converges_on_the_third_node() {
    let _serial = serial().await;
    let b = cluster();
    let svc = unique("it-tls");
    let mut c = conn();
    c["urls"] = json!([b.mgmt_urls[2]]);
    c["client_cert"] = json!(b.client_cert.as_deref().expect("OSA_RABBITMQ_CLIENT_CERT"));
    c["client_key"] = json!(b.client_key.as_deref().expect("OSA_RABBITMQ_CLIENT_KEY"));
    assert!(b.mgmt_urls[2].starts_with("https://"), "{:?}", b.mgmt_urls);
    let first = go(&json!({"rabbitmq": c, "vhosts": [{"name": svc}]})).await;
    assert_eq!(first["changed"], true);
    assert_eq!(first["endpoint"], format!("{}/api", b.mgmt_urls[2]));
    let second = go(&json!({"rabbitmq": c, "vhosts": [{"name": svc}]})).await;
    assert_eq!(second["changed"], false);
    go(&json!({"rabbitmq": c, "vhosts": [{"name": svc, "state": "absent"}]})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_over_amqps_with_the_ca_declares_a_quorum_probe_queue() {
    let _serial = serial().await;
    let b = cluster();
    let svc = unique("it-amqps");
    let mut c = conn();
    c["amqp_urls"] = json!([b.amqps_urls[1]]);
    let body = json!({
        "rabbitmq": c,
        "vhosts": [{"name": svc}],
        "users": [{"name": svc, "password": "pw-amqps",
                   "permissions": [{"vhost": svc, "configure": ".*", "write": ".*", "read": ".*"}]}],
        "verify": ["amqp"],
    });
    let result = go(&body).await;
    let probe = &result["verify"]["amqp"][0];
    assert_eq!(probe["status"], "ok", "{probe:#}");
    assert_eq!(probe["url"], b.amqps_urls[1]);
    assert_eq!(probe["queue"]["type"], "quorum");
    go(&json!({"rabbitmq": c, "vhosts": [{"name": svc, "state": "absent"}], "users": [{"name": svc, "state": "absent"}]}))
        .await;
}
