//! The runtime's metrics: their names, labels and descriptions, and the
//! small functions the event store, the bus and the projection engine
//! call to record them.
//!
//! Everything is recorded through the [`metrics`](::metrics) facade. With
//! no recorder installed (the default) each call is a check of one global
//! and nothing else; an application that wants the figures installs a
//! recorder once, at start (`treaty::http::prometheus::install()` with the
//! facade's `prometheus` feature, or any exporter of the `metrics`
//! ecosystem), and calls [`describe`] to give each metric its help text.
//!
//! Names follow Prometheus's conventions: a `treaty_` prefix, `_total` on
//! counters, base units (`_seconds`). Labels are bounded: the names of the
//! contracts a process has handlers for, the backend, the projection's
//! name and a few fixed outcomes; never a stream, message or event id.
//! `docs/operations.md` lists every metric with its labels.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, Counter, Gauge, Histogram, Key, Label, Level,
    Metadata, Unit,
};

use crate::store::{AppendError, AppendResult};
use crate::types::Timestamp;

/// Appends, by `backend` and `outcome` (counter).
pub const STORE_APPENDS: &str = "treaty_store_appends_total";
/// Events written by successful appends, by `backend` (counter).
pub const STORE_EVENTS_APPENDED: &str = "treaty_store_events_appended_total";
/// How long appends take, by `backend` (histogram, seconds).
pub const STORE_APPEND_DURATION: &str = "treaty_store_append_duration_seconds";
/// Events refused because the contract registry holds another
/// fingerprint for their contract version, and refused starts, by
/// `operation` (counter).
pub const REGISTRY_REFUSALS: &str = "treaty_registry_refusals_total";
/// Messages the bus settled, by `contract` and `outcome` (counter).
pub const BUS_MESSAGES_HANDLED: &str = "treaty_bus_messages_handled_total";
/// Failed attempts the bus will try again, by `contract` (counter).
pub const BUS_MESSAGES_RETRIED: &str = "treaty_bus_messages_retried_total";
/// Messages the bus parked in the quarantine, by `contract` (counter).
pub const BUS_MESSAGES_QUARANTINED: &str = "treaty_bus_messages_quarantined_total";
/// Messages being handled now, by `contract` (gauge).
pub const BUS_MESSAGES_IN_FLIGHT: &str = "treaty_bus_messages_in_flight";
/// How long handlers take, by `contract` (histogram, seconds).
pub const BUS_HANDLER_DURATION: &str = "treaty_bus_handler_duration_seconds";
/// Events stored after a projection's checkpoint, by `projection` (gauge).
pub const PROJECTION_LAG_EVENTS: &str = "treaty_projection_lag_events";
/// How old the last event a projection applied is while more wait, by
/// `projection` (gauge, seconds).
pub const PROJECTION_LAG_SECONDS: &str = "treaty_projection_lag_seconds";
/// A projection's checkpoint, by `projection` (gauge).
pub const PROJECTION_CHECKPOINT: &str = "treaty_projection_checkpoint_position";
/// Events a projection applied (read past its checkpoint), by
/// `projection` (counter).
pub const PROJECTION_EVENTS_APPLIED: &str = "treaty_projection_events_applied_total";
/// The share of a rebuild done, from 0 to 1, by `projection` (gauge).
pub const PROJECTION_REBUILD_PROGRESS: &str = "treaty_projection_rebuild_progress_ratio";
/// Views a batch found in the projection's cache, by `projection`
/// (counter).
pub const PROJECTION_CACHE_HITS: &str = "treaty_projection_cache_hits_total";
/// Views a batch had to load from (or found absent in) the view store,
/// by `projection` (counter).
pub const PROJECTION_CACHE_MISSES: &str = "treaty_projection_cache_misses_total";

/// Every metric the runtime records: name, type and help text, in the
/// order `docs/operations.md` lists them.
pub const ALL: &[Metric] = &[
    Metric::counter(STORE_APPENDS, "Appends to the event store, by backend and outcome (ok, conflict, refused, failed)."),
    Metric::counter(STORE_EVENTS_APPENDED, "Events written by successful appends, by backend."),
    Metric::histogram(STORE_APPEND_DURATION, "How long an append takes, validation to commit, by backend."),
    Metric::counter(
        REGISTRY_REFUSALS,
        "Refusals of the contract registry: appends of an event whose contract version is stored with another fingerprint (operation=append), and starts whose compiled contracts cannot read the store (operation=register).",
    ),
    Metric::counter(BUS_MESSAGES_HANDLED, "Messages the bus settled with an outcome, by contract and outcome (handled, refused)."),
    Metric::counter(BUS_MESSAGES_RETRIED, "Failed attempts of messages the bus delivers again later, by contract."),
    Metric::counter(BUS_MESSAGES_QUARANTINED, "Messages the bus parked in the quarantine, by contract."),
    Metric::gauge(BUS_MESSAGES_IN_FLIGHT, "Messages whose handler is running, by contract."),
    Metric::histogram(BUS_HANDLER_DURATION, "How long a handler takes with one message, by contract."),
    Metric::gauge(PROJECTION_LAG_EVENTS, "Events stored after the projection's checkpoint, by projection, as of its last flush."),
    Metric::gauge(
        PROJECTION_LAG_SECONDS,
        "Age of the last event the projection flushed while events after it wait, 0 when caught up, by projection.",
    ),
    Metric::gauge(PROJECTION_CHECKPOINT, "The position of the projection's checkpoint, by projection."),
    Metric::counter(PROJECTION_EVENTS_APPLIED, "Store events the projection read past its checkpoint, by projection."),
    Metric::gauge(PROJECTION_REBUILD_PROGRESS, "Share of the projection's current rebuild done, from 0 to 1 (1 once promoted), by projection."),
    Metric::counter(PROJECTION_CACHE_HITS, "Views a batch found in the projection's write-behind cache, by projection."),
    Metric::counter(PROJECTION_CACHE_MISSES, "Views a batch did not find in the projection's cache, by projection."),
];

/// The bucket bounds, in seconds, that latency histograms are best
/// exported with: 50 µs to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What kind of metric a [`Metric`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution (`_seconds`: exported with `_bucket`, `_sum` and
    /// `_count` series).
    Histogram,
}

/// One metric the runtime records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    /// Its name, such as `treaty_store_appends_total`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Its help text.
    pub help: &'static str,
}

impl Metric {
    const fn counter(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Counter,
            help,
        }
    }

    const fn gauge(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Gauge,
            help,
        }
    }

    const fn histogram(name: &'static str, help: &'static str) -> Metric {
        Metric {
            name,
            kind: Kind::Histogram,
            help,
        }
    }
}

/// Whether [`describe`] was called: the one measurement that costs a
/// store read (a projection's lag in events) is taken only then.
static DESCRIBED: AtomicBool = AtomicBool::new(false);

/// Gives every metric of [`ALL`] its help text (and the histograms their
/// unit) in the installed recorder. Call it once after installing one:
/// it also switches on the projections' lag in events, which reads the
/// store's head after each flush. Without a recorder it does nothing else.
pub fn describe() {
    DESCRIBED.store(true, Ordering::Relaxed);
    for metric in ALL {
        match metric.kind {
            Kind::Counter => describe_counter!(metric.name, Unit::Count, metric.help),
            Kind::Gauge => describe_gauge!(metric.name, metric.help),
            Kind::Histogram => describe_histogram!(metric.name, Unit::Seconds, metric.help),
        }
    }
}

/// The event store backends, the `backend` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

impl Backend {
    fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres => "postgres",
        }
    }
}

// The metrics recorded for every append and every message are recorded
// through keys made once: a key made at each call (what the macros do)
// allocates its labels, hashes them and frees them again, a sizeable
// part of what telemetry costs a command. A key is only a name and
// labels, so it is right whichever recorder is installed, and whenever.

/// Where the metrics recorded through kept keys say they come from, as
/// the macros would.
static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// A key whose labels are shared: a recorder keeps its own copy of every
/// key it is given (`Key::to_retained`), which for labels made at the
/// call, as the macros make them, is a new allocation each time, and for
/// shared ones a reference count.
fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|&(label, value)| Label::from_static_parts(label, value))
            .collect::<Vec<_>>(),
    )
    .to_retained()
}

fn counter_of(key: &Key) -> Counter {
    ::metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA))
}

fn gauge_of(key: &Key) -> Gauge {
    ::metrics::with_recorder(|recorder| recorder.register_gauge(key, &METADATA))
}

fn histogram_of(key: &Key) -> Histogram {
    ::metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA))
}

/// The `outcome` label of [`STORE_APPENDS`].
#[derive(Debug, Clone, Copy)]
enum AppendOutcome {
    Ok,
    Conflict,
    Refused,
    Failed,
}

const APPEND_OUTCOMES: [AppendOutcome; 4] = [
    AppendOutcome::Ok,
    AppendOutcome::Conflict,
    AppendOutcome::Refused,
    AppendOutcome::Failed,
];

impl AppendOutcome {
    fn label(self) -> &'static str {
        match self {
            AppendOutcome::Ok => "ok",
            AppendOutcome::Conflict => "conflict",
            AppendOutcome::Refused => "refused",
            AppendOutcome::Failed => "failed",
        }
    }
}

/// The keys of one backend's append metrics.
struct AppendKeys {
    /// [`STORE_APPENDS`], in [`APPEND_OUTCOMES`]' order.
    appends: [Key; 4],
    events: Key,
    duration: Key,
}

impl AppendKeys {
    fn new(backend: Backend) -> AppendKeys {
        let backend = ("backend", backend.label());
        AppendKeys {
            appends: APPEND_OUTCOMES.map(|outcome| key(STORE_APPENDS, &[backend, ("outcome", outcome.label())])),
            events: key(STORE_EVENTS_APPENDED, &[backend]),
            duration: key(STORE_APPEND_DURATION, &[backend]),
        }
    }
}

static SQLITE_APPENDS: LazyLock<AppendKeys> = LazyLock::new(|| AppendKeys::new(Backend::Sqlite));
#[cfg(feature = "postgres")]
static POSTGRES_APPENDS: LazyLock<AppendKeys> = LazyLock::new(|| AppendKeys::new(Backend::Postgres));

/// One append being timed: [`Append::start`] before it, [`Append::finish`]
/// with its result.
pub(crate) struct Append {
    backend: Backend,
    events: usize,
    started: Instant,
}

impl Append {
    pub(crate) fn start(backend: Backend, events: usize) -> Append {
        Append {
            backend,
            events,
            started: Instant::now(),
        }
    }

    /// Records the append's outcome, events and duration; returns
    /// `result` unchanged.
    pub(crate) fn finish(self, result: Result<AppendResult, AppendError>) -> Result<AppendResult, AppendError> {
        let keys: &AppendKeys = match self.backend {
            Backend::Sqlite => &SQLITE_APPENDS,
            #[cfg(feature = "postgres")]
            Backend::Postgres => &POSTGRES_APPENDS,
        };
        let outcome = match &result {
            Ok(_) => AppendOutcome::Ok,
            Err(AppendError::WrongExpectedVersion { .. } | AppendError::IdConflict { .. }) => AppendOutcome::Conflict,
            Err(AppendError::FingerprintMismatch { .. } | AppendError::IncompatibleSchema { .. }) => {
                counter!(REGISTRY_REFUSALS, "operation" => "append").increment(1);
                AppendOutcome::Refused
            }
            Err(AppendError::Storage(_) | AppendError::Unavailable(_)) => AppendOutcome::Failed,
            Err(_) => AppendOutcome::Refused,
        };
        counter_of(&keys.appends[outcome as usize]).increment(1);
        if result.is_ok() {
            counter_of(&keys.events).increment(self.events as u64);
        }
        histogram_of(&keys.duration).record(self.started.elapsed());
        result
    }
}

/// A start refused because the compiled contracts cannot read the store.
pub(crate) fn registry_refused_start() {
    counter!(REGISTRY_REFUSALS, "operation" => "register").increment(1);
}

/// The label of a message whose contract has no handler here or that
/// could not be read: contracts from the wire are not labels, so a sender
/// cannot make the number of series grow.
const UNKNOWN_CONTRACT: &str = "unknown";

/// The keys of the bus metrics of one contract's messages, made once,
/// when its handler is registered.
pub(crate) struct ContractMetrics {
    in_flight: Key,
    handler_duration: Key,
    handled: Key,
    refused: Key,
    retried: Key,
    quarantined: Key,
}

static UNKNOWN: LazyLock<ContractMetrics> = LazyLock::new(|| ContractMetrics::new(UNKNOWN_CONTRACT));

impl ContractMetrics {
    /// `contract` is the name the handler is registered with.
    pub(crate) fn new(contract: &'static str) -> ContractMetrics {
        let contract = ("contract", contract);
        ContractMetrics {
            in_flight: key(BUS_MESSAGES_IN_FLIGHT, &[contract]),
            handler_duration: key(BUS_HANDLER_DURATION, &[contract]),
            handled: key(BUS_MESSAGES_HANDLED, &[contract, ("outcome", "handled")]),
            refused: key(BUS_MESSAGES_HANDLED, &[contract, ("outcome", "refused")]),
            retried: key(BUS_MESSAGES_RETRIED, &[contract]),
            quarantined: key(BUS_MESSAGES_QUARANTINED, &[contract]),
        }
    }

    /// Those of messages of a contract with no handler here, or that
    /// could not be read ([`UNKNOWN_CONTRACT`]).
    pub(crate) fn unknown() -> &'static ContractMetrics {
        &UNKNOWN
    }
}

/// One message being handled: counts it in flight until dropped (also
/// when the handler panics), and times it.
struct Handling<'a> {
    metrics: &'a ContractMetrics,
    /// The gauge counted up, to count down: the same series, looked up
    /// once.
    in_flight: Gauge,
    started: Instant,
}

impl Handling<'_> {
    fn start(metrics: &ContractMetrics) -> Handling<'_> {
        let in_flight = gauge_of(&metrics.in_flight);
        in_flight.increment(1.0);
        Handling {
            metrics,
            in_flight,
            started: Instant::now(),
        }
    }
}

impl Drop for Handling<'_> {
    fn drop(&mut self) {
        self.in_flight.decrement(1.0);
        histogram_of(&self.metrics.handler_duration).record(self.started.elapsed());
    }
}

/// Runs a handler's future counted in flight and timed: the count goes
/// down when it ends, and when it panics and unwinds.
pub(crate) async fn handling<F: std::future::Future>(metrics: &ContractMetrics, handler: F) -> F::Output {
    let _handling = Handling::start(metrics);
    handler.await
}

/// What became of a message the bus took, the `outcome` label of
/// [`BUS_MESSAGES_HANDLED`] or the counter it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Handled,
    Refused,
    Retried,
    Quarantined,
}

/// Counts a message the bus settled.
pub(crate) fn bus_settled(metrics: &ContractMetrics, settled: Settled) {
    let key = match settled {
        Settled::Handled => &metrics.handled,
        Settled::Refused => &metrics.refused,
        Settled::Retried => &metrics.retried,
        Settled::Quarantined => &metrics.quarantined,
    };
    counter_of(key).increment(1);
}

/// Counts the store events a batch of a projection read.
pub(crate) fn projection_batch(projection: &'static str, events: usize) {
    counter!(PROJECTION_EVENTS_APPLIED, "projection" => projection).increment(events as u64);
}

/// Counts a batch's view lookups: found in the cache, or loaded from the
/// view store (a generation that cannot hold views yet, at the start of a
/// rebuild, looks nothing up).
pub(crate) fn projection_cache(projection: &'static str, hits: usize, misses: usize) {
    if hits > 0 {
        counter!(PROJECTION_CACHE_HITS, "projection" => projection).increment(hits as u64);
    }
    if misses > 0 {
        counter!(PROJECTION_CACHE_MISSES, "projection" => projection).increment(misses as u64);
    }
}

/// Whether a projection should read the store's head after a flush for
/// [`projection_flushed`]: only once [`describe`] was called.
pub(crate) fn lag_wanted() -> bool {
    DESCRIBED.load(Ordering::Relaxed)
}

/// Sets a projection's checkpoint and lag after a flush: `head` is the
/// store's head read after it (`None` when it could not be read), and
/// `last_applied` the metadata timestamp of the last event flushed.
pub(crate) fn projection_flushed(
    projection: &'static str,
    checkpoint: u64,
    head: Option<u64>,
    last_applied: Option<Timestamp>,
) {
    gauge!(PROJECTION_CHECKPOINT, "projection" => projection).set(checkpoint as f64);
    let Some(head) = head else { return };
    let behind = head.saturating_sub(checkpoint);
    gauge!(PROJECTION_LAG_EVENTS, "projection" => projection).set(behind as f64);
    let seconds = match last_applied {
        Some(at) if behind > 0 => age(at).as_secs_f64(),
        _ => 0.0,
    };
    gauge!(PROJECTION_LAG_SECONDS, "projection" => projection).set(seconds);
}

/// Time since `at`, zero for a time in the future (clocks of other
/// machines, or a timestamp the application chose).
fn age(at: Timestamp) -> Duration {
    let now = Timestamp::now();
    now.duration_since(at).try_into().unwrap_or(Duration::ZERO)
}

/// Sets the share of a projection's rebuild done: `applied` of the events
/// from `from` to `head`.
pub(crate) fn projection_rebuild_progress(projection: &'static str, from: u64, applied: u64, head: u64) {
    let ratio = if head <= from {
        1.0
    } else {
        (applied.saturating_sub(from) as f64 / (head - from) as f64).min(1.0)
    };
    gauge!(PROJECTION_REBUILD_PROGRESS, "projection" => projection).set(ratio);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for metric in ALL {
            assert!(seen.insert(metric.name), "{} is listed twice", metric.name);
            assert!(metric.name.starts_with("treaty_"), "{}", metric.name);
            assert!(
                metric.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                metric.name
            );
            match metric.kind {
                Kind::Counter => assert!(metric.name.ends_with("_total"), "{}", metric.name),
                Kind::Histogram => assert!(metric.name.ends_with("_seconds"), "{}", metric.name),
                Kind::Gauge => assert!(!metric.name.ends_with("_total"), "{}", metric.name),
            }
            assert!(!metric.help.is_empty(), "{}", metric.name);
        }
    }

    #[test]
    fn latency_buckets_ascend() {
        assert!(LATENCY_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    /// Each gauge `f` sets, by name and labels.
    fn gauges(f: impl FnOnce()) -> std::collections::BTreeMap<String, f64> {
        use metrics_util::debugging::{DebugValue, DebuggingRecorder};
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        ::metrics::with_local_recorder(&recorder, f);
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                DebugValue::Gauge(v) => {
                    let labels: Vec<String> = key.key().labels().map(|l| l.value().to_string()).collect();
                    Some((format!("{}{{{}}}", key.key().name(), labels.join(",")), v.into_inner()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lag_is_the_events_after_the_checkpoint_and_the_age_of_the_last_while_any_wait() {
        let hour_ago = Timestamp::now() - jiff::SignedDuration::from_secs(3600);
        let behind = gauges(|| projection_flushed("p", 7, Some(10), Some(hour_ago)));
        assert_eq!(behind["treaty_projection_checkpoint_position{p}"], 7.0);
        assert_eq!(behind["treaty_projection_lag_events{p}"], 3.0);
        let seconds = behind["treaty_projection_lag_seconds{p}"];
        assert!((3600.0..3700.0).contains(&seconds), "{seconds}");

        let caught_up = gauges(|| projection_flushed("p", 10, Some(10), Some(hour_ago)));
        assert_eq!(caught_up["treaty_projection_lag_events{p}"], 0.0);
        assert_eq!(caught_up["treaty_projection_lag_seconds{p}"], 0.0);

        // Without the head, only the checkpoint is known.
        let unknown = gauges(|| projection_flushed("p", 10, None, Some(hour_ago)));
        assert_eq!(unknown.len(), 1, "{unknown:?}");
    }

    #[test]
    fn rebuild_progress_is_a_share_of_the_events_to_read() {
        let at = |from, applied, head| {
            gauges(|| projection_rebuild_progress("p", from, applied, head))
                ["treaty_projection_rebuild_progress_ratio{p}"]
        };
        assert_eq!(at(0, 25, 100), 0.25);
        assert_eq!(at(50, 75, 100), 0.5);
        assert_eq!(at(0, 0, 0), 1.0, "nothing to read");
        assert_eq!(at(0, 150, 100), 1.0, "events appended since the start");
        assert_eq!(at(100, 50, 200), 0.0);
    }

    #[test]
    fn a_future_timestamp_has_no_age() {
        let later = Timestamp::now() + jiff::SignedDuration::from_secs(3600);
        assert_eq!(age(later), Duration::ZERO);
    }
}
