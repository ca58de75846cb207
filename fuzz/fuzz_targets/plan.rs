//! The planner: a request and a synthetic broker state → a plan. The input is three NUL-separated parts: the
//! request (JSON), RabbitMQ's `GET /api/definitions` body, and the Kafka topics as
//! `{"name": {"partitions": N, "replication_factor": N, "config": {...}}}`. Planning must give a plan or an
//! error naming a field, never a panic, and the plan must serialise.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use osa_hybrid_msg::observed::{KafkaSnapshot, ObservedTopic, RabbitSnapshot};
use osa_hybrid_msg::plan::{plan_kafka, plan_kafka_security, plan_rabbit};
use osa_hybrid_msg::spec::Request;
use serde_json::Value;

fn kafka_snapshot(text: &str) -> KafkaSnapshot {
    let mut snapshot = KafkaSnapshot::default();
    let Ok(Value::Object(topics)) = serde_json::from_str::<Value>(text) else {
        return snapshot;
    };
    for (name, t) in topics {
        let int = |k: &str| {
            t.get(k)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(1)
        };
        let config: BTreeMap<String, String> = t
            .get("config")
            .and_then(Value::as_object)
            .map(|c| {
                c.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        snapshot.topics.insert(
            name,
            ObservedTopic {
                partitions: int("partitions"),
                replication_factor: int("replication_factor"),
                config,
                sensitive: std::collections::BTreeSet::new(),
            },
        );
    }
    snapshot
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let (request, definitions, topics) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("{}"),
        parts.next().unwrap_or("{}"),
    );
    let Ok(request) = Request::from_json(request) else {
        return;
    };
    if let Ok(rabbit) = RabbitSnapshot::from_responses(definitions, None) {
        if let Ok(plan) = plan_rabbit(&request, &rabbit) {
            let _ = plan.diff();
        }
    }
    let kafka = kafka_snapshot(topics);
    if let Ok(plan) = plan_kafka(&request, &kafka) {
        let _ = plan.diff();
    }
    let _ = plan_kafka_security(&request, &kafka);
});
