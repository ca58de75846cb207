//! Python-facing functions. Each takes owned input, releases the GIL, and runs on the shared runtime.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;

use crate::error::Error;
use crate::run::{Options, run_json};

/// apply(request, check_mode=False, diff=False) -> str
///
/// Plans the JSON `request` against the broker and applies it unless `check_mode`.
/// Returns the result as JSON. Raises a subclass of `OsaHybridMsgError`.
#[pyfunction]
#[pyo3(signature = (request, check_mode = false, diff = false))]
pub fn apply(py: Python<'_>, request: String, check_mode: bool, diff: bool) -> PyResult<String> {
    let options = Options { check_mode, diff };
    let outcome = py.detach(move || {
        catch_unwind(AssertUnwindSafe(|| {
            crate::runtime::run_blocking(run_json(&request, options))
        }))
        .unwrap_or_else(|panic| Err(Error::Internal(panic_text(&panic))))
        .and_then(|r| r)
    });
    Ok(outcome?)
}

/// _wait_for_closing() -> int
///
/// Joins the threads still dropping Kafka clients (crate::closing) and returns how many there were. The
/// package registers it with `atexit`, so the interpreter never exits under a client being torn down.
#[pyfunction]
pub fn _wait_for_closing(py: Python<'_>) -> usize {
    py.detach(crate::closing::wait_all)
}

/// _secrets_in(texts, secrets) -> list[str]
///
/// The secrets that occur in some of `texts`, in the order given (crate::no_log). The module narrows
/// AnsibleModule's `no_log` values to these before it exits, so masking its output costs one pass.
#[pyfunction]
pub fn _secrets_in(py: Python<'_>, texts: Vec<String>, secrets: Vec<String>) -> Vec<String> {
    py.detach(move || {
        let found = {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
            crate::no_log::secrets_in(&texts, &refs)
        };
        let mut found = found.into_iter().peekable();
        secrets
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| found.next_if_eq(&i).map(|_| s))
            .collect()
    })
}

/// _result_sample() -> str
///
/// A run result with every optional part present, as JSON; for the test that checks `_types.py`
/// and `docs/core-api.md` against the Rust definition. Not part of the public API.
#[pyfunction]
pub fn _result_sample() -> PyResult<String> {
    Ok(crate::result::RunResult::sample().to_json()?)
}

/// _request_defaults() -> str
///
/// The defaults the core applies to an omitted option, as JSON shaped like the request; for the test that
/// holds the module's argument spec to them. Not part of the public API.
#[pyfunction]
pub fn _request_defaults() -> PyResult<String> {
    let defaults = crate::spec::request_defaults()?;
    Ok(defaults.to_string())
}

pub(super) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
