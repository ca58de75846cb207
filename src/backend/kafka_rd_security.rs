//! SCRAM users and ACLs on the rdkafka backend: the read (DescribeUserScramCredentials, one match-any
//! DescribeAcls, and a login test per user with `update_password: always`), the batched writes, and
//! the wait until the cluster shows them. The C calls are in `kafka_security.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};

use super::SecurityScope;
use super::kafka_alter::drain_main_queue;
use super::kafka_rd::{Context, RdKafka};
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
        .set("sasl.mechanism", mechanism.as_str())
        // One broker is enough to test the password.
        .set("enable.sparse.connections", "true");
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
    std::thread::spawn(move || drop(client));
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

impl RdKafka {
    /// Runs a blocking librdkafka call on the blocking pool, bounded by the connection timeout.
    async fn blocking<T: Send + 'static>(
        &self,
        request: &str,
        f: impl FnOnce(Arc<AdminClient<Context>>, Duration) -> std::result::Result<T, String> + Send + 'static,
    ) -> Result<T> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.timeout;
        let task = tokio::task::spawn_blocking(move || f(admin, timeout));
        match tokio::time::timeout(timeout + Duration::from_secs(2), task).await {
            Err(_) => Err(Error::Timeout {
                action: request.to_owned(),
                endpoint: self.bootstrap.clone(),
                seconds: timeout.as_secs_f64(),
            }),
            Ok(Err(e)) => Err(Error::Internal(format!("{request} task failed: {e}"))),
            Ok(Ok(r)) => r.map_err(|reason| self.security_error(request, reason)),
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
        let texts = drain_main_queue(&self.admin);
        if texts.is_empty() {
            api_error(request, reason)
        } else {
            api_error(request, format!("{reason}; librdkafka: {}", texts.join("; ")))
        }
    }

    /// Tests one user's password through the connection's bootstrap servers (or `server` alone).
    async fn login(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        password: &Secret,
        server: Option<&str>,
    ) -> Result<bool> {
        let mut cfg = self.config.clone();
        if let Some(s) = server {
            cfg.set("bootstrap.servers", s);
        }
        let (u, p, timeout) = (user.to_owned(), password.clone(), self.timeout);
        let task = tokio::task::spawn_blocking(move || login_blocking(cfg, &u, mechanism, &p, timeout));
        match tokio::time::timeout(self.timeout + Duration::from_secs(2), task).await {
            Err(_) => Err(Error::Timeout {
                action: format!("login test of Kafka user '{user}'"),
                endpoint: self.bootstrap.clone(),
                seconds: self.timeout.as_secs_f64(),
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
            self.blocking("DescribeUserScramCredentials", move |admin, t| {
                describe_scram(&admin, &users, t)
            })
            .await
        };
        let acls = async {
            if !scope.acls {
                return Ok((Vec::new(), 0));
            }
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.blocking("DescribeAcls", |admin, t| describe_acls(&admin, t)).await
        };
        let logins = futures::future::join_all(scope.logins.iter().map(|(user, mechanism, password)| async move {
            (user.clone(), self.login(user, *mechanism, password, None).await)
        }));
        let (scram, acls, logins) = futures::join!(scram, acls, logins);
        let mut snapshot = KafkaSnapshot {
            scram: scram?,
            ..KafkaSnapshot::default()
        };
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

    pub(super) async fn execute_security(&self, ops: &[&Op]) -> Vec<Result<()>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let outcome = match ops.first() {
            Some(Op::CreateAcl { .. } | Op::DeleteAcl { .. }) => self.execute_acls(ops).await,
            Some(Op::UpsertScramCredential { .. } | Op::DeleteScramCredential { .. }) => self.execute_scram(ops).await,
            _ => Err(Error::Internal(
                "a non-security operation reached the Kafka security writer".into(),
            )),
        };
        match outcome {
            Ok(results) => results,
            Err(e) => {
                let reason = e.to_string();
                ops.iter()
                    .map(|op| Err(api_error(&describe(op), reason.clone())))
                    .collect()
            }
        }
    }

    async fn execute_acls(&self, ops: &[&Op]) -> Result<Vec<Result<()>>> {
        let mut delete = false;
        let acls: Vec<AclBinding> = ops
            .iter()
            .filter_map(|op| match op {
                Op::CreateAcl { acl } => Some(acl.clone()),
                Op::DeleteAcl { acl } => {
                    delete = true;
                    Some(acl.clone())
                }
                _ => None,
            })
            .collect();
        let request = if delete { "DeleteAcls" } else { "CreateAcls" };
        let sent = acls.clone();
        let results = self
            .blocking(request, move |admin, t| {
                let refs: Vec<&AclBinding> = sent.iter().collect();
                alter_acls(&admin, &refs, delete, t)
            })
            .await?;
        let done: BTreeSet<AclBinding> = acls
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(a, _)| a.clone())
            .collect();
        self.settle_acls(&done, delete).await;
        Ok(ops
            .iter()
            .zip(results)
            .map(|(op, r)| r.map_err(|reason| api_error(&describe(op), reason)))
            .collect())
    }

    /// Waits, at most the timeout, until DescribeAcls shows the change: a broker applies the
    /// controller's record a little later, and a run started at once would plan it again.
    async fn settle_acls(&self, done: &BTreeSet<AclBinding>, deleted: bool) {
        if done.is_empty() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        while tokio::time::Instant::now() < deadline {
            if let Ok((now, _)) = self.blocking("DescribeAcls", |admin, t| describe_acls(&admin, t)).await {
                let now: BTreeSet<AclBinding> = now.into_iter().collect();
                if done.iter().all(|a| now.contains(a) != deleted) {
                    return;
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn execute_scram(&self, ops: &[&Op]) -> Result<Vec<Result<()>>> {
        let owned: Vec<Op> = ops.iter().map(|op| (*op).clone()).collect();
        let sent = owned.clone();
        let results = self
            .blocking("AlterUserScramCredentials", move |admin, t| {
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
        let user_of = |op: &Op| match op {
            Op::UpsertScramCredential { user, .. } | Op::DeleteScramCredential { user, .. } => user.clone(),
            _ => String::new(),
        };
        let out: Vec<Result<()>> = owned
            .iter()
            .map(|op| match results.get(&user_of(op)) {
                Some(Ok(())) => Ok(()),
                Some(Err(reason)) => Err(api_error(&describe(op), reason.clone())),
                None => Err(api_error(&describe(op), "the broker returned no result for it".into())),
            })
            .collect();
        let applied: Vec<&Op> = owned
            .iter()
            .zip(&out)
            .filter(|(_, r)| r.is_ok())
            .map(|(op, _)| op)
            .collect();
        self.settle_scram(&applied).await;
        Ok(out)
    }

    /// Waits, at most the timeout, until every bootstrap server accepts each new password and
    /// DescribeUserScramCredentials no longer lists deleted credentials: brokers apply credential
    /// records asynchronously, and a login test at once could fail and rewrite the password again.
    async fn settle_scram(&self, applied: &[&Op]) {
        let deadline = tokio::time::Instant::now() + self.timeout;
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
            while tokio::time::Instant::now() < deadline {
                if matches!(self.login(user, *mechanism, password, Some(server)).await, Ok(true)) {
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
        while tokio::time::Instant::now() < deadline {
            let users = users.clone();
            if let Ok(now) = self
                .blocking("DescribeUserScramCredentials", move |admin, t| {
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

fn describe(op: &Op) -> String {
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
