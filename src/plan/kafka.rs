//! Kafka planning. The safety rules live here, so check mode shows them: partitions only grow, a
//! replication-factor change is refused (librdkafka has no reassignment call), internal topics are
//! never touched, and only the config keys the request names are altered.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::{Action, Change, FieldChange, Kind, Op, Plan, field};
use crate::error::{Error, Result};
use crate::observed::{KafkaSnapshot, ObservedTopic, config_string};
use crate::spec::{Request, State, TopicSpec};

/// Topics Kafka and its ecosystem own (`Topic.java`, Confluent, Strimzi); never created, altered or deleted.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("__") || name == "_schemas" || name.starts_with("_confluent")
}

fn change(name: &str, action: Action, fields: BTreeMap<String, FieldChange>, op: Op) -> Change {
    Change::new(Kind::Topic, name, None, action, fields, op)
}

/// The desired config as broker strings; `None` values are removals.
fn desired_config(config: Option<&Map<String, Value>>) -> BTreeMap<String, Option<String>> {
    config
        .map(|c| c.iter().map(|(k, v)| (k.clone(), config_string(v))).collect())
        .unwrap_or_default()
}

fn config_value(config: &BTreeMap<String, String>) -> Value {
    Value::Object(
        config
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

/// Plans the topics. Errors name the request entry (`topics[i]` or `notifications(<topic>)`).
pub fn plan(request: &Request, observed: &KafkaSnapshot) -> Result<Plan> {
    let mut plan = Plan::default();
    let declared = request.kafka_topics();
    collision_warnings(&declared, observed, &mut plan);
    for (path, t) in &declared {
        if is_internal(&t.name) {
            return Err(Error::plan(
                format!("{path}.name"),
                format!(
                    "'{}' is an internal topic; osa_hybrid_msg never creates, alters or deletes internal topics",
                    t.name
                ),
            ));
        }
        match (t.state(), observed.topics.get(&t.name)) {
            (State::Present, None) => plan_create(t, &mut plan),
            (State::Present, Some(cur)) => plan_update(path, t, cur, &mut plan)?,
            (State::Absent, Some(cur)) => {
                let mut fields = BTreeMap::new();
                fields.insert("partitions".into(), field(cur.partitions, Value::Null));
                fields.insert("replication_factor".into(), field(cur.replication_factor, Value::Null));
                plan.changes.push(change(
                    &t.name,
                    Action::Delete,
                    fields,
                    Op::DeleteTopic { name: t.name.clone() },
                ));
            }
            (State::Absent, None) => {}
        }
    }
    plan.changes.sort_by_key(|c| c.op.stage());
    Ok(plan)
}

fn plan_create(t: &TopicSpec, plan: &mut Plan) {
    let config: BTreeMap<String, String> = desired_config(t.config.as_ref())
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
    let mut fields = BTreeMap::new();
    fields.insert(
        "partitions".into(),
        field(
            Value::Null,
            t.partitions.map_or(Value::from("broker default"), Value::from),
        ),
    );
    fields.insert(
        "replication_factor".into(),
        field(
            Value::Null,
            t.replication_factor.map_or(Value::from("broker default"), Value::from),
        ),
    );
    if !config.is_empty() {
        fields.insert("config".into(), field(Value::Null, config_value(&config)));
    }
    plan.changes.push(change(
        &t.name,
        Action::Create,
        fields,
        Op::CreateTopic {
            name: t.name.clone(),
            partitions: t.partitions.unwrap_or(-1),
            replication_factor: t.replication_factor.unwrap_or(-1),
            config,
        },
    ));
}

fn plan_update(path: &str, t: &TopicSpec, cur: &ObservedTopic, plan: &mut Plan) -> Result<()> {
    if let Some(want) = t.partitions {
        if want < cur.partitions {
            return Err(Error::plan(
                format!("{path}.partitions"),
                format!(
                    "topic '{}' has {} partitions and Kafka cannot decrease them to {want}; keep {} or more (a new topic name is the only way to fewer)",
                    t.name, cur.partitions, cur.partitions
                ),
            ));
        }
        if want > cur.partitions {
            let mut fields = BTreeMap::new();
            fields.insert("partitions".into(), field(cur.partitions, want));
            plan.changes.push(change(
                &t.name,
                Action::Update,
                fields,
                Op::CreatePartitions {
                    name: t.name.clone(),
                    total: want,
                },
            ));
        }
    }
    if let Some(want) = t.replication_factor
        && want != cur.replication_factor
    {
        return Err(Error::plan(
            format!("{path}.replication_factor"),
            format!(
                "topic '{}' has replication factor {} and changing it to {want} needs a partition reassignment, which osa_hybrid_msg does not do in place (and never by delete and re-create); keep {} or reassign with kafka-reassign-partitions",
                t.name, cur.replication_factor, cur.replication_factor
            ),
        ));
    }
    let mut set = BTreeMap::new();
    let mut delete = Vec::new();
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    for (key, want) in desired_config(t.config.as_ref()) {
        let have = cur.config.get(&key);
        if cur.sensitive.contains(&key) {
            plan.warnings.push(format!(
                "{path}.config.{key}: the broker does not reveal this sensitive value, so it is left as it is"
            ));
            continue;
        }
        match (want, have) {
            (Some(w), Some(h)) if w == *h => {}
            (Some(w), h) => {
                before.insert(key.clone(), h.map_or(Value::Null, |h| Value::from(h.clone())));
                after.insert(key.clone(), Value::from(w.clone()));
                set.insert(key, w);
            }
            (None, Some(h)) => {
                before.insert(key.clone(), Value::from(h.clone()));
                after.insert(key.clone(), Value::Null);
                delete.push(key);
            }
            (None, None) => {}
        }
    }
    if !set.is_empty() || !delete.is_empty() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "config".into(),
            FieldChange {
                before: Value::Object(before.into_iter().collect()),
                after: Value::Object(after.into_iter().collect()),
            },
        );
        plan.changes.push(change(
            &t.name,
            Action::Update,
            fields,
            Op::AlterTopicConfig {
                name: t.name.clone(),
                set,
                delete,
            },
        ));
    }
    Ok(())
}

/// Kafka refuses a topic whose name differs from another only by '.' versus '_' (metric names collide).
fn collision_warnings(declared: &[(String, TopicSpec)], observed: &KafkaSnapshot, plan: &mut Plan) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for name in observed.topics.keys() {
        seen.insert(name.replace('.', "_"), name);
    }
    for (path, t) in declared {
        if t.state() == State::Absent || observed.topics.contains_key(&t.name) {
            continue;
        }
        let key = t.name.replace('.', "_");
        match seen.get(&key) {
            Some(other) if *other != t.name => plan.warnings.push(format!(
                "{path}.name: '{}' collides with topic '{other}' ('.' and '_' are the same to Kafka's metrics); the broker will refuse to create it",
                t.name
            )),
            _ => {
                seen.insert(key, &t.name);
            }
        }
    }
}
