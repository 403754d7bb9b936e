//! The runner: reads the event store from a manager's checkpoint, routes
//! each event it handles to its instance, delivers due timeouts, and
//! leaves sending to the outbox dispatcher.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use futures::{FutureExt, StreamExt};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::instance::Pending;
use super::outbox::dispatch;
use super::store::{Commit, ProcessStore};
use super::timeouts::fire_due;
use super::{Cause, ProcessError, ProcessManager};
use crate::aggregate::EventSet;
use crate::bus::{Bus, Quarantine, Transport};
use crate::store::{EventStore, ReadError, RecordedEvent};
use crate::types::Timestamp;

/// How a [`ProcessRunner`] works.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// How often the runner looks for timeouts when none it knows of is
    /// due sooner, and the outbox dispatcher for rows it was not told of.
    pub poll: Duration,
    /// The checkpoint moves with every event the manager handles; events it
    /// skips move it every `checkpoint_every` events (and at shutdown), so
    /// a restart reads at most that many skipped events again.
    pub checkpoint_every: u64,
    /// How long the runner waits before starting again from its stored
    /// checkpoint after a storage failure or a conflict.
    pub retry_delay: Duration,
    /// Outbox rows sent per read, and removed together once sent.
    pub outbox_batch: usize,
    /// The most events committed together: those the subscription holds
    /// already when the runner takes one (never waiting for more) are
    /// handled and committed in one transaction.
    pub batch: usize,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            poll: Duration::from_secs(1),
            checkpoint_every: 1000,
            retry_delay: Duration::from_secs(1),
            outbox_batch: 100,
            batch: 100,
        }
    }
}

/// Runs one [`ProcessManager`] over an event store, keeping its state in a
/// [`ProcessStore`] and sending its commands through a [`Bus`].
///
/// Run one runner per manager: a second one on the same process store
/// loses at the checkpoint ([`ProcessError::Conflict`]) and starts again
/// from what the first stored, so nothing happens twice, but the two keep
/// getting in each other's way.
pub struct ProcessRunner<P, E, S, T: Transport, Q: Quarantine> {
    manager: P,
    events: E,
    store: S,
    bus: Bus<T, Q>,
    config: ProcessConfig,
}

impl<P, E, S, T, Q> ProcessRunner<P, E, S, T, Q>
where
    P: ProcessManager,
    E: EventStore,
    S: ProcessStore,
    T: Transport,
    Q: Quarantine,
{
    /// A runner of `manager` over the events of `events`, keeping its
    /// state in `store`, sending through `bus`.
    pub fn new(manager: P, events: E, store: S, bus: Bus<T, Q>) -> Self {
        ProcessRunner {
            manager,
            events,
            store,
            bus,
            config: ProcessConfig::default(),
        }
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ProcessConfig) -> Self {
        self.config = config;
        self
    }

    /// Checks the stored states against the manager's state versions, then
    /// starts reading events from the checkpoint and sending the outbox
    /// (first what a previous run left in it).
    ///
    /// # Errors
    ///
    /// [`ProcessError::StateVersion`] when stored states have a version
    /// that is neither [`ProcessManager::STATE_VERSION`] nor listed in
    /// [`ProcessManager::MIGRATES_FROM`]; a storage error when the process
    /// store cannot be read.
    pub async fn start(self) -> Result<RunningProcess, ProcessError> {
        let stored = self.store.state_versions(P::NAME).await?;
        let unreadable: Vec<u32> = stored
            .into_iter()
            .filter(|v| *v != P::STATE_VERSION && !P::MIGRATES_FROM.contains(v))
            .collect();
        if !unreadable.is_empty() {
            return Err(ProcessError::StateVersion {
                manager: P::NAME.to_string(),
                stored: unreadable,
                current: P::STATE_VERSION,
                migrates: P::MIGRATES_FROM.to_vec(),
            });
        }
        let (cancel, cancelled) = watch::channel(false);
        let (progress, handled) = watch::channel(Progress::At(0));
        let wake = Arc::new(Notify::new());
        let outbox = tokio::spawn(dispatch(
            P::NAME,
            self.store.clone(),
            self.bus,
            self.config.outbox_batch.max(1),
            self.config.poll,
            wake.clone(),
            cancelled.clone(),
        ));
        let context = Context {
            manager: self.manager,
            events: self.events,
            store: self.store,
            config: self.config,
            wake,
        };
        let runner = tokio::spawn(async move {
            let result = run(&context, cancelled, &progress).await;
            if let Err(error) = &result {
                tracing::error!("{error}");
                progress.send_replace(Progress::Stopped);
            }
            result
        });
        Ok(RunningProcess {
            cancel,
            handled,
            runner,
            outbox,
        })
    }
}

/// How far a runner got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Every event up to this position is handled or skipped.
    At(u64),
    /// The runner stopped with an error.
    Stopped,
}

/// A process manager at work. [`RunningProcess::shutdown`] stops it.
pub struct RunningProcess {
    cancel: watch::Sender<bool>,
    handled: watch::Receiver<Progress>,
    runner: JoinHandle<Result<(), ProcessError>>,
    outbox: JoinHandle<()>,
}

impl RunningProcess {
    /// Waits until the runner has handled (committed) or skipped every
    /// event up to `position`; `false` when it stopped with an error
    /// first ([`RunningProcess::shutdown`] returns it). The commands those
    /// events caused are in the outbox then, not necessarily sent yet.
    pub async fn wait_for(&self, position: u64) -> bool {
        let mut handled = self.handled.clone();
        let reached = handled
            .wait_for(|p| match p {
                Progress::At(at) => *at >= position,
                Progress::Stopped => true,
            })
            .await;
        matches!(reached.as_deref(), Ok(Progress::At(_)))
    }

    /// Stops reading events and sending the outbox, and returns the error
    /// the runner stopped with, if it did. What is left in the outbox is
    /// sent by the next start.
    ///
    /// # Errors
    ///
    /// The error that stopped the runner: one no restart from the
    /// checkpoint can pass (an event this build cannot decode, a state it
    /// cannot read).
    pub async fn shutdown(self) -> Result<(), ProcessError> {
        let _ = self.cancel.send(true);
        let _ = self.outbox.await;
        match self.runner.await {
            Ok(result) => result,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(_) => Ok(()),
        }
    }
}

struct Context<P, E, S> {
    manager: P,
    events: E,
    store: S,
    config: ProcessConfig,
    wake: Arc<Notify>,
}

/// Runs until cancelled, starting again from the stored checkpoint after
/// an error a retry may pass.
async fn run<P: ProcessManager, E: EventStore, S: ProcessStore>(
    context: &Context<P, E, S>,
    mut cancelled: watch::Receiver<bool>,
    progress: &watch::Sender<Progress>,
) -> Result<(), ProcessError> {
    loop {
        match run_from_checkpoint(context, &mut cancelled, progress).await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_retryable() => {
                tracing::warn!(
                    "{error}; starting again from the stored checkpoint in {:?}",
                    context.config.retry_delay
                );
                tokio::select! {
                    () = stopped(&mut cancelled) => return Ok(()),
                    () = tokio::time::sleep(context.config.retry_delay) => {}
                }
            }
            Err(error) => return Err(error),
        }
    }
}

/// Where the runner is: the checkpoint stored and the last event seen.
struct Position {
    stored: u64,
    seen: u64,
}

async fn run_from_checkpoint<P: ProcessManager, E: EventStore, S: ProcessStore>(
    context: &Context<P, E, S>,
    cancelled: &mut watch::Receiver<bool>,
    progress: &watch::Sender<Progress>,
) -> Result<(), ProcessError> {
    let stored = context.store.checkpoint(P::NAME).await?;
    let mut at = Position { stored, seen: stored };
    progress.send_replace(Progress::At(stored));
    let mut events = context.events.subscribe(stored + 1);
    let mut next_due = context.store.next_due(P::NAME).await?;
    loop {
        let now = Timestamp::now().as_millisecond();
        if next_due.is_some_and(|due| due <= now) {
            next_due = fire_due(&context.manager, &context.store, at.stored, &context.wake).await?;
        }
        let poll = context.config.poll;
        let wait = next_due.map_or(poll, |due| {
            Duration::from_millis(u64::try_from(due.saturating_sub(now)).unwrap_or(0)).min(poll)
        });
        tokio::select! {
            biased;
            () = stopped(cancelled) => {
                if at.seen > at.stored {
                    move_checkpoint::<P, S>(&context.store, &mut at).await?;
                }
                return Ok(());
            }
            next = events.next() => {
                let mut batch = vec![received::<P>(next)?];
                // Whatever else the subscription holds already joins the
                // same commit.
                while batch.len() < context.config.batch.max(1) {
                    match events.next().now_or_never() {
                        Some(next) => batch.push(received::<P>(next)?),
                        None => break,
                    }
                }
                let span = batch_span::<P>(&batch);
                if let Some(earliest) = handle(context, &mut at, &batch).instrument(span).await? {
                    next_due = Some(next_due.map_or(earliest, |due| due.min(earliest)));
                }
                progress.send_replace(Progress::At(at.seen));
            }
            () = tokio::time::sleep(wait) => {
                // Timeouts scheduled elsewhere (an earlier run's) are found
                // here.
                next_due = context.store.next_due(P::NAME).await?;
            }
        }
    }
}

/// An event from the subscription, or why there is none.
fn received<P: ProcessManager>(next: Option<Result<RecordedEvent, ReadError>>) -> Result<RecordedEvent, ProcessError> {
    match next {
        Some(Ok(event)) => Ok(event),
        Some(Err(source)) => Err(ProcessError::Read {
            manager: P::NAME.to_string(),
            source,
        }),
        None => Err(ProcessError::Storage {
            location: "the event store".into(),
            source: "its subscription ended".into(),
        }),
    }
}

/// The span of one batch: linked to the traces of the commands whose
/// events it handles (at most [`BATCH_LINKS`]), as far as their metadata
/// carries a `traceparent`. The commands it sends leave later, from the
/// outbox, each in a `treaty.process.send` span that continues the trace
/// of the event that caused it.
fn batch_span<P: ProcessManager>(batch: &[RecordedEvent]) -> tracing::Span {
    let span = tracing::info_span!(
        "treaty.process.batch",
        manager = P::NAME,
        events = batch.len(),
        first_position = batch.first().map_or(0, |e| e.position),
        last_position = batch.last().map_or(0, |e| e.position),
    );
    crate::telemetry::trace::link_each(&span, batch.iter().map(|e| &e.metadata.headers), BATCH_LINKS);
    span
}

/// The most traces one batch's span links to.
const BATCH_LINKS: usize = 32;

/// Handles or skips a batch of events, committing what the handled ones
/// changed with the checkpoint in one transaction; returns when the
/// earliest timeout they scheduled is due.
async fn handle<P: ProcessManager, E: EventStore, S: ProcessStore>(
    context: &Context<P, E, S>,
    at: &mut Position,
    batch: &[RecordedEvent],
) -> Result<Option<i64>, ProcessError> {
    let manager = &context.manager;
    // Each instance once per commit, in the order first reached.
    let mut instances: Vec<Pending<P>> = Vec::new();
    let mut slots: HashMap<String, usize> = HashMap::new();
    for event in batch {
        let Some((key, decoded)) = route(manager, event)? else {
            continue;
        };
        let slot = match slots.get(&key) {
            Some(slot) => *slot,
            None => {
                instances.push(Pending::load(manager, &context.store, key.clone()).await?);
                slots.insert(key, instances.len() - 1);
                instances.len() - 1
            }
        };
        instances[slot].handle(manager, &decoded, Cause::event(event))?;
    }
    let seen = batch.last().map_or(at.seen, |e| e.position);
    at.seen = seen;
    let earliest = instances.iter().filter_map(Pending::earliest).min();
    let sends = instances.iter().any(Pending::sends);
    let mut changes = Vec::with_capacity(instances.len());
    for pending in instances {
        changes.extend(pending.into_change(None)?);
    }
    if changes.is_empty() && at.seen - at.stored < context.config.checkpoint_every.max(1) {
        return Ok(None);
    }
    context
        .store
        .commit(Commit {
            manager: P::NAME.to_string(),
            expected_checkpoint: at.stored,
            checkpoint: at.seen,
            instances: changes,
        })
        .await?;
    at.stored = at.seen;
    if sends {
        context.wake.notify_one();
    }
    Ok(earliest)
}

/// The instance an event goes to and the event decoded, `None` when the
/// manager does not handle it.
fn route<P: ProcessManager>(manager: &P, event: &RecordedEvent) -> Result<Option<(String, P::Event)>, ProcessError> {
    if !P::Event::is_member(&event.contract) {
        return Ok(None);
    }
    let decoded = P::Event::decode(&event.contract, event.contract_version, &event.payload).map_err(|e| {
        ProcessError::Decode {
            manager: P::NAME.to_string(),
            position: event.position,
            contract: event.contract.clone(),
            version: event.contract_version,
            reason: e.to_string(),
        }
    })?;
    Ok(manager.correlate(&decoded).map(|key| (key, decoded)))
}

/// Stores the checkpoint of skipped events.
async fn move_checkpoint<P: ProcessManager, S: ProcessStore>(store: &S, at: &mut Position) -> Result<(), ProcessError> {
    store
        .commit(Commit {
            manager: P::NAME.to_string(),
            expected_checkpoint: at.stored,
            checkpoint: at.seen,
            instances: Vec::new(),
        })
        .await?;
    at.stored = at.seen;
    Ok(())
}

/// Returns once the runner is asked to stop. The receiver's guard stays
/// inside, so the futures awaiting it remain `Send`.
async fn stopped(cancelled: &mut watch::Receiver<bool>) {
    let _ = cancelled.wait_for(|stop| *stop).await;
}
