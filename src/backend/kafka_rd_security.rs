//! SCRAM users and ACLs on the rdkafka backend: the read (DescribeUserScramCredentials, one match-any
//! DescribeAcls, and a login test per user with `update_password: always`), the batched writes, and
//! the wait until the cluster shows them. The C calls are in `kafka_security.rs`.
//!
//! Reads and writes are retried as topic requests are (`kafka_retry.rs`): a retryable error (a broker
//! gone, NOT_CONTROLLER, REQUEST_TIMED_OUT, a dropped connection) is tried again with a bounded backoff
//! until the run's deadline. A write whose answer was lost is first looked up (DescribeAcls,
//! DescribeUserScramCredentials): what the cluster shows done is reported applied and not sent again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};

use rdkafka::error::RDKafkaErrorCode;

use super::SecurityScope;
use super::kafka_alter::{Failure, drain_main_queue};
use super::kafka_rd::{Context, RdKafka};
use super::kafka_retry::{Budget, maybe_applied, retryable};
use super::kafka_security::{ScramAlteration, alter_acls, alter_scram, describe_acls, describe_scram};
use crate::error::{Broker, Error, Result};
use crate::observed::KafkaSnapshot;
use crate::plan::{Op, Secret};
use crate::spec::{AclBinding, ScramMechanism};

pub(super) fn is_security_op(op: &Op) -> bool {
    matches!(
        op,
        Op::UpsertScramCredential { .. }
            | Op::DeleteScramCredential { .. }
            | Op::CreateAcl { .. }
            | Op::DeleteAcl { .. }
    )
}

/// How often a login test or a wait for the cluster asks again.
const RETRY: Duration = Duration::from_millis(50);

/// How long one login test of the wait after a password change may take: a bootstrap server that is
/// down gives no answer, and is then left out of the wait rather than holding the run to its deadline.
const SETTLE_LOGIN: Duration = Duration::from_secs(3);

/// Logs in as `user` with `password` and asks for metadata; writes nothing. `Ok(false)` when the
/// broker refuses the credentials; `Err` when the answer says nothing about them (unreachable, or a
/// mechanism the listener does not offer).
fn login_blocking(
    mut cfg: ClientConfig,
    user: &str,
    mechanism: ScramMechanism,
    password: &Secret,
    timeout: Duration,
) -> std::result::Result<bool, String> {
    cfg.set("sasl.username", user)
        .set("sasl.password", password.expose())
        // client_config's sparse connections: one broker is enough to test the password.
        .set("sasl.mechanism", mechanism.as_str());
    let client = AdminClient::from_config_and_context(&cfg, Context::default()).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let outcome = loop {
        // A refused login never brings a broker up, so the metadata call alone would wait the whole
        // timeout; short calls let the log say why sooner.
        match client.inner().fetch_metadata(None, Duration::from_millis(100)) {
            Ok(_) => break Ok(true),
            Err(e) => {
                let texts = drain_main_queue(&client);
                if let Some(t) = texts.iter().find(|t| t.contains("Unsupported SASL mechanism")) {
                    break Err(t.clone());
                }
                if texts
                    .iter()
                    .any(|t| t.contains("Authentication failed") || t.contains("invalid credentials"))
                {
                    break Ok(false);
                }
                seen.extend(texts);
                if Instant::now() >= deadline {
                    let detail = seen.iter().rev().take(2).cloned().collect::<Vec<_>>().join("; ");
                    break Err(if detail.is_empty() { e.to_string() } else { detail });
                }
            }
        }
    };
    // librdkafka's destroy joins its threads (~150 ms); the answer does not wait for it.
    crate::closing::drop_in_background(client);
    outcome
}

fn api_error(action: &str, reason: String) -> Error {
    Error::Api {
        broker: Broker::Kafka,
        action: action.to_owned(),
        status: 0,
        reason,
    }
}

/// Per operation of one attempt, in order; `Err` when the request failed as a whole.
type Outcomes = std::result::Result<Vec<std::result::Result<(), Failure>>, Failure>;

/// What one look-up of the cluster says about an operation whose answer was lost: `Some(done)`, or
/// `None` when the cluster cannot tell (a password changed at the same iterations; a failed read).
type Shown = Vec<Option<bool>>;

fn request_name(op: &Op) -> &'static str {
    match op {
        Op::CreateAcl { .. } => "CreateAcls",
        Op::DeleteAcl { .. } => "DeleteAcls",
        _ => "AlterUserScramCredentials",
    }
}

fn user_of(op: &Op) -> &str {
    match op {
        Op::UpsertScramCredential { user, .. } | Op::DeleteScramCredential { user, .. } => user,
        _ => "",
    }
}

impl RdKafka {
    /// Runs a blocking librdkafka call on the blocking pool, its wait bounded by `timeout` (plus the
    /// slack the C call itself takes); a call that outlives it is `OperationTimedOut`.
    async fn blocking<T: Send + 'static>(
        &self,
        request: &str,
        timeout: Duration,
        f: impl FnOnce(Arc<AdminClient<Context>>, Duration) -> std::result::Result<T, Failure> + Send + 'static,
    ) -> std::result::Result<T, Failure> {
        let admin = self.admin().map_err(|e| (RDKafkaErrorCode::Fail, e.to_string()))?;
        let task = tokio::task::spawn_blocking(move || f(admin, timeout));
        match tokio::time::timeout(timeout + Duration::from_secs(2), task).await {
            Err(_) => Err((
                RDKafkaErrorCode::OperationTimedOut,
                format!("{request} got no answer within {}s", timeout.as_secs_f64()),
            )),
            Ok(Err(e)) => Err((RDKafkaErrorCode::Fail, format!("{request} task failed: {e}"))),
            Ok(Ok(r)) => r,
        }
    }

    /// A read (DescribeAcls, DescribeUserScramCredentials), tried again after a retryable error until
    /// the run's deadline.
    async fn read_with_retries<T: Send + 'static>(
        &self,
        request: &str,
        f: impl Fn(Arc<AdminClient<Context>>, Duration) -> std::result::Result<T, Failure> + Send + Clone + 'static,
    ) -> Result<T> {
        let mut budget = Budget::new(&self.deadline);
        loop {
            match self.blocking(request, budget.attempt(), f.clone()).await {
                Ok(v) => return Ok(v),
                Err((code, text)) => {
                    let error = self.security_error(request, text);
                    let retry = retryable(code) && !matches!(error, Error::Authentication { .. });
                    match budget.next_delay().filter(|_| retry) {
                        Some(delay) => {
                            self.note_retry(format!("{request}: {error}; again after {} ms", delay.as_millis()));
                            tokio::time::sleep(delay).await;
                        }
                        None => return Err(error),
                    }
                }
            }
        }
    }

    /// A refused admin request names the admin login as the thing to fix.
    fn security_error(&self, request: &str, reason: String) -> Error {
        if reason.contains("AUTHORIZATION_FAILED") || reason.contains("Authorization") {
            return Error::Authentication {
                endpoint: self.bootstrap.clone(),
                action: request.to_owned(),
                status: 0,
                reason,
                hint: "kafka.sasl_username must be a super user (or hold Describe and Alter on the cluster) to manage SCRAM users and ACLs",
            };
        }
        let texts = self.created().map(|admin| drain_main_queue(&admin)).unwrap_or_default();
        if texts.is_empty() {
            api_error(request, reason)
        } else {
            api_error(request, format!("{reason}; librdkafka: {}", texts.join("; ")))
        }
    }

    /// Tests one user's password through the connection's bootstrap servers (or `server` alone),
    /// waiting at most `limit` and never past the run's deadline.
    async fn login(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        password: &Secret,
        server: Option<&str>,
        limit: Duration,
    ) -> Result<bool> {
        let mut cfg = self.config.clone();
        if let Some(s) = server {
            cfg.set("bootstrap.servers", s);
        }
        let timeout = limit.min(self.deadline.remaining()).max(Duration::from_millis(100));
        let (u, p) = (user.to_owned(), password.clone());
        let task = tokio::task::spawn_blocking(move || login_blocking(cfg, &u, mechanism, &p, timeout));
        match tokio::time::timeout(timeout + Duration::from_secs(2), task).await {
            Err(_) => Err(Error::Timeout {
                action: format!("login test of Kafka user '{user}'"),
                endpoint: self.bootstrap.clone(),
                seconds: timeout.as_secs_f64(),
            }),
            Ok(Err(e)) => Err(Error::Internal(format!("login test task failed: {e}"))),
            Ok(Ok(Ok(ok))) => Ok(ok),
            Ok(Ok(Err(reason))) => Err(Error::Unreachable {
                broker: Broker::Kafka,
                attempts: vec![format!(
                    "Kafka bootstrap servers {}: login test of user '{user}' ({}) got no answer about the password: {reason}",
                    server.unwrap_or(&self.bootstrap),
                    mechanism.as_str()
                )],
            }),
        }
    }

    pub(super) async fn security_snapshot(&self, scope: &SecurityScope) -> Result<KafkaSnapshot> {
        let users = scope.users.clone();
        let scram = async {
            if users.is_empty() {
                return Ok(BTreeMap::new());
            }
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.read_with_retries("DescribeUserScramCredentials", move |admin, t| {
                describe_scram(&admin, &users, t)
            })
            .await
        };
        let acls = async {
            if !scope.acls {
                return Ok((Vec::new(), 0));
            }
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.read_with_retries("DescribeAcls", |admin, t| describe_acls(&admin, t))
                .await
        };
        let logins = futures::future::join_all(scope.logins.iter().map(|(user, mechanism, password)| async move {
            (
                user.clone(),
                self.login(user, *mechanism, password, None, self.timeout).await,
            )
        }));
        let (scram, acls, logins) = futures::join!(scram, acls, logins);
        let mut snapshot = KafkaSnapshot {
            scram: scram?,
            ..KafkaSnapshot::default()
        };
        if let Ok(mut before) = self.scram_before.lock() {
            before.clone_from(&snapshot.scram);
        }
        let (acls, unknown) = acls?;
        snapshot.acls = acls.into_iter().collect();
        snapshot.unknown_acls = unknown;
        for (user, ok) in logins {
            // A user without a credential has nothing to test; its create is planned anyway.
            let has_credential = snapshot.scram.get(&user).is_some_and(|c| !c.is_empty());
            snapshot.logins.insert(user, has_credential && ok?);
        }
        Ok(snapshot)
    }

    /// Sends the operations (all ACLs or all SCRAM changes) in one request, then again those that
    /// failed with a retryable error, with a bounded backoff until the run's deadline; those whose
    /// answer was lost are looked up first. Then waits until the cluster shows what was applied.
    #[allow(clippy::too_many_lines)]
    pub(super) async fn execute_security(&self, ops: &[&Op]) -> Vec<Result<()>> {
        let mut budget = Budget::new(&self.deadline);
        let mut done: Vec<Option<Result<()>>> = ops.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        let request = ops.first().map_or("request", |op| request_name(op));
        let mut lost_code = None;
        while !pending.is_empty() {
            let batch: Vec<&Op> = pending.iter().map(|&i| ops[i]).collect();
            // (operation, reason, whether it may have taken effect) of those to try again.
            let mut again: Vec<(usize, String, bool)> = Vec::new();
            match self.send_security(&batch, budget.attempt()).await {
                Err((code, text)) => {
                    let error = self.security_error(request, text);
                    let retry = retryable(code) && !matches!(error, Error::Authentication { .. });
                    let reason = match &error {
                        Error::Api { reason, .. } => reason.clone(),
                        other => other.to_string(),
                    };
                    if maybe_applied(code) {
                        lost_code = Some(code);
                    }
                    for &i in &pending {
                        if retry {
                            again.push((i, reason.clone(), maybe_applied(code)));
                        } else {
                            done[i] = Some(Err(api_error(&describe(ops[i]), reason.clone())));
                        }
                    }
                }
                Ok(outcomes) => {
                    for (&i, outcome) in pending.iter().zip(outcomes) {
                        match outcome {
                            Ok(()) => done[i] = Some(Ok(())),
                            Err((code, text)) if retryable(code) => {
                                if maybe_applied(code) {
                                    lost_code = lost_code.or(Some(code));
                                }
                                again.push((i, text, maybe_applied(code)));
                            }
                            Err((_, text)) => done[i] = Some(Err(api_error(&describe(ops[i]), text))),
                        }
                    }
                }
            }
            if again.is_empty() {
                break;
            }
            // librdkafka sends these requests to the controller it last heard of; after a broker loss
            // that may be the lost broker (a KRaft cluster names any live broker), until new metadata.
            self.refresh_metadata(budget.attempt()).await;
            // The answer was lost: look on the cluster for what took effect before sending it again.
            let lost: Vec<&Op> = again.iter().filter(|a| a.2).map(|a| ops[a.0]).collect();
            let shown: Shown = if lost.is_empty() {
                Vec::new()
            } else {
                let shown = self.shown(&lost, budget.attempt()).await;
                let found = shown.iter().filter(|d| **d == Some(true)).count();
                let told = shown.iter().filter(|d| d.is_some()).count();
                self.note_retry(format!(
                    "{request}: answer lost ({}); looked up on the cluster: {found} of {} operation(s) done, {} it could not tell",
                    again[0].1,
                    lost.len(),
                    lost.len() - told
                ));
                shown
            };
            let mut shown_iter = shown.into_iter();
            let mut still = Vec::new();
            for (i, reason, lost) in again {
                let seen = if lost { shown_iter.next().flatten() } else { Some(false) };
                if seen == Some(true) {
                    done[i] = Some(Ok(()));
                } else {
                    // Unknown stays unknown only when the cluster could not tell.
                    still.push((i, reason, seen.is_none()));
                }
            }
            if still.is_empty() {
                break;
            }
            if self
                .pause_before_retry(&mut budget, request, (still.len(), batch.len()), &still[0].1)
                .await
            {
                pending = still.into_iter().map(|s| s.0).collect();
                continue;
            }
            for (i, reason, unknown) in still {
                let unsettled = "the cluster could not tell whether it took effect";
                done[i] = Some(Err(self.gave_up(
                    describe(ops[i]),
                    (reason, unknown),
                    lost_code,
                    unsettled,
                    |r| api_error(&describe(ops[i]), r),
                )));
            }
            break;
        }
        let results: Vec<Result<()>> = done
            .into_iter()
            .map(|d| d.unwrap_or_else(|| Err(Error::Internal("a Kafka operation was left without an outcome".into()))))
            .collect();
        let applied: Vec<&Op> = ops
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(op, _)| *op)
            .collect();
        match ops.first() {
            Some(Op::CreateAcl { .. } | Op::DeleteAcl { .. }) => self.settle_acls(&applied).await,
            _ => self.settle_scram(&applied).await,
        }
        results
    }

    /// Reads the cluster's metadata (result unused), so that librdkafka learns which brokers are up and
    /// which one is the controller now.
    async fn refresh_metadata(&self, timeout: Duration) {
        let Ok(admin) = self.admin() else {
            return;
        };
        let read = tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout).is_ok());
        let _ = tokio::time::timeout(timeout + Duration::from_secs(1), read).await;
    }

    /// One attempt: the operations in one request, each outcome in order.
    async fn send_security(&self, ops: &[&Op], timeout: Duration) -> Outcomes {
        self.writes.fetch_add(1, Ordering::Relaxed);
        match ops.first() {
            Some(Op::CreateAcl { .. } | Op::DeleteAcl { .. }) => {
                let delete = matches!(ops[0], Op::DeleteAcl { .. });
                let acls: Vec<AclBinding> = ops
                    .iter()
                    .filter_map(|op| match op {
                        Op::CreateAcl { acl } | Op::DeleteAcl { acl } => Some(acl.clone()),
                        _ => None,
                    })
                    .collect();
                let request = request_name(ops[0]);
                self.blocking(request, timeout, move |admin, t| {
                    let refs: Vec<&AclBinding> = acls.iter().collect();
                    alter_acls(&admin, &refs, delete, t)
                })
                .await
            }
            Some(Op::UpsertScramCredential { .. } | Op::DeleteScramCredential { .. }) => {
                let sent: Vec<Op> = ops.iter().map(|op| (*op).clone()).collect();
                let by_user = self
                    .blocking("AlterUserScramCredentials", timeout, move |admin, t| {
                        let alterations: Vec<ScramAlteration<'_>> = sent
                            .iter()
                            .filter_map(|op| match op {
                                Op::UpsertScramCredential {
                                    user,
                                    mechanism,
                                    iterations,
                                    password,
                                } => Some(ScramAlteration {
                                    user,
                                    mechanism: *mechanism,
                                    upsert: Some((*iterations, password)),
                                }),
                                Op::DeleteScramCredential { user, mechanism } => Some(ScramAlteration {
                                    user,
                                    mechanism: *mechanism,
                                    upsert: None,
                                }),
                                _ => None,
                            })
                            .collect();
                        alter_scram(&admin, &alterations, t)
                    })
                    .await?;
                Ok(ops
                    .iter()
                    .map(|op| match by_user.get(user_of(op)) {
                        Some(Ok(())) => Ok(()),
                        // A credential already gone (deleted by an attempt whose answer was lost, or
                        // by hand) is what a delete wants.
                        Some(Err((RDKafkaErrorCode::ResourceNotFound, _)))
                            if matches!(op, Op::DeleteScramCredential { .. }) =>
                        {
                            Ok(())
                        }
                        Some(Err(failure)) => Err(failure.clone()),
                        None => Err((
                            RDKafkaErrorCode::InvalidArgument,
                            "the broker returned no result for it".into(),
                        )),
                    })
                    .collect())
            }
            _ => Err((
                RDKafkaErrorCode::InvalidArgument,
                "a non-security operation reached the Kafka security writer".into(),
            )),
        }
    }

    /// Whether the cluster shows each operation done: DescribeAcls for ACLs, DescribeUserScramCredentials
    /// (against what the run read) for credentials. A new password at unchanged iterations does not
    /// show; that upsert is `None`, and being idempotent, is sent again.
    async fn shown(&self, ops: &[&Op], timeout: Duration) -> Shown {
        if let Some(Op::CreateAcl { .. } | Op::DeleteAcl { .. }) = ops.first() {
            let Ok((now, _)) = self
                .blocking("DescribeAcls", timeout, |admin, t| describe_acls(&admin, t))
                .await
            else {
                return vec![None; ops.len()];
            };
            let now: BTreeSet<AclBinding> = now.into_iter().collect();
            return ops
                .iter()
                .map(|op| match op {
                    Op::CreateAcl { acl } => Some(now.contains(acl)),
                    Op::DeleteAcl { acl } => Some(!now.contains(acl)),
                    _ => None,
                })
                .collect();
        }
        let users: Vec<String> = ops
            .iter()
            .map(|op| user_of(op).to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let Ok(now) = self
            .blocking("DescribeUserScramCredentials", timeout, move |admin, t| {
                describe_scram(&admin, &users, t)
            })
            .await
        else {
            return vec![None; ops.len()];
        };
        let before = self.scram_before.lock().map(|b| b.clone()).unwrap_or_default();
        ops.iter()
            .map(|op| scram_shown(op, before.get(user_of(op)), now.get(user_of(op))))
            .collect()
    }

    /// Waits, at most until the run's deadline, until DescribeAcls shows the change: a broker applies
    /// the controller's record a little later, and a run started at once would plan it again.
    async fn settle_acls(&self, applied: &[&Op]) {
        if applied.is_empty() {
            return;
        }
        while !self.deadline.expired() {
            let timeout = self.deadline.remaining().max(Duration::from_millis(100));
            // The same question as the look-up after a lost answer: does the cluster show each one done?
            if self
                .shown(applied, timeout)
                .await
                .iter()
                .all(|done| *done == Some(true))
            {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Waits, at most until the run's deadline, until every bootstrap server accepts each new password
    /// and DescribeUserScramCredentials no longer lists deleted credentials: brokers apply credential
    /// records asynchronously, and a login test at once could fail and rewrite the password again.
    async fn settle_scram(&self, applied: &[&Op]) {
        let servers: Vec<String> = self.bootstrap.split(',').map(str::to_owned).collect();
        let mut logins = Vec::new();
        let mut deleted: HashMap<String, Vec<ScramMechanism>> = HashMap::new();
        for op in applied {
            match op {
                Op::UpsertScramCredential {
                    user,
                    mechanism,
                    password,
                    ..
                } => {
                    for s in &servers {
                        logins.push((user.as_str(), *mechanism, password, s.as_str()));
                    }
                }
                Op::DeleteScramCredential { user, mechanism } => {
                    deleted.entry(user.clone()).or_default().push(*mechanism);
                }
                _ => {}
            }
        }
        let waits = logins.iter().map(|(user, mechanism, password, server)| async move {
            while !self.deadline.expired() {
                // Accepted: done. No answer about the password (`Err`): that server is down or
                // unreachable, and the next run's login test goes through any server; nothing to wait for.
                if !matches!(
                    self.login(user, *mechanism, password, Some(server), SETTLE_LOGIN).await,
                    Ok(false)
                ) {
                    return;
                }
                tokio::time::sleep(RETRY).await;
            }
        });
        futures::future::join_all(waits).await;
        if deleted.is_empty() {
            return;
        }
        let users: Vec<String> = deleted.keys().cloned().collect();
        while !self.deadline.expired() {
            let users = users.clone();
            let timeout = self.deadline.remaining().max(Duration::from_millis(100));
            if let Ok(now) = self
                .blocking("DescribeUserScramCredentials", timeout, move |admin, t| {
                    describe_scram(&admin, &users, t)
                })
                .await
                && deleted
                    .iter()
                    .all(|(u, ms)| now.get(u).is_none_or(|have| ms.iter().all(|m| !have.contains_key(m))))
            {
                return;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

/// Whether a credential change shows on the cluster, given the user's credentials before the run and
/// now (mechanism → iterations). An upsert shows when the mechanism now has the declared iterations
/// and had not before; with the same iterations before and after, only the password changed, and
/// the cluster cannot tell (`None`).
fn scram_shown(
    op: &Op,
    before: Option<&BTreeMap<ScramMechanism, i32>>,
    now: Option<&BTreeMap<ScramMechanism, i32>>,
) -> Option<bool> {
    let get = |m: Option<&BTreeMap<ScramMechanism, i32>>, mechanism| m.and_then(|c| c.get(mechanism).copied());
    match op {
        Op::UpsertScramCredential {
            mechanism, iterations, ..
        } => {
            let (was, is) = (get(before, mechanism), get(now, mechanism));
            if is != Some(*iterations) {
                Some(false)
            } else if was == Some(*iterations) {
                None
            } else {
                Some(true)
            }
        }
        Op::DeleteScramCredential { mechanism, .. } => Some(get(now, mechanism).is_none()),
        _ => None,
    }
}

pub(super) fn describe(op: &Op) -> String {
    match op {
        Op::UpsertScramCredential { user, mechanism, .. } => {
            format!("set the {} credential of Kafka user '{user}'", mechanism.as_str())
        }
        Op::DeleteScramCredential { user, mechanism } => {
            format!("delete the {} credential of Kafka user '{user}'", mechanism.as_str())
        }
        Op::CreateAcl { acl } => format!("create ACL ({acl})"),
        Op::DeleteAcl { acl } => format!("delete ACL ({acl})"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::scram_shown;
    use crate::plan::{Op, Secret};
    use crate::spec::ScramMechanism::{Sha256, Sha512};

    fn upsert(iterations: i32) -> Op {
        Op::UpsertScramCredential {
            user: "u".into(),
            mechanism: Sha512,
            iterations,
            password: Secret::new("pw"),
        }
    }

    #[test]
    fn a_lost_credential_change_shows_only_when_the_cluster_can_tell() {
        let none = BTreeMap::new();
        let sha512 = |i| BTreeMap::from([(Sha512, i)]);
        // Created: absent before, there now with the declared iterations.
        assert_eq!(scram_shown(&upsert(8192), Some(&none), Some(&sha512(8192))), Some(true));
        assert_eq!(scram_shown(&upsert(8192), Some(&none), Some(&none)), Some(false));
        // Iterations changed: shows.
        assert_eq!(
            scram_shown(&upsert(8192), Some(&sha512(4096)), Some(&sha512(8192))),
            Some(true)
        );
        assert_eq!(
            scram_shown(&upsert(8192), Some(&sha512(4096)), Some(&sha512(4096))),
            Some(false)
        );
        // Only the password changed: the description is the same either way.
        assert_eq!(
            scram_shown(&upsert(8192), Some(&sha512(8192)), Some(&sha512(8192))),
            None
        );
        let delete = Op::DeleteScramCredential {
            user: "u".into(),
            mechanism: Sha512,
        };
        assert_eq!(scram_shown(&delete, Some(&sha512(4096)), Some(&none)), Some(true));
        assert_eq!(
            scram_shown(&delete, Some(&sha512(4096)), Some(&BTreeMap::from([(Sha256, 4096)]))),
            Some(true)
        );
        assert_eq!(
            scram_shown(&delete, Some(&sha512(4096)), Some(&sha512(4096))),
            Some(false)
        );
        assert_eq!(scram_shown(&delete, None, None), Some(true));
    }
}
