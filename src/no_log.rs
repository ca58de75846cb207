//! Which secrets occur in a module's output at all, for the Python side's `no_log` masking.
//!
//! AnsibleModule masks its output by trying every `no_log` value on every string of it (`str.replace`
//! per pair): 7,000 changes against 2,000 secrets took 6.9 s of a 1,000-service converge. One
//! multi-pattern search over the strings names the few secrets that occur; masking with those alone
//! gives the same output (plugins/module_utils/runner.py, `narrow_no_log_to_output`).

use aho_corasick::AhoCorasick;

/// The indexes into `secrets` of those that occur in some text, ascending. An empty secret occurs in
/// every text (as Python's `'' in text` says), so it is reported when there is any text.
#[must_use]
pub fn secrets_in(texts: &[&str], secrets: &[&str]) -> Vec<usize> {
    let mut found = vec![false; secrets.len()];
    let nonempty: Vec<usize> = (0..secrets.len()).filter(|&i| !secrets[i].is_empty()).collect();
    if !texts.is_empty() {
        for (i, s) in secrets.iter().enumerate() {
            if s.is_empty() {
                found[i] = true;
            }
        }
    }
    // Overlapping search: a secret inside another (or overlapping it) must be found too, whichever
    // would win a leftmost match. Building the automaton cannot fail for plain string patterns within
    // its size limits; should it, every secret is reported, which masks as AnsibleModule would alone.
    match AhoCorasick::new(nonempty.iter().map(|&i| secrets[i])) {
        Ok(ac) => {
            for text in texts {
                for m in ac.find_overlapping_iter(text) {
                    found[nonempty[m.pattern().as_usize()]] = true;
                }
            }
        }
        Err(_) => found.iter_mut().for_each(|f| *f = true),
    }
    (0..secrets.len()).filter(|&i| found[i]).collect()
}
