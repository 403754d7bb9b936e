//! The quarantine in a SQLite file, usually the event store's own, so
//! that `treaty quarantine` finds parked messages where the events are.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::quarantine::{ParkedMessage, Quarantine, QuarantineError};
use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};
use crate::types::{Timestamp, Uuid};

/// The quarantine's table, as `open_existing` looks for it.
const TABLES: &[&str] = &["treaty_quarantine"];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS treaty_quarantine (
    message_id      BLOB PRIMARY KEY,
    contract        TEXT,
    body            BLOB NOT NULL,
    error           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    first_seen      INTEGER NOT NULL,
    parked_at       INTEGER NOT NULL,
    retry_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS treaty_quarantine_parked ON treaty_quarantine (parked_at);
CREATE INDEX IF NOT EXISTS treaty_quarantine_retries ON treaty_quarantine (parked_at) WHERE retry_requested = 1;
";

const COLUMNS: &str = "message_id, contract, body, error, attempts, first_seen, parked_at, retry_requested";

/// Parked messages in a SQLite database.
///
/// Every bus polls [`Quarantine::retries`], so it reads a partial index
/// of the requested retries only, however many messages are parked.
#[derive(Clone)]
pub struct SqliteQuarantine {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteQuarantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQuarantine")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteQuarantine {
    /// Opens (or creates) the quarantine table in the database at `path`,
    /// durable like the event store's default.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the table cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteQuarantine::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the quarantine table with the given durability.
    /// With [`Durability::Normal`] a power loss may forget the last
    /// messages parked; the bus has already let go of them then.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the table cannot be created.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let open = || {
            let mut conn = connect(&path, durability)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
            Ok(conn)
        };
        let conn = open().map_err(|e: rusqlite::Error| open_failed(&path, e))?;
        Ok(SqliteQuarantine::from_connection(path, conn))
    }

    /// Opens the existing quarantine in the database at `path`, creating
    /// nothing: for tools such as `treaty quarantine`, which manage parked
    /// messages but must not create a file, a table or an index, nor
    /// change the file. Unlike [`open_with`](Self::open_with) its
    /// connection runs no DDL, never creates the file and leaves its
    /// journal mode as it is. Writes use `durability`.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the file lacks the quarantine's table
    /// (nothing was ever quarantined there), [`OpenError::Storage`] when
    /// the file does not exist or cannot be opened or read.
    pub fn open_existing(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        check_tables(&path, Component::Quarantine, TABLES)?;
        let conn = connect_existing(&path, durability).map_err(|e| open_failed(&path, e))?;
        Ok(SqliteQuarantine::from_connection(path, conn))
    }

    fn from_connection(path: PathBuf, conn: Connection) -> Self {
        SqliteQuarantine {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
            }),
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &str) -> Result<T, QuarantineError> + Send + 'static,
    ) -> Result<T, QuarantineError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn, &inner.path.display().to_string())
        })
        .await
        .map_err(|e| QuarantineError::Storage(Box::new(e)))?
    }
}

fn open_failed(path: &Path, source: rusqlite::Error) -> OpenError {
    OpenError::storage(Component::Quarantine, path.display().to_string(), source)
}

fn storage(e: rusqlite::Error) -> QuarantineError {
    QuarantineError::Storage(Box::new(e))
}

/// The columns of one row, as stored.
type StoredRow = (Vec<u8>, Option<String>, Vec<u8>, String, i64, i64, i64, bool);

fn stored_row(row: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

/// A stored row as a parked message, or why it is not one.
fn parked(row: StoredRow, location: &str) -> Result<ParkedMessage, QuarantineError> {
    let (id, contract, body, error, attempts, first_seen, parked_at, retry_requested) = row;
    let invalid = |reason: String| QuarantineError::InvalidRow {
        location: location.to_string(),
        reason,
    };
    let id = Uuid::from_slice(&id).map_err(|_| invalid(format!("a message id of {} bytes, not 16", id.len())))?;
    let time = |millis: i64, what: &str| {
        Timestamp::from_millisecond(millis).map_err(|e| invalid(format!("message {id} has an invalid {what}: {e}")))
    };
    Ok(ParkedMessage {
        id,
        contract,
        body,
        error,
        attempts: u32::try_from(attempts).map_err(|_| invalid(format!("message {id} has {attempts} attempts")))?,
        first_seen: time(first_seen, "first-seen time")?,
        parked_at: time(parked_at, "parking time")?,
        retry_requested,
    })
}

/// Every row `sql` selects, as parked messages.
fn query(conn: &Connection, location: &str, sql: &str) -> Result<Vec<ParkedMessage>, QuarantineError> {
    let mut statement = conn.prepare_cached(sql).map_err(storage)?;
    let rows = statement.query_map([], stored_row).map_err(storage)?;
    rows.map(|row| parked(row.map_err(storage)?, location)).collect()
}

impl Quarantine for SqliteQuarantine {
    async fn park(&self, message: ParkedMessage) -> Result<(), QuarantineError> {
        self.with_conn(move |conn, _| {
            conn.prepare_cached(&format!(
                "INSERT INTO treaty_quarantine ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (message_id) DO UPDATE SET contract = excluded.contract, body = excluded.body, \
                 error = excluded.error, attempts = excluded.attempts, first_seen = excluded.first_seen, \
                 parked_at = excluded.parked_at, retry_requested = excluded.retry_requested"
            ))
            .map_err(storage)?
            .execute(params![
                &message.id.as_bytes()[..],
                message.contract,
                message.body,
                message.error,
                i64::from(message.attempts),
                message.first_seen.as_millisecond(),
                message.parked_at.as_millisecond(),
                message.retry_requested,
            ])
            .map_err(storage)?;
            Ok(())
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        self.with_conn(|conn, location| {
            query(
                conn,
                location,
                &format!("SELECT {COLUMNS} FROM treaty_quarantine ORDER BY parked_at, message_id"),
            )
        })
        .await
    }

    async fn get(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        self.with_conn(move |conn, location| {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM treaty_quarantine WHERE message_id = ?1"
                ))
                .map_err(storage)?
                .query_row(params![&id.as_bytes()[..]], stored_row)
                .optional()
                .map_err(storage)?;
            row.map(|row| parked(row, location)).transpose()
        })
        .await
    }

    async fn request_retry(&self, id: Uuid) -> Result<bool, QuarantineError> {
        self.with_conn(move |conn, _| {
            let found = conn
                .prepare_cached("UPDATE treaty_quarantine SET retry_requested = 1 WHERE message_id = ?1")
                .map_err(storage)?
                .execute(params![&id.as_bytes()[..]])
                .map_err(storage)?;
            Ok(found > 0)
        })
        .await
    }

    async fn retries(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        self.with_conn(|conn, location| {
            query(
                conn,
                location,
                &format!(
                    "SELECT {COLUMNS} FROM treaty_quarantine WHERE retry_requested = 1 ORDER BY parked_at, message_id"
                ),
            )
        })
        .await
    }

    async fn remove(&self, id: Uuid) -> Result<bool, QuarantineError> {
        self.with_conn(move |conn, _| {
            let removed = conn
                .prepare_cached("DELETE FROM treaty_quarantine WHERE message_id = ?1")
                .map_err(storage)?
                .execute(params![&id.as_bytes()[..]])
                .map_err(storage)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn claim_retry(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        // One statement: SQLite's write lock makes it atomic across
        // connections and processes, and only the first of several claims
        // still finds `retry_requested` set.
        self.with_conn(move |conn, location| {
            let row = conn
                .prepare_cached(&format!(
                    "UPDATE treaty_quarantine SET retry_requested = 0 \
                     WHERE message_id = ?1 AND retry_requested = 1 RETURNING {COLUMNS}"
                ))
                .map_err(storage)?
                .query_row(params![&id.as_bytes()[..]], stored_row)
                .optional()
                .map_err(storage)?;
            row.map(|row| parked(row, location)).transpose()
        })
        .await
    }

    async fn remove_if_parked_at(&self, id: Uuid, parked_at: Timestamp) -> Result<bool, QuarantineError> {
        // `parked_at` is stored in milliseconds, so it is compared in
        // milliseconds: the time `claim_retry` returned matches exactly.
        self.with_conn(move |conn, _| {
            let removed = conn
                .prepare_cached("DELETE FROM treaty_quarantine WHERE message_id = ?1 AND parked_at = ?2")
                .map_err(storage)?
                .execute(params![&id.as_bytes()[..], parked_at.as_millisecond()])
                .map_err(storage)?;
            Ok(removed > 0)
        })
        .await
    }
}
