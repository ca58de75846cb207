//! Executes a plan through the backends. RabbitMQ: stage by stage, each stage's changes concurrently
//! (bounded). Kafka: stage by stage, each stage one batched request. The two backends run side by
//! side; a failure on one never hides what happened on the other.

use futures::StreamExt;

use crate::backend::{KafkaAdmin, RabbitAdmin};
use crate::error::{Error, Result};
use crate::plan::{Change, ChangeReport, Plan, Status};

/// Writes in flight at once; enough to hide round trips, small enough not to load a busy broker.
pub const WRITE_CONCURRENCY: usize = 8;

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
            change.status = Status::Failed;
            change.error = Some(e.to_string());
            first_error.get_or_insert(e);
        }
    }
}

async fn apply_rabbit<A: RabbitAdmin + ?Sized>(mut changes: Vec<&mut Change>, admin: &A) -> Option<Error> {
    let mut first_error = None;
    for range in stages(&changes) {
        let results: Vec<(usize, Result<()>)> = futures::stream::iter(range)
            .map(|i| {
                let op = changes[i].op.clone();
                async move { (i, admin.execute(&op).await) }
            })
            .buffer_unordered(WRITE_CONCURRENCY)
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

/// Applies every change and returns the plan with statuses. Errors: the cause alone when nothing was
/// applied and one backend was involved, else `Error::PartialApply` with the full report.
pub async fn apply<R, K>(plan: Plan, rabbit: Option<&R>, kafka: Option<&K>) -> Result<ChangeReport>
where
    R: RabbitAdmin + ?Sized,
    K: KafkaAdmin + ?Sized,
{
    let mut changes = plan.changes;
    for c in &mut changes {
        c.status = Status::NotApplied;
    }
    let (rabbit_changes, kafka_changes): (Vec<&mut Change>, Vec<&mut Change>) =
        changes.iter_mut().partition(|c| c.op.backend() == "rabbitmq");
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
    let Some(cause) = rabbit_error.or(kafka_error) else {
        return Ok(ChangeReport { changes });
    };
    let failures = changes.iter().filter(|c| c.status == Status::Failed).count();
    if backends == 1 && failures == 1 && !changes.iter().any(|c| c.status == Status::Applied) {
        return Err(cause);
    }
    Err(Error::PartialApply {
        report: Box::new(ChangeReport { changes }),
        cause: Box::new(cause),
    })
}
