//! Clients dropped off the caller's path. librdkafka's destroy joins its broker threads (~150 ms a
//! client), so a run hands each Kafka client to a thread of its own and returns. The process must not
//! exit while such a thread is still tearing librdkafka down: its threads then run into state the exit
//! has already freed (a SIGSEGV in an `rdk:broker` thread at exit was seen). So every such thread is
//! recorded here, and `wait_all` joins them; the Python package calls it at interpreter exit.

use std::sync::Mutex;
use std::thread::JoinHandle;

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Drops `value` on a thread of its own, recorded for `wait_all`.
pub fn drop_in_background<T: Send + 'static>(value: T) {
    let handle = std::thread::spawn(move || drop(value));
    if let Ok(mut pending) = PENDING.lock() {
        pending.retain(|h| !h.is_finished());
        pending.push(handle);
    }
}

/// Joins every drop still running; returns how many there were.
pub fn wait_all() -> usize {
    let handles = PENDING.lock().map(|mut p| std::mem::take(&mut *p)).unwrap_or_default();
    let n = handles.len();
    for handle in handles {
        // A drop that panicked has nothing left to wait for.
        let _ = handle.join();
    }
    n
}
