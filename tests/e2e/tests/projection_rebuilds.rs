//! Change detection end to end, through build.rs, the attribute and the
//! engine: `changes/before` is a crate of projections spread over modules
//! and files, `changes/after` the same crate after one edit per case. Both
//! are compiled by this package (as the binaries `changes_before` and
//! `changes_after`, at the same module paths), so the analysis build.rs
//! runs covers them as it covers any user's crate.
//!
//! The test runs the old build over a SQLite file, asks the new build for
//! its plan, then starts it: exactly the projections whose code changed
//! rebuild, the plan says so beforehand and names the items that changed,
//! and the rebuilt views follow the new code. (A dependency's version,
//! which both builds share here, is covered in
//! `fingerprint/tests/analysis.rs` and by the plan's own tests.)

use std::collections::BTreeMap;
use std::process::Command;

/// Runs one of the two builds and returns its stdout lines, split at tabs.
fn run(build: &str, args: &[&str]) -> Vec<Vec<String>> {
    let program = match build {
        "before" => env!("CARGO_BIN_EXE_changes_before"),
        _ => env!("CARGO_BIN_EXE_changes_after"),
    };
    let output = Command::new(program).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "changes_{build} {args:?} failed:\n{stderr}");
    // The plan's table, shown when an assertion below fails.
    eprintln!("changes_{build} {args:?}:\n{stderr}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect()
}

/// `plan` output: projection name to (action, expected, changed items).
fn plan(build: &str, db: &str) -> BTreeMap<String, (String, String, Vec<String>)> {
    run(build, &["plan", db])
        .into_iter()
        .map(|line| {
            let changes = line[3]
                .split('|')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            (line[0].clone(), (line[1].clone(), line[2].clone(), changes))
        })
        .collect()
}

/// `run` output: how each projection started, and the views' counts.
fn start(build: &str, db: &str) -> (BTreeMap<String, String>, BTreeMap<String, u64>) {
    let mut started = BTreeMap::new();
    let mut counts = BTreeMap::new();
    for line in run(build, &["run", db]) {
        if line[0] == "view" {
            counts.insert(line[1].clone(), line[2].parse().unwrap());
        } else {
            started.insert(line[1].clone(), line[0].clone());
        }
    }
    (started, counts)
}

const ALL: [&str; 9] = [
    "changes.comment",
    "changes.constant",
    "changes.deep",
    "changes.fields",
    "changes.format",
    "changes.helper_body",
    "changes.untouched",
    "changes.upcast",
    "changes.view_method",
];

/// The projections that must rebuild, with the items the plan must name.
const REBUILT: [(&str, &[&str]); 6] = [
    ("changes.constant", &["Changed const crate::app::pricing::BONUS"]),
    ("changes.deep", &["Changed fn crate::app::pricing::scale"]),
    ("changes.fields", &["Changed struct Fields"]),
    ("changes.helper_body", &["Changed fn crate::app::pricing::weight"]),
    (
        "changes.upcast",
        &[
            "Changed fn crate::app::ledger::<ledger::Noted as From<ledger::NotedV1>>::from",
            "Changed upcast of Noted: fn crate::app::ledger::<ledger::Noted as From<ledger::NotedV1>>::from",
        ],
    ),
    ("changes.view_method", &["Changed fn crate::app::views::Counter::bump"]),
];

#[test]
fn exactly_the_projections_whose_code_changed_rebuild_and_the_plan_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let db = db.to_str().unwrap();

    // The old build: every projection is new.
    let (started, counts) = start("before", db);
    assert!(started.values().all(|how| how == "rebuilt"), "{started:?}");
    assert_eq!(started.len(), ALL.len());
    let old_counts = counts;
    assert_eq!(old_counts["changes.helper_body"], 3);
    assert_eq!(old_counts["changes.upcast"], 2 + 3);
    // Started again, nothing changes; the rates of the first start give
    // each projection an expected time.
    let unchanged = plan("before", db);
    for (name, (action, expected, _)) in &unchanged {
        assert_eq!(action, "up_to_date", "{name}");
        assert_ne!(expected, "unknown", "{name}");
    }

    // The new build's plan, before it starts.
    let planned = plan("after", db);
    assert_eq!(planned.keys().map(String::as_str).collect::<Vec<_>>(), ALL);
    for (name, (action, expected, changes)) in &planned {
        match REBUILT.iter().find(|(rebuilt, _)| rebuilt == name) {
            Some((_, named)) => {
                assert_eq!(action, "rebuild", "{name}");
                assert_ne!(expected, "unknown", "{name}: the rate of the last rebuild is known");
                assert_eq!(changes, named, "{name}: the items the plan names");
            }
            None => assert_eq!(action, "up_to_date", "{name}: {changes:?}"),
        }
    }

    // The start does what the plan said.
    let (started, counts) = start("after", db);
    for name in ALL {
        let expected = if REBUILT.iter().any(|(rebuilt, _)| *rebuilt == name) {
            "rebuilt"
        } else {
            "up_to_date"
        };
        assert_eq!(started[name], expected, "{name}");
    }
    // The rebuilt views follow the new code.
    assert_eq!(counts["changes.helper_body"], 3 * 2);
    assert_eq!(counts["changes.deep"], 3 * 3);
    assert_eq!(counts["changes.view_method"], 3 * 2);
    assert_eq!(counts["changes.constant"], 3 * 5);
    assert_eq!(counts["changes.upcast"], 2 + (3 + 1));
    assert_eq!(counts["changes.fields"], 3);
    for name in ["changes.comment", "changes.format", "changes.untouched"] {
        assert_eq!(counts[name], old_counts[name], "{name}");
    }

    // And then it is up to date.
    for (name, (action, _, _)) in plan("after", db) {
        assert_eq!(action, "up_to_date", "{name}");
    }
}
