//! One error enum per store operation.

use super::registry::ContractProblem;
use super::types::{ExpectedVersion, InvalidStreamName, StreamName};
use crate::types::Uuid;

/// Why an append failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// Another writer appended first: reload and decide again.
    #[error("stream {stream} was expected at {expected} but is at {}", actual.map_or("no stream".to_string(), |v| format!("version {v}")))]
    WrongExpectedVersion {
        /// The stream.
        stream: StreamName,
        /// What the appender expected.
        expected: ExpectedVersion,
        /// What the stream is at (`None`: it does not exist).
        actual: Option<u64>,
    },
    /// Some of the event ids are stored already, but not as exactly this
    /// append (another stream, or only part of the batch): a retry of a
    /// different append, or ids reused by mistake.
    #[error("event {id} is already stored in stream {stored_in} at version {version}; an append's event ids must be new, or be an exact retry")]
    IdConflict {
        /// The id.
        id: Uuid,
        /// Where it is stored.
        stored_in: StreamName,
        /// At which version.
        version: u64,
    },
    /// An append must carry at least one event.
    #[error("an append to {stream} must carry at least one event")]
    Empty {
        /// The stream.
        stream: StreamName,
    },
    /// A payload and its metadata together are larger than the store
    /// accepts.
    #[error("event {id} ({contract}) is {size} bytes with its metadata, over the limit of {limit} bytes; store large data elsewhere and reference it")]
    TooLarge {
        /// The event.
        id: Uuid,
        /// Its contract.
        contract: String,
        /// Its size.
        size: usize,
        /// The store's limit.
        limit: usize,
    },
    /// A payload is not strict JSON: not UTF-8 (inside strings too), a
    /// lone surrogate escape, a number beyond `f64`, nesting deeper than
    /// [`MAX_JSON_DEPTH`](super::MAX_JSON_DEPTH), or not JSON at all.
    #[error("event {id} ({contract}) has a payload that is not JSON: {reason}")]
    InvalidPayload {
        /// The event.
        id: Uuid,
        /// Its contract.
        contract: String,
        /// What the JSON parser said.
        reason: String,
    },
    /// An event's contract name, version or fingerprint, or a contract
    /// version given to `record_contracts`, breaks the store's rules
    /// (docs/limits.md).
    #[error("{}contract {contract:?} v{version}: {reason}", id.map(|id| format!("event {id} has an invalid ")).unwrap_or_else(|| "invalid ".into()))]
    InvalidContract {
        /// The event, when the contract came with one.
        id: Option<Uuid>,
        /// The contract name (cut to 80 characters).
        contract: String,
        /// The contract version.
        version: u32,
        /// Which rule it breaks.
        reason: String,
    },
    /// An event's metadata breaks the store's rules: a header name that is
    /// empty, too long or not made of token characters.
    #[error("event {id} has invalid metadata: {reason}")]
    InvalidMetadata {
        /// The event.
        id: Uuid,
        /// Which rule it breaks, naming the header.
        reason: String,
    },
    /// The append carries the same event id twice. Ids are what makes an
    /// append idempotent, so each event of an append needs its own.
    #[error("the append carries event {id} more than once; each event of an append needs an id of its own")]
    DuplicateEventId {
        /// The repeated id.
        id: Uuid,
    },
    /// The store holds this contract version with another fingerprint
    /// and does not know this one: the contract changed in place, and no
    /// build registered the new schema after checking it against the
    /// stored ones.
    #[error("{contract} v{version} is stored with fingerprint {stored}, but this event has {appended}, a schema the store's registry does not know: the contract changed in place; start the build that writes it with `register_contracts`, which records the change when it is compatible with the stored schemas, or declare it as a new version with `was` history")]
    FingerprintMismatch {
        /// The contract.
        contract: String,
        /// The version.
        version: u32,
        /// The fingerprint recorded in the store.
        stored: String,
        /// The fingerprint of the rejected event.
        appended: String,
    },
    /// The event's contract version changed in place, and the change
    /// breaks a reader of a schema the store holds for that version, by
    /// the rules of `treaty lint` in the store's mode: storing it would
    /// leave events some reader cannot read.
    #[error("{}", incompatible(.id, .contract, .version, .appended, .mode, .problems))]
    IncompatibleSchema {
        /// The first event of the append with the changed schema.
        id: Uuid,
        /// The contract.
        contract: String,
        /// The version.
        version: u32,
        /// The fingerprint of the event's schema.
        appended: String,
        /// The mode the schemas were compared in.
        mode: &'static str,
        /// Every finding, each with its rule, field path and help.
        problems: Vec<ContractProblem>,
    },
    /// The stream name is not valid.
    #[error(transparent)]
    InvalidStream(#[from] InvalidStreamName),
    /// The store was opened to be read only.
    #[error("the store at {location} was opened read-only; open it with `open` to write to it")]
    ReadOnly {
        /// Where the store is.
        location: String,
    },
    /// The backend could not be reached or gave up for now (a lost
    /// connection, a server shutting down, a serialization failure or
    /// deadlock, a busy database): nothing was written, or the retry will
    /// find it written. Retry the same append, with the same event ids.
    #[error("storage unavailable (retry with the same event ids): {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend failed in a way retrying the same append will not fix.
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn incompatible(
    id: &Uuid,
    contract: &str,
    version: &u32,
    appended: &str,
    mode: &str,
    problems: &[ContractProblem],
) -> String {
    use super::validate::Shown;
    let mut text = format!(
        "event {id} changes {} v{version} in place (fingerprint {}) in a way mode {mode} does not allow next to the \
         stored schemas; nothing was written:",
        Shown(contract),
        Shown(appended)
    );
    for problem in problems {
        text.push_str("\n  - ");
        text.push_str(&problem.to_string());
    }
    text
}

impl AppendError {
    /// Whether retrying the same append, unchanged and with the same event
    /// ids, can succeed: only when the backend was unavailable
    /// ([`AppendError::Unavailable`]). Every other error says something
    /// about the append itself; a [`AppendError::WrongExpectedVersion`]
    /// needs a reload and a new decision, not a retry.
    pub fn is_retryable(&self) -> bool {
        matches!(self, AppendError::Unavailable(_))
    }
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A stored row cannot be read back; the row is left as it is.
    #[error("event at position {position} cannot be read: {reason}")]
    Corrupt {
        /// Its global position.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend could not be reached or gave up for now; reading again
    /// from the last position read can succeed.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend failed.
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ReadError {
    /// Whether reading again (from the last position read) can succeed:
    /// only when the backend was unavailable. A corrupt row stays corrupt.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ReadError::Unavailable(_))
    }
}
