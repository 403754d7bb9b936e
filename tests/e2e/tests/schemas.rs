//! Generated code carries the canonical schema of every version of its
//! commands and events: what `ContractInfo::schema` unpacks is exactly
//! what the language computes for the same contracts, and its fingerprint
//! is the one the code declares.

use std::path::Path;

use treaty::ContractInfo;
use treaty_dsl::canonical::{contracts, fingerprint, CanonicalContract};
use treaty_dsl::{compile, Config, Sources};

fn canonical() -> Vec<CanonicalContract> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts");
    let mut sources = Sources::new();
    sources.load(&[dir]).expect("the e2e contracts load");
    // As build.rs configures them.
    let config = Config {
        extern_types: ["geo.Point".to_string()].into(),
    };
    contracts(&compile(&sources, &config).expect("the e2e contracts compile"))
}

#[test]
fn every_version_carries_its_canonical_schema() {
    let canonical = canonical();
    let infos: Vec<&ContractInfo> = [
        treaty_e2e::shop::CONTRACTS,
        treaty_e2e::shop::returns::CONTRACTS,
        treaty_e2e::evolution::CONTRACTS,
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut checked = 0;
    for info in infos {
        for version in info.history {
            let schema = info
                .schema(version.version)
                .unwrap_or_else(|e| panic!("{} v{}: {e}", info.name, version.version))
                .unwrap_or_else(|| panic!("{} v{} has no schema", info.name, version.version));
            let expected = canonical
                .iter()
                .find(|c| c.name == info.name && c.version == version.version)
                .unwrap_or_else(|| panic!("{} v{} is not in the contracts", info.name, version.version));
            assert_eq!(schema, expected.schema, "{} v{}", info.name, version.version);
            assert_eq!(
                fingerprint(&schema),
                version.fingerprint,
                "{} v{}",
                info.name,
                version.version
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "checked only {checked} versions");
}
