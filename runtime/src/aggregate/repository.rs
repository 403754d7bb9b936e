//! Loading, deciding and appending, with optimistic concurrency.

use std::marker::PhantomData;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::field::Empty;
use tracing::Instrument as _;

use super::error::{ExecuteError, LoadError};
use super::snapshot::{NoSnapshots, Snapshot, SnapshotError, SnapshotPolicy, SnapshotStore};
use super::{Aggregate, EventSet};
use crate::store::{
    message_event_id, AppendError, AppendResult, Direction, EventStore, ExpectedVersion, Metadata, RecordedEvent,
    StreamName,
};
use crate::types::Uuid;

/// How many times [`Repository::execute`] decides and appends before it
/// gives up with [`ExecuteError::Conflict`], unless configured otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Loads aggregates of type `A` from the event store `S`, executes
/// commands on them and appends the resulting events.
///
/// Each execution loads the aggregate (from a snapshot when configured),
/// calls [`Aggregate::decide`], and appends the events expecting the
/// stream to be at the version it loaded. When another writer appended
/// first, it reads the new events, decides again on the newer state and
/// retries, up to a configurable number of attempts. Nothing is cached
/// between calls, so any number of repositories, in any number of
/// processes, may work on the same store.
pub struct Repository<A: Aggregate, S: EventStore, N: SnapshotStore = NoSnapshots> {
    store: S,
    max_attempts: u32,
    snapshots: Option<Snapshots<A, N>>,
    _aggregate: PhantomData<fn() -> A>,
}

/// The snapshot settings of a repository, with the state's (de)serializer
/// captured where `A: Serialize + DeserializeOwned` is known, so that
/// repositories without snapshots do not need those bounds.
struct Snapshots<A, N> {
    store: N,
    policy: SnapshotPolicy,
    encode: fn(&A) -> serde_json::Result<String>,
    decode: fn(&str) -> serde_json::Result<A>,
}

impl<A: Aggregate, S: EventStore + Clone, N: SnapshotStore + Clone> Clone for Repository<A, S, N> {
    fn clone(&self) -> Self {
        Repository {
            store: self.store.clone(),
            max_attempts: self.max_attempts,
            snapshots: self.snapshots.as_ref().map(|s| Snapshots {
                store: s.store.clone(),
                policy: s.policy,
                encode: s.encode,
                decode: s.decode,
            }),
            _aggregate: PhantomData,
        }
    }
}

/// An aggregate as loaded.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The state after every event of the stream.
    pub state: A,
    /// The stream version of the last event applied, 0 for a new
    /// aggregate.
    pub version: u64,
    /// The version of the snapshot loading started from, if one was used.
    pub snapshot: Option<u64>,
    /// How many events were read and applied (after the snapshot, if one
    /// was used).
    pub replayed: u64,
}

/// What an executed command did.
#[derive(Debug)]
pub struct Executed<A: Aggregate> {
    /// The events decided on and appended, in order; empty when the
    /// aggregate decided that nothing needed to happen.
    pub events: Vec<A::Event>,
    /// The store's answer to the append, `None` when nothing was appended.
    pub appended: Option<AppendResult>,
    /// The stream's version after the command: the last appended event's,
    /// or the loaded version when nothing was appended.
    pub stream_version: u64,
    /// The state with the events applied.
    pub state: A,
    /// How many times the command was decided: 1, plus one per conflict
    /// with another writer.
    pub attempts: u32,
    /// Whether a snapshot was saved after the append.
    pub snapshot: SnapshotOutcome,
}

/// Where the span of an execution finds the ids of its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ids {
    /// On the execution's span: nothing around it has them.
    OnThisSpan,
    /// On the bus delivery's span around it.
    OnParent,
}

/// What [`Repository::execute_message`] did.
pub enum MessageExecution<A: Aggregate> {
    /// The command was decided now (and its events appended, if any).
    Executed(Executed<A>),
    /// The message's events were stored already: it was handled before,
    /// and nothing was decided or appended now.
    AlreadyHandled {
        /// The aggregate's stream.
        stream: StreamName,
        /// The events the message produced then.
        events: Vec<RecordedEvent>,
    },
}

/// The events caused by one message, collected while loading.
struct Handled {
    message: Option<Uuid>,
    events: Vec<RecordedEvent>,
    /// Whether some of `events` were replayed, so may lack their
    /// metadata's headers ([`EventStore::replay_stream`]): they are read
    /// again whole before they are answered.
    replayed: bool,
}

impl Handled {
    fn watching(message: Option<Uuid>) -> Self {
        Handled {
            message,
            events: Vec::new(),
            replayed: false,
        }
    }
}

/// Whether [`Repository::execute`] saved a snapshot.
#[derive(Debug)]
#[non_exhaustive]
pub enum SnapshotOutcome {
    /// Snapshots are not configured, or not enough events have been
    /// appended since the last one.
    NotDue,
    /// A snapshot of the new state was saved at this stream version.
    Saved(u64),
    /// Saving failed. The command succeeded all the same: snapshots are a
    /// cache, and the next due save tries again.
    Failed(SnapshotError),
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository over `store`, without snapshots, retrying up to
    /// [`DEFAULT_MAX_ATTEMPTS`] times.
    pub fn new(store: S) -> Self {
        Repository {
            store,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            snapshots: None,
            _aggregate: PhantomData,
        }
    }
}

impl<A: Aggregate, S: EventStore, N: SnapshotStore> Repository<A, S, N> {
    /// The same repository, deciding and appending at most `attempts`
    /// times per command (at least once).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The same repository, loading from snapshots kept in `snapshots`
    /// and saving new ones as `policy` says.
    pub fn with_snapshots<M: SnapshotStore>(self, snapshots: M, policy: SnapshotPolicy) -> Repository<A, S, M>
    where
        A: Serialize + DeserializeOwned,
    {
        Repository {
            store: self.store,
            max_attempts: self.max_attempts,
            snapshots: Some(Snapshots {
                store: snapshots,
                policy: SnapshotPolicy {
                    every: policy.every.max(1),
                    ..policy
                },
                encode: serde_json::to_string::<A>,
                decode: |state| serde_json::from_str::<A>(state),
            }),
            _aggregate: PhantomData,
        }
    }

    /// The event store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Loads the aggregate `id`: from its snapshot when one is configured
    /// and usable, then applying each later event as it is read, so
    /// memory use does not grow with the stream's length.
    ///
    /// # Errors
    ///
    /// When the id makes no valid stream name, the store fails, or a
    /// stored event cannot be decoded.
    pub async fn load(&self, id: &A::Id) -> Result<Loaded<A>, LoadError> {
        let stream = A::stream_name(id)?;
        self.load_stream(&stream, &mut Handled::watching(None)).await
    }

    /// Executes `command` on the aggregate `id`, with metadata stamped
    /// now and without correlation or causation ids.
    ///
    /// # Errors
    ///
    /// See [`Repository::execute_with`].
    pub async fn execute(&self, id: &A::Id, command: &A::Command) -> Result<Executed<A>, ExecuteError<A::Error>> {
        self.execute_with(id, command, Metadata::now()).await
    }

    /// Executes `command` on the aggregate `id`: loads it, decides, and
    /// appends the events, each with a copy of `metadata`, expecting the
    /// stream at the loaded version. After a conflict it reads the events
    /// appended meanwhile, decides again and retries.
    ///
    /// # Errors
    ///
    /// [`ExecuteError::Rejected`] with the domain error, and nothing
    /// appended; [`ExecuteError::Conflict`] when every attempt lost to
    /// another writer; load, encode and append errors otherwise.
    pub async fn execute_with(
        &self,
        id: &A::Id,
        command: &A::Command,
        metadata: Metadata,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        match self
            .execute_inner(id, command, metadata, None, None, Ids::OnThisSpan)
            .await?
        {
            MessageExecution::Executed(executed) => Ok(executed),
            MessageExecution::AlreadyHandled { .. } => unreachable!("only messages are recognized as handled"),
        }
    }

    /// Executes a command delivered as message `message`, exactly once.
    ///
    /// Like [`Repository::execute_with`], but the events get ids derived
    /// from the message id ([`message_event_id`]) and the message id as
    /// their causation id. The append that records the events therefore
    /// records in the same transaction that the message was handled: when
    /// the message comes again, loading the aggregate finds its events and
    /// the command is not decided again.
    ///
    /// # Errors
    ///
    /// See [`Repository::execute_with`].
    pub async fn execute_message(
        &self,
        id: &A::Id,
        command: &A::Command,
        message: Uuid,
        mut metadata: Metadata,
    ) -> Result<MessageExecution<A>, ExecuteError<A::Error>> {
        metadata.causation_id = Some(message);
        self.execute_inner(id, command, metadata, Some(message), None, Ids::OnThisSpan)
            .await
    }

    /// [`Repository::execute_message`] for the bus's handler, inside the
    /// `treaty.bus.deliver` span of the message: that span has the ids
    /// (the message's, and the correlation id, the message's own when it
    /// has none; the events' causation is the message), so the execution's
    /// span leaves them out instead of formatting them again for every
    /// layer.
    pub(crate) async fn execute_delivered(
        &self,
        id: &A::Id,
        command: &A::Command,
        message: Uuid,
        mut metadata: Metadata,
    ) -> Result<MessageExecution<A>, ExecuteError<A::Error>> {
        metadata.causation_id = Some(message);
        self.execute_inner(id, command, metadata, Some(message), None, Ids::OnParent)
            .await
    }

    /// Like [`Repository::execute_message`], but only when the stream is
    /// at version `expected` (0: the aggregate has no events): the
    /// optimistic lock of a client that decided on what it saw at that
    /// version, such as an HTTP `If-Match`.
    ///
    /// A message handled before is recognized first, so a retry answers
    /// its original outcome even though the stream has moved on since.
    /// Otherwise, when the stream is at another version, or another writer
    /// appends first, nothing is decided again: the call ends with
    /// [`ExecuteError::WrongVersion`] and the stream's current version.
    ///
    /// # Errors
    ///
    /// [`ExecuteError::WrongVersion`], and those of
    /// [`Repository::execute_with`].
    pub async fn execute_message_expecting(
        &self,
        id: &A::Id,
        command: &A::Command,
        message: Uuid,
        mut metadata: Metadata,
        expected: u64,
    ) -> Result<MessageExecution<A>, ExecuteError<A::Error>> {
        metadata.causation_id = Some(message);
        self.execute_inner(id, command, metadata, Some(message), Some(expected), Ids::OnThisSpan)
            .await
    }

    async fn execute_inner(
        &self,
        id: &A::Id,
        command: &A::Command,
        metadata: Metadata,
        message: Option<Uuid>,
        expected: Option<u64>,
        ids: Ids,
    ) -> Result<MessageExecution<A>, ExecuteError<A::Error>> {
        let stream = A::stream_name(id).map_err(LoadError::from)?;
        // Each id is text to every layer (a string formatted and kept per
        // span), so it is recorded once per trace: here, unless the
        // delivery's span around this one has it.
        let ids_here = |id: Option<Uuid>| id.filter(|_| ids == Ids::OnThisSpan).map(tracing::field::display);
        let span = tracing::info_span!(
            "treaty.aggregate.execute",
            aggregate = A::CATEGORY,
            stream = %stream,
            // Known now, so given now: each field recorded later costs
            // every layer a call.
            message_id = ids_here(message),
            correlation_id = ids_here(metadata.correlation_id),
            causation_id = ids_here(metadata.causation_id),
            expected_version = expected,
            version = Empty,
            position = Empty,
            attempts = Empty,
            outcome = Empty,
        );
        let result = self
            .execute_attempts(stream, command, metadata, message, expected)
            .instrument(span.clone())
            .await;
        match &result {
            // One call for the fields of an outcome: each call costs every
            // layer a lookup of the span and a visit.
            Ok(MessageExecution::Executed(executed)) => {
                tracing::record_all!(
                    span,
                    outcome = "executed",
                    version = executed.stream_version,
                    attempts = executed.attempts,
                    position = executed.appended.as_ref().map(|appended| appended.last_position),
                );
            }
            Ok(MessageExecution::AlreadyHandled { events, .. }) => {
                let last = events.last();
                tracing::record_all!(
                    span,
                    outcome = "already handled",
                    version = last.map(|last| last.version),
                    position = last.map(|last| last.position),
                );
            }
            Err(ExecuteError::Rejected(_)) => {
                span.record("outcome", "rejected");
            }
            Err(_) => {
                span.record("outcome", "failed");
            }
        }
        result
    }

    async fn execute_attempts(
        &self,
        stream: StreamName,
        command: &A::Command,
        metadata: Metadata,
        message: Option<Uuid>,
        expected: Option<u64>,
    ) -> Result<MessageExecution<A>, ExecuteError<A::Error>> {
        let mut handled = Handled::watching(message);
        let mut loaded = self.load_stream(&stream, &mut handled).await?;
        if let (Some(message), Some(_)) = (message, loaded.snapshot) {
            // Events before the snapshot were not read, so the message may
            // have been handled among them: ask the store by id.
            handled.events = self.handled_events(&stream, message).await?;
            handled.replayed = false;
        }
        let mut attempts = 1;
        loop {
            if !handled.events.is_empty() {
                let events = if handled.replayed {
                    self.read_whole(&stream, handled.events).await?
                } else {
                    handled.events
                };
                return Ok(MessageExecution::AlreadyHandled { stream, events });
            }
            if let Some(expected) = expected.filter(|e| *e != loaded.version) {
                return Err(ExecuteError::WrongVersion {
                    stream,
                    expected,
                    actual: loaded.version,
                });
            }
            // The stream is the execution's, on the span around this one.
            let events = tracing::info_span!("treaty.aggregate.decide", version = loaded.version)
                .in_scope(|| loaded.state.decide(command))
                .map_err(ExecuteError::Rejected)?;
            if events.is_empty() {
                return Ok(MessageExecution::Executed(Executed {
                    events,
                    appended: None,
                    stream_version: loaded.version,
                    state: loaded.state,
                    attempts,
                    snapshot: SnapshotOutcome::NotDue,
                }));
            }
            let mut new_events = events
                .iter()
                .map(|event| event.to_new_event(metadata.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(message) = message {
                for (index, event) in new_events.iter_mut().enumerate() {
                    event.id = message_event_id(message, index);
                }
            }
            // The stream is the execution's, on the span around this one,
            // and so are the version and position the append reaches:
            // recorded here as well, they would cost every layer a call.
            let span = tracing::info_span!(
                "treaty.store.append",
                expected_version = loaded.version,
                events = new_events.len(),
            );
            let appending = self
                .store
                .append(&stream, ExpectedVersion::Exact(loaded.version), new_events)
                .instrument(span)
                .await;
            match appending {
                Ok(appended)
                    if message.is_some() && appended.stream_version != loaded.version + events.len() as u64 =>
                {
                    // The store answered with an earlier append of these
                    // very ids: another delivery of the message, decided on
                    // another state. What it recorded is the outcome.
                    let message = message.expect("checked above");
                    return Ok(MessageExecution::AlreadyHandled {
                        events: self.handled_events(&stream, message).await?,
                        stream,
                    });
                }
                Ok(appended) => {
                    for event in &events {
                        loaded.state.apply(event);
                    }
                    let snapshot = self
                        .save_snapshot_if_due(&stream, &loaded, appended.stream_version)
                        .await;
                    return Ok(MessageExecution::Executed(Executed {
                        events,
                        appended: Some(appended),
                        stream_version: appended.stream_version,
                        state: loaded.state,
                        attempts,
                        snapshot,
                    }));
                }
                Err(AppendError::WrongExpectedVersion { .. }) if expected.is_some() && attempts < self.max_attempts => {
                    // Another writer appended first, so the stream has
                    // left the expected version: read what it appended
                    // (perhaps this very message, through another
                    // delivery), and the top of the loop answers.
                    attempts += 1;
                    self.catch_up(&stream, &mut loaded, &mut handled).await?;
                }
                Err(AppendError::WrongExpectedVersion { .. }) if attempts < self.max_attempts => {
                    // `decide` left the state untouched, so it is still
                    // the state at `loaded.version`; only the events
                    // appended since need to be read. They may be this
                    // very message's, handled by a concurrent delivery.
                    attempts += 1;
                    self.catch_up(&stream, &mut loaded, &mut handled).await?;
                }
                Err(AppendError::WrongExpectedVersion { .. }) => {
                    return Err(ExecuteError::Conflict { stream, attempts });
                }
                // The derived ids are stored already, but not as this
                // append: another delivery of the message, decided on
                // another state, recorded more events than this one.
                Err(AppendError::IdConflict { .. }) if message.is_some() => {
                    let message = message.expect("checked above");
                    return Ok(MessageExecution::AlreadyHandled {
                        events: self.handled_events(&stream, message).await?,
                        stream,
                    });
                }
                Err(source) => return Err(ExecuteError::Append { stream, source }),
            }
        }
    }

    /// `replayed`, events of `stream` in version order, read again whole:
    /// a replay may have left out their headers.
    async fn read_whole(
        &self,
        stream: &StreamName,
        replayed: Vec<RecordedEvent>,
    ) -> Result<Vec<RecordedEvent>, LoadError> {
        let Some(first) = replayed.first() else {
            return Ok(replayed);
        };
        let mut events = self.store.read_stream(stream, first.version, Direction::Forward);
        let mut whole = Vec::with_capacity(replayed.len());
        while whole.len() < replayed.len() {
            let Some(recorded) = events.next().await else { break };
            let recorded = recorded.map_err(|source| LoadError::Read {
                stream: stream.clone(),
                source,
            })?;
            if recorded.version == replayed[whole.len()].version {
                whole.push(recorded);
            }
        }
        Ok(whole)
    }

    /// The events message `message` appended to `stream`, found by the id
    /// of its first event; empty when it appended none.
    async fn handled_events(&self, stream: &StreamName, message: Uuid) -> Result<Vec<RecordedEvent>, LoadError> {
        let read = |source| LoadError::Read {
            stream: stream.clone(),
            source,
        };
        let Some(first) = self.store.locate(message_event_id(message, 0)).await.map_err(read)? else {
            return Ok(Vec::new());
        };
        let mut events = self.store.read_stream(stream, first.version, Direction::Forward);
        let mut found = Vec::new();
        while let Some(recorded) = events.next().await {
            let recorded = recorded.map_err(read)?;
            if recorded.metadata.causation_id != Some(message) {
                break;
            }
            found.push(recorded);
        }
        Ok(found)
    }

    async fn load_stream(&self, stream: &StreamName, handled: &mut Handled) -> Result<Loaded<A>, LoadError> {
        let mut loaded = self.starting_point(stream).await;
        self.catch_up(stream, &mut loaded, handled).await?;
        if let Some(snapshot) = loaded.snapshot {
            if loaded.replayed == 0 && !self.stream_reaches(stream, snapshot).await? {
                // The snapshot covers events this store does not have: it
                // was saved next to another store, or this one was reset.
                // Only the events are the truth, so replay them all.
                loaded = Loaded {
                    state: A::default(),
                    version: 0,
                    snapshot: None,
                    replayed: 0,
                };
                handled.events.clear();
                self.catch_up(stream, &mut loaded, handled).await?;
            }
        }
        Ok(loaded)
    }

    /// Whether the stream has an event at `version`. Events read after a
    /// snapshot prove it already; this is asked only when there were none.
    async fn stream_reaches(&self, stream: &StreamName, version: u64) -> Result<bool, LoadError> {
        let actual = self
            .store
            .stream_version(stream)
            .await
            .map_err(|source| LoadError::Read {
                stream: stream.clone(),
                source,
            })?;
        Ok(actual.unwrap_or(0) >= version)
    }

    /// The state to replay from: the stream's snapshot when it is usable,
    /// otherwise the default state at version 0.
    async fn starting_point(&self, stream: &StreamName) -> Loaded<A> {
        let fresh = Loaded {
            state: A::default(),
            version: 0,
            snapshot: None,
            replayed: 0,
        };
        let Some(snapshots) = &self.snapshots else {
            return fresh;
        };
        // Every failure below falls back to a full replay: a snapshot is
        // a cache, and a broken cache must not stop the aggregate.
        let snapshot = match snapshots.store.load(stream).await {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => return fresh,
            Err(error) => {
                tracing::warn!(%stream, %error, "cannot load the snapshot; replaying every event");
                return fresh;
            }
        };
        if snapshot.state_version != snapshots.policy.state_version {
            tracing::debug!(
                %stream,
                found = snapshot.state_version,
                expected = snapshots.policy.state_version,
                "ignoring a snapshot of another state version"
            );
            return fresh;
        }
        match (snapshots.decode)(&snapshot.state) {
            Ok(state) => Loaded {
                state,
                version: snapshot.version,
                snapshot: Some(snapshot.version),
                replayed: 0,
            },
            Err(error) => {
                tracing::warn!(
                    %stream,
                    %error,
                    "cannot read the snapshot's state; replaying every event (bump the state version when the state type changes)"
                );
                fresh
            }
        }
    }

    /// Reads the events after `loaded.version` and applies each as it
    /// arrives.
    async fn catch_up(
        &self,
        stream: &StreamName,
        loaded: &mut Loaded<A>,
        handled: &mut Handled,
    ) -> Result<(), LoadError> {
        // Replayed: their headers are not needed to rebuild the state.
        let mut events = self.store.replay_stream(stream, loaded.version + 1);
        while let Some(recorded) = events.next().await {
            let recorded = recorded.map_err(|source| LoadError::Read {
                stream: stream.clone(),
                source,
            })?;
            let event = A::Event::from_recorded(&recorded).map_err(|source| LoadError::Decode {
                stream: stream.clone(),
                version: recorded.version,
                contract: recorded.contract.clone(),
                contract_version: recorded.contract_version,
                source,
            })?;
            loaded.state.apply(&event);
            loaded.version = recorded.version;
            loaded.replayed += 1;
            if handled.message.is_some() && recorded.metadata.causation_id == handled.message {
                handled.events.push(recorded);
                handled.replayed = true;
            }
        }
        Ok(())
    }

    async fn save_snapshot_if_due(&self, stream: &StreamName, loaded: &Loaded<A>, version: u64) -> SnapshotOutcome {
        let Some(snapshots) = &self.snapshots else {
            return SnapshotOutcome::NotDue;
        };
        if version.saturating_sub(loaded.snapshot.unwrap_or(0)) < snapshots.policy.every {
            return SnapshotOutcome::NotDue;
        }
        let state = match (snapshots.encode)(&loaded.state) {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(%stream, %error, "cannot serialize the state for a snapshot");
                return SnapshotOutcome::Failed(SnapshotError::Serialize(error));
            }
        };
        let snapshot = Snapshot {
            version,
            state_version: snapshots.policy.state_version,
            state,
        };
        match snapshots.store.save(stream, snapshot).await {
            Ok(()) => SnapshotOutcome::Saved(version),
            Err(error) => {
                tracing::warn!(%stream, %error, "cannot save the snapshot");
                SnapshotOutcome::Failed(error)
            }
        }
    }
}
