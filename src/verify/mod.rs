//! `verify`: after apply, prove that what was declared can be used by the users it was declared for.
//!
//! - AMQP (lapin): each declared user logs in on each of its vhosts; where it may configure
//!   `osa_hybrid_msg.probe.*`, it declares a quorum queue of that name, publishes and gets one message,
//!   and deletes the queue. The policy the broker applied to the queue is read through the management API.
//! - Kafka (rdkafka): one record per declared topic, read back by one fresh consumer group.
//!
//! In check mode only probes that write nothing run: AMQP connect, login, vhost open, channel open and a
//! passive declare of `amq.direct`; Kafka a metadata read per topic. Probes of objects the plan has yet
//! to create (or whose password it changes) are skipped there, since they cannot pass before apply.
//!
//! Target selection is pure and unit-tested; the probes themselves are in `amqp` and `kafka`.

mod amqp;
mod kafka;
mod kafka_services;

use std::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};

pub use amqp::{AmqpSettings, probe as probe_amqp};
pub use kafka::probe as probe_kafka;
pub use kafka_services::probe_services as probe_kafka_services;

use crate::backend::RabbitAdmin;
use crate::observed::RabbitSnapshot;
use crate::plan::{Action, Change, Kind, Secret, Status};
use crate::spec::{KafkaConnection, PasswordSpec, RabbitConnection, Request, State, UpdatePassword};

/// AMQP probes in flight at once; each is one connection to the broker.
pub const PROBE_CONCURRENCY: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// After apply: every hop, probe queue and probe record included.
    Full,
    /// Check mode: only hops that write nothing.
    ReadOnly,
}

/// `result["verify"]`: every probe's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub mode: Mode,
    /// No probe failed.
    pub ok: bool,
    pub amqp: Vec<AmqpProbe>,
    pub kafka: Vec<KafkaProbe>,
    pub consumer_group: Option<GroupReport>,
    pub ms: f64,
}

impl VerifyReport {
    /// The probes that ran (not skipped).
    pub fn probes_run(&self) -> usize {
        self.amqp.iter().filter(|p| p.status != ProbeStatus::Skipped).count()
            + self.kafka.iter().filter(|p| p.status != ProbeStatus::Skipped).count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    Ok,
    Failed,
    Skipped,
}

/// One user on one vhost, as the probe will log in.
#[derive(Debug, Clone)]
pub struct AmqpTarget {
    pub user: String,
    pub vhost: String,
    pub password: Option<Secret>,
    /// The configure permission the user has on the vhost once the plan is applied, when known.
    pub configure: Option<String>,
    /// Why this probe does not run.
    pub skip: Option<String>,
    /// Added to a refused login's error.
    pub hint: Option<String>,
}

#[derive(Debug, Clone)]
pub struct KafkaTarget {
    pub topic: String,
    pub skip: Option<String>,
}

/// The first failure of a probe: the hop and the broker's words.
#[derive(Debug, Clone)]
pub struct Failure {
    pub hop: &'static str,
    pub error: String,
    pub url: Option<String>,
}

impl Failure {
    pub fn new(hop: &'static str, error: String) -> Self {
        Failure { hop, error, url: None }
    }

    fn at(mut self, endpoint: &impl std::fmt::Display) -> Self {
        self.url = Some(endpoint.to_string());
        self
    }
}

/// The probe queue, as the broker saw it before the probe deleted it.
#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub name: String,
    #[serde(rename = "type")]
    pub queue_type: Option<String>,
    /// The policy the broker applied (at most one applies), or null.
    pub policy: Option<String>,
    /// That policy's definition; operator policies are not included.
    pub policy_definition: Value,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AmqpProbe {
    pub user: String,
    pub vhost: String,
    pub status: ProbeStatus,
    /// The hop that failed: connect, login, vhost, channel, passive, declare, publish, get, policy, delete.
    pub hop: Option<&'static str>,
    pub error: Option<String>,
    /// Why the probe was skipped.
    pub reason: Option<String>,
    /// What a passing probe did not check.
    pub note: Option<String>,
    /// The AMQP endpoint that answered.
    pub url: Option<String>,
    pub ms: f64,
    /// Milliseconds per hop, in the order they ran.
    pub hops: Map<String, Value>,
    pub queue: Option<QueueReport>,
}

impl AmqpProbe {
    fn new(target: &AmqpTarget) -> Self {
        AmqpProbe {
            user: target.user.clone(),
            vhost: target.vhost.clone(),
            status: ProbeStatus::Ok,
            hop: None,
            error: None,
            reason: None,
            note: None,
            url: None,
            ms: 0.0,
            hops: Map::new(),
            queue: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct KafkaProbe {
    pub topic: String,
    pub status: ProbeStatus,
    /// The hop that failed: connect, metadata, produce, consume.
    pub hop: Option<&'static str>,
    pub error: Option<String>,
    pub reason: Option<String>,
    /// The sum of the hops; `consume` counts from the consumer's start, so it includes the group join.
    pub ms: f64,
    pub hops: Map<String, Value>,
    pub partitions: Option<usize>,
    /// Where the probe record went (for a listener: the first record it read back).
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// For a probe run as a service's own principal: the service, its Kafka user, `produce` or
    /// `consume`, and for `consume` the consumer group checked.
    pub service: Option<String>,
    pub user: Option<String>,
    pub role: Option<&'static str>,
    pub group: Option<String>,
}

impl KafkaProbe {
    fn new(target: &KafkaTarget) -> Self {
        KafkaProbe {
            topic: target.topic.clone(),
            status: if target.skip.is_some() {
                ProbeStatus::Skipped
            } else {
                ProbeStatus::Ok
            },
            hop: None,
            error: None,
            reason: target.skip.clone(),
            ms: 0.0,
            hops: Map::new(),
            partitions: None,
            partition: None,
            offset: None,
            service: None,
            user: None,
            role: None,
            group: None,
        }
    }
}

/// The consumer group of a run's Kafka probes.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub name: String,
    /// From the consumer's start to its first partition assignment.
    pub join_ms: Option<f64>,
    pub deleted: bool,
    /// Why the group could not be deleted.
    pub error: Option<String>,
}

/// Milliseconds since `since`, to 0.1 ms.
pub(crate) fn ms_since(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

/// `osa_hybrid_msg.probe.<16 hex digits>`: the reserved name of probe queues, records and groups.
pub(crate) fn probe_name() -> String {
    format!("osa_hybrid_msg.probe.{:016x}", rand::random::<u64>())
}

/// Hop timings of one probe.
pub(crate) struct Clock {
    started: Instant,
    hops: Vec<(&'static str, f64)>,
}

impl Clock {
    pub(crate) fn start() -> Self {
        Clock {
            started: Instant::now(),
            hops: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, hop: &'static str, since: Instant) {
        self.add_ms(hop, ms_since(since));
    }

    pub(crate) fn add_ms(&mut self, hop: &'static str, ms: f64) {
        match self.hops.iter_mut().find(|(h, _)| *h == hop) {
            Some(entry) => entry.1 += ms,
            None => self.hops.push((hop, ms)),
        }
    }

    /// AMQP: `ms` is the wall time of the probe. Kafka probes share requests, so there it is the sum of hops.
    pub(crate) fn finish(&self, ms: &mut f64, hops: &mut Map<String, Value>) {
        *ms = ms_since(self.started);
        for (hop, v) in &self.hops {
            hops.insert((*hop).to_owned(), json!((v * 10.0).round() / 10.0));
        }
    }

    pub(crate) fn sum(&self) -> f64 {
        (self.hops.iter().map(|(_, v)| v).sum::<f64>() * 10.0).round() / 10.0
    }
}

fn planned<'a>(changes: &'a [Change], kind: Kind, name: &str, vhost: Option<&str>) -> Option<&'a Change> {
    changes
        .iter()
        .find(|c| c.kind == kind && c.name == name && c.vhost.as_deref() == vhost)
}

/// The (user, vhost) pairs to probe: every present user on the vhosts of its declared permissions (plus
/// the ones it keeps with `purge_permissions: false`), or on its current ones when `permissions` is unset.
/// Returns the targets and a warning per user that has no vhost to probe.
pub fn amqp_targets(
    request: &Request,
    observed: &RabbitSnapshot,
    changes: &[Change],
    check_mode: bool,
) -> (Vec<AmqpTarget>, Vec<String>) {
    let deleted_vhost = |v: &str| {
        request
            .vhosts()
            .iter()
            .any(|d| d.name == v && d.state() == State::Absent)
    };
    let mut targets = Vec::new();
    let mut warnings = Vec::new();
    for (i, user) in request.users().iter().enumerate() {
        if user.state() != State::Present {
            continue;
        }
        let current = observed
            .permissions
            .iter()
            .filter(|((u, v), _)| *u == user.name && !deleted_vhost(v))
            .map(|((_, v), p)| (v.clone(), p.configure.clone()));
        let vhosts: Vec<(String, String)> = match &user.permissions {
            Some(declared) => {
                let mut list: Vec<(String, String)> = declared
                    .iter()
                    .map(|p| (p.vhost.clone(), p.configure.clone()))
                    .collect();
                if !user.purge_permissions() {
                    let kept: Vec<_> = current.filter(|(v, _)| !list.iter().any(|(d, _)| d == v)).collect();
                    list.extend(kept);
                }
                list
            }
            None => current.collect(),
        };
        if vhosts.is_empty() {
            warnings.push(format!(
                "verify: user '{}' has no permissions on any vhost, so it was not probed",
                user.name
            ));
            continue;
        }
        let (password, password_skip) = match user.password_spec() {
            PasswordSpec::Plain(p) => (Some(Secret::new(p)), None),
            PasswordSpec::Hash { .. } => (
                None,
                Some(
                    "only password_hash is declared; logging in needs the clear-text password, so this user was not probed"
                        .to_owned(),
                ),
            ),
            PasswordSpec::Unset => (
                None,
                Some("no password is declared; logging in needs it, so this user was not probed".to_owned()),
            ),
        };
        if let Some(reason) = &password_skip {
            warnings.push(format!("verify: user '{}': {reason}", user.name));
        }
        let user_change = planned(changes, Kind::User, &user.name, None);
        let hint = (user.update_password() == UpdatePassword::OnCreate).then(|| {
            format!(
                "{}.update_password is on_create, so an existing user keeps its password on the broker",
                request.user_path(i)
            )
        });
        for (vhost, configure) in vhosts {
            let mut skip = password_skip.clone();
            if check_mode && skip.is_none() {
                skip = match (user_change, planned(changes, Kind::Vhost, &vhost, None)) {
                    (Some(c), _) if c.action == Action::Create => {
                        Some("the user does not exist yet (planned: create)".to_owned())
                    }
                    (Some(c), _) if c.fields.contains_key("password") => {
                        Some("the user's password changes in this run (planned)".to_owned())
                    }
                    (_, Some(c)) if c.action == Action::Create => {
                        Some("the vhost does not exist yet (planned: create)".to_owned())
                    }
                    _ => planned(changes, Kind::Permission, &user.name, Some(&vhost))
                        .filter(|c| c.action == Action::Create)
                        .map(|_| "the user has no permission on the vhost yet (planned: create)".to_owned()),
                };
            }
            targets.push(AmqpTarget {
                user: user.name.clone(),
                vhost,
                password: password.clone(),
                configure: Some(configure),
                skip,
                hint: hint.clone(),
            });
        }
    }
    (targets, warnings)
}

/// Every present topic, the `notifications` expansion included; in check mode, those still to be
/// created are skipped. On a SASL Kafka the services' topics are probed as the services instead
/// (`kafka_services`), so they are not probed here as the connection's principal.
pub fn kafka_targets(request: &Request, changes: &[Change], check_mode: bool) -> Vec<KafkaTarget> {
    let by_services = !request.kafka_service_principals().is_empty();
    request
        .kafka_topics()
        .into_iter()
        .filter(|(path, t)| t.state() == State::Present && !(by_services && path.starts_with("services[")))
        .map(|(_, t)| KafkaTarget {
            skip: (check_mode
                && planned(changes, Kind::Topic, &t.name, None).is_some_and(|c| c.action == Action::Create))
            .then(|| "the topic does not exist yet (planned: create)".to_owned()),
            topic: t.name,
        })
        .collect()
}

/// What a run needs for its probes.
pub struct Context<'a, R: RabbitAdmin> {
    pub request: &'a Request,
    /// The management API backend and the snapshot it read before apply.
    pub rabbit: Option<(&'a R, &'a RabbitSnapshot)>,
    pub changes: &'a [Change],
    pub check_mode: bool,
}

pub struct Outcome {
    /// The `verify` section of the result.
    pub report: VerifyReport,
    /// One line per failed probe, naming it, the hop and the broker's words.
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
}

/// Runs the requested probes, AMQP and Kafka side by side. Never fails as a whole: each probe's
/// outcome is in the report.
pub async fn run<R: RabbitAdmin>(ctx: Context<'_, R>) -> Outcome {
    let spec = ctx.request.verify();
    let started = Instant::now();
    let mode = if ctx.check_mode { Mode::ReadOnly } else { Mode::Full };
    let default_rabbit = RabbitConnection::default();
    let default_kafka = KafkaConnection::default();
    let rabbit_conn = ctx.request.rabbitmq.as_ref().unwrap_or(&default_rabbit);
    let kafka_conn = ctx.request.kafka.as_ref().unwrap_or(&default_kafka);

    let amqp_run = async {
        let Some((admin, snapshot)) = ctx.rabbit.filter(|_| spec.amqp) else {
            return (Vec::new(), Vec::new());
        };
        let (targets, warnings) = amqp_targets(ctx.request, snapshot, ctx.changes, ctx.check_mode);
        let settings = AmqpSettings::new(rabbit_conn);
        let probes: Vec<AmqpProbe> = futures::stream::iter(&targets)
            .map(|t| probe_amqp(&settings, Some(admin), t, mode))
            .buffered(PROBE_CONCURRENCY)
            .collect()
            .await;
        (probes, warnings)
    };
    let kafka_run = async {
        if !spec.kafka {
            return (Vec::new(), None);
        }
        let targets = kafka_targets(ctx.request, ctx.changes, ctx.check_mode);
        let principals = ctx.request.kafka_service_principals();
        let (mut probes, group) = probe_kafka(kafka_conn, &targets, mode).await;
        probes.extend(probe_kafka_services(kafka_conn, principals, ctx.changes, mode).await);
        (probes, group)
    };
    let ((amqp, mut warnings), (kafka, group)) = futures::join!(amqp_run, kafka_run);

    let mut failures: Vec<String> = amqp
        .iter()
        .filter(|p| p.status == ProbeStatus::Failed)
        .map(|p| {
            format!(
                "user '{}' on vhost '{}' failed at {}: {}",
                p.user,
                p.vhost,
                p.hop.unwrap_or("?"),
                p.error.as_deref().unwrap_or("")
            )
        })
        .collect();
    failures.extend(kafka.iter().filter(|p| p.status == ProbeStatus::Failed).map(|p| {
        let who = match (&p.service, &p.user, p.role) {
            (Some(service), Some(user), Some(role)) => {
                format!(
                    "service '{service}' (Kafka user '{user}') could not {role} on topic '{}'",
                    p.topic
                )
            }
            _ => format!("topic '{}'", p.topic),
        };
        format!(
            "{who} failed at {}: {}",
            p.hop.unwrap_or("?"),
            p.error.as_deref().unwrap_or("")
        )
    }));
    if let Some(g) = &group
        && !g.deleted
    {
        warnings.push(format!(
            "verify: consumer group '{}' could not be deleted ({}); it holds no committed offsets",
            g.name,
            g.error.as_deref().unwrap_or("no reason given")
        ));
    }
    let report = VerifyReport {
        mode,
        ok: failures.is_empty(),
        amqp,
        kafka,
        consumer_group: group,
        ms: ms_since(started),
    };
    Outcome {
        report,
        failures,
        warnings,
    }
}

/// The error message of a failed verify: each failed probe, then what the run changed (and keeps).
pub fn failure_message(failures: &[String], probes: usize, changes: &[Change], check_mode: bool) -> String {
    let applied: Vec<String> = changes
        .iter()
        .filter(|c| c.status == Status::Applied)
        .map(ToString::to_string)
        .collect();
    let state = if check_mode {
        "Check mode: nothing was changed".to_owned()
    } else if applied.is_empty() {
        "Nothing needed changing".to_owned()
    } else {
        format!("These changes were applied and stay applied: {}", applied.join(", "))
    };
    format!(
        "{} of {probes} probes failed: {}. {state}. Fix the cause and run again",
        failures.len(),
        failures.join("; ")
    )
}
