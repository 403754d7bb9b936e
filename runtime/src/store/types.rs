//! The values that go into and come out of an event store.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::contract::{decode_as, Contract, DecodeError, EncodeError, Event, WriterSchema};
use crate::types::{Timestamp, Uuid};

/// The longest stream name a store accepts, in bytes.
pub const MAX_STREAM_NAME: usize = 512;

/// The name of a stream, such as `factory-0190c4c2-...`.
///
/// Valid names are 1 to [`MAX_STREAM_NAME`] bytes, contain no control
/// characters and do not start with `$`, which is reserved for the store's
/// own streams.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamName(String);

/// A stream name that breaks the rules of [`StreamName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream name {name:?}: {reason}")]
pub struct InvalidStreamName {
    /// The rejected name (cut to 80 characters).
    pub name: String,
    /// Which rule it breaks.
    pub reason: &'static str,
}

impl StreamName {
    /// Checks and wraps a name.
    ///
    /// # Errors
    ///
    /// When the name is empty, too long, has control characters or starts
    /// with `$`.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidStreamName> {
        let name = name.into();
        StreamName::check(&name)?;
        Ok(StreamName(name))
    }

    /// Checks a name without wrapping it, for readers that check a row
    /// on one thread and build its event on another
    /// ([`StreamName::checked`]).
    pub(crate) fn check(name: &str) -> Result<(), InvalidStreamName> {
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_STREAM_NAME {
            Some("it is longer than 512 bytes")
        } else if name.chars().any(char::is_control) {
            Some("it contains control characters")
        } else if name.starts_with('$') {
            Some("names starting with `$` are reserved for the store")
        } else {
            None
        };
        match reason {
            None => Ok(()),
            Some(reason) => Err(InvalidStreamName {
                name: name.chars().take(80).collect(),
                reason,
            }),
        }
    }

    /// Wraps a name that passed [`StreamName::check`].
    pub(crate) fn checked(name: String) -> StreamName {
        StreamName(name)
    }

    /// The stream of one aggregate instance: `{category}-{id}`.
    ///
    /// # Errors
    ///
    /// When the result is not a valid name.
    pub fn for_aggregate(category: &str, id: impl fmt::Display) -> Result<Self, InvalidStreamName> {
        StreamName::new(format!("{category}-{id}"))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StreamName {
    type Error = InvalidStreamName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        StreamName::new(name)
    }
}

impl From<StreamName> for String {
    fn from(name: StreamName) -> String {
        name.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the appender believes the stream's version is: the optimistic
/// concurrency check of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist, at any version.
    StreamExists,
    /// The stream's last event must have this version (the first event of
    /// a stream is version 1). `Exact(0)` means the stream has no events,
    /// so an aggregate loaded at version `n` (0 when new) appends with
    /// `Exact(n)`.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream whose last version is `actual` (`None`: no stream)
    /// satisfies the expectation.
    pub fn admits(self, actual: Option<u64>) -> bool {
        match self {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::StreamExists => actual.is_some(),
            ExpectedVersion::Exact(n) => actual.unwrap_or(0) == n,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::StreamExists => f.write_str("an existing stream"),
            ExpectedVersion::Exact(n) => write!(f, "version {n}"),
        }
    }
}

/// Context stored with every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// When the event was recorded by the application.
    pub timestamp: Timestamp,
    /// The conversation the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Anything else the application wants to keep.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Metadata {
    /// Metadata stamped now, with no correlation, causation or headers.
    pub fn now() -> Self {
        Metadata {
            timestamp: Timestamp::now(),
            correlation_id: None,
            causation_id: None,
            headers: BTreeMap::new(),
        }
    }

    /// Reads metadata a store keeps as JSON; when `headers` is false its
    /// headers are skipped unread, what replaying a stream needs
    /// ([`EventStore::replay_stream`](super::EventStore::replay_stream)).
    pub(crate) fn from_stored_json(json: &str, headers: bool) -> serde_json::Result<Metadata> {
        if headers {
            return serde_json::from_str(json);
        }
        /// [`Metadata`] but for its headers, which serde passes over as an
        /// unknown field, allocating nothing.
        #[derive(Deserialize)]
        struct WithoutHeaders {
            timestamp: Timestamp,
            #[serde(default)]
            correlation_id: Option<Uuid>,
            #[serde(default)]
            causation_id: Option<Uuid>,
        }
        let read: WithoutHeaders = serde_json::from_str(json)?;
        Ok(Metadata {
            timestamp: read.timestamp,
            correlation_id: read.correlation_id,
            causation_id: read.causation_id,
            headers: BTreeMap::new(),
        })
    }
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata::now()
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The event's id. Appending an event whose id is already stored is a
    /// retry, answered with the original result.
    pub id: Uuid,
    /// The contract name, such as `factory.CarProduced`.
    pub contract: String,
    /// The contract version the payload was written at.
    pub contract_version: u32,
    /// The fingerprint of that contract version.
    pub fingerprint: String,
    /// The JSON payload.
    pub payload: Vec<u8>,
    /// Context.
    pub metadata: Metadata,
    /// The canonical schema `fingerprint` is the hash of, when the writer
    /// has it ([`NewEvent::from_contract`] and event sets fill it from the
    /// generated code). A store records it the first time it sees the
    /// fingerprint. When the store holds the version under other
    /// fingerprints only (the contract changed in place), it checks this
    /// schema against the stored ones with the rules of `treaty lint`, in
    /// its mode, and records it when compatible; an event without a schema
    /// is then refused, as the change cannot be checked.
    pub schema: Option<WriterSchema>,
}

impl NewEvent {
    /// An event from a generated contract, with a new time-ordered id.
    ///
    /// # Errors
    ///
    /// When the contract cannot be encoded.
    pub fn from_contract<E: Event>(event: &E, metadata: Metadata) -> Result<Self, EncodeError> {
        Ok(NewEvent {
            id: Uuid::now_v7(),
            contract: E::NAME.to_string(),
            contract_version: E::VERSION,
            fingerprint: E::FINGERPRINT.to_string(),
            payload: event.encode()?,
            metadata,
            schema: WriterSchema::of::<E>(),
        })
    }
}

/// The id of the `index`th event (from 0) that handling message `message`
/// appends: the same for every delivery of the message, so the append that
/// records the events also records, in the same transaction, that the
/// message was handled, and a second append of them is recognized as a
/// retry.
pub fn message_event_id(message: Uuid, index: usize) -> Uuid {
    let hash = xxhash_rust::const_xxh3::xxh3_128_with_seed(message.as_bytes(), index as u64 + 1);
    Uuid::new_v8(hash.to_be_bytes())
}

/// Where an event is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventLocation {
    /// Its stream.
    pub stream: StreamName,
    /// Its version in the stream.
    pub version: u64,
    /// Its global position.
    pub position: u64,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The event's id.
    pub id: Uuid,
    /// The stream it belongs to.
    pub stream: StreamName,
    /// Its version in the stream, from 1.
    pub version: u64,
    /// Its position in the whole store, from 1, without gaps.
    pub position: u64,
    /// The contract name.
    pub contract: String,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The fingerprint of that contract version when it was written.
    pub fingerprint: String,
    /// The JSON payload.
    pub payload: Vec<u8>,
    /// Context.
    pub metadata: Metadata,
}

impl RecordedEvent {
    /// Reads the payload as contract `C`, upcasting earlier versions.
    ///
    /// # Errors
    ///
    /// When the event is of another contract, or its version cannot be
    /// read by `C`.
    pub fn decode<C: Contract>(&self) -> Result<C, DecodeError> {
        decode_as::<C>(&self.contract, self.contract_version, &self.payload)
    }

    /// Whether the event is of contract `C`.
    pub fn is<C: Contract>(&self) -> bool {
        self.contract == C::NAME
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppendResult {
    /// The stream's version after the append: the last appended event's.
    pub stream_version: u64,
    /// The global position of the first appended event.
    pub first_position: u64,
    /// The global position of the last appended event.
    pub last_position: u64,
}

/// Which way to read a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Oldest first, from a version up.
    Forward,
    /// Newest first, from a version down.
    Backward,
}
