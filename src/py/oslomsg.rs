//! `oslomsg_vars`: the pure function behind the `oslomsg` lookup. It never touches the runtime
//! (`src/runtime.rs`), so it works in the forked workers Ansible runs lookups in.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;

use crate::error::Error;

/// oslomsg_vars(request) -> str
///
/// Computes OpenStack-Ansible's `oslomsg_*` variables and transport URLs from the JSON `request`
/// (groups, hostvars, vars, options, services). Returns `{"global": {...}, "services": [...]}` as JSON.
/// Raises `SpecError` with `path` naming the offending input.
#[pyfunction]
pub fn oslomsg_vars(request: &str) -> PyResult<String> {
    Ok(
        catch_unwind(AssertUnwindSafe(|| crate::oslomsg::oslomsg_vars_json(request)))
            .unwrap_or_else(|panic| Err(Error::Internal(super::api::panic_text(&panic))))?,
    )
}
