//! What the lint says of a case of `tests/lint/`: the mode it is linted
//! in and the rule ids its `expected.txt` lists, for the tests that check
//! another part of Treaty gives the same answer.

use std::path::Path;

use treaty_compat::{Mode, Rule, Severity};

/// The mode case `case` is linted in (its `after/treaty.toml`, `full`
/// by default) and the ids of every finding its `expected.txt` lists,
/// errors and warnings, in order.
pub fn lint_expectation(case: &str) -> (Mode, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lint").join(case);
    let config = std::fs::read_to_string(dir.join("after/treaty.toml")).unwrap_or_default();
    let mode = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("mode = "))
        .map_or(Mode::Full, |name| {
            Mode::from_name(name.trim_matches('"')).unwrap_or_else(|| panic!("{case}: mode {name}"))
        });
    let expected = std::fs::read_to_string(dir.join("expected.txt")).expect("the case has expected.txt");
    let ids = expected
        .lines()
        .filter_map(|l| {
            l.split_once('[')
                .filter(|(severity, _)| ["error", "warning"].contains(severity))
        })
        .map(|(_, rest)| rest.split(']').next().expect("a closed bracket").to_string())
        .collect();
    (mode, ids)
}

/// The ids among `ids` of rules that break a reader: what refuses.
pub fn errors(ids: Vec<String>) -> Vec<String> {
    ids.into_iter()
        .filter(|id| Rule::from_id(id).is_some_and(|r| r.severity() == Severity::Error))
        .collect()
}
