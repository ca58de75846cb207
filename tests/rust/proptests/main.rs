//! Planner property tests.
