//! `treaty check` and `treaty generate`, run as users run them.

use std::path::Path;
use std::process::{Command, Output};

fn treaty(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_treaty"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_exits_zero_for_valid_contracts() {
    let output = treaty(&["check", "examples/factory/contracts"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "ok: 2 files, 2 namespaces, 5 messages\n");
}

#[test]
fn check_exits_one_and_renders_every_error() {
    let dir = std::env::temp_dir().join(format!("treaty-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.treaty");
    std::fs::write(&file, "namespace x;\nA!(n: Strin);\nB?(m: u32 = \"no\");\n").unwrap();
    let output = treaty(&["check", file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("error[unknown-type]: unknown type `Strin`"), "{err}");
    assert!(err.contains("bad.treaty:2:7"), "{err}");
    assert!(err.contains("error[bad-default]"), "{err}");
    assert!(err.contains("bad.treaty:3:13"), "{err}");
    assert!(err.ends_with("error: contracts have 2 errors\n"), "{err}");
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(treaty(&["check"]).status.code(), Some(2));
    assert_eq!(treaty(&["frobnicate"]).status.code(), Some(2));
    let missing = treaty(&["check", "no/such/dir"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read no/such/dir"),
        "{}",
        stderr(&missing)
    );
    let bad_extern = treaty(&["generate", "examples/factory/contracts", "--extern", "nonsense"]);
    assert_eq!(bad_extern.status.code(), Some(2));
}

#[test]
fn generate_prints_what_the_builder_generates() {
    let output = treaty(&["generate", "examples/factory/contracts"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut sources = treaty_dsl::Sources::new();
    sources.load(&[root.join("examples/factory/contracts")]).unwrap();
    let expected = treaty_codegen::Builder::new().generate(&sources).unwrap();
    assert_eq!(stdout(&output), expected);
    assert!(expected.starts_with("// @generated"));
}

#[test]
fn generate_writes_the_output_file() {
    let dir = std::env::temp_dir().join(format!("treaty-cli-generate-{}", std::process::id()));
    let out = dir.join("nested/contracts.rs");
    let output = treaty(&["generate", "examples/factory/contracts", "-o", out.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(&out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(written.contains("pub struct CarProduced"));
}
