//! `sqlite_read_all_decode`: reading every event of a store and decoding
//! its payload, against one raw query doing the same.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use tokio::runtime::Runtime;
use treaty_runtime::store::{EventStore, ExpectedVersion, SqliteStore, StreamName};

use super::raw_sqlite::{self, ReadSummary};
use super::{failed, rate, scratch, REPETITIONS, SUITE};
use crate::events::{self, Tick};
use crate::report::{Report, Row, Target};
use crate::timing::timed;
use crate::Failure;

/// Events in the store that is read: enough for a read to take a good
/// fraction of a second, so timer and scheduling noise stay small.
const EVENTS: usize = 200_000;

/// Events per append while filling the store (not timed).
const FILL_BATCH: u32 = 1_000;

/// The store's target: at least 0.8 of the raw read rate.
const TARGET: f64 = 0.8;

pub fn read_all(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    eprintln!("store: sqlite_read_all_decode: {EVENTS} events");
    let dir = scratch(data)?;
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).map_err(failed("open a SQLite store"))?;
    runtime.block_on(fill(&store))?;
    let mut treaty = Duration::MAX;
    let mut raw = Duration::MAX;
    for run in 0..=REPETITIONS {
        let (treaty_summary, treaty_time) = runtime.block_on(store_read(&store))?;
        let (raw_summary, raw_time) = timed(|| raw_sqlite::read_all_decode(&path));
        let raw_summary = raw_summary.map_err(failed("read the store with rusqlite"))?;
        // Both sides must have read and decoded the same events, or the
        // comparison is between different work.
        if treaty_summary != raw_summary || treaty_summary.events != EVENTS as u64 {
            return Err(Failure::new(format!(
                "the reads disagree: the store read {treaty_summary:?}, rusqlite {raw_summary:?}, {EVENTS} expected"
            )));
        }
        if run > 0 {
            treaty = treaty.min(treaty_time);
            raw = raw.min(raw_time);
        }
    }
    let row = Row::new(SUITE, "sqlite_read_all_decode", rate(EVENTS, treaty), "events/s")
        .relative_to("rusqlite", rate(EVENTS, raw))
        .target(Target::AtLeast(TARGET));
    report.push(row);
    Ok(())
}

/// Fills the store through its own append path, so the rows are exactly
/// what it writes.
async fn fill(store: &SqliteStore) -> Result<(), Failure> {
    let stream = StreamName::new("read-fill").expect("the name is valid");
    let mut version = 0;
    while version < EVENTS as u64 {
        version = store
            .append(&stream, ExpectedVersion::Exact(version), events::batch(FILL_BATCH))
            .await
            .map_err(failed("fill the store"))?
            .stream_version;
    }
    Ok(())
}

/// Reads everything with `read_all` and decodes each payload as a typed
/// [`Tick`], as a projection rebuilding from scratch would.
async fn store_read(store: &SqliteStore) -> Result<(ReadSummary, Duration), Failure> {
    let start = Instant::now();
    let mut events = store.read_all(1);
    let mut summary = ReadSummary::default();
    while let Some(event) = events.try_next().await.map_err(failed("read the store"))? {
        let tick: Tick = serde_json::from_slice(&event.payload).map_err(failed("decode a payload"))?;
        summary.add(&tick);
    }
    Ok((summary, start.elapsed()))
}
