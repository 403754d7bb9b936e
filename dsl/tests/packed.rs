//! The packed schemas generated code carries unpack to exactly the
//! canonical JSON of every message version, for every contract of the
//! repository (each directory's `.treaty` files compiled together, as
//! the examples, fixtures and corpora are).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[path = "../../codegen/tests/characters/contract.rs"]
#[allow(dead_code)] // The test reads only the contract text.
mod characters;

use treaty_compat::packed::Packed;
use treaty_dsl::canonical::message_versions;
use treaty_dsl::packed::Packer;
use treaty_dsl::{compile, Config, Sources};

/// Every directory holding `.treaty` files under the workspace root, with
/// its files; `target/` and hidden directories skipped.
fn directories() -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let mut found: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name.ends_with(".treaty") {
                found.entry(dir.clone()).or_default().push(path);
            }
        }
    }
    found
}

/// Checks every message version of `schema` packed per namespace; returns
/// how many were checked.
fn check(schema: &treaty_dsl::Schema, what: &str) -> usize {
    let mut checked = 0;
    for namespace in schema.namespaces.values() {
        let mut packer = Packer::new(schema);
        for message in &namespace.messages {
            packer.add(message);
        }
        let Some(text) = packer.finish() else {
            continue;
        };
        let packed = Packed::parse(&text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
        for message in &namespace.messages {
            for version in message_versions(schema, message) {
                let unpacked = packed.message(&version.name, version.version).unwrap();
                assert_eq!(
                    unpacked.as_ref(),
                    Some(&version.schema),
                    "{what}: {} v{}\n{text}",
                    version.name,
                    version.version
                );
                checked += 1;
            }
        }
    }
    checked
}

/// Strings with control, invisible and astral characters come back as
/// they were, though the packed text is printable ASCII (what rustc and
/// clippy accept raw in a string literal).
#[test]
fn every_character_a_contract_accepts_round_trips() {
    let mut sources = Sources::new();
    sources.add("characters.treaty", characters::CONTRACT);
    let schema = compile(&sources, &Config::default()).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(check(&schema, "characters") > 0);
    let mut packer = Packer::new(&schema);
    for namespace in schema.namespaces.values() {
        for message in &namespace.messages {
            packer.add(message);
        }
    }
    let text = packer.finish().expect("the contract has messages");
    assert!(
        text.chars().all(|c| c == '\n' || c == ' ' || c.is_ascii_graphic()),
        "{text}"
    );
}

#[test]
fn every_message_version_of_the_repository_unpacks_to_its_canonical_schema() {
    let mut checked = 0;
    for (dir, files) in directories() {
        let mut sources = Sources::new();
        for path in &files {
            sources.add(
                path.display().to_string(),
                std::fs::read(path).expect("read a contract file"),
            );
        }
        // Files made to fail (syntax and validation cases) have no schema.
        let Ok(schema) = compile(&sources, &Config::default()) else {
            continue;
        };
        checked += check(&schema, &dir.display().to_string());
    }
    assert!(checked > 200, "checked only {checked} message versions");
}
