//! Policy lint: the key rules of `policy_rules.rs` on each policy, and the pairwise checks RabbitMQ's own
//! validation cannot make, because at most one policy applies to a queue or exchange (the highest
//! priority; among equals, an undefined one): two equal-priority policies that can match one name, and
//! a higher-priority policy that hides keys of a lower one. Pure: the planner passes the declared
//! policies and the broker's existing ones in the same vhosts.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::pattern_overlap::witness;
use super::policy_rules::{Concerns, RULES, Verdict, Version};
use crate::observed::{ObservedPolicy, normalize_definition};
use crate::spec::PolicySpec;

/// One policy as the lint sees it, declared (`declared`) or found on the broker (`observed`).
#[derive(Debug, Clone)]
pub struct LintPolicy<'a> {
    pub vhost: &'a str,
    pub name: &'a str,
    pub pattern: &'a str,
    pub apply_to: &'a str,
    pub priority: i64,
    /// Normalized as the broker stores it, so that a declared and an observed policy compare alike.
    pub definition: Cow<'a, Map<String, Value>>,
    /// The vhost's default queue type, when known: with `quorum`, a `queues`/`all` policy reaches quorum queues.
    pub default_queue_type: Option<&'a str>,
    /// The request path (`policies[3]`) of a declared policy; `None` for one only on the broker.
    pub path: Option<String>,
}

/// Which queues a policy reaches, as far as the lint can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Quorum,
    Classic,
    Streams,
    Exchanges,
    /// `queues` or `all` on a vhost whose queues may be of any type.
    Mixed,
}

impl<'a> LintPolicy<'a> {
    /// A declared policy, at request path `path` (`policies[3]`), with the defaults the plan writes.
    pub fn declared(spec: &'a PolicySpec, path: String, default_queue_type: Option<&'a str>) -> Self {
        LintPolicy {
            vhost: &spec.vhost,
            name: &spec.name,
            pattern: spec.pattern.as_deref().unwrap_or_default(),
            apply_to: spec.apply_to().as_str(),
            priority: spec.priority(),
            definition: Cow::Owned(normalize_definition(spec.definition.as_ref().unwrap_or(&Map::new()))),
            default_queue_type,
            path: Some(path),
        }
    }

    /// A policy read from the broker, not declared in this request.
    pub fn observed(
        vhost: &'a str,
        name: &'a str,
        policy: &'a ObservedPolicy,
        default_queue_type: Option<&'a str>,
    ) -> Self {
        LintPolicy {
            vhost,
            name,
            pattern: &policy.pattern,
            apply_to: &policy.apply_to,
            priority: policy.priority,
            definition: Cow::Borrowed(&policy.definition),
            default_queue_type,
            path: None,
        }
    }

    fn reach(&self) -> Reach {
        match self.apply_to {
            "quorum_queues" => Reach::Quorum,
            "classic_queues" => Reach::Classic,
            "streams" => Reach::Streams,
            "exchanges" => Reach::Exchanges,
            // Queues declared without x-queue-type get the vhost's default type; oslo.messaging declares
            // quorum queues explicitly when it uses them, so a quorum default is the certain case.
            _ if self.default_queue_type == Some("quorum") => Reach::Quorum,
            _ => Reach::Mixed,
        }
    }

    /// The kinds of object the policy can apply to: exchanges, classic, quorum, stream queues.
    fn objects(&self) -> u8 {
        match self.apply_to {
            "exchanges" => 0b0001,
            "classic_queues" => 0b0010,
            "quorum_queues" => 0b0100,
            "streams" => 0b1000,
            "queues" => 0b1110,
            _ => 0b1111,
        }
    }

    fn label(&self) -> String {
        match &self.path {
            Some(p) => format!("{p} (policy '{}' on vhost '{}')", self.name, self.vhost),
            None => format!(
                "policy '{}' on vhost '{}' (on the broker, not declared)",
                self.name, self.vhost
            ),
        }
    }
}

/// One finding; `message` names the policy, the key or the other policy, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub verdict: &'static str,
    pub vhost: String,
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The request path to fix, for a declared policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub message: String,
    /// `message` without its leading request path, for an error that carries the path apart.
    #[serde(skip)]
    pub detail: String,
    /// The RabbitMQ version that introduced the behaviour.
    pub since: &'static str,
}

impl Finding {
    pub fn is_refusal(&self) -> bool {
        self.verdict == Verdict::Refuse.as_str()
    }

    /// The finding as the run result lists it, its message after `prefix`.
    pub fn to_result(&self, prefix: &str) -> crate::result::Finding {
        crate::result::Finding {
            rule: self.rule.to_owned(),
            severity: self.verdict.to_owned(),
            vhost: Some(self.vhost.clone()),
            policy: Some(self.policy.clone()),
            key: self.key.clone(),
            message: format!("{prefix}{}", self.message),
        }
    }
}

/// The findings for `policies` on a broker of `version`. With `declared_only`, key rules run on declared
/// policies and pairs need one declared side: the run lints what it is asked to write, not the whole broker.
pub fn lint(policies: &[LintPolicy<'_>], version: Option<Version>, declared_only: bool) -> Vec<Finding> {
    let version_text = version.map_or_else(|| "of unknown version".to_owned(), |(a, b, c)| format!("{a}.{b}.{c}"));
    let mut out = Vec::new();
    for p in policies.iter().filter(|p| !declared_only || p.path.is_some()) {
        key_findings(p, version, &version_text, &mut out);
    }
    // Pairs meet only within a vhost: group first (1,000 services' 2,000 policies made 2 million pairs),
    // then visit the pairs in the order of the whole list, so the findings keep their order.
    let mut by_vhost: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in policies.iter().enumerate() {
        by_vhost.entry(p.vhost).or_default().push(i);
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for group in by_vhost.values() {
        for (k, &i) in group.iter().enumerate() {
            pairs.extend(group[k + 1..].iter().map(|&j| (i, j)));
        }
    }
    pairs.sort_unstable();
    // Every service declares the same few patterns: build each pair's witness once (it compiles both
    // patterns), not once per vhost; at N = 1,000 that was most of the plan's time.
    let mut witnesses: HashMap<(&str, &str), Option<String>> = HashMap::new();
    for (i, j) in pairs {
        let (a, b) = (&policies[i], &policies[j]);
        if a.objects() & b.objects() == 0 {
            continue;
        }
        if declared_only && a.path.is_none() && b.path.is_none() {
            continue;
        }
        let name = witnesses
            .entry((a.pattern, b.pattern))
            .or_insert_with(|| witness(a.pattern, b.pattern));
        if let Some(name) = name.clone() {
            pair_findings(a, b, &name, &mut out);
        }
    }
    out
}

fn key_findings(p: &LintPolicy<'_>, version: Option<Version>, version_text: &str, out: &mut Vec<Finding>) {
    let reach = p.reach();
    for (key, value) in p.definition.iter() {
        let rule = RULES.iter().find(|r| {
            r.keys.matches(key)
                && r.value.is_none_or(|want| value.as_str() == Some(want))
                && r.holds_on(version)
                && match r.concerns {
                    Concerns::Any => true,
                    Concerns::Quorum => reach == Reach::Quorum,
                    Concerns::ClassicOnly => reach == Reach::Classic,
                }
        });
        let Some(rule) = rule else { continue };
        let on = match rule.concerns {
            Concerns::Any => format!("on RabbitMQ {version_text}"),
            Concerns::Quorum if p.apply_to == "quorum_queues" => "on a policy applied to quorum_queues".to_owned(),
            Concerns::Quorum => format!(
                "on a policy applied to {} in a vhost whose default queue type is quorum",
                p.apply_to
            ),
            Concerns::ClassicOnly => "on a policy applied to classic_queues".to_owned(),
        };
        let detail = format!(
            "policy '{}' on vhost '{}': key '{key}' {} {on}; {} (rule {}, RabbitMQ {})",
            p.name, p.vhost, rule.why, rule.fix, rule.id, rule.since
        );
        out.push(Finding {
            rule: rule.id,
            verdict: rule.verdict.as_str(),
            vhost: p.vhost.to_owned(),
            policy: p.name.to_owned(),
            key: Some(key.clone()),
            path: p.path.as_ref().map(|path| format!("{path}.definition.{key}")),
            message: match &p.path {
                Some(path) => format!("{path}.definition.{key}: {detail}"),
                None => format!("{detail} (on the broker, not declared)"),
            },
            detail,
            since: rule.since,
        });
    }
}

/// The findings for two policies of one vhost whose patterns both match `name`.
fn pair_findings(a: &LintPolicy<'_>, b: &LintPolicy<'_>, name: &str, out: &mut Vec<Finding>) {
    let (hi, lo) = if a.priority >= b.priority { (a, b) } else { (b, a) };
    let (rule, message) = if a.priority == b.priority {
        (
            "equal-priority-overlap",
            format!(
                "{} and {} both have priority {} and both match names like '{name}': RabbitMQ applies one of them to such a queue, and which one is undefined; give one a higher priority (carrying the keys it needs from the other) or make the patterns disjoint (rule equal-priority-overlap, RabbitMQ 3.0)",
                a.label(),
                b.label(),
                a.priority
            ),
        )
    } else {
        let lost: Vec<&str> = lo
            .definition
            .keys()
            .filter(|k| !hi.definition.contains_key(*k))
            .map(String::as_str)
            .collect();
        if lost.is_empty() {
            return;
        }
        (
            "shadowed-keys",
            format!(
                "{} (priority {}) takes precedence over {} (priority {}) on names like '{name}', so these keys of the lower one are not applied there: {}; copy them into the higher one or make the patterns disjoint (rule shadowed-keys, RabbitMQ 3.0)",
                hi.label(),
                hi.priority,
                lo.label(),
                lo.priority,
                lost.join(", ")
            ),
        )
    };
    // A pair finding is filed under its declared side (the higher one when both are).
    let declared = if hi.path.is_some() { hi } else { lo };
    out.push(Finding {
        rule,
        verdict: Verdict::Warn.as_str(),
        vhost: a.vhost.to_owned(),
        policy: declared.name.to_owned(),
        key: None,
        path: declared.path.clone(),
        detail: message.clone(),
        message,
        since: "3.0",
    });
}
