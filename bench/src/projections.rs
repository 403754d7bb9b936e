//! The `projections` suite: rebuilding a projection from scratch with the
//! projection engine, against a naive rebuild that folds every view into
//! one in-memory map and writes them all at the end (the approach the
//! engine replaced), over the same events.
//!
//! - `rebuild_speed_vs_naive`: the engine's events per second over the
//!   naive rebuild's, on the large store (10 million events by default).
//! - `rebuild_memory_vs_naive`: the engine's peak memory over the naive
//!   rebuild's, on the large store.
//! - `rebuild_memory_large_vs_small`: the engine's peak memory on the
//!   large store over its peak on the small one (1 million by default):
//!   memory must not grow with the history.
//!
//! Every rebuild runs in a child process of its own ([`rebuild`]), so
//! its peak memory is its own. The event stores are generated once and
//! cached under `target/bench-data/`, like the store suite's large store.

mod accounts;
pub mod rebuild;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rebuild::{Mode, Outcome, RESULT_PREFIX};

use crate::report::{Report, Row, Target};
use crate::store::cache::{self, file_bytes, size_on_disk};
use crate::store::{bench_data_dir, failed, scratch};
use crate::timing::{load_average, timed};
use crate::Failure;

const SUITE: &str = "projections";

/// The engine's rebuild must reach this fraction of the naive rebuild's
/// events per second.
const SPEED_TARGET: f64 = 0.7;

/// The engine's peak memory, as a fraction of the naive rebuild's at most.
const MEMORY_TARGET: f64 = 0.2;

/// The engine's peak memory on the large store, as a multiple of its peak
/// on the small one at most.
const GROWTH_TARGET: f64 = 1.2;

/// The sizes a run uses.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Events in the large store (10 million by default).
    pub large: u64,
    /// Events in the small store (1 million by default).
    pub small: u64,
    /// Rebuilds of each kind on each store; the best rate and the highest
    /// peak are reported.
    pub runs: usize,
}

/// The four rebuilds of one run, in the order they run.
const REBUILDS: [(Mode, Store); 4] = [
    (Mode::Naive, Store::Large),
    (Mode::Engine, Store::Large),
    (Mode::Naive, Store::Small),
    (Mode::Engine, Store::Small),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Large,
    Small,
}

pub fn run(sizes: Sizes) -> Result<Report, Failure> {
    if sizes.small == 0 || sizes.large <= sizes.small {
        return Err(Failure::new(format!(
            "--events-large ({}) must be more than --events-small ({}), which must be more than 0",
            sizes.large, sizes.small
        )));
    }
    let data = bench_data_dir()?;
    let key = cache::layout_key(&data, accounts::GENERATOR_VERSION)?;
    let large = cached_events(&data, sizes.large, &key)?;
    let small = cached_events(&data, sizes.small, &key)?;
    let mut report = Report::new();
    for (events, path) in [(sizes.large, &large), (sizes.small, &small)] {
        eprintln!("{SUITE}: {events} events: {} ({})", path.display(), size_on_disk(path));
        report.push(Row::new(
            SUITE,
            format!("events_file_size_{events}_events"),
            file_bytes(path) as f64 / 1e6,
            "MB",
        ));
    }
    // Every rebuild reads its store from the page cache, not the first
    // one alone from the disk.
    for path in [&large, &small] {
        let (warmed, took) = timed(|| warm(path));
        warmed?;
        eprintln!("{SUITE}: read {} in {:.1} s", path.display(), took.as_secs_f64());
    }
    eprintln!(
        "{SUITE}: {} run(s) of each rebuild, each in a process of its own; load average {}",
        sizes.runs.max(1),
        load_average()
    );
    let mut outcomes: Vec<Vec<Outcome>> = vec![Vec::new(); REBUILDS.len()];
    for _ in 0..sizes.runs.max(1) {
        for (index, (mode, store)) in REBUILDS.into_iter().enumerate() {
            let (path, events) = match store {
                Store::Large => (&large, sizes.large),
                Store::Small => (&small, sizes.small),
            };
            let outcome = measure(mode, path, &data)?;
            let writing = outcome
                .write_seconds
                .map(|write| format!(" ({write:.1} s of it writing the views)"))
                .unwrap_or_default();
            eprintln!(
                "{SUITE}: {} rebuild of {events} events: {:.1} s{writing}, {:.0} events/s, peak {:.1} MiB, {} views",
                mode.name(),
                outcome.seconds,
                outcome.rate(),
                outcome.peak_mib(),
                outcome.checksum.views
            );
            if outcome.events != events {
                return Err(Failure::new(format!(
                    "{} holds {} events, expected {events}: delete it so it is rebuilt",
                    path.display(),
                    outcome.events
                )));
            }
            outcomes[index].push(outcome);
        }
    }
    // Every rebuild of a store must have written the same views, or the
    // figures compare different work.
    for store in [Store::Large, Store::Small] {
        let mut sums = REBUILDS
            .iter()
            .zip(&outcomes)
            .filter(|((_, s), _)| *s == store)
            .flat_map(|((mode, _), runs)| runs.iter().map(move |o| (mode.name(), o.checksum)));
        let (first_mode, first) = sums.next().expect("every store is rebuilt");
        if let Some((mode, differs)) = sums.find(|(_, sum)| *sum != first) {
            return Err(Failure::new(format!(
                "the rebuilds of the {store:?} store wrote different views: {first_mode} {first:?}, {mode} {differs:?}"
            )));
        }
        if first.events
            != if store == Store::Large {
                sizes.large
            } else {
                sizes.small
            }
        {
            return Err(Failure::new(format!(
                "the views of the {store:?} store count {} events: {first:?}",
                first.events
            )));
        }
    }
    let best = |index: usize| summary(&outcomes[index]);
    let [naive_large, engine_large, naive_small, engine_small] = [best(0), best(1), best(2), best(3)];
    report.push(
        Row::new(SUITE, "rebuild_speed_vs_naive", engine_large.rate, "events/s")
            .relative_to(format!("naive, {} events:", sizes.large), naive_large.rate)
            .target(Target::AtLeast(SPEED_TARGET)),
    );
    report.push(
        Row::new(SUITE, "rebuild_memory_vs_naive", engine_large.peak_mib, "MiB")
            .relative_to(format!("naive, {} events:", sizes.large), naive_large.peak_mib)
            .target(Target::AtMost(MEMORY_TARGET)),
    );
    report.push(
        Row::new(SUITE, "rebuild_memory_large_vs_small", engine_large.peak_mib, "MiB")
            .relative_to(format!("engine, {} events:", sizes.small), engine_small.peak_mib)
            .target(Target::AtMost(GROWTH_TARGET)),
    );
    for (name, events, figures) in [
        ("engine", sizes.large, engine_large),
        ("naive", sizes.large, naive_large),
        ("engine", sizes.small, engine_small),
        ("naive", sizes.small, naive_small),
    ] {
        report.push(Row::new(
            SUITE,
            format!("{name}_{events}_events_rate"),
            figures.rate,
            "events/s",
        ));
        report.push(Row::new(
            SUITE,
            format!("{name}_{events}_events_peak"),
            figures.peak_mib,
            "MiB",
        ));
    }
    for (events, index) in [(sizes.large, 1), (sizes.small, 3)] {
        let views = outcomes[index][0].checksum.views;
        report.push(Row::new(SUITE, format!("views_{events}_events"), views as f64, "views"));
    }
    eprintln!("{SUITE}: done; load average {}", load_average());
    Ok(report)
}

/// The figures reported for one kind of rebuild: the best rate of its
/// runs (the run least disturbed by other work) and the highest peak.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rate: f64,
    peak_mib: f64,
}

fn summary(runs: &[Outcome]) -> Figures {
    Figures {
        rate: runs.iter().map(Outcome::rate).fold(0.0, f64::max),
        peak_mib: runs.iter().map(Outcome::peak_mib).fold(0.0, f64::max),
    }
}

/// The store of `events` generated account events, built when it is not
/// cached.
fn cached_events(data: &Path, events: u64, key: &str) -> Result<PathBuf, Failure> {
    cache::cached_file(SUITE, data, &format!("accounts-{events}-events-{key}"), |partial| {
        build_events(partial, events)
    })
}

/// Writes `events` account events into a new store file at `path`.
fn build_events(path: &Path, events: u64) -> Result<(), Failure> {
    let mut generator = accounts::Generator::new();
    cache::bulk_build(SUITE, path, events, |_| generator.next_row())
}

/// Reads the whole file once, so it is in the page cache.
fn warm(path: &Path) -> Result<(), Failure> {
    let file = std::fs::File::open(path).map_err(|e| Failure::io(format!("open {}", path.display()), e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    loop {
        let read = reader
            .fill_buf()
            .map_err(|e| Failure::io(format!("read {}", path.display()), e))?
            .len();
        if read == 0 {
            return Ok(());
        }
        reader.consume(read);
    }
}

/// Runs one rebuild in a child process (this executable's hidden
/// `projection-rebuild` subcommand) into a fresh view database under the
/// bench data directory, removed afterwards.
fn measure(mode: Mode, events_db: &Path, data: &Path) -> Result<Outcome, Failure> {
    let dir = scratch(data)?;
    let views_db = dir.path().join("views.db");
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let output = Command::new(&exe)
        .arg("projection-rebuild")
        .arg("--mode")
        .arg(mode.name())
        .arg("--events-db")
        .arg(events_db)
        .arg("--views-db")
        .arg(&views_db)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Failure::io(format!("run {}", exe.display()), e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Failure::new(format!(
            "the {} rebuild of {} failed ({}): {stdout}",
            mode.name(),
            events_db.display(),
            output.status
        )));
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_PREFIX))
        .ok_or_else(|| Failure::new(format!("the {} rebuild printed no result: {stdout}", mode.name())))?;
    serde_json::from_str(line).map_err(failed(format!("read the {} rebuild's result", mode.name())))
}
