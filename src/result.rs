//! The result of one run (`docs/core-api.md`, `python/osa_hybrid_msg/_types.py`): what `apply` returns,
//! and what `Error::PartialApply` and `Error::Verify` carry, so that a failure after a write still
//! reports every change, the diff and the probes, and what `Error::Refused` carries, so that a plan-time
//! refusal lists its findings. Built by `run::run` (a refusal's started by `Error::refused`).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::plan::Change;
use crate::verify::VerifyReport;

#[derive(Debug, Clone, Default, Serialize)]
pub struct RunResult {
    /// Whether anything was (or, in check mode, would be) changed.
    pub changed: bool,
    pub changes: Vec<Change>,
    /// Only with the `diff` option.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    /// The RabbitMQ management endpoint that answered.
    pub endpoint: Option<String>,
    pub rabbitmq_version: Option<String>,
    pub backends: Backends,
    pub warnings: Vec<String>,
    /// The warnings of the policy lint, deprecated features and version checks, machine-readable; on a
    /// refusal (`Error::Refused`), the refusals too.
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Only when the request asked for probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    /// Only on a partial apply: the first cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One finding: a rule of the policy lint (`src/plan/policy_rules.rs`), a deprecated feature the broker
/// reports in use, or a version check; `message` is the text also given as a warning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    /// `refuse`, `warn` or `inert`.
    pub severity: String,
    pub vhost: Option<String>,
    pub policy: Option<String>,
    /// The policy key, or the deprecated feature's name.
    pub key: Option<String>,
    pub message: String,
}

/// `before` and `after` documents for Ansible's `--diff`, from the changed fields only.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

/// The brokers a run contacted; one with nothing declared is left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Backends {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq: Option<RabbitStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaStats>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RabbitStats {
    pub endpoint: String,
    pub version: Option<String>,
    pub reads: usize,
    pub writes: usize,
    /// This broker's reads, connecting included; both brokers are read at once.
    pub read_ms: f64,
    /// Requests sent again after a connection error or a retryable answer (502, 503, ...).
    pub retries: usize,
    /// Times a request moved on to another management endpoint.
    pub failovers: usize,
    /// What the endpoints that did not answer said, first ones only (`endpoint: action: error`).
    pub endpoint_errors: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KafkaStats {
    pub bootstrap_servers: String,
    pub topics_seen: usize,
    pub reads: usize,
    pub writes: usize,
    pub read_ms: f64,
    /// Requests sent again after a retryable error (a broker gone, `NOT_CONTROLLER`, a timeout), and
    /// look-ups on the cluster of writes whose answer was lost.
    pub retries: usize,
    /// What the first ten retries were for: the request, the error and the pause or what was found.
    pub retried: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub reads: usize,
    pub writes: usize,
    /// Reading and validating the request; set by `run::run_json`.
    pub parse_ms: f64,
    pub read_ms: f64,
    pub plan_ms: f64,
    pub apply_ms: f64,
    pub total_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_ms: Option<f64>,
}

impl RunResult {
    /// A result with every optional part present, each list one entry long: the shape the Python
    /// TypedDicts and the docs are checked against (`tests/python/test_core_api.py`).
    pub fn sample() -> Self {
        use crate::plan::{Action, Kind, Status, field};
        use crate::verify::{AmqpProbe, GroupReport, KafkaProbe, Mode, ProbeStatus, QueueReport};
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("description".to_owned(), field(Value::Null, "Nova RPC"));
        let change = Change {
            error: Some("the broker's reason".into()),
            status: Status::Failed,
            ..Change::new(
                Kind::Vhost,
                "nova",
                None,
                Action::Create,
                fields,
                crate::plan::Op::DeleteVhost { name: "nova".into() },
            )
        };
        let hops: Map<String, Value> = [("connect".to_owned(), Value::from(1.0))].into_iter().collect();
        RunResult {
            changed: true,
            changes: vec![change],
            diff: Some(Diff::default()),
            endpoint: Some("http://127.0.0.1:15672/api".into()),
            rabbitmq_version: Some("4.1.0".into()),
            backends: Backends {
                rabbitmq: Some(RabbitStats {
                    endpoint_errors: vec![String::new()],
                    ..RabbitStats::default()
                }),
                kafka: Some(KafkaStats::default()),
            },
            warnings: vec![String::new()],
            findings: vec![Finding::default()],
            stats: Stats {
                verify_ms: Some(0.0),
                ..Stats::default()
            },
            verify: Some(VerifyReport {
                mode: Mode::Full,
                ok: false,
                amqp: vec![AmqpProbe {
                    user: "nova".into(),
                    vhost: "nova".into(),
                    status: ProbeStatus::Failed,
                    hop: Some("login"),
                    error: Some(String::new()),
                    reason: Some(String::new()),
                    note: Some(String::new()),
                    url: Some(String::new()),
                    ms: 0.0,
                    hops: hops.clone(),
                    queue: Some(QueueReport {
                        name: String::new(),
                        queue_type: Some("quorum".into()),
                        policy: Some(String::new()),
                        policy_definition: Value::Object(Map::new()),
                        deleted: true,
                    }),
                }],
                kafka: vec![KafkaProbe {
                    topic: String::new(),
                    status: ProbeStatus::Ok,
                    hop: Some("produce"),
                    error: Some(String::new()),
                    reason: Some(String::new()),
                    ms: 0.0,
                    hops,
                    partitions: Some(1),
                    partition: Some(0),
                    offset: Some(0),
                    service: Some(String::new()),
                    user: Some(String::new()),
                    role: Some("produce"),
                    group: Some(String::new()),
                }],
                consumer_group: Some(GroupReport {
                    name: String::new(),
                    join_ms: Some(0.0),
                    deleted: true,
                    error: Some(String::new()),
                }),
                ms: 0.0,
            }),
            error: Some(String::new()),
        }
    }

    pub fn to_json(&self) -> crate::Result<String> {
        serde_json::to_string(self).map_err(|e| crate::Error::Internal(format!("cannot serialise the result: {e}")))
    }
}
