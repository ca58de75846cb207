//! Retries of the Kafka backend: which errors are worth another attempt, and a bounded backoff that
//! keeps every read and every batch within the run's deadline (`kafka.timeout` from the run's start). librdkafka sends an admin
//! request once (`RD_KAFKA_REQUEST_NO_RETRIES`) and fails it on a dropped connection, so the retries
//! are ours.

use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode;
use tokio::time::Instant;

use crate::deadline::Deadline;

/// First pause between attempts; doubled each time up to `MAX_DELAY`.
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(1);
/// An attempt shorter than this is not worth starting.
const MIN_ATTEMPT: Duration = Duration::from_millis(500);

/// Errors that a broker restart, a controller move or a dropped connection cause, and that another
/// attempt (on another broker, once the metadata says which) can get past. Everything else, such as
/// authentication, authorization, `INVALID_CONFIG` or a policy violation, fails at once.
pub(super) fn retryable(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NotController
            | RDKafkaErrorCode::StaleControllerEpoch
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::CoordinatorLoadInProgress
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::NotEnoughReplicas
            | RDKafkaErrorCode::KafkaStorageError
            | RDKafkaErrorCode::ThrottlingQuotaExceeded
            | RDKafkaErrorCode::RebootstrapRequired
    )
}

/// Whether the error may hide a request that reached the broker: the answer, not the request, is
/// what went missing. Such an operation is checked by reading the broker before it is retried.
pub(super) fn maybe_applied(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::TimedOutQueue
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NetworkException
    )
}

/// The time left of the run's deadline for a read or a batch, and the pause before the next attempt.
#[derive(Debug)]
pub(super) struct Budget {
    deadline: Instant,
    total: Duration,
    delay: Duration,
}

impl Budget {
    pub(super) fn new(deadline: &Deadline) -> Self {
        Budget {
            deadline: deadline.at(),
            total: deadline.total(),
            delay: FIRST_DELAY,
        }
    }

    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// How long the next attempt may take: half the timeout while there is room for another attempt
    /// after it (a request to a broker that went away waits for it until its timeout), else the rest.
    pub(super) fn attempt(&self) -> Duration {
        let remaining = self.remaining();
        let half = self.total / 2;
        if remaining > half + MIN_ATTEMPT {
            half.max(MIN_ATTEMPT)
        } else {
            remaining.max(Duration::from_millis(100))
        }
    }

    /// The pause before another attempt, or `None` when no useful attempt fits in what is left.
    pub(super) fn next_delay(&mut self) -> Option<Duration> {
        let delay = self.delay;
        if self.remaining() < delay + MIN_ATTEMPT {
            return None;
        }
        self.delay = (self.delay * 2).min(MAX_DELAY);
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_and_controller_errors_are_retried_and_refusals_are_not() {
        for code in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::NotController,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
        ] {
            assert!(retryable(code), "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::SaslAuthenticationFailed,
            RDKafkaErrorCode::Authentication,
            RDKafkaErrorCode::InvalidConfig,
            RDKafkaErrorCode::PolicyViolation,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::ClusterAuthorizationFailed,
            RDKafkaErrorCode::InvalidReplicationFactor,
            RDKafkaErrorCode::TopicAlreadyExists,
        ] {
            assert!(!retryable(code), "{code:?}");
        }
        assert!(maybe_applied(RDKafkaErrorCode::BrokerTransportFailure));
        assert!(!maybe_applied(RDKafkaErrorCode::NotController));
    }

    #[test]
    fn the_backoff_doubles_up_to_a_second_and_stops_when_no_attempt_fits() {
        let mut long = Budget::new(&Deadline::after(Duration::from_secs(50), "kafka.timeout"));
        assert_eq!(long.attempt(), Duration::from_secs(25));
        let delays: Vec<_> = (0..6).map_while(|_| long.next_delay()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis));
        let mut short = Budget::new(&Deadline::after(Duration::from_millis(400), "kafka.timeout"));
        assert_eq!(short.next_delay(), None);
        assert!(short.attempt() <= Duration::from_millis(400));
    }
}
