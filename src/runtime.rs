//! The one tokio runtime of a Python process, created on first use. Tokio does not survive fork()
//! (tokio#4301): a child that inherits a started runtime gets a clear error instead of a hang.

use std::future::Future;
use std::sync::OnceLock;

use crate::error::{Error, Result};

static RUNTIME: OnceLock<std::result::Result<(tokio::runtime::Runtime, u32), String>> = OnceLock::new();

/// Runs a future to completion on the shared runtime. Call it with the GIL released.
pub fn run_blocking<F: Future>(future: F) -> Result<F::Output> {
    let pid = std::process::id();
    let entry = RUNTIME.get_or_init(|| {
        // One worker: the calling thread drives the RabbitMQ requests (block_on) and the worker the
        // Kafka read beside them. A second worker only added thread wake-ups on the 2-core test
        // machine (16-service no-op in a module: median 7.3 ms with one, 7.5 ms with two, tails shorter).
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("osa-hybrid-msg")
            .enable_all()
            .build()
            .map(|rt| (rt, pid))
            .map_err(|e| e.to_string())
    });
    match entry {
        Ok((rt, owner)) if *owner == pid => Ok(rt.block_on(future)),
        Ok((_, owner)) => Err(Error::Fork {
            parent: *owner,
            child: pid,
        }),
        Err(e) => Err(Error::Internal(format!("cannot start the tokio runtime: {e}"))),
    }
}
