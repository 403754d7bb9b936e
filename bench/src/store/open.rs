//! `sqlite_open_large_vs_small`: opening a store of 10 million events
//! must take about as long as opening one of 1,000, because opening reads
//! nothing proportional to the history.
//!
//! Appending 10 million events through the store would take many
//! minutes, so the large file is written with raw rusqlite bulk inserts
//! into tables the store itself created, and cached under
//! `target/bench-data/`. The cache file's name carries a key computed from
//! the store's layout (`PRAGMA user_version` and the schema text), so a
//! change to the store's tables makes the next run build a new file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use tokio::runtime::Runtime;
use treaty_runtime::store::{EventStore, Metadata, SqliteStore};
use uuid::Uuid;

use super::raw_sqlite;
use super::{failed, scratch, SUITE};
use crate::events::{self, Tick};
use crate::report::{Report, Row, Target};
use crate::timing::{median, timed};
use crate::Failure;

const LARGE: u64 = 10_000_000;
const SMALL: u64 = 1_000;

/// Events per stream in the generated stores.
const STREAM_LENGTH: u64 = 100;

/// Rows per transaction while building.
const BUILD_TRANSACTION: u64 = 1_000_000;

/// Bump when the generated rows change, so cached files are rebuilt.
const GENERATOR_VERSION: u32 = 1;

/// Timed opens of each store; the median is reported.
const OPENS: usize = 20;

/// The most the large store's open may take, as a multiple of the small
/// one's.
const TARGET: f64 = 1.5;

pub fn large_vs_small(runtime: &Runtime, data: &Path, report: &mut Report) -> Result<(), Failure> {
    let key = layout_key(data)?;
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

/// A key for the store's on-disk layout: the layout version it writes and
/// a hash of its schema as SQLite records it, from a store created for
/// the purpose, plus the generator's own version.
fn layout_key(data: &Path) -> Result<String, Failure> {
    let dir = scratch(data)?;
    let path = dir.path().join("layout.db");
    raw_sqlite::create_store_file(&path)?;
    let conn = Connection::open(&path).map_err(failed("open the layout probe"))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(failed("read the layout version"))?;
    let mut statement = conn
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
        .map_err(failed("read the schema"))?;
    let schema: Vec<String> = statement
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .and_then(Iterator::collect)
        .map_err(failed("read the schema"))?;
    Ok(format!(
        "layout{version}-gen{GENERATOR_VERSION}-{:016x}",
        fnv1a(schema.join("\n").as_bytes())
    ))
}

/// FNV-1a, 64 bits: a stable hash with no dependency, enough to tell
/// schemas apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The store of `events` events for `key`, built when it is not cached.
fn cached_store(data: &Path, events: u64, key: &str) -> Result<PathBuf, Failure> {
    let path = data.join(format!("sqlite-{events}-events-{key}.db"));
    if path.exists() {
        eprintln!("store: reusing {}", path.display());
        return Ok(path);
    }
    // Built under another name and renamed when complete, so an
    // interrupted build is never mistaken for a cached store.
    let partial = data.join(format!("sqlite-{events}-events-{key}.partial"));
    remove_with_journals(&partial)?;
    eprintln!("store: building a store of {events} events (once; it is cached)");
    let (built, took) = timed(|| build(&partial, events));
    built?;
    std::fs::rename(&partial, &path).map_err(|e| Failure::io(format!("rename {}", partial.display()), e))?;
    eprintln!("store: built {events} events in {:.1} s", took.as_secs_f64());
    Ok(path)
}

/// Writes `events` events into a new store file at `path`: the store
/// creates its tables, then rusqlite fills them with the rows the store
/// would write for streams of 100 events appended one after another, in
/// large transactions without a journal or fsync (a crash leaves only the
/// `.partial` file, which the next run deletes).
fn build(path: &Path, events: u64) -> Result<(), Failure> {
    raw_sqlite::create_store_file(path)?;
    let mut conn = Connection::open(path).map_err(failed("open the new store file"))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(failed("set a busy timeout"))?;
    set_journal_mode(&conn, "off")?;
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(failed("turn synchronous off"))?;
    // A 256 MiB page cache keeps the indexes' right edges in memory.
    conn.pragma_update(None, "cache_size", -262_144)
        .map_err(failed("enlarge the page cache"))?;
    let metadata = serde_json::to_string(&Metadata::now()).expect("metadata always serialises");
    let insert_error = |e| failed("insert generated events")(e);
    let mut next = 0;
    while next < events {
        let end = (next + BUILD_TRANSACTION).min(events);
        let tx = conn.transaction().map_err(insert_error)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO events (position, id, stream, version, contract, contract_version, fingerprint, \
                     payload, metadata) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8)",
                )
                .map_err(insert_error)?;
            let mut batch = Uuid::nil();
            for index in next..end {
                // Each stream is one append of 100 events; streams and
                // time-ordered ids both grow, so every index is appended
                // to at its end, as when a store grows over time.
                let version = index % STREAM_LENGTH + 1;
                if version == 1 {
                    batch = Uuid::new_v4();
                }
                let tick = Tick {
                    batch,
                    index: (version - 1) as u32,
                    size: STREAM_LENGTH as u32,
                };
                let payload = serde_json::to_string(&tick).expect("a tick always serialises");
                insert
                    .execute(params![
                        (index + 1) as i64,
                        Uuid::now_v7().as_bytes().as_slice(),
                        format!("large-{:08}", index / STREAM_LENGTH),
                        version as i64,
                        events::CONTRACT,
                        events::FINGERPRINT,
                        payload,
                        metadata,
                    ])
                    .map_err(insert_error)?;
            }
        }
        tx.commit().map_err(insert_error)?;
        next = end;
        if events >= BUILD_TRANSACTION {
            eprintln!("store:   {next} of {events} events written");
        }
    }
    // The registry counts events per contract version, as the store's
    // appends would have.
    conn.execute(
        "INSERT INTO contracts (name, version, fingerprint, events) VALUES (?1, 1, ?2, ?3)",
        params![events::CONTRACT, events::FINGERPRINT, events as i64],
    )
    .map_err(insert_error)?;
    set_journal_mode(&conn, "wal")
}

/// Switches the journal mode. Leaving WAL needs the only connection to the
/// file, and the writer thread of the store that created the tables may
/// still be closing its own, so a refusal is retried for a while.
fn set_journal_mode(conn: &Connection, mode: &str) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = conn.pragma_update_and_check(None, "journal_mode", mode, |r| r.get::<_, String>(0));
        match answer {
            Ok(now) if now.eq_ignore_ascii_case(mode) => return Ok(()),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(now) => return Err(Failure::new(format!("the journal mode stayed {now}, not {mode}"))),
            Err(e) => return Err(failed(format!("set the journal mode to {mode}"))(e)),
        }
    }
}

/// Removes a database file and its journals, if they exist.
fn remove_with_journals(path: &Path) -> Result<(), Failure> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::io(format!("remove {}", file.display()), e)),
        }
    }
    Ok(())
}

/// The bytes of the database file and its write-ahead log.
fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

fn size_on_disk(path: &Path) -> String {
    let bytes = file_bytes(path);
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / f64::from(1 << 30))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
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
            assert_eq!(contracts[0].events, 250);
        });
    }

    #[test]
    fn the_layout_key_is_stable_and_names_the_layout_version() {
        let dir = tempfile::tempdir().unwrap();
        let key = layout_key(dir.path()).unwrap();
        assert_eq!(key, layout_key(dir.path()).unwrap());
        let path = dir.path().join("probe.db");
        raw_sqlite::create_store_file(&path).unwrap();
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert!(
            key.starts_with(&format!("layout{version}-gen{GENERATOR_VERSION}-")),
            "{key}"
        );
    }
}
