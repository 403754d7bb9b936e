fn main() {
    treaty_codegen::Builder::new()
        .extern_type("geo.Point", "crate::geo::Point")
        .type_attribute("shop.Sku", "#[derive(Default)]")
        .field_attribute("shop.Customer.email", "#[doc = \"Personal data: erase on request.\"]")
        .compile(&["contracts"])
        .expect("contracts compile");

    // The code generator's golden fixtures are compiled here too, so every
    // expected file is known to build without warnings, not only to match.
    for case in ["defaults", "factory", "names", "versions", "wire"] {
        // Each folder also holds its expected.rs, which must not rerun this
        // script; the contract files themselves are watched.
        treaty_codegen::Builder::new()
            .file_name(format!("golden_{case}.rs"))
            .watch(treaty_codegen::Watch::ContractsOnly)
            .compile(&[format!("../../codegen/tests/golden/{case}")])
            .expect("golden contracts compile");
    }

    // Cases of the lint corpus, before and after, for
    // `tests/compatibility.rs`: what the rule book says of each change and
    // what the generated types do with data written before it.
    for case in LINT_CASES {
        for side in ["before", "after"] {
            treaty_codegen::Builder::new()
                .file_name(format!("lint_{}_{side}.rs", case.replace('-', "_")))
                // Some `after` folders hold the case's treaty.toml too.
                .watch(treaty_codegen::Watch::ContractsOnly)
                .compile(&[format!("../lint/{case}/{side}")])
                .expect("the lint cases compile");
        }
    }

    // The two sides of `tests/inplace.rs`'s fixture: the same events, all
    // v1, before and after changes made in place, which the generator in
    // that test writes.
    for side in ["before", "after"] {
        treaty_codegen::Builder::new()
            .file_name(format!("inplace_{side}.rs"))
            .watch(treaty_codegen::Watch::ContractsOnly)
            .compile(&[format!("contracts_inplace/{side}")])
            .expect("the in-place fixture compiles");
    }

    // Lokad's sample contracts as `treaty import-ddd` imports them: the
    // generated types must read JSON as a Lokad system stored it.
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let ddd_path = "../../cli/tests/ddd/security.ddd";
    println!("cargo:rerun-if-changed={ddd_path}");
    let ddd = std::fs::read_to_string(ddd_path).expect("the Lokad sample is readable");
    let imported = treaty_dsl::lokad::import(&[("security.ddd".to_string(), ddd)]);
    let lokad_dir = out_dir.join("lokad");
    std::fs::create_dir_all(&lokad_dir).expect("OUT_DIR is writable");
    for file in &imported {
        let path = lokad_dir.join(file.name.replace(".ddd", ".treaty"));
        std::fs::write(path, &file.treaty).expect("OUT_DIR is writable");
    }
    treaty_codegen::Builder::new()
        .file_name("lokad.rs")
        .emit_rerun_if_changed(false)
        .compile(&[lokad_dir])
        .expect("the imported Lokad contracts compile");

    // What each projection's code reaches, so that exactly the projections
    // whose code changed rebuild.
    treaty_codegen::analyze_projections().expect("projections analysed");

    // A contract with every kind of character contracts accept in docs and
    // strings, written from Rust escapes: its generated docs and literals
    // must build without warnings too.
    let contract = out_dir.join("characters.treaty");
    std::fs::write(&contract, characters::CONTRACT).expect("OUT_DIR is writable");
    println!("cargo:rerun-if-changed=../../codegen/tests/characters/contract.rs");
    treaty_codegen::Builder::new()
        .file_name("characters.rs")
        .emit_rerun_if_changed(false)
        .compile(&[contract])
        .expect("the characters contract compiles");
}

/// The cases of `tests/lint/` that `tests/compatibility.rs` reads.
const LINT_CASES: [&str; 9] = [
    "ok-default-added",
    "mode-backward-allows-optional",
    "integer-widened",
    "ok-defaulted-field-removed",
    "mode-backward-allows-field-removal",
    "field-added-required",
    "field-type-changed",
    "integer-narrowed",
    "enum-variant-removed",
];

#[allow(dead_code)]
mod characters {
    include!("../../codegen/tests/characters/contract.rs");
}
