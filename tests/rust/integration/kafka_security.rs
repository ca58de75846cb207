//! Kafka SCRAM users and ACLs against the loopback three-broker Apache Kafka cluster over SASL_SSL
//! (SCRAM-SHA-512 admin, StandardAuthorizer). Logins are checked independently with a client of the
//! test's own; every user and ACL made here has a unique name and is removed at the end.

use std::time::Duration;

use osa_hybrid_msg::run::{Options, run};
use osa_hybrid_msg::spec::Request;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use serde_json::{Value, json};

use super::{kafka, sasl_conn};
use crate::{serial, unique};

async fn go(body: &Value, check_mode: bool) -> Value {
    let k = kafka();
    let mut body = body.clone();
    body["kafka"] = sasl_conn(&k.admin_password, &k.ca_file);
    body["kafka"]["timeout"] = json!(10);
    let request = Request::from_json(&body.to_string()).expect("valid request");
    match run(&request, Options { check_mode, diff: true }).await {
        Ok(r) => serde_json::to_value(r).unwrap(),
        Err(e) => panic!("run failed: {e}"),
    }
}

/// Logs in as `user` over SASL_SSL and reads metadata: the broker's own answer, not the module's.
fn can_login(user: &str, password: &str) -> bool {
    let k = kafka();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &k.sasl_bootstrap)
        .set("security.protocol", "SASL_SSL")
        .set("sasl.mechanism", "SCRAM-SHA-512")
        .set("sasl.username", user)
        .set("sasl.password", password)
        .set("ssl.ca.location", &k.ca_file)
        .create()
        .expect("client");
    admin.inner().fetch_metadata(None, Duration::from_secs(3)).is_ok()
}

fn kinds(result: &Value) -> Vec<(String, String)> {
    result["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn scram_user_converges_then_a_second_run_only_reads_and_a_new_password_is_applied() {
    let _serial = serial().await;
    let user = unique("it-scram");
    let (old, new) = ("old/pass:w@rd%41", "new/pass:w@rd%42");
    let declare = |pw: &str| json!({"kafka_users": [{"name": user, "password": pw, "iterations": 8192}]});

    let planned = go(&declare(old), true).await;
    assert_eq!(kinds(&planned), [("kafka_user".into(), "create".into())], "{planned}");
    assert!(!can_login(&user, old), "check mode created the user");

    let created = go(&declare(old), false).await;
    assert_eq!(created["changes"][0]["status"], "applied", "{created}");
    assert_eq!(created["diff"], planned["diff"]);
    assert!(can_login(&user, old));

    let again = go(&declare(old), false).await;
    assert_eq!(again["changed"], false, "{again}");
    // Metadata and DescribeUserScramCredentials; the login test is no admin request and writes nothing.
    assert_eq!(again["backends"]["kafka"]["reads"], 2, "{again}");
    assert_eq!(again["backends"]["kafka"]["writes"], 0, "{again}");

    let rotate_plan = go(&declare(new), true).await;
    assert_eq!(kinds(&rotate_plan), [("kafka_user".into(), "update".into())]);
    assert_eq!(
        rotate_plan["changes"][0]["fields"]["password"]["after"],
        "<hidden, changed>"
    );
    assert!(can_login(&user, old), "check mode changed the password");
    let rotated = go(&declare(new), false).await;
    assert_eq!(rotated["changes"][0]["status"], "applied");
    assert!(can_login(&user, new));
    assert!(!can_login(&user, old));
    assert_eq!(go(&declare(new), false).await["changed"], false);

    let on_create = json!({"kafka_users": [{"name": user, "password": "other", "update_password": "on_create", "iterations": 8192}]});
    assert_eq!(go(&on_create, false).await["changed"], false);
    let more_iterations = json!({"kafka_users": [{"name": user, "password": new, "iterations": 4096}]});
    let updated = go(&more_iterations, false).await;
    assert_eq!(
        updated["changes"][0]["fields"]["iterations"]["after"], 4096,
        "{updated}"
    );

    let deleted = go(&json!({"kafka_users": [{"name": user, "state": "absent"}]}), false).await;
    assert_eq!(kinds(&deleted), [("kafka_user".into(), "delete".into())]);
    assert!(!can_login(&user, new));
    assert_eq!(
        go(&json!({"kafka_users": [{"name": user, "state": "absent"}]}), false).await["changed"],
        false
    );

    for r in [&planned, &created, &again, &rotate_plan, &rotated, &updated, &deleted] {
        let text = r.to_string();
        assert!(!text.contains("pass:w@rd"), "a password reached the result: {text}");
    }
}

#[tokio::test]
async fn acls_converge_come_back_when_removed_and_extras_go_only_with_purge() {
    let _serial = serial().await;
    let principal = format!("User:{}", unique("it-acl"));
    let topic = unique("it.acl.topic");
    let declared = json!([
        {"principal": principal, "resource_type": "topic", "resource_name": topic, "operations": ["write", "describe"]},
        {"principal": principal, "resource_type": "group", "resource_name": topic, "operations": ["read"]},
    ]);
    let body = json!({"kafka_acls": declared});

    let planned = go(&body, true).await;
    assert_eq!(planned["changes"].as_array().unwrap().len(), 3, "{planned}");
    assert_eq!(
        go(&body, true).await["changes"].as_array().unwrap().len(),
        3,
        "check mode wrote"
    );
    let created = go(&body, false).await;
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "applied"),
        "{created}"
    );
    assert_eq!(
        created["backends"]["kafka"]["writes"], 1,
        "one CreateAcls for three bindings"
    );
    let again = go(&body, false).await;
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["backends"]["kafka"]["reads"], 2, "metadata and one DescribeAcls");

    // Removed by hand: one binding declared absent, then the declaration brings it back.
    let removed = json!({"kafka_acls": [{"principal": principal, "resource_type": "topic", "resource_name": topic, "operations": ["write"], "state": "absent"}]});
    assert_eq!(
        kinds(&go(&removed, false).await),
        [("kafka_acl".into(), "delete".into())]
    );
    let back = go(&body, false).await;
    assert_eq!(kinds(&back), [("kafka_acl".into(), "create".into())], "{back}");

    // An extra binding for the principal stays without purge and goes with it.
    let extra = json!({"kafka_acls": [{"principal": principal, "resource_type": "topic", "resource_name": topic, "pattern_type": "prefixed", "operations": ["read"]}]});
    go(&extra, false).await;
    assert_eq!(go(&body, false).await["changed"], false);
    let mut purge = body.clone();
    purge["purge_kafka_acls"] = json!(true);
    let purged = go(&purge, false).await;
    assert_eq!(kinds(&purged), [("kafka_acl".into(), "delete".into())], "{purged}");
    assert_eq!(purged["changes"][0]["fields"]["pattern_type"]["before"], "prefixed");
    assert_eq!(go(&purge, false).await["changed"], false);

    let gone = json!({"kafka_acls": [{"principal": principal, "resource_type": "topic", "resource_name": topic, "operations": ["write"]}], "purge_kafka_acls": true});
    let mut cleanup = gone.clone();
    cleanup["kafka_acls"][0]["state"] = json!("absent");
    go(&cleanup, false).await;
    let left = go(&body, true).await;
    assert_eq!(
        left["changes"].as_array().unwrap().len(),
        3,
        "cleanup left ACLs: {left}"
    );
}
