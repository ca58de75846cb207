//! Backends: the small async traits the applier talks to, the real RabbitMQ one, and a fake for unit tests.

pub mod fake;
pub mod rabbit_http;

use crate::error::Result;
use crate::observed::RabbitSnapshot;
use crate::plan::Op;

/// What the core needs from RabbitMQ: one read of everything, and one idempotent write per operation.
#[allow(async_fn_in_trait)]
pub trait RabbitAdmin {
    /// Reads the snapshot. `with_vhost_metadata` adds `GET /api/vhosts` (3.10's definitions lack metadata).
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot>;

    /// Executes one operation. A delete of something already gone is success.
    async fn execute(&self, op: &Op) -> Result<()>;
}
