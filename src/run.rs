//! One module run: request → snapshot → plan → (apply) → result document.

use std::time::Instant;

use serde_json::{Value, json};

use crate::backend::rabbit_http::HttpRabbit;
use crate::error::{Error, Result};
use crate::plan::{self, ChangeReport};
use crate::spec::{RabbitConnection, Request};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Plan only; write nothing.
    pub check_mode: bool,
    /// Add `before`/`after` documents to the result.
    pub diff: bool,
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// Runs a request given as JSON and returns the result as JSON (`docs/core-api.md`).
pub async fn run_json(text: &str, options: Options) -> Result<String> {
    let request = Request::from_json(text)?;
    let result = run(&request, options).await?;
    serde_json::to_string(&result).map_err(|e| Error::Internal(format!("cannot serialise the result: {e}")))
}

pub async fn run(request: &Request, options: Options) -> Result<Value> {
    let started = Instant::now();
    if !request.has_rabbitmq_objects() {
        return Ok(json!({
            "changed": false, "changes": [], "endpoint": null, "warnings": [],
            "stats": {"reads": 0, "writes": 0, "read_ms": 0.0, "plan_ms": 0.0, "apply_ms": 0.0, "total_ms": ms(started)},
        }));
    }
    let default_conn = RabbitConnection::default();
    let conn = request.rabbitmq.as_ref().unwrap_or(&default_conn);
    let (backend, snapshot) = HttpRabbit::connect(conn, !request.vhosts().is_empty()).await?;
    let read_ms = ms(started);

    let planned_at = Instant::now();
    let plan = plan::plan(request, &snapshot)?;
    let plan_ms = ms(planned_at);
    let changed = !plan.is_empty();
    let warnings = plan.warnings.clone();
    let diff = options.diff.then(|| plan.diff());

    let applied_at = Instant::now();
    let report = if options.check_mode || !changed {
        ChangeReport { changes: plan.changes }
    } else {
        crate::apply::apply(plan, &backend).await?
    };
    let apply_ms = ms(applied_at);

    let mut result = json!({
        "changed": changed,
        "changes": report.changes,
        "endpoint": backend.endpoint(),
        "rabbitmq_version": snapshot.version,
        "warnings": warnings,
        "stats": {
            "reads": backend.reads(), "writes": backend.writes(),
            "read_ms": read_ms, "plan_ms": plan_ms, "apply_ms": apply_ms, "total_ms": ms(started),
        },
    });
    if let Some(d) = diff {
        result["diff"] = d;
    }
    Ok(result)
}
