//! The `osa_hybrid_msg._core` extension module: JSON in, JSON out, one exception class per error kind.

mod api;
mod errors;
mod oslomsg;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use super::api::{_request_defaults, _result_sample, _secrets_in, _wait_for_closing, apply};
    #[pymodule_export]
    use super::oslomsg::oslomsg_vars;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        super::errors::register(m)
    }
}
