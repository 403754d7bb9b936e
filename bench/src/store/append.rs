//! The SQLite append cases: batches of 100 events from one writer, and
//! single events from 64 concurrent writers.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use treaty_runtime::store::{EventStore, ExpectedVersion, NewEvent, SqliteStore, StreamName};

use super::raw_sqlite::{self, RawWriter};
use super::{failed, rate, scratch, REPETITIONS, SUITE};
use crate::events;
use crate::report::{Report, Row, Target};
use crate::timing::timed;
use crate::Failure;

/// Events per append in the batch case.
const BATCH: u32 = 100;

/// Appends per run of the batch case: 20,000 events.
const BATCHES: usize = 200;

/// Streams the batch case appends to in turn.
const BATCH_STREAMS: usize = 10;

/// Concurrent writers in the group commit case, each on its own stream.
const WRITERS: usize = 64;

/// Single-event appends per writer per run: 3,200 events in all.
const APPENDS_PER_WRITER: usize = 50;

/// One-event transactions per run of the group commit baseline. Each
/// waits for its own fsync, so it is slow; the rate, not the count, is
/// compared, and a tenth of the store's count keeps the run short.
const RAW_SINGLES: usize = WRITERS * APPENDS_PER_WRITER / 10;

/// The store's target: at least 0.8 of the raw batch rate.
const BATCH_TARGET: f64 = 0.8;

/// Group commit's target: at least five times the one-transaction-per-event
/// rate.
const GROUP_COMMIT_TARGET: f64 = 5.0;

fn stream_names(prefix: &str, count: usize) -> Vec<StreamName> {
    (0..count)
        .map(|i| StreamName::new(format!("{prefix}-{i}")).expect("the name is valid"))
        .collect()
}

/// `sqlite_append_batch_100`.
pub fn batches(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    let events = BATCHES * BATCH as usize;
    eprintln!("store: sqlite_append_batch_100: {BATCHES} appends of {BATCH} events to {BATCH_STREAMS} streams");
    let mut treaty = Duration::MAX;
    let mut raw = Duration::MAX;
    for run in 0..=REPETITIONS {
        let treaty_time = store_batches(runtime, data)?;
        let raw_time = raw_batches(data)?;
        // The first run of each side is the warm-up and is not counted.
        if run > 0 {
            treaty = treaty.min(treaty_time);
            raw = raw.min(raw_time);
        }
    }
    let row = Row::new(SUITE, "sqlite_append_batch_100", rate(events, treaty), "events/s")
        .relative_to("rusqlite", rate(events, raw))
        .target(Target::AtLeast(BATCH_TARGET));
    report.push(row);
    Ok(())
}

fn store_batches(runtime: &Runtime, data: &Path) -> Result<Duration, Failure> {
    let dir = scratch(data)?;
    let store = SqliteStore::open(dir.path().join("events.db")).map_err(failed("open a SQLite store"))?;
    let streams = stream_names("batch", BATCH_STREAMS);
    let batches: Vec<Vec<NewEvent>> = (0..BATCHES).map(|_| events::batch(BATCH)).collect();
    runtime.block_on(async {
        let mut versions = [0; BATCH_STREAMS];
        let start = Instant::now();
        for (i, batch) in batches.into_iter().enumerate() {
            let at = i % BATCH_STREAMS;
            let appended = store
                .append(&streams[at], ExpectedVersion::Exact(versions[at]), batch)
                .await
                .map_err(failed("append a batch"))?;
            versions[at] = appended.stream_version;
        }
        Ok(start.elapsed())
    })
}

fn raw_batches(data: &Path) -> Result<Duration, Failure> {
    let dir = scratch(data)?;
    let path = dir.path().join("raw.db");
    raw_sqlite::create_store_file(&path)?;
    let mut writer = RawWriter::open(&path).map_err(failed("open the raw SQLite file"))?;
    let streams = stream_names("batch", BATCH_STREAMS);
    let batches: Vec<Vec<NewEvent>> = (0..BATCHES).map(|_| events::batch(BATCH)).collect();
    let (result, elapsed) = timed(|| {
        let mut versions = [0; BATCH_STREAMS];
        for (i, batch) in batches.iter().enumerate() {
            let at = i % BATCH_STREAMS;
            writer.append(streams[at].as_str(), versions[at] + 1, batch)?;
            versions[at] += batch.len() as u64;
        }
        Ok::<_, rusqlite::Error>(())
    });
    result.map_err(failed("insert a raw batch"))?;
    Ok(elapsed)
}

/// `sqlite_append_single_concurrent_64`.
pub fn concurrent_singles(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    let events = WRITERS * APPENDS_PER_WRITER;
    eprintln!(
        "store: sqlite_append_single_concurrent_64: {WRITERS} tasks x {APPENDS_PER_WRITER} single-event appends; \
         baseline {RAW_SINGLES} one-event transactions"
    );
    let mut treaty = Duration::MAX;
    let mut raw = Duration::MAX;
    for run in 0..=REPETITIONS {
        let treaty_time = store_singles(runtime, data)?;
        let raw_time = raw_singles(data)?;
        if run > 0 {
            treaty = treaty.min(treaty_time);
            raw = raw.min(raw_time);
        }
    }
    let row = Row::new(
        SUITE,
        "sqlite_append_single_concurrent_64",
        rate(events, treaty),
        "events/s",
    )
    .relative_to("rusqlite one tx per event", rate(RAW_SINGLES, raw))
    .target(Target::AtLeast(GROUP_COMMIT_TARGET));
    report.push(row);
    Ok(())
}

fn store_singles(runtime: &Runtime, data: &Path) -> Result<Duration, Failure> {
    let dir = scratch(data)?;
    let store = SqliteStore::open(dir.path().join("events.db")).map_err(failed("open a SQLite store"))?;
    let work: Vec<(StreamName, Vec<NewEvent>)> = stream_names("writer", WRITERS)
        .into_iter()
        .map(|stream| {
            (
                stream,
                (0..APPENDS_PER_WRITER).map(|_| events::batch(1).remove(0)).collect(),
            )
        })
        .collect();
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = work
            .into_iter()
            .map(|(stream, events)| {
                let store = store.clone();
                tokio::spawn(async move {
                    // Each writer appends as an aggregate does: one event,
                    // expecting the version its previous append returned.
                    let mut version = 0;
                    for event in events {
                        version = store
                            .append(&stream, ExpectedVersion::Exact(version), vec![event])
                            .await?
                            .stream_version;
                    }
                    Ok::<_, treaty_runtime::store::AppendError>(())
                })
            })
            .collect();
        for task in tasks {
            task.await
                .map_err(failed("join an appending task"))?
                .map_err(failed("append one event"))?;
        }
        Ok(start.elapsed())
    })
}

fn raw_singles(data: &Path) -> Result<Duration, Failure> {
    let dir = scratch(data)?;
    let path = dir.path().join("raw.db");
    raw_sqlite::create_store_file(&path)?;
    let mut writer = RawWriter::open(&path).map_err(failed("open the raw SQLite file"))?;
    let streams = stream_names("writer", WRITERS);
    let singles: Vec<Vec<NewEvent>> = (0..RAW_SINGLES).map(|_| events::batch(1)).collect();
    // Sequential on one connection is the fastest way to commit one event
    // per transaction: 64 threads would only queue on SQLite's write lock
    // and add busy-wait sleeps, making the baseline slower.
    let (result, elapsed) = timed(|| {
        let mut versions = vec![0; WRITERS];
        for (i, single) in singles.iter().enumerate() {
            let at = i % WRITERS;
            versions[at] += 1;
            writer.append(streams[at].as_str(), versions[at], single)?;
        }
        Ok::<_, rusqlite::Error>(())
    });
    result.map_err(failed("insert a raw event"))?;
    Ok(elapsed)
}
