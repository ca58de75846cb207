//! The upgrade pre-check (`check_only: upgrade`, `target_version`): the broker's policies (with the declared
//! ones in their place) linted as the target version would take them, its vhosts and users checked for what
//! that version changes, and the deprecated features it reports in use. Findings only: no change is planned,
//! nothing is written, and a refusal on the target is a finding of severity `refuse`, not an error. Pure.

use std::collections::BTreeSet;

use super::Plan;
use super::policy_lint::{LintPolicy, lint};
use crate::observed::RabbitSnapshot;
use crate::result::Finding;
use crate::spec::{QueueType, Request, State};

type Version = (u32, u32, u32);

fn push(plan: &mut Plan, finding: Finding) {
    plan.warnings.push(finding.message.clone());
    plan.findings.push(finding);
}

/// Everything the target version would refuse or warn about on this broker and request.
pub fn precheck(request: &Request, observed: &RabbitSnapshot, target: Version) -> Plan {
    let mut plan = Plan::default();
    let target_text = format!("{}.{}", target.0, target.1);
    let prefix = format!("upgrade to RabbitMQ {target_text}: ");
    policies(request, observed, target, &prefix, &mut plan);
    protection(request, observed, target, &prefix, &mut plan);
    vhosts(request, observed, target, &prefix, &mut plan);
    if target >= (4, 2, 0) {
        for (name, u) in &observed.users {
            if u.tags.iter().any(|t| t == "protected") {
                push(
                    &mut plan,
                    Finding {
                        rule: "protected-user-enforced".into(),
                        severity: "warn".into(),
                        key: Some(name.clone()),
                        message: format!(
                            "{prefix}user '{name}' carries the tag 'protected', which RabbitMQ 4.2 enforces: it can no longer be changed or deleted over the HTTP API; drop the tag before upgrading if the module manages this user (rule protected-user-enforced, RabbitMQ 4.2)"
                        ),
                        ..Finding::default()
                    },
                );
            }
        }
    }
    if let Some(used) = &observed.deprecated_features_used {
        for f in used {
            push(
                &mut plan,
                Finding {
                    rule: "deprecated-feature-used".into(),
                    severity: "warn".into(),
                    key: Some(f.name.clone()),
                    message: format!(
                        "{prefix}the broker reports the deprecated feature '{}' in use ({}) (rule deprecated-feature-used)",
                        f.name,
                        f.deprecation_phase.replace('_', " ")
                    ),
                    ..Finding::default()
                },
            );
        }
    }
    plan
}

fn policies(request: &Request, observed: &RabbitSnapshot, target: Version, prefix: &str, plan: &mut Plan) {
    let dqt = |vhost: &str| observed.vhosts.get(vhost).and_then(|v| v.default_queue_type.as_deref());
    let declared: BTreeSet<(&str, &str)> = request
        .policies()
        .iter()
        .map(|p| (p.vhost.as_str(), p.name.as_str()))
        .collect();
    // Every policy of the broker, each declared one in place of its copy (a declared absent one gone).
    let all: Vec<LintPolicy<'_>> = request
        .policies()
        .iter()
        .enumerate()
        .filter(|(_, p)| p.state() == State::Present)
        .map(|(i, p)| LintPolicy::declared(p, request.policy_path(i), dqt(&p.vhost)))
        .chain(
            observed
                .policies
                .iter()
                .filter(|((vhost, name), _)| !declared.contains(&(vhost.as_str(), name.as_str())))
                .map(|((vhost, name), cur)| LintPolicy::observed(vhost, name, cur, dqt(vhost))),
        )
        .collect();
    for f in lint(&all, Some(target), false) {
        push(plan, f.to_result(prefix));
    }
}

/// What the run itself would refuse about deletion protection: a declared delete of a protected vhost, and
/// `protected: true` for a target without the feature.
fn protection(request: &Request, observed: &RabbitSnapshot, target: Version, prefix: &str, plan: &mut Plan) {
    for (i, v) in request.vhosts().iter().enumerate() {
        let path = request.vhost_path(i);
        let (rule, message) = if v.state() == State::Absent
            && v.protected != Some(false)
            && observed.deletion_protected.contains(&v.name)
        {
            (
                "vhost-deletion-protected",
                format!(
                    "{prefix}{path}.state: vhost '{}' is protected from deletion; add protected: false to this entry to lift the protection and delete it (rule vhost-deletion-protected, RabbitMQ 4.1)",
                    v.name
                ),
            )
        } else if v.protected == Some(true) && target < super::rabbit::DELETION_PROTECTION_SINCE {
            (
                "deletion-protection-unsupported",
                format!(
                    "{prefix}{path}.protected: vhost deletion protection needs RabbitMQ 4.1 or later; remove the option for this target (rule deletion-protection-unsupported, RabbitMQ 4.1)"
                ),
            )
        } else {
            continue;
        };
        push(
            plan,
            Finding {
                rule: rule.into(),
                severity: "refuse".into(),
                vhost: Some(v.name.clone()),
                message,
                ..Finding::default()
            },
        );
    }
}

/// Vhosts that set up classic-queue oslo.messaging (see `deprecations.rs`), on the broker or declared.
fn vhosts(request: &Request, observed: &RabbitSnapshot, target: Version, prefix: &str, plan: &mut Plan) {
    if target < super::deprecations::CLASSIC_OSLO_WARN_FROM {
        return;
    }
    let mut classic: BTreeSet<&str> = observed
        .vhosts
        .iter()
        .filter(|(name, v)| {
            v.default_queue_type.as_deref() == Some("classic") || (name.starts_with('/') && *name != "/")
        })
        .map(|(name, _)| name.as_str())
        .collect();
    for v in request.vhosts() {
        let is_classic = v.default_queue_type == Some(QueueType::Classic) || (v.name.starts_with('/') && v.name != "/");
        if v.state() == State::Present && is_classic {
            classic.insert(&v.name);
        } else {
            classic.remove(v.name.as_str());
        }
    }
    for name in classic {
        push(
            plan,
            Finding {
                rule: "classic-oslo-messaging".into(),
                severity: "warn".into(),
                vhost: Some(name.to_owned()),
                message: format!(
                    "{prefix}vhost '{name}' is set up for oslo.messaging without quorum queues (classic default queue type, or OSA's '/<service>' name), which declares transient non-exclusive queues: a deprecated feature (transient_nonexcl_queues) that RabbitMQ 4.3 still permits by default but can deny, and classic queue mirroring is gone since 4.0; move the service to quorum queues (OSA: oslomsg_rabbit_quorum_queues: true) (rule classic-oslo-messaging, RabbitMQ 4.3)"
                ),
                ..Finding::default()
            },
        );
    }
}
