//! Kafka security planning: SCRAM credentials and ACL bindings. Kafka never returns a password or its
//! hash, so the password is judged by the login test the snapshot holds (`logins`), never by rewriting.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Action, Change, FieldChange, HIDDEN, HIDDEN_CHANGED, Kind, Op, Plan, Secret, field};
use crate::error::{Error, Result};
use crate::observed::KafkaSnapshot;
use crate::spec::{AclBinding, KafkaUserSpec, Request, State};

/// Plans the SCRAM users and ACLs of `request` against `observed`.
pub fn plan(request: &Request, observed: &KafkaSnapshot) -> Result<Plan> {
    let mut plan = Plan::default();
    for u in request.kafka_users() {
        plan_user(u, observed, &mut plan);
    }
    plan_acls(request, observed, &mut plan)?;
    plan.changes.sort_by_key(|c| c.op.stage());
    Ok(plan)
}

fn plan_user(u: &KafkaUserSpec, observed: &KafkaSnapshot, plan: &mut Plan) {
    let stored = observed.scram.get(&u.name);
    if u.state() == State::Absent {
        for (mechanism, iterations) in stored.into_iter().flatten() {
            let mut fields = BTreeMap::new();
            fields.insert("mechanism".into(), field(mechanism.as_str(), Value::Null));
            fields.insert("iterations".into(), field(*iterations, Value::Null));
            plan.changes.push(Change::new(
                Kind::KafkaUser,
                &u.name,
                None,
                Action::Delete,
                fields,
                Op::DeleteScramCredential {
                    user: u.name.clone(),
                    mechanism: *mechanism,
                },
            ));
        }
        return;
    }
    // validate_users guarantees a password for a present user.
    let Some(password) = &u.password else { return };
    let mechanism = u.mechanism();
    let iterations = u.iterations();
    let mut fields = BTreeMap::new();
    let action = match stored.and_then(|s| s.get(&mechanism)) {
        None => {
            fields.insert("mechanism".into(), field(Value::Null, mechanism.as_str()));
            fields.insert("iterations".into(), field(Value::Null, iterations));
            fields.insert("password".into(), field(Value::Null, HIDDEN));
            if stored.is_some_and(|s| !s.is_empty()) {
                Action::Update
            } else {
                Action::Create
            }
        }
        Some(have) => {
            if *have != iterations {
                fields.insert("iterations".into(), field(*have, iterations));
            }
            if observed.logins.get(&u.name) == Some(&false) {
                fields.insert("password".into(), field(HIDDEN, HIDDEN_CHANGED));
            }
            if fields.is_empty() {
                return;
            }
            Action::Update
        }
    };
    plan.changes.push(Change::new(
        Kind::KafkaUser,
        &u.name,
        None,
        action,
        fields,
        Op::UpsertScramCredential {
            user: u.name.clone(),
            mechanism,
            iterations,
            password: Secret::new(password.clone()),
        },
    ));
}

fn acl_fields(acl: &AclBinding, present: bool) -> BTreeMap<String, FieldChange> {
    let values = [
        ("principal", Value::from(acl.principal.clone())),
        ("resource_type", Value::from(acl.resource_type.as_str())),
        ("resource_name", Value::from(acl.resource_name.clone())),
        (
            "pattern_type",
            serde_json::to_value(acl.pattern_type).unwrap_or(Value::Null),
        ),
        ("operation", Value::from(acl.operation.as_str())),
        (
            "permission",
            serde_json::to_value(acl.permission).unwrap_or(Value::Null),
        ),
        ("host", Value::from(acl.host.clone())),
    ];
    values
        .into_iter()
        .map(|(k, v)| {
            let fc = if present {
                field(Value::Null, v)
            } else {
                field(v, Value::Null)
            };
            (k.to_owned(), fc)
        })
        .collect()
}

fn plan_acls(request: &Request, observed: &KafkaSnapshot, plan: &mut Plan) -> Result<()> {
    let mut present: BTreeMap<AclBinding, String> = BTreeMap::new();
    let mut absent: BTreeMap<AclBinding, String> = BTreeMap::new();
    let mut principals = BTreeSet::new();
    for (i, a) in request.kafka_acls().iter().enumerate() {
        principals.insert(a.principal.clone());
        let side = if a.state() == State::Present {
            &mut present
        } else {
            &mut absent
        };
        for b in a.bindings() {
            side.entry(b).or_insert_with(|| request.kafka_acl_path(i));
        }
    }
    if let Some((b, at)) = present.iter().find(|(b, _)| absent.contains_key(*b)) {
        return Err(Error::plan(
            at,
            format!(
                "ACL ({b}) is declared present here and absent at {}; declare it once",
                absent[b]
            ),
        ));
    }
    for b in present.keys().filter(|b| !observed.acls.contains(*b)) {
        plan.changes.push(Change::new(
            Kind::KafkaAcl,
            b.to_string(),
            None,
            Action::Create,
            acl_fields(b, true),
            Op::CreateAcl { acl: b.clone() },
        ));
    }
    let purge = request.purge_kafka_acls();
    for b in &observed.acls {
        let declared_absent = absent.contains_key(b);
        let purged = purge && principals.contains(&b.principal) && !present.contains_key(b);
        if declared_absent || purged {
            plan.changes.push(Change::new(
                Kind::KafkaAcl,
                b.to_string(),
                None,
                Action::Delete,
                acl_fields(b, false),
                Op::DeleteAcl { acl: b.clone() },
            ));
        }
    }
    if purge && observed.unknown_acls > 0 {
        plan.warnings.push(format!(
            "purge_kafka_acls: {} ACL binding(s) on the broker use a resource type, pattern or operation this module cannot name; they are left as they are",
            observed.unknown_acls
        ));
    }
    Ok(())
}
