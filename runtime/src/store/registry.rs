//! The schema registry: which writer schemas a store holds for each
//! contract version, and whether this build can read them.
//!
//! Every store records, for each contract version its events use, every
//! fingerprint events were appended with — with the canonical schema of
//! that fingerprint when a build registered it, the position of the first
//! event using it and the time it was first seen. A version may hold
//! several fingerprints: a change made in place that the rule book
//! ([`treaty_compat`], the rules `treaty lint` applies) calls compatible
//! in the store's mode is recorded next to the schemas already there.
//!
//! - [`register_contracts`] runs before a service starts: it compares
//!   every schema stored for a version with the schema this build
//!   compiled for it, in the store's [`Mode`] (default
//!   [`Mode::Backward`]: this code reads every stored shape). Compatible,
//!   the build's fingerprints are recorded and appends with them go
//!   through; incompatible, it refuses with every finding (rule id,
//!   contract, version, field path, help), the lint's words.
//! - An append whose fingerprint is the one recorded (or the first of a
//!   version) costs what it always did: one lookup of a registry row by
//!   (name, version, fingerprint), and a write only when the row gets its
//!   first position, recording the event's schema with it.
//! - An append whose fingerprint is new for a version that already has
//!   one is checked as [`register_contracts`] checks a build
//!   ([`admit_changed`]): the schema the event carries
//!   ([`NewEvent::schema`]) against every schema stored for the version,
//!   in the store's mode. Compatible, it is recorded and the append goes
//!   through; not, the append is refused with every finding
//!   ([`AppendError::IncompatibleSchema`]). An event without a schema, or
//!   a version stored without one, cannot be checked and is refused
//!   ([`AppendError::FingerprintMismatch`]).
//! - A PostgreSQL store confirms a version it has not appended in this
//!   process once (an upsert that changes nothing); appends of versions in
//!   use do not write the registry.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::{AppendError, EventStore, NewEvent, ReadError};
use crate::contract::{Contract, ContractInfo, ContractKind};

pub use treaty_compat::Mode;

/// The format of the canonical schema texts the registry holds, recorded
/// with each schema. A registry row with a higher format was written by a
/// newer Treaty, and this one refuses to compare it rather than guess.
pub const SCHEMA_FORMAT: u32 = 1;

/// The mode named `name` (`backward`, `forward` or `full`), as a
/// configuration gives it.
///
/// # Errors
///
/// [`UnknownMode`] for any other name.
pub fn parse_mode(name: &str) -> Result<Mode, UnknownMode> {
    Mode::from_name(name.trim()).ok_or_else(|| UnknownMode(name.to_string()))
}

/// A configuration named a compatibility mode that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compatibility mode `{}`; expected backward, forward or full", super::validate::Shown(.0))]
pub struct UnknownMode(pub String);

/// A contract version as this build compiled it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CompiledContract {
    /// `namespace.Name`.
    pub name: String,
    /// The version.
    pub version: u32,
    /// The fingerprint of its canonical schema.
    pub fingerprint: String,
    /// The canonical schema (JSON), when known. Without it a change made
    /// in place cannot be checked, and is refused.
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
    /// `CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat())`,
    /// each with the canonical schema its module carries.
    ///
    /// Commands are left out: the event store never holds them, so the
    /// registry has nothing to say about them, and recording them would
    /// make a change to a command, which only the bus carries, block the
    /// start of a service as if stored events depended on it.
    pub fn from_info(contracts: &[ContractInfo]) -> Vec<CompiledContract> {
        // Contracts of one module share its packed text: read it once.
        let mut packed: HashMap<*const u8, Option<treaty_compat::packed::Packed<'static>>> = HashMap::new();
        for c in contracts.iter().filter(|c| c.kind == ContractKind::Event) {
            packed.entry(c.schemas.as_ptr()).or_insert_with(|| {
                (!c.schemas.is_empty())
                    .then(|| treaty_compat::packed::Packed::parse(c.schemas).ok())
                    .flatten()
            });
        }
        let packed = &packed;
        contracts
            .iter()
            .filter(|c| c.kind == ContractKind::Event)
            .flat_map(|c| {
                let module = packed.get(&c.schemas.as_ptr()).and_then(Option::as_ref);
                c.history.iter().map(move |v| CompiledContract {
                    name: c.name.to_string(),
                    version: v.version,
                    fingerprint: v.fingerprint.to_string(),
                    // A module this runtime cannot read leaves the schema
                    // unknown: a change in place is then refused, never
                    // passed unchecked.
                    schema: module
                        .and_then(|p| p.message(c.name, v.version).ok().flatten())
                        .map(|json| json.to_string()),
                })
            })
            .collect()
    }
}

/// One writer schema of a contract version as a store has seen it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredContract {
    /// `namespace.Name`.
    pub name: String,
    /// The version.
    pub version: u32,
    /// The fingerprint of this writer schema; a version may have several.
    pub fingerprint: String,
    /// The canonical schema, when a build registered it.
    pub schema: Option<String>,
    /// The format of `schema` ([`SCHEMA_FORMAT`] when this Treaty wrote it).
    pub schema_format: u32,
    /// The position of the first stored event with this fingerprint;
    /// `None` when it is only registered and no event uses it.
    pub first_position: Option<u64>,
    /// When the store first saw this fingerprint (appended or registered);
    /// `None` for rows recorded before the store kept the time.
    pub first_seen: Option<jiff::Timestamp>,
}

/// A breaking change between a stored writer schema and this build's
/// schema of the same version, in the words of `treaty lint`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The rule broken; [`treaty_compat::Rule::id`] is its stable id.
    pub rule: treaty_compat::Rule,
    /// The field path, such as `total.cents`.
    pub path: String,
    /// The lint's message: ``event `shop.OrderPlaced` v1: required field `note` was removed``.
    pub message: String,
}

impl Finding {
    /// How to make the change safely (the rule's help).
    pub fn help(&self) -> &'static str {
        self.rule.help()
    }
}

/// The canonical schema in `text`, or why it cannot be compared.
fn read_schema(text: &str, format: u32) -> Result<serde_json::Value, String> {
    if format > SCHEMA_FORMAT {
        return Err(format!(
            "its schema was written by a newer Treaty (schema format {format}; this build reads up to \
             {SCHEMA_FORMAT}); upgrade Treaty to check it"
        ));
    }
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("its schema is corrupt (not JSON: {e})"))?;
    if !json.get("fields").is_some_and(serde_json::Value::is_object) {
        return Err("its schema is corrupt (not a canonical message schema: no `fields` object)".to_string());
    }
    Ok(json)
}

/// One reason the compiled contracts cannot read a store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ContractProblem {
    /// The same contract version has a stored fingerprint other than this
    /// build's, and one of the two schemas is unknown, so the change
    /// cannot be checked.
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
    /// This build changed a stored version in place in a way its mode
    /// does not allow: one finding of the rule book.
    Incompatible {
        /// The contract.
        contract: String,
        /// The version.
        version: u32,
        /// The stored writer schema's fingerprint.
        stored: String,
        /// This build's fingerprint.
        compiled: String,
        /// What breaks.
        finding: Finding,
    },
    /// A stored schema cannot be read: corrupt, or written by a newer
    /// Treaty. Nothing is changed; the row stays as it is.
    UnreadableSchema {
        /// The contract.
        contract: String,
        /// The version.
        version: u32,
        /// The stored writer schema's fingerprint.
        fingerprint: String,
        /// Why.
        reason: String,
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
            | ContractProblem::Incompatible { contract, version, .. }
            | ContractProblem::UnreadableSchema { contract, version, .. }
            | ContractProblem::UnknownVersion { contract, version, .. }
            | ContractProblem::UnknownContract { contract, version, .. } => (contract, *version),
        }
    }

    /// The rule id of the lint when the problem is one of its findings.
    pub fn rule_id(&self) -> Option<&'static str> {
        match self {
            ContractProblem::Incompatible { finding, .. } => Some(finding.rule.id()),
            _ => None,
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
                "{} v{version}: the store has fingerprint {}, this build {}, and the change cannot be checked: \
                 the store holds no schema for the first (its events were appended by a build that did not \
                 register its contracts) or this build carries none for the second — restore v{version} as it \
                 was and declare the change as v{} with `was v{version} (...)`",
                Shown(contract),
                Shown(stored),
                Shown(compiled),
                version.saturating_add(1)
            ),
            ContractProblem::Incompatible {
                stored,
                compiled,
                finding,
                ..
            } => write!(
                f,
                "error[{}]: {} (stored schema {}, this build {}); help: {}",
                finding.rule.id(),
                finding.message,
                Shown(stored),
                Shown(compiled),
                finding.help()
            ),
            ContractProblem::UnreadableSchema {
                contract,
                version,
                fingerprint,
                reason,
            } => write!(
                f,
                "{} v{version}: the stored schema with fingerprint {} cannot be read: {reason}; \
                 the registry row is left as it is",
                Shown(contract),
                Shown(fingerprint)
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
    /// The mode the schemas were compared in.
    pub mode: &'static str,
    /// The problems, sorted by contract and version.
    pub problems: Vec<ContractProblem>,
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the compiled contracts cannot read this store ({} problem{}, mode {}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" },
            self.mode
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

/// Compares every writer schema `stored` holds with `compiled` in `mode`:
/// the problems, sorted. A stored fingerprint equal to the compiled one
/// needs no comparison; any other is compared with the rule book.
pub fn compare(stored: &[StoredContract], compiled: &[CompiledContract], mode: Mode) -> ContractReport {
    let mut by_name: BTreeMap<&str, BTreeMap<u32, &CompiledContract>> = BTreeMap::new();
    for c in compiled {
        by_name.entry(&c.name).or_default().insert(c.version, c);
    }
    let mut by_version: BTreeMap<(&str, u32), Vec<&StoredContract>> = BTreeMap::new();
    for s in stored {
        by_version.entry((&s.name, s.version)).or_default().push(s);
    }
    let mut problems = Vec::new();
    for ((name, version), rows) in by_version {
        let versions = by_name.get(name);
        let Some(c) = versions.and_then(|v| v.get(&version)) else {
            // Only registered and never used needs no reader.
            let Some(first_position) = rows.iter().filter_map(|s| s.first_position).min() else {
                continue;
            };
            problems.push(match versions {
                Some(versions) => ContractProblem::UnknownVersion {
                    contract: name.to_string(),
                    version,
                    first_position,
                    known: versions.keys().copied().collect(),
                },
                None => ContractProblem::UnknownContract {
                    contract: name.to_string(),
                    version,
                    first_position,
                },
            });
            continue;
        };
        let current = c
            .schema
            .as_deref()
            .and_then(|text| read_schema(text, SCHEMA_FORMAT).ok());
        // A version older than this build's newest is a `was` entry.
        let in_history = versions
            .and_then(|v| v.keys().next_back())
            .is_some_and(|newest| *newest > version);
        for s in rows.into_iter().filter(|s| s.fingerprint != c.fingerprint) {
            let old = match s.schema.as_deref().map(|text| read_schema(text, s.schema_format)) {
                Some(Ok(old)) => old,
                Some(Err(reason)) => {
                    problems.push(ContractProblem::UnreadableSchema {
                        contract: name.to_string(),
                        version,
                        fingerprint: s.fingerprint.clone(),
                        reason,
                    });
                    continue;
                }
                None => {
                    problems.push(mismatch(s, c));
                    continue;
                }
            };
            let Some(new) = &current else {
                problems.push(mismatch(s, c));
                continue;
            };
            let noun = match old.get("kind").and_then(serde_json::Value::as_str) {
                Some("command") => "command",
                _ => "event",
            };
            // A `was` entry whose own fields changed is rewritten history,
            // as the lint reports it, whatever the change; one whose fields
            // are as stored but uses a changed type is compared field by
            // field.
            if in_history {
                use treaty_compat::shape::{collapsed, message_fields};
                let (old_fields, new_fields) = (message_fields(&old), message_fields(new));
                if collapsed(&old_fields) != collapsed(&new_fields) {
                    problems.push(ContractProblem::Incompatible {
                        contract: name.to_string(),
                        version,
                        stored: s.fingerprint.clone(),
                        compiled: c.fingerprint.clone(),
                        finding: Finding {
                            rule: treaty_compat::Rule::HistoryRewritten,
                            path: String::new(),
                            message: format!("`was v{version}` of {noun} `{name}` differs from the stored v{version}"),
                        },
                    });
                    continue;
                }
            }
            // As for the lint, only errors break: a warning (a changed
            // default) is the lint's to show, and does not stop a start.
            for change in treaty_compat::breaking(&old, new, mode) {
                problems.push(ContractProblem::Incompatible {
                    contract: name.to_string(),
                    version,
                    stored: s.fingerprint.clone(),
                    compiled: c.fingerprint.clone(),
                    finding: Finding {
                        rule: change.rule,
                        path: change.path.to_string(),
                        message: change.message(noun, name, version),
                    },
                });
            }
        }
    }
    problems.sort_by(|a, b| a.contract_version().cmp(&b.contract_version()));
    ContractReport {
        mode: mode.as_str(),
        problems,
    }
}

fn mismatch(s: &StoredContract, c: &CompiledContract) -> ContractProblem {
    ContractProblem::FingerprintMismatch {
        contract: s.name.clone(),
        version: s.version,
        stored: s.fingerprint.clone(),
        compiled: c.fingerprint.clone(),
    }
}

/// The schema `event` carries, to record with its fingerprint, once it
/// is known to describe it.
///
/// # Errors
///
/// [`AppendError::InvalidContract`] when the schema does not hash to the
/// event's fingerprint, is not a canonical message schema, or describes
/// another contract or version: recorded, it would misdescribe every
/// event written under that fingerprint.
pub(crate) fn schema_to_record(event: &NewEvent) -> Result<Option<&str>, AppendError> {
    let Some(schema) = &event.schema else {
        return Ok(None);
    };
    let shown = super::validate::Shown;
    let problem = if !schema.has_fingerprint(&event.fingerprint) {
        Some(format!(
            "its schema does not hash to its fingerprint {}; fill both from the generated contract \
             (`NewEvent::from_contract`)",
            shown(&event.fingerprint)
        ))
    } else {
        match read_schema(schema.text(), SCHEMA_FORMAT) {
            Err(reason) => Some(reason.replacen("its schema is corrupt", "its schema cannot be recorded", 1)),
            Ok(json) => {
                let name = json.get("name").and_then(serde_json::Value::as_str);
                let version = json.get("version").and_then(serde_json::Value::as_u64);
                (name != Some(event.contract.as_str()) || version != Some(u64::from(event.contract_version))).then(
                    || {
                        format!(
                            "its schema describes {} v{}, not the event's contract; fill both from the generated \
                             contract (`NewEvent::from_contract`)",
                            shown(name.unwrap_or("no contract")),
                            version.map_or("?".to_string(), |v| v.to_string())
                        )
                    },
                )
            }
        }
    };
    match problem {
        None => Ok(Some(schema.text())),
        Some(reason) => Err(AppendError::InvalidContract {
            id: Some(event.id),
            contract: event.contract.clone(),
            version: event.contract_version,
            reason,
        }),
    }
}

/// Judges `event`, whose fingerprint the store does not hold for its
/// version, against `stored`, the writer schemas it holds for that
/// version, as [`register_contracts`] judges a build, in `mode`: the row
/// to record when the event's schema is compatible with every one of
/// them.
///
/// # Errors
///
/// - [`AppendError::IncompatibleSchema`] with every finding;
/// - [`AppendError::FingerprintMismatch`] when the event carries no
///   schema, or a stored fingerprint has none: the change cannot be
///   checked;
/// - [`AppendError::InvalidContract`] when the event's schema cannot be
///   recorded ([`schema_to_record`]).
pub(crate) fn admit_changed(
    stored: &[StoredContract],
    event: &NewEvent,
    mode: Mode,
) -> Result<CompiledContract, AppendError> {
    let mismatch = || AppendError::FingerprintMismatch {
        contract: event.contract.clone(),
        version: event.contract_version,
        stored: stored
            .iter()
            .find(|s| s.fingerprint != event.fingerprint)
            .map(|s| s.fingerprint.clone())
            .unwrap_or_default(),
        appended: event.fingerprint.clone(),
    };
    let Some(schema) = schema_to_record(event)? else {
        return Err(mismatch());
    };
    let row = CompiledContract {
        name: event.contract.clone(),
        version: event.contract_version,
        fingerprint: event.fingerprint.clone(),
        schema: Some(schema.to_string()),
    };
    let report = compare(stored, std::slice::from_ref(&row), mode);
    if report.problems.is_empty() {
        return Ok(row);
    }
    if report
        .problems
        .iter()
        .all(|p| matches!(p, ContractProblem::FingerprintMismatch { .. }))
    {
        return Err(mismatch());
    }
    Err(AppendError::IncompatibleSchema {
        id: event.id,
        contract: event.contract.clone(),
        version: event.contract_version,
        appended: event.fingerprint.clone(),
        mode: report.mode,
        problems: report.problems,
    })
}

/// Judges the fingerprints an append uses for the first time for one
/// contract version, `first_uses` (an event of each, in byte order of
/// fingerprint), none of them among `stored`, the rows the registry holds
/// for the version. As every backend judges an append: the first
/// fingerprint of a version with no row is recorded with the schema its
/// event carries ([`schema_to_record`]); every other is judged against
/// the rows before it, those stored and those of this append
/// ([`admit_changed`]). The rows to record, in that order.
///
/// # Errors
///
/// The first fingerprint refused, as [`admit_changed`] refuses it.
pub(crate) fn admit_first_uses<'e>(
    mut stored: Vec<StoredContract>,
    first_uses: impl IntoIterator<Item = &'e NewEvent>,
    mode: Mode,
) -> Result<Vec<CompiledContract>, AppendError> {
    let mut admitted = Vec::new();
    for event in first_uses {
        let row = if stored.is_empty() {
            CompiledContract {
                name: event.contract.clone(),
                version: event.contract_version,
                fingerprint: event.fingerprint.clone(),
                schema: schema_to_record(event)?.map(str::to_string),
            }
        } else {
            stored.sort_by(|a, b| registry_order(a).cmp(&registry_order(b)));
            admit_changed(&stored, event, mode)?
        };
        stored.push(StoredContract {
            name: row.name.clone(),
            version: row.version,
            fingerprint: row.fingerprint.clone(),
            schema: row.schema.clone(),
            schema_format: SCHEMA_FORMAT,
            first_position: None,
            first_seen: None,
        });
        admitted.push(row);
    }
    Ok(admitted)
}

/// The order of [`EventStore::contracts`]: by name and version, then the
/// fingerprints in use by their first position, then those only
/// registered.
pub(crate) fn registry_order(c: &StoredContract) -> (&str, u32, bool, Option<u64>, &str) {
    (
        &c.name,
        c.version,
        c.first_position.is_none(),
        c.first_position,
        &c.fingerprint,
    )
}

/// Checks that `compiled` can read everything in `store`, in the store's
/// mode ([`EventStore::compatibility`]), without writing.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem, or a read error.
pub async fn check_contracts(store: &impl EventStore, compiled: &[CompiledContract]) -> Result<(), RegisterError> {
    check_contracts_in(store, compiled, store.compatibility()).await
}

/// [`check_contracts`] in `mode` rather than the store's.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem, or a read error.
pub async fn check_contracts_in(
    store: &impl EventStore,
    compiled: &[CompiledContract],
    mode: Mode,
) -> Result<(), RegisterError> {
    let report = compare(&store.contracts().await?, compiled, mode);
    if report.problems.is_empty() {
        Ok(())
    } else {
        crate::metrics::registry_refused_start();
        Err(RegisterError::Mismatch(report))
    }
}

/// Checks the store like [`check_contracts`], then records the compiled
/// contract versions (with their schemas) in it: a fingerprint found
/// compatible with those stored for its version is recorded next to
/// them, and appends with it go through. Call it before a service starts;
/// refuse to start when it fails.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem; read or write errors.
pub async fn register_contracts(store: &impl EventStore, compiled: &[CompiledContract]) -> Result<(), RegisterError> {
    register_contracts_in(store, compiled, store.compatibility()).await
}

/// [`register_contracts`] in `mode` rather than the store's.
///
/// # Errors
///
/// [`RegisterError::Mismatch`] listing every problem; read or write errors.
pub async fn register_contracts_in(
    store: &impl EventStore,
    compiled: &[CompiledContract],
    mode: Mode,
) -> Result<(), RegisterError> {
    check_contracts_in(store, compiled, mode).await?;
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

    /// A mode named in a configuration is one of the rule book's; any
    /// other name is an error that names it.
    #[test]
    fn modes_are_read_by_name() {
        assert_eq!(parse_mode("backward"), Ok(Mode::Backward));
        assert_eq!(parse_mode(" full "), Ok(Mode::Full));
        let unknown = parse_mode("sideways").unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown compatibility mode `sideways`; expected backward, forward or full"
        );
        assert!(parse_mode("back\u{1b}ward")
            .unwrap_err()
            .to_string()
            .contains("\\u{1b}"));
    }

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
