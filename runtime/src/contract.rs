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

/// The canonical schema (compact, key-sorted JSON) of the contract
/// version a message or event was written with. A command's envelope
/// carries it as its `schema` (a JSON object), an integration event as
/// its `treaty-schema` header (text), and an appended event in
/// [`NewEvent::schema`](crate::store::NewEvent::schema): each receiver
/// that does not know the writer's fingerprint checks this schema against
/// what it reads with, by the rules of `treaty lint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterSchema(std::sync::Arc<str>);

impl WriterSchema {
    /// The schema of `C` at its current version, when its generated code
    /// carries one (hand-written contracts carry none). Unpacked once per
    /// contract version and process.
    pub fn of<C: Contract>() -> Option<WriterSchema> {
        WriterSchema::of_version(&ContractInfo::of::<C>(), C::VERSION, C::FINGERPRINT)
    }

    /// The schema of version `version` of `contract`, whose fingerprint
    /// this build knows as `fingerprint`: for code that holds a contract's
    /// [`ContractInfo`] rather than its type, such as an event set.
    /// Unpacked once per contract version and process.
    pub fn of_version(contract: &ContractInfo, version: u32, fingerprint: &'static str) -> Option<WriterSchema> {
        use std::collections::HashMap;
        use std::sync::{OnceLock, RwLock};
        // Keyed by fingerprint alone: it is the hash of the schema, name
        // and version included.
        static UNPACKED: OnceLock<RwLock<HashMap<&'static str, Option<WriterSchema>>>> = OnceLock::new();
        let unpacked = UNPACKED.get_or_init(Default::default);
        if let Some(known) = unpacked.read().unwrap_or_else(|e| e.into_inner()).get(fingerprint) {
            return known.clone();
        }
        // An unreadable packed text is the generated code's fault, and
        // receivers then treat the message as one without a schema: it is
        // read where its fingerprint is known, and refused with the
        // reason elsewhere.
        let schema = contract
            .schema(version)
            .ok()
            .flatten()
            .map(|json| WriterSchema(json.to_string().into()));
        unpacked
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(fingerprint, schema.clone());
        schema
    }

    /// A schema received as text, such as the `treaty-schema` header of
    /// an integration event. It is trusted only once it hashes to the
    /// fingerprint it came with ([`WriterSchema::has_fingerprint`]).
    ///
    /// # Errors
    ///
    /// When the text is not JSON.
    pub fn parse(text: &str) -> Result<WriterSchema, serde_json::Error> {
        serde_json::from_str::<&serde_json::value::RawValue>(text)?;
        Ok(WriterSchema(text.into()))
    }

    /// The canonical text.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// Whether the text hashes to `fingerprint`, as the language computes
    /// fingerprints: only then does it describe what was written under
    /// that fingerprint.
    pub fn has_fingerprint(&self, fingerprint: &str) -> bool {
        treaty_compat::fingerprint(&self.0) == fingerprint
    }
}

impl Serialize for WriterSchema {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let raw: &serde_json::value::RawValue = serde_json::from_str(&self.0).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for WriterSchema {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(WriterSchema(raw.get().into()))
    }
}
