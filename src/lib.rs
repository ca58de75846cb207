//! osa_hybrid_msg core: the desired-state model, a pure planner and the backends that apply its plans.
//!
//! Flow of one run (`run::run`): parse the request (`spec`), read the broker once (`backend` →
//! `observed`), plan (`plan`), then apply (`apply`) unless in check mode, then the `verify` probes when asked. Python reaches this through
//! `py` (feature `python`), which owns the one tokio runtime (`runtime`).

pub mod apply;
pub mod backend;
pub mod closing;
pub mod deadline;
pub mod error;
pub mod no_log;
pub mod observed;
pub mod oslomsg;
pub mod password;
pub mod plan;
pub mod result;
pub mod run;
pub mod spec;
pub mod verify;

#[cfg(feature = "python")]
mod py;
#[cfg(feature = "python")]
mod runtime;

pub use error::{Error, Result};
