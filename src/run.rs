//! One module run: request → snapshots (RabbitMQ and Kafka side by side) → plan → (apply) → (verify) → result.

use std::time::{Duration, Instant};

use crate::apply::ChangeReport;
use crate::backend::{Brokers, KafkaAdmin, RabbitAdmin, RealBrokers, SecurityScope};
use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::observed::{KafkaSnapshot, RabbitSnapshot};
use crate::plan::{self, Plan, Secret, Status};
use crate::result::{Backends, KafkaStats, RabbitStats, RunResult, Stats};
use crate::spec::{KafkaConnection, RabbitConnection, Request, State};

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
    let started = Instant::now();
    let request = Request::from_json(text)?;
    let parse_ms = ms(started);
    // The module's own time includes reading and validating the request.
    let timed = |result: &mut RunResult| {
        result.stats.parse_ms = parse_ms;
        result.stats.total_ms = ms(started);
    };
    match run(&request, options).await {
        Ok(mut result) => {
            timed(&mut result);
            result.to_json()
        }
        Err(mut e) => {
            // A partial apply, a failed verify or a refusal carries its result: timed alike.
            if let Some(result) = e.result_mut() {
                timed(result);
            }
            Err(e)
        }
    }
}

/// Whether the plan needs `GET /api/vhosts` (3.x definitions omit vhost metadata): only when a
/// vhost manages its description, tags or default queue type, or is deleted (its change lists them),
/// and in the upgrade pre-check, whose lint needs every vhost's default queue type.
fn needs_vhost_metadata(request: &Request) -> bool {
    request.upgrade_target().is_some()
        || request.vhosts().iter().any(|v| {
            v.description.is_some() || v.tags.is_some() || v.default_queue_type.is_some() || v.state() == State::Absent
        })
}

/// One run on the real brokers.
pub async fn run(request: &Request, options: Options) -> Result<RunResult> {
    // Boxed: the run's future holds both snapshots and would make every caller's future large.
    Box::pin(run_on(&RealBrokers, request, options)).await
}

/// Each connection's `timeout` is one deadline for everything the run does on that broker.
fn deadlines(rabbit: &RabbitConnection, kafka: &KafkaConnection) -> (Deadline, Deadline) {
    (
        Deadline::after(
            Duration::from_secs_f64(rabbit.timeout_seconds()),
            crate::backend::rabbit_http::TIMEOUT_OPTION,
        ),
        Deadline::after(
            Duration::from_secs_f64(kafka.timeout_seconds()),
            crate::backend::kafka_rd::TIMEOUT_OPTION,
        ),
    )
}

/// One run on the given brokers: the real clients, or the fakes in the crate's unit tests.
pub async fn run_on<B: Brokers>(brokers: &B, request: &Request, options: Options) -> Result<RunResult> {
    let started = Instant::now();
    let default_rabbit = RabbitConnection::default();
    let default_kafka = KafkaConnection::default();
    let rabbit_conn = request.rabbitmq.as_ref().unwrap_or(&default_rabbit);
    let kafka_conn = request.kafka.as_ref().unwrap_or(&default_kafka);
    let declared = request.kafka_topics();
    // DescribeConfigs only for topics whose config is managed; the others need metadata alone.
    let topic_names: Vec<String> = declared
        .iter()
        .filter(|(_, t)| t.config.is_some())
        .map(|(_, t)| t.name.clone())
        .collect();

    // Both reads go out at once, the Kafka one on a worker of its own: creating the librdkafka
    // client is synchronous, and in the same task it held back the RabbitMQ request. A backend with
    // nothing declared is never contacted.
    let (rabbit_deadline, kafka_deadline) = deadlines(rabbit_conn, kafka_conn);
    let kafka_task = request.has_kafka_objects().then(|| {
        let read = brokers.kafka(kafka_conn, topic_names, kafka_deadline);
        tokio::spawn(async move {
            let at = Instant::now();
            let result = read.await;
            (result, ms(at))
        })
    });
    let rabbit = if request.has_rabbitmq_objects() {
        let read = brokers
            .rabbit(rabbit_conn, needs_vhost_metadata(request), rabbit_deadline)
            .await;
        with_deprecations(request, read).await.map(Some)
    } else {
        Ok(None)
    };
    let rabbit_read_ms = ms(started);
    let (kafka, kafka_read_ms) = match kafka_task {
        None => (Ok(None), 0.0),
        Some(task) => match task.await {
            Ok((result, took)) => (result.map(Some), took),
            Err(e) => (Err(Error::Internal(format!("the Kafka read task failed: {e}"))), 0.0),
        },
    };
    let rabbit = match rabbit {
        Ok(r) => r,
        Err(e) => {
            if let Ok(Some((b, _))) = kafka {
                b.close();
            }
            return Err(e);
        }
    };
    // Boxed: only some runs need it, and it would make every run's future larger.
    let kafka = Box::pin(with_kafka_security(request, kafka?)).await?;
    let read_ms = ms(started);

    let planned_at = Instant::now();
    let mut plan = Plan::default();
    if let Some((b, snapshot)) = &rabbit {
        let planned = plan::plan_rabbit(request, snapshot).map_err(|e| {
            let stats = Stats {
                read_ms,
                plan_ms: ms(planned_at),
                total_ms: ms(started),
                ..Stats::default()
            };
            let kafka = kafka.as_ref().map(|(k, s)| (k, s));
            with_reads(e, (b, snapshot), kafka, (rabbit_read_ms, kafka_read_ms), stats)
        });
        plan.extend(planned?);
    }
    if let Some((_, snapshot)) = &kafka {
        plan.extend(plan::plan_kafka(request, snapshot)?);
        plan.extend(plan::plan_kafka_security(request, snapshot)?);
    }
    let plan_ms = ms(planned_at);
    let changed = !plan.is_empty();
    let (warnings, findings) = (plan.warnings.clone(), plan.findings.clone());
    let diff = options.diff.then(|| plan.diff());

    let applied_at = Instant::now();
    let mut report = if options.check_mode || !changed {
        ChangeReport {
            changes: plan.changes,
            error: None,
            backends: 0,
        }
    } else {
        crate::apply::apply(plan, rabbit.as_ref().map(|(b, _)| b), kafka.as_ref().map(|(b, _)| b)).await
    };
    let apply_ms = ms(applied_at);
    if let Some(cause) = report.plain_error() {
        close(kafka);
        return Err(cause);
    }

    let (backends, reads, writes) = backend_stats(
        rabbit.as_ref().map(|(b, s)| (b, s)),
        kafka.as_ref().map(|(b, s)| (b, s)),
        rabbit_read_ms,
        kafka_read_ms,
    );
    close(kafka);
    let mut result = RunResult {
        changed,
        changes: report.changes,
        diff,
        endpoint: rabbit.as_ref().map(|(b, _)| b.endpoint().to_owned()),
        rabbitmq_version: rabbit.as_ref().and_then(|(_, s)| s.version.clone()),
        backends,
        warnings,
        findings,
        stats: Stats {
            reads,
            writes,
            read_ms,
            plan_ms,
            apply_ms,
            total_ms: ms(started),
            ..Stats::default()
        },
        verify: None,
        error: None,
    };
    if let Some(cause) = report.error {
        // `changed` says whether anything reached the broker.
        result.changed = result
            .changes
            .iter()
            .any(|c| matches!(c.status, Status::Applied | Status::Unknown));
        result.error = Some(cause.to_string());
        return Err(Error::PartialApply {
            result: Box::new(result),
            cause: Box::new(cause),
        });
    }
    if !request.verify().any() {
        return Ok(result);
    }
    if let Some((b, _)) = &rabbit {
        b.lift_deadline();
    }
    let outcome = crate::verify::run(crate::verify::Context {
        request,
        rabbit: rabbit.as_ref().map(|(b, s)| (b, s)),
        changes: &result.changes,
        check_mode: options.check_mode,
    })
    .await;
    result.stats.verify_ms = Some(outcome.report.ms);
    result.warnings.extend(outcome.warnings);
    let probes = outcome.report.probes_run();
    result.verify = Some(outcome.report);
    if outcome.failures.is_empty() {
        return Ok(result);
    }
    Err(Error::Verify {
        message: crate::verify::failure_message(&outcome.failures, probes, &result.changes, options.check_mode),
        result: Box::new(result),
    })
}

/// A plan-time refusal's result with what the run did before it: the endpoint, the version, the reads.
fn with_reads<R: RabbitAdmin, K: KafkaAdmin>(
    mut e: Error,
    (rabbit, snapshot): (&R, &RabbitSnapshot),
    kafka: Option<(&K, &KafkaSnapshot)>,
    (rabbit_read_ms, kafka_read_ms): (f64, f64),
    mut stats: Stats,
) -> Error {
    if let Error::Refused { result, .. } = &mut e {
        let (backends, reads, writes) = backend_stats(Some((rabbit, snapshot)), kafka, rabbit_read_ms, kafka_read_ms);
        result.endpoint = Some(rabbit.endpoint().to_owned());
        result.rabbitmq_version.clone_from(&snapshot.version);
        result.backends = backends;
        (stats.reads, stats.writes) = (reads, writes);
        result.stats = stats;
    }
    e
}

/// What each backend read and wrote (and, for RabbitMQ, retried), and the totals over both.
fn backend_stats<R: RabbitAdmin, K: KafkaAdmin>(
    rabbit: Option<(&R, &crate::observed::RabbitSnapshot)>,
    kafka: Option<(&K, &KafkaSnapshot)>,
    rabbit_read_ms: f64,
    kafka_read_ms: f64,
) -> (Backends, usize, usize) {
    let mut backends = Backends::default();
    let (mut reads, mut writes) = (0, 0);
    if let Some((b, snapshot)) = rabbit {
        reads += b.reads();
        writes += b.writes();
        backends.rabbitmq = Some(RabbitStats {
            endpoint: b.endpoint().to_owned(),
            version: snapshot.version.clone(),
            reads: b.reads(),
            writes: b.writes(),
            read_ms: rabbit_read_ms,
            retries: b.retries(),
            failovers: b.failovers(),
            endpoint_errors: b.endpoint_errors(),
        });
    }
    if let Some((b, snapshot)) = kafka {
        reads += b.reads();
        writes += b.writes();
        backends.kafka = Some(KafkaStats {
            bootstrap_servers: b.bootstrap().to_owned(),
            topics_seen: snapshot.topics.len(),
            reads: b.reads(),
            writes: b.writes(),
            read_ms: kafka_read_ms,
            retries: b.retries(),
            retried: b.retried(),
        });
    }
    (backends, reads, writes)
}

/// The RabbitMQ snapshot with `GET /api/deprecated-features/used` added, when the request asks for it
/// (`report_deprecated_features`): one request more, after the snapshot, so never by default.
async fn with_deprecations<R: RabbitAdmin>(
    request: &Request,
    read: Result<(R, RabbitSnapshot)>,
) -> Result<(R, RabbitSnapshot)> {
    let (rabbit, mut snapshot) = read?;
    if request.report_deprecated_features() || request.upgrade_target().is_some() {
        snapshot.deprecated_features_used = rabbit.deprecated_features_used().await?;
    }
    Ok((rabbit, snapshot))
}

/// The Kafka backend and snapshot with the security read added; on failure the client is closed.
async fn with_kafka_security<K: KafkaAdmin>(
    request: &Request,
    kafka: Option<(K, KafkaSnapshot)>,
) -> Result<Option<(K, KafkaSnapshot)>> {
    let Some((b, mut snapshot)) = kafka else {
        return Ok(None);
    };
    match read_kafka_security(request, &b, &mut snapshot).await {
        Ok(()) => Ok(Some((b, snapshot))),
        Err(e) => {
            b.close();
            Err(e)
        }
    }
}

/// Adds the SCRAM credentials, ACLs and login tests the request needs to the Kafka snapshot.
async fn read_kafka_security<K: KafkaAdmin>(request: &Request, kafka: &K, snapshot: &mut KafkaSnapshot) -> Result<()> {
    let scope = SecurityScope {
        users: request.kafka_users().iter().map(|u| u.name.clone()).collect(),
        acls: !request.kafka_acls().is_empty(),
        logins: request
            .kafka_users()
            .iter()
            .filter(|u| u.needs_login_test())
            .filter_map(|u| Some((u.name.clone(), u.mechanism(), Secret::new(u.password.clone()?))))
            .collect(),
    };
    if scope.is_empty() {
        return Ok(());
    }
    let security = kafka.read_security(&scope).await?;
    snapshot.scram = security.scram;
    snapshot.logins = security.logins;
    snapshot.acls = security.acls;
    snapshot.unknown_acls = security.unknown_acls;
    Ok(())
}

fn close<K: KafkaAdmin>(kafka: Option<(K, KafkaSnapshot)>) {
    if let Some((b, _)) = kafka {
        b.close();
    }
}
