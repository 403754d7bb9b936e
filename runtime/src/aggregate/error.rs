//! One error enum per repository operation.

use crate::contract::{DecodeError, EncodeError};
use crate::store::{AppendError, InvalidStreamName, ReadError, StreamName};

/// Why an aggregate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The id does not make a valid stream name.
    #[error(transparent)]
    InvalidStream(#[from] InvalidStreamName),
    /// The store failed while the stream was read.
    #[error("cannot read stream {stream}: {source}")]
    Read {
        /// The stream.
        stream: StreamName,
        /// What the store reported.
        #[source]
        source: ReadError,
    },
    /// A stored event is not one this build's aggregate can read: another
    /// contract, a version it does not know, or a payload that does not
    /// match its version's shape.
    #[error("cannot read event {version} of stream {stream} as {contract} v{contract_version}: {source}")]
    Decode {
        /// The stream.
        stream: StreamName,
        /// The event's version in the stream.
        version: u64,
        /// The event's contract name.
        contract: String,
        /// The contract version its payload was written at.
        contract_version: u32,
        /// What decoding reported.
        #[source]
        source: DecodeError,
    },
}

/// Why a command was not carried out. Nothing was appended, except for
/// [`ExecuteError::Append`] with a storage failure, after which the events
/// may or may not be stored (loading the aggregate tells).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The aggregate refused the command: the domain error of
    /// [`Aggregate::decide`](super::Aggregate::decide).
    #[error("the command was refused: {0}")]
    Rejected(#[source] E),
    /// Other writers appended to the stream before every attempt.
    #[error("stream {stream} changed under each of {attempts} attempts; try again later")]
    Conflict {
        /// The stream.
        stream: StreamName,
        /// How many times the command was decided and appended.
        attempts: u32,
    },
    /// The stream was not at the version the caller expected
    /// ([`Repository::execute_message_expecting`](super::Repository::execute_message_expecting)),
    /// or moved past it before the append; nothing was decided or
    /// appended.
    #[error("stream {stream} is at version {actual}, not the expected {expected}")]
    WrongVersion {
        /// The stream.
        stream: StreamName,
        /// The version the caller expected.
        expected: u64,
        /// The stream's version as last read.
        actual: u64,
    },
    /// Loading the aggregate, before deciding or to catch up after a
    /// conflict, failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// An event the aggregate decided on cannot be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The store refused or failed the append for a reason other than a
    /// concurrent writer.
    #[error("cannot append to stream {stream}: {source}")]
    Append {
        /// The stream.
        stream: StreamName,
        /// What the store reported.
        #[source]
        source: AppendError,
    },
}
