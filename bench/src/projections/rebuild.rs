//! One measured rebuild, run in a process of its own (the hidden
//! `projection-rebuild` subcommand) so that its peak memory is its own:
//! the kernel's high-water mark of the process's resident memory
//! (`VmHWM`), read when the rebuild is done.
//!
//! - The engine: `ProjectionEngine` with the default `EngineConfig` and a
//!   fresh `SqliteViewStore`, timed from `start()` until `wait_live()`
//!   returns.
//! - The naive rebuild: `read_all(1)`, every event decoded and folded by
//!   the same projection into one in-memory map of all views, then every
//!   view written as JSON into a table like the view store's, in one
//!   transaction.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use futures::TryStreamExt;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use treaty::aggregate::EventSet;
use treaty::projection::{EventContext, Projection, ProjectionEngine, SqliteViewStore, ViewReader};
use treaty::store::{EventStore, SqliteStore};

use super::accounts::{AccountEvent, Balance, Balances, Checksum};
use crate::events;
use crate::store::failed;
use crate::Failure;

/// Which rebuild a child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Engine,
    Naive,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Engine => "engine",
            Mode::Naive => "naive",
        }
    }
}

/// What one rebuild measured, printed by the child on one stdout line
/// after [`RESULT_PREFIX`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Outcome {
    /// Events in the store, all of which the rebuild applied.
    pub events: u64,
    /// Wall time of the rebuild.
    pub seconds: f64,
    /// Of which, for the naive rebuild, writing the views at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_seconds: Option<f64>,
    /// The process's peak resident memory, in KiB.
    pub peak_kib: u64,
    /// The views the rebuild wrote.
    pub checksum: Checksum,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_kib as f64 / 1024.0
    }
}

/// Marks the child's result line among anything else on stdout.
pub const RESULT_PREFIX: &str = "treaty-bench-rebuild ";

/// Views per page when the engine's views are read back for the checksum.
const CHECKSUM_PAGE: usize = 10_000;

/// The child process: runs one rebuild of the store at `events_db` into a
/// new database at `views_db` and prints its [`Outcome`].
pub fn child(mode: Mode, events_db: &Path, views_db: &Path) -> Result<(), Failure> {
    let runtime = events::runtime()?;
    let outcome = match mode {
        Mode::Engine => runtime.block_on(engine(events_db, views_db))?,
        Mode::Naive => runtime.block_on(naive(events_db, views_db))?,
    };
    let line = serde_json::to_string(&outcome).expect("an outcome always serialises");
    println!("{RESULT_PREFIX}{line}");
    Ok(())
}

/// The engine's rebuild: a new projection over a full store.
pub async fn engine(events_db: &Path, views_db: &Path) -> Result<Outcome, Failure> {
    let store = SqliteStore::open(events_db).map_err(failed(format!("open {}", events_db.display())))?;
    let head = store.head().await.map_err(failed("read the head"))?;
    let views = SqliteViewStore::open(views_db).map_err(failed(format!("open {}", views_db.display())))?;
    let mut engine = ProjectionEngine::new(store, views.clone());
    engine.add(Balances);
    let start = Instant::now();
    let running = engine.start().await.map_err(failed("start the engine"))?;
    running.wait_live().await.map_err(failed("rebuild"))?;
    let seconds = start.elapsed().as_secs_f64();
    let peak_kib = peak_kib()?;
    if running.startup().rebuilt != [Balances::NAME] {
        return Err(Failure::new(format!(
            "the engine did not rebuild from scratch: {:?}",
            running.startup()
        )));
    }
    let checkpoint = running.status()[0].checkpoint;
    if checkpoint != head {
        return Err(Failure::new(format!(
            "the engine went live at checkpoint {checkpoint}, not the head {head}"
        )));
    }
    // Read back through the public reader, after the peak was taken.
    let reader = ViewReader::new(views);
    let mut checksum = Checksum::default();
    let mut after: Option<String> = None;
    loop {
        let page = reader
            .list::<Balances>(after.as_deref(), CHECKSUM_PAGE)
            .await
            .map_err(failed("read the views back"))?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, view) in &page {
            checksum.add(key, view);
        }
    }
    running.shutdown().await;
    Ok(Outcome {
        events: head,
        seconds,
        write_seconds: None,
        peak_kib,
        checksum,
    })
}

/// The naive rebuild, the seed's approach: fold everything in memory,
/// write everything at the end.
pub async fn naive(events_db: &Path, views_db: &Path) -> Result<Outcome, Failure> {
    let store = SqliteStore::open(events_db).map_err(failed(format!("open {}", events_db.display())))?;
    let head = store.head().await.map_err(failed("read the head"))?;
    let mut conn = naive_table(views_db).map_err(failed(format!("create {}", views_db.display())))?;
    let projection = Balances;
    let start = Instant::now();
    let mut views: HashMap<String, Option<Balance>> = HashMap::new();
    let mut applied = 0;
    let mut events = store.read_all(1);
    while let Some(recorded) = events.try_next().await.map_err(failed("read the events"))? {
        applied += 1;
        if !AccountEvent::is_member(&recorded.contract) {
            continue;
        }
        let event = AccountEvent::from_recorded(&recorded)
            .map_err(failed(format!("decode the event at position {}", recorded.position)))?;
        for key in projection.keys(&event) {
            let context = EventContext {
                key: &key,
                stream: &recorded.stream,
                version: recorded.version,
                position: recorded.position,
                metadata: &recorded.metadata,
            };
            let view = match views.get_mut(&key) {
                Some(view) => view,
                None => views.entry(key.clone()).or_default(),
            };
            projection.apply(view, &event, &context);
        }
    }
    let folded = start.elapsed();
    write_all(&mut conn, &views).map_err(failed("write the views"))?;
    let seconds = start.elapsed().as_secs_f64();
    let peak_kib = peak_kib()?;
    if applied != head {
        return Err(Failure::new(format!("read {applied} events, the head is {head}")));
    }
    let mut checksum = Checksum::default();
    for (key, view) in &views {
        if let Some(view) = view {
            checksum.add(key, view);
        }
    }
    Ok(Outcome {
        events: head,
        seconds,
        write_seconds: Some(seconds - folded.as_secs_f64()),
        peak_kib,
        checksum,
    })
}

/// A table like the view store's, in a new database with the view store's
/// settings (WAL, `synchronous = FULL`).
fn naive_table(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE views (
            projection TEXT NOT NULL,
            generation INTEGER NOT NULL,
            key        TEXT NOT NULL,
            value      TEXT NOT NULL,
            PRIMARY KEY (projection, generation, key)
        ) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// Every view, as JSON, in one transaction.
fn write_all(conn: &mut Connection, views: &HashMap<String, Option<Balance>>) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO views (projection, generation, key, value) VALUES (?1, 1, ?2, ?3)")?;
        for (key, view) in views {
            if let Some(view) = view {
                let json = serde_json::to_string(view).expect("a balance always serialises");
                insert.execute(params![Balances::NAME, key, json])?;
            }
        }
    }
    tx.commit()
}

/// The process's peak resident memory so far, in KiB (`VmHWM` in
/// `/proc/self/status`).
fn peak_kib() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| Failure::io("read /proc/self/status", e))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|kib| kib.trim().parse().ok())
        .ok_or_else(|| Failure::new("/proc/self/status has no VmHWM line"))
}

#[cfg(test)]
mod tests {
    use super::super::build_events;
    use super::*;

    /// Both rebuilds over the same small store must write the same views,
    /// or the suite compares different work.
    #[test]
    fn the_engine_and_the_naive_rebuild_agree() {
        let dir = tempfile::tempdir().unwrap();
        let events_db = dir.path().join("events.db");
        build_events(&events_db, 30_000).unwrap();
        let runtime = events::runtime().unwrap();
        let engine = runtime
            .block_on(engine(&events_db, &dir.path().join("engine.db")))
            .unwrap();
        let naive = runtime
            .block_on(naive(&events_db, &dir.path().join("naive.db")))
            .unwrap();
        assert_eq!(engine.events, 30_000);
        assert_eq!(naive.events, 30_000);
        assert_eq!(engine.checksum, naive.checksum);
        assert_eq!(engine.checksum.events, 30_000);
        assert!(engine.checksum.views > 2_000, "{:?}", engine.checksum);
        assert!(engine.peak_kib > 0);
    }
}
