//! Process managers: long-running workflows that react to events with
//! commands, exactly once.
//!
//! A [`ProcessManager`] says which events it handles ([`ProcessManager::Event`]),
//! which instance an event belongs to ([`ProcessManager::correlate`]), what
//! each instance remembers ([`ProcessManager::State`]) and what it does with
//! an event ([`ProcessManager::handle`]): commands to send, timeouts to
//! schedule or cancel, and completion, collected in [`Effects`].
//!
//! [`ProcessRunner`] runs one manager: it reads the event store from the
//! manager's checkpoint, and for each event it handles writes the
//! instance's new state, the checkpoint, the commands (as envelopes, an
//! outbox) and the timeouts in one transaction of a [`ProcessStore`]
//! ([`SqliteProcessStore`] in the event store's SQLite file,
//! `PostgresProcessStore` in its PostgreSQL schema). The outbox is then
//! sent through the bus and each row deleted once the transport took it.
//! A command's message id is derived from the event (or timeout) that
//! caused it and the manager's name, so a crash between sending and
//! deleting sends it again with the same id, which the handler's
//! deduplication absorbs: nothing is lost and nothing has its effect twice.
//!
//! A process manager is never replayed: its checkpoint only moves forward,
//! whatever its code becomes, because replaying would send its commands
//! again. What may change is the shape of its state, through
//! [`ProcessManager::STATE_VERSION`] and [`ProcessManager::migrate`]; a
//! runner refuses to start while stored states have a version the manager
//! cannot migrate (docs/messaging.md, "Process managers").

mod instance;
mod outbox;
#[cfg(feature = "postgres")]
mod postgres;
mod runner;
pub mod spec;
mod sqlite;
mod store;
mod timeouts;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::aggregate::EventSet;
use crate::bus::{Envelope, WriterSchema};
use crate::contract::{Command, EncodeError};
use crate::store::RecordedEvent;
use crate::telemetry::trace::{TRACEPARENT, TRACESTATE};
use crate::types::Uuid;

#[cfg(feature = "postgres")]
pub use postgres::PostgresProcessStore;
pub use runner::{ProcessConfig, ProcessRunner, RunningProcess};
pub use sqlite::SqliteProcessStore;
pub use store::{
    Commit, DueTimeout, InstanceChange, InstanceState, OutboxRow, ProcessStore, ScheduledTimeout, StoredInstance,
};

/// A process manager: a workflow with one instance per correlation key,
/// reacting to events with commands.
///
/// `handle` and `timeout` must decide only from their arguments: the
/// runner calls them once per event or timeout, and records what they
/// decided in one transaction with the state.
pub trait ProcessManager: Send + Sync + 'static {
    /// The manager's name, which keys its checkpoint, states, outbox and
    /// timeouts in the process store, and into which its commands' message
    /// ids are hashed. Changing it starts a new manager from the beginning
    /// of the store.
    const NAME: &'static str;

    /// The version of [`State`](Self::State)'s stored shape. Raise it when
    /// the shape changes, and list the earlier versions still stored in
    /// [`MIGRATES_FROM`](Self::MIGRATES_FROM).
    const STATE_VERSION: u32 = 1;

    /// The earlier state versions [`migrate`](Self::migrate) reads. A
    /// runner refuses to start while a stored state has a version neither
    /// current nor listed here.
    const MIGRATES_FROM: &'static [u32] = &[];

    /// The events it handles, usually an `#[treaty::event_set]` enum of
    /// events of several aggregates. Events of other contracts are skipped
    /// without being decoded.
    type Event: EventSet;

    /// What one instance remembers between events. A new instance starts
    /// from `Default`.
    type State: Serialize + DeserializeOwned + Default + Send + Sync + 'static;

    /// The instance `event` belongs to (an order id, a car's VIN), or
    /// `None` when this manager ignores the event. The key is stored as
    /// text; keep it stable.
    fn correlate(&self, event: &Self::Event) -> Option<String>;

    /// Reacts to `event` for the instance whose state is `state`: changes
    /// the state and records commands, timeouts and completion in
    /// `effects`.
    fn handle(&self, state: &mut Self::State, event: &Self::Event, effects: &mut Effects);

    /// Reacts to the timeout `name` the instance scheduled, now due. It is
    /// delivered once, unless cancelled or the instance completed first.
    fn timeout(&self, state: &mut Self::State, name: &str, effects: &mut Effects) {
        let _ = (state, name, effects);
    }

    /// Reads a state stored at `version`, one of
    /// [`MIGRATES_FROM`](Self::MIGRATES_FROM), as the current
    /// [`State`](Self::State). The runner calls it when it loads such a
    /// state and stores the result at the current version.
    ///
    /// # Errors
    ///
    /// When the stored JSON cannot be read; the runner stops with the
    /// error, naming the manager, the instance and the version.
    fn migrate(&self, version: u32, state: serde_json::Value) -> Result<Self::State, String> {
        let _ = state;
        Err(format!(
            "{} has no migration of state version {version} to {}",
            Self::NAME,
            Self::STATE_VERSION
        ))
    }
}

/// What handling one event or timeout decided besides the new state: the
/// commands to send, the timeouts to schedule and cancel, and whether the
/// instance is complete.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    commands: Vec<OutgoingCommand>,
    scheduled: Vec<(String, Duration)>,
    cancelled: Vec<String>,
    completed: bool,
    failed: Option<String>,
}

/// A command a process manager sends, encoded at its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingCommand {
    /// The contract name.
    pub contract: &'static str,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The fingerprint of that version.
    pub fingerprint: &'static str,
    /// The command's JSON.
    pub payload: serde_json::Value,
    /// The canonical schema of that version, which its envelope carries.
    pub schema: Option<WriterSchema>,
}

impl Effects {
    /// No effects yet.
    pub fn new() -> Self {
        Effects::default()
    }

    /// Sends `command` once the state change is committed. Commands go out
    /// in the order they were added.
    pub fn send<C: Command>(&mut self, command: &C) -> &mut Self {
        match command.encode().and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|source| EncodeError {
                contract: C::NAME,
                source,
            })
        }) {
            Ok(payload) => self.commands.push(OutgoingCommand {
                contract: C::NAME,
                contract_version: C::VERSION,
                fingerprint: C::FINGERPRINT,
                payload,
                schema: WriterSchema::of::<C>(),
            }),
            Err(error) => {
                self.failed.get_or_insert_with(|| error.to_string());
            }
        }
        self
    }

    /// Schedules the timeout `name` for this instance, due `after` from
    /// now. Scheduling a name that is pending replaces it.
    pub fn schedule(&mut self, name: impl Into<String>, after: Duration) -> &mut Self {
        let name = name.into();
        self.cancelled.retain(|n| *n != name);
        self.scheduled.retain(|(n, _)| *n != name);
        self.scheduled.push((name, after));
        self
    }

    /// Cancels the pending timeout `name` of this instance, if any.
    pub fn cancel(&mut self, name: impl Into<String>) -> &mut Self {
        let name = name.into();
        self.scheduled.retain(|(n, _)| *n != name);
        self.cancelled.push(name);
        self
    }

    /// Ends the instance: its state is dropped, its pending timeouts are
    /// cancelled, and later events correlated to it are skipped.
    pub fn complete(&mut self) -> &mut Self {
        self.completed = true;
        self
    }

    /// The commands to send, in order.
    pub fn commands(&self) -> &[OutgoingCommand] {
        &self.commands
    }

    /// The timeouts scheduled, with their delays.
    pub fn scheduled(&self) -> &[(String, Duration)] {
        &self.scheduled
    }

    /// The timeouts cancelled.
    pub fn cancelled(&self) -> &[String] {
        &self.cancelled
    }

    /// Whether the instance completed.
    pub fn is_complete(&self) -> bool {
        self.completed
    }

    /// Why a command could not be encoded, if one could not.
    fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}

/// Why a process manager could not run, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// The process store failed; the runner retries.
    #[error("process store at {location}: {source}")]
    Storage {
        /// Where the store is.
        location: String,
        /// What failed.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Another runner of the same manager moved its checkpoint, an
    /// instance's state or a timeout first; the runner starts again from
    /// what is stored.
    #[error(
        "process manager {manager}: another runner wrote its checkpoint, an instance or a timeout first; run one runner per manager"
    )]
    Conflict {
        /// The manager.
        manager: String,
    },
    /// The event store could not be read; the runner retries.
    #[error("process manager {manager}: cannot read the event store: {source}")]
    Read {
        /// The manager.
        manager: String,
        /// What failed.
        source: crate::store::ReadError,
    },
    /// An event the manager handles could not be decoded by this build.
    #[error(
        "process manager {manager}: cannot read event {contract} v{version} at position {position}: {reason}; \
         the manager stopped at its checkpoint before it"
    )]
    Decode {
        /// The manager.
        manager: String,
        /// The event's position.
        position: u64,
        /// Its contract.
        contract: String,
        /// Its contract version.
        version: u32,
        /// What the decoder said.
        reason: String,
    },
    /// An instance's stored state cannot be read or migrated.
    #[error("process manager {manager}: instance {key} has a state of version {version} it cannot read: {reason}")]
    State {
        /// The manager.
        manager: String,
        /// The instance.
        key: String,
        /// The stored state version.
        version: u32,
        /// Why.
        reason: String,
    },
    /// Stored states have versions the manager neither uses nor migrates.
    #[error(
        "process manager {manager} has stored states of version(s) {stored:?}, but its STATE_VERSION is {current} and \
         it migrates from {migrates:?}: add the versions to MIGRATES_FROM and read them in `migrate` \
         (a process manager is never replayed: its commands would be sent again)"
    )]
    StateVersion {
        /// The manager.
        manager: String,
        /// The stored versions it cannot read.
        stored: Vec<u32>,
        /// Its `STATE_VERSION`.
        current: u32,
        /// Its `MIGRATES_FROM`.
        migrates: Vec<u32>,
    },
    /// A command or the state could not be encoded.
    #[error("process manager {manager}: {reason}")]
    Encode {
        /// The manager.
        manager: String,
        /// What failed.
        reason: String,
    },
}

impl ProcessError {
    /// Whether running again from the stored checkpoint may pass it.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProcessError::Storage { .. } | ProcessError::Conflict { .. } | ProcessError::Read { .. }
        )
    }
}

/// What caused a process manager's step: an event, or a timeout.
#[derive(Debug, Clone)]
pub(crate) struct Cause {
    /// The event's id, or the timeout's.
    pub(crate) id: Uuid,
    /// The conversation it belongs to.
    pub(crate) correlation_id: Uuid,
    /// The event's W3C trace context (`traceparent`, `tracestate`), as its
    /// metadata carries it; none for a timeout.
    pub(crate) trace: BTreeMap<String, String>,
}

impl Cause {
    pub(crate) fn event(event: &RecordedEvent) -> Self {
        let trace = [TRACEPARENT, TRACESTATE]
            .into_iter()
            .filter_map(|name| {
                let value = event.metadata.headers.get(name)?;
                Some((name.to_string(), value.clone()))
            })
            .collect();
        Cause {
            id: event.id,
            correlation_id: event.metadata.correlation_id.unwrap_or(event.id),
            trace,
        }
    }
}

/// The seeds that keep a cause's command ids and timeout ids apart.
const COMMAND_SEED: u64 = 0x7072_6f63_636d_0000;
const TIMEOUT_SEED: u64 = 0x7072_6f63_746d_0000;

/// The id of something the manager `manager` derived from `cause`: the
/// same for every run, different for every manager, cause, kind and index.
fn derived_id(manager: &str, cause: Uuid, seed: u64, index: usize) -> Uuid {
    let mut bytes = Vec::with_capacity(16 + manager.len());
    bytes.extend_from_slice(cause.as_bytes());
    bytes.extend_from_slice(manager.as_bytes());
    let hash = xxhash_rust::const_xxh3::xxh3_128_with_seed(&bytes, seed.wrapping_add(index as u64));
    Uuid::new_v8(hash.to_be_bytes())
}

/// The message id of the `index`th command (from 0) that `manager` sends
/// in reaction to the event or timeout `cause`.
pub fn command_message_id(manager: &str, cause: Uuid, index: usize) -> Uuid {
    derived_id(manager, cause, COMMAND_SEED, index)
}

/// The id of the `index`th timeout (from 0) that `manager` schedules in
/// reaction to `cause`.
pub(crate) fn timeout_id(manager: &str, cause: Uuid, index: usize) -> Uuid {
    derived_id(manager, cause, TIMEOUT_SEED, index)
}

/// The envelope of a command a manager sends. Its headers are the cause's
/// trace context: the outbox sends it in a span that continues the
/// cause's trace.
pub(crate) fn envelope(manager: &str, cause: &Cause, index: usize, command: &OutgoingCommand) -> Envelope {
    Envelope {
        id: command_message_id(manager, cause.id, index),
        contract: command.contract.to_string(),
        contract_version: command.contract_version,
        fingerprint: command.fingerprint.to_string(),
        payload: serde_json::to_vec(&command.payload).expect("a JSON value always serializes"),
        correlation_id: Some(cause.correlation_id),
        causation_id: Some(cause.id),
        attempt: 1,
        headers: cause.trace.clone(),
        reply_to: None,
        sent_at: crate::types::Timestamp::now(),
        schema: command.schema.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_differ_by_manager_cause_kind_and_index_and_repeat() {
        let cause = Uuid::now_v7();
        let a = command_message_id("a", cause, 0);
        assert_eq!(a, command_message_id("a", cause, 0));
        assert_ne!(a, command_message_id("b", cause, 0));
        assert_ne!(a, command_message_id("a", cause, 1));
        assert_ne!(a, command_message_id("a", Uuid::now_v7(), 0));
        assert_ne!(a, timeout_id("a", cause, 0));
        assert_ne!(a, crate::store::message_event_id(cause, 0));
    }

    #[test]
    fn scheduling_again_replaces_and_cancelling_withdraws() {
        let mut effects = Effects::new();
        effects
            .schedule("remind", Duration::from_secs(1))
            .schedule("remind", Duration::from_secs(2))
            .schedule("expire", Duration::from_secs(3))
            .cancel("expire");
        assert_eq!(effects.scheduled(), &[("remind".to_string(), Duration::from_secs(2))]);
        assert_eq!(effects.cancelled(), &["expire".to_string()]);
    }
}
