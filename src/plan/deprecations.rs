//! RabbitMQ deprecated features: what the broker reports in use (`GET /api/deprecated-features/used`, read
//! only when the request sets `report_deprecated_features`), and a declaration that sets up classic-queue
//! oslo.messaging on RabbitMQ 4.3 or later. Warnings and findings only; nothing here refuses. Pure.

use crate::observed::RabbitSnapshot;
use crate::result::Finding;
use crate::spec::{QueueType, Request, State};

use super::Plan;

/// The version whose classic-queue oslo.messaging setups this module warns about.
pub const CLASSIC_OSLO_WARN_FROM: (u32, u32, u32) = (4, 3, 0);

/// What a deprecated feature in use means for an OpenStack deployment, and what to do; by feature name.
const ADVICE: &[(&str, &str)] = &[
    (
        "transient_nonexcl_queues",
        "transient non-exclusive queues exist; oslo.messaging declares them (reply and fanout queues) when rabbit_quorum_queue is off. Move the services to quorum queues (OSA: oslomsg_rabbit_quorum_queues: true, which also renames the vhost)",
    ),
    (
        "queue_master_locator",
        "a queue or policy uses queue-master-locator; use queue-leader-locator",
    ),
    (
        "global_qos",
        "a client sets a global prefetch (basic.qos global=true); set a per-consumer prefetch",
    ),
    (
        "classic_queue_mirroring",
        "an ha-* policy is set; drop it and use quorum queues",
    ),
    (
        "management_metrics_collection",
        "the management plugin collects metrics; use Prometheus (management_agent.disable_metrics_collector = true)",
    ),
];

fn version_text(observed: &RabbitSnapshot) -> &str {
    observed.version.as_deref().unwrap_or("of unknown version")
}

fn push(plan: &mut Plan, rule: &str, vhost: Option<&str>, key: Option<&str>, message: String) {
    plan.findings.push(Finding {
        rule: rule.to_owned(),
        severity: "warn".to_owned(),
        vhost: vhost.map(str::to_owned),
        policy: None,
        key: key.map(str::to_owned),
        message: message.clone(),
    });
    plan.warnings.push(message);
}

/// Adds the deprecation warnings and findings for this request and broker to `plan`.
pub fn check(request: &Request, observed: &RabbitSnapshot, plan: &mut Plan) {
    if request.report_deprecated_features() {
        used(observed, plan);
    }
    classic_oslo(request, observed, plan);
}

fn used(observed: &RabbitSnapshot, plan: &mut Plan) {
    let Some(features) = &observed.deprecated_features_used else {
        push(
            plan,
            "deprecated-features-unknown",
            None,
            None,
            format!(
                "report_deprecated_features: RabbitMQ {} cannot report deprecated features in use (GET /api/deprecated-features/used arrived in 3.13); nothing was checked (rule deprecated-features-unknown)",
                version_text(observed)
            ),
        );
        return;
    };
    for f in features {
        let advice = ADVICE
            .iter()
            .find(|(name, _)| *name == f.name)
            .map_or("see the RabbitMQ deprecation notes", |(_, a)| a);
        let doc = if f.doc_url.is_empty() {
            String::new()
        } else {
            format!("; {}", f.doc_url)
        };
        let phase = if f.deprecation_phase.is_empty() {
            "deprecated".to_owned()
        } else {
            f.deprecation_phase.replace('_', " ")
        };
        push(
            plan,
            "deprecated-feature-used",
            None,
            Some(&f.name),
            format!(
                "RabbitMQ {} reports the deprecated feature '{}' in use ({phase}): {advice}{doc} (rule deprecated-feature-used)",
                version_text(observed),
                f.name
            ),
        );
    }
}

/// A present vhost with `default_queue_type: classic`, or in OSA's non-quorum form `/<service>`, on 4.3+.
fn classic_oslo(request: &Request, observed: &RabbitSnapshot, plan: &mut Plan) {
    if observed.version_tuple().is_none_or(|v| v < CLASSIC_OSLO_WARN_FROM) {
        return;
    }
    for (i, v) in request.vhosts().iter().enumerate() {
        if v.state() != State::Present || v.name == "/" {
            continue;
        }
        let why = if v.default_queue_type == Some(QueueType::Classic) {
            "default_queue_type: classic"
        } else if v.name.starts_with('/') {
            "a '/<service>' name, OSA's vhost when oslomsg_rabbit_quorum_queues is false"
        } else {
            continue;
        };
        push(
            plan,
            "classic-oslo-messaging",
            Some(&v.name),
            None,
            format!(
                "{} (vhost '{}'): {why} means oslo.messaging without quorum queues, which declares transient non-exclusive queues: a deprecated feature (transient_nonexcl_queues) that RabbitMQ 4.3 still permits by default but can deny (deprecated_features.permit.transient_nonexcl_queues = false) and a later release removes; RabbitMQ {} has no classic queue mirroring either. Use quorum queues (OSA: oslomsg_rabbit_quorum_queues: true, vhost '{}' with default_queue_type: quorum) (rule classic-oslo-messaging, RabbitMQ 4.3)",
                request.vhost_path(i),
                v.name,
                version_text(observed),
                v.name.trim_start_matches('/'),
            ),
        );
    }
}
