//! The breaking-change lint against its corpus: `tests/lint/<case>/`.
//!
//! Each case holds `before/*.treaty` (the baseline), `after/*.treaty` (the
//! change) and `expected.txt`, one line per finding:
//!
//! ```text
//! error[field-removed] shop.OrderPlaced v1 `note` @ after/shop.treaty:4:1: message
//! ```
//!
//! Lines starting with `#` describe the case and are kept when blessing.
//! `after/treaty.toml` sets the mode, transitivity and style checks as it
//! would for `treaty lint`; style checks run as in CI (off unless enabled
//! there). Cases named `ok-*` are the changes that must never raise a
//! finding, and the test insists their expectation stays empty.
//!
//! After a deliberate change, rewrite every `expected.txt` with
//! `TREATY_BLESS=1 cargo test -p treaty-lint --test lint_corpus` and
//! review the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use treaty_dsl::{compile, contracts, Config, Sources};
use treaty_lint::{LintConfig, Mode, Options, Places, Report, Rule};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/lint")
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the corpus directory exists")
        .map(|e| e.expect("readable corpus").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn load(dir: &Path) -> Sources {
    let mut sources = Sources::new();
    sources.load(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    sources
}

/// Runs the lint on one case and prints the findings the way
/// `expected.txt` lists them.
fn run(case: &Path) -> String {
    let before = load(&case.join("before"));
    let old = compile(&before, &Config::default())
        .unwrap_or_else(|d| panic!("{}: before does not compile:\n{d}", case.display()));
    let after = load(&case.join("after"));
    let new = compile(&after, &Config::default())
        .unwrap_or_else(|d| panic!("{}: after does not compile:\n{d}", case.display()));
    let config = match std::fs::read_to_string(case.join("after/treaty.toml")) {
        Ok(text) => LintConfig::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", case.display())),
        Err(_) => LintConfig::default(),
    };
    let options = Options {
        mode: config.mode.unwrap_or(Mode::Full),
        transitive: config.transitive.unwrap_or(false),
        style: config.style.resolve(true),
    };
    let report = treaty_lint::check(&contracts(&old), &new, &Places::new(&after), &options);
    format_report(&report, &after, case)
}

fn format_report(report: &Report, sources: &Sources, case: &Path) -> String {
    let prefix = format!("{}/", case.display());
    let mut out = String::new();
    for f in &report.findings {
        let severity = match f.severity {
            treaty_dsl::Severity::Error => "error",
            treaty_dsl::Severity::Warning => "warning",
        };
        out.push_str(&format!("{severity}[{}] {}", f.rule, f.contract));
        if let Some(v) = f.version {
            out.push_str(&format!(" v{v}"));
        }
        if let Some(field) = &f.field {
            out.push_str(&format!(" `{field}`"));
        }
        match f.location(sources) {
            Some(at) => out.push_str(&format!(
                " @ {}:{}:{}",
                at.file.strip_prefix(&prefix).unwrap_or(&at.file),
                at.line,
                at.column
            )),
            None => out.push_str(" @ -"),
        }
        out.push_str(&format!(": {}\n", f.message));
    }
    out
}

/// The `#` lines of an expectation, which describe the case.
fn header(expected: &str) -> String {
    expected
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn findings(expected: &str) -> String {
    expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn corpus_matches_expectations() {
    let bless = std::env::var_os("TREATY_BLESS").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 60,
        "the corpus has {} cases; keep at least 60",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let path = case.join("expected.txt");
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        let actual = run(case);
        if findings(&expected) == actual {
            continue;
        }
        if bless {
            std::fs::write(&path, format!("{}{actual}", header(&expected))).unwrap();
        } else {
            failures.push(format!(
                "{}\n--- expected\n{}--- actual\n{actual}",
                case.display(),
                findings(&expected)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ (rerun with TREATY_BLESS=1 to accept):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every case says what it checks, and the never-a-false-alarm cases
/// expect nothing.
#[test]
fn cases_are_described_and_ok_cases_are_clean() {
    for case in cases() {
        let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default();
        assert!(
            !header(&expected).is_empty(),
            "{}: start expected.txt with a `#` line",
            case.display()
        );
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("ok-") {
            assert_eq!(findings(&expected), "", "{name} must never raise a finding");
        }
    }
}

/// Every rule of the catalog is exercised by some case, so none can rot
/// unnoticed.
#[test]
fn corpus_covers_every_rule() {
    let mut seen = BTreeSet::new();
    for case in cases() {
        let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default();
        for line in findings(&expected).lines() {
            if let Some(id) = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')) {
                seen.insert(id.0.to_string());
            }
        }
    }
    let missing: Vec<&str> = Rule::ALL
        .iter()
        .map(|r| r.id())
        .filter(|id| !seen.contains(*id))
        .collect();
    assert!(missing.is_empty(), "no corpus case expects {missing:?}");
}
