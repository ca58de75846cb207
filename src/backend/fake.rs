//! An in-memory RabbitMQ and Kafka for the planner, applier and run unit tests (feature `fakes`, which only
//! the crate's own tests turn on). Never used in place of integration tests.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::{Broker, Error, Result};
use crate::observed::{
    KafkaSnapshot, ObservedPermission, ObservedPolicy, ObservedTopic, ObservedUser, ObservedVhost, RabbitSnapshot,
};
use crate::plan::{Op, PasswordWrite};
use crate::spec::{KafkaConnection, RabbitConnection};

#[derive(Default)]
pub struct FakeRabbit {
    pub state: Mutex<RabbitSnapshot>,
    /// Every executed operation, in order.
    pub log: Mutex<Vec<Op>>,
    /// Operations that fail with an API error, matched by their `Debug` text containing this string.
    pub fail_on: Mutex<Vec<String>>,
    /// Operations sent without an answer coming back (the real backend's `NoAnswer` once its retries
    /// are spent), matched the same way; they are not applied.
    pub no_answer_on: Mutex<Vec<String>>,
    pub reads: AtomicUsize,
}

impl FakeRabbit {
    pub fn new(state: RabbitSnapshot) -> Self {
        FakeRabbit {
            state: Mutex::new(state),
            ..Default::default()
        }
    }

    pub fn snapshot_now(&self) -> RabbitSnapshot {
        self.state.lock().expect("fake state lock").clone()
    }
}

impl super::RabbitAdmin for FakeRabbit {
    async fn snapshot(&self, _with_vhost_metadata: bool) -> Result<RabbitSnapshot> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.snapshot_now())
    }

    #[allow(clippy::unnecessary_literal_bound)] // the trait's signature, which the real backend needs
    fn endpoint(&self) -> &str {
        "fake://rabbitmq"
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn writes(&self) -> usize {
        self.log.lock().expect("fake lock").len()
    }

    /// The fake has no queues: `verify` on it stops at the AMQP connection, before any queue.
    async fn queue_policy(&self, vhost: &str, name: &str) -> Result<(Option<String>, Option<String>, Value)> {
        Err(Error::Api {
            broker: Broker::RabbitMq,
            action: format!("fake GET queue '{name}' on vhost '{vhost}'"),
            status: 404,
            reason: "the fake has no queues".into(),
        })
    }

    async fn delete_queue(&self, _vhost: &str, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn execute(&self, op: &Op) -> Result<()> {
        let text = format!("{op:?}");
        if self
            .fail_on
            .lock()
            .expect("fake lock")
            .iter()
            .any(|f| text.contains(f.as_str()))
        {
            return Err(Error::Api {
                broker: Broker::RabbitMq,
                action: format!("fake {text}"),
                status: 400,
                reason: "injected failure".into(),
            });
        }
        if self
            .no_answer_on
            .lock()
            .expect("fake lock")
            .iter()
            .any(|f| text.contains(f.as_str()))
        {
            return Err(Error::NoAnswer {
                broker: Broker::RabbitMq,
                action: format!("fake {text}"),
                endpoint: "http://fake/api".into(),
                reason: "injected: the connection dropped".into(),
            });
        }
        self.log.lock().expect("fake lock").push(op.clone());
        let mut s = self.state.lock().expect("fake lock");
        match op.clone() {
            Op::PutVhost {
                name,
                description,
                tags,
                default_queue_type,
            } => {
                s.vhosts.insert(
                    name,
                    ObservedVhost {
                        description,
                        tags,
                        default_queue_type,
                    },
                );
            }
            Op::DeleteVhost { name } => {
                s.vhosts.remove(&name);
                s.permissions.retain(|(_, v), _| *v != name);
                s.topic_permissions.retain(|(_, v), _| *v != name);
                s.policies.retain(|(v, _), _| *v != name);
            }
            Op::PutUser { name, password, tags } => {
                let (password_hash, hashing_algorithm) = match password {
                    PasswordWrite::Keep { hash, algorithm } => (hash.expose().to_owned(), algorithm),
                    PasswordWrite::Plain { password, algorithm } => (
                        crate::password::hash(password.expose(), algorithm),
                        Some(algorithm.as_str().to_owned()),
                    ),
                    PasswordWrite::Hash { hash, algorithm } => {
                        (hash.expose().to_owned(), Some(algorithm.as_str().to_owned()))
                    }
                    PasswordWrite::Disabled => (String::new(), None),
                };
                s.users.insert(
                    name,
                    ObservedUser {
                        password_hash,
                        hashing_algorithm,
                        tags,
                    },
                );
            }
            Op::DeleteUser { name } => {
                s.users.remove(&name);
                s.permissions.retain(|(u, _), _| *u != name);
                s.topic_permissions.retain(|(u, _), _| *u != name);
            }
            Op::PutPermission {
                user,
                vhost,
                configure,
                write,
                read,
            } => {
                s.permissions
                    .insert((user, vhost), ObservedPermission { configure, write, read });
            }
            Op::DeletePermission { user, vhost } => {
                s.permissions.remove(&(user, vhost));
            }
            Op::PutTopicPermissions {
                user,
                vhost,
                entries,
                clear_first,
            } => {
                let slot = s.topic_permissions.entry((user, vhost)).or_default();
                if clear_first {
                    slot.clear();
                }
                slot.extend(entries);
            }
            Op::DeleteTopicPermissions { user, vhost } => {
                s.topic_permissions.remove(&(user, vhost));
            }
            Op::PutPolicy {
                vhost,
                name,
                pattern,
                apply_to,
                priority,
                definition,
            } => {
                s.policies.insert(
                    (vhost, name),
                    ObservedPolicy {
                        pattern,
                        apply_to: apply_to.as_str().to_owned(),
                        priority,
                        definition,
                    },
                );
            }
            Op::DeletePolicy { vhost, name } => {
                s.policies.remove(&(vhost, name));
            }
            kafka => return Err(Error::Internal(format!("{kafka:?} sent to the RabbitMQ fake"))),
        }
        Ok(())
    }
}

/// An in-memory Kafka for planner and applier unit tests: one node, no validation.
#[derive(Default)]
pub struct FakeKafka {
    pub state: Mutex<KafkaSnapshot>,
    /// Every executed batch, in order.
    pub batches: Mutex<Vec<Vec<Op>>>,
    /// Topics whose operations fail, as a broker would fail one topic of a batch.
    pub fail_topics: Mutex<Vec<String>>,
    pub reads: AtomicUsize,
}

impl FakeKafka {
    pub fn new(state: KafkaSnapshot) -> Self {
        FakeKafka {
            state: Mutex::new(state),
            ..Default::default()
        }
    }

    pub fn snapshot_now(&self) -> KafkaSnapshot {
        self.state.lock().expect("fake lock").clone()
    }
}

impl super::KafkaAdmin for FakeKafka {
    async fn snapshot(&self, _topics: &[String]) -> Result<KafkaSnapshot> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.snapshot_now())
    }

    #[allow(clippy::unnecessary_literal_bound)] // the trait's signature, which the real backend needs
    fn bootstrap(&self) -> &str {
        "fake:9092"
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn writes(&self) -> usize {
        self.batches.lock().expect("fake lock").len()
    }

    fn close(self) {}

    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>> {
        self.batches
            .lock()
            .expect("fake lock")
            .push(ops.iter().map(|op| (*op).clone()).collect());
        let failing = self.fail_topics.lock().expect("fake lock").clone();
        let mut s = self.state.lock().expect("fake lock");
        ops.iter()
            .map(|op| {
                let name = match op {
                    Op::CreateTopic { name, .. }
                    | Op::CreatePartitions { name, .. }
                    | Op::AlterTopicConfig { name, .. }
                    | Op::DeleteTopic { name } => name.clone(),
                    other => return Err(Error::Internal(format!("{other:?} sent to the Kafka fake"))),
                };
                if failing.contains(&name) {
                    return Err(Error::Api {
                        broker: Broker::Kafka,
                        action: format!("fake op on topic '{name}'"),
                        status: 0,
                        reason: "injected failure".into(),
                    });
                }
                match (*op).clone() {
                    Op::CreateTopic {
                        name,
                        partitions,
                        replication_factor,
                        config,
                    } => {
                        s.topics.entry(name).or_insert(ObservedTopic {
                            partitions: if partitions < 0 { 3 } else { partitions },
                            replication_factor: if replication_factor < 0 { 1 } else { replication_factor },
                            config,
                            sensitive: std::collections::BTreeSet::new(),
                        });
                    }
                    Op::CreatePartitions { name, total } => {
                        if let Some(t) = s.topics.get_mut(&name) {
                            t.partitions = total;
                        }
                    }
                    Op::AlterTopicConfig { name, set, delete } => {
                        if let Some(t) = s.topics.get_mut(&name) {
                            t.config.extend(set);
                            for k in delete {
                                t.config.remove(&k);
                            }
                        }
                    }
                    Op::DeleteTopic { name } => {
                        s.topics.remove(&name);
                    }
                    _ => {}
                }
                Ok(())
            })
            .collect()
    }
}

impl super::KafkaAdmin for Arc<FakeKafka> {
    async fn snapshot(&self, topics: &[String]) -> Result<KafkaSnapshot> {
        FakeKafka::snapshot(self, topics).await
    }

    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>> {
        FakeKafka::execute_batch(self, ops).await
    }

    fn bootstrap(&self) -> &str {
        FakeKafka::bootstrap(self)
    }

    fn reads(&self) -> usize {
        FakeKafka::reads(self)
    }

    fn writes(&self) -> usize {
        FakeKafka::writes(self)
    }

    fn close(self) {}
}

/// Both fakes, shared with the test that made them: every run reads and writes the same state.
#[derive(Default, Clone)]
pub struct FakeBrokers {
    pub rabbit: Arc<FakeRabbit>,
    pub kafka: Arc<FakeKafka>,
}

impl super::Brokers for FakeBrokers {
    type Rabbit = Arc<FakeRabbit>;
    type Kafka = Arc<FakeKafka>;

    async fn rabbit(
        &self,
        _conn: &RabbitConnection,
        with_vhost_metadata: bool,
        _deadline: crate::deadline::Deadline,
    ) -> Result<(Self::Rabbit, RabbitSnapshot)> {
        let snapshot = super::RabbitAdmin::snapshot(&self.rabbit, with_vhost_metadata).await?;
        Ok((Arc::clone(&self.rabbit), snapshot))
    }

    fn kafka(
        &self,
        _conn: &KafkaConnection,
        topics: Vec<String>,
        _deadline: crate::deadline::Deadline,
    ) -> impl Future<Output = Result<(Self::Kafka, KafkaSnapshot)>> + Send + 'static {
        let kafka = Arc::clone(&self.kafka);
        async move {
            let snapshot = super::KafkaAdmin::snapshot(&kafka, &topics).await?;
            Ok((kafka, snapshot))
        }
    }
}
