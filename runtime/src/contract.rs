//! The trait every generated command and event implements, and the error
//! of reading one.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Whether a contract is a command or an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContractKind {
    /// A request to do something.
    Command,
    /// Something that happened.
    Event,
}

/// One version of a contract and the fingerprint of its canonical schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContractVersion {
    /// The version number.
    pub version: u32,
    /// The fingerprint of that version's canonical schema.
    pub fingerprint: &'static str,
}

/// A contract's name, kind and history, without its type: what a store
/// needs to check that this build can read it. Each generated namespace
/// module lists its commands and events in a `CONTRACTS` constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractInfo {
    /// `namespace.Name`.
    pub name: &'static str,
    /// Command or event.
    pub kind: ContractKind,
    /// Every version this build reads, newest first.
    pub history: &'static [ContractVersion],
    /// The packed canonical schemas of the generated module that declares
    /// the contract (`treaty_compat::packed`), every version of it among
    /// them; empty when nothing declares them.
    pub schemas: &'static str,
}

impl ContractInfo {
    /// The information of contract `C`.
    pub const fn of<C: Contract>() -> Self {
        ContractInfo {
            name: C::NAME,
            kind: C::KIND,
            history: C::HISTORY,
            schemas: C::SCHEMAS,
        }
    }

    /// The canonical schema of version `version` as this build reads it,
    /// or `None` when the build carries no schema for it.
    ///
    /// # Errors
    ///
    /// When the packed schemas cannot be read: written by a newer Treaty
    /// than the runtime, or corrupt.
    pub fn schema(&self, version: u32) -> Result<Option<serde_json::Value>, treaty_compat::packed::PackedError> {
        if self.schemas.is_empty() {
            return Ok(None);
        }
        treaty_compat::packed::Packed::parse(self.schemas)?.message(self.name, version)
    }
}

/// A command or event generated from a contract.
///
/// The constants identify the contract on the wire and in the store; the
/// runtime compares [`Contract::HISTORY`] with what is stored before it
/// starts. [`Contract::decode`] reads the JSON of any version listed in the
/// history and upcasts it to the current type.
pub trait Contract: Sized + Serialize + DeserializeOwned {
    /// `namespace.Name`, such as `"factory.CarProduced"`.
    const NAME: &'static str;
    /// The current version.
    const VERSION: u32;
    /// The fingerprint of the current version's canonical schema.
    const FINGERPRINT: &'static str;
    /// Every version this code can read, newest (the current one) first.
    const HISTORY: &'static [ContractVersion];
    /// Command or event.
    const KIND: ContractKind;
    /// The packed canonical schemas of the generated module that declares
    /// this contract (see [`ContractInfo::schemas`]).
    const SCHEMAS: &'static str;

    /// Reads `payload`, the JSON of version `version`, and upcasts it to
    /// the current version.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownVersion`] when `version` is not in the
    /// history, [`DecodeError::Json`] when the payload does not match
    /// that version's shape.
    fn decode(version: u32, payload: &[u8]) -> Result<Self, DecodeError>;

    /// The JSON of the current version.
    ///
    /// # Errors
    ///
    /// Only when a field's own `Serialize` fails, which generated types
    /// never do; types mapped with `extern_type` might.
    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        serde_json::to_vec(self).map_err(|source| EncodeError {
            contract: Self::NAME,
            source,
        })
    }
}

/// A [`Contract`] that is a command.
pub trait Command: Contract {}

/// A [`Contract`] that is an event.
pub trait Event: Contract {}

/// Why a payload could not be read as a contract.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload names a version this code does not know.
    #[error("contract {contract} has no version {version}; this build reads versions {known}: {hint}")]
    UnknownVersion {
        /// The contract.
        contract: &'static str,
        /// The version asked for.
        version: u32,
        /// The versions this build reads, comma separated.
        known: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The payload names a contract this code does not know.
    #[error("unknown contract {contract} (version {version}); the known contracts are: {known}")]
    UnknownContract {
        /// The name asked for.
        contract: String,
        /// The version asked for.
        version: u32,
        /// The names this decoder knows, comma separated.
        known: String,
    },
    /// The payload is not valid JSON for the version's shape.
    #[error("cannot read {contract} v{version}: {source}")]
    Json {
        /// The contract.
        contract: &'static str,
        /// The version whose shape was expected.
        version: u32,
        /// What serde_json found, with line and column.
        #[source]
        source: serde_json::Error,
    },
}

impl DecodeError {
    /// The error for a version missing from `history`.
    pub fn unknown_version(contract: &'static str, version: u32, history: &[ContractVersion]) -> Self {
        let mut known: Vec<u32> = history.iter().map(|v| v.version).collect();
        known.sort_unstable();
        let newer = known.last().is_none_or(|newest| version > *newest);
        DecodeError::UnknownVersion {
            contract,
            version,
            known: known.iter().map(|v| format!("v{v}")).collect::<Vec<_>>().join(", "),
            hint: if newer {
                "the data was written by a newer build; deploy a build whose contracts know this version"
            } else {
                "restore this version's shape to the contract's history with `was vN (...)`"
            },
        }
    }

    /// The error for a contract name no decoder arm matched.
    pub fn unknown_contract(contract: &str, version: u32, known: &[&str]) -> Self {
        DecodeError::UnknownContract {
            contract: contract.to_string(),
            version,
            known: known.join(", "),
        }
    }
}

/// A contract could not be written as JSON.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {contract}: {source}")]
pub struct EncodeError {
    /// The contract.
    pub contract: &'static str,
    /// What serde_json reported.
    #[source]
    pub source: serde_json::Error,
}

/// Reads a payload labelled `contract` at `version` as contract `C`,
/// refusing one labelled with another contract.
pub(crate) fn decode_as<C: Contract>(contract: &str, version: u32, payload: &[u8]) -> Result<C, DecodeError> {
    if contract != C::NAME {
        return Err(DecodeError::unknown_contract(contract, version, &[C::NAME]));
    }
    C::decode(version, payload)
}

/// Reads one version's JSON shape; generated `decode` functions call this.
#[doc(hidden)]
pub fn decode_json<T: DeserializeOwned>(
    contract: &'static str,
    version: u32,
    payload: &[u8],
) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|source| DecodeError::Json {
        contract,
        version,
        source,
    })
}
