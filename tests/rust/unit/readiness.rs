//! RabbitMQ 4.x readiness in the planner: vhost deletion protection as an option, deprecated features in
//! use, the 4.3 classic-queue warning, and the machine-readable findings.

use osa_hybrid_msg::error::Error;
use osa_hybrid_msg::observed::{DeprecatedFeature, ObservedVhost, RabbitSnapshot};
use osa_hybrid_msg::plan::{Action, Kind, Op, plan_rabbit as plan};
use serde_json::{Value, json};

use super::{request, snapshot};

fn with_vhost(version: &str, name: &str, protected: bool) -> RabbitSnapshot {
    let mut s = snapshot(version);
    s.vhosts.insert(name.into(), ObservedVhost::default());
    if protected {
        s.deletion_protected.insert(name.into());
    }
    s
}

fn refusal(body: &Value, s: &RabbitSnapshot) -> (String, String) {
    match plan(&request(body), s) {
        Err(Error::Plan { path, message }) => (path, message),
        other => panic!("expected a plan error, got {other:?}"),
    }
}

#[test]
fn protection_is_read_from_the_definitions_metadata_alone() {
    // 4.3.6's GET /api/definitions carries the flag only inside the vhost's metadata (observed).
    let defs = r#"{"rabbitmq_version": "4.3.6", "vhosts": [
        {"name": "keep", "limits": {}, "metadata": {"description": "", "tags": [], "default_queue_type": "classic", "protected_from_deletion": true}},
        {"name": "free", "limits": {}, "metadata": {"description": "", "tags": [], "default_queue_type": "classic"}}]}"#;
    let s = RabbitSnapshot::from_responses(defs, None).unwrap();
    assert_eq!(s.deletion_protected.iter().collect::<Vec<_>>(), ["keep"]);
}

#[test]
fn protecting_is_its_own_change_after_the_vhost_exists() {
    let p = plan(
        &request(&json!({"vhosts": [{"name": "new", "protected": true}]})),
        &snapshot("4.3.6"),
    )
    .unwrap();
    let kinds: Vec<Kind> = p.changes.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [Kind::Vhost, Kind::VhostProtection]);
    let c = &p.changes[1];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.fields["protected"].before, json!(false));
    assert_eq!(c.fields["protected"].after, json!(true));
    assert_eq!(
        c.op,
        Op::SetVhostProtection {
            name: "new".into(),
            protected: true
        }
    );
    assert!(p.changes[0].op.stage() < c.op.stage());
    assert_eq!(c.to_string(), "update deletion protection of vhost 'new'");
    let diff = p.diff();
    assert_eq!(diff.after["vhost_protection"], json!({"new": {"protected": true}}));
    assert_eq!(diff.before["vhost_protection"], json!({"new": {"protected": false}}));
}

#[test]
fn protection_unset_or_already_as_declared_plans_nothing() {
    let s = with_vhost("4.3.6", "keep", true);
    for body in [
        json!({"vhosts": [{"name": "keep"}]}),
        json!({"vhosts": [{"name": "keep", "protected": true}]}),
    ] {
        assert!(plan(&request(&body), &s).unwrap().is_empty(), "{body}");
    }
    let p = plan(&request(&json!({"vhosts": [{"name": "keep", "protected": false}]})), &s).unwrap();
    assert_eq!(p.changes.len(), 1);
    assert_eq!(
        p.changes[0].op,
        Op::SetVhostProtection {
            name: "keep".into(),
            protected: false
        }
    );
}

#[test]
fn protected_false_with_state_absent_lifts_the_protection_just_before_the_delete() {
    let s = with_vhost("4.3.6", "keep", true);
    let p = plan(
        &request(&json!({"vhosts": [{"name": "keep", "state": "absent", "protected": false}]})),
        &s,
    )
    .unwrap();
    let ops: Vec<&Op> = p.changes.iter().map(|c| &c.op).collect();
    assert_eq!(
        ops,
        [
            &Op::SetVhostProtection {
                name: "keep".into(),
                protected: false
            },
            &Op::DeleteVhost { name: "keep".into() }
        ]
    );
    assert_eq!(p.changes[0].op.stage() + 1, p.changes[1].op.stage());
    // Without protected: false the delete is refused, naming the way out.
    let (path, message) = refusal(&json!({"vhosts": [{"name": "keep", "state": "absent"}]}), &s);
    assert_eq!(path, "vhosts[0].state");
    assert!(
        message.contains("protected: false")
            && message.contains("RabbitMQ 4.3.6")
            && message.ends_with("Nothing was written"),
        "{message}"
    );
}

#[test]
fn protected_true_with_state_absent_is_a_spec_error() {
    match osa_hybrid_msg::spec::Request::from_json(
        &json!({"vhosts": [{"name": "x", "state": "absent", "protected": true}]}).to_string(),
    ) {
        Err(Error::Spec { path, message }) => {
            assert_eq!(path, "vhosts[0].protected");
            assert!(message.contains("protected: false"), "{message}");
        }
        other => panic!("expected a spec error, got {other:?}"),
    }
}

#[test]
fn protection_is_refused_before_4_1_naming_the_version_and_false_is_a_no_op_there() {
    for version in ["3.10.8", "4.0.5"] {
        let s = with_vhost(version, "keep", false);
        let (path, message) = refusal(&json!({"vhosts": [{"name": "keep", "protected": true}]}), &s);
        assert_eq!(path, "vhosts[0].protected");
        assert!(
            message.contains("needs RabbitMQ 4.1 or later")
                && message.contains(&format!("this broker is {version}"))
                && message.contains("remove the option"),
            "{message}"
        );
        // A new vhost too: refused before its creation is written.
        let (path, _) = refusal(&json!({"vhosts": [{"name": "other", "protected": true}]}), &s);
        assert_eq!(path, "vhosts[0].protected");
        assert!(
            plan(&request(&json!({"vhosts": [{"name": "keep", "protected": false}]})), &s)
                .unwrap()
                .is_empty()
        );
    }
    assert_eq!(
        plan(
            &request(&json!({"vhosts": [{"name": "keep", "protected": true}]})),
            &with_vhost("4.1.0", "keep", false)
        )
        .unwrap()
        .changes
        .len(),
        1
    );
}

#[test]
fn deprecated_features_in_use_become_warnings_and_findings_only_when_asked() {
    let mut s = with_vhost("4.3.6", "v", false);
    s.deprecated_features_used = Some(vec![DeprecatedFeature {
        name: "transient_nonexcl_queues".into(),
        deprecation_phase: "permitted_by_default".into(),
        doc_url: "https://example.invalid/doc".into(),
    }]);
    let asked = json!({"vhosts": [{"name": "v"}], "report_deprecated_features": true});
    let p = plan(&request(&asked), &s).unwrap();
    assert!(p.changes.is_empty());
    assert_eq!(p.findings.len(), 1, "{:?}", p.findings);
    let f = &p.findings[0];
    assert_eq!(
        (
            f.rule.as_str(),
            f.severity.as_str(),
            f.key.as_deref(),
            f.vhost.as_deref()
        ),
        (
            "deprecated-feature-used",
            "warn",
            Some("transient_nonexcl_queues"),
            None
        )
    );
    assert!(
        f.message.contains("permitted by default") && f.message.contains("quorum queues"),
        "{}",
        f.message
    );
    assert_eq!(p.warnings, std::slice::from_ref(&f.message));
    // Not asked: not reported, even if the snapshot had it.
    assert!(
        plan(&request(&json!({"vhosts": [{"name": "v"}]})), &s)
            .unwrap()
            .findings
            .is_empty()
    );
    // Asked on a broker that cannot tell.
    let old = with_vhost("3.10.8", "v", false);
    let p = plan(&request(&asked), &old).unwrap();
    assert_eq!(p.findings.len(), 1);
    assert_eq!(p.findings[0].rule, "deprecated-features-unknown");
    assert!(p.findings[0].message.contains("RabbitMQ 3.10.8") && p.findings[0].message.contains("3.13"));
}

#[test]
fn classic_oslo_messaging_vhosts_warn_on_4_3_only() {
    let body = json!({"vhosts": [
        {"name": "/nova"},
        {"name": "glance", "default_queue_type": "classic"},
        {"name": "neutron", "default_queue_type": "quorum"},
        {"name": "/cinder", "state": "absent"},
        {"name": "/"}
    ]});
    let p = plan(&request(&body), &snapshot("4.3.6")).unwrap();
    let found: Vec<(&str, Option<&str>)> = p
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.vhost.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            ("classic-oslo-messaging", Some("/nova")),
            ("classic-oslo-messaging", Some("glance"))
        ]
    );
    assert!(
        p.warnings[0].starts_with("vhosts[0] (vhost '/nova')"),
        "{}",
        p.warnings[0]
    );
    assert!(p.warnings[0].contains("transient_nonexcl_queues"), "{}", p.warnings[0]);
    for v in ["3.10.8", "4.0.5", "4.2.7"] {
        assert!(plan(&request(&body), &snapshot(v)).unwrap().findings.is_empty(), "{v}");
    }
}

#[test]
fn policy_lint_warnings_are_findings_too() {
    let mut s = snapshot("4.3.6");
    s.vhosts.insert("v".into(), ObservedVhost::default());
    let body =
        json!({"policies": [{"name": "CQv2", "vhost": "v", "pattern": ".*", "definition": {"queue-version": 2}}]});
    let p = plan(&request(&body), &s).unwrap();
    assert_eq!(p.findings.len(), p.warnings.len());
    let f = &p.findings[0];
    assert_eq!(
        (
            f.rule.as_str(),
            f.severity.as_str(),
            f.vhost.as_deref(),
            f.policy.as_deref(),
            f.key.as_deref()
        ),
        (
            "queue-version-inert",
            "inert",
            Some("v"),
            Some("CQv2"),
            Some("queue-version")
        )
    );
    assert_eq!(f.message, p.warnings[0]);
}

/// A 3.10 broker with what an OSA deployment of the 3.x era holds: an `ha-all` policy, OSA's CQv2, a
/// classic `/nova` vhost, a protected-tagged user, and a clean quorum vhost.
fn old_broker() -> RabbitSnapshot {
    use osa_hybrid_msg::observed::{ObservedPolicy, ObservedUser};
    let mut s = snapshot("3.10.8");
    for (name, dqt) in [("/nova", None), ("glance", Some("quorum"))] {
        s.vhosts.insert(
            name.into(),
            ObservedVhost {
                default_queue_type: dqt.map(str::to_owned),
                ..Default::default()
            },
        );
    }
    let pol = |pattern: &str, definition: Value| ObservedPolicy {
        pattern: pattern.into(),
        apply_to: "all".into(),
        priority: 0,
        definition: definition.as_object().unwrap().clone(),
    };
    s.policies.insert(
        ("/nova".into(), "ha-all".into()),
        pol("^(?!amq\\.).*", json!({"ha-mode": "all"})),
    );
    s.policies
        .insert(("glance".into(), "CQv2".into()), pol(".*", json!({"queue-version": 2})));
    s.users.insert(
        "svc".into(),
        ObservedUser {
            tags: vec!["protected".into()],
            ..Default::default()
        },
    );
    s
}

fn precheck(body: &Value, s: &RabbitSnapshot) -> Vec<(String, String, Option<String>)> {
    let p = plan(&request(body), s).unwrap();
    assert!(p.changes.is_empty(), "the pre-check plans no change");
    assert_eq!(p.findings.len(), p.warnings.len());
    p.findings
        .into_iter()
        .map(|f| (f.rule, f.severity, f.vhost.or(f.key)))
        .collect()
}

#[test]
fn upgrade_precheck_lists_what_each_target_refuses_or_warns_about_and_plans_nothing() {
    let s = old_broker();
    let to_4_0 = precheck(&json!({"check_only": "upgrade", "target_version": "4.0"}), &s);
    assert_eq!(
        to_4_0,
        [
            ("ha-removed".into(), "refuse".into(), Some("/nova".into())),
            ("classic-only-on-quorum".into(), "warn".into(), Some("glance".into())),
        ]
    );
    let to_4_3 = precheck(&json!({"check_only": "upgrade", "target_version": "4.3"}), &s);
    assert_eq!(
        to_4_3,
        [
            ("ha-removed".into(), "refuse".into(), Some("/nova".into())),
            ("classic-only-on-quorum".into(), "warn".into(), Some("glance".into())),
            ("classic-oslo-messaging".into(), "warn".into(), Some("/nova".into())),
            ("protected-user-enforced".into(), "warn".into(), Some("svc".into())),
        ]
    );
    let p = plan(&request(&json!({"check_only": "upgrade", "target_version": "4.3"})), &s).unwrap();
    assert!(
        p.warnings[0].starts_with("upgrade to RabbitMQ 4.3: policy 'ha-all' on vhost '/nova'"),
        "{}",
        p.warnings[0]
    );
    // A declared policy takes the place of the broker's copy: fixing ha-all in the play clears the refusal.
    let fixed = json!({"check_only": "upgrade", "target_version": "4.0",
        "policies": [{"name": "ha-all", "vhost": "/nova", "state": "absent"}]});
    assert_eq!(
        precheck(&fixed, &s),
        [("classic-only-on-quorum".into(), "warn".into(), Some("glance".into()))]
    );
    // Refusals on the target are findings, not errors; the same request without check_only fails on 4.x.
    let mut on_4_3 = old_broker();
    on_4_3.version = Some("4.3.6".into());
    let body =
        json!({"policies": [{"name": "ha-all", "vhost": "/nova", "pattern": ".*", "definition": {"ha-mode": "all"}}]});
    assert!(matches!(plan(&request(&body), &on_4_3), Err(Error::Refused { .. })));
}

#[test]
fn upgrade_precheck_options_are_validated() {
    for (body, path, needle) in [
        (json!({"check_only": "upgrade"}), "target_version", "is required"),
        (
            json!({"target_version": "4.3"}),
            "target_version",
            "set check_only: upgrade",
        ),
        (
            json!({"check_only": "upgrade", "target_version": "four"}),
            "target_version",
            "major.minor",
        ),
        (
            json!({"check_only": "upgrade", "target_version": "4.3", "topics": [{"name": "t"}]}),
            "check_only",
            "Kafka",
        ),
        (
            json!({"check_only": "upgrade", "target_version": "4.3", "verify": true}),
            "verify",
            "no probes",
        ),
    ] {
        match osa_hybrid_msg::spec::Request::from_json(&body.to_string()) {
            Err(Error::Spec { path: p, message }) => {
                assert_eq!(p, path, "{body}");
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("{body}: expected a spec error, got {other:?}"),
        }
    }
    let r = request(&json!({"check_only": "upgrade", "target_version": "4.3"}));
    assert!(r.has_rabbitmq_objects() && r.upgrade_target() == Some((4, 3, 0)));
}

#[test]
fn upgrade_precheck_reports_protection_refusals_as_findings() {
    let mut s = old_broker();
    s.vhosts.insert("keep".into(), ObservedVhost::default());
    s.deletion_protected.insert("keep".into());
    let body = json!({"check_only": "upgrade", "target_version": "4.0",
        "vhosts": [{"name": "keep", "state": "absent"}, {"name": "glance", "protected": true}]});
    let found = precheck(&body, &s);
    assert!(
        found.contains(&("vhost-deletion-protected".into(), "refuse".into(), Some("keep".into()))),
        "{found:?}"
    );
    assert!(
        found.contains(&(
            "deletion-protection-unsupported".into(),
            "refuse".into(),
            Some("glance".into())
        )),
        "{found:?}"
    );
    let body = json!({"check_only": "upgrade", "target_version": "4.3",
        "vhosts": [{"name": "keep", "state": "absent", "protected": false}, {"name": "glance", "protected": true}]});
    assert!(
        !precheck(&body, &s)
            .iter()
            .any(|(r, _, _)| r == "vhost-deletion-protected" || r == "deletion-protection-unsupported")
    );
}
