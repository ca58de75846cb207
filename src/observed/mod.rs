//! What the brokers have, read once per run and held in the normal form the planner compares against.

mod kafka;
mod rabbit;

pub use kafka::{KafkaSnapshot, ObservedTopic, config_string};

pub use rabbit::{
    DeprecatedFeature, ObservedPermission, ObservedPolicy, ObservedUser, ObservedVhost, RabbitSnapshot,
    normalize_definition,
};
