//! `docs/lint-rules.md` documents every rule of the catalog, and its
//! summary table says what the code does: which direction each rule breaks
//! and its severity. A rule added without its page, or a page that
//! drifted from the code, fails here.

use std::collections::BTreeMap;
use std::path::Path;

use treaty_dsl::Severity;
use treaty_lint::{Category, Rule};

fn rules_page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lint-rules.md");
    std::fs::read_to_string(path).expect("docs/lint-rules.md exists")
}

/// The summary rows: id to (breaks column, severity column).
fn summary(page: &str) -> BTreeMap<String, (String, String)> {
    page.lines()
        .filter(|l| l.starts_with("| [`"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let id = cells[1].split('`').nth(1).expect("a linked id").to_string();
            (id, (cells[2].to_string(), cells[3].to_string()))
        })
        .collect()
}

#[test]
fn every_rule_has_a_page_and_a_true_summary_row() {
    let page = rules_page();
    let rows = summary(&page);
    for rule in Rule::ALL {
        let id = rule.id();
        assert!(page.contains(&format!("\n### `{id}`\n")), "no section for {id}");
        let (breaks, severity) = rows.get(id).unwrap_or_else(|| panic!("no summary row for {id}"));
        let expected_breaks = if rule.category() == Category::Style {
            "style".to_string()
        } else {
            let mut parts = Vec::new();
            if rule.breaks_backward() {
                parts.push("B");
            }
            if rule.breaks_forward() {
                parts.push("F");
            }
            parts.join(" ")
        };
        assert_eq!(breaks, &expected_breaks, "breaks column of {id}");
        let expected_severity = match rule.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        assert_eq!(severity, expected_severity, "severity column of {id}");
    }
    assert_eq!(
        rows.len(),
        Rule::ALL.len(),
        "the summary lists a rule the code does not have"
    );
}
