//! The telemetry suite: what recording costs, telemetry on against off.
//!
//! - `telemetry_bus_inprocess`: commands through the bus over the
//!   in-process transport, each appending one event to a durable SQLite
//!   store (the bus suite's `inproc_commands`).
//! - `telemetry_sqlite_append`: single-event appends to a durable SQLite
//!   store by 16 tasks at once, each to a stream of its own.
//!
//! "On" is the Prometheus recorder installed (`treaty::http::prometheus::
//! install`, rendered once a second as a scrape would) and a `tracing`
//! subscriber recording spans and events at INFO (formatting into a
//! sink); "off" is neither. The `_unformatted` cases are "on" without
//! the `fmt` layer: the spans are recorded (the subscriber's registry
//! keeps them, their parents and their extensions) but nothing formats
//! their fields, which shows what of "on" is Treaty's spans and metrics
//! and what is the formatting. The `_traces` cases add to "on" Treaty's
//! OpenTelemetry layer (`treaty::telemetry::trace::layer`, feature
//! `otel`) over a tracer provider with a batch span processor, as
//! `telemetry::otlp::layer` sets one up, whose exporter counts the spans
//! and drops them: every span becomes an OpenTelemetry span and is
//! handed to the exporter's thread, what a service exporting traces pays
//! less the network. The commands are sent in no span, so at INFO no
//! trace context travels in their envelopes: each delivery starts a
//! trace (a command sent within a span, as a service's are, also carries
//! its `traceparent` into the envelope and the event's metadata).
//! A process has one recorder and one subscriber for good, so
//! each side runs in a child process of its own (`treaty-bench
//! telemetry-side`), the sides in an order that rotates each round, so
//! that a change of the machine's load falls on all; each side's median rate
//! counts, not its best: on two shared cores one run in a few is much
//! faster than the others, whichever the side, and the best would compare
//! that one run with the typical runs of the other side. Each case also
//! reports the process's CPU time per command or append (`_cpu` cases,
//! the median of each side), and with `--instructions` the bus case's
//! instructions per command counted under Valgrind's callgrind, which
//! the machine's load does not move at all.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use treaty::bus::InProcessTransport;
use treaty::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName};
use treaty::telemetry::opentelemetry_sdk::error::OTelSdkResult;
use treaty::telemetry::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use treaty::Uuid;

use crate::report::{Report, Row, Target};
use crate::timing::{load_average, median};
use crate::Failure;

/// What a child prints before its figures.
const RESULT_PREFIX: &str = "telemetry-side: ";

/// Tasks appending at once.
const APPENDERS: u64 = 16;

/// Runs the suite: `rounds` rounds of a child process per side, each
/// measuring `commands` bus commands and `appends` appends; with
/// `instructions`, also the instruction counts of that many commands.
pub fn run(commands: u64, appends: u64, rounds: usize, instructions: Option<u64>) -> Result<Report, Failure> {
    // Every run of each side, in `Side::ALL`'s order.
    let mut runs: [Runs; Side::ALL.len()] = Default::default();
    for round in 0..rounds.max(1) {
        // Rotating the order, so that each side is first, second, and so
        // on, as often as the others.
        let mut order = Side::ALL;
        order.rotate_left(round % Side::ALL.len());
        for side in order {
            let figures = child(side, commands, appends)?;
            eprintln!(
                "telemetry: round {} {}: bus {:.0} commands/s ({:.1} µs CPU, {:.1} spans exported each), \
                 appends {:.0}/s ({:.1} µs CPU each) (load average {})",
                round + 1,
                side.name(),
                figures.bus,
                figures.bus_cpu,
                figures.spans,
                figures.append,
                figures.append_cpu,
                load_average()
            );
            runs[side as usize].0.push(figures);
        }
    }
    let mut report = Report::new();
    span_costs(&mut report)?;
    if let Some(commands) = instructions {
        instruction_counts(&mut report, commands)?;
    }
    let off = runs[Side::Off as usize].median();
    for side in Side::ALL.into_iter().filter(|side| *side != Side::Off) {
        let measured = runs[side as usize].median();
        let suffix = side.suffix();
        // The definition of "on", and what a service exporting
        // traces runs, are held to the target; the side without the
        // `fmt` layer shows what of "on" is the spans and metrics
        // themselves, and has none.
        let target = (side != Side::OnUnformatted).then_some(Target::AtLeast(0.95));
        let rate = |row: Row| match target {
            Some(target) => row.target(target),
            None => row,
        };
        report.push(rate(
            Row::new(
                "telemetry",
                format!("telemetry_bus_inprocess{suffix}"),
                measured.bus,
                "commands/s",
            )
            .relative_to(format!("telemetry off, {commands} commands"), off.bus),
        ));
        report.push(rate(
            Row::new(
                "telemetry",
                format!("telemetry_sqlite_append{suffix}"),
                measured.append,
                "appends/s",
            )
            .relative_to(format!("telemetry off, {appends} appends"), off.append),
        ));
        report.push(
            Row::new(
                "telemetry",
                format!("telemetry_bus_inprocess{suffix}_cpu"),
                measured.bus_cpu,
                "µs/command",
            )
            .against("telemetry off", off.bus_cpu),
        );
        report.push(
            Row::new(
                "telemetry",
                format!("telemetry_sqlite_append{suffix}_cpu"),
                measured.append_cpu,
                "µs/append",
            )
            .against("telemetry off", off.append_cpu),
        );
    }
    Ok(report)
}

/// What a side installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Nothing.
    Off,
    /// The Prometheus recorder and a subscriber recording spans and
    /// events at INFO, whose `fmt` layer formats them (into a sink), as a
    /// service logging at INFO does.
    On,
    /// `On` without the `fmt` layer: the spans recorded at INFO (by the
    /// subscriber's registry) and the metrics, but nothing formatted.
    OnUnformatted,
    /// `On`, with an OpenTelemetry layer in the subscriber exporting
    /// every trace.
    Traces,
    /// `Traces`, sampling one trace in ten (`Export::sample(0.1)`, what
    /// `OtlpConfig::sample(0.1)` sets up): a production setting.
    TracesSampled,
}

/// The share of traces [`Side::TracesSampled`] exports.
pub const SAMPLED: f64 = 0.1;

impl Side {
    /// Every side, each at the index of its discriminant.
    const ALL: [Side; 5] = [
        Side::Off,
        Side::On,
        Side::OnUnformatted,
        Side::Traces,
        Side::TracesSampled,
    ];

    fn name(self) -> &'static str {
        match self {
            Side::Off => "off",
            Side::On => "on",
            Side::OnUnformatted => "on, spans not formatted",
            Side::Traces => "on with traces",
            Side::TracesSampled => "on with 1 trace in 10",
        }
    }

    /// What the side's case names end with.
    fn suffix(self) -> &'static str {
        match self {
            Side::Off => "_off",
            Side::On => "",
            Side::OnUnformatted => "_unformatted",
            Side::Traces => "_traces",
            Side::TracesSampled => "_traces_sampled",
        }
    }
}

/// The rates one run of a side measured, the CPU time per operation, and
/// the spans exported per bus command.
#[derive(Debug, Clone, Copy)]
struct Figures {
    bus: f64,
    append: f64,
    bus_cpu: f64,
    append_cpu: f64,
    spans: f64,
}

/// Every run of one side.
#[derive(Debug, Default)]
struct Runs(Vec<Figures>);

impl Runs {
    /// Each figure's median over the runs, each taken on its own.
    fn median(&self) -> Figures {
        let of = |figure: fn(&Figures) -> f64| median(self.0.iter().map(figure).collect());
        Figures {
            bus: of(|f| f.bus),
            append: of(|f| f.append),
            bus_cpu: of(|f| f.bus_cpu),
            append_cpu: of(|f| f.append_cpu),
            spans: of(|f| f.spans),
        }
    }
}

/// Runs one side in a child process and reads its figures.
fn child(side: Side, commands: u64, appends: u64) -> Result<Figures, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let mut command = Command::new(&exe);
    command.args(side_args(side, commands, appends));
    run_side(command, &exe.display().to_string())
}

/// The arguments of `treaty-bench` that run `side`.
fn side_args(side: Side, commands: u64, appends: u64) -> Vec<String> {
    let mut args = vec![
        "telemetry-side".to_string(),
        "--commands".to_string(),
        commands.to_string(),
        "--appends".to_string(),
        appends.to_string(),
    ];
    let flags: &[&str] = match side {
        Side::Off => &[],
        Side::On => &["--on"],
        Side::OnUnformatted => &["--on", "--unformatted"],
        Side::Traces => &["--on", "--traces"],
        Side::TracesSampled => &["--on", "--traces", "--sample"],
    };
    args.extend(flags.iter().map(|flag| flag.to_string()));
    if side == Side::TracesSampled {
        args.push(SAMPLED.to_string());
    }
    args
}

/// Runs a side's process (`program`, as an error names it) and reads its
/// figures.
fn run_side(mut command: Command, program: &str) -> Result<Figures, Failure> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::io(format!("run {program}"), e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Failure::new(format!(
            "a telemetry side failed ({}): {stdout}",
            output.status
        )));
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| Failure::new(format!("a telemetry side printed no result: {stdout}")))?;
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match numbers[..] {
        [bus, append, bus_cpu, append_cpu, spans] => Ok(Figures {
            bus,
            append,
            bus_cpu,
            append_cpu,
            spans,
        }),
        _ => Err(Failure::new(format!(
            "a telemetry side printed {line:?}, not two rates, two CPU times and a span count"
        ))),
    }
}

/// The child: installs telemetry when `on`, measures both cases, prints
/// `telemetry-side: BUS APPEND BUS_CPU APPEND_CPU SPANS` (rates per second,
/// CPU microseconds per operation, spans exported per bus command).
pub fn side(side: Side, commands: u64, appends: u64) -> Result<(), Failure> {
    let mut provider = None;
    if side != Side::Off {
        let handle = treaty::http::prometheus::install()
            .map_err(|e| Failure::new(format!("cannot install the Prometheus recorder: {e}")))?;
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        let share = match side {
            Side::TracesSampled => Some(SAMPLED),
            Side::Traces => Some(1.0),
            Side::Off | Side::On | Side::OnUnformatted => None,
        };
        let traces = share.map(|share| {
            // What a service exporting traces runs: Treaty's layer over a
            // batch processor that hands the spans, from a thread of its
            // own, to an exporter; this one counts and drops them, so the
            // figure is a service's less the network.
            let export = treaty::telemetry::trace::Export::batch(Discard).sample(share);
            let (layer, traces) = treaty::telemetry::trace::layer(export);
            provider = Some(traces);
            layer
        });
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(traces)
            .with((side != Side::OnUnformatted).then(|| tracing_subscriber::fmt::layer().with_writer(std::io::sink)))
            .try_init()
            .map_err(|e| Failure::new(format!("cannot install the tracing subscriber: {e}")))?;
        // Scraped once a second, as Prometheus would.
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            std::hint::black_box(handle.render());
        });
    }
    // The spans of the bus case, all exported before its CPU time is read.
    let flush = || {
        if let Some(provider) = &provider {
            provider
                .force_flush()
                .map_err(|e| Failure::new(format!("cannot flush the spans: {e}")))?;
        }
        Ok::<_, Failure>(EXPORTED.load(Ordering::Relaxed))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start the runtime", e))?;
    let cpu = || crate::http::cpu_time().ok_or_else(|| Failure::new("no /proc/self/stat on this system"));
    let (bus, append, bus_cpu, append_cpu, spans) = runtime.block_on(async {
        let started = cpu()?;
        let bus = crate::bus::through_bus(commands, 1, |_| Ok(InProcessTransport::new())).await?;
        let spans = flush()?;
        let between = cpu()?;
        let append = concurrent_appends(appends).await?;
        let ended = cpu()?;
        let micros = |d: Duration, n: u64| d.as_secs_f64() * 1e6 / n.max(1) as f64;
        Ok::<_, Failure>((
            bus,
            append,
            micros(between.saturating_sub(started), commands),
            micros(ended.saturating_sub(between), appends),
            spans as f64 / commands.max(1) as f64,
        ))
    })?;
    if let Some(provider) = provider {
        // Every trace: four spans a command (delivery, execution,
        // decision, append); one in ten: about a tenth.
        let expected = if side == Side::TracesSampled { 0.05 } else { 1.0 };
        if spans < expected {
            return Err(Failure::new(format!(
                "the bus case exported {spans} spans per command: the OpenTelemetry layer recorded too few"
            )));
        }
        let _ = provider.shutdown();
    }
    println!("{RESULT_PREFIX}{bus} {append} {bus_cpu} {append_cpu} {spans}");
    Ok(())
}

/// Appends per side under callgrind: the bus case is the one counted.
const COUNTED_APPENDS: u64 = 10;

/// The instruction-count cases: the bus case (`commands` commands, the
/// suite's store and transport) off, on, and on without the `fmt` layer,
/// each in a child process under Valgrind's callgrind, whose count of
/// the instructions executed (by every thread, start-up included) the
/// machine's load does not move, where it moves a rate by more than
/// telemetry costs.
fn instruction_counts(report: &mut Report, commands: u64) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let mut per_command = Vec::new();
    for side in [Side::Off, Side::On, Side::OnUnformatted] {
        let out = dir.path().join(format!("callgrind.{}.out", side.suffix()));
        let mut command = Command::new("valgrind");
        command
            .arg("-q")
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&exe)
            .args(side_args(side, commands, COUNTED_APPENDS));
        run_side(command, "valgrind (Debian's package `valgrind`)")?;
        let counted = callgrind_total(&out)? as f64 / commands.max(1) as f64;
        eprintln!(
            "telemetry: instructions {}: {:.1}k per command",
            side.name(),
            counted / 1e3
        );
        per_command.push(counted);
    }
    let baseline = format!("telemetry off, {commands} commands under callgrind");
    report.push(
        Row::new(
            "telemetry",
            "telemetry_bus_inprocess_instructions",
            per_command[1],
            "instructions/command",
        )
        .against(baseline.clone(), per_command[0])
        .target(Target::AtLeast(0.95)),
    );
    report.push(
        Row::new(
            "telemetry",
            "telemetry_bus_inprocess_unformatted_instructions",
            per_command[2],
            "instructions/command",
        )
        .against(baseline, per_command[0]),
    );
    Ok(())
}

/// The instructions a callgrind output file counted (its `totals:` line).
fn callgrind_total(path: &std::path::Path) -> Result<u64, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io(format!("read {}", path.display()), e))?;
    text.lines()
        .find_map(|line| line.strip_prefix("totals:"))
        .and_then(|total| total.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Failure::new(format!("{} has no `totals:` line", path.display())))
}

/// Spans the [`Discard`] exporter was given.
static EXPORTED: AtomicU64 = AtomicU64::new(0);

/// A span exporter that counts the spans and drops them.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    fn export(&self, batch: Vec<SpanData>) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        EXPORTED.fetch_add(batch.len() as u64, Ordering::Relaxed);
        drop(batch);
        std::future::ready(Ok(()))
    }
}

/// Commands per span-cost measurement.
const SPAN_COMMANDS: u64 = 40_000;

/// The span-cost cases: the CPU time per command of the bus over the
/// in-process transport with an in-memory store, on one thread, so that
/// what telemetry adds is a large share of it and a loaded machine moves
/// it little: with no subscriber, with the subscriber of "on", with it and
/// tracing-opentelemetry's layer as the crate sets it up by default, and
/// with it and Treaty's (`treaty::telemetry::trace::layer`), both over a
/// batch span processor recording every trace, and with Treaty's layer
/// over one that records one trace in ten (`trace::sampler(0.1)`, what
/// `OtlpConfig::sample(0.1)` sets up), a production setting, never the
/// figure of every span. Three rounds in a rotating order; the lowest
/// time of each counts.
fn span_costs(report: &mut Report) -> Result<(), Failure> {
    let mut best = [f64::INFINITY; 5];
    let mut spans = [0.0; 5];
    for round in 0..3 {
        for which in (0..5).map(|i| (i + round) % 5) {
            let measured = span_side(SPAN_SIDES[which])?;
            eprintln!(
                "telemetry: spans round {} {}: {:.1} µs CPU per command, {:.1} spans exported each (load average {})",
                round + 1,
                SPAN_SIDES[which],
                measured.0,
                measured.1,
                load_average()
            );
            best[which] = best[which].min(measured.0);
            spans[which] = measured.1;
        }
    }
    for (which, case) in [
        (1, "telemetry_spans_on_cpu"),
        (2, "telemetry_spans_default_layer_cpu"),
        (3, "telemetry_spans_traces_cpu"),
        (4, "telemetry_spans_traces_sampled_cpu"),
    ] {
        report.push(
            Row::new("telemetry", case, best[which], "µs/command")
                .against(format!("no subscriber, {SPAN_COMMANDS} commands"), best[0]),
        );
    }
    if spans[2] < 1.0 || spans[3] < 1.0 {
        return Err(Failure::new(format!(
            "the span-cost cases exported {} and {} spans per command: a layer recorded nothing",
            spans[2], spans[3]
        )));
    }
    // A tenth of the traces, whole: about a tenth of the spans, and some.
    if !(spans[4] > 0.0 && spans[4] < spans[3] / 4.0) {
        return Err(Failure::new(format!(
            "the sampled case exported {} spans per command against {} unsampled: not a tenth",
            spans[4], spans[3]
        )));
    }
    Ok(())
}

/// The sides of the span-cost cases, by the names
/// `treaty-bench telemetry-span-side --side` takes.
pub const SPAN_SIDES: [&str; 5] = [
    "off",
    "on",
    "default layer",
    "Treaty's layer",
    "Treaty's layer, 1 trace in 10",
];

/// Measures one side of the span-cost cases: CPU microseconds per command
/// and spans exported per command. Also run alone, in a process of its
/// own, by `treaty-bench telemetry-span-side` (hidden), for a profiler
/// such as `valgrind --tool=callgrind`, whose instruction counts a loaded
/// machine does not move.
pub fn span_side(side: &str) -> Result<(f64, f64), Failure> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use treaty::telemetry::opentelemetry::trace::TracerProvider as _;
    use treaty::telemetry::trace::{layer, Export};

    let on = || {
        tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
    };
    match side {
        "off" => span_cost(tracing::subscriber::NoSubscriber::default(), None),
        "on" => span_cost(on(), None),
        "default layer" => {
            let provider = treaty::telemetry::opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(Discard)
                .build();
            let layer = treaty::telemetry::tracing_opentelemetry::layer().with_tracer(provider.tracer("b"));
            span_cost(on().with(layer), Some(provider))
        }
        "Treaty's layer" => {
            let (layer, provider) = layer(Export::batch(Discard));
            span_cost(on().with(layer), Some(provider))
        }
        "Treaty's layer, 1 trace in 10" => {
            // The sampling a production service may choose
            // (`OtlpConfig::sample(0.1)`): every span is still a
            // `tracing` span, and every send writes the trace context; a
            // tenth of the traces are recorded and exported.
            let (layer, provider) = layer(Export::batch(Discard).sample(0.1));
            span_cost(on().with(layer), Some(provider))
        }
        other => Err(Failure::new(format!(
            "no span-cost side {other:?}; the sides are {}",
            SPAN_SIDES.join(", ")
        ))),
    }
}

/// CPU microseconds per command and spans exported per command: commands
/// through the bus over the in-process transport, each to a stream of its
/// own, handled by a repository over an in-memory store, on a
/// current-thread runtime whose thread has
/// `subscriber` as its default; `provider`'s spans are flushed before the
/// time is read.
fn span_cost<S>(
    subscriber: S,
    provider: Option<treaty::telemetry::opentelemetry_sdk::trace::SdkTracerProvider>,
) -> Result<(f64, f64), Failure>
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    use treaty::aggregate::Repository;
    use treaty::bus::{Bus, BusConfig, MemoryQuarantine};
    use treaty::store::MemoryStore;

    let _default = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start the runtime", e))?;
    let cpu = || crate::http::cpu_time().ok_or_else(|| Failure::new("no /proc/self/stat on this system"));
    let exported = EXPORTED.load(Ordering::Relaxed);
    let elapsed = runtime.block_on(async {
        let store = MemoryStore::new();
        let bus = Bus::new(
            InProcessTransport::new(),
            MemoryQuarantine::new(),
            BusConfig {
                concurrency: APPENDERS as usize,
                ..BusConfig::default()
            },
        );
        bus.handle_aggregate(Repository::<crate::counter::Counter, _>::new(store.clone()))
            .map_err(|e| Failure::new(e.to_string()))?;
        let running = bus.start();
        let started = cpu()?;
        for i in 0..SPAN_COMMANDS {
            // A stream of its own each, so that no command reads earlier
            // events (and their metadata) back: what is left is the bus,
            // the decision, the append and what telemetry adds to them.
            let command = crate::counter::Increment {
                id: crate::counter::CounterId(format!("span-{i}")),
                by: 1,
            };
            bus.send(&command)
                .await
                .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
        }
        while store.head().await.map_err(|e| Failure::new(e.to_string()))? < SPAN_COMMANDS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if let Some(provider) = &provider {
            provider
                .force_flush()
                .map_err(|e| Failure::new(format!("cannot flush the spans: {e}")))?;
        }
        let elapsed = cpu()?.saturating_sub(started);
        running.shutdown().await;
        let head = store.head().await.map_err(|e| Failure::new(e.to_string()))?;
        if head != SPAN_COMMANDS {
            return Err(Failure::new(format!("{SPAN_COMMANDS} commands stored {head} events")));
        }
        Ok::<_, Failure>(elapsed)
    })?;
    if let Some(provider) = provider {
        let _ = provider.shutdown();
    }
    let spans = EXPORTED.load(Ordering::Relaxed) - exported;
    Ok((
        elapsed.as_secs_f64() * 1e6 / SPAN_COMMANDS as f64,
        spans as f64 / SPAN_COMMANDS as f64,
    ))
}

/// Appends per second: `appends` single-event appends by [`APPENDERS`]
/// tasks, each to a stream of its own with exact expected versions.
async fn concurrent_appends(appends: u64) -> Result<f64, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let store = Arc::new(
        SqliteStore::open(dir.path().join("events.db"))
            .map_err(|e| Failure::new(format!("cannot open the store: {e}")))?,
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let stream = StreamName::new(format!("appender-{task}")).map_err(|e| e.to_string())?;
                let mine = appends / APPENDERS + u64::from(task < appends % APPENDERS);
                for version in 0..mine {
                    let expected = if version == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(version)
                    };
                    let event = NewEvent {
                        id: Uuid::now_v7(),
                        contract: "bench.Appended".into(),
                        contract_version: 1,
                        fingerprint: "0".repeat(32),
                        payload: format!("{{\"n\":{version}}}").into_bytes(),
                        metadata: Metadata::now(),
                        schema: None,
                    };
                    store
                        .append(&stream, expected, vec![event])
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| Failure::new(e.to_string()))?
            .map_err(|e| Failure::new(format!("an append failed: {e}")))?;
    }
    let rate = appends as f64 / started.elapsed().as_secs_f64();
    let head = store.head().await.map_err(|e| Failure::new(e.to_string()))?;
    if head != appends {
        return Err(Failure::new(format!("{appends} appends stored {head} events")));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_is_read_from_callgrind_s_totals_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("callgrind.out");
        std::fs::write(
            &path,
            "version: 1\nevents: Ir\nfn=(1) main\n3 7\nsummary: 5374370304\ntotals: 5374370304\n",
        )
        .unwrap();
        assert_eq!(callgrind_total(&path).unwrap(), 5_374_370_304);
        std::fs::write(&path, "version: 1\nevents: Ir\n").unwrap();
        let missing = callgrind_total(&path).unwrap_err().to_string();
        assert!(missing.contains("no `totals:` line"), "{missing}");
    }

    #[test]
    fn each_side_runs_with_its_own_flags() {
        let flags = |side| side_args(side, 3, 4)[5..].join(" ");
        assert_eq!(
            side_args(Side::Off, 3, 4).join(" "),
            "telemetry-side --commands 3 --appends 4"
        );
        assert_eq!(flags(Side::On), "--on");
        assert_eq!(flags(Side::OnUnformatted), "--on --unformatted");
        assert_eq!(flags(Side::Traces), "--on --traces");
        assert_eq!(flags(Side::TracesSampled), format!("--on --traces --sample {SAMPLED}"));
    }
}
