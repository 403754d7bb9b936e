//! The SQLite baseline: the same rows the store writes and reads, with
//! rusqlite and nothing else, in a file whose tables the store itself
//! created, with the store's settings. What the store does beyond this
//! (validation, the writer thread, expected-version and duplicate-id
//! checks, the contract registry, savepoints, paging) is what the ratios
//! measure.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};
use treaty_runtime::store::{Metadata, NewEvent, SqliteStore};

use crate::events::Tick;
use crate::Failure;

const INSERT: &str = "INSERT INTO events (position, id, stream, version, contract, contract_version, fingerprint, \
                      payload, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// Creates an empty store file at `path` through `SqliteStore`, so the
/// baseline writes to exactly the store's `events` table: the same
/// columns, the same primary key and the same unique indexes.
pub fn create_store_file(path: &Path) -> Result<(), Failure> {
    let store = SqliteStore::open(path).map_err(|e| Failure::new(format!("cannot create {}: {e}", path.display())))?;
    drop(store);
    Ok(())
}

/// A write connection configured as the store configures its own: WAL,
/// `synchronous = FULL` (the store's durable default), the same busy
/// timeout.
pub struct RawWriter {
    conn: Connection,
    next_position: i64,
}

impl RawWriter {
    pub fn open(path: &Path) -> rusqlite::Result<RawWriter> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let last: i64 = conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))?;
        Ok(RawWriter {
            conn,
            next_position: last + 1,
        })
    }

    /// Inserts `events` as versions `first_version`, `first_version + 1`,
    /// ... of `stream` in one transaction, converting each event to a row
    /// as the store does (metadata to JSON, the payload as text).
    pub fn append(&mut self, stream: &str, first_version: u64, events: &[NewEvent]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (offset, event) in events.iter().enumerate() {
                let metadata = serde_json::to_string(&event.metadata).expect("metadata always serialises");
                let payload = std::str::from_utf8(&event.payload).expect("the payloads are JSON text");
                insert.execute(params![
                    self.next_position + offset as i64,
                    event.id.as_bytes().as_slice(),
                    stream,
                    (first_version + offset as u64) as i64,
                    event.contract,
                    event.contract_version,
                    event.fingerprint,
                    payload,
                    metadata,
                ])?;
            }
        }
        tx.commit()?;
        self.next_position += events.len() as i64;
        Ok(())
    }
}

/// What a full read found: how many events, and the sum of their tick
/// indexes, so the two sides can be checked against each other and the
/// decoding cannot be optimised away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadSummary {
    pub events: u64,
    pub index_sum: u64,
}

impl ReadSummary {
    pub fn add(&mut self, tick: &Tick) {
        self.events += 1;
        self.index_sum += u64::from(tick.index);
    }
}

/// Reads every event in position order in one query, takes each column
/// as an owned value (what a store hands out), and decodes the payload
/// as a [`Tick`] and the metadata as [`Metadata`], as a `RecordedEvent`
/// carries them.
pub fn read_all_decode(path: &Path) -> rusqlite::Result<ReadSummary> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut statement = conn.prepare(
        "SELECT position, id, stream, version, contract, contract_version, fingerprint, payload, metadata
         FROM events ORDER BY position",
    )?;
    let mut rows = statement.query([])?;
    let mut summary = ReadSummary::default();
    while let Some(row) = rows.next()? {
        let _position: i64 = row.get(0)?;
        let _id: Vec<u8> = row.get(1)?;
        let _stream: String = row.get(2)?;
        let _version: i64 = row.get(3)?;
        let _contract: String = row.get(4)?;
        let _contract_version: i64 = row.get(5)?;
        let _fingerprint: String = row.get(6)?;
        let payload: String = row.get(7)?;
        let metadata: String = row.get(8)?;
        let tick: Tick = serde_json::from_str(&payload).map_err(decode_error(7))?;
        let metadata: Metadata = serde_json::from_str(&metadata).map_err(decode_error(8))?;
        std::hint::black_box(metadata);
        summary.add(&tick);
    }
    Ok(summary)
}

fn decode_error(column: usize) -> impl FnOnce(serde_json::Error) -> rusqlite::Error {
    move |e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}
