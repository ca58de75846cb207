//! Executes a plan through the backends. RabbitMQ: stage by stage, each stage's changes concurrently
//! (bounded). Kafka: stage by stage, each stage one batched request. The two backends run side by
//! side; a failure on one never hides what happened on the other.

use futures::StreamExt;

use crate::backend::{KafkaAdmin, RabbitAdmin};
use crate::error::{Broker, Error, Result};
use crate::plan::{Change, Op, Plan, Status};

/// The most writes in flight at once in any stage (the HTTP client keeps this many connections).
pub const WRITE_CONCURRENCY: usize = 16;

/// Writes in flight at once, by kind of RabbitMQ write: the one place to tune it. Measured with
/// `bench/` on three-node 4.3 (Khepri) and 4.0 (Mnesia) clusters and a 3.10 node (bench/README.md):
/// the broker creates vhosts one after the other whatever the client does (4.3: ~45-50 a second; 1,000
/// new vhosts took 21.0 and 21.8 s at 8 in flight, 20.0 and 20.7 s at 16, and more in flight only
/// lengthens each PUT), so 8; users, permissions and policies are cheap writes, 16 (a raw client wrote
/// 3,000 permissions and policies on 4.3 in 6.4-7.2 s at 16 and 5.4-5.6 s at 32; 32 is not measured on
/// 4.0 and 3.10). Kinds are never mixed in flight: each service's permission and policies sent as soon
/// as its vhost existed made the 1,000 vhosts take 28.5 s instead of 20-22 s (4.3), and no order that
/// mixes kinds was faster in all, so the stages stay in order.
fn write_concurrency(op: &Op) -> usize {
    match op {
        Op::PutVhost { .. } | Op::DeleteVhost { .. } => 8,
        _ => WRITE_CONCURRENCY,
    }
}

/// Consecutive runs of changes with the same stage, as index ranges.
fn stages(changes: &[&mut Change]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < changes.len() {
        let stage = changes[start].op.stage();
        let end = changes[start..]
            .iter()
            .position(|c| c.op.stage() != stage)
            .map_or(changes.len(), |n| start + n);
        out.push(start..end);
        start = end;
    }
    out
}

fn record(change: &mut Change, result: Result<()>, first_error: &mut Option<Error>) {
    match result {
        Ok(()) => change.status = Status::Applied,
        Err(e) => {
            change.status = if e.outcome_unknown() {
                Status::Unknown
            } else {
                Status::Failed
            };
            change.error = Some(e.to_string());
            first_error.get_or_insert(e);
        }
    }
}

async fn apply_rabbit<A: RabbitAdmin + ?Sized>(mut changes: Vec<&mut Change>, admin: &A) -> Option<Error> {
    let mut first_error = None;
    for range in stages(&changes) {
        let concurrency = write_concurrency(&changes[range.start].op);
        let results: Vec<(usize, Result<()>)> = futures::stream::iter(range)
            .map(|i| {
                let op = changes[i].op.clone();
                async move { (i, admin.execute(&op).await) }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for (i, result) in results {
            record(changes[i], result, &mut first_error);
        }
        if first_error.is_some() {
            break;
        }
    }
    first_error
}

async fn apply_kafka<K: KafkaAdmin + ?Sized>(mut changes: Vec<&mut Change>, admin: &K) -> Option<Error> {
    let mut first_error = None;
    for range in stages(&changes) {
        let ops: Vec<_> = changes[range.clone()].iter().map(|c| c.op.clone()).collect();
        let refs: Vec<_> = ops.iter().collect();
        let results = admin.execute_batch(&refs).await;
        for (i, result) in range.zip(results) {
            record(changes[i], result, &mut first_error);
        }
        // Admin requests are not transactional: a stage that failed for some topics stops the later stages.
        if first_error.is_some() {
            break;
        }
    }
    first_error
}

/// The plan with each change's final status, and the first error when a change failed.
#[derive(Debug)]
pub struct ChangeReport {
    pub changes: Vec<Change>,
    pub error: Option<Error>,
    /// How many backends had changes to apply.
    pub backends: usize,
}

impl ChangeReport {
    /// The cause alone when nothing was applied and one change of one backend failed (nothing to
    /// report beside it), else `None`: then the caller reports the whole result with the cause.
    pub fn plain_error(&mut self) -> Option<Error> {
        let failures = self.changes.iter().filter(|c| c.status == Status::Failed).count();
        let applied = self
            .changes
            .iter()
            .any(|c| matches!(c.status, Status::Applied | Status::Unknown));
        if self.backends == 1 && failures == 1 && !applied {
            self.error.take()
        } else {
            None
        }
    }
}

/// Applies every change and returns the plan with statuses. Never stops at the first error of one
/// backend while the other runs; the report says what happened to each change.
pub async fn apply<R, K>(plan: Plan, rabbit: Option<&R>, kafka: Option<&K>) -> ChangeReport
where
    R: RabbitAdmin + ?Sized,
    K: KafkaAdmin + ?Sized,
{
    let mut changes = plan.changes;
    for c in &mut changes {
        c.status = Status::NotApplied;
    }
    let (rabbit_changes, kafka_changes): (Vec<&mut Change>, Vec<&mut Change>) =
        changes.iter_mut().partition(|c| c.op.backend() == Broker::RabbitMq);
    let backends = usize::from(!rabbit_changes.is_empty()) + usize::from(!kafka_changes.is_empty());
    let rabbit_run = async {
        match (rabbit, rabbit_changes.is_empty()) {
            (_, true) => None,
            (Some(r), false) => apply_rabbit(rabbit_changes, r).await,
            (None, false) => Some(Error::Internal(
                "RabbitMQ changes planned without a RabbitMQ connection".into(),
            )),
        }
    };
    let kafka_run = async {
        match (kafka, kafka_changes.is_empty()) {
            (_, true) => None,
            (Some(k), false) => apply_kafka(kafka_changes, k).await,
            (None, false) => Some(Error::Internal(
                "Kafka changes planned without a Kafka connection".into(),
            )),
        }
    };
    let (rabbit_error, kafka_error) = futures::join!(rabbit_run, kafka_run);
    ChangeReport {
        changes,
        error: rabbit_error.or(kafka_error),
        backends,
    }
}
