//! What the brokers have, read once per run and held in the normal form the planner compares against.

mod rabbit;

pub use rabbit::{
    ObservedPermission, ObservedPolicy, ObservedUser, ObservedVhost, RabbitSnapshot, normalize_definition,
};
