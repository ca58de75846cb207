//! Which secrets occur in a module's output at all, for the Python side's `no_log` masking.
//!
//! AnsibleModule masks its output by trying every `no_log` value on every string of it (`str.replace`
//! per pair): 7,000 changes against 2,000 secrets took 6.9 s of a 1,000-service converge. One
//! multi-pattern search over the strings names the few secrets that occur; masking with those alone
//! gives the same output (plugins/module_utils/runner.py, `narrow_no_log_to_output`).

use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// The indexes into `secrets` of those that occur in some text, ascending. An empty secret occurs in
/// every text (as Python's `'' in text` says), so it is reported when there is any text.
#[must_use]
pub fn secrets_in(texts: &[&str], secrets: &[&str]) -> Vec<usize> {
    let mut found: Vec<bool> = secrets.iter().map(|s| s.is_empty() && !texts.is_empty()).collect();
    let nonempty: Vec<usize> = (0..secrets.len()).filter(|&i| !secrets[i].is_empty()).collect();
    // Overlapping search: a secret inside another (or overlapping it) must be found too, whichever
    // would win a leftmost match. The noncontiguous NFA builds and searches in time linear in the
    // patterns and the text; the DFA the crate picks for few patterns took time quadratic in a
    // periodic secret's length to build (a 1 MiB "xxx..." password: about half an hour, extrapolated
    // from 16 KiB). Building cannot fail for plain string patterns within the size limits; should it,
    // every secret is reported, which masks as AnsibleModule would alone.
    let built = AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::NoncontiguousNFA))
        .build(nonempty.iter().map(|&i| secrets[i]));
    let Ok(ac) = built else {
        return (0..secrets.len()).collect();
    };
    // Every occurrence is one step of the search, and secrets inside secrets can make many per byte
    // ("x", "xx", ... against "xxxx..."): the search stops once each secret is found, and gives up,
    // reporting every secret, after a few steps per byte of text.
    let budget = texts
        .iter()
        .map(|t| t.len())
        .sum::<usize>()
        .saturating_mul(4)
        .saturating_add(1 << 20);
    let (mut steps, mut missing) = (0usize, nonempty.len());
    'texts: for text in texts {
        if missing == 0 {
            break;
        }
        for m in ac.find_overlapping_iter(text) {
            steps += 1;
            if steps > budget {
                return (0..secrets.len()).collect();
            }
            let i = nonempty[m.pattern().as_usize()];
            if !found[i] {
                found[i] = true;
                missing -= 1;
                if missing == 0 {
                    break 'texts;
                }
            }
        }
    }
    (0..secrets.len()).filter(|&i| found[i]).collect()
}
