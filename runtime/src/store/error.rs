//! One error enum per store operation.

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
    /// A payload (or its metadata) is larger than the store accepts.
    #[error("event {id} ({contract}) is {size} bytes, over the limit of {limit} bytes; store large data elsewhere and reference it")]
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
    /// A payload is not JSON.
    #[error("event {id} ({contract}) has a payload that is not JSON: {reason}")]
    InvalidPayload {
        /// The event.
        id: Uuid,
        /// Its contract.
        contract: String,
        /// What the JSON parser said.
        reason: String,
    },
    /// The store holds events of this contract version with another
    /// fingerprint: the contract changed without a new version.
    #[error("{contract} v{version} is stored with fingerprint {stored}, but this event has {appended}: the contract changed without a new version; declare the change as a new version with `was` history")]
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
    /// The stream name is not valid.
    #[error(transparent)]
    InvalidStream(#[from] InvalidStreamName),
    /// The store was opened to be read only.
    #[error("the store at {location} was opened read-only; open it with `open` to write to it")]
    ReadOnly {
        /// Where the store is.
        location: String,
    },
    /// The backend failed; the append may be retried with the same ids.
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
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
    /// The backend failed.
    #[error("storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}
