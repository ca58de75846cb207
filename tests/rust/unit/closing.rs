//! Clients dropped in the background are joined by `wait_all` (the package calls it at exit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use osa_hybrid_msg::closing::{drop_in_background, wait_all};

/// Stands in for a client whose destroy takes a while, as librdkafka's does.
struct SlowDrop(Arc<AtomicBool>);

impl Drop for SlowDrop {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(200));
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn wait_all_returns_only_after_every_background_drop_finished() {
    let done: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
    for flag in &done {
        drop_in_background(SlowDrop(Arc::clone(flag)));
    }
    // Other tests of this binary may add drops of their own; ours are among those joined.
    assert!(wait_all() >= 3);
    assert!(
        done.iter().all(|f| f.load(Ordering::SeqCst)),
        "a drop was still running after wait_all"
    );
}
