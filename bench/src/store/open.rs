//! `sqlite_open_large_vs_small`: opening a store of 10 million events
//! must take about as long as opening one of 1,000, because opening reads
//! nothing proportional to the history.
//!
//! Both stores are generated with raw bulk inserts and cached under
//! `target/bench-data/` ([`super::cache`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use treaty_runtime::store::{EventStore, SqliteStore};
use uuid::Uuid;

use super::cache::{self, file_bytes, size_on_disk, GeneratedEvent};
use super::{failed, SUITE};
use crate::events::{self, Tick};
use crate::report::{Report, Row, Target};
use crate::timing::median;
use crate::Failure;

const LARGE: u64 = 10_000_000;
const SMALL: u64 = 1_000;

/// Events per stream in the generated stores.
const STREAM_LENGTH: u64 = 100;

/// Bump when the generated rows change, so cached files are rebuilt.
const GENERATOR_VERSION: u32 = 1;

/// Timed opens of each store; the median is reported.
const OPENS: usize = 20;

/// The most the large store's open may take, as a multiple of the small
/// one's.
const TARGET: f64 = 1.5;

pub fn large_vs_small(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    let key = cache::layout_key(data, GENERATOR_VERSION)?;
    let large = cached_store(data, LARGE, &key)?;
    let small = cached_store(data, SMALL, &key)?;
    for (events, path) in [(LARGE, &large), (SMALL, &small)] {
        eprintln!("store: {events} events: {} ({})", path.display(), size_on_disk(path));
        report.push(Row::new(
            SUITE,
            format!("sqlite_file_size_{events}_events"),
            file_bytes(path) as f64 / 1e6,
            "MB",
        ));
    }
    // One untimed open of each first, so both files' first pages are in
    // the page cache and neither side pays for a cold read alone.
    open_and_head(runtime, &large, LARGE)?;
    open_and_head(runtime, &small, SMALL)?;
    let mut large_times = Vec::with_capacity(OPENS);
    let mut small_times = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        large_times.push(open_and_head(runtime, &large, LARGE)?);
        small_times.push(open_and_head(runtime, &small, SMALL)?);
    }
    let (large_time, small_time) = (median(large_times), median(small_times));
    eprintln!(
        "store: median open + head(): {:.3} ms with {LARGE} events, {:.3} ms with {SMALL}",
        large_time.as_secs_f64() * 1e3,
        small_time.as_secs_f64() * 1e3
    );
    let row = Row::new(SUITE, "sqlite_open_large_vs_small", large_time.as_secs_f64(), "s")
        .relative_to("open with 1000 events", small_time.as_secs_f64())
        .target(Target::AtMost(TARGET));
    report.push(row);
    Ok(())
}

/// Opens the store, asks for its head (the first thing a subscriber or a
/// writer does), and checks it. The store is dropped outside the timing,
/// then given a moment for its writer thread to close its connection, so
/// the next open does not meet it half-closed.
fn open_and_head(runtime: &Runtime, path: &Path, events: u64) -> Result<Duration, Failure> {
    let start = Instant::now();
    let store = SqliteStore::open(path).map_err(failed(format!("open {}", path.display())))?;
    let head = runtime.block_on(store.head()).map_err(failed("read the head"))?;
    let elapsed = start.elapsed();
    drop(store);
    if head != events {
        return Err(Failure::new(format!(
            "{} has head {head}, expected {events}: delete it so it is rebuilt",
            path.display()
        )));
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(elapsed)
}

/// The store of `events` events, built when it is not cached.
fn cached_store(data: &Path, events: u64, key: &str) -> Result<PathBuf, Failure> {
    cache::cached_file(SUITE, data, &format!("sqlite-{events}-events-{key}"), |partial| {
        build(partial, events)
    })
}

/// Writes `events` events into a new store file at `path`: the rows the
/// store would write for streams of 100 events appended one after
/// another.
fn build(path: &Path, events: u64) -> Result<(), Failure> {
    let mut batch = Uuid::nil();
    cache::bulk_build(SUITE, path, events, |index| {
        // Each stream is one append of 100 events; streams and
        // time-ordered ids both grow, so every index is appended to at its
        // end, as when a store grows over time.
        let version = index % STREAM_LENGTH + 1;
        if version == 1 {
            batch = Uuid::new_v4();
        }
        let tick = Tick {
            batch,
            index: (version - 1) as u32,
            size: STREAM_LENGTH as u32,
        };
        GeneratedEvent {
            id: Uuid::now_v7(),
            stream: format!("large-{:08}", index / STREAM_LENGTH),
            version,
            contract: events::CONTRACT,
            contract_version: 1,
            fingerprint: events::FINGERPRINT,
            payload: serde_json::to_string(&tick).expect("a tick always serialises"),
        }
    })
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;
    use treaty_runtime::store::{Direction, StreamName};

    use super::*;

    /// The generated file must be a store like any other: readable through
    /// the store, with gap-free positions, whole streams and a registry
    /// that matches, or the open-time comparison measures something else.
    #[test]
    fn a_generated_store_reads_back_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("generated.db");
        build(&path, 250).unwrap();
        let runtime = events::runtime().unwrap();
        let store = SqliteStore::open(&path).unwrap();
        runtime.block_on(async {
            assert_eq!(store.head().await.unwrap(), 250);
            let all: Vec<_> = store.read_all(1).try_collect().await.unwrap();
            assert_eq!(
                all.iter().map(|e| e.position).collect::<Vec<_>>(),
                (1..=250).collect::<Vec<_>>()
            );
            let last = StreamName::new("large-00000002").unwrap();
            let stream: Vec<_> = store
                .read_stream(&last, 1, Direction::Forward)
                .try_collect()
                .await
                .unwrap();
            assert_eq!(stream.len(), 50);
            let ticks: Vec<Tick> = stream
                .iter()
                .map(|e| serde_json::from_slice(&e.payload).unwrap())
                .collect();
            assert!(ticks
                .iter()
                .enumerate()
                .all(|(i, t)| t.index as usize == i && t.batch == ticks[0].batch));
            let contracts = store.contracts().await.unwrap();
            assert_eq!(contracts.len(), 1);
            assert_eq!(contracts[0].first_position, Some(1));
        });
    }
}
