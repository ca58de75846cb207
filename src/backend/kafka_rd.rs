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

use super::kafka_alter::{TopicAlteration, drain_main_queue, incremental_alter};
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

/// The verify probe's consumer uses the default rebalance handling.
impl ConsumerContext for Context {}

pub struct RdKafka {
    pub(super) admin: Arc<AdminClient<Context>>,
    pub(super) bootstrap: String,
    pub(super) timeout: Duration,
    pub(super) reads: AtomicUsize,
    pub(super) writes: AtomicUsize,
    /// The connection's configuration, for the short-lived clients that test a user's password.
    pub(super) config: ClientConfig,
}

/// The one client configuration builder of the Kafka backend.
pub fn client_config(conn: &KafkaConnection) -> ClientConfig {
    let timeout_ms = (conn.timeout_seconds() * 1000.0).round().to_string();
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", conn.bootstrap().join(","))
        .set("security.protocol", conn.protocol().as_str())
        .set("socket.timeout.ms", &timeout_ms)
        .set("socket.connection.setup.timeout.ms", &timeout_ms)
        // Connect to the bootstrap servers at once: with sparse connections the first metadata request
        // stalled ~50 ms in about one run in three.
        .set("enable.sparse.connections", "false")
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
    ) -> impl Future<Output = Result<(Self, KafkaSnapshot)>> + Send + 'static {
        let cfg = client_config(conn);
        let bootstrap = conn.bootstrap().join(",");
        let timeout = Duration::from_secs_f64(conn.timeout_seconds());
        async move {
            let admin = AdminClient::from_config_and_context(&cfg, Context::default()).map_err(|e| {
                Error::config(
                    format!("kafka: cannot create the admin client: {e}; check the kafka ssl_* and sasl_* options"),
                    e,
                )
            })?;
            let backend = RdKafka {
                admin: Arc::new(admin),
                bootstrap,
                timeout,
                reads: AtomicUsize::new(0),
                writes: AtomicUsize::new(0),
                config: cfg,
            };
            let snapshot = super::KafkaAdmin::snapshot(&backend, &topics).await?;
            Ok((backend, snapshot))
        }
    }

    pub(super) fn kafka_error(&self, e: &KafkaError, action: &str) -> Error {
        let code = e.rdkafka_error_code();
        for text in drain_main_queue(&self.admin) {
            self.admin.inner().context().note(text);
        }
        let detail = self.admin.inner().context().recent();
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

    fn blocking_timeout(&self) -> Duration {
        self.timeout + Duration::from_secs(2)
    }
}

impl super::KafkaAdmin for RdKafka {
    fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Drops the client on a thread of its own: librdkafka's destroy joins its broker threads, which
    /// took ~150 ms per run, longer than the whole no-op read.
    fn close(self) {
        let admin = self.admin;
        std::thread::spawn(move || drop(admin));
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    async fn read_security(&self, scope: &super::SecurityScope) -> Result<KafkaSnapshot> {
        self.security_snapshot(scope).await
    }

    /// Metadata and DescribeConfigs go out together: the declared names are known up front, and a
    /// topic that turns out not to exist only costs its per-resource error in the same answer.
    async fn snapshot(&self, topics: &[String]) -> Result<KafkaSnapshot> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.timeout;
        self.reads.fetch_add(1, Ordering::Relaxed);
        let metadata = async {
            tokio::time::timeout(
                self.blocking_timeout(),
                tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout)),
            )
            .await
            .map_err(|_| Error::Unreachable {
                broker: Broker::Kafka,
                attempts: vec![format!(
                    "Kafka bootstrap servers {}: no metadata within {}s",
                    self.bootstrap,
                    timeout.as_secs_f64()
                )],
            })?
            .map_err(|e| Error::Internal(format!("metadata task failed: {e}")))?
            .map_err(|e| self.kafka_error(&e, "read metadata"))
        };
        let specifiers: Vec<ResourceSpecifier<'_>> = topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
        let described = async {
            if specifiers.is_empty() {
                return Ok(Vec::new());
            }
            self.reads.fetch_add(1, Ordering::Relaxed);
            tokio::time::timeout(
                self.blocking_timeout(),
                self.admin.describe_configs(&specifiers, &options(timeout)),
            )
            .await
            .map_err(|_| Error::Timeout {
                action: "DescribeConfigs".into(),
                endpoint: self.bootstrap.clone(),
                seconds: timeout.as_secs_f64(),
            })?
            .map_err(|e| self.kafka_error(&e, "describe topic configs"))
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

    #[allow(clippy::too_many_lines)]
    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>> {
        if ops
            .first()
            .is_some_and(|op| super::kafka_rd_security::is_security_op(op))
        {
            return self.execute_security(ops).await;
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        let admin_options = options(self.timeout);
        // A request that failed as a whole fails each of its operations with the same reason.
        let fail_all = |e: Error| -> Vec<Result<()>> {
            let reason = match &e {
                Error::Api { reason, .. } => reason.clone(),
                other => other.to_string(),
            };
            ops.iter()
                .map(|op| {
                    Err(Error::Api {
                        broker: Broker::Kafka,
                        action: describe(op),
                        status: 0,
                        reason: reason.clone(),
                    })
                })
                .collect()
        };
        let names: Vec<&str> = ops
            .iter()
            .map(|op| match op {
                Op::CreateTopic { name, .. }
                | Op::CreatePartitions { name, .. }
                | Op::AlterTopicConfig { name, .. }
                | Op::DeleteTopic { name } => name.as_str(),
                _ => "",
            })
            .collect();
        // Per-topic outcomes keyed by name; the batch answers in its own order.
        let outcomes: std::result::Result<HashMap<String, std::result::Result<(), String>>, Error> = match ops.first() {
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
                match tokio::time::timeout(
                    self.blocking_timeout(),
                    self.admin.create_topics(&topics, &admin_options),
                )
                .await
                {
                    Err(_) => Err(self.timeout_error("CreateTopics")),
                    Ok(Err(e)) => Err(self.kafka_error(&e, "create topics")),
                    Ok(Ok(results)) => Ok(results
                        .into_iter()
                        .map(|r| match r {
                            Ok(name) | Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => (name, Ok(())),
                            Err((name, code)) => (name, Err(code_text(code))),
                        })
                        .collect()),
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
                match tokio::time::timeout(
                    self.blocking_timeout(),
                    self.admin.create_partitions(&parts, &admin_options),
                )
                .await
                {
                    Err(_) => Err(self.timeout_error("CreatePartitions")),
                    Ok(Err(e)) => Err(self.kafka_error(&e, "create partitions")),
                    Ok(Ok(results)) => Ok(results
                        .into_iter()
                        .map(|r| match r {
                            Ok(name) => (name, Ok(())),
                            Err((name, code)) => (name, Err(code_text(code))),
                        })
                        .collect()),
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
                let admin = Arc::clone(&self.admin);
                let timeout = self.timeout;
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
                match tokio::time::timeout(self.blocking_timeout(), task).await {
                    Err(_) => Err(self.timeout_error("IncrementalAlterConfigs")),
                    Ok(Err(e)) => Err(Error::Internal(format!("IncrementalAlterConfigs task failed: {e}"))),
                    Ok(Ok(Err(text))) => Err(Error::Api {
                        broker: Broker::Kafka,
                        action: "alter topic configs".into(),
                        status: 0,
                        reason: text,
                    }),
                    Ok(Ok(Ok(map))) => Ok(map),
                }
            }
            Some(Op::DeleteTopic { .. }) => {
                match tokio::time::timeout(
                    self.blocking_timeout(),
                    self.admin.delete_topics(&names, &admin_options),
                )
                .await
                {
                    Err(_) => Err(self.timeout_error("DeleteTopics")),
                    Ok(Err(e)) => Err(self.kafka_error(&e, "delete topics")),
                    Ok(Ok(results)) => Ok(results
                        .into_iter()
                        .map(|r| match r {
                            Ok(name) | Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => (name, Ok(())),
                            Err((name, code)) => (name, Err(code_text(code))),
                        })
                        .collect()),
                }
            }
            _ => Err(Error::Internal(
                "a non-Kafka operation reached the Kafka backend".into(),
            )),
        };
        let mut outcomes = match outcomes {
            Ok(map) => map,
            Err(e) => return fail_all(e),
        };
        let applied: Vec<&Op> = ops
            .iter()
            .zip(&names)
            .filter(|(_, name)| matches!(outcomes.get(**name), Some(Ok(()))))
            .map(|(op, _)| *op)
            .collect();
        self.settle(&applied).await;
        ops.iter()
            .zip(names)
            .map(|(op, name)| {
                let action = describe(op);
                match outcomes.remove(name) {
                    Some(Ok(())) => Ok(()),
                    Some(Err(reason)) => Err(Error::Api {
                        broker: Broker::Kafka,
                        action,
                        status: 0,
                        reason,
                    }),
                    None => Err(Error::Api {
                        broker: Broker::Kafka,
                        action,
                        status: 0,
                        reason: "the broker returned no result for it".into(),
                    }),
                }
            })
            .collect()
    }
}

impl RdKafka {
    /// Waits, at most the connection timeout, until the cluster's metadata and DescribeConfigs show the
    /// applied operations. A KRaft controller answers once the change is committed; each broker applies
    /// it a little later, and a run started right after this one read a topic created here as missing
    /// (then "created" it again: TopicAlreadyExists) or a config set here as unset.
    async fn settle(&self, applied: &[&Op]) {
        if applied.is_empty() {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        while tokio::time::Instant::now() < deadline {
            if self.visible(applied).await.unwrap_or(false) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn visible(&self, applied: &[&Op]) -> std::result::Result<bool, KafkaError> {
        let admin = Arc::clone(&self.admin);
        let timeout = self.timeout;
        let metadata = tokio::task::spawn_blocking(move || admin.inner().fetch_metadata(None, timeout))
            .await
            .map_err(|_| KafkaError::Canceled)??;
        let partitions = |name: &str| {
            metadata
                .topics()
                .iter()
                .find(|t| t.name() == name && t.error().is_none())
                .map(|t| t.partitions().len())
        };
        let mut configs = Vec::new();
        for op in applied {
            let ok = match op {
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
                    configs.push((name.as_str(), set, delete));
                    true
                }
                _ => true,
            };
            if !ok {
                return Ok(false);
            }
        }
        if configs.is_empty() {
            return Ok(true);
        }
        let specifiers: Vec<ResourceSpecifier<'_>> =
            configs.iter().map(|(n, ..)| ResourceSpecifier::Topic(n)).collect();
        let described = self.admin.describe_configs(&specifiers, &options(self.timeout)).await?;
        Ok(configs.iter().zip(described).all(|((_, set, delete), result)| {
            result.is_ok_and(|resource| {
                let (now, hidden) = overrides(&resource.entries);
                set.iter().all(|(k, v)| now.get(k) == Some(v) || hidden.contains(k))
                    && delete.iter().all(|k| !now.contains_key(k))
            })
        }))
    }

    fn timeout_error(&self, request: &str) -> Error {
        Error::Timeout {
            action: request.to_owned(),
            endpoint: self.bootstrap.clone(),
            seconds: self.timeout.as_secs_f64(),
        }
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
