//! `use-cases.json` is the collection's specifications as use cases
//! (`billing::specs`), which `treaty docs --specs` renders into the
//! static documentation beside the contracts (`cli/tests/docs.rs` does).
//! `TREATY_BLESS=1` rewrites it after the specs changed.

use std::path::Path;

use treaty::spec::UseCase;

#[test]
fn the_committed_use_cases_are_what_the_specs_say() {
    let use_cases: Vec<UseCase> = billing::specs::specs()
        .iter()
        .map(|spec| spec.use_case().unwrap())
        .collect();
    let json = serde_json::to_string_pretty(&use_cases).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("use-cases.json");
    if std::env::var_os("TREATY_BLESS").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == json,
        "{} is stale: run `TREATY_BLESS=1 cargo test -p billing --test use_cases`",
        path.display()
    );
    assert_eq!(UseCase::list_from_json(&committed).unwrap(), use_cases);
}
