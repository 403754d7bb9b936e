//! The manifest [`crate::Builder::compile`] writes next to the generated
//! code: which contract files it compiled and which extern types it was
//! configured with.
//!
//! The `contract!` macro reads it so that contracts written inline in a
//! crate can `use` the types that the crate's build.rs generated, and so
//! that validation and fingerprints see those types exactly as build.rs
//! saw them. Writer and reader live together here so the format has one
//! owner.

use std::path::{Path, PathBuf};

/// The manifest written next to [`crate::DEFAULT_FILE_NAME`], the one the
/// `contract!` macro reads.
pub const DEFAULT_MANIFEST_NAME: &str = "treaty_contracts.sources";

/// The first line of every manifest, so a reader can tell the file is
/// one and which format it has.
const HEADER: &str = "# treaty-codegen sources v1: contract files compiled by build.rs, read by treaty::contract!";

/// What one [`crate::Builder::compile`] call compiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcesManifest {
    /// Absolute paths of the contract files, in the order they were
    /// compiled.
    pub files: Vec<PathBuf>,
    /// The configured extern types: contract name, then Rust type.
    pub extern_types: Vec<(String, String)>,
}

impl SourcesManifest {
    /// The manifest's name for a generated file: `treaty_contracts.rs`
    /// has `treaty_contracts.sources`.
    pub fn file_name_for(generated: &str) -> String {
        Path::new(generated).with_extension("sources").display().to_string()
    }

    /// The manifest as text: a header line, then one tab-separated
    /// `source` or `extern` line per entry.
    pub fn render(&self) -> String {
        let mut out = format!("{HEADER}\n");
        for file in &self.files {
            out.push_str(&format!("source\t{}\n", file.display()));
        }
        for (name, rust) in &self.extern_types {
            out.push_str(&format!("extern\t{name}\t{rust}\n"));
        }
        out
    }

    /// Reads text written by [`SourcesManifest::render`].
    ///
    /// # Errors
    ///
    /// A description of the first line that does not fit the format.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err("the first line is not the treaty-codegen manifest header".to_string());
        }
        let mut manifest = SourcesManifest::default();
        for (n, line) in lines.enumerate() {
            match line.split('\t').collect::<Vec<_>>().as_slice() {
                ["source", path] => manifest.files.push(PathBuf::from(path)),
                ["extern", name, rust] => manifest.extern_types.push((name.to_string(), rust.to_string())),
                [""] => {}
                _ => return Err(format!("line {} is neither a `source` nor an `extern` entry", n + 2)),
            }
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_back_what_was_written() {
        let manifest = SourcesManifest {
            files: vec![PathBuf::from("/a b/shared.treaty"), PathBuf::from("/c/shop.treaty")],
            extern_types: vec![("geo.Point".into(), "crate::geo::Point".into())],
        };
        assert_eq!(SourcesManifest::parse(&manifest.render()), Ok(manifest));
    }

    #[test]
    fn text_that_is_not_a_manifest_is_rejected() {
        assert!(SourcesManifest::parse("source\t/x.treaty\n").is_err());
        let bad = format!("{HEADER}\nsauce\t/x.treaty\n");
        assert_eq!(
            SourcesManifest::parse(&bad),
            Err("line 2 is neither a `source` nor an `extern` entry".to_string())
        );
    }

    #[test]
    fn the_manifest_is_named_after_the_generated_file() {
        assert_eq!(
            SourcesManifest::file_name_for(crate::DEFAULT_FILE_NAME),
            DEFAULT_MANIFEST_NAME
        );
        assert_eq!(SourcesManifest::file_name_for("billing.rs"), "billing.sources");
    }
}
