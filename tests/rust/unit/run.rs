//! The whole run (read, plan, apply, verify, result) on the in-memory fakes, through `run_on`: the same
//! code path as a module call, with `FakeBrokers` in place of the management API and librdkafka.

use osa_hybrid_msg::backend::fake::FakeBrokers;
use osa_hybrid_msg::error::{Broker, Error};
use osa_hybrid_msg::plan::Status;
use osa_hybrid_msg::result::RunResult;
use osa_hybrid_msg::run::{Options, run_on};
use serde_json::{Value, json};

use super::{request, snapshot};

fn brokers() -> FakeBrokers {
    let b = FakeBrokers::default();
    *b.rabbit.state.lock().unwrap() = snapshot("4.0.5");
    b
}

fn topology() -> Value {
    json!({
        "vhosts": [{"name": "nova"}],
        "users": [{"name": "nova", "password": "secret-nova",
                   "permissions": [{"vhost": "nova", "configure": ".*", "write": ".*", "read": ".*"}]}],
        "policies": [{"name": "CQv2", "vhost": "nova", "pattern": ".*", "definition": {"queue-version": 2}}],
        "topics": [{"name": "notifications.info", "partitions": 2, "config": {"retention.ms": "3600000"}}],
    })
}

async fn go(b: &FakeBrokers, body: &Value, check_mode: bool) -> Result<RunResult, Error> {
    run_on(b, &request(body), Options { check_mode, diff: true }).await
}

fn rabbit_writes(b: &FakeBrokers) -> usize {
    b.rabbit.log.lock().unwrap().len()
}

fn kafka_batches(b: &FakeBrokers) -> usize {
    b.kafka.batches.lock().unwrap().len()
}

#[tokio::test]
async fn run_on_fakes_converges_then_the_second_run_writes_nothing() {
    let b = brokers();
    let first = go(&b, &topology(), false).await.expect("first run");
    assert!(first.changed);
    assert!(
        first.changes.iter().all(|c| c.status == Status::Applied),
        "{:?}",
        first.changes
    );
    let by_backend = |r: &RunResult, broker| r.changes.iter().filter(|c| c.backend == broker).count();
    assert_eq!(by_backend(&first, Broker::RabbitMq), 4); // vhost, user, permission, policy
    assert_eq!(by_backend(&first, Broker::Kafka), 1);
    assert_eq!(first.endpoint.as_deref(), Some("fake://rabbitmq"));
    assert!(first.diff.is_some());
    let (writes, batches) = (rabbit_writes(&b), kafka_batches(&b));
    assert_eq!(writes, 4);
    assert_eq!(batches, 1);

    let second = go(&b, &topology(), false).await.expect("second run");
    assert!(!second.changed, "{:?}", second.changes);
    assert!(second.changes.is_empty());
    assert_eq!(
        (rabbit_writes(&b), kafka_batches(&b)),
        (writes, batches),
        "the no-op run wrote"
    );
    // One read per backend per run.
    assert_eq!(b.rabbit.reads.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(b.kafka.reads.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn run_on_fakes_in_check_mode_plans_everything_and_writes_nothing() {
    let b = brokers();
    let before = b.rabbit.snapshot_now();
    let result = go(&b, &topology(), true).await.expect("check run");
    assert!(result.changed);
    assert_eq!(result.changes.len(), 5);
    assert!(result.changes.iter().all(|c| c.status == Status::Planned));
    assert_eq!((rabbit_writes(&b), kafka_batches(&b)), (0, 0));
    assert_eq!(format!("{:?}", b.rabbit.snapshot_now()), format!("{before:?}"));
    assert!(b.kafka.snapshot_now().topics.is_empty());
}

#[tokio::test]
async fn run_on_fakes_partial_apply_carries_the_result_with_each_status_and_no_password() {
    let b = brokers();
    b.rabbit.fail_on.lock().unwrap().push("PutPolicy".into());
    let err = go(&b, &topology(), false).await.expect_err("the policy write fails");
    let text = err.to_string();
    let Error::PartialApply { result, .. } = err else {
        panic!("expected PartialApply, got {text}")
    };
    assert!(result.changed, "the vhost and user reached the broker");
    let status = |kind: &str| {
        result
            .changes
            .iter()
            .find(|c| format!("{:?}", c.kind) == kind)
            .map(|c| c.status)
            .unwrap()
    };
    assert_eq!(status("Vhost"), Status::Applied);
    assert_eq!(status("User"), Status::Applied);
    assert_eq!(status("Policy"), Status::Failed);
    assert!(result.error.as_deref().is_some_and(|e| e.contains("injected failure")));
    assert!(result.diff.is_some(), "the diff survives a partial apply");
    let rendered = serde_json::to_string(&*result).unwrap();
    assert!(!rendered.contains("secret-nova") && !text.contains("secret-nova"));
}

#[tokio::test]
async fn run_on_fakes_a_policy_lint_refusal_carries_its_findings_and_the_reads() {
    let b = brokers();
    let mut body = topology();
    body["policies"][0]["definition"] = json!({"ha-mode": "all", "queue-version": 2});
    let Err(Error::Refused { path, result, .. }) = go(&b, &body, false).await else {
        panic!("expected a refusal");
    };
    assert_eq!(path, "policies[0].definition.ha-mode");
    let found: Vec<(&str, &str)> = result
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity.as_str()))
        .collect();
    assert_eq!(found, [("ha-removed", "refuse"), ("queue-version-inert", "inert")]);
    assert_eq!(result.warnings, [result.findings[1].message.clone()]);
    assert!(!result.changed && result.changes.is_empty());
    assert_eq!(result.endpoint.as_deref(), Some("fake://rabbitmq"));
    assert_eq!(result.rabbitmq_version.as_deref(), Some("4.0.5"));
    let rabbit = result.backends.rabbitmq.as_ref().expect("rabbitmq stats");
    assert_eq!((rabbit.reads, rabbit.writes), (1, 0));
    assert!(result.backends.kafka.is_some(), "the Kafka read happened too");
    assert_eq!(result.stats.writes, 0);
    assert!(result.stats.total_ms >= result.stats.read_ms);
    assert_eq!((rabbit_writes(&b), kafka_batches(&b)), (0, 0));
}

#[tokio::test]
async fn run_on_fakes_verify_failure_carries_the_applied_result() {
    let b = brokers();
    let mut body = topology();
    body["rabbitmq"] = json!({"amqp_urls": ["amqp://127.0.0.1:1"], "timeout": 2});
    body["verify"] = json!(["amqp"]);
    let err = go(&b, &body, false).await.expect_err("nothing listens on port 1");
    let Error::Verify { message, result } = err else {
        panic!("expected a verify failure, got {err:?}")
    };
    assert!(message.contains("nova"), "{message}");
    assert!(!message.contains("secret-nova"));
    assert!(result.changes.iter().all(|c| c.status == Status::Applied));
    let report = result.verify.as_ref().expect("the verify report is in the result");
    assert!(!report.ok);
    assert_eq!(report.amqp.len(), 1);
    assert_eq!(rabbit_writes(&b), 4, "the writes stay applied");
}

#[tokio::test]
async fn run_on_fakes_a_large_partial_apply_names_the_first_few_and_counts_the_rest() {
    let b = brokers();
    b.rabbit.fail_on.lock().unwrap().push("PutPolicy".into());
    let names: Vec<String> = (1..=8).map(|i| format!("svc{i}")).collect();
    let body = json!({
        "vhosts": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "policies": names.iter().map(|n| json!({"name": "p", "vhost": n, "pattern": ".*", "definition": {"max-length": 1}}))
            .collect::<Vec<_>>(),
    });
    let err = go(&b, &body, false).await.expect_err("every policy write fails");
    let text = err.to_string();
    assert!(text.contains("Applied: create vhost 'svc1'"), "{text}");
    assert!(text.contains(", and 3 more (all 8 in the result's changes)"), "{text}");
    assert!(
        text.contains("Of 16 changes: 8 applied, 8 failed, 0 not applied."),
        "{text}"
    );
    assert!(
        !text.contains("'svc8'"),
        "only the first five of each status are named: {text}"
    );
    let Error::PartialApply { result, .. } = err else {
        panic!("{text}")
    };
    assert_eq!(result.changes.iter().filter(|c| c.status == Status::Failed).count(), 8);
}

#[tokio::test]
async fn run_on_fakes_a_write_without_an_answer_is_unknown_not_failed() {
    let b = brokers();
    b.rabbit.no_answer_on.lock().unwrap().push("name: \"svc2\"".into());
    let names: Vec<String> = (1..=3).map(|i| format!("svc{i}")).collect();
    let body = json!({
        "vhosts": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>(),
        "policies": names.iter().map(|n| json!({"name": "p", "vhost": n, "pattern": ".*", "definition": {"max-length": 1}}))
            .collect::<Vec<_>>(),
    });
    let err = go(&b, &body, false).await.expect_err("the vhost svc2 gets no answer");
    let text = err.to_string();
    assert!(
        text.contains("Of 6 changes: 2 applied, 0 failed, 1 with an unknown outcome (sent, no answer), 3 not applied."),
        "{text}"
    );
    assert!(text.contains("Outcome unknown: create vhost 'svc2'"), "{text}");
    let Error::PartialApply { result, .. } = err else {
        panic!("{text}")
    };
    assert!(result.changed, "an unknown outcome may have changed the broker");
    let unknown: Vec<_> = result.changes.iter().filter(|c| c.status == Status::Unknown).collect();
    assert_eq!(unknown.len(), 1);
    assert!(unknown[0].error.as_deref().unwrap_or_default().contains("no answer"));
    assert_eq!(result.to_json().unwrap().matches("\"status\":\"unknown\"").count(), 1);
}
