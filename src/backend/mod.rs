//! Backends: the small async traits a run talks to, the real RabbitMQ and Kafka clients, and (for the
//! crate's own tests only, feature `fakes`) in-memory fakes. `Brokers` is how a run reaches them, so the
//! whole run can be exercised on the fakes.

#[cfg(feature = "fakes")]
pub mod fake;
mod kafka_alter;
pub mod kafka_rd;
mod kafka_rd_security;
mod kafka_retry;
mod kafka_security;
pub mod kafka_wire;
pub mod rabbit_http;

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::deadline::Deadline;
use crate::error::{Error, Result};
use crate::observed::{DeprecatedFeature, KafkaSnapshot, RabbitSnapshot};
use crate::plan::{Op, Secret};
use crate::spec::{KafkaConnection, RabbitConnection, ScramMechanism};

/// What the core needs from RabbitMQ: one read of everything, one idempotent write per operation, and
/// the two queue calls of `verify`.
#[allow(async_fn_in_trait)]
pub trait RabbitAdmin {
    /// Reads the snapshot. `with_vhost_metadata` adds `GET /api/vhosts` (3.10's definitions lack metadata).
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot>;

    /// Executes one operation. A delete of something already gone is success.
    async fn execute(&self, op: &Op) -> Result<()>;

    /// The endpoint that answered the read (reported in the result).
    fn endpoint(&self) -> &str;

    /// Ends the run's deadline: the `verify` calls that follow are bounded each by the timeout, as
    /// the probes' hops are.
    fn lift_deadline(&self) {}
    fn reads(&self) -> usize;
    fn writes(&self) -> usize;

    /// Requests sent again (retryable errors); none for a backend that never retries.
    fn retries(&self) -> usize {
        0
    }

    /// Times a request moved on to another endpoint.
    fn failovers(&self) -> usize {
        0
    }

    /// What the endpoints that failed said (the first few), for the result.
    fn endpoint_errors(&self) -> Vec<String> {
        Vec::new()
    }

    /// A queue's type, the policy that applies to it and that policy's definition (`verify`).
    async fn queue_policy(&self, vhost: &str, name: &str) -> Result<(Option<String>, Option<String>, Value)>;

    /// Deletes a queue; one already gone is success (`verify`'s cleanup).
    async fn delete_queue(&self, vhost: &str, name: &str) -> Result<()>;

    /// The deprecated features the broker reports in use; `None` when it cannot tell (before 3.13).
    async fn deprecated_features_used(&self) -> Result<Option<Vec<DeprecatedFeature>>> {
        Ok(None)
    }
}

/// What the core needs from Kafka: one read (metadata + configs of `topics`), and batched writes.
#[allow(async_fn_in_trait)]
pub trait KafkaAdmin {
    async fn snapshot(&self, topics: &[String]) -> Result<KafkaSnapshot>;

    /// Executes operations of one kind in one request; one result per operation, in order.
    /// Creating a topic that exists and deleting one that is gone are success.
    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>>;

    /// The bootstrap servers, as reported in the result.
    fn bootstrap(&self) -> &str;
    fn reads(&self) -> usize;
    fn writes(&self) -> usize;

    /// Requests sent again after a retryable error; none for a backend that never retries.
    fn retries(&self) -> usize {
        0
    }

    /// What the first retries were for (request, error, pause).
    fn retried(&self) -> Vec<String> {
        Vec::new()
    }

    /// Releases the client without making the run wait for it.
    fn close(self);

    /// Reads what `scope` asks for: SCRAM credentials, every ACL, and login tests. The result has
    /// no topics; the run merges it into the topic snapshot.
    async fn read_security(&self, scope: &SecurityScope) -> Result<KafkaSnapshot> {
        let _ = scope;
        Err(Error::Internal(
            "this Kafka backend does not manage SCRAM users or ACLs".into(),
        ))
    }
}

/// The security part of the Kafka read.
#[derive(Debug, Default)]
pub struct SecurityScope {
    /// Users whose SCRAM credentials to describe.
    pub users: Vec<String>,
    /// Whether to read every ACL binding.
    pub acls: bool,
    /// Users whose declared password to test by logging in, with the mechanism to log in with.
    pub logins: Vec<(String, ScramMechanism, Secret)>,
}

impl SecurityScope {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && !self.acls && self.logins.is_empty()
    }
}

/// How a run reaches the brokers: connect and read each one's snapshot.
#[allow(async_fn_in_trait)]
pub trait Brokers {
    type Rabbit: RabbitAdmin;
    type Kafka: KafkaAdmin + Send + 'static;

    /// Tries the management endpoints in turn; the first that answers is the one used. Every request
    /// of the backend ends by `deadline`.
    async fn rabbit(
        &self,
        conn: &RabbitConnection,
        with_vhost_metadata: bool,
        deadline: Deadline,
    ) -> Result<(Self::Rabbit, RabbitSnapshot)>;

    /// A future the run spawns on a worker of its own, so it owns everything it needs. Every request
    /// of the backend ends by `deadline`.
    fn kafka(
        &self,
        conn: &KafkaConnection,
        topics: Vec<String>,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(Self::Kafka, KafkaSnapshot)>> + Send + 'static;
}

/// The real clients: the management HTTP API and librdkafka.
pub struct RealBrokers;

impl Brokers for RealBrokers {
    type Rabbit = rabbit_http::HttpRabbit;
    type Kafka = kafka_rd::RdKafka;

    async fn rabbit(
        &self,
        conn: &RabbitConnection,
        with_vhost_metadata: bool,
        deadline: Deadline,
    ) -> Result<(Self::Rabbit, RabbitSnapshot)> {
        rabbit_http::HttpRabbit::connect(conn, with_vhost_metadata, deadline).await
    }

    fn kafka(
        &self,
        conn: &KafkaConnection,
        topics: Vec<String>,
        deadline: Deadline,
    ) -> impl Future<Output = Result<(Self::Kafka, KafkaSnapshot)>> + Send + 'static {
        kafka_rd::RdKafka::connect(conn, topics, deadline)
    }
}

/// Shared backends (the fakes are shared between a test and the runs it makes).
impl<T: RabbitAdmin> RabbitAdmin for Arc<T> {
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot> {
        T::snapshot(self, with_vhost_metadata).await
    }

    async fn execute(&self, op: &Op) -> Result<()> {
        T::execute(self, op).await
    }

    fn endpoint(&self) -> &str {
        T::endpoint(self)
    }

    fn lift_deadline(&self) {
        T::lift_deadline(self);
    }

    fn reads(&self) -> usize {
        T::reads(self)
    }

    fn writes(&self) -> usize {
        T::writes(self)
    }

    fn retries(&self) -> usize {
        T::retries(self)
    }

    fn failovers(&self) -> usize {
        T::failovers(self)
    }

    fn endpoint_errors(&self) -> Vec<String> {
        T::endpoint_errors(self)
    }

    async fn queue_policy(&self, vhost: &str, name: &str) -> Result<(Option<String>, Option<String>, Value)> {
        T::queue_policy(self, vhost, name).await
    }

    async fn delete_queue(&self, vhost: &str, name: &str) -> Result<()> {
        T::delete_queue(self, vhost, name).await
    }

    async fn deprecated_features_used(&self) -> Result<Option<Vec<DeprecatedFeature>>> {
        T::deprecated_features_used(self).await
    }
}
