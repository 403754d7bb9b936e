//! `use-cases.json` is what `cargo run -p factory -- use-cases` prints:
//! the factory's specifications as use cases, which `treaty docs --specs`
//! renders into the static documentation (`cli/tests/docs.rs` does).
//! `TREATY_BLESS=1` rewrites it after the specs changed.

mod support;

use std::process::Command;

use support::package_file;

#[test]
fn the_committed_use_cases_are_what_the_specs_say() {
    let output = Command::new(env!("CARGO_BIN_EXE_factory"))
        .arg("use-cases")
        .output()
        .expect("factory runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let path = package_file("use-cases.json");
    if std::env::var_os("TREATY_BLESS").is_some() {
        std::fs::write(&path, &output.stdout).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(
        committed == output.stdout,
        "{} is stale: run `TREATY_BLESS=1 cargo test -p factory --test use_cases`",
        path.display()
    );
    let use_cases: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    assert_eq!(use_cases.as_array().map(Vec::len), Some(4));
}
