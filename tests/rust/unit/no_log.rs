//! The secret search behind the module's no_log masking (src/no_log.rs): the inputs that are slow for a
//! general automaton. Exactness on ordinary inputs is the property test's (tests/rust/proptests).

use osa_hybrid_msg::no_log::secrets_in;

#[test]
fn a_huge_periodic_secret_is_found_in_itself_and_not_elsewhere() {
    // A 1 MiB "xxx..." password, as the hostile-input tests send: once quadratic to build.
    let huge = "x".repeat(1 << 20);
    let half = "xy".repeat(1 << 18);
    let texts = [huge.as_str(), "changed: vhost nova", half.as_str()];
    let secrets = [huge.as_str(), "nova", "neutron", half.as_str(), "xyx", ""];

    assert_eq!(secrets_in(&texts, &secrets), vec![0, 1, 3, 4, 5]);
}

#[test]
fn an_empty_secret_is_in_any_text_and_nothing_is_in_no_text() {
    assert_eq!(secrets_in(&[""], &["", "a"]), vec![0]);
    assert_eq!(secrets_in(&[], &["", "a"]), Vec::<usize>::new());
}

#[test]
fn the_search_stops_once_every_secret_is_found() {
    // Nested secrets against a long run of their letter: ~3e7 occurrences in all, but every secret
    // occurs in the first 300 bytes.
    let nested: Vec<String> = (1..=300).map(|n| "x".repeat(n)).collect();
    let refs: Vec<&str> = nested.iter().map(String::as_str).collect();
    let text = "x".repeat(100_000);

    assert_eq!(secrets_in(&[text.as_str()], &refs), (0..300).collect::<Vec<_>>());
}

#[test]
fn too_many_occurrences_report_every_secret_which_masks_as_ansible_alone_would() {
    // As above plus one secret that never occurs: the search cannot stop early, and after its budget
    // (a few steps per byte) it reports all of them, "y" included: a superset masks the same.
    let mut nested: Vec<String> = (1..=300).map(|n| "x".repeat(n)).collect();
    nested.push("y".to_owned());
    let refs: Vec<&str> = nested.iter().map(String::as_str).collect();
    let text = "x".repeat(100_000);

    assert_eq!(secrets_in(&[text.as_str()], &refs), (0..301).collect::<Vec<_>>());
}
