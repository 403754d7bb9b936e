//! `treaty fmt`, run as users run it, on files in a temporary directory.

mod common;

use common::{stderr, stdout, treaty};

const MESSY: &str = "namespace shop ;\n// kept\nPlaced!( total:u64 ,note : String=\"\" ) ;\n";
const TIDY: &str = "namespace shop;\n// kept\nPlaced!(total: u64, note: String = \"\");\n";

#[test]
fn check_lists_the_files_that_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("messy.treaty"), MESSY).unwrap();
    std::fs::write(dir.path().join("tidy.treaty"), TIDY.replace("shop", "other")).unwrap();

    let output = treaty(dir.path(), &["fmt", "--check", "."]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "./messy.treaty\n");
    assert!(stderr(&output).contains("1 file not formatted"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.treaty")).unwrap(), MESSY);

    let output = treaty(dir.path(), &["fmt", "."]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "formatted ./messy.treaty\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.treaty")).unwrap(), TIDY);

    let output = treaty(dir.path(), &["fmt", "--check", "messy.treaty", "tidy.treaty"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "namespace shop;\nBroken!(a u32);\n";
    std::fs::write(dir.path().join("broken.treaty"), broken).unwrap();
    std::fs::write(dir.path().join("messy.treaty"), MESSY).unwrap();
    let output = treaty(dir.path(), &["fmt", "."]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("error[syntax]"), "{err}");
    assert!(err.contains("broken.treaty:2:11"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("broken.treaty")).unwrap(),
        broken
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("messy.treaty")).unwrap(), MESSY);
}

#[test]
fn usage_errors_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(treaty(dir.path(), &["fmt"]).status.code(), Some(2));
    let missing = treaty(dir.path(), &["fmt", "no/such.treaty"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read no/such.treaty"),
        "{}",
        stderr(&missing)
    );
}
