//! The `store` suite: Treaty's event store against the same work done
//! with the database client alone, measured in the same process so both
//! see the same machine.
//!
//! - `sqlite_append_batch_100`: appends of 100 events, durable, against
//!   raw rusqlite transactions of 100 inserts.
//! - `sqlite_append_single_concurrent_64`: 64 tasks appending one event at
//!   a time, against one durable transaction per event: what group commit
//!   buys.
//! - `sqlite_read_all_decode`: reading and decoding everything, against
//!   one raw query.
//! - `sqlite_open_large_vs_small`: opening a store of 10 million events
//!   against opening one of 1,000.
//! - `postgres_append_batch_100`: appends of 100 events, against raw
//!   multi-row inserts, when a PostgreSQL server is given.
//! - `postgres_append_single_concurrent_16` and
//!   `postgres_append_single_processes_4x16`: 16 writers in one process,
//!   and in each of 4 processes, appending single events, against as many
//!   connections of autocommit single-row inserts.
//! - `aggregate_command_long_stream`: the repository executing commands
//!   on an aggregate whose stream holds 10,000 events, against loading
//!   and replaying the whole stream for each command.
//!
//! Every SQLite file lives under `target/bench-data/`, on the disk the
//! build uses: a temporary directory may be a RAM disk, where an fsync
//! costs nothing and durable commits would look free.

pub mod aggregate;
mod append;
pub mod cache;
mod open;
mod postgres;
pub mod postgres_concurrent;
mod raw_sqlite;
mod read;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::events;
use crate::report::Report;
use crate::timing::load_average;
use crate::Failure;

const SUITE: &str = "store";

/// How many timed runs each side of a throughput case gets, after one
/// untimed warm-up; the sides alternate so that a burst of load on the
/// machine does not land on one side only.
const REPETITIONS: usize = 3;

/// The cases, in the order they run.
const CASES: [&str; 8] = [
    "sqlite_append_batch_100",
    "sqlite_append_single_concurrent_64",
    "sqlite_read_all_decode",
    "sqlite_open_large_vs_small",
    aggregate::CASE,
    postgres::CASE,
    postgres_concurrent::CASE_16,
    postgres_concurrent::CASE_4X16,
];

/// Runs the suite, or only the case named `only`; the PostgreSQL case
/// runs when `postgres` names a server.
pub fn run(postgres: Option<String>, only: Option<&str>) -> Result<Report, Failure> {
    if let Some(case) = only.filter(|case| !CASES.contains(case)) {
        return Err(Failure::new(format!(
            "no store case is called {case}; the cases are {}",
            CASES.join(", ")
        )));
    }
    let wanted = |case: &str| only.is_none_or(|only| only == case);
    let runtime = events::runtime()?;
    let data = bench_data_dir()?;
    eprintln!(
        "store: SQLite {} files under {}; load average {}",
        rusqlite::version(),
        data.display(),
        load_average()
    );
    let mut report = Report::new();
    if wanted(CASES[0]) {
        append::batches(&runtime, &data, &mut report)?;
    }
    if wanted(CASES[1]) {
        append::concurrent_singles(&runtime, &data, &mut report)?;
    }
    if wanted(CASES[2]) {
        read::read_all(&runtime, &data, &mut report)?;
    }
    if wanted(CASES[3]) {
        open::large_vs_small(&runtime, &data, &mut report)?;
    }
    if wanted(aggregate::CASE) {
        aggregate::long_stream(&runtime, &data, &mut report)?;
    }
    for case in [
        postgres::CASE,
        postgres_concurrent::CASE_16,
        postgres_concurrent::CASE_4X16,
    ] {
        if !wanted(case) {
            continue;
        }
        let Some(url) = &postgres else {
            report.skip(
                SUITE,
                case,
                "no PostgreSQL server: set TREATY_TEST_POSTGRES or pass --postgres postgres://user:password@host/db",
            );
            continue;
        };
        runtime.block_on(async {
            match case {
                postgres::CASE => postgres::batches(url, &mut report).await,
                postgres_concurrent::CASE_16 => postgres_concurrent::concurrent_16(url, &mut report).await,
                _ => postgres_concurrent::processes_4x16(url, &mut report).await,
            }
        })?;
    }
    eprintln!("store: done; load average {}", load_average());
    Ok(report)
}

/// `target/bench-data/`: beside the build's own output, found from this
/// executable's location (`target/<profile>/treaty-bench`), so it follows
/// `CARGO_TARGET_DIR` and survives between runs for the cached large
/// store.
pub fn bench_data_dir() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| Failure::new(format!("{} is not inside a target directory", exe.display())))?;
    let data = target.join("bench-data");
    std::fs::create_dir_all(&data).map_err(|e| Failure::io(format!("create {}", data.display()), e))?;
    Ok(data)
}

/// A fresh directory under the bench data directory, removed when
/// dropped.
pub fn scratch(data: &Path) -> Result<TempDir, Failure> {
    tempfile::Builder::new()
        .prefix("scratch-")
        .tempdir_in(data)
        .map_err(|e| Failure::io(format!("create a directory in {}", data.display()), e))
}

/// Turns an error into a failure that says what was being done.
pub fn failed<E: fmt::Display>(action: impl fmt::Display) -> impl FnOnce(E) -> Failure {
    move |e| Failure::new(format!("cannot {action}: {e}"))
}

/// Events per second.
fn rate(events: usize, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}
