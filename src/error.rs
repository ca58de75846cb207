//! One error type for the core. Each variant names what failed and how to fix it; none carries a secret.
//! The Python binding maps every variant to its own exception class (`src/py/errors.rs`).

use std::fmt;

use crate::plan::ChangeReport;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is malformed: a wrong type, an unknown key, an empty name, a bad regex.
    #[error("{path}: {message}")]
    Spec { path: String, message: String },

    /// The request is well-formed but cannot be planned against what the broker has.
    #[error("{path}: {message}")]
    Plan { path: String, message: String },

    /// A connection option cannot be used (bad URL, unreadable certificate).
    #[error("{message}")]
    ConnectionConfig { message: String },

    /// No endpoint answered; each attempt is listed with its cause.
    #[error("{}", unreachable_message(attempts))]
    Unreachable { attempts: Vec<String> },

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
        broker: &'static str,
        action: String,
        status: u16,
        reason: String,
    },

    /// A request took longer than the configured timeout.
    #[error(
        "{action} timed out after {seconds}s on {endpoint}; raise the connection's `timeout` or check the broker's load"
    )]
    Timeout {
        action: String,
        endpoint: String,
        seconds: f64,
    },

    /// Some changes were applied, then one failed. The report lists every change with its status.
    #[error("{}", partial_message(report, cause))]
    PartialApply {
        report: Box<ChangeReport>,
        cause: Box<Error>,
    },

    /// A `verify` probe failed. The declarations stay as applied; `result` is the whole run result
    /// (`changes`, `verify`, ...), and the message names each failed probe, its hop and the broker's words.
    #[error("{message}")]
    Verify {
        message: String,
        result: Box<serde_json::Value>,
    },

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

    pub fn plan(path: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::Plan {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

fn status_text(status: u16) -> String {
    if status > 0 {
        format!(" ({status})")
    } else {
        String::new()
    }
}

/// Attempts start with the endpoint; Kafka ones with "Kafka bootstrap servers".
fn unreachable_message(attempts: &[String]) -> String {
    if attempts.iter().all(|a| a.starts_with("Kafka ")) {
        format!(
            "no Kafka broker answered: {}; check that the broker runs and that `kafka.bootstrap_servers` is right",
            attempts.join("; ")
        )
    } else {
        format!(
            "no RabbitMQ management endpoint answered: {}; check that the management plugin is running and that `rabbitmq.urls` is right",
            attempts.join("; ")
        )
    }
}

fn partial_message(report: &ChangeReport, cause: &Error) -> String {
    let list = |status: &str| {
        let items: Vec<String> = report
            .changes
            .iter()
            .filter(|c| c.status.as_str() == status)
            .map(ToString::to_string)
            .collect();
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    format!(
        "applied only part of the plan: {cause}. Applied: {}. Failed: {}. Not applied: {}. Fix the cause and run again; applied changes are not repeated",
        list("applied"),
        list("failed"),
        list("not_applied"),
    )
}
