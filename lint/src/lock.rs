//! The contract lock: the canonical schema and fingerprint of every
//! contract version, as committed next to the contracts.
//!
//! The lock is what the breaking-change lint compares against when no
//! other baseline is given, and it makes every change to the wire visible
//! in code review: one entry per contract version, sorted, pretty-printed
//! JSON with sorted keys, so a change to one field is a change to a few
//! lines. It carries a format version of its own so that a later treaty
//! can refuse (rather than misread) a lock it does not understand.
//!
//! Nothing here touches the file system; the CLI reads and writes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use treaty_dsl::canonical::{self, CanonicalContract, ContractKind};
use treaty_dsl::Schema;

/// The lock format this build writes and reads.
pub const LOCK_FORMAT: u32 = 1;

/// The file name of the lock, next to the contracts' common root.
pub const LOCK_FILE_NAME: &str = "treaty.lock";

/// Every contract version of a set of contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// Every contract version, sorted by name, kind and version.
    pub contracts: Vec<CanonicalContract>,
}

/// The on-disk form. Field order here is the order in the file: the
/// format first, so a reader can stop before misreading the rest.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockFile {
    format: u32,
    contracts: Vec<LockEntry>,
}

/// One contract version as written: identity first, the schema last, so
/// that the lines a reviewer reads first say which contract changed.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LockEntry {
    name: String,
    kind: ContractKind,
    version: u32,
    fingerprint: String,
    schema: Json,
}

/// Why a lock could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// The text is not a lock: not JSON, or not the expected structure.
    Malformed(serde_json::Error),
    /// The lock was written by a treaty with another lock format.
    UnsupportedFormat {
        /// The format the file declares.
        found: u32,
    },
    /// An entry's fingerprint does not match its schema, so the file was
    /// edited by hand or damaged in a merge.
    FingerprintMismatch {
        /// `namespace.Name`.
        name: String,
        /// The entry's version.
        version: u32,
    },
    /// Two entries for one contract version, usually a bad merge.
    Duplicate {
        /// `namespace.Name`.
        name: String,
        /// The repeated version.
        version: u32,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Malformed(e) => write!(f, "not a treaty lock: {e}"),
            LockError::UnsupportedFormat { found } => write!(
                f,
                "lock format {found} is not supported (this treaty reads format {LOCK_FORMAT}); \
                 regenerate it with `treaty lock`"
            ),
            LockError::FingerprintMismatch { name, version } => write!(
                f,
                "the fingerprint of {name} v{version} does not match its schema; \
                 the lock was edited by hand: regenerate it with `treaty lock`"
            ),
            LockError::Duplicate { name, version } => write!(
                f,
                "{name} v{version} appears twice; resolve the merge by regenerating the lock with `treaty lock`"
            ),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

impl Lock {
    /// The lock of a validated schema: every message version (current and
    /// history), record, enum and id.
    pub fn from_schema(schema: &Schema) -> Lock {
        Lock {
            contracts: canonical::contracts(schema),
        }
    }

    /// The file contents: pretty JSON ending in a newline. The same
    /// contracts always give the same bytes, so "write only when changed"
    /// is a byte comparison.
    pub fn to_json(&self) -> String {
        let file = LockFile {
            format: LOCK_FORMAT,
            contracts: self
                .contracts
                .iter()
                .map(|c| LockEntry {
                    name: c.name.clone(),
                    kind: c.kind,
                    version: c.version,
                    fingerprint: c.fingerprint.clone(),
                    schema: c.schema.clone(),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&file).expect("a lock always serializes");
        text.push('\n');
        text
    }

    /// Reads a lock written by [`Lock::to_json`], checking its format and
    /// that every fingerprint still matches its schema.
    pub fn parse(text: &str) -> Result<Lock, LockError> {
        // The format is read on its own first, so that a lock from a
        // newer treaty is reported as such instead of as malformed.
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        let header: Header = serde_json::from_str(text).map_err(LockError::Malformed)?;
        if header.format != LOCK_FORMAT {
            return Err(LockError::UnsupportedFormat { found: header.format });
        }
        let file: LockFile = serde_json::from_str(text).map_err(LockError::Malformed)?;
        let mut contracts: Vec<CanonicalContract> = file
            .contracts
            .into_iter()
            .map(|e| CanonicalContract {
                kind: e.kind,
                name: e.name,
                version: e.version,
                schema: e.schema,
                fingerprint: e.fingerprint,
            })
            .collect();
        for c in &contracts {
            if canonical::fingerprint(&c.schema) != c.fingerprint {
                return Err(LockError::FingerprintMismatch {
                    name: c.name.clone(),
                    version: c.version,
                });
            }
        }
        contracts.sort_by(|a, b| (&a.name, a.kind, a.version).cmp(&(&b.name, b.kind, b.version)));
        if let Some(pair) = contracts
            .windows(2)
            .find(|w| w[0].name == w[1].name && w[0].version == w[1].version)
        {
            return Err(LockError::Duplicate {
                name: pair[0].name.clone(),
                version: pair[0].version,
            });
        }
        Ok(Lock { contracts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use treaty_dsl::{compile, Config, Sources};

    fn schema(text: &str) -> Schema {
        let mut sources = Sources::new();
        sources.add("a.treaty", text);
        compile(&sources, &Config::default()).unwrap()
    }

    #[test]
    fn round_trips_and_lists_every_version() {
        let lock = Lock::from_schema(&schema(
            "namespace a;\nrecord R(x: u32);\nE! v2 (r: R, y: u64 = 1) was v1 (r: R);\n",
        ));
        let names: Vec<String> = lock
            .contracts
            .iter()
            .map(|c| format!("{} v{}", c.name, c.version))
            .collect();
        assert_eq!(names, ["a.E v1", "a.E v2", "a.R v1"]);
        let text = lock.to_json();
        assert!(text.starts_with("{\n  \"format\": 1,"), "{text}");
        assert_eq!(Lock::parse(&text).unwrap(), lock);
    }

    /// Each damaged lock, and the error it must give.
    #[test]
    fn rejects_damaged_locks() {
        let good = Lock::from_schema(&schema("namespace a;\nE!(x: u32);\n")).to_json();
        let cases: [(String, &str); 4] = [
            ("not json".into(), "not a treaty lock"),
            (good.replace("\"format\": 1", "\"format\": 99"), "lock format 99"),
            (good.replace("\"u32\"", "\"u64\""), "does not match its schema"),
            (
                {
                    let mut v: Json = serde_json::from_str(&good).unwrap();
                    let entry = v["contracts"][0].clone();
                    v["contracts"].as_array_mut().unwrap().push(entry);
                    v.to_string()
                },
                "appears twice",
            ),
        ];
        for (text, expected) in cases {
            let error = Lock::parse(&text).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} should contain {expected:?}");
        }
    }
}
