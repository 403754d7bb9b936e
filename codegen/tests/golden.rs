//! Golden fixtures: each folder under `tests/golden/` holds `.treaty`
//! files and `expected.rs`, the exact code they generate. Run with
//! `TREATY_BLESS=1` to rewrite the expectations after an intended change,
//! then review the diff.

use std::path::Path;

use treaty_codegen::Builder;
use treaty_dsl::Sources;

fn generate(dir: &Path) -> String {
    let mut sources = Sources::new();
    sources.load(&[dir]).expect("fixture is readable");
    Builder::new()
        .generate(&sources)
        .unwrap_or_else(|e| panic!("{} does not compile:\n{e}", dir.display()))
}

#[test]
fn generated_code_matches_the_golden_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let bless = std::env::var_os("TREATY_BLESS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 4, "the golden cases are missing");
    let mut mismatched = Vec::new();
    for case in cases {
        let actual = generate(&case);
        let expected_path = case.join("expected.rs");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            mismatched.push(case.display().to_string());
        }
    }
    assert!(
        mismatched.is_empty(),
        "generated code differs from the golden files in {mismatched:?}; \
         rerun with TREATY_BLESS=1 and review the diff"
    );
}

#[test]
fn generation_is_deterministic_whatever_the_file_order() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/factory");
    let first = generate(&dir);
    for _ in 0..3 {
        assert_eq!(generate(&dir), first);
    }
    // Files added in another order produce the same code, because loading
    // sorts paths and the generator orders namespaces by name.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "treaty"))
        .collect();
    names.sort();
    names.reverse();
    let mut reversed = Sources::new();
    for path in &names {
        reversed.add(path.display().to_string(), std::fs::read(path).unwrap());
    }
    assert_eq!(Builder::new().generate(&reversed).unwrap(), first);
}

#[test]
fn every_generated_file_starts_with_the_generated_header() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/defaults");
    assert!(generate(&dir).starts_with("// @generated"));
}

#[test]
fn invalid_settings_are_reported_not_ignored() {
    let mut sources = Sources::new();
    sources.add("a.treaty", "namespace a;\nX!();\n");
    let error = Builder::new()
        .type_attribute(".", "derive(Hash)")
        .generate(&sources)
        .unwrap_err();
    assert!(
        error.to_string().starts_with("invalid type attribute `derive(Hash)`"),
        "{error}"
    );
    let error = Builder::new()
        .extern_type("Money", "::m::Money")
        .generate(&sources)
        .unwrap_err();
    assert!(error.to_string().contains("namespace.Name"), "{error}");
}

#[test]
fn compile_writes_only_when_content_changes() {
    let dir = std::env::temp_dir().join(format!("treaty-write-{}", std::process::id()));
    let contracts = dir.join("contracts");
    std::fs::create_dir_all(&contracts).unwrap();
    std::fs::write(contracts.join("a.treaty"), "namespace a;\nX!(n: u32);\n").unwrap();
    let mut builder = Builder::new();
    builder.out_dir(dir.join("out")).emit_rerun_if_changed(false);
    let path = builder.compile(&[&contracts]).unwrap();
    let first = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    builder.compile(&[&contracts]).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first);
    std::fs::write(contracts.join("a.treaty"), "namespace a;\nX!(n: u64);\n").unwrap();
    builder.compile(&[&contracts]).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("pub n: u64"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn upcasts_the_generator_cannot_derive_are_listed_with_their_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/versions");
    let mut sources = Sources::new();
    sources.load(&[&dir]).expect("fixture is readable");
    let schema = treaty_dsl::compile(&sources, &treaty_dsl::Config::default()).expect("fixture compiles");
    let listed = treaty_codegen::upcasts_to_write(&schema);
    let names: Vec<_> = listed.iter().map(|u| (u.from.as_str(), u.to.as_str())).collect();
    assert_eq!(names, [("RenamedV1", "Renamed")]);
    assert!(
        listed[0].reason.contains("field `name` changed type"),
        "{}",
        listed[0].reason
    );
    // The golden file documents the same upcast as one to write.
    let expected = std::fs::read_to_string(dir.join("expected.rs")).unwrap();
    assert!(expected.contains("write `impl From<RenamedV1> for Renamed`"));
}
