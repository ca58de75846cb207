//! The policy-key rules, as data: which key (or key prefix, or key with one value) a rule concerns, the
//! broker versions it holds for, which policy targets it concerns, and its verdict. `policy_lint.rs`
//! evaluates them; README ("Policy lint") and the module's DOCUMENTATION list them with the same ids.
//! The 400s quoted below were observed on RabbitMQ 3.10.8, 4.0.5 and 4.3.6; each rule is exercised on those brokers
//! by tests/python/test_module_rabbitmq_lint.py and the policy-lint tests of test_module_rabbitmq.py.

/// (major, minor, patch).
pub type Version = (u32, u32, u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The broker refuses the key (HTTP 400) or it cannot mean what it says: fail before any write.
    Refuse,
    /// Accepted, but not by the queues the policy targets: a warning.
    Warn,
    /// Accepted, and does nothing on this version: a warning.
    Inert,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Refuse => "refuse",
            Verdict::Warn => "warn",
            Verdict::Inert => "inert",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Keys {
    Exact(&'static str),
    Prefix(&'static str),
}

impl Keys {
    pub fn matches(self, key: &str) -> bool {
        match self {
            Keys::Exact(k) => key == k,
            Keys::Prefix(p) => key.starts_with(p),
        }
    }
}

/// Which policies a rule concerns, by the queues they reach (`policy_lint::Reach`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerns {
    /// Every policy carrying the key.
    Any,
    /// Policies that certainly reach quorum queues.
    Quorum,
    /// Policies that reach classic queues only.
    ClassicOnly,
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub keys: Keys,
    /// Only when the key has this string value.
    pub value: Option<&'static str>,
    /// Holds on brokers at or above `from` and below `until`.
    pub from: Version,
    pub until: Option<Version>,
    pub concerns: Concerns,
    pub verdict: Verdict,
    /// What happens, after "<key> ".
    pub why: &'static str,
    /// What to do instead.
    pub fix: &'static str,
    /// The RabbitMQ version whose behaviour the rule describes.
    pub since: &'static str,
}

impl Rule {
    /// Whether the rule holds on this broker version; with the version unknown, only rules for every version do.
    pub fn holds_on(&self, version: Option<Version>) -> bool {
        match version {
            Some(v) => v >= self.from && self.until.is_none_or(|u| v < u),
            None => self.from == (0, 0, 0) && self.until.is_none(),
        }
    }
}

/// Keys only classic queues read: on a quorum target they do nothing.
const CLASSIC_ONLY_ON_QUORUM: &str = "is read by classic queues only; quorum queues ignore it";
/// Keys only quorum queues read.
const QUORUM_ONLY_ON_CLASSIC: &str = "is read by quorum queues only; this policy targets classic queues only";

/// In table order; the first rule that fires for a (policy, key) is the only one reported for it, so
/// refusals come first, then target mismatches, then inert keys.
pub const RULES: &[Rule] = &[
    Rule {
        id: "ha-removed",
        keys: Keys::Prefix("ha-"),
        value: None,
        from: (4, 0, 0),
        until: None,
        concerns: Concerns::Any,
        verdict: Verdict::Refuse,
        why: "is refused: classic queue mirroring was removed in RabbitMQ 4.0 (the broker answers 400 \"not recognised policy settings\")",
        fix: "drop the ha-* keys and use quorum queues (default_queue_type: quorum on the vhost)",
        since: "4.0",
    },
    Rule {
        id: "queue-master-locator-denied",
        keys: Keys::Exact("queue-master-locator"),
        value: None,
        from: (4, 3, 0),
        until: None,
        concerns: Concerns::Any,
        verdict: Verdict::Refuse,
        why: "is refused: it is a deprecated feature that RabbitMQ 4.3 denies by default (400 \"use of deprecated queue-master-locator argument is not permitted\")",
        fix: "use queue-leader-locator (client-local or balanced) instead",
        since: "4.3",
    },
    Rule {
        id: "max-priority-not-a-policy-key",
        keys: Keys::Exact("max-priority"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::Any,
        verdict: Verdict::Refuse,
        why: "is refused: no RabbitMQ version accepts it in a policy (400 \"not recognised policy settings\")",
        fix: "set the x-max-priority argument where the queue is declared",
        since: "all",
    },
    Rule {
        id: "target-group-size-unknown",
        keys: Keys::Exact("target-group-size"),
        value: None,
        from: (0, 0, 0),
        until: Some((3, 12, 0)),
        concerns: Concerns::Any,
        verdict: Verdict::Refuse,
        why: "is refused: quorum queue membership reconciliation arrived in RabbitMQ 3.12 and older brokers answer 400 \"not recognised policy settings\"",
        fix: "drop the key, or upgrade to 3.12 or later",
        since: "3.12",
    },
    Rule {
        id: "queue-master-locator-deprecated",
        keys: Keys::Exact("queue-master-locator"),
        value: None,
        from: (4, 0, 0),
        until: Some((4, 3, 0)),
        concerns: Concerns::Any,
        verdict: Verdict::Warn,
        why: "is a deprecated feature: accepted here, refused by RabbitMQ 4.3",
        fix: "use queue-leader-locator (client-local or balanced) instead",
        since: "4.0",
    },
    Rule {
        id: "ha-on-quorum",
        keys: Keys::Prefix("ha-"),
        value: None,
        from: (0, 0, 0),
        until: Some((4, 0, 0)),
        concerns: Concerns::Quorum,
        verdict: Verdict::Warn,
        why: CLASSIC_ONLY_ON_QUORUM,
        fix: "drop the ha-* keys: quorum queues are replicated by themselves (and RabbitMQ 4.0 refuses ha-*)",
        since: "3.8",
    },
    Rule {
        id: "classic-only-on-quorum",
        keys: Keys::Exact("queue-mode"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::Quorum,
        verdict: Verdict::Warn,
        why: CLASSIC_ONLY_ON_QUORUM,
        fix: "drop the key, or apply the policy to classic_queues",
        since: "3.8",
    },
    Rule {
        id: "classic-only-on-quorum",
        keys: Keys::Exact("queue-version"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::Quorum,
        verdict: Verdict::Warn,
        why: CLASSIC_ONLY_ON_QUORUM,
        fix: "drop the key, or apply the policy to classic_queues",
        since: "3.10",
    },
    Rule {
        id: "classic-only-on-quorum",
        keys: Keys::Exact("queue-master-locator"),
        value: None,
        from: (0, 0, 0),
        until: Some((4, 0, 0)),
        concerns: Concerns::Quorum,
        verdict: Verdict::Warn,
        why: CLASSIC_ONLY_ON_QUORUM,
        fix: "use queue-leader-locator, which quorum queues read",
        since: "3.8",
    },
    Rule {
        id: "reject-publish-dlx-on-quorum",
        keys: Keys::Exact("overflow"),
        value: Some("reject-publish-dlx"),
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::Quorum,
        verdict: Verdict::Warn,
        why: "= reject-publish-dlx is a classic queue overflow mode; quorum queues support only drop-head and reject-publish",
        fix: "use overflow: reject-publish (or drop-head)",
        since: "3.8",
    },
    Rule {
        id: "quorum-only-on-classic",
        keys: Keys::Exact("delivery-limit"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::ClassicOnly,
        verdict: Verdict::Warn,
        why: QUORUM_ONLY_ON_CLASSIC,
        fix: "drop the key, or apply the policy to quorum_queues",
        since: "3.8",
    },
    Rule {
        id: "quorum-only-on-classic",
        keys: Keys::Exact("dead-letter-strategy"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::ClassicOnly,
        verdict: Verdict::Warn,
        why: QUORUM_ONLY_ON_CLASSIC,
        fix: "drop the key, or apply the policy to quorum_queues",
        since: "3.10",
    },
    Rule {
        id: "quorum-only-on-classic",
        keys: Keys::Prefix("max-in-memory-"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::ClassicOnly,
        verdict: Verdict::Warn,
        why: QUORUM_ONLY_ON_CLASSIC,
        fix: "drop the key",
        since: "3.8",
    },
    Rule {
        id: "quorum-only-on-classic",
        keys: Keys::Exact("target-group-size"),
        value: None,
        from: (0, 0, 0),
        until: None,
        concerns: Concerns::ClassicOnly,
        verdict: Verdict::Warn,
        why: QUORUM_ONLY_ON_CLASSIC,
        fix: "drop the key, or apply the policy to quorum_queues",
        since: "3.12",
    },
    Rule {
        id: "max-in-memory-inert",
        keys: Keys::Prefix("max-in-memory-"),
        value: None,
        from: (3, 10, 0),
        until: None,
        concerns: Concerns::Quorum,
        verdict: Verdict::Inert,
        why: "has no effect: quorum queues keep message bodies on disk since RabbitMQ 3.10",
        fix: "drop the key; limit the queue with max-length or max-length-bytes",
        since: "3.10",
    },
    Rule {
        id: "queue-version-inert",
        keys: Keys::Exact("queue-version"),
        value: None,
        from: (4, 0, 0),
        until: None,
        concerns: Concerns::Any,
        verdict: Verdict::Inert,
        why: "has no effect: RabbitMQ 4.x has only classic queue version 2",
        fix: "drop the key (OSA's CQv2 policy is not needed on 4.x)",
        since: "4.0",
    },
    Rule {
        id: "queue-mode-inert",
        keys: Keys::Exact("queue-mode"),
        value: None,
        from: (3, 12, 0),
        until: None,
        concerns: Concerns::Any,
        verdict: Verdict::Inert,
        why: "has no effect: classic queues behave as lazy ones since RabbitMQ 3.12",
        fix: "drop the key",
        since: "3.12",
    },
];
