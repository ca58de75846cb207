//! The Kafka backend on rdkafka's admin client (librdkafka 2.12.1, bundled). Reads: one metadata
//! request, one batched DescribeConfigs. Writes: one batched request per kind of change.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::ClientContext;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::kafka_alter::{Failure, TopicAlteration, drain_main_queue, incremental_alter};
use super::kafka_retry::{Budget, maybe_applied, retryable};
use crate::deadline::Deadline;
use crate::error::{Broker, Error, Result};
use crate::observed::{KafkaSnapshot, ObservedTopic};
use crate::plan::Op;
use crate::spec::{KafkaConnection, SecurityProtocol};

/// Keeps librdkafka's error reports (e.g. "Connect to ipv4#127.0.0.1:1 failed: Connection refused")
/// so that a failure can name its cause; nothing is printed.
#[derive(Default)]
pub struct Context {
    errors: Mutex<Vec<String>>,
}

impl Context {
    fn note(&self, text: String) {
        if let Ok(mut e) = self.errors.lock()
            && e.len() < 20
            && !e.contains(&text)
        {
            e.push(text);
        }
    }

    /// Whether librdkafka reported a refused login or a failed TLS handshake: no retry gets past those.
    fn refused(&self) -> bool {
        self.errors.lock().is_ok_and(|e| e.iter().any(|t| is_refusal_text(t)))
    }

    fn recent(&self) -> String {
        self.errors
            .lock()
            .map(|e| e.iter().rev().take(3).cloned().collect::<Vec<_>>().join("; "))
            .unwrap_or_default()
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, _facility: &str, message: &str) {
        if matches!(
            level,
            RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical | RDKafkaLogLevel::Error
        ) {
            self.note(message.to_owned());
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.note(format!("{error}: {reason}"));
    }
}

fn is_refusal_text(text: &str) -> bool {
    text.contains("SASL authentication error")
        || text.contains("SSL handshake failed")
        || text.contains("certificate verify failed")
}

/// The verify probe's consumer uses the default rebalance handling.
impl ConsumerContext for Context {}

pub struct RdKafka {
    /// librdkafka's client, created on first use: a run whose read went without it (kafka_wire) and
    /// that writes nothing never starts its threads, nor waits for them at exit (crate::closing).
    admin: Mutex<Option<Arc<AdminClient<Context>>>>,
    pub(super) bootstrap: String,
    /// `kafka.timeout`: the run's budget, and the bound of librdkafka's socket waits.
    pub(super) timeout: Duration,
    /// The run's deadline: every read, batch, retry and wait for the cluster ends by it.
    pub(super) deadline: Deadline,
    pub(super) reads: AtomicUsize,
    pub(super) writes: AtomicUsize,
    /// Requests sent again after a retryable error, and what each retry was for (the first few).
    pub(super) retries: AtomicUsize,
    pub(super) retried: Mutex<Vec<String>>,
    /// The connection's configuration, for the short-lived clients that test a user's password.
    pub(super) config: ClientConfig,
    /// The SCRAM credentials the read found (user → mechanism → iterations): a write whose answer was
    /// lost is looked up against them.
    pub(super) scram_before: Mutex<BTreeMap<String, BTreeMap<crate::spec::ScramMechanism, i32>>>,
}

/// The option whose value is the run's deadline, named in messages.
pub const TIMEOUT_OPTION: &str = "kafka.timeout";

/// librdkafka's upper limit for `socket.timeout.ms`.
const SOCKET_TIMEOUT_MAX_MS: f64 = 300_000.0;

/// The one client configuration builder of the Kafka backend.
pub fn client_config(conn: &KafkaConnection) -> ClientConfig {
    let timeout_ms = (conn.timeout_seconds() * 1000.0).round();
    // `kafka.timeout` bounds the whole run (up to 3600 s); librdkafka refuses a socket timeout above
    // 300 s ("outside allowed range"), so one socket operation gets at most that.
    let socket_ms = timeout_ms.min(SOCKET_TIMEOUT_MAX_MS).to_string();
    let timeout_ms = timeout_ms.to_string();
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", conn.bootstrap().join(","))
        .set("security.protocol", conn.protocol().as_str())
        .set("socket.timeout.ms", &socket_ms)
        .set("socket.connection.setup.timeout.ms", &timeout_ms)
        // Sparse connections (librdkafka's default, stated because it was once off here): a run connects
        // to one bootstrap server and the brokers its requests need, not to every bootstrap server and
        // then every broker again. Each connection is a TLS and SCRAM handshake: on the three-broker test
        // cluster over SASL_SSL a no-op read took ~95 ms with all six connections, ~40 ms sparse.
        .set("enable.sparse.connections", "true")
        // No KIP-714 telemetry: a client that lives for one run would only spend a request on it.
        .set("enable.metrics.push", "false")
        // librdkafka's own logging goes to the context above, never to stderr.
        .set_log_level(RDKafkaLogLevel::Error);
    if let Some(m) = conn.sasl_mechanism {
        cfg.set("sasl.mechanism", m.as_str());
    }
    if let Some(u) = &conn.sasl_username {
        cfg.set("sasl.username", u);
    }
    if let Some(p) = &conn.sasl_password {
        cfg.set("sasl.password", p);
    }
    // Without a CA file, librdkafka probes the usual CA bundle paths (/etc/ssl/certs, /etc/pki/tls, ...)
    // rather than OpenSSL's compiled-in directory: the wheel's OpenSSL is linked statically (feature
    // static-deps), and its directory (/usr/local/ssl) is where no distribution keeps its CAs.
    if conn.ssl_cafile.is_none() && matches!(conn.protocol(), SecurityProtocol::Ssl | SecurityProtocol::SaslSsl) {
        cfg.set("ssl.ca.location", "probe");
    }
    for (key, value) in [
        ("ssl.ca.location", &conn.ssl_cafile),
        ("ssl.certificate.location", &conn.ssl_certfile),
        ("ssl.key.location", &conn.ssl_keyfile),
    ] {
        if let Some(v) = value {
            cfg.set(key, v);
        }
    }
    cfg
}

/// Builds the request and operation timeouts every admin call carries.
fn options(timeout: Duration) -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout))
}

/// The entries set on the topic itself, and the names of those whose values are hidden. Apache Kafka
/// lists every topic-level key and tags the topic's own overrides `DynamicTopic`; the rest are broker
/// or built-in defaults, which a run neither manages nor resets.
fn overrides(entries: &[rdkafka::admin::ConfigEntry]) -> (BTreeMap<String, String>, Vec<String>) {
    let mut config = BTreeMap::new();
    let mut sensitive = Vec::new();
    for e in entries {
        if !matches!(e.source, ConfigSource::DynamicTopic) {
            continue;
        }
        match (&e.value, e.is_sensitive) {
            (_, true) | (None, _) => sensitive.push(e.name.clone()),
            (Some(v), false) => {
                config.insert(e.name.clone(), v.clone());
            }
        }
    }
    (config, sensitive)
}

/// librdkafka refused the configuration (a file it cannot read, an option it does not know).
fn creation_error(e: &KafkaError) -> Error {
    Error::config(
        format!("kafka: cannot create the admin client: {e}; check the kafka ssl_* and sasl_* options"),
        e.clone(),
    )
}

fn code_text(code: RDKafkaErrorCode) -> String {
    format!("{code} ({code:?})")
}

impl RdKafka {
    /// Creates the client and reads the snapshot for `topics`. Unreachable bootstrap servers are
    /// named with librdkafka's reason. The future owns everything it needs, so that the caller can
    /// spawn it: creating the client is synchronous work that must not hold up the RabbitMQ read.
    pub fn connect(
        conn: &KafkaConnection,
        topics: Vec<String>,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(Self, KafkaSnapshot)>> + Send + 'static {
        let cfg = client_config(conn);
        let bootstrap = conn.bootstrap().join(",");
        let timeout = Duration::from_secs_f64(conn.timeout_seconds());
        let wire = super::kafka_wire::supports(conn).then(|| conn.clone());
        async move {
            // One connection without librdkafka when the connection allows it; librdkafka reads (and
            // reports the errors) when it does not or when that read fails.
            let by_wire = match &wire {
                Some(conn) => super::kafka_wire::snapshot(conn, &topics, deadline.remaining())
                    .await
                    .ok(),
                None => None,
            };
            let backend = RdKafka {
                admin: Mutex::new(None),
                bootstrap,
                timeout,
                deadline,
                reads: AtomicUsize::new(0),
                writes: AtomicUsize::new(0),
                retries: AtomicUsize::new(0),
                retried: Mutex::new(Vec::new()),
                config: cfg,
                scram_before: Mutex::new(BTreeMap::new()),
            };
            let snapshot = if let Some(snapshot) = by_wire {
                // The same two reads as librdkafka's: Metadata, and DescribeConfigs when topics are declared.
                backend
                    .reads
                    .fetch_add(1 + usize::from(!topics.is_empty()), Ordering::Relaxed);
                snapshot
            } else {
                backend.admin().map_err(|e| creation_error(&e))?;
                super::KafkaAdmin::snapshot(&backend, &topics).await?
            };
            Ok((backend, snapshot))
        }
    }

    /// The client, created now if this is its first use.
    pub(super) fn admin(&self) -> std::result::Result<Arc<AdminClient<Context>>, KafkaError> {
        let mut slot = self.admin.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(admin) = slot.as_ref() {
            return Ok(Arc::clone(admin));
        }
        let admin = Arc::new(AdminClient::from_config_and_context(&self.config, Context::default())?);
        *slot = Some(Arc::clone(&admin));
        Ok(admin)
    }

    /// The client if it was created: what librdkafka logged is only there then.
    pub(super) fn created(&self) -> Option<Arc<AdminClient<Context>>> {
        self.admin
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(super) fn kafka_error(&self, e: &KafkaError, action: &str) -> Error {
        if matches!(e, KafkaError::ClientCreation(_)) {
            return creation_error(e);
        }
        let code = e.rdkafka_error_code();
        let detail = match self.created() {
            Some(admin) => {
                for text in drain_main_queue(&admin) {
                    admin.inner().context().note(text);
                }
                admin.inner().context().recent()
            }
            None => String::new(),
        };
        let with_detail = |base: String| {
            if detail.is_empty() {
                base
            } else {
                format!("{base}; librdkafka: {detail}")
            }
        };
        // A refused login or certificate ends the connection, so librdkafka reports a transport
        // failure; its log says which.
        if detail.contains("SASL authentication error") {
            return Error::Authentication {
                endpoint: self.bootstrap.clone(),
                action: action.to_owned(),
                status: 0,
                reason: with_detail(e.to_string()),
                hint: "check kafka.sasl_username, kafka.sasl_password and kafka.sasl_mechanism",
            };
        }
        if detail.contains("SSL handshake failed") || detail.contains("certificate verify failed") {
            return Error::ConnectionConfig {
                message: format!(
                    "kafka: TLS with the bootstrap servers {} failed ({action}): {detail}; check kafka.ssl_cafile (the CA that signed the brokers' certificates) and that the servers' names match their certificates",
                    self.bootstrap
                ),
                source: None,
            };
        }
        match code {
            Some(
                RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut,
            ) => Error::Unreachable {
                broker: Broker::Kafka,
                attempts: vec![with_detail(format!(
                    "Kafka bootstrap servers {}: {action}: {e}",
                    self.bootstrap
                ))],
            },
            Some(
                RDKafkaErrorCode::Authentication
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed,
            ) => Error::Authentication {
                endpoint: self.bootstrap.clone(),
                action: action.to_owned(),
                status: 0,
                reason: with_detail(e.to_string()),
                hint: "check kafka.sasl_username, kafka.sasl_password, kafka.sasl_mechanism and the broker's ACLs",
            },
            _ => Error::Api {
                broker: Broker::Kafka,
                action: action.to_owned(),
                status: 0,
                reason: with_detail(e.to_string()),
            },
        }
    }

    /// The cluster's metadata, read again after a retryable failure while `budget` lasts.
    async fn metadata(&self, mut budget: Budget) -> Result<rdkafka::metadata::Metadata> {
        loop {
            let timeout = budget.attempt();
            let admin = self.admin().map_err(|e| creation_error(&e))?;
            let read = tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout));
            let outcome = tokio::select! {
                r = tokio::time::timeout(timeout + Duration::from_secs(1), read) => match r {
                    Err(_) => Err(KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut)),
                    Ok(Err(e)) => return Err(Error::Internal(format!("metadata task failed: {e}"))),
                    Ok(Ok(r)) => r,
                },
                () = self.refusal() => Err(KafkaError::MetadataFetch(RDKafkaErrorCode::Authentication)),
            };
            match outcome {
                Ok(metadata) => return Ok(metadata),
                Err(e) => {
                    let error = self.kafka_error(&e, "read metadata");
                    match self.retry_after(&e, &error, &mut budget, "Metadata") {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => return Err(self.ran_out(&e, error)),
                    }
                }
            }
        }
    }

    /// Returns once librdkafka has logged a refused login or a failed TLS handshake. librdkafka
    /// itself keeps reconnecting until the request's timeout; this lets a run fail at once.
    async fn refusal(&self) {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let Some(admin) = self.created() else {
                continue;
            };
            for text in drain_main_queue(&admin) {
                admin.inner().context().note(text);
            }
            if admin.inner().context().refused() {
                return;
            }
        }
    }

    /// The pause before another attempt after `e` (reported as `error`), counted as a retry; `None`
    /// when the error is not retryable or the budget is spent.
    pub(super) fn retry_after(
        &self,
        e: &KafkaError,
        error: &Error,
        budget: &mut Budget,
        request: &str,
    ) -> Option<Duration> {
        if matches!(error, Error::Authentication { .. } | Error::ConnectionConfig { .. })
            || !code_of(e).is_some_and(retryable)
        {
            return None;
        }
        let delay = budget.next_delay()?;
        self.note_retry(format!("{request}: {e}; again after {} ms", delay.as_millis()));
        Some(delay)
    }

    /// A retryable error the run's deadline left no time to retry says so.
    fn ran_out(&self, e: &KafkaError, error: Error) -> Error {
        match error {
            Error::Unreachable { broker, mut attempts } if code_of(e).is_some_and(retryable) => {
                attempts.push(format!("{} ran out", self.deadline.describe()));
                Error::Unreachable { broker, attempts }
            }
            other => other,
        }
    }

    /// Before a batch is sent again: notes the retry (the request, how many of the batch, the first reason)
    /// and waits the budget's next pause; false when the budget is spent.
    pub(super) async fn pause_before_retry(
        &self,
        budget: &mut Budget,
        request: &str,
        (left, of): (usize, usize),
        reason: &str,
    ) -> bool {
        let Some(delay) = budget.next_delay() else {
            return false;
        };
        self.note_retry(format!(
            "{request}: {left} of {of} operation(s) again after {} ms: {reason}",
            delay.as_millis()
        ));
        tokio::time::sleep(delay).await;
        true
    }

    /// The error of an operation still failing when its retries ran out. An answer lost to a timed-out
    /// request is a timeout; another lost answer leaves the outcome unknown (`unsettled` says why the
    /// look-up could not settle it; the change reports `unknown`, see Error::outcome_unknown); a failure
    /// the broker answered is `answered(reason)`.
    pub(super) fn gave_up(
        &self,
        action: String,
        (reason, lost): (String, bool),
        lost_code: Option<RDKafkaErrorCode>,
        unsettled: &str,
        answered: impl FnOnce(String) -> Error,
    ) -> Error {
        match (lost, lost_code) {
            (true, Some(RDKafkaErrorCode::OperationTimedOut | RDKafkaErrorCode::RequestTimedOut)) => Error::Timeout {
                action,
                endpoint: self.bootstrap.clone(),
                seconds: self.timeout.as_secs_f64(),
            },
            (true, _) => Error::NoAnswer {
                broker: Broker::Kafka,
                action,
                endpoint: self.bootstrap.clone(),
                reason: format!("{reason}; {unsettled}"),
            },
            (false, _) => answered(reason),
        }
    }

    pub(super) fn note_retry(&self, text: String) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut notes) = self.retried.lock()
            && notes.len() < RETRY_NOTES
        {
            notes.push(text);
        }
    }
}

impl RdKafka {
    /// The error of an operation the run's deadline left no time to send.
    pub(super) fn not_sent(&self, op: &Op) -> Error {
        Error::Deadline {
            broker: Broker::Kafka,
            action: describe_op(op),
            option: self.deadline.option(),
            seconds: self.deadline.total().as_secs_f64(),
        }
    }
}

/// What an operation is called in errors, topics and security alike.
fn describe_op(op: &Op) -> String {
    if super::kafka_rd_security::is_security_op(op) {
        super::kafka_rd_security::describe(op)
    } else {
        describe(op)
    }
}

/// How many retries the result describes; `retries` counts them all.
const RETRY_NOTES: usize = 10;

/// One write attempt's outcome per topic; `Err` when the request failed as a whole.
type Outcomes = std::result::Result<HashMap<String, std::result::Result<(), Failure>>, RequestFailed>;

/// A request that failed as a whole: the code decides whether to retry, the error is what is reported.
struct RequestFailed {
    code: RDKafkaErrorCode,
    error: Error,
}

/// The error's code; rdkafka's own accessor has none for a failed admin request.
fn code_of(e: &KafkaError) -> Option<RDKafkaErrorCode> {
    match e {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// The reason a failed request gives each of its operations.
fn reason_of(error: &Error) -> String {
    match error {
        Error::Api { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn op_error(op: &Op, reason: String) -> Error {
    Error::Api {
        broker: Broker::Kafka,
        action: describe(op),
        status: 0,
        reason,
    }
}

fn topic_of(op: &Op) -> &str {
    match op {
        Op::CreateTopic { name, .. }
        | Op::CreatePartitions { name, .. }
        | Op::AlterTopicConfig { name, .. }
        | Op::DeleteTopic { name } => name.as_str(),
        _ => "",
    }
}

fn request_name(op: &Op) -> &'static str {
    match op {
        Op::CreateTopic { .. } => "CreateTopics",
        Op::CreatePartitions { .. } => "CreatePartitions",
        Op::AlterTopicConfig { .. } => "IncrementalAlterConfigs",
        Op::DeleteTopic { .. } => "DeleteTopics",
        _ => "request",
    }
}

impl super::KafkaAdmin for RdKafka {
    fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Drops the client on a thread of its own: librdkafka's destroy joins its broker threads, which
    /// took ~150 ms per run, longer than the whole no-op read (crate::closing).
    fn close(self) {
        if let Some(admin) = self
            .admin
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            crate::closing::drop_in_background(admin);
        }
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    fn retries(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    fn retried(&self) -> Vec<String> {
        self.retried.lock().map(|n| n.clone()).unwrap_or_default()
    }

    async fn read_security(&self, scope: &super::SecurityScope) -> Result<KafkaSnapshot> {
        self.security_snapshot(scope).await
    }

    /// Metadata and DescribeConfigs go out together: the declared names are known up front, and a
    /// topic that turns out not to exist only costs its per-resource error in the same answer.
    async fn snapshot(&self, topics: &[String]) -> Result<KafkaSnapshot> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let metadata = self.metadata(Budget::new(&self.deadline));
        let specifiers: Vec<ResourceSpecifier<'_>> = topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
        let described = async {
            if specifiers.is_empty() {
                return Ok(Vec::new());
            }
            self.reads.fetch_add(1, Ordering::Relaxed);
            let admin = self.admin().map_err(|e| creation_error(&e))?;
            let mut budget = Budget::new(&self.deadline);
            loop {
                let timeout = budget.attempt();
                let outcome = tokio::select! {
                    r = tokio::time::timeout(timeout + Duration::from_secs(1), admin.describe_configs(&specifiers, &options(timeout))) => {
                        r.unwrap_or(Err(KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut)))
                    }
                    () = self.refusal() => Err(KafkaError::AdminOp(RDKafkaErrorCode::Authentication)),
                };
                match outcome {
                    Ok(described) => break Ok(described),
                    Err(e) => {
                        let error = self.kafka_error(&e, "describe topic configs");
                        match self.retry_after(&e, &error, &mut budget, "DescribeConfigs") {
                            Some(delay) => tokio::time::sleep(delay).await,
                            None => break Err(error),
                        }
                    }
                }
            }
        };
        // Metadata's error first: an unreachable cluster fails both, and that is the one to report.
        let (metadata, described) = futures::join!(metadata, described);
        let metadata = metadata?;
        let described = described?;

        let mut snapshot = KafkaSnapshot::default();
        for t in metadata.topics() {
            if t.error().is_some() {
                continue;
            }
            let replication_factor = t.partitions().iter().map(|p| p.replicas().len()).min().unwrap_or(0);
            snapshot.topics.insert(
                t.name().to_owned(),
                ObservedTopic {
                    partitions: i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
                    replication_factor: i32::try_from(replication_factor).unwrap_or(i32::MAX),
                    ..Default::default()
                },
            );
        }
        for (name, result) in topics.iter().zip(described) {
            // A topic the metadata does not list has nothing to describe; its error is expected.
            let Some(t) = snapshot.topics.get_mut(name) else {
                continue;
            };
            let resource = result.map_err(|code| Error::Api {
                broker: Broker::Kafka,
                action: format!("describe config of topic '{name}'"),
                status: 0,
                reason: code_text(code),
            })?;
            let (config, sensitive) = overrides(&resource.entries);
            t.config = config;
            t.sensitive = sensitive.into_iter().collect();
        }
        Ok(snapshot)
    }

    /// Sends the operations, then again those that failed with a retryable error, with a bounded
    /// backoff within the run's deadline. When the answer was lost (a dropped connection, a
    /// timeout), the operations are first looked up on the cluster: those that took effect are done,
    /// and only the rest are sent again. Non-retryable errors fail at once.
    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>> {
        if self.deadline.expired() {
            return ops.iter().map(|op| Err(self.not_sent(op))).collect();
        }
        if ops
            .first()
            .is_some_and(|op| super::kafka_rd_security::is_security_op(op))
        {
            return self.execute_security(ops).await;
        }
        let mut budget = Budget::new(&self.deadline);
        let mut done: Vec<Option<Result<()>>> = ops.iter().map(|_| None).collect();
        let mut pending: Vec<usize> = (0..ops.len()).collect();
        let mut attempt = 0;
        while !pending.is_empty() {
            attempt += 1;
            let batch: Vec<&Op> = pending.iter().map(|&i| ops[i]).collect();
            // (operation, reason, whether it may have taken effect) of those to try again.
            let mut again: Vec<(usize, String, bool)> = Vec::new();
            let mut lost_code = None;
            match self.send(&batch, budget.attempt()).await {
                Err(failed) => {
                    let retry = retryable(failed.code)
                        && !matches!(
                            failed.error,
                            Error::Authentication { .. } | Error::ConnectionConfig { .. }
                        );
                    let reason = reason_of(&failed.error);
                    if maybe_applied(failed.code) {
                        lost_code = Some(failed.code);
                    }
                    for &i in &pending {
                        if retry {
                            again.push((i, reason.clone(), maybe_applied(failed.code)));
                        } else {
                            done[i] = Some(Err(op_error(ops[i], reason.clone())));
                        }
                    }
                }
                Ok(mut outcomes) => {
                    for &i in &pending {
                        match outcomes.remove(topic_of(ops[i])) {
                            Some(Ok(())) => done[i] = Some(Ok(())),
                            // Sent again, a growth the first attempt made is refused as "already has N partitions".
                            Some(Err((code, text)))
                                if retryable(code) || (attempt > 1 && code == RDKafkaErrorCode::InvalidPartitions) =>
                            {
                                let lost = maybe_applied(code) || code == RDKafkaErrorCode::InvalidPartitions;
                                if lost {
                                    lost_code = lost_code.or(Some(code));
                                }
                                again.push((i, text, lost));
                            }
                            Some(Err((_, text))) => done[i] = Some(Err(op_error(ops[i], text))),
                            None => {
                                done[i] = Some(Err(op_error(ops[i], "the broker returned no result for it".into())));
                            }
                        }
                    }
                }
            }
            if again.is_empty() {
                break;
            }
            // The answer was lost: look on the cluster for what took effect before sending it again.
            let lost: Vec<&Op> = again.iter().filter(|a| a.2).map(|a| ops[a.0]).collect();
            let seen = if lost.is_empty() {
                Ok(Vec::new())
            } else {
                self.visible_each(&lost, budget.attempt()).await
            };
            if !lost.is_empty() {
                let found = seen.as_ref().map_or(0, |v| v.iter().filter(|d| **d).count());
                self.note_retry(format!(
                    "{}: answer lost ({}); looked up on the cluster: {found} of {} operation(s) done",
                    request_name(lost[0]),
                    again[0].1,
                    lost.len()
                ));
            }
            let mut seen_iter = seen.as_ref().ok().map(|v| v.iter());
            let mut still = Vec::new();
            for (i, reason, lost) in again {
                if lost {
                    let shown = seen_iter.as_mut().and_then(Iterator::next).copied();
                    if shown == Some(true) {
                        done[i] = Some(Ok(()));
                        continue;
                    }
                    // Unknown stays unknown only when the cluster could not be read.
                    still.push((i, reason, shown.is_none()));
                } else {
                    still.push((i, reason, false));
                }
            }
            if still.is_empty() {
                break;
            }
            let request = request_name(ops[still[0].0]);
            if self
                .pause_before_retry(&mut budget, request, (still.len(), batch.len()), &still[0].1)
                .await
            {
                pending = still.into_iter().map(|s| s.0).collect();
                continue;
            }
            for (i, reason, unknown) in still {
                let unsettled = "no broker answered the metadata read that would show whether it took effect";
                done[i] = Some(Err(self.gave_up(
                    describe(ops[i]),
                    (reason, unknown),
                    lost_code,
                    unsettled,
                    |r| op_error(ops[i], r),
                )));
            }
            break;
        }
        let applied: Vec<&Op> = ops
            .iter()
            .zip(&done)
            .filter(|(_, d)| matches!(d, Some(Ok(()))))
            .map(|(op, _)| *op)
            .collect();
        self.settle(&applied).await;
        done.into_iter()
            .map(|d| d.unwrap_or_else(|| Err(Error::Internal("a Kafka operation was left without an outcome".into()))))
            .collect()
    }
}

impl RdKafka {
    /// One attempt: the operations (all of one kind) in one request, each request bounded by `timeout`.
    #[allow(clippy::too_many_lines)]
    async fn send(&self, ops: &[&Op], timeout: Duration) -> Outcomes {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let admin_options = options(timeout);
        let wait = timeout + Duration::from_secs(1);
        let lost = |request: &str| RequestFailed {
            code: RDKafkaErrorCode::OperationTimedOut,
            error: Error::Timeout {
                action: request.to_owned(),
                endpoint: self.bootstrap.clone(),
                seconds: timeout.as_secs_f64(),
            },
        };
        let failed = |e: KafkaError, action: &str| RequestFailed {
            code: code_of(&e).unwrap_or(RDKafkaErrorCode::Fail),
            error: self.kafka_error(&e, action),
        };
        let admin = self.admin().map_err(|e| failed(e, "create the admin client"))?;
        let per_topic = |results: Vec<rdkafka::admin::TopicResult>, ok_too: RDKafkaErrorCode| {
            results
                .into_iter()
                .map(|r| match r {
                    Ok(name) => (name, Ok(())),
                    Err((name, code)) if code == ok_too => (name, Ok(())),
                    Err((name, code)) => (name, Err((code, code_text(code)))),
                })
                .collect::<HashMap<_, _>>()
        };
        match ops.first() {
            Some(Op::CreateTopic { .. }) => {
                let topics: Vec<NewTopic<'_>> = ops
                    .iter()
                    .filter_map(|op| match op {
                        Op::CreateTopic {
                            name,
                            partitions,
                            replication_factor,
                            config,
                        } => {
                            let mut t = NewTopic::new(name, *partitions, TopicReplication::Fixed(*replication_factor));
                            for (k, v) in config {
                                t = t.set(k, v);
                            }
                            Some(t)
                        }
                        _ => None,
                    })
                    .collect();
                match tokio::time::timeout(wait, admin.create_topics(&topics, &admin_options)).await {
                    Err(_) => Err(lost("CreateTopics")),
                    Ok(Err(e)) => Err(failed(e, "create topics")),
                    Ok(Ok(results)) => Ok(per_topic(results, RDKafkaErrorCode::TopicAlreadyExists)),
                }
            }
            Some(Op::CreatePartitions { .. }) => {
                let parts: Vec<NewPartitions<'_>> = ops
                    .iter()
                    .filter_map(|op| match op {
                        Op::CreatePartitions { name, total } => {
                            Some(NewPartitions::new(name, usize::try_from(*total).unwrap_or_default()))
                        }
                        _ => None,
                    })
                    .collect();
                match tokio::time::timeout(wait, admin.create_partitions(&parts, &admin_options)).await {
                    Err(_) => Err(lost("CreatePartitions")),
                    Ok(Err(e)) => Err(failed(e, "create partitions")),
                    // No code is acceptable here: the growth is checked on the cluster when retried.
                    Ok(Ok(results)) => Ok(per_topic(results, RDKafkaErrorCode::NoError)),
                }
            }
            Some(Op::AlterTopicConfig { .. }) => {
                let alterations: Vec<TopicAlteration> = ops
                    .iter()
                    .filter_map(|op| match op {
                        Op::AlterTopicConfig { name, set, delete } => Some(TopicAlteration {
                            topic: name.clone(),
                            set: set.clone(),
                            delete: delete.clone(),
                        }),
                        _ => None,
                    })
                    .collect();
                let admin = Arc::clone(&admin);
                let task = tokio::task::spawn_blocking(move || {
                    let results = incremental_alter(&admin, &alterations, timeout);
                    results.map(|r| {
                        alterations
                            .into_iter()
                            .map(|a| a.topic)
                            .zip(r)
                            .collect::<HashMap<_, _>>()
                    })
                });
                match tokio::time::timeout(wait + Duration::from_secs(1), task).await {
                    Err(_) => Err(lost("IncrementalAlterConfigs")),
                    Ok(Err(e)) => Err(RequestFailed {
                        code: RDKafkaErrorCode::Fail,
                        error: Error::Internal(format!("IncrementalAlterConfigs task failed: {e}")),
                    }),
                    Ok(Ok(Err((code, text)))) => Err(RequestFailed {
                        code,
                        error: Error::Api {
                            broker: Broker::Kafka,
                            action: "alter topic configs".into(),
                            status: 0,
                            reason: text,
                        },
                    }),
                    Ok(Ok(Ok(map))) => Ok(map),
                }
            }
            Some(Op::DeleteTopic { .. }) => {
                let names: Vec<&str> = ops.iter().map(|op| topic_of(op)).collect();
                match tokio::time::timeout(wait, admin.delete_topics(&names, &admin_options)).await {
                    Err(_) => Err(lost("DeleteTopics")),
                    Ok(Err(e)) => Err(failed(e, "delete topics")),
                    Ok(Ok(results)) => Ok(per_topic(results, RDKafkaErrorCode::UnknownTopicOrPartition)),
                }
            }
            _ => Err(RequestFailed {
                code: RDKafkaErrorCode::Fail,
                error: Error::Internal("a non-Kafka operation reached the Kafka backend".into()),
            }),
        }
    }

    /// Waits, at most until the run's deadline, until the cluster's metadata and DescribeConfigs show the
    /// applied operations. A KRaft controller answers once the change is committed; each broker applies
    /// it a little later, and a run started right after this one read a topic created here as missing
    /// (then "created" it again: TopicAlreadyExists) or a config set here as unset.
    async fn settle(&self, applied: &[&Op]) {
        if applied.is_empty() {
            return;
        }
        while !self.deadline.expired() {
            if self.visible(applied).await.unwrap_or(false) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn visible(&self, applied: &[&Op]) -> std::result::Result<bool, KafkaError> {
        let timeout = self.deadline.remaining().max(Duration::from_millis(100));
        Ok(self.visible_each(applied, timeout).await?.into_iter().all(|v| v))
    }

    /// For each operation, whether the cluster's metadata (and DescribeConfigs, for config changes)
    /// shows it done; each read bounded by `timeout`.
    async fn visible_each(&self, ops: &[&Op], timeout: Duration) -> std::result::Result<Vec<bool>, KafkaError> {
        let admin = self.admin()?;
        let reader = Arc::clone(&admin);
        let metadata = tokio::time::timeout(
            timeout + Duration::from_secs(1),
            tokio::task::spawn_blocking(move || reader.inner().fetch_metadata(None, timeout)),
        )
        .await
        .map_err(|_| KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut))?
        .map_err(|_| KafkaError::Canceled)??;
        let partitions = |name: &str| {
            metadata
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
                .map(|t| t.partitions().len())
        };
        let mut shown = Vec::with_capacity(ops.len());
        let mut configs = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            shown.push(match op {
                // A negative count is the broker's default (KIP-464): the topic only has to be there.
                Op::CreateTopic {
                    name, partitions: n, ..
                }
                | Op::CreatePartitions { name, total: n } => match usize::try_from(*n) {
                    Ok(n) => partitions(name) == Some(n),
                    Err(_) => partitions(name).is_some(),
                },
                Op::DeleteTopic { name } => partitions(name).is_none(),
                Op::AlterTopicConfig { name, set, delete } => {
                    configs.push((i, name.as_str(), set, delete));
                    false
                }
                _ => true,
            });
        }
        if configs.is_empty() {
            return Ok(shown);
        }
        let specifiers: Vec<ResourceSpecifier<'_>> =
            configs.iter().map(|(_, n, ..)| ResourceSpecifier::Topic(n)).collect();
        let described = tokio::time::timeout(
            timeout + Duration::from_secs(1),
            admin.describe_configs(&specifiers, &options(timeout)),
        )
        .await
        .map_err(|_| KafkaError::AdminOp(RDKafkaErrorCode::OperationTimedOut))??;
        for ((i, _, set, delete), result) in configs.iter().zip(described) {
            shown[*i] = result.is_ok_and(|resource| {
                let (now, hidden) = overrides(&resource.entries);
                set.iter().all(|(k, v)| now.get(k) == Some(v) || hidden.contains(k))
                    && delete.iter().all(|k| !now.contains_key(k))
            });
        }
        Ok(shown)
    }
}

fn describe(op: &Op) -> String {
    match op {
        Op::CreateTopic { name, .. } => format!("create topic '{name}'"),
        Op::CreatePartitions { name, total } => format!("grow topic '{name}' to {total} partitions"),
        Op::AlterTopicConfig { name, .. } => format!("alter config of topic '{name}'"),
        Op::DeleteTopic { name } => format!("delete topic '{name}'"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::admin::{ConfigEntry, ConfigSource};

    use super::overrides;

    fn entry(name: &str, value: &str, source: ConfigSource) -> ConfigEntry {
        let is_default = matches!(source, ConfigSource::Default);
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            source,
            is_read_only: false,
            is_default,
            is_sensitive: false,
        }
    }

    #[test]
    fn kafka_style_listing_counts_only_dynamic_topic_entries() {
        // Apache Kafka lists every key; only DynamicTopic ones are set on the topic.
        let mut entries: Vec<ConfigEntry> = (0..30)
            .map(|i| entry(&format!("key.{i}"), "d", ConfigSource::Default))
            .collect();
        entries.push(entry("retention.ms", "5", ConfigSource::DynamicTopic));
        entries.push(entry("min.insync.replicas", "2", ConfigSource::StaticBroker));
        let (config, sensitive) = overrides(&entries);
        assert_eq!(
            config.into_iter().collect::<Vec<_>>(),
            [("retention.ms".to_owned(), "5".to_owned())]
        );
        assert!(sensitive.is_empty());
    }
}
