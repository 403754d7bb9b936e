//! The projection engine: starts every projection in the right mode and
//! keeps its views following the event store.
//!
//! Each projection runs in its own task through two phases. First it
//! reads every event after its checkpoint up to the head (catch-up, or a
//! whole rebuild into a new generation, which is then promoted); then it
//! follows a live subscription. Both phases fold events into a bounded
//! write-behind cache and flush it in large transactions that carry the
//! checkpoint, so a crash at any point resumes from the last flush with
//! nothing lost or applied twice.
//!
//! Several instances of a service may run the same engine against one view
//! store. Each projection's task first takes the projection's lease
//! ([`ViewStore::acquire`]): the instance holding it decides how the
//! projection starts (continue, catch up, rebuild, resume a rebuild) and
//! does all its work through a handle fenced by the lease's token, while
//! the task renews the lease. The other instances stand by and take the
//! lease over once it expires, because its holder died or stalled; a
//! holder that lost its lease is refused its next write and stands by.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::fingerprint::short_hex;
use super::plan::{decide, dropped, Decision, PlannedAction, Start, StartPlan};
use super::store::{
    decode_view, Generation, GenerationDetails, GenerationStatus, Lease, ViewChange, ViewError, ViewStore,
};
use super::{EventContext, Fingerprint, Projection, View};
use crate::aggregate::EventSet;
use crate::contract::DecodeError;
use crate::metrics;
use crate::store::{EventStore, EventStream, ReadError, RecordedEvent};
use crate::telemetry::trace;
use crate::types::Timestamp;
use tracing::Instrument as _;

/// How the engine processes events.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The most views a projection keeps in memory. When its cache reaches
    /// this size it is flushed and the views not touched since the
    /// previous flush are evicted, so memory does not grow with the number
    /// of views or events.
    pub cache_views: usize,
    /// The most events applied between two flushes, which bounds how much
    /// work a crash can undo.
    pub flush_events: usize,
    /// Events taken from the store per batch; the views a batch touches
    /// are loaded with one query.
    pub batch_events: usize,
    /// How often a rebuild logs its progress.
    pub progress_interval: Duration,
    /// This instance's name in the view store's leases, unique among the
    /// instances sharing the view store. `None` names it
    /// `<hostname>-<pid>` (with a counter after the first engine of a
    /// process). An instance restarted under the same name takes its
    /// projections back at once instead of waiting for their leases to
    /// expire, so a stable name (a pod or host name) suits a service
    /// restarted in place; two live instances must never share one.
    pub instance: Option<String>,
    /// How long a projection's lease lasts without renewal: when its
    /// holder dies or stalls, another instance takes the projection over
    /// after this. Default 5 s.
    pub lease_ttl: Duration,
    /// How often the holder renews its leases; well under `lease_ttl`
    /// (default 1 s).
    pub lease_renew: Duration,
    /// How often an instance tries to take a projection whose lease
    /// another holds (default 1 s). An instance already holding
    /// projections waits up to four times longer, so idle instances take
    /// over first and projections spread. Takeover happens at most
    /// `lease_ttl + 5 × lease_retry` (10 s by default) after the holder's
    /// last renewal, within `lease_ttl + lease_retry` when an instance
    /// holds nothing.
    pub lease_retry: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            cache_views: 20_000,
            flush_events: 100_000,
            batch_events: 1_000,
            progress_interval: Duration::from_secs(5),
            instance: None,
            lease_ttl: Duration::from_secs(5),
            lease_renew: Duration::from_secs(1),
            lease_retry: Duration::from_secs(1),
        }
    }
}

/// Why the engine could not start, or why a projection stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Two registered projections share a name.
    #[error("two projections are named {0:?}; give each projection its own `NAME`")]
    DuplicateName(String),
    /// The view store failed.
    #[error(transparent)]
    Views(#[from] ViewError),
    /// Reading events failed.
    #[error("reading events failed: {0}")]
    Events(#[from] ReadError),
    /// An event the projection consumes cannot be decoded by this build.
    #[error("projection {projection} cannot read the event at position {position} (stream {stream}, version {version}, {contract} v{contract_version}): {source}; the projection stopped at checkpoint {checkpoint} and resumes there once the code can read it")]
    Decode {
        /// The projection.
        projection: String,
        /// The event's position.
        position: u64,
        /// Its stream.
        stream: String,
        /// Its version in the stream.
        version: u64,
        /// Its contract.
        contract: String,
        /// Its contract version.
        contract_version: u32,
        /// The last position whose effects are stored.
        checkpoint: u64,
        /// What decoding said.
        #[source]
        source: DecodeError,
    },
    /// A view could not be written as JSON.
    #[error("projection {projection} cannot write view {key:?} as JSON: {reason}")]
    Encode {
        /// The projection.
        projection: String,
        /// The view's key.
        key: String,
        /// What the encoder said.
        reason: String,
    },
    /// A projection stopped with an error (reported by [`RunningEngine`]).
    #[error("projection {projection} stopped: {reason}")]
    Stopped {
        /// The projection.
        projection: String,
        /// Its error.
        reason: String,
    },
}

/// What a projection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Reading the events after its checkpoint, up to the head.
    CatchingUp,
    /// Building a new generation while the previous one serves reads.
    Rebuilding,
    /// Following new events as they are appended.
    Live,
    /// Stopped by an error; the other projections carry on.
    Failed(String),
    /// Stopped by [`RunningEngine::shutdown`].
    Stopped,
    /// Another instance holds the projection's lease and works on it;
    /// this one takes over if that lease expires. The checkpoint reported
    /// is the live generation's, as last read from the view store.
    Standby,
}

/// One projection's state in a running engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    /// The projection's name.
    pub name: &'static str,
    /// The generation it writes.
    pub generation: u64,
    /// Its code's fingerprint.
    pub fingerprint: Fingerprint,
    /// The last position whose effects are stored.
    pub checkpoint: u64,
    /// What it is doing.
    pub phase: Phase,
}

/// How each projection started, reported once all are live.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupSummary {
    /// Projections whose views were current.
    pub up_to_date: Vec<&'static str>,
    /// Projections that caught up with events appended while stopped.
    pub caught_up: Vec<&'static str>,
    /// Projections rebuilt because they were new or their code changed.
    pub rebuilt: Vec<&'static str>,
}

/// The projections an engine will run, and where.
///
/// # Examples
///
/// ```no_run
/// # async fn run<P: treaty_runtime::projection::Projection>(projection: P) -> Result<(), Box<dyn std::error::Error>> {
/// use treaty_runtime::projection::{ProjectionEngine, SqliteViewStore};
/// use treaty_runtime::store::SqliteStore;
///
/// let events = SqliteStore::open("app.db")?;
/// let views = SqliteViewStore::open("app.db")?;
/// let mut engine = ProjectionEngine::new(events, views);
/// engine.add(projection);
/// let running = engine.start().await?;
/// running.wait_live().await?;
/// # Ok(()) }
/// ```
pub struct ProjectionEngine<S, V> {
    events: S,
    views: V,
    config: EngineConfig,
    projections: Vec<Registered<S, V>>,
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Registered<S, V> {
    name: &'static str,
    fingerprint: Fingerprint,
    /// The items the fingerprint covers ([`Code::items`](super::Code::items)).
    code: BTreeMap<String, String>,
    spawn: Box<dyn FnOnce(TaskContext<S, V>) -> Task + Send>,
}

/// A catch-up must read at least this many events for its rate to replace
/// the one measured before: the rate of a few events is mostly the cost of
/// starting.
const MEASURED_CATCH_UP: u64 = 10_000;

struct TaskContext<S, V> {
    events: S,
    /// The view store; while the lease is held, a handle fenced by it.
    views: V,
    config: EngineConfig,
    plan: Start,
    head: u64,
    index: usize,
    status: watch::Sender<Vec<ProjectionStatus>>,
    cancel: watch::Receiver<bool>,
    fingerprint: Fingerprint,
    code: BTreeMap<String, String>,
    /// This instance's name in the leases.
    instance: Arc<str>,
    /// How many projections this engine holds the lease of.
    held: Arc<AtomicUsize>,
}

/// Names an instance `<hostname>-<pid>`, with a counter after the first
/// engine of the process.
fn default_instance() -> String {
    static ENGINES: AtomicU64 = AtomicU64::new(0);
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    let pid = std::process::id();
    match ENGINES.fetch_add(1, Ordering::Relaxed) {
        0 => format!("{host}-{pid}"),
        n => format!("{host}-{pid}-{n}"),
    }
}

impl<S: EventStore + Clone, V: ViewStore> ProjectionEngine<S, V> {
    /// An engine with no projections yet, reading `events` and writing
    /// views to `views`, with the default [`EngineConfig`].
    pub fn new(events: S, views: V) -> Self {
        ProjectionEngine {
            events,
            views,
            config: EngineConfig::default(),
            projections: Vec::new(),
        }
    }

    /// Sets how events are processed.
    pub fn config(&mut self, config: EngineConfig) -> &mut Self {
        self.config = config;
        self
    }

    /// Registers a projection.
    pub fn add<P: Projection>(&mut self, projection: P) -> &mut Self {
        self.projections.push(Registered {
            name: P::NAME,
            fingerprint: P::FINGERPRINT,
            code: P::CODE.items(P::Event::CONTRACTS, <P::View as View>::FINGERPRINT),
            spawn: Box::new(move |context| Box::pin(run_projection(projection, context))),
        });
        self
    }

    /// What [`start`](Self::start) would do, without doing it: for every
    /// projection whether it is up to date, catches up (and how many
    /// events), rebuilds (and why, naming the items of its code that
    /// changed when the live generation recorded them) or resumes a
    /// rebuild, which views of projections no longer in the code it drops,
    /// and how long it expects each to take from the events to read and
    /// the rate it last measured. It only reads the stores, so it runs
    /// against stores opened as they exist (`SqliteStore::open_existing`,
    /// `SqliteViewStore::open_existing`), for instance in CI before a
    /// deploy, with the new build's projections.
    ///
    /// # Errors
    ///
    /// When two projections share a name, or a store fails.
    pub async fn plan(&self) -> Result<StartPlan, EngineError> {
        let (plan, _) = self.decide().await?;
        Ok(plan)
    }

    /// The decisions of a start: one per projection in the code, and the
    /// stored projections no longer in it with their generations.
    async fn decide(&self) -> Result<(StartPlan, Vec<Decision>), EngineError> {
        let mut names = HashSet::new();
        for registered in &self.projections {
            if !names.insert(registered.name) {
                return Err(EngineError::DuplicateName(registered.name.to_string()));
            }
        }
        let head = self.events.head().await?;
        let mut stored: BTreeMap<String, Vec<Generation>> = BTreeMap::new();
        for generation in self.views.generations().await? {
            stored
                .entry(generation.projection.clone())
                .or_default()
                .push(generation);
        }
        // A projection never measured is assumed as slow as the slowest
        // measured one.
        let fallback_rate = stored
            .values()
            .flatten()
            .filter_map(|g| g.events_per_second)
            .filter(|&rate| rate > 0)
            .min();
        let mut decisions = Vec::new();
        for registered in &self.projections {
            let generations = stored.remove(registered.name).unwrap_or_default();
            decisions.push(decide(
                registered.name,
                &registered.fingerprint.to_hex(),
                &registered.code,
                &generations,
                head,
                fallback_rate,
            ));
        }
        let mut projections: Vec<_> = decisions.iter().map(|d| d.plan.clone()).collect();
        projections.extend(stored.iter().map(|(name, generations)| dropped(name, generations)));
        Ok((StartPlan { head, projections }, decisions))
    }

    /// Compares every projection with the view store, drops the views of
    /// projections no longer in the code, and starts one task per
    /// projection: continuing from its checkpoint when its fingerprint is
    /// unchanged, rebuilding into a new generation otherwise. It does what
    /// [`plan`](Self::plan) says.
    ///
    /// # Errors
    ///
    /// When two projections share a name, or a store fails.
    pub async fn start(self) -> Result<RunningEngine, EngineError> {
        let (plan, decisions) = self.decide().await?;
        let head = plan.head;
        let instance: Arc<str> = self.config.instance.clone().unwrap_or_else(default_instance).into();
        for projection in &plan.projections {
            if let PlannedAction::Drop { generations } = &projection.action {
                // Under its lease, so that an instance still running the
                // projection (an older build, during a rolling deploy)
                // keeps it until it stops.
                let Some(lease) = self
                    .views
                    .acquire(&projection.name, &instance, self.config.lease_ttl)
                    .await?
                else {
                    tracing::info!(
                        "projection {}: removed from the code, but another instance runs it; its views stay",
                        projection.name
                    );
                    continue;
                };
                let views = self.views.fenced(&lease);
                for &generation in generations {
                    tracing::info!(
                        "projection {}: removed from the code; dropping its views (generation {generation})",
                        projection.name
                    );
                    views.drop_generation(&projection.name, generation).await?;
                }
                self.views.release(&lease).await?;
            }
        }

        let mut statuses = Vec::new();
        for (registered, decision) in self.projections.iter().zip(&decisions) {
            let (Start::Continue { generation, checkpoint } | Start::Build { generation, checkpoint }) = decision.start;
            statuses.push(ProjectionStatus {
                name: registered.name,
                generation,
                fingerprint: registered.fingerprint,
                checkpoint,
                phase: planned_phase(&decision.plan.action),
            });
        }

        // Taken before any task runs: a fast task changes its phase at once.
        let summary = startup_summary(&statuses, head);
        let (status, status_rx) = watch::channel(statuses);
        let (cancel, cancel_rx) = watch::channel(false);
        let started = Instant::now();
        let held = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for (index, (registered, decision)) in self.projections.into_iter().zip(decisions).enumerate() {
            let context = TaskContext {
                events: self.events.clone(),
                views: self.views.clone(),
                config: self.config.clone(),
                plan: decision.start,
                head,
                index,
                status: status.clone(),
                cancel: cancel_rx.clone(),
                fingerprint: registered.fingerprint,
                code: registered.code,
                instance: instance.clone(),
                held: held.clone(),
            };
            tasks.push(tokio::spawn((registered.spawn)(context)));
        }
        let monitor = status_rx.clone();
        tasks.push(tokio::spawn(log_when_live(monitor, summary.clone(), started)));
        Ok(RunningEngine {
            status: status_rx,
            cancel,
            tasks,
            summary,
            instance,
        })
    }
}

/// The phase a planned action starts in.
fn planned_phase(action: &PlannedAction) -> Phase {
    match action {
        PlannedAction::Resume { .. } | PlannedAction::Rebuild { .. } => Phase::Rebuilding,
        _ => Phase::CatchingUp,
    }
}

/// How `name` starts now, from the view store as it is: what
/// [`ProjectionEngine::decide`] does for one projection, run by the
/// instance that just took its lease. Returns the head it decided at.
async fn decide_one<S: EventStore, V: ViewStore>(
    events: &S,
    views: &V,
    name: &str,
    fingerprint: &Fingerprint,
    code: &BTreeMap<String, String>,
) -> Result<(Decision, u64), EngineError> {
    let head = events.head().await?;
    let all = views.generations().await?;
    let fallback_rate = all
        .iter()
        .filter_map(|g| g.events_per_second)
        .filter(|&rate| rate > 0)
        .min();
    let generations: Vec<Generation> = all.into_iter().filter(|g| g.projection == name).collect();
    let decision = decide(name, &fingerprint.to_hex(), code, &generations, head, fallback_rate);
    Ok((decision, head))
}

/// Carries out the part of a decision that comes before the task runs
/// (drops, a new generation, its item list) and logs it, through `views`
/// (fenced by the lease).
async fn prepare<V: ViewStore>(
    views: &V,
    name: &str,
    fingerprint: &Fingerprint,
    code: &BTreeMap<String, String>,
    decision: &Decision,
) -> Result<Phase, EngineError> {
    for &generation in &decision.drops {
        views.drop_generation(name, generation).await?;
    }
    if let Some(generation) = decision.begin {
        views.begin_generation(name, generation, &fingerprint.to_hex()).await?;
    }
    let (Start::Continue { generation, .. } | Start::Build { generation, .. }) = decision.start;
    if decision.stored_code.as_ref() != Some(code) {
        let details = GenerationDetails {
            code: Some(code.clone()),
            events_per_second: None,
        };
        views.describe(name, generation, details).await?;
    }
    let plan = &decision.plan;
    let phase = match &plan.action {
        PlannedAction::UpToDate { .. } => {
            tracing::info!("projection {name}: up to date");
            Phase::CatchingUp
        }
        PlannedAction::CatchUp { .. } => {
            tracing::info!("projection {name}: catching up ({} events behind)", plan.events);
            Phase::CatchingUp
        }
        PlannedAction::Resume { at, .. } => {
            tracing::info!(
                "projection {name}: resuming rebuild at position {at} of {} (fingerprint {})",
                at + plan.events,
                fingerprint.short()
            );
            Phase::Rebuilding
        }
        PlannedAction::Rebuild { reason, .. } => {
            match &reason.from {
                Some(from) => tracing::info!(
                    "projection {name}: rebuilding (fingerprint {} -> {}; {reason})",
                    short_hex(from),
                    fingerprint.short()
                ),
                None => tracing::info!("projection {name}: building (new, fingerprint {})", fingerprint.short()),
            }
            Phase::Rebuilding
        }
        PlannedAction::Drop { .. } => unreachable!("projections in the code are never dropped"),
    };
    Ok(phase)
}

fn startup_summary(statuses: &[ProjectionStatus], head: u64) -> StartupSummary {
    let mut summary = StartupSummary::default();
    for status in statuses {
        match status.phase {
            Phase::Rebuilding => summary.rebuilt.push(status.name),
            _ if status.checkpoint >= head => summary.up_to_date.push(status.name),
            _ => summary.caught_up.push(status.name),
        }
    }
    summary
}

/// Logs one summary line when every projection is live.
async fn log_when_live(mut status: watch::Receiver<Vec<ProjectionStatus>>, summary: StartupSummary, started: Instant) {
    let all_live = status
        .wait_for(|statuses| statuses.iter().all(|s| matches!(s.phase, Phase::Live | Phase::Standby)))
        .await
        .is_ok();
    if all_live {
        let count = status.borrow().len();
        tracing::info!(
            "projections: all {count} live in {:.1?} ({} up to date, {} caught up, {} rebuilt)",
            started.elapsed(),
            summary.up_to_date.len(),
            summary.caught_up.len(),
            summary.rebuilt.len()
        );
    }
}

/// A started engine. [`RunningEngine::shutdown`] flushes and stops every
/// projection and waits for them; dropping the handle asks them to stop
/// the same way without waiting.
pub struct RunningEngine {
    status: watch::Receiver<Vec<ProjectionStatus>>,
    cancel: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    summary: StartupSummary,
    instance: Arc<str>,
}

impl RunningEngine {
    /// Every projection's current state.
    pub fn status(&self) -> Vec<ProjectionStatus> {
        self.status.borrow().clone()
    }

    /// This instance's name in the view store's leases.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// How each projection started: which were up to date and which are
    /// rebuilt.
    pub fn startup(&self) -> &StartupSummary {
        &self.summary
    }

    /// Waits until every projection is live (caught up with the head, and
    /// rebuilt generations promoted) or in the hands of another instance
    /// ([`Phase::Standby`]).
    ///
    /// # Errors
    ///
    /// [`EngineError::Stopped`] when a projection failed first.
    pub async fn wait_live(&self) -> Result<(), EngineError> {
        self.wait_until(|s| matches!(s.phase, Phase::Live | Phase::Standby))
            .await
    }

    /// Waits until every projection's views include the event at
    /// `position` (and every one before it): for example after appending,
    /// before reading the views. For a projection another instance holds,
    /// the live generation's checkpoint is read from the view store every
    /// `lease_retry`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Stopped`] when a projection failed first.
    pub async fn wait_for_position(&self, position: u64) -> Result<(), EngineError> {
        self.wait_until(|s| matches!(s.phase, Phase::Live | Phase::Standby) && s.checkpoint >= position)
            .await
    }

    async fn wait_until(&self, done: impl Fn(&ProjectionStatus) -> bool) -> Result<(), EngineError> {
        let mut status = self.status.clone();
        let result = status
            .wait_for(|statuses| statuses.iter().all(&done) || statuses.iter().any(stopped))
            .await
            .map(|statuses| statuses.iter().find(|s| stopped(s)).cloned());
        match result {
            Ok(None) => Ok(()),
            Ok(Some(failed)) => Err(EngineError::Stopped {
                projection: failed.name.to_string(),
                reason: match failed.phase {
                    Phase::Failed(reason) => reason,
                    _ => "the engine was shut down".to_string(),
                },
            }),
            Err(_) => Err(EngineError::Stopped {
                projection: "*".to_string(),
                reason: "the engine was shut down".to_string(),
            }),
        }
    }

    /// Flushes what every projection has applied and stops them.
    pub async fn shutdown(self) {
        let _ = self.cancel.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn stopped(status: &ProjectionStatus) -> bool {
    matches!(status.phase, Phase::Failed(_) | Phase::Stopped)
}

async fn run_projection<P: Projection, S: EventStore, V: ViewStore>(projection: P, context: TaskContext<S, V>) {
    let status = context.status.clone();
    let index = context.index;
    let mut worker = Worker::new(projection, context);
    // A panic in the projection's code (or a view's `Deserialize`) must
    // stop this projection visibly, not leave its waiters waiting.
    let outcome = AssertUnwindSafe(worker.serve()).catch_unwind().await;
    let phase = match outcome {
        Ok(Ok(())) => Phase::Stopped,
        Ok(Err(error)) => {
            tracing::error!("projection {}: {error}", P::NAME);
            Phase::Failed(error.to_string())
        }
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic payload".to_string());
            tracing::error!("projection {}: panicked: {reason}", P::NAME);
            Phase::Failed(format!("the projection panicked: {reason}"))
        }
    };
    status.send_modify(|statuses| statuses[index].phase = phase);
}

/// What a projection's task is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// History after its checkpoint, into the live generation.
    CatchUp,
    /// History from the start, into a new generation.
    Rebuild,
    /// The live subscription.
    Live,
}

/// Renews `lease` every `every` while it is the recorded one; returns why
/// it was lost: taken over (found at a renewal, for instance the first
/// one after this instance was paused past the lease), or not renewed
/// for `ttl` because the view store failed or did not answer, after
/// which another instance may have taken it.
async fn keep_lease<V: ViewStore>(views: &V, mut lease: Lease, ttl: Duration, every: Duration) -> String {
    // Counted from before the acquisition returned: never later than the
    // view store's own expiry.
    let mut valid_until = Instant::now() + ttl.saturating_sub(every);
    loop {
        tokio::time::sleep(every).await;
        let asked = Instant::now();
        let wait = valid_until.saturating_duration_since(asked).max(every);
        let failure = match tokio::time::timeout(wait, views.renew(&lease, ttl)).await {
            Ok(Ok(Some(renewed))) => {
                lease = renewed;
                valid_until = asked + ttl;
                continue;
            }
            Ok(Ok(None)) => return format!("the lease (token {}) was taken over by another instance", lease.token),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer in {wait:?}"),
        };
        if Instant::now() >= valid_until {
            return format!(
                "the lease (token {}) could not be renewed in time: {failure}",
                lease.token
            );
        }
        tracing::warn!("projection {}: renewing its lease failed: {failure}", lease.projection);
    }
}

/// Resolves once shutdown is requested (or the engine handle is gone).
async fn shutdown_requested(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|stop| *stop).await;
}

/// A view in the write-behind cache.
struct Slot<V> {
    view: Option<V>,
    /// Changed since the last flush.
    dirty: bool,
    /// Used since the last flush; untouched views are evicted first.
    touched: bool,
}

/// The state of one projection's task.
struct Worker<P: Projection, S, V> {
    projection: P,
    context: TaskContext<S, V>,
    generation: u64,
    /// The checkpoint stored with the last flush.
    checkpoint: u64,
    /// The position of the last event applied.
    applied: u64,
    cache: HashMap<String, Slot<P::View>>,
    /// Where the views an eviction keeps wait while the cache is emptied;
    /// empty between flushes, its allocation reused.
    kept: Vec<(String, Slot<P::View>)>,
    dirty: usize,
    unflushed_events: usize,
    /// Whether the generation may hold views; a new one does not, so a
    /// rebuild skips loading until its first flush.
    stored_any: bool,
    /// The metadata timestamp of the last event applied (its lag).
    applied_at: Option<Timestamp>,
}

impl<P: Projection, S: EventStore, V: ViewStore> Worker<P, S, V> {
    fn new(projection: P, context: TaskContext<S, V>) -> Self {
        let mut worker = Worker {
            projection,
            generation: 0,
            checkpoint: 0,
            applied: 0,
            cache: HashMap::new(),
            kept: Vec::new(),
            dirty: 0,
            unflushed_events: 0,
            stored_any: false,
            applied_at: None,
            context,
        };
        worker.reset(worker.context.plan, worker.context.head);
        worker
    }

    /// Starts over from `plan`, forgetting what was applied and cached.
    fn reset(&mut self, plan: Start, head: u64) {
        let (generation, checkpoint, stored_any) = match plan {
            Start::Continue { generation, checkpoint } => (generation, checkpoint, true),
            Start::Build { generation, checkpoint } => (generation, checkpoint, checkpoint > 0),
        };
        self.context.plan = plan;
        self.context.head = head;
        self.generation = generation;
        self.checkpoint = checkpoint;
        self.applied = checkpoint;
        self.cache.clear();
        self.kept.clear();
        self.dirty = 0;
        self.unflushed_events = 0;
        self.stored_any = stored_any;
        self.applied_at = None;
    }

    /// Takes the projection's lease, works on it while holding it, and
    /// stands by again when it is lost, until the engine shuts down or the
    /// projection fails.
    async fn serve(&mut self) -> Result<(), EngineError> {
        let views = self.context.views.clone();
        loop {
            let Some(lease) = self.acquire(&views).await else {
                return Ok(());
            };
            let held = self.context.held.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::info!(
                "projection {}: instance {} took the lease (token {}; it holds {held})",
                P::NAME,
                lease.holder,
                lease.token
            );
            self.context.views = views.fenced(&lease);
            let config = &self.context.config;
            let keep = keep_lease(&views, lease.clone(), config.lease_ttl, config.lease_renew);
            let outcome = tokio::select! {
                outcome = self.hold() => match outcome {
                    Err(EngineError::Views(lost @ ViewError::LeaseLost { .. })) => Err((lost.to_string(), false)),
                    // The store failed for now (a dropped connection, a
                    // server restart): the projection is taken again, by
                    // this instance or another, from what is stored.
                    Err(error @ EngineError::Views(ViewError::Storage(_))) => Err((error.to_string(), true)),
                    Err(error @ EngineError::Events(_)) if matches!(&error, EngineError::Events(e) if e.is_retryable()) => {
                        Err((error.to_string(), true))
                    }
                    outcome => Ok(outcome),
                },
                lost = keep => Err((lost, false)),
            };
            self.context.views = views.clone();
            self.context.held.fetch_sub(1, Ordering::Relaxed);
            // Stopped, failed or given up: another instance may take it
            // now (a lease already taken over is left as it is).
            if let Err(error) = views.release(&lease).await {
                tracing::warn!("projection {}: releasing its lease failed: {error}", P::NAME);
            }
            match outcome {
                Ok(outcome) => return outcome,
                Err((lost, failed)) => {
                    tracing::warn!("projection {}: {lost}; standing by", P::NAME);
                    self.set_status(Phase::Standby);
                    if failed {
                        let mut cancel = self.context.cancel.clone();
                        tokio::select! {
                            biased;
                            () = shutdown_requested(&mut cancel) => return Ok(()),
                            () = tokio::time::sleep(self.context.config.lease_retry) => {}
                        }
                    }
                }
            }
        }
    }

    /// Waits until this instance holds the projection's lease; `None` when
    /// the engine shuts down first.
    async fn acquire(&mut self, views: &V) -> Option<Lease> {
        let mut cancel = self.context.cancel.clone();
        let mut standing_by = false;
        loop {
            if *cancel.borrow() {
                return None;
            }
            let config = &self.context.config;
            match views.acquire(P::NAME, &self.context.instance, config.lease_ttl).await {
                Ok(Some(lease)) => return Some(lease),
                Ok(None) => {
                    if !standing_by {
                        standing_by = true;
                        tracing::info!("projection {}: another instance holds it; standing by", P::NAME);
                    }
                    self.stand_by(views).await;
                }
                Err(error) => tracing::warn!("projection {}: taking its lease failed: {error}", P::NAME),
            }
            // An instance holding projections already tries less often,
            // so that an idle one takes an expired lease first.
            let held = self.context.held.load(Ordering::Relaxed).min(4) as u32;
            let wait = config.lease_retry * (1 + held);
            tokio::select! {
                biased;
                () = shutdown_requested(&mut cancel) => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Reports the projection as held elsewhere, at its live generation's
    /// stored checkpoint.
    async fn stand_by(&self, views: &V) {
        let live = match views.generations().await {
            Ok(generations) => generations
                .into_iter()
                .find(|g| g.projection == P::NAME && g.status == GenerationStatus::Live),
            Err(_) => None,
        };
        let index = self.context.index;
        self.context.status.send_modify(|statuses| {
            let status = &mut statuses[index];
            status.phase = Phase::Standby;
            if let Some(live) = live {
                status.generation = live.generation;
                status.checkpoint = live.checkpoint;
            }
        });
    }

    /// Works on the projection under the lease just taken: decides how it
    /// starts from the view store as it is now (another instance may have
    /// moved it on), prepares and runs it.
    async fn hold(&mut self) -> Result<(), EngineError> {
        let context = &self.context;
        let (decision, head) = decide_one(
            &context.events,
            &context.views,
            P::NAME,
            &context.fingerprint,
            &context.code,
        )
        .await?;
        let phase = prepare(&context.views, P::NAME, &context.fingerprint, &context.code, &decision).await?;
        self.reset(decision.start, head);
        self.set_status(phase);
        self.run().await
    }

    async fn run(&mut self) -> Result<(), EngineError> {
        let rebuilding = matches!(self.context.plan, Start::Build { .. });
        let started = Instant::now();
        let from = self.checkpoint;
        let events = self.context.events.read_all(self.checkpoint + 1);
        let reading = if rebuilding { Reading::Rebuild } else { Reading::CatchUp };
        let (generation, head, position) = (self.generation, self.context.head, tracing::field::Empty);
        let span = if rebuilding {
            tracing::info_span!(
                "treaty.projection.rebuild",
                projection = P::NAME,
                generation,
                from,
                head,
                position
            )
        } else {
            tracing::info_span!(
                "treaty.projection.catch_up",
                projection = P::NAME,
                generation,
                from,
                head,
                position
            )
        };
        let consumed = self.consume(events, reading).instrument(span.clone()).await;
        span.record("position", self.applied);
        if !consumed? {
            return Ok(());
        }
        let elapsed = started.elapsed();
        let count = self.applied - from;
        let rate = count as f64 / elapsed.as_secs_f64().max(1e-9);
        // What `plan` estimates the next rebuild or catch-up by.
        let measured = GenerationDetails {
            code: None,
            events_per_second: Some((rate.round() as u64).max(1)),
        };
        if rebuilding {
            let retired = self.context.views.promote(P::NAME, self.generation).await?;
            metrics::projection_rebuild_progress(P::NAME, from, self.applied, self.applied);
            tracing::info!(
                "projection {}: rebuilt generation {} in {elapsed:.1?} ({count} events, {rate:.0} events/s)",
                P::NAME,
                self.generation
            );
            // Readers see the new generation from the promotion on, so
            // the projection is live before the old views are deleted.
            self.set_status(Phase::Live);
            if count > 0 {
                self.context.views.describe(P::NAME, self.generation, measured).await?;
            }
            if let Some(retired) = retired {
                self.context.views.drop_generation(P::NAME, retired).await?;
                tracing::info!("projection {}: generation {retired} dropped", P::NAME);
            }
        } else if count >= MEASURED_CATCH_UP {
            self.context.views.describe(P::NAME, self.generation, measured).await?;
        }
        self.set_status(Phase::Live);
        let events = self.context.events.subscribe(self.checkpoint + 1);
        self.consume(events, Reading::Live).await?;
        Ok(())
    }

    /// Applies `events` until the stream ends (`true`) or the engine is
    /// shut down (`false`), flushing as it goes and at the end.
    async fn consume(&mut self, events: EventStream, phase: Reading) -> Result<bool, EngineError> {
        let live = phase == Reading::Live;
        let rebuilding = phase == Reading::Rebuild;
        let batch_size = self.context.config.batch_events.max(1);
        let mut batches = events.ready_chunks(batch_size);
        let mut cancel = self.context.cancel.clone();
        let mut progress = Progress::new(self.applied, self.context.head, self.context.config.progress_interval);
        loop {
            if *cancel.borrow() {
                self.flush().await?;
                return Ok(false);
            }
            let batch = match batches.next().now_or_never() {
                Some(batch) => batch,
                None => {
                    // Nothing is ready: on a live subscription that means
                    // caught up, so make what was applied visible before
                    // waiting. While reading history (catch-up or rebuild),
                    // it only means the next page is on its way.
                    if live {
                        self.flush().await?;
                    }
                    tokio::select! {
                        biased;
                        () = shutdown_requested(&mut cancel) => {
                            self.flush().await?;
                            return Ok(false);
                        }
                        batch = batches.next() => batch,
                    }
                }
            };
            let Some(batch) = batch else {
                self.flush().await?;
                return Ok(true);
            };
            let batch = batch.into_iter().collect::<Result<Vec<_>, _>>()?;
            let span = batch_span::<P>(&batch, phase, self.generation);
            self.apply(batch).instrument(span).await?;
            let config = &self.context.config;
            if self.cache.len() >= config.cache_views || self.unflushed_events >= config.flush_events {
                self.flush().await?;
            }
            if rebuilding {
                metrics::projection_rebuild_progress(P::NAME, progress.from, self.applied, progress.head);
                progress.report(P::NAME, self.applied);
            }
        }
    }

    async fn apply(&mut self, batch: Vec<RecordedEvent>) -> Result<(), EngineError> {
        let Some(last) = batch.last().map(|e| e.position) else {
            return Ok(());
        };
        self.applied_at = batch.last().map(|e| e.metadata.timestamp);
        metrics::projection_batch(P::NAME, batch.len());
        let mut decoded = Vec::with_capacity(batch.len());
        for recorded in batch {
            if !P::Event::is_member(&recorded.contract) {
                continue;
            }
            let event = P::Event::from_recorded(&recorded).map_err(|source| EngineError::Decode {
                projection: P::NAME.to_string(),
                position: recorded.position,
                stream: recorded.stream.to_string(),
                version: recorded.version,
                contract: recorded.contract.clone(),
                contract_version: recorded.contract_version,
                checkpoint: self.checkpoint,
                source,
            })?;
            let mut keys = self.projection.keys(&event);
            // Each view is updated once per event, whatever `keys` says;
            // the usual single key needs no check.
            if keys.len() > 1 {
                let mut seen = HashSet::with_capacity(keys.len());
                keys.retain(|key| seen.insert(key.clone()));
            }
            decoded.push((recorded, event, keys));
        }
        self.load_missing(&decoded).await?;
        for (recorded, event, keys) in &decoded {
            for key in keys {
                let slot = match self.cache.get_mut(key) {
                    Some(slot) => slot,
                    None => self.cache.entry(key.clone()).or_insert(Slot {
                        view: None,
                        dirty: false,
                        touched: false,
                    }),
                };
                let context = EventContext {
                    key,
                    stream: &recorded.stream,
                    version: recorded.version,
                    position: recorded.position,
                    metadata: &recorded.metadata,
                };
                self.projection.apply(&mut slot.view, event, &context);
                slot.touched = true;
                if !slot.dirty {
                    slot.dirty = true;
                    self.dirty += 1;
                }
            }
        }
        self.unflushed_events += decoded.len();
        self.applied = last;
        Ok(())
    }

    /// Loads the views a batch touches that are not cached, in one query.
    async fn load_missing(&mut self, decoded: &[(RecordedEvent, P::Event, Vec<String>)]) -> Result<(), EngineError> {
        if !self.stored_any {
            return Ok(());
        }
        let mut lookups = 0_usize;
        let missing: HashSet<&String> = decoded
            .iter()
            .flat_map(|(_, _, keys)| keys)
            .inspect(|_| lookups += 1)
            .filter(|key| !self.cache.contains_key(*key))
            .collect();
        metrics::projection_cache(P::NAME, lookups.saturating_sub(missing.len()), missing.len());
        if missing.is_empty() {
            return Ok(());
        }
        let missing: Vec<String> = missing.into_iter().cloned().collect();
        let found = self
            .context
            .views
            .load(P::NAME, self.generation, missing.clone())
            .await?;
        for key in missing {
            self.cache.insert(
                key,
                Slot {
                    view: None,
                    dirty: false,
                    touched: false,
                },
            );
        }
        for (key, json) in found {
            let view = decode_view::<P>(&key, &json)?;
            if let Some(slot) = self.cache.get_mut(&key) {
                slot.view = Some(view);
            }
        }
        Ok(())
    }

    /// Writes the changed views with the checkpoint in one transaction,
    /// then evicts views so the cache stays under its size.
    async fn flush(&mut self) -> Result<(), EngineError> {
        if self.applied == self.checkpoint {
            return Ok(());
        }
        let mut changes = Vec::with_capacity(self.dirty);
        for (key, slot) in &mut self.cache {
            if !slot.dirty {
                continue;
            }
            let value = match &slot.view {
                None => None,
                Some(view) => Some(serde_json::to_vec(view).map_err(|e| EngineError::Encode {
                    projection: P::NAME.to_string(),
                    key: key.clone(),
                    reason: e.to_string(),
                })?),
            };
            changes.push(ViewChange {
                key: key.clone(),
                value,
            });
        }
        let wrote_views = !changes.is_empty();
        self.context
            .views
            .commit(P::NAME, self.generation, self.checkpoint, self.applied, changes)
            .await?;
        for slot in self.cache.values_mut() {
            slot.dirty = false;
        }
        self.checkpoint = self.applied;
        self.stored_any |= wrote_views;
        self.dirty = 0;
        self.unflushed_events = 0;
        let capacity = self.context.config.cache_views;
        if self.cache.len() >= capacity {
            // Keep the views touched since the previous flush if they fill
            // at most half the cache. They step out into `kept` while the
            // map is emptied and go back in, so the map's table (32,768
            // buckets at the default size) is allocated once and reused.
            // Thinned in place with `retain`, the table keeps tombstones
            // and doubles over a long rebuild; replaced by a new one at
            // each eviction, the freed tables leave holes in the
            // allocator's heap (glibc stops giving blocks that size their
            // own mapping once one is freed) that smaller allocations take,
            // so the process grew with the number of evictions, by several
            // MiB over a rebuild of 10,000,000 events in the bench suite.
            let touched = self.cache.values().filter(|slot| slot.touched).count();
            if touched <= capacity / 2 {
                self.kept.reserve(touched);
                self.kept.extend(self.cache.drain().filter(|(_, slot)| slot.touched));
                self.cache.extend(self.kept.drain(..));
            } else {
                self.cache.clear();
            }
        }
        for slot in self.cache.values_mut() {
            slot.touched = false;
        }
        let checkpoint = self.checkpoint;
        self.context
            .status
            .send_modify(|statuses| statuses[self.context.index].checkpoint = checkpoint);
        let head = if metrics::lag_wanted() {
            self.context.events.head().await.ok()
        } else {
            None
        };
        metrics::projection_flushed(P::NAME, checkpoint, head, self.applied_at);
        Ok(())
    }

    fn set_status(&self, phase: Phase) {
        let (index, generation, checkpoint) = (self.context.index, self.generation, self.checkpoint);
        self.context.status.send_modify(|statuses| {
            let status = &mut statuses[index];
            status.phase = phase;
            status.generation = generation;
            status.checkpoint = checkpoint;
        });
    }
}

/// The span of one batch. A live batch is linked to the traces of the
/// commands whose events it applies (at most [`BATCH_LINKS`]), as far as
/// their metadata carries a `traceparent` (those handled by the bus do).
fn batch_span<P: Projection>(batch: &[RecordedEvent], phase: Reading, generation: u64) -> tracing::Span {
    let span = tracing::info_span!(
        "treaty.projection.batch",
        projection = P::NAME,
        generation,
        phase = phase.as_str(),
        events = batch.len(),
        first_position = batch.first().map_or(0, |e| e.position),
        last_position = batch.last().map_or(0, |e| e.position),
    );
    if phase == Reading::Live {
        trace::link_each(&span, batch.iter().map(|e| &e.metadata.headers), BATCH_LINKS);
    }
    span
}

/// The most traces one live batch's span links to.
const BATCH_LINKS: usize = 32;

impl Reading {
    fn as_str(self) -> &'static str {
        match self {
            Reading::CatchUp => "catch-up",
            Reading::Rebuild => "rebuild",
            Reading::Live => "live",
        }
    }
}

/// Logs a rebuild's progress at most once per interval.
struct Progress {
    started: Instant,
    from: u64,
    head: u64,
    interval: Duration,
    last: Instant,
}

impl Progress {
    fn new(from: u64, head: u64, interval: Duration) -> Self {
        let now = Instant::now();
        Progress {
            started: now,
            from,
            head,
            interval,
            last: now,
        }
    }

    fn report(&mut self, name: &str, applied: u64) {
        if self.last.elapsed() < self.interval {
            return;
        }
        self.last = Instant::now();
        let done = applied.saturating_sub(self.from);
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let left = self.head.saturating_sub(applied);
        let eta = Duration::from_secs_f64(if rate > 0.0 { left as f64 / rate } else { 0.0 });
        tracing::info!(
            "projection {name}: rebuilding, at position {applied} of {} ({rate:.0} events/s, about {} left)",
            self.head,
            format_duration(eta)
        );
    }
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::format_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_duration(Duration::from_secs(72)), "1m12s");
        assert_eq!(format_duration(Duration::from_secs(3 * 3600 + 60)), "3h01m");
    }
}
