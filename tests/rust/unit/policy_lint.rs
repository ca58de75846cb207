//! The policy lint through the planner: one test per rule of `src/plan/policy_rules.rs`, and the
//! pairwise checks (equal-priority overlap, shadowed keys) with a policy already on the broker.

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::observed::{ObservedPolicy, ObservedVhost, RabbitSnapshot};
use osa_hybrid_msg::plan::plan_rabbit as plan;
use osa_hybrid_msg::plan::policy_rules::{RULES, Verdict};
use serde_json::{Value, json};

use super::{request, snapshot};

/// A broker of `version` with vhost `v` (default queue type `dqt`).
fn broker(version: &str, dqt: Option<&str>) -> RabbitSnapshot {
    let mut s = snapshot(version);
    s.vhosts.insert(
        "v".into(),
        ObservedVhost {
            default_queue_type: dqt.map(str::to_owned),
            ..Default::default()
        },
    );
    s
}

fn one_policy(apply_to: &str, definition: &Value) -> Value {
    json!({"policies": [{"name": "p", "vhost": "v", "pattern": "^q", "apply_to": apply_to, "definition": definition}]})
}

/// The planner's warnings for `body`; panics on a plan error.
fn warnings(body: &Value, s: &RabbitSnapshot) -> Vec<String> {
    plan(&request(body), s).unwrap_or_else(|e| panic!("{e}")).warnings
}

/// The first refusal's path and message. Each refusal is also a `refuse` finding of the result the error
/// carries, and none of them is among its warnings.
fn refusal(body: &Value, s: &RabbitSnapshot) -> (String, String) {
    match plan(&request(body), s) {
        Err(Error::Refused { path, message, result }) => {
            let refused: Vec<_> = result.findings.iter().filter(|f| f.severity == "refuse").collect();
            assert!(
                refused
                    .iter()
                    .any(|f| path.ends_with(&format!(".{}", f.key.as_deref().unwrap_or("?")))),
                "{path}: {:?}",
                result.findings
            );
            assert!(
                refused.iter().all(|f| !result.warnings.contains(&f.message)),
                "{result:?}"
            );
            assert!(!result.changed && result.changes.is_empty());
            (path, message)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn every_rule_has_an_id_a_reason_a_fix_and_a_version() {
    assert!(RULES.len() >= 10);
    for r in RULES {
        assert!(
            !r.id.is_empty() && !r.why.is_empty() && !r.fix.is_empty() && !r.since.is_empty(),
            "{r:?}"
        );
    }
    assert!(RULES.iter().any(|r| r.verdict == Verdict::Refuse));
    assert!(RULES.iter().any(|r| r.verdict == Verdict::Inert));
}

#[test]
fn ha_keys_are_refused_from_4_0_and_only_warn_on_quorum_targets_before() {
    let body = one_policy("queues", &json!({"ha-mode": "all", "ha-sync-mode": "automatic"}));
    for v in ["4.0.5", "4.3.6"] {
        let (path, message) = refusal(&body, &broker(v, None));
        assert_eq!(path, "policies[0].definition.ha-mode");
        assert!(
            message.contains("classic queue mirroring was removed in RabbitMQ 4.0"),
            "{message}"
        );
        assert!(
            message.contains("use quorum queues") && message.contains("rule ha-removed"),
            "{message}"
        );
        // Every refused key is named, not only the first.
        assert!(
            message.contains("Also refused") && message.contains("ha-sync-mode"),
            "{message}"
        );
        assert!(message.ends_with("Nothing was written"), "{message}");
    }
    assert!(warnings(&body, &broker("3.10.8", None)).is_empty());
    let w = warnings(&body, &broker("3.10.8", Some("quorum")));
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("rule ha-on-quorum") && w[0].contains("quorum queues ignore it"),
        "{w:?}"
    );
}

#[test]
fn queue_master_locator_warns_on_4_0_and_is_refused_on_4_3() {
    let body = one_policy("queues", &json!({"queue-master-locator": "min-masters"}));
    let (path, message) = refusal(&body, &broker("4.3.6", None));
    assert_eq!(path, "policies[0].definition.queue-master-locator");
    assert!(
        message.contains("4.3 denies by default") && message.contains("queue-leader-locator"),
        "{message}"
    );
    let w = warnings(&body, &broker("4.0.5", None));
    assert!(
        w.len() == 1 && w[0].contains("rule queue-master-locator-deprecated"),
        "{w:?}"
    );
    assert!(warnings(&body, &broker("3.10.8", None)).is_empty());
    let w = warnings(
        &one_policy("quorum_queues", &json!({"queue-master-locator": "min-masters"})),
        &broker("3.13.7", None),
    );
    assert!(w.len() == 1 && w[0].contains("rule classic-only-on-quorum"), "{w:?}");
}

#[test]
fn max_priority_is_refused_on_every_version() {
    for v in ["3.10.8", "4.0.5", "4.3.6"] {
        let (path, message) = refusal(&one_policy("queues", &json!({"max-priority": 5})), &broker(v, None));
        assert_eq!(path, "policies[0].definition.max-priority");
        assert!(message.contains("x-max-priority"), "{message}");
    }
}

#[test]
fn a_refusal_carries_every_finding_and_keeps_only_the_warnings_as_warnings() {
    // On 4.3: max-priority and queue-master-locator are refused, queue-version is inert.
    let body = one_policy(
        "all",
        &json!({"max-priority": 5, "queue-master-locator": "min-masters", "queue-version": 2}),
    );
    let Err(Error::Refused { path, message, result }) = plan(&request(&body), &broker("4.3.6", None)) else {
        panic!("expected a refusal");
    };
    assert_eq!(path, "policies[0].definition.max-priority");
    assert!(
        message.contains("Also refused: policies[0].definition.queue-master-locator"),
        "{message}"
    );
    let found: Vec<(&str, &str, Option<&str>)> = result
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity.as_str(), f.key.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("max-priority-not-a-policy-key", "refuse", Some("max-priority")),
            ("queue-master-locator-denied", "refuse", Some("queue-master-locator")),
            ("queue-version-inert", "inert", Some("queue-version")),
        ]
    );
    assert!(
        result
            .findings
            .iter()
            .all(|f| f.vhost.as_deref() == Some("v") && f.policy.as_deref() == Some("p"))
    );
    assert_eq!(result.warnings, [result.findings[2].message.clone()]);
    assert!(!result.changed && result.changes.is_empty());
}

#[test]
fn target_group_size_is_refused_before_3_12_and_warns_on_classic_targets_after() {
    let body = one_policy("queues", &json!({"target-group-size": 3}));
    let (path, message) = refusal(&body, &broker("3.10.8", None));
    assert_eq!(path, "policies[0].definition.target-group-size");
    assert!(message.contains("3.12"), "{message}");
    assert!(warnings(&body, &broker("4.0.5", None)).is_empty());
    let w = warnings(
        &one_policy("classic_queues", &json!({"target-group-size": 3})),
        &broker("4.3.6", None),
    );
    assert!(w.len() == 1 && w[0].contains("rule quorum-only-on-classic"), "{w:?}");
}

#[test]
fn classic_only_keys_on_quorum_targets_warn() {
    for (apply_to, dqt) in [
        ("quorum_queues", None),
        ("queues", Some("quorum")),
        ("all", Some("quorum")),
    ] {
        let body = one_policy(
            apply_to,
            &json!({"queue-mode": "lazy", "queue-version": 2, "overflow": "reject-publish-dlx", "max-length": 5}),
        );
        let w = warnings(&body, &broker("4.3.6", dqt));
        assert_eq!(w.len(), 3, "{apply_to}: {w:?}");
        assert!(
            w.iter().filter(|m| m.contains("rule classic-only-on-quorum")).count() == 2,
            "{w:?}"
        );
        assert!(
            w.iter().any(|m| m.contains("rule reject-publish-dlx-on-quorum")),
            "{w:?}"
        );
    }
    // overflow with a mode quorum queues support is fine.
    let body = one_policy("quorum_queues", &json!({"overflow": "reject-publish"}));
    assert!(warnings(&body, &broker("4.3.6", None)).is_empty());
}

#[test]
fn quorum_only_keys_on_classic_only_targets_warn() {
    let body = one_policy(
        "classic_queues",
        &json!({"delivery-limit": 5, "dead-letter-strategy": "at-least-once", "max-in-memory-length": 5}),
    );
    let w = warnings(&body, &broker("4.0.5", None));
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w.iter().all(|m| m.contains("rule quorum-only-on-classic")), "{w:?}");
    // On `queues` in a vhost without a quorum default the queues may be of either type: no warning.
    let mixed = one_policy("queues", &json!({"delivery-limit": 5}));
    assert!(warnings(&mixed, &broker("4.0.5", None)).is_empty());
}

#[test]
fn inert_keys_warn_from_the_version_that_made_them_inert() {
    let qv = one_policy("all", &json!({"queue-version": 2}));
    let w = warnings(&qv, &broker("4.0.5", None));
    assert!(
        w.len() == 1 && w[0].contains("has only classic queue version 2"),
        "{w:?}"
    );
    assert!(warnings(&qv, &broker("3.13.7", None)).is_empty());
    let qm = one_policy("queues", &json!({"queue-mode": "lazy"}));
    assert!(warnings(&qm, &broker("3.12.0", None))[0].contains("rule queue-mode-inert"));
    assert!(warnings(&qm, &broker("3.10.8", None)).is_empty());
    let mem = one_policy("quorum_queues", &json!({"max-in-memory-bytes": 5}));
    assert!(warnings(&mem, &broker("4.3.6", None))[0].contains("rule max-in-memory-inert"));
}

#[test]
fn a_declared_vhost_default_queue_type_counts_before_it_exists() {
    let body = json!({
        "vhosts": [{"name": "new", "default_queue_type": "quorum"}],
        "policies": [{"name": "p", "vhost": "new", "pattern": ".*", "definition": {"queue-mode": "lazy"}}]
    });
    let w = warnings(&body, &snapshot("4.3.6"));
    assert!(w.len() == 1 && w[0].contains("rule classic-only-on-quorum"), "{w:?}");
}

fn existing(s: &mut RabbitSnapshot, name: &str, pattern: &str, priority: i64, definition: &Value) {
    s.policies.insert(
        ("v".into(), name.into()),
        ObservedPolicy {
            pattern: pattern.into(),
            apply_to: "all".into(),
            priority,
            definition: definition.as_object().unwrap().clone(),
        },
    );
}

#[test]
fn an_equal_priority_overlap_with_a_broker_policy_warns_naming_both() {
    let mut s = broker("4.3.6", None);
    existing(&mut s, "by-hand", "^notif", 0, &json!({"max-length": 10}));
    let body = json!({"policies": [{"name": "notify", "vhost": "v", "pattern": "^notifications\\.", "definition": {"message-ttl": 1000}}]});
    let w = warnings(&body, &s);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("policies[0] (policy 'notify' on vhost 'v')"), "{w:?}");
    assert!(
        w[0].contains("policy 'by-hand' on vhost 'v' (on the broker, not declared)"),
        "{w:?}"
    );
    assert!(
        w[0].contains("names like 'notifications.'") && w[0].contains("rule equal-priority-overlap"),
        "{w:?}"
    );
    // Disjoint patterns, another vhost, or exchanges against queues: nothing.
    for other in [
        json!({"name": "n", "vhost": "v", "pattern": "^reply_", "definition": {"message-ttl": 1}}),
        json!({"name": "n", "vhost": "/", "pattern": ".*", "definition": {"message-ttl": 1}}),
    ] {
        assert!(warnings(&json!({"policies": [other]}), &s).is_empty());
    }
    let mut ex = broker("4.3.6", None);
    existing(&mut ex, "q", ".*", 0, &json!({"max-length": 10}));
    ex.policies.get_mut(&("v".to_owned(), "q".to_owned())).unwrap().apply_to = "queues".into();
    let body = json!({"policies": [{"name": "e", "vhost": "v", "pattern": ".*", "apply_to": "exchanges", "definition": {"alternate-exchange": "ae"}}]});
    assert!(warnings(&body, &ex).is_empty());
}

#[test]
fn a_higher_priority_policy_lists_the_keys_it_hides() {
    let mut s = broker("3.10.8", None);
    existing(&mut s, "CQv2", ".*", 0, &json!({"queue-version": 2, "max-length": 10}));
    let body = json!({"policies": [{"name": "notify", "vhost": "v", "pattern": "^notifications\\.", "priority": 1,
                                    "definition": {"max-length": 5, "message-ttl": 1000}}]});
    let w = warnings(&body, &s);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("(priority 1) takes precedence over policy 'CQv2'"),
        "{w:?}"
    );
    assert!(w[0].contains("not applied there: queue-version;"), "{w:?}");
    // Keys the higher one sets too are not lost.
    let body = json!({"policies": [{"name": "notify", "vhost": "v", "pattern": "^notifications\\.", "priority": 1,
                                    "definition": {"max-length": 5, "queue-version": 2}}]});
    assert!(warnings(&body, &s).is_empty());
}

#[test]
fn broker_only_pairs_and_replaced_or_deleted_policies_are_left_out() {
    let mut s = broker("4.3.6", None);
    existing(&mut s, "a", ".*", 0, &json!({"max-length": 1}));
    existing(&mut s, "b", ".*", 0, &json!({"max-length": 2}));
    // A declared policy that overlaps neither: the broker's own pair (a, b) is not this run's to report.
    let body = json!({"policies": [{"name": "c", "vhost": "v", "pattern": "^c$", "priority": 5, "definition": {"message-ttl": 1}}]});
    let w = warnings(&body, &s);
    assert_eq!(
        w.len(),
        2,
        "c hides max-length of a and of b; the pair (a, b) is not reported: {w:?}"
    );
    assert!(w.iter().all(|m| m.contains("rule shadowed-keys")), "{w:?}");
    // Declaring "a" replaces the broker's copy: one pair (declared a, b), reported once.
    let body = json!({"policies": [{"name": "a", "vhost": "v", "pattern": "^zzz$", "definition": {"max-length": 1}}]});
    let w = warnings(&body, &s);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("policies[0] (policy 'a'") && w[0].contains("names like 'zzz'"),
        "{w:?}"
    );
    // Deleting "a" leaves only the broker's pair: nothing.
    let body = json!({"policies": [{"name": "a", "vhost": "v", "state": "absent"}]});
    assert!(warnings(&body, &s).is_empty());
}
