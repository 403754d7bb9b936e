//! Event-sourced aggregates.
//!
//! - [`Aggregate`] holds the domain logic: `decide` turns a command into
//!   events or a domain error, `apply` folds an event into the state.
//! - [`EventSet`] moves an aggregate's events in and out of the store. The
//!   generated `FooEvent` enums implement it through the
//!   `#[treaty::event_set]` attribute, which other enums of events can use
//!   too.
//! - [`Repository`] loads an aggregate by streaming its events, decides,
//!   appends with optimistic concurrency and retries after conflicts.
//! - [`SnapshotStore`] keeps snapshots of state so long streams load from
//!   the latest snapshot instead of their first event.
//!
//! An aggregate instance lives in the stream `{CATEGORY}-{id}`; its
//! version is the version of the last event applied, 0 when it has none.

mod error;
mod refusal;
mod repository;
mod snapshot;

use std::fmt;

use crate::contract::{ContractInfo, DecodeError, EncodeError, WriterSchema};
use crate::store::{InvalidStreamName, Metadata, NewEvent, RecordedEvent, StreamName};
use crate::types::Uuid;

pub use error::{ExecuteError, LoadError};
pub use refusal::{DowncastError, Refusal};
pub use repository::{Executed, Loaded, MessageExecution, Repository, SnapshotOutcome, DEFAULT_MAX_ATTEMPTS};
pub use snapshot::{
    MemorySnapshots, NoSnapshots, Snapshot, SnapshotError, SnapshotPolicy, SnapshotStore, SqliteSnapshots,
};

/// The domain logic of one kind of aggregate, such as a bank account.
///
/// The implementing type is the aggregate's state. [`Default`] is the
/// state before any event, so a new aggregate and a loaded one go through
/// the same code: start from the default and apply every stored event.
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The identity of one instance, usually the generated id type. Its
    /// `Display` is the stream name's suffix, so it must not change once
    /// events are stored.
    type Id: fmt::Display + Clone + Send + Sync + 'static;

    /// The commands the aggregate decides on, usually the generated
    /// `FooCommand` enum.
    type Command: Send + Sync + 'static;

    /// The events the aggregate records, usually the generated `FooEvent`
    /// enum.
    type Event: EventSet;

    /// Why a command is refused, in the language of the domain (for
    /// example "insufficient funds"). The repository returns it unchanged
    /// and appends nothing.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The prefix of the aggregate's stream names: an instance with id
    /// `42` lives in `{CATEGORY}-42`. Changing it orphans stored streams.
    const CATEGORY: &'static str;

    /// Decides what a command does to the current state: the events that
    /// record it (none when there is nothing to do), or a domain error.
    ///
    /// It must not change anything outside its result and must give the
    /// same answer for the same state and command, because the repository
    /// calls it again on a newer state when another writer appended first.
    ///
    /// # Errors
    ///
    /// The domain error that refuses the command.
    fn decide(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// The domain error as the bus sends it to whoever asked
    /// (`AskError::Refused`). The default
    /// sends its text only; for an error that implements `Serialize`,
    /// return [`Refusal::of(error)`](Refusal::of), which sends
    /// its JSON too, so the asker reads back the typed error with
    /// [`Refusal::downcast`](Refusal::downcast).
    fn refusal(error: &Self::Error) -> Refusal {
        Refusal::new(error.to_string())
    }

    /// Folds one event into the state.
    ///
    /// It must accept every event `decide` ever produced, including ones
    /// stored by earlier builds (they arrive upcast to the current
    /// version), and so it cannot fail: a past fact is never refused.
    fn apply(&mut self, event: &Self::Event);

    /// The stream of the instance `id`: `{CATEGORY}-{id}`.
    ///
    /// # Errors
    ///
    /// When the name is not a valid stream name, for example because the
    /// id's text contains control characters.
    fn stream_name(id: &Self::Id) -> Result<StreamName, InvalidStreamName> {
        StreamName::for_aggregate(Self::CATEGORY, id)
    }
}

/// A closed set of event contracts: what the repository needs to write an
/// aggregate's events to a store and read them back.
///
/// Each value is one member contract; the methods answer for that member.
/// Generated `FooEvent` enums implement it with the `#[treaty::event_set]`
/// attribute, which derives everything from the members'
/// [`Contract`](crate::Contract) impls; use it for any enum whose variants
/// each hold one event contract, `Name(Name)`, such as the events of
/// several aggregates that a projection consumes.
pub trait EventSet: Sized + Clone + Send + Sync + 'static {
    /// The member contracts, in declaration order. Projections fold their
    /// fingerprints into their own and skip events of other contracts
    /// without decoding them.
    const CONTRACTS: &'static [ContractInfo];

    /// Whether `contract` names a member.
    fn is_member(contract: &str) -> bool {
        Self::CONTRACTS.iter().any(|member| member.name == contract)
    }

    /// The member's contract name, such as `"bank.Deposited"`.
    fn contract_name(&self) -> &'static str;

    /// The member's current contract version, the one `encode` writes.
    fn contract_version(&self) -> u32;

    /// The fingerprint of the member's current version, stored with the
    /// event so readers can tell which schema wrote it.
    fn contract_fingerprint(&self) -> &'static str;

    /// The member's JSON at its current version.
    ///
    /// # Errors
    ///
    /// Only when a field's own `Serialize` fails.
    fn encode(&self) -> Result<Vec<u8>, EncodeError>;

    /// Reads a stored event by contract name and version, upcasting
    /// earlier versions to the current type.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownContract`] when no member has that name, and
    /// the member's own decode errors otherwise.
    fn decode(contract: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError>;

    /// The event ready to append, with a new time-ordered id and
    /// `metadata`.
    ///
    /// # Errors
    ///
    /// When the event cannot be encoded.
    fn to_new_event(&self, metadata: Metadata) -> Result<NewEvent, EncodeError> {
        Ok(NewEvent {
            id: Uuid::now_v7(),
            contract: self.contract_name().to_string(),
            contract_version: self.contract_version(),
            fingerprint: self.contract_fingerprint().to_string(),
            payload: self.encode()?,
            metadata,
            schema: Self::CONTRACTS
                .iter()
                .find(|member| member.name == self.contract_name())
                .and_then(|member| {
                    WriterSchema::of_version(member, self.contract_version(), self.contract_fingerprint())
                }),
        })
    }

    /// Reads a recorded event as a member of the set.
    ///
    /// # Errors
    ///
    /// Like [`EventSet::decode`].
    fn from_recorded(event: &RecordedEvent) -> Result<Self, DecodeError> {
        Self::decode(&event.contract, event.contract_version, &event.payload)
    }
}
