//! Backends: the small async traits the applier talks to, the real RabbitMQ and Kafka ones, and
//! fakes for unit tests.

pub mod fake;
mod kafka_alter;
pub mod kafka_rd;
pub mod rabbit_http;

use crate::error::Result;
use crate::observed::{KafkaSnapshot, RabbitSnapshot};
use crate::plan::Op;

/// What the core needs from RabbitMQ: one read of everything, and one idempotent write per operation.
#[allow(async_fn_in_trait)]
pub trait RabbitAdmin {
    /// Reads the snapshot. `with_vhost_metadata` adds `GET /api/vhosts` (3.10's definitions lack metadata).
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot>;

    /// Executes one operation. A delete of something already gone is success.
    async fn execute(&self, op: &Op) -> Result<()>;
}

/// What the core needs from Kafka: one read (metadata + configs of `topics`), and batched writes.
#[allow(async_fn_in_trait)]
pub trait KafkaAdmin {
    async fn snapshot(&self, topics: &[String]) -> Result<KafkaSnapshot>;

    /// Executes operations of one kind in one request; one result per operation, in order.
    /// Creating a topic that exists and deleting one that is gone are success.
    async fn execute_batch(&self, ops: &[&Op]) -> Vec<Result<()>>;
}
