//! The contract registry: which contract versions a store holds, and
//! whether this build can read them.
//!
//! Every store records the name, version and fingerprint of each contract
//! version its events use, with the position of the first event using it
//! (at append time, refusing an event whose fingerprint differs from the
//! one recorded for the same version), and the canonical schema of every
//! compiled version registered with it. A version's row gets its first
//! position when an event first uses it and is not written again, except
//! that a PostgreSQL store confirms it once per process (an upsert that
//! changes nothing); appends of versions in use do not write the registry.
//! Before a service starts, [`register_contracts`] compares the store with the
//! compiled contracts and refuses, listing every problem at once, when the
//! code could not read what is stored.

use std::collections::BTreeMap;
use std::fmt;

use super::{AppendError, EventStore, ReadError};
use crate::contract::{Contract, ContractInfo, ContractKind};

/// A contract version as this build compiled it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CompiledContract {
    /// `namespace.Name`.
    pub name: String,
    /// The version.
    pub version: u32,
    /// The fingerprint of its canonical schema.
    pub fingerprint: String,
    /// The canonical schema (JSON), when known.
    pub schema: Option<String>,
}

impl CompiledContract {
    /// Every version in the history of contract `C` when it is an event;
    /// nothing for a command (see [`CompiledContract::from_info`]).
    pub fn all_versions<C: Contract>() -> Vec<CompiledContract> {
        CompiledContract::from_info(&[ContractInfo::of::<C>()])
    }

    /// Every version of every event contract listed, such as the
    /// `CONTRACTS` constants of generated namespace modules:
    /// `CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat())`.
    ///
    /// Commands are left out: the event store never holds them, so the
    /// registry has nothing to say about them, and recording them would
    /// make a change to a command, which only the bus carries, block the
    /// start of a service as if stored events depended on it.
    pub fn from_info(contracts: &[ContractInfo]) -> Vec<CompiledContract> {
        contracts
            .iter()
            .filter(|c| c.kind == ContractKind::Event)
            .flat_map(|c| {
                c.history.iter().map(|v| CompiledContract {
                    name: c.name.to_string(),
                    version: v.version,
                    fingerprint: v.fingerprint.to_string(),
                    schema: None,
                })
            })
            .collect()
    }
}

/// A contract version as a store has seen it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredContract {
    /// `namespace.Name`.
    pub name: String,
    /// The version.
    pub version: u32,
    /// The fingerprint recorded first for this version.
    pub fingerprint: String,
    /// The canonical schema, when a build registered it.
    pub schema: Option<String>,
    /// The position of the first stored event of this version; `None`
    /// when the version is only registered and no event uses it.
    pub first_position: Option<u64>,
}

/// One reason the compiled contracts cannot read a store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractProblem {
    /// The same contract version means different things in the store and
    /// in this build: the contract was changed without a new version.
    FingerprintMismatch {
        /// The contract.
        contract: String,
        /// The version.
        version: u32,
        /// The fingerprint in the store.
        stored: String,
        /// The fingerprint in this build.
        compiled: String,
    },
    /// Stored events use a version this build's history does not list.
    UnknownVersion {
        /// The contract.
        contract: String,
        /// The stored version.
        version: u32,
        /// The position of the first stored event using it.
        first_position: u64,
        /// The versions this build reads.
        known: Vec<u32>,
    },
    /// Stored events use a contract this build does not have at all.
    UnknownContract {
        /// The contract.
        contract: String,
        /// The stored version.
        version: u32,
        /// The position of the first stored event using it.
        first_position: u64,
    },
}

impl ContractProblem {
    /// The contract and version the problem is about.
    pub fn contract_version(&self) -> (&str, u32) {
        match self {
            ContractProblem::FingerprintMismatch { contract, version, .. }
            | ContractProblem::UnknownVersion { contract, version, .. }
            | ContractProblem::UnknownContract { contract, version, .. } => (contract, *version),
        }
    }
}

impl fmt::Display for ContractProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and fingerprints come from the store, where an earlier
        // build may have written anything: they are shown escaped when
        // they are not plain printable text.
        use super::validate::Shown;
        match self {
            ContractProblem::FingerprintMismatch {
                contract,
                version,
                stored,
                compiled,
            } => write!(
                f,
                "{} v{version}: the store has fingerprint {}, this build {}; \
                 the contract changed without a new version — restore v{version} as it was and \
                 declare the change as v{} with `was v{version} (...)`",
                Shown(contract),
                Shown(stored),
                Shown(compiled),
                version + 1
            ),
            ContractProblem::UnknownVersion {
                contract,
                version,
                first_position,
                known,
            } => {
                let known: Vec<String> = known.iter().map(|v| format!("v{v}")).collect();
                write!(
                    f,
                    "{} v{version}: stored events use it (the first at position {first_position}), \
                     but this build reads only {}; \
                     add `was v{version} (...)` to the contract's history",
                    Shown(contract),
                    known.join(", ")
                )
            }
            ContractProblem::UnknownContract {
                contract,
                version,
                first_position,
            } => write!(
                f,
                "{} v{version}: stored events (the first at position {first_position}) use a contract \
                 this build does not have; \
                 add the contract back (it can be kept with its history and no longer be emitted)",
                Shown(contract)
            ),
        }
    }
}

/// Everything that stops a build from reading a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractReport {
    /// The problems, sorted by contract and version.
    pub problems: Vec<ContractProblem>,
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the compiled contracts cannot read this store ({} problem{}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

/// Why [`register_contracts`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The compiled contracts cannot read what is stored.
    #[error("{0}")]
    Mismatch(ContractReport),
    /// The store could not be read.
    #[error("cannot read the contract registry: {0}")]
    Read(#[from] ReadError),
    /// The compiled contracts could not be recorded.
    #[error("cannot record the compiled contracts: {0}")]
    Record(#[from] AppendError),
}

/// Compares what `stored` holds with `compiled`; the problems, sorted.
pub fn compare(stored: &[StoredContract], compiled: &[CompiledContract]) -> ContractReport {
    let mut by_name: BTreeMap<&str, BTreeMap<u32, &CompiledContract>> = BTreeMap::new();
    for c in compiled {
        by_name.entry(&c.name).or_default().insert(c.version, c);
    }
    let mut problems = Vec::new();
    for s in stored {
        let versions = by_name.get(s.name.as_str());
        match (versions.and_then(|v| v.get(&s.version)), s.first_position) {
            (Some(c), _) if c.fingerprint != s.fingerprint => problems.push(ContractProblem::FingerprintMismatch {
                contract: s.name.clone(),
                version: s.version,
                stored: s.fingerprint.clone(),
                compiled: c.fingerprint.clone(),
            }),
            // Compiled as stored, or only registered and never used.
            (Some(_), _) | (None, None) => {}
            (None, Some(first_position)) => problems.push(match versions {
                Some(versions) => ContractProblem::UnknownVersion {
                    contract: s.name.clone(),
                    version: s.version,
                    first_position,
                    known: versions.keys().copied().collect(),
                },
                None => ContractProblem::UnknownContract {
                    contract: s.name.clone(),
                    version: s.version,
                    first_position,
                },
            }),
        }
    }
    problems.sort_by(|a, b| a.contract_version().cmp(&b.contract_version()));
    ContractReport { problems }
}

/// Checks that `compiled` can read everything in `store` without writing.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem, or a read error.
pub async fn check_contracts(store: &impl EventStore, compiled: &[CompiledContract]) -> Result<(), RegisterError> {
    let report = compare(&store.contracts().await?, compiled);
    if report.problems.is_empty() {
        Ok(())
    } else {
        crate::metrics::registry_refused_start();
        Err(RegisterError::Mismatch(report))
    }
}

/// Checks the store like [`check_contracts`], then records the compiled
/// contract versions (with their schemas) in it. Call it before a service
/// starts; refuse to start when it fails.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem; read or write errors.
pub async fn register_contracts(store: &impl EventStore, compiled: &[CompiledContract]) -> Result<(), RegisterError> {
    check_contracts(store, compiled).await?;
    store.record_contracts(compiled.to_vec()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ContractVersion;

    const PLACED: &[ContractVersion] = &[
        ContractVersion {
            version: 2,
            fingerprint: "f2",
        },
        ContractVersion {
            version: 1,
            fingerprint: "f1",
        },
    ];

    #[test]
    fn only_events_are_registered() {
        let contracts = [
            ContractInfo {
                name: "shop.PlaceOrder",
                kind: ContractKind::Command,
                history: PLACED,
                schemas: "",
            },
            ContractInfo {
                name: "shop.OrderPlaced",
                kind: ContractKind::Event,
                history: PLACED,
                schemas: "",
            },
        ];
        let compiled = CompiledContract::from_info(&contracts);
        let names: Vec<(&str, u32)> = compiled.iter().map(|c| (c.name.as_str(), c.version)).collect();
        assert_eq!(names, [("shop.OrderPlaced", 2), ("shop.OrderPlaced", 1)]);
    }
}
