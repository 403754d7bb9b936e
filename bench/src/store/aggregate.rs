//! `aggregate_command_long_stream`: the repository executing commands on
//! one counter whose stream already holds 10,000 events, loading from a
//! snapshot (kept in a `SqliteSnapshots` file, one every 100 events) and
//! reading only the events after it, against the repository without
//! snapshots, which loads and replays the whole stream for every command
//! (what cqrs-es does). Both run on a durable SQLite store.
//!
//! Correctness is part of the case: every 100 commands another process
//! (`treaty-bench append-counter`, a hidden subcommand) appends to the
//! stream, and each side's final state must count every command's and
//! every outside append's increment, or the case fails.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use treaty::aggregate::{EventSet, Repository, SnapshotPolicy, SqliteSnapshots};
use treaty::store::{EventStore, ExpectedVersion, Metadata, SqliteStore, StreamName};

use super::{failed, scratch, REPETITIONS, SUITE};
use crate::counter::{Counter, CounterCommand, CounterEvent, CounterId, Increment, Incremented};
use crate::report::{Report, Row, Target};
use crate::Failure;

pub const CASE: &str = "aggregate_command_long_stream";

/// Events in the stream before the commands.
const HISTORY: u64 = 10_000;

/// Commands the snapshot side executes per run.
const COMMANDS: u64 = 1_000;

/// Commands the replaying side executes per run: each replays the whole
/// stream, so a tenth keeps the run short; rates are compared.
const REPLAYED_COMMANDS: u64 = 100;

/// Commands between two appends by another process.
const OUTSIDE_EVERY: u64 = 100;

/// A snapshot every this many events.
const SNAPSHOT_EVERY: u64 = 100;

const TARGET: f64 = 20.0;

fn counter() -> CounterId {
    CounterId("long".to_string())
}

/// The case.
pub fn long_stream(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    eprintln!(
        "store: {CASE}: {COMMANDS} commands (replaying: {REPLAYED_COMMANDS}) on a stream of {HISTORY} events, \
         another process appending every {OUTSIDE_EVERY}"
    );
    let mut treaty = Duration::MAX;
    let mut replay = Duration::MAX;
    for run in 0..=REPETITIONS {
        let snapshot_time = runtime.block_on(run_side(data, true, HISTORY, COMMANDS))?;
        let replay_time = runtime.block_on(run_side(data, false, HISTORY, REPLAYED_COMMANDS))?;
        if run > 0 {
            treaty = treaty.min(snapshot_time);
            replay = replay.min(replay_time);
        }
    }
    let per_second = |commands: u64, time: Duration| commands as f64 / time.as_secs_f64();
    report.push(
        Row::new(SUITE, CASE, per_second(COMMANDS, treaty), "commands/s")
            .relative_to("replay per command", per_second(REPLAYED_COMMANDS, replay))
            .target(Target::AtLeast(TARGET)),
    );
    Ok(())
}

/// A fresh store with `history` events on the counter's stream, then
/// `commands` commands through a repository with or without snapshots,
/// another process appending every `OUTSIDE_EVERY`; the time the commands
/// took (the outside appends not counted). Fails when the final state
/// misses an increment.
pub async fn run_side(data: &Path, snapshots: bool, history: u64, commands: u64) -> Result<Duration, Failure> {
    let dir = scratch(data)?;
    let db = dir.path().join("events.db");
    let store = SqliteStore::open(&db).map_err(failed("open a SQLite store"))?;
    let stream = StreamName::new(format!("counter-{}", counter())).map_err(failed("name the stream"))?;
    let mut version = 0;
    while version < history {
        let batch = (history - version).min(500);
        let events = (0..batch)
            .map(|_| {
                CounterEvent::from(Incremented { id: counter(), by: 1 })
                    .to_new_event(Metadata::now())
                    .map_err(failed("encode an event"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        version = store
            .append(&stream, ExpectedVersion::Exact(version), events)
            .await
            .map_err(failed("append the history"))?
            .stream_version;
    }
    let command = CounterCommand::Increment(Increment { id: counter(), by: 1 });
    let plain = Repository::<Counter, _>::new(store.clone());
    let mut elapsed = Duration::ZERO;
    let mut outside = 0;
    let mut last = None;
    if snapshots {
        let snapshot_store =
            SqliteSnapshots::open(dir.path().join("snapshots.db")).map_err(failed("open the snapshot store"))?;
        let repository = plain.with_snapshots(snapshot_store, SnapshotPolicy::every(SNAPSHOT_EVERY));
        for done in 0..commands {
            if done > 0 && done % OUTSIDE_EVERY == 0 {
                append_elsewhere(&db)?;
                outside += 1;
            }
            let start = Instant::now();
            let executed = repository
                .execute(&counter(), &command)
                .await
                .map_err(failed("execute a command"))?;
            elapsed += start.elapsed();
            last = Some(executed.state.total);
        }
    } else {
        for done in 0..commands {
            if done > 0 && done % OUTSIDE_EVERY == 0 {
                append_elsewhere(&db)?;
                outside += 1;
            }
            let start = Instant::now();
            let executed = plain
                .execute(&counter(), &command)
                .await
                .map_err(failed("execute a command"))?;
            elapsed += start.elapsed();
            last = Some(executed.state.total);
        }
    }
    let expected = history + commands + outside;
    if last != Some(expected) {
        return Err(Failure::new(format!(
            "{CASE}: the counter ended at {last:?} instead of {expected}: an append made elsewhere was missed"
        )));
    }
    Ok(elapsed)
}

/// Another process appends one increment to the counter's stream.
fn append_elsewhere(db: &Path) -> Result<(), Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let status = Command::new(exe)
        .arg("append-counter")
        .arg("--db")
        .arg(db)
        .status()
        .map_err(|e| Failure::io("run treaty-bench append-counter", e))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(format!("treaty-bench append-counter failed: {status}")))
    }
}

/// `treaty-bench append-counter --db PATH`: one increment of the case's
/// counter, executed by a repository of this process.
pub fn append_counter(db: &Path) -> Result<(), Failure> {
    crate::events::runtime()?.block_on(async {
        let store = SqliteStore::open(db).map_err(failed(format!("open {}", db.display())))?;
        Repository::<Counter, _>::new(store)
            .execute(
                &counter(),
                &CounterCommand::Increment(Increment { id: counter(), by: 1 }),
            )
            .await
            .map_err(failed("execute a command"))?;
        Ok(())
    })
}

/// `treaty-bench aggregate-check --data DIR`: both sides on a short
/// stream, for the tests; fails when either misses an outside append.
pub fn check(data: &Path) -> Result<(), Failure> {
    crate::events::runtime()?.block_on(async {
        run_side(data, true, 1_000, 3 * OUTSIDE_EVERY + 1).await?;
        run_side(data, false, 1_000, OUTSIDE_EVERY + 1).await?;
        Ok(())
    })
}
