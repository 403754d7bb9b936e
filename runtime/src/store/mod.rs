//! The event store: append-only streams of events, one global order, and
//! reads that stream instead of collecting whole histories in memory.
//!
//! [`EventStore`] is the contract every backend meets; the conformance
//! suite in `runtime/tests/store_conformance.rs` checks each backend
//! against the same assertions. Backends: [`MemoryStore`] for tests,
//! [`SqliteStore`], the embedded default, and `PostgresStore` (feature
//! `postgres`, on by default) for many writers on many machines.

mod error;
mod memory;
mod paging;
#[cfg(feature = "postgres")]
mod postgres;
pub mod registry;
mod rules;
mod sqlite;
mod sqlite_page;
pub(crate) mod sqlite_shared;
mod types;
pub(crate) mod validate;

use std::future::Future;

use futures::stream::BoxStream;

use registry::{CompiledContract, StoredContract};

use crate::types::Uuid;

pub use error::{AppendError, ReadError};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresConfig, PostgresStore};
pub use rules::DEFAULT_MAX_EVENT_BYTES;
pub use sqlite::{SqliteConfig, SqliteStore};
pub use types::{
    message_event_id, AppendResult, Direction, EventLocation, ExpectedVersion, InvalidStreamName, Metadata, NewEvent,
    RecordedEvent, StreamName, MAX_STREAM_NAME,
};
pub use validate::{is_printable, FINGERPRINT_LEN, MAX_CONTRACT_NAME, MAX_HEADER_NAME, MAX_JSON_DEPTH};

// The settings of the stores' configurations, where their users look for
// them; they belong to `storage`, shared with the other durable components.
pub use crate::storage::Durability;
#[cfg(feature = "postgres")]
pub use crate::storage::PostgresOptions;

/// Events read from a store, one at a time. Backends fetch them in pages,
/// so memory use does not grow with the number of events read.
pub type EventStream = BoxStream<'static, Result<RecordedEvent, ReadError>>;

/// An event store.
///
/// Every stream is an ordered list of events with versions 1, 2, 3, …;
/// every event also has a global position, 1, 2, 3, … over the whole store,
/// without gaps, in the order appends became visible. Reads never return
/// an event before every event with a lower position is readable.
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream`, all or nothing, if the stream's
    /// version satisfies `expected`.
    ///
    /// Retrying an append whose events (by id) are all stored already, in
    /// this stream and in this order, returns the original result and
    /// writes nothing, so a caller that lost the answer may simply retry.
    ///
    /// # Errors
    ///
    /// [`AppendError::WrongExpectedVersion`] when another writer appended
    /// first; [`AppendError::IdConflict`] when ids are stored but not as
    /// this exact append; validation errors, the same on every backend,
    /// for anything the append carries that breaks the rules of
    /// docs/limits.md (empty appends, repeated ids, invalid contract names,
    /// versions, fingerprints or header names, events too large with their
    /// metadata, payloads that are not strict JSON);
    /// [`AppendError::Unavailable`] when the backend could not be reached
    /// for now (retry the same append: nothing was written, or the retry
    /// will find it written); [`AppendError::Storage`] when it failed in a
    /// way a retry will not fix. [`AppendError::is_retryable`] tells them
    /// apart.
    fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<AppendResult, AppendError>> + Send;

    /// The version of the stream's last event, `None` when it has none.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn stream_version(&self, stream: &StreamName) -> impl Future<Output = Result<Option<u64>, ReadError>> + Send;

    /// Where the event with `id` is stored, `None` when no event has that
    /// id. One index lookup.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn locate(&self, id: Uuid) -> impl Future<Output = Result<Option<EventLocation>, ReadError>> + Send;

    /// The position of the last event in the store, 0 when it is empty.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn head(&self) -> impl Future<Output = Result<u64, ReadError>> + Send;

    /// The events of `stream`: with [`Direction::Forward`] those with
    /// version `>= from` oldest first, with [`Direction::Backward`] those
    /// with version `<= from` newest first (`u64::MAX` reads from the end).
    /// The stream ends after the last matching event.
    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream;

    /// The events of `stream` with version `>= from`, oldest first, to
    /// rebuild state from: what [`EventStore::read_stream`] gives forward,
    /// except that a backend may leave each event's
    /// [`Metadata::headers`] empty. Every other field is as stored.
    ///
    /// An aggregate replays its stream for every command it is given, and
    /// reads nothing of the events but their payloads, versions and
    /// causation; once traces are exported every event carries its
    /// `traceparent` among its headers, and decoding those strings into a
    /// map, then freeing them, was most of what reading an event back cost
    /// (docs/benchmarks.md, "Replays without headers"). The default reads
    /// the events whole; the SQLite and PostgreSQL stores leave the
    /// headers out, the in-memory store keeps them.
    fn replay_stream(&self, stream: &StreamName, from: u64) -> EventStream {
        self.read_stream(stream, from, Direction::Forward)
    }

    /// Every event with position `>= from`, in position order, up to the
    /// head at the time each page is read; then the stream ends.
    fn read_all(&self, from: u64) -> EventStream;

    /// Like [`EventStore::read_all`], but when it has caught up with the
    /// head it waits for new events instead of ending. It ends only with
    /// an error, or when the store is dropped.
    fn subscribe(&self, from: u64) -> EventStream;

    /// Every writer schema the store has seen, one per contract version
    /// and fingerprint (used by its events or recorded with
    /// [`EventStore::record_contracts`]), sorted by name, version and first
    /// use, with the position of the first event using each and when it
    /// was first seen. Cheap: it reads the registry, never the events.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn contracts(&self) -> impl Future<Output = Result<Vec<StoredContract>, ReadError>> + Send;

    /// Records compiled contract versions and their schemas, without
    /// checking them (that is [`registry::register_contracts`]'s part): a
    /// fingerprint new for its version is recorded next to those stored,
    /// and one recorded already gains the schema if it had none.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn record_contracts(
        &self,
        contracts: Vec<CompiledContract>,
    ) -> impl Future<Output = Result<(), AppendError>> + Send;

    /// The compatibility mode in which [`registry::register_contracts`]
    /// compares this build's schemas with the stored ones: by default
    /// [`registry::Mode::Backward`] (this code reads every stored shape);
    /// the stores' configurations set it.
    fn compatibility(&self) -> registry::Mode {
        registry::Mode::Backward
    }
}
