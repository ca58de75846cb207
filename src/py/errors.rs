//! One Python exception class per `Error` variant, all under `OsaHybridMsgError`.

use pyo3::IntoPyObjectExt;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use serde_json::json;

use crate::error::Error;

create_exception!(
    _core,
    OsaHybridMsgError,
    PyException,
    "Base class of every osa_hybrid_msg error."
);
create_exception!(
    _core,
    SpecError,
    OsaHybridMsgError,
    "The request is malformed; `path` names the field."
);
create_exception!(
    _core,
    PlanError,
    OsaHybridMsgError,
    "The request cannot be planned against the broker; `path` names the field."
);
create_exception!(
    _core,
    ConnectionConfigError,
    OsaHybridMsgError,
    "A connection option cannot be used."
);
create_exception!(
    _core,
    BrokerUnreachableError,
    OsaHybridMsgError,
    "No broker endpoint answered."
);
create_exception!(
    _core,
    AuthenticationError,
    OsaHybridMsgError,
    "The broker refused the credentials or the user lacks a tag."
);
create_exception!(
    _core,
    BrokerApiError,
    OsaHybridMsgError,
    "The broker rejected a request; `status` and `reason` are its answer."
);
create_exception!(
    _core,
    BrokerTimeoutError,
    OsaHybridMsgError,
    "A request exceeded the timeout."
);
create_exception!(
    _core,
    PartialApplyError,
    OsaHybridMsgError,
    "Part of the plan was applied; `result` (JSON) lists each change's status."
);
create_exception!(
    _core,
    VerifyError,
    OsaHybridMsgError,
    "A verify probe failed after the declarations were applied; `result` (JSON) is the run's result with `verify`."
);
create_exception!(
    _core,
    ForkError,
    OsaHybridMsgError,
    "The runtime was started before fork() and cannot be used in the child."
);
create_exception!(_core, InternalError, OsaHybridMsgError, "A bug in osa_hybrid_msg.");

/// Converts once, in one place; attributes are set on the instance so Python can read them.
pub fn to_pyerr(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    let (err, attrs): (PyErr, Vec<(&str, Py<PyAny>)>) = match e {
        Error::Spec { path, .. } => (
            SpecError::new_err(message),
            vec![("path", path.into_py_any(py).unwrap_or_else(|_| py.None()))],
        ),
        Error::Plan { path, .. } => (
            PlanError::new_err(message),
            vec![("path", path.into_py_any(py).unwrap_or_else(|_| py.None()))],
        ),
        Error::ConnectionConfig { .. } => (ConnectionConfigError::new_err(message), vec![]),
        Error::Unreachable { .. } => (BrokerUnreachableError::new_err(message), vec![]),
        Error::Authentication { .. } => (AuthenticationError::new_err(message), vec![]),
        Error::Api { status, reason, .. } => (
            BrokerApiError::new_err(message),
            vec![
                ("status", status.into_py_any(py).unwrap_or_else(|_| py.None())),
                ("reason", reason.into_py_any(py).unwrap_or_else(|_| py.None())),
            ],
        ),
        Error::Timeout { .. } => (BrokerTimeoutError::new_err(message), vec![]),
        Error::PartialApply { report, cause } => {
            let applied = report.changes.iter().any(|c| c.status == crate::plan::Status::Applied);
            let result = json!({"changed": applied, "changes": report.changes, "error": cause.to_string()}).to_string();
            (
                PartialApplyError::new_err(message),
                vec![("result", result.into_py_any(py).unwrap_or_else(|_| py.None()))],
            )
        }
        Error::Verify { result, .. } => (
            VerifyError::new_err(message),
            vec![(
                "result",
                result.to_string().into_py_any(py).unwrap_or_else(|_| py.None()),
            )],
        ),
        Error::Fork { .. } => (ForkError::new_err(message), vec![]),
        Error::Internal(_) => (InternalError::new_err(message), vec![]),
    };
    let value = err.value(py);
    for (name, v) in attrs {
        // Setting an attribute on a fresh exception instance cannot fail in practice; keep the error regardless.
        let _ = value.setattr(name, v);
    }
    err
}
