//! Planner table tests.
