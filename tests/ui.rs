//! Compile-fail tests of `treaty::contract!`, `#[treaty::event_set]` and
//! the projection attributes: each file under `tests/ui` is one misuse, and
//! its `.stderr` holds the errors rustc must report, at the token they are
//! about. `tests/ui/construction/` is the compile test of generated
//! constructors: a user's code written against contracts A compiles and
//! runs against contracts B, which added fields in place, while a struct
//! literal written against A fails against B. Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p treaty --test ui` and read every
//! changed file before committing it.

use std::path::PathBuf;

#[test]
fn ui() {
    // A package whose build.rs does not run the projection analysis.
    {
        let cases = trybuild::TestCases::new();
        cases.compile_fail("tests/ui/no-analysis/*.rs");
    }
    // The other cases stand for packages whose build.rs runs it. The crate
    // trybuild builds has no build script, so `OUT_DIR` (which rustc
    // inherits) points at an analysis that found nothing: projections get
    // the package-wide fallback, as those written by a macro do.
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-analysis");
    treaty_fingerprint::Analysis::default()
        .write(&out_dir)
        .expect("an empty analysis is written");
    std::env::set_var("OUT_DIR", &out_dir);
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui/construction/against_a.rs");
    cases.pass("tests/ui/construction/against_b.rs");
    cases.pass("tests/ui/construction/literal_against_a.rs");
    cases.compile_fail("tests/ui/construction/literal_against_b.rs");
}
