//! Whether two policy patterns can match the same queue or exchange name, decided by a witness: a name
//! built from the patterns themselves and then checked against both. A witness is proof, so an overlap
//! warning is never a false alarm; a pair we find no witness for may still overlap (lookarounds,
//! backreferences, classes whose first members clash), and is not reported. We prefer a missed warning
//! to a warning the operator cannot act on.
//!
//! Candidates: a short name each pattern matches (from its syntax tree: literals kept, a class gives one
//! of its members, a repetition its minimum count, an alternation each branch), and the two names
//! joined either way, which an unanchored pattern still finds inside. RabbitMQ matches with Erlang's
//! PCRE, unanchored; the check uses fancy-regex, which agrees on the syntax `spec::check_regex` accepts.

use regex_syntax::hir::{Class, Hir, HirKind};

/// Enough candidates for OSA's patterns (`.*`, `^notifications\.`, `^(?!amq\.).*`, alternations of a few names).
const CAP: usize = 24;
/// The longest sample kept; longer ones would only be names no broker accepts (RabbitMQ allows 255 bytes).
const MAX_SAMPLE_LEN: usize = 1024;

/// A name both patterns match, if one can be built; `None` when either is not a valid pattern.
pub fn witness(a: &str, b: &str) -> Option<String> {
    let (ra, rb) = (fancy_regex::Regex::new(a).ok()?, fancy_regex::Regex::new(b).ok()?);
    let (ca, cb) = (samples_of(a), samples_of(b));
    let both = |s: &str| !s.is_empty() && ra.is_match(s).unwrap_or(false) && rb.is_match(s).unwrap_or(false);
    let joined = ca.iter().take(8).flat_map(|x| {
        cb.iter()
            .take(8)
            .flat_map(move |y| [format!("{x}{y}"), format!("{y}{x}")])
    });
    ca.iter().chain(cb.iter()).cloned().chain(joined).find(|s| both(s))
}

/// Names the pattern matches (without lookarounds, which the HIR parser refuses: then just "x", tried anyway).
fn samples_of(pattern: &str) -> Vec<String> {
    match regex_syntax::Parser::new().parse(pattern) {
        Ok(hir) => samples(&hir),
        Err(_) => vec!["x".to_owned()],
    }
}

fn samples(hir: &Hir) -> Vec<String> {
    let mut out = match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => vec![String::new()],
        HirKind::Literal(lit) => vec![String::from_utf8_lossy(&lit.0).into_owned()],
        HirKind::Class(Class::Unicode(class)) => {
            // A readable member when there is one, so the witness in a warning looks like a name.
            let preferred = ['a', 'n', 'x', '0', '.', '_', '-'];
            let mut picks: Vec<String> = preferred
                .iter()
                .filter(|c| class.ranges().iter().any(|r| r.start() <= **c && **c <= r.end()))
                .take(2)
                .map(ToString::to_string)
                .collect();
            if picks.is_empty()
                && let Some(r) = class.ranges().first()
            {
                picks.push(r.start().to_string());
            }
            picks
        }
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .first()
            .map(|r| vec![char::from(r.start()).to_string()])
            .unwrap_or_default(),
        HirKind::Repetition(rep) => {
            let sub = samples(&rep.sub);
            let min = usize::try_from(rep.min.min(64)).unwrap_or(64);
            // Nested counted repetitions multiply (`((a{64}){64}){64}`); a sample longer than any name is dropped.
            let mut v: Vec<String> = sub
                .iter()
                .filter(|s| s.len().saturating_mul(min) <= MAX_SAMPLE_LEN)
                .map(|s| s.repeat(min))
                .collect();
            if min == 0 && rep.max != Some(0) {
                v.extend(sub.into_iter().filter(|s| !s.is_empty()));
            }
            v
        }
        HirKind::Capture(cap) => samples(&cap.sub),
        HirKind::Concat(parts) => parts.iter().fold(vec![String::new()], |acc, part| {
            let next = samples(part);
            acc.iter()
                .flat_map(|a| next.iter().map(move |n| format!("{a}{n}")))
                .filter(|s| s.len() <= MAX_SAMPLE_LEN)
                .take(CAP)
                .collect()
        }),
        HirKind::Alternation(branches) => branches.iter().flat_map(samples).take(CAP).collect(),
    };
    out.dedup();
    out.truncate(CAP);
    out
}

#[cfg(test)]
mod tests {
    use super::witness;

    #[test]
    fn overlapping_patterns_have_a_witness_both_match() {
        for (a, b) in [
            (".*", "^notifications\\."),
            ("^notifications\\.", "\\.info$"),
            ("^(nova|cinder)\\.", "^cinder"),
            ("^q[0-9]+$", "^q1"),
            ("", "^x"),
        ] {
            let w = witness(a, b).unwrap_or_else(|| panic!("{a} / {b}: no witness"));
            let (ra, rb) = (fancy_regex::Regex::new(a).unwrap(), fancy_regex::Regex::new(b).unwrap());
            assert!(ra.is_match(&w).unwrap() && rb.is_match(&w).unwrap(), "{a} / {b}: {w}");
        }
    }

    #[test]
    fn disjoint_anchored_patterns_have_none() {
        for (a, b) in [
            ("^nova\\.", "^cinder\\."),
            ("^a$", "^b$"),
            ("^notifications\\.", "^reply_"),
        ] {
            assert_eq!(witness(a, b), None, "{a} / {b}");
        }
    }

    #[test]
    fn an_invalid_pattern_has_no_witness() {
        assert_eq!(witness("(", ".*"), None);
    }
}
