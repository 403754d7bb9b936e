//! Compile-fail tests of `treaty::contract!`, `#[treaty::event_set]` and
//! the projection attributes: each file under `tests/ui` is one misuse, and
//! its `.stderr` holds the errors rustc must report, at the token they are
//! about. Regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p treaty --test ui` and read every
//! changed file before committing it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
