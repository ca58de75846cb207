//! The run's time budget for one broker. A connection's `timeout` counts from the start of the run and
//! bounds everything the run does on that broker: the read, every write, each retry and failover, and
//! the waits until the cluster shows a change. A budget per request let a run with a few retries take
//! several times the `timeout` an operator set.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    total: Duration,
    /// The option that sets it (`rabbitmq.timeout`, `kafka.timeout`), for messages.
    option: &'static str,
}

impl Deadline {
    /// `total` from now.
    pub fn after(total: Duration, option: &'static str) -> Self {
        Deadline {
            at: Instant::now() + total,
            total,
            option,
        }
    }

    pub fn at(&self) -> Instant {
        self.at
    }

    /// The whole budget, as configured.
    pub fn total(&self) -> Duration {
        self.total
    }

    pub fn option(&self) -> &'static str {
        self.option
    }

    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// "the run's `rabbitmq.timeout` of 30s", for messages.
    pub fn describe(&self) -> String {
        format!("the run's `{}` of {}s", self.option, self.total.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_shrinks_and_expires() {
        let d = Deadline::after(Duration::from_millis(30), "rabbitmq.timeout");
        assert!(d.remaining() <= Duration::from_millis(30));
        assert!(!d.expired());
        assert_eq!(d.describe(), "the run's `rabbitmq.timeout` of 0.03s");
        std::thread::sleep(Duration::from_millis(40));
        assert!(d.expired());
        assert_eq!(d.remaining(), Duration::ZERO);
    }
}
