//! RabbitMQ planning: vhosts, users, permissions, topic permissions, policies.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::policy_lint::{Finding, LintPolicy, lint};
use super::{Action, Change, FieldChange, HIDDEN, HIDDEN_CHANGED, Kind, Op, PasswordWrite, Plan, Secret, field};
use crate::error::{Error, Result};
use crate::observed::{ObservedPermission, ObservedPolicy, ObservedUser, RabbitSnapshot, normalize_definition};
use crate::spec::{
    ApplyTo, HashingAlgorithm, PasswordSpec, PermissionSpec, QueueType, Request, State, TopicPermissionSpec,
    UpdatePassword, UserSpec,
};

fn sorted(tags: &[String]) -> Vec<String> {
    let set: BTreeSet<&String> = tags.iter().collect();
    set.into_iter().cloned().collect()
}

/// Where each vhost will stand once the plan is applied, and which request entry says so.
struct VhostFate<'a> {
    observed: &'a RabbitSnapshot,
    declared: HashMap<&'a str, (State, String)>,
}

impl VhostFate<'_> {
    fn exists_after(&self, vhost: &str) -> bool {
        match self.declared.get(vhost) {
            Some((State::Present, _)) => true,
            Some((State::Absent, _)) => false,
            None => self.observed.vhosts.contains_key(vhost),
        }
    }

    fn deleted(&self, vhost: &str) -> bool {
        matches!(self.declared.get(vhost), Some((State::Absent, _)))
    }

    /// Refuses a grant or policy on a vhost that will not exist.
    fn require(&self, path: &str, vhost: &str) -> Result<()> {
        if self.exists_after(vhost) {
            return Ok(());
        }
        let reason = match self.declared.get(vhost) {
            Some((State::Absent, i)) => format!("vhost '{vhost}' is declared absent at {i}"),
            _ => format!("vhost '{vhost}' does not exist and is not declared; add it to vhosts or fix the name"),
        };
        Err(Error::plan(path, reason))
    }
}

fn version_at_least(snapshot: &RabbitSnapshot, want: (u32, u32, u32)) -> Option<bool> {
    snapshot.version_tuple().map(|v| v >= want)
}

/// Plans the RabbitMQ objects. Errors name the request field that cannot be planned.
pub fn plan(request: &Request, observed: &RabbitSnapshot) -> Result<Plan> {
    if let Some(target) = request.upgrade_target() {
        return Ok(super::upgrade::precheck(request, observed, target));
    }
    let mut plan = Plan::default();
    let fate = VhostFate {
        observed,
        declared: request
            .vhosts()
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), (v.state(), request.vhost_path(i))))
            .collect(),
    };
    plan_vhosts(request, observed, &mut plan)?;
    plan_users(request, observed, &fate, &mut plan)?;
    plan_policies(request, observed, &fate, &mut plan)?;
    super::deprecations::check(request, observed, &mut plan);
    // Stable: declaration order within a stage.
    plan.changes.sort_by_key(|c| c.op.stage());
    Ok(plan)
}

/// RabbitMQ 4.1 added vhost deletion protection and its endpoint (from the Java and Rust HTTP clients' notes
/// and rabbitmq-server#13018; no 4.1 or 4.2 broker was run here); 4.0.5 answers 405 to it (observed).
pub(super) const DELETION_PROTECTION_SINCE: (u32, u32, u32) = (4, 1, 0);

/// The change that sets a vhost's deletion protection to `want`, if it differs; refused on a broker
/// without the feature when `want` is on (off is what such a broker always has).
fn plan_protection(request: &Request, observed: &RabbitSnapshot, i: usize, plan: &mut Plan) -> Result<()> {
    let v = &request.vhosts()[i];
    let Some(want) = v.protected else {
        return Ok(());
    };
    if version_at_least(observed, DELETION_PROTECTION_SINCE) == Some(false) {
        if want {
            return Err(Error::plan(
                format!("{}.protected", request.vhost_path(i)),
                format!(
                    "vhost deletion protection needs RabbitMQ 4.1 or later (POST /api/vhosts/{{name}}/deletion/protection) and this broker is {}; remove the option for this broker, or upgrade it. Nothing was written",
                    observed.version.as_deref().unwrap_or("older")
                ),
            ));
        }
        return Ok(());
    }
    let current = observed.vhosts.contains_key(&v.name) && observed.deletion_protected.contains(&v.name);
    if current == want {
        return Ok(());
    }
    let mut fields = BTreeMap::new();
    fields.insert("protected".into(), field(current, want));
    plan.changes.push(Change::new(
        Kind::VhostProtection,
        v.name.clone(),
        None,
        Action::Update,
        fields,
        Op::SetVhostProtection {
            name: v.name.clone(),
            protected: want,
        },
    ));
    Ok(())
}

fn plan_vhosts(request: &Request, observed: &RabbitSnapshot, plan: &mut Plan) -> Result<()> {
    // HTTP updates of the default queue type were ignored before 3.11.17 (rabbitmq-server#7912).
    let dqt_updatable = version_at_least(observed, (3, 11, 17)).unwrap_or(true);
    for (i, v) in request.vhosts().iter().enumerate() {
        let current = observed.vhosts.get(&v.name);
        if v.state() == State::Present || current.is_some() {
            plan_protection(request, observed, i, plan)?;
        }
        match (v.state(), current) {
            (State::Present, None) => {
                let mut fields = BTreeMap::new();
                let tags = v.tags.as_deref().map(sorted).unwrap_or_default();
                let description = v.description.clone().unwrap_or_default();
                let dqt = v.default_queue_type.map(|q| q.as_str().to_owned());
                fields.insert("description".into(), field(Value::Null, description.clone()));
                fields.insert("tags".into(), field(Value::Null, tags.clone()));
                if let Some(q) = &dqt {
                    fields.insert("default_queue_type".into(), field(Value::Null, q.clone()));
                }
                plan.changes.push(Change::new(
                    Kind::Vhost,
                    v.name.clone(),
                    None,
                    Action::Create,
                    fields,
                    Op::PutVhost {
                        name: v.name.clone(),
                        description,
                        tags,
                        default_queue_type: dqt,
                    },
                ));
            }
            (State::Present, Some(cur)) => {
                let mut fields = BTreeMap::new();
                let mut description = cur.description.clone();
                let mut tags = cur.tags.clone();
                let mut dqt = cur.default_queue_type.clone();
                if let Some(d) = &v.description
                    && *d != cur.description
                {
                    fields.insert("description".into(), field(cur.description.clone(), d.clone()));
                    description.clone_from(d);
                }
                if let Some(t) = &v.tags {
                    let want = sorted(t);
                    if want != cur.tags {
                        fields.insert("tags".into(), field(cur.tags.clone(), want.clone()));
                        tags = want;
                    }
                }
                if let Some(q) = v.default_queue_type
                    && cur.default_queue_type.as_deref() != Some(q.as_str())
                {
                    if dqt_updatable {
                        fields.insert(
                            "default_queue_type".into(),
                            field(cur.default_queue_type.clone(), q.as_str()),
                        );
                        dqt = Some(q.as_str().to_owned());
                    } else {
                        plan.warnings.push(format!(
                            "{}.default_queue_type: RabbitMQ {} ignores changes to the default queue type of an existing vhost (fixed in 3.11.17); vhost '{}' keeps {}. Recreate the vhost or upgrade",
                            request.vhost_path(i),
                            observed.version.as_deref().unwrap_or("?"),
                            v.name,
                            cur.default_queue_type.as_deref().unwrap_or("none"),
                        ));
                    }
                }
                if !fields.is_empty() {
                    plan.changes.push(Change::new(
                        Kind::Vhost,
                        v.name.clone(),
                        None,
                        Action::Update,
                        fields,
                        Op::PutVhost {
                            name: v.name.clone(),
                            description,
                            tags,
                            default_queue_type: dqt,
                        },
                    ));
                }
            }
            (State::Absent, Some(cur)) => {
                if v.name == "/" {
                    return Err(Error::plan(
                        format!("{}.state", request.vhost_path(i)),
                        "refusing to delete the default vhost '/'; remove this entry",
                    ));
                }
                if observed.deletion_protected.contains(&v.name) && v.protected != Some(false) {
                    // The broker would answer 412 to the DELETE; refusing here keeps the rest unwritten.
                    return Err(Error::plan(
                        format!("{}.state", request.vhost_path(i)),
                        format!(
                            "vhost '{}' is protected from deletion (RabbitMQ {} deletion protection). Remove this entry, or add protected: false to it to lift the protection and delete the vhost in this run. Nothing was written",
                            v.name,
                            observed.version.as_deref().unwrap_or("4.1+"),
                        ),
                    ));
                }
                let mut fields = BTreeMap::new();
                fields.insert("description".into(), field(cur.description.clone(), Value::Null));
                fields.insert("tags".into(), field(cur.tags.clone(), Value::Null));
                plan.changes.push(Change::new(
                    Kind::Vhost,
                    v.name.clone(),
                    None,
                    Action::Delete,
                    fields,
                    Op::DeleteVhost { name: v.name.clone() },
                ));
            }
            (State::Absent, None) => {}
        }
    }
    Ok(())
}

/// Decides whether the stored password differs from the declared one, comparing hashes locally.
fn password_write(
    spec: &PasswordSpec<'_>,
    update: UpdatePassword,
    current: Option<&ObservedUser>,
) -> (Option<PasswordWrite>, bool) {
    let Some(cur) = current else {
        let write = match spec {
            PasswordSpec::Plain(p) => PasswordWrite::Plain {
                password: Secret::new(*p),
                algorithm: HashingAlgorithm::Sha256,
            },
            PasswordSpec::Hash { hash, algorithm } => PasswordWrite::Hash {
                hash: Secret::new(*hash),
                algorithm: *algorithm,
            },
            PasswordSpec::Unset => PasswordWrite::Disabled,
        };
        return (Some(write), !matches!(spec, PasswordSpec::Unset));
    };
    let declared_alg = cur.hashing_algorithm.as_deref().and_then(HashingAlgorithm::from_name);
    let keep = PasswordWrite::Keep {
        hash: Secret::new(cur.password_hash.clone()),
        algorithm: cur.hashing_algorithm.clone(),
    };
    if update == UpdatePassword::OnCreate {
        return (Some(keep), false);
    }
    match spec {
        PasswordSpec::Unset => (Some(keep), false),
        PasswordSpec::Plain(p) => {
            if crate::password::matches(p, &cur.password_hash, declared_alg) {
                (Some(keep), false)
            } else {
                // Keep the broker's algorithm where we can compute it; MD5 is legacy, so move to SHA-256.
                let algorithm = match declared_alg {
                    Some(HashingAlgorithm::Sha512) => HashingAlgorithm::Sha512,
                    _ => HashingAlgorithm::Sha256,
                };
                (
                    Some(PasswordWrite::Plain {
                        password: Secret::new(*p),
                        algorithm,
                    }),
                    true,
                )
            }
        }
        PasswordSpec::Hash { hash, algorithm } => {
            let same_alg = declared_alg.unwrap_or(HashingAlgorithm::Sha256) == *algorithm;
            if *hash == cur.password_hash && same_alg {
                (Some(keep), false)
            } else {
                (
                    Some(PasswordWrite::Hash {
                        hash: Secret::new(*hash),
                        algorithm: *algorithm,
                    }),
                    true,
                )
            }
        }
    }
}

/// RabbitMQ 4.2 made the `protected` user tag binding: the HTTP API answers 400 to any update or delete
/// of such a user (observed on 4.3.6; on 4.0.5 it is a plain tag). Its grants can still change.
fn refuse_protected(request: &Request, observed: &RabbitSnapshot, i: usize, what: &str) -> Result<()> {
    let u = &request.users()[i];
    let protected = observed
        .users
        .get(&u.name)
        .is_some_and(|c| c.tags.iter().any(|t| t == "protected"));
    if !protected || version_at_least(observed, (4, 2, 0)) != Some(true) {
        return Ok(());
    }
    Err(Error::plan(
        format!("{}.{what}", request.user_path(i)),
        format!(
            "user '{}' is protected (tag 'protected'): RabbitMQ {} refuses to change or delete it over the HTTP API. Remove this {} from the request, or drop the tag on a node with rabbitmqctl first. Nothing was written",
            u.name,
            observed.version.as_deref().unwrap_or("4.2+"),
            if what == "state" { "entry" } else { "setting" },
        ),
    ))
}

fn plan_users(request: &Request, observed: &RabbitSnapshot, fate: &VhostFate<'_>, plan: &mut Plan) -> Result<()> {
    for (i, u) in request.users().iter().enumerate() {
        let current = observed.users.get(&u.name);
        if u.state() == State::Absent {
            if let Some(cur) = current {
                refuse_protected(request, observed, i, "state")?;
                let mut fields = BTreeMap::new();
                fields.insert("tags".into(), field(cur.tags.clone(), Value::Null));
                fields.insert("password".into(), field(HIDDEN, Value::Null));
                plan.changes.push(Change::new(
                    Kind::User,
                    u.name.clone(),
                    None,
                    Action::Delete,
                    fields,
                    Op::DeleteUser { name: u.name.clone() },
                ));
            }
            continue;
        }

        let (password, password_changed) = password_write(&u.password_spec(), u.update_password(), current);
        let current_tags = current.map(|c| c.tags.clone()).unwrap_or_default();
        let tags = u.tags.as_deref().map_or_else(|| current_tags.clone(), sorted);
        let mut fields = BTreeMap::new();
        if current.is_none() || tags != current_tags {
            fields.insert(
                "tags".into(),
                field(current.map(|_| current_tags.clone()), tags.clone()),
            );
        }
        if password_changed {
            let before = if current.is_some() {
                Value::from(HIDDEN)
            } else {
                Value::Null
            };
            fields.insert("password".into(), field(before, HIDDEN_CHANGED));
        }
        if current.is_some() && !fields.is_empty() {
            let what = fields.keys().next().map_or("tags", String::as_str);
            refuse_protected(request, observed, i, what)?;
        }
        if current.is_none() || !fields.is_empty() {
            plan.changes.push(Change::new(
                Kind::User,
                u.name.clone(),
                None,
                if current.is_some() {
                    Action::Update
                } else {
                    Action::Create
                },
                fields,
                Op::PutUser {
                    name: u.name.clone(),
                    password: password.unwrap_or(PasswordWrite::Disabled),
                    tags,
                },
            ));
        }

        if let Some(perms) = &u.permissions {
            plan_permissions(&request.user_path(i), u, perms, current, observed, fate, plan)?;
        }
        if let Some(tperms) = &u.topic_permissions {
            plan_topic_permissions(&request.user_path(i), u, tperms, current, observed, fate, plan)?;
        }
    }
    Ok(())
}

/// Grants on the vhosts the user lists; with `purge_permissions`, revokes the others.
fn plan_permissions(
    user_path: &str,
    u: &UserSpec,
    perms: &[PermissionSpec],
    current: Option<&ObservedUser>,
    observed: &RabbitSnapshot,
    fate: &VhostFate<'_>,
    plan: &mut Plan,
) -> Result<()> {
    let mut listed = BTreeSet::new();
    for (j, p) in perms.iter().enumerate() {
        fate.require(&format!("{user_path}.permissions[{j}].vhost"), &p.vhost)?;
        listed.insert(p.vhost.as_str());
        let want = ObservedPermission {
            configure: p.configure.clone(),
            write: p.write.clone(),
            read: p.read.clone(),
        };
        // A vhost recreated in this run starts without grants.
        let cur = if fate.observed.vhosts.contains_key(&p.vhost) {
            observed.permissions.get(&(u.name.clone(), p.vhost.clone()))
        } else {
            None
        };
        if cur == Some(&want) {
            continue;
        }
        let mut fields = BTreeMap::new();
        for (name, before, after) in [
            ("configure", cur.map(|c| c.configure.clone()), &want.configure),
            ("write", cur.map(|c| c.write.clone()), &want.write),
            ("read", cur.map(|c| c.read.clone()), &want.read),
        ] {
            if before.as_ref() != Some(after) {
                fields.insert(name.to_owned(), field(before, after.clone()));
            }
        }
        plan.changes.push(Change::new(
            Kind::Permission,
            u.name.clone(),
            Some(p.vhost.clone()),
            if cur.is_some() { Action::Update } else { Action::Create },
            fields,
            Op::PutPermission {
                user: u.name.clone(),
                vhost: p.vhost.clone(),
                configure: want.configure,
                write: want.write,
                read: want.read,
            },
        ));
    }
    if u.purge_permissions() && current.is_some() {
        for ((user, vhost), cur) in observed.permissions.range((u.name.clone(), String::new())..) {
            if *user != u.name {
                break;
            }
            if listed.contains(vhost.as_str()) || fate.deleted(vhost) {
                continue;
            }
            let mut fields = BTreeMap::new();
            fields.insert("configure".into(), field(cur.configure.clone(), Value::Null));
            fields.insert("write".into(), field(cur.write.clone(), Value::Null));
            fields.insert("read".into(), field(cur.read.clone(), Value::Null));
            plan.changes.push(Change::new(
                Kind::Permission,
                u.name.clone(),
                Some(vhost.clone()),
                Action::Delete,
                fields,
                Op::DeletePermission {
                    user: u.name.clone(),
                    vhost: vhost.clone(),
                },
            ));
        }
    }
    Ok(())
}

/// Topic permissions per vhost; the API deletes them per (user, vhost) only.
fn plan_topic_permissions(
    user_path: &str,
    u: &UserSpec,
    tperms: &[TopicPermissionSpec],
    current: Option<&ObservedUser>,
    observed: &RabbitSnapshot,
    fate: &VhostFate<'_>,
    plan: &mut Plan,
) -> Result<()> {
    let mut want: BTreeMap<&str, BTreeMap<String, (String, String)>> = BTreeMap::new();
    for (j, p) in tperms.iter().enumerate() {
        fate.require(&format!("{user_path}.topic_permissions[{j}].vhost"), &p.vhost)?;
        want.entry(p.vhost.as_str())
            .or_default()
            .insert(p.exchange.clone(), (p.write.clone(), p.read.clone()));
    }
    let empty = BTreeMap::new();
    for (vhost, entries) in &want {
        let cur = if fate.observed.vhosts.contains_key(*vhost) {
            observed
                .topic_permissions
                .get(&(u.name.clone(), (*vhost).to_owned()))
                .unwrap_or(&empty)
        } else {
            &empty
        };
        if cur == entries {
            continue;
        }
        let clear_first = cur.keys().any(|x| !entries.contains_key(x));
        let mut fields = BTreeMap::new();
        fields.insert("exchanges".into(), field(topic_value(cur), topic_value(entries)));
        plan.changes.push(Change::new(
            Kind::TopicPermission,
            u.name.clone(),
            Some((*vhost).to_owned()),
            if cur.is_empty() { Action::Create } else { Action::Update },
            fields,
            Op::PutTopicPermissions {
                user: u.name.clone(),
                vhost: (*vhost).to_owned(),
                entries: entries.clone(),
                clear_first,
            },
        ));
    }
    if u.purge_permissions() && current.is_some() {
        for ((user, vhost), cur) in observed.topic_permissions.range((u.name.clone(), String::new())..) {
            if *user != u.name {
                break;
            }
            if want.contains_key(vhost.as_str()) || fate.deleted(vhost) {
                continue;
            }
            let mut fields = BTreeMap::new();
            fields.insert("exchanges".into(), field(topic_value(cur), Value::Null));
            plan.changes.push(Change::new(
                Kind::TopicPermission,
                u.name.clone(),
                Some(vhost.clone()),
                Action::Delete,
                fields,
                Op::DeleteTopicPermissions {
                    user: u.name.clone(),
                    vhost: vhost.clone(),
                },
            ));
        }
    }
    Ok(())
}

fn topic_value(entries: &BTreeMap<String, (String, String)>) -> Value {
    Value::Object(
        entries
            .iter()
            .map(|(x, (w, r))| (x.clone(), json!({"write": w, "read": r})))
            .collect(),
    )
}

fn plan_policies(request: &Request, observed: &RabbitSnapshot, fate: &VhostFate<'_>, plan: &mut Plan) -> Result<()> {
    let supports_queue_type_targets = version_at_least(observed, (3, 12, 0));
    lint_policies(request, observed, fate, plan)?;
    for (i, p) in request.policies().iter().enumerate() {
        let key = (p.vhost.clone(), p.name.clone());
        let vhost_is_new = !fate.observed.vhosts.contains_key(&p.vhost);
        let current = if vhost_is_new {
            None
        } else {
            observed.policies.get(&key)
        };
        if p.state() == State::Absent {
            if let Some(cur) = current
                && !fate.deleted(&p.vhost)
            {
                plan.changes.push(Change::new(
                    Kind::Policy,
                    p.name.clone(),
                    Some(p.vhost.clone()),
                    Action::Delete,
                    policy_fields(Some(cur), None),
                    Op::DeletePolicy {
                        vhost: p.vhost.clone(),
                        name: p.name.clone(),
                    },
                ));
            }
            continue;
        }
        fate.require(&format!("{}.vhost", request.policy_path(i)), &p.vhost)?;
        let apply_to = p.apply_to();
        if matches!(
            apply_to,
            ApplyTo::ClassicQueues | ApplyTo::QuorumQueues | ApplyTo::Streams
        ) && supports_queue_type_targets == Some(false)
        {
            return Err(Error::plan(
                format!("{}.apply_to", request.policy_path(i)),
                format!(
                    "'{}' needs RabbitMQ 3.12 or later and this broker is {}; use 'queues'",
                    apply_to.as_str(),
                    observed.version.as_deref().unwrap_or("older")
                ),
            ));
        }
        let definition = normalize_definition(p.definition.as_ref().unwrap_or(&Map::new()));
        let want = ObservedPolicy {
            pattern: p.pattern.clone().unwrap_or_default(),
            apply_to: apply_to.as_str().to_owned(),
            priority: p.priority(),
            definition,
        };
        if current == Some(&want) {
            continue;
        }
        plan.changes.push(Change::new(
            Kind::Policy,
            p.name.clone(),
            Some(p.vhost.clone()),
            if current.is_some() {
                Action::Update
            } else {
                Action::Create
            },
            policy_fields(current, Some(&want)),
            Op::PutPolicy {
                vhost: p.vhost.clone(),
                name: p.name.clone(),
                pattern: want.pattern,
                apply_to,
                priority: want.priority,
                definition: want.definition,
            },
        ));
    }
    Ok(())
}

/// Runs the policy lint (`policy_lint.rs`) over the declared policies and the broker's other policies in
/// their vhosts: refusals fail the plan before anything is written, as `Error::Refused` carrying every
/// finding (the refusals with severity `refuse`); otherwise the findings become warnings.
fn lint_policies(request: &Request, observed: &RabbitSnapshot, fate: &VhostFate<'_>, plan: &mut Plan) -> Result<()> {
    let declared_dqt: HashMap<&str, Option<&str>> = request
        .vhosts()
        .iter()
        .filter(|v| v.state() == State::Present)
        .map(|v| (v.name.as_str(), v.default_queue_type.map(QueueType::as_str)))
        .collect();
    let dqt = |vhost: &str| -> Option<&str> {
        declared_dqt
            .get(vhost)
            .copied()
            .flatten()
            .or_else(|| observed.vhosts.get(vhost).and_then(|v| v.default_queue_type.as_deref()))
    };
    let declared: BTreeSet<(&str, &str)> = request
        .policies()
        .iter()
        .map(|p| (p.vhost.as_str(), p.name.as_str()))
        .collect();
    let mut policies: Vec<LintPolicy<'_>> = request
        .policies()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.state() == State::Present && fate.exists_after(&p.vhost))
        .map(|(i, p)| LintPolicy::declared(p, request.policy_path(i), dqt(&p.vhost)))
        .collect();
    let vhosts: BTreeSet<&str> = policies.iter().map(|p| p.vhost).collect();
    // Only the vhosts with a declared policy; a vhost created in this run has none of the broker's
    // policies; a declared policy replaces its copy.
    policies.extend(
        observed
            .policies
            .iter()
            .filter(|((vhost, name), _)| {
                vhosts.contains(vhost.as_str())
                    && fate.observed.vhosts.contains_key(vhost)
                    && !declared.contains(&(vhost.as_str(), name.as_str()))
            })
            .map(|((vhost, name), cur)| LintPolicy::observed(vhost, name, cur, dqt(vhost))),
    );
    let findings = lint(&policies, observed.version_tuple(), true);
    for f in &findings {
        plan.findings.push(f.to_result(""));
        // A refusal is the failure's message, not a warning.
        if !f.is_refusal() {
            plan.warnings.push(f.message.clone());
        }
    }
    let refusals: Vec<&Finding> = findings.iter().filter(|f| f.is_refusal()).collect();
    let Some(first) = refusals.first() else {
        return Ok(());
    };
    let also: Vec<&str> = refusals[1..].iter().map(|f| f.message.as_str()).collect();
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(". Also refused: {}", also.join("; "))
    };
    Err(Error::refused(
        first.path.as_deref().unwrap_or("policies"),
        format!("{}{also}. Nothing was written", first.detail),
        std::mem::take(&mut plan.findings),
        std::mem::take(&mut plan.warnings),
    ))
}

/// The fields that differ between two policies (all of them on create or delete).
fn policy_fields(before: Option<&ObservedPolicy>, after: Option<&ObservedPolicy>) -> BTreeMap<String, FieldChange> {
    let parts = |p: Option<&ObservedPolicy>| -> [(&'static str, Value); 4] {
        match p {
            Some(p) => [
                ("pattern", Value::from(p.pattern.clone())),
                ("apply_to", Value::from(p.apply_to.clone())),
                ("priority", Value::from(p.priority)),
                ("definition", Value::Object(p.definition.clone())),
            ],
            None => [
                ("pattern", Value::Null),
                ("apply_to", Value::Null),
                ("priority", Value::Null),
                ("definition", Value::Null),
            ],
        }
    };
    parts(before)
        .into_iter()
        .zip(parts(after))
        .filter(|((_, b), (_, a))| b != a)
        .map(|((k, b), (_, a))| (k.to_owned(), FieldChange { before: b, after: a }))
        .collect()
}
