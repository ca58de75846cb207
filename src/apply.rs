//! Executes a plan through a backend: stage by stage, each stage's changes concurrently (bounded).
//! A failure stops the run after the stage in which it happened; the report says what was applied.

use futures::StreamExt;

use crate::backend::RabbitAdmin;
use crate::error::{Error, Result};
use crate::plan::{ChangeReport, Plan, Status};

/// Writes in flight at once; enough to hide round trips, small enough not to load a busy broker.
pub const WRITE_CONCURRENCY: usize = 8;

/// Applies every change and returns the plan with statuses. Errors: the cause alone when nothing was
/// applied, else `Error::PartialApply` with the full report.
pub async fn apply<A: RabbitAdmin + ?Sized>(plan: Plan, admin: &A) -> Result<ChangeReport> {
    let mut changes = plan.changes;
    for c in &mut changes {
        c.status = Status::NotApplied;
    }
    let mut first_error: Option<Error> = None;
    let mut start = 0;
    while start < changes.len() {
        let stage = changes[start].op.stage();
        let end = changes[start..]
            .iter()
            .position(|c| c.op.stage() != stage)
            .map_or(changes.len(), |n| start + n);
        let results: Vec<(usize, Result<()>)> = futures::stream::iter(start..end)
            .map(|i| {
                let op = &changes[i].op;
                async move { (i, admin.execute(op).await) }
            })
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
        for (i, result) in results {
            match result {
                Ok(()) => changes[i].status = Status::Applied,
                Err(e) => {
                    changes[i].status = Status::Failed;
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_some() {
            break;
        }
        start = end;
    }
    match first_error {
        None => Ok(ChangeReport { changes }),
        Some(cause) if !changes.iter().any(|c| c.status == Status::Applied) => Err(cause),
        Some(cause) => Err(Error::PartialApply {
            report: Box::new(ChangeReport { changes }),
            cause: Box::new(cause),
        }),
    }
}
