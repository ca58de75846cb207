//! One error type for the core. Each variant names what failed and how to fix it; none carries a secret.
//! The Python binding maps every variant to its own exception class (`src/py/errors.rs`).

use std::fmt;

use crate::result::{Finding, RunResult};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A foreign error kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The broker an error or a change is about; serialized as the result's `backend` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Broker {
    #[serde(rename = "rabbitmq")]
    RabbitMq,
    #[serde(rename = "kafka")]
    Kafka,
}

impl fmt::Display for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Broker::RabbitMq => "RabbitMQ",
            Broker::Kafka => "Kafka",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed: a wrong type, an unknown key, an empty name, a bad regex.
    #[error("{path}: {message}")]
    Spec { path: String, message: String },

    /// The request is well-formed but cannot be planned against what the broker has.
    #[error("{path}: {message}")]
    Plan { path: String, message: String },

    /// A rule refused the request at plan time (the policy lint), so nothing was written. `result` is the
    /// run result with no change: in `findings` every refusal (severity `refuse`) and the warnings, in
    /// `warnings` the warnings alone; `path` and `message` name the first refusal and list the others.
    #[error("{path}: {message}")]
    Refused {
        path: String,
        message: String,
        result: Box<RunResult>,
    },

    /// A connection option cannot be used (bad URL, unreadable certificate). `message` names the
    /// option and the fix; `source` is the library's error, when there is one.
    #[error("{message}")]
    ConnectionConfig {
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// No endpoint of `broker` answered; each attempt is listed with its cause.
    #[error("{}", unreachable_message(*broker, attempts))]
    Unreachable { broker: Broker, attempts: Vec<String> },

    /// A request went out but no answer came back (the connection dropped): a write may or may not
    /// have been applied. Retried writes are idempotent, so the next answer settles it; this error is
    /// what is left when none came.
    #[error(
        "{action}: no answer from {endpoint} ({reason}); the request may have been applied. The next run reads the broker and converges"
    )]
    NoAnswer {
        broker: Broker,
        action: String,
        endpoint: String,
        reason: String,
    },

    /// The endpoint refused the credentials, or the user lacks the tag the call needs.
    #[error("{endpoint} refused {action}{}: {reason}; {hint}", status_text(*status))]
    Authentication {
        endpoint: String,
        action: String,
        status: u16,
        reason: String,
        hint: &'static str,
    },

    /// The broker rejected a request. `reason` is the broker's own words; `status` is the HTTP
    /// status for RabbitMQ and 0 for Kafka, whose reasons carry their error code.
    #[error("{broker} rejected {action}{}: {reason}", status_text(*status))]
    Api {
        broker: Broker,
        action: String,
        status: u16,
        reason: String,
    },

    /// A request took longer than the configured timeout.
    #[error(
        "{action} timed out after {}s on {endpoint}; raise the connection's `timeout` or check the broker's load",
        tenths(*seconds)
    )]
    Timeout {
        action: String,
        endpoint: String,
        seconds: f64,
    },

    /// The run's `timeout` (`option`) ran out before the request could be sent: nothing was sent.
    #[error(
        "{action} was not sent to {broker}: the run's `{option}` of {seconds}s ran out before it; raise `{option}` or check why the broker is slow"
    )]
    Deadline {
        broker: Broker,
        action: String,
        option: &'static str,
        seconds: f64,
    },

    /// Some changes were applied, then one failed (or changes failed on both brokers). `result` is
    /// the whole run result, each change with its status and `error` set to the cause.
    #[error("{}", partial_message(result, cause))]
    PartialApply {
        result: Box<RunResult>,
        #[source]
        cause: Box<Error>,
    },

    /// A `verify` probe failed. The declarations stay as applied; `result` is the whole run result
    /// (`changes`, `verify`, ...), and the message names each failed probe, its hop and the broker's words.
    #[error("{message}")]
    Verify { message: String, result: Box<RunResult> },

    /// The runtime was started in a parent process and this process is a fork of it.
    #[error(
        "the osa_hybrid_msg runtime was started in process {parent} and cannot be used in forked process {child}; call the module from its own process"
    )]
    Fork { parent: u32, child: u32 },

    /// A bug: a caught panic or an impossible state.
    #[error("internal error in osa_hybrid_msg: {0}; please report it")]
    Internal(String),
}

impl Error {
    pub fn spec(path: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Spec {
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// An unusable connection option, caused by `source`.
    pub fn config(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::ConnectionConfig {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn plan(path: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Plan {
            path: path.to_string(),
            message: message.into(),
        }
    }

    /// A plan-time refusal; `run::run` adds the endpoint, the version and the read statistics to its result.
    pub fn refused(
        path: impl fmt::Display,
        message: impl Into<String>,
        findings: Vec<Finding>,
        warnings: Vec<String>,
    ) -> Self {
        Error::Refused {
            path: path.to_string(),
            message: message.into(),
            result: Box::new(RunResult {
                warnings,
                findings,
                ..RunResult::default()
            }),
        }
    }

    /// Whether a write that ended with this error may have been applied: it was sent and no answer
    /// (or no answer in time) came back.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Error::NoAnswer { .. } | Error::Timeout { .. })
    }

    /// The run result an error carries: after a write, what was applied, the diff, the probes; for a
    /// refusal, the findings.
    pub fn result(&self) -> Option<&RunResult> {
        match self {
            Error::PartialApply { result, .. } | Error::Verify { result, .. } | Error::Refused { result, .. } => {
                Some(result)
            }
            _ => None,
        }
    }

    /// The carried run result, to complete (the run's own timings are added on the way out).
    pub fn result_mut(&mut self) -> Option<&mut RunResult> {
        match self {
            Error::PartialApply { result, .. } | Error::Verify { result, .. } | Error::Refused { result, .. } => {
                Some(result)
            }
            _ => None,
        }
    }
}

/// Seconds to a tenth, without a trailing ".0": a wait cut at the run's deadline is never a round number.
fn tenths(seconds: f64) -> String {
    let text = format!("{seconds:.1}");
    text.strip_suffix(".0").map_or_else(|| text.clone(), str::to_owned)
}

fn status_text(status: u16) -> String {
    if status > 0 {
        format!(" ({status})")
    } else {
        String::new()
    }
}

fn unreachable_message(broker: Broker, attempts: &[String]) -> String {
    match broker {
        Broker::Kafka => format!(
            "no Kafka broker answered: {}; check that the broker runs and that `kafka.bootstrap_servers` is right",
            attempts.join("; ")
        ),
        Broker::RabbitMq => format!(
            "no RabbitMQ management endpoint answered: {}; check that the management plugin is running and that `rabbitmq.urls` is right",
            attempts.join("; ")
        ),
    }
}

/// How many changes of each status the message names; the result's `changes` has them all.
const PARTIAL_LISTED: usize = 5;

fn partial_message(result: &RunResult, cause: &Error) -> String {
    let list = |status: &str| {
        let items: Vec<String> = result
            .changes
            .iter()
            .filter(|c| c.status.as_str() == status)
            .map(ToString::to_string)
            .collect();
        match items.len() {
            0 => "none".to_owned(),
            n if n <= PARTIAL_LISTED => items.join(", "),
            n => format!(
                "{}, and {} more (all {n} in the result's changes)",
                items[..PARTIAL_LISTED].join(", "),
                n - PARTIAL_LISTED
            ),
        }
    };
    let count = |status: &str| result.changes.iter().filter(|c| c.status.as_str() == status).count();
    let unknown = count("unknown");
    format!(
        "applied only part of the plan: {cause}. Of {} changes: {} applied, {} failed, {}{} not applied. Applied: {}. Failed: {}.{} Not applied: {}. Fix the cause and run again; applied changes are not repeated",
        result.changes.len(),
        count("applied"),
        count("failed"),
        if unknown > 0 {
            format!("{unknown} with an unknown outcome (sent, no answer), ")
        } else {
            String::new()
        },
        count("not_applied"),
        list("applied"),
        list("failed"),
        if unknown > 0 {
            format!(" Outcome unknown: {}.", list("unknown"))
        } else {
            String::new()
        },
        list("not_applied"),
    )
}
