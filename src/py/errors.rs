//! One Python exception class per `Error` variant, all under `OsaHybridMsgError`. The list below is the
//! only one: the module registers the classes from it (`register`), each with its `summary`, the words
//! the Ansible module puts before the message; `exceptions.py`, `__init__.py` and the module derive
//! theirs from `_core`, and `_core.pyi` is checked against it (stubtest, `tests/python/test_core_api.py`).

use pyo3::IntoPyObjectExt;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::error::Error;
use crate::result::RunResult;

create_exception!(
    _core,
    OsaHybridMsgError,
    PyException,
    "Base class of every osa_hybrid_msg error."
);

macro_rules! exceptions {
    ($($name:ident, $summary:literal, $doc:literal;)*) => {
        $(create_exception!(_core, $name, OsaHybridMsgError, $doc);)*

        /// Adds the base class and every subclass to the module, each with its `summary`.
        pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            let base = py.get_type::<OsaHybridMsgError>();
            base.setattr("summary", "osa_hybrid_msg failed")?;
            m.add("OsaHybridMsgError", base)?;
            $(
                let class = py.get_type::<$name>();
                class.setattr("summary", $summary)?;
                m.add(stringify!($name), class)?;
            )*
            Ok(())
        }
    };
}

exceptions! {
    SpecError, "Invalid request",
        "The request is malformed; `path` names the field.";
    PlanError, "Cannot plan the changes",
        "The request cannot be planned against the broker; `path` names the field.";
    ConnectionConfigError, "Unusable connection options",
        "A connection option cannot be used.";
    BrokerUnreachableError, "Broker unreachable",
        "No broker endpoint answered; `broker` names which.";
    AuthenticationError, "Broker refused the credentials",
        "The broker refused the credentials or the user lacks a tag.";
    BrokerApiError, "Broker rejected a change",
        "The broker rejected a request; `broker`, `status` and `reason` are its answer.";
    BrokerTimeoutError, "Broker timed out",
        "A request exceeded the timeout.";
    // The message already says what was applied, what failed and what was not attempted.
    PartialApplyError, "",
        "Part of the plan was applied; `result` (JSON) is the run result, each change with its status.";
    VerifyError, "Verification failed",
        "A verify probe failed after the declarations were applied; `result` (JSON) is the run result with `verify`.";
    ForkError, "Cannot use the osa_hybrid_msg runtime in this process",
        "The runtime was started before fork() and cannot be used in the child.";
    InternalError, "Internal error in osa_hybrid_msg",
        "A bug in osa_hybrid_msg.";
}

/// Converts once, in one place; attributes are set on the instance so Python can read them.
impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let message = e.to_string();
        let err = match &e {
            Error::Spec { .. } => SpecError::new_err(message),
            // A refusal is a plan error that also carries the run result (its findings).
            Error::Plan { .. } | Error::Refused { .. } => PlanError::new_err(message),
            Error::ConnectionConfig { .. } => ConnectionConfigError::new_err(message),
            Error::Unreachable { .. } | Error::NoAnswer { .. } => BrokerUnreachableError::new_err(message),
            Error::Authentication { .. } => AuthenticationError::new_err(message),
            Error::Api { .. } => BrokerApiError::new_err(message),
            Error::Timeout { .. } | Error::Deadline { .. } => BrokerTimeoutError::new_err(message),
            Error::PartialApply { .. } => PartialApplyError::new_err(message),
            Error::Verify { .. } => VerifyError::new_err(message),
            Error::Fork { .. } => ForkError::new_err(message),
            Error::Internal(_) => InternalError::new_err(message),
        };
        Python::attach(|py| {
            let value = err.value(py);
            let set = |name: &str, v: PyResult<Py<PyAny>>| {
                // Setting an attribute on a fresh exception instance cannot fail in practice; keep the error regardless.
                let _ = v.and_then(|v| value.setattr(name, v));
            };
            match &e {
                Error::Spec { path, .. } | Error::Plan { path, .. } => set("path", path.into_py_any(py)),
                Error::Refused { path, result, .. } => {
                    set("path", path.into_py_any(py));
                    set("result", result_json(py, result));
                }
                Error::Unreachable { broker, .. } | Error::NoAnswer { broker, .. } => {
                    set("broker", broker.to_string().into_py_any(py));
                }
                Error::Api {
                    broker, status, reason, ..
                } => {
                    set("broker", broker.to_string().into_py_any(py));
                    set("status", status.into_py_any(py));
                    set("reason", reason.into_py_any(py));
                }
                Error::PartialApply { result, .. } | Error::Verify { result, .. } => {
                    set("result", result_json(py, result));
                }
                _ => {}
            }
        });
        err
    }
}

/// `result` as JSON text; `None` should serialising ever fail, which the module reports as no result.
fn result_json(py: Python<'_>, result: &RunResult) -> PyResult<Py<PyAny>> {
    match result.to_json() {
        Ok(text) => text.into_py_any(py),
        Err(_) => Ok(py.None()),
    }
}
