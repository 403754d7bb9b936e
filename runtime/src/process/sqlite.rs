//! Process managers' tables in a SQLite file, the event store's own: every
//! write goes through the writer of the event store open on the file in
//! this process (so it joins the appends' group commits), or through a
//! writer of its own when none is.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::store::{Commit, DueTimeout, InstanceChange, InstanceState, OutboxRow, ProcessStore, StoredInstance};
use super::ProcessError;
use crate::storage::sqlite::connect;
use crate::storage::{Component, Durability, OpenError};
use crate::store::sqlite_shared::{self, FileWriter, WriteError};
use crate::types::Uuid;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS treaty_process_checkpoints (
    manager  TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS treaty_process_instances (
    manager       TEXT NOT NULL,
    key           TEXT NOT NULL,
    revision      INTEGER NOT NULL,
    state_version INTEGER,
    state         BLOB,
    PRIMARY KEY (manager, key)
);
CREATE INDEX IF NOT EXISTS treaty_process_instances_versions ON treaty_process_instances (manager, state_version);
CREATE TABLE IF NOT EXISTS treaty_process_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    manager    TEXT NOT NULL,
    message_id BLOB NOT NULL,
    envelope   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS treaty_process_outbox_manager ON treaty_process_outbox (manager, seq);
CREATE TABLE IF NOT EXISTS treaty_process_timeouts (
    manager TEXT NOT NULL,
    key     TEXT NOT NULL,
    name    TEXT NOT NULL,
    id      BLOB NOT NULL,
    due     INTEGER NOT NULL,
    PRIMARY KEY (manager, key, name)
);
CREATE INDEX IF NOT EXISTS treaty_process_timeouts_due ON treaty_process_timeouts (manager, due);
";

/// Process managers' checkpoints, instances, outbox and timeouts in a
/// SQLite file; give it the event store's file, so that a process writes
/// the file through one connection. Clones share the connections.
#[derive(Clone)]
pub struct SqliteProcessStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    file: Option<PathBuf>,
    read: Mutex<Connection>,
    writer: FileWriter,
}

impl std::fmt::Debug for SqliteProcessStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteProcessStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteProcessStore {
    /// Opens (or creates) the tables in the database at `path`, as durable
    /// as the event store's default.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteProcessStore::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the tables with the given durability (used when
    /// no event store of this process writes the file; otherwise its
    /// writer's settings apply).
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let failed = |e: rusqlite::Error| OpenError::storage(Component::Processes, path.display().to_string(), e);
        let mut conn = connect(&path, durability).map_err(failed)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        tx.execute_batch(SCHEMA).map_err(failed)?;
        tx.commit().map_err(failed)?;
        let write = connect(&path, durability).map_err(failed)?;
        let writer = FileWriter::start(write, "treaty-process-writer")
            .map_err(|e| OpenError::storage(Component::Processes, path.display().to_string(), e))?;
        Ok(SqliteProcessStore {
            inner: Arc::new(Inner {
                file: sqlite_shared::file_key(&path),
                path,
                read: Mutex::new(conn),
                writer,
            }),
        })
    }

    fn location(&self) -> String {
        self.inner.path.display().to_string()
    }

    fn failed(&self, e: impl std::error::Error + Send + Sync + 'static) -> ProcessError {
        ProcessError::Storage {
            location: self.location(),
            source: Box::new(e),
        }
    }

    /// Runs `f` with the read connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, ProcessError> {
        let inner = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || f(&inner.read.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| self.failed(e))?;
        result.map_err(|e| self.failed(e))
    }

    /// Writes `work` through the event store's writer when a store of this
    /// process writes the file, through this store's own otherwise.
    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = Result<T, WriteError>> + Send + 'static {
        match self.inner.file.as_deref().and_then(sqlite_shared::writer_for) {
            Some(store) => store.write(work),
            None => self.inner.writer.write(work),
        }
    }
}

fn uuid(bytes: Vec<u8>) -> rusqlite::Result<Uuid> {
    Uuid::from_slice(&bytes)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, e.into()))
}

fn position(value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, i64::MAX))
}

/// Checks what `commit` expects, then writes it; `false` (with nothing
/// written) when the stored checkpoint, revision or timeout differ.
fn write_commit(conn: &Connection, commit: &Commit) -> rusqlite::Result<bool> {
    let manager = commit.manager.as_str();
    let stored: i64 = conn
        .query_row(
            "SELECT position FROM treaty_process_checkpoints WHERE manager = ?1",
            [manager],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0);
    if stored != position(commit.expected_checkpoint)? || commit.checkpoint < commit.expected_checkpoint {
        return Ok(false);
    }
    for change in &commit.instances {
        let revision: Option<i64> = conn
            .query_row(
                "SELECT revision FROM treaty_process_instances WHERE manager = ?1 AND key = ?2",
                params![manager, change.key],
                |row| row.get(0),
            )
            .optional()?;
        if revision != change.expected_revision {
            return Ok(false);
        }
        if let Some(fired) = change.fired {
            let pending = conn
                .query_row(
                    "SELECT 1 FROM treaty_process_timeouts WHERE manager = ?1 AND key = ?2 AND id = ?3",
                    params![manager, change.key, fired.as_bytes()],
                    |_| Ok(()),
                )
                .optional()?;
            if pending.is_none() {
                return Ok(false);
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO treaty_process_checkpoints (manager, position) VALUES (?1, ?2) \
         ON CONFLICT (manager) DO UPDATE SET position = excluded.position",
    )?
    .execute(params![manager, position(commit.checkpoint)?])?;
    for change in &commit.instances {
        write_change(conn, manager, change)?;
    }
    Ok(true)
}

/// Writes one instance's change, checked already.
fn write_change(conn: &Connection, manager: &str, change: &InstanceChange) -> rusqlite::Result<()> {
    let key = change.key.as_str();
    let (version, state) = match &change.state {
        InstanceState::Running { version, json } => (Some(*version), Some(json.as_slice())),
        InstanceState::Completed => (None, None),
    };
    conn.prepare_cached(
        "INSERT INTO treaty_process_instances (manager, key, revision, state_version, state) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (manager, key) DO UPDATE SET \
         revision = excluded.revision, state_version = excluded.state_version, state = excluded.state",
    )?
    .execute(params![
        manager,
        key,
        change.expected_revision.unwrap_or(0) + 1,
        version,
        state
    ])?;
    if let Some(fired) = change.fired {
        conn.prepare_cached("DELETE FROM treaty_process_timeouts WHERE manager = ?1 AND key = ?2 AND id = ?3")?
            .execute(params![manager, key, fired.as_bytes()])?;
    }
    if state.is_none() {
        conn.prepare_cached("DELETE FROM treaty_process_timeouts WHERE manager = ?1 AND key = ?2")?
            .execute(params![manager, key])?;
    } else {
        let mut cancel =
            conn.prepare_cached("DELETE FROM treaty_process_timeouts WHERE manager = ?1 AND key = ?2 AND name = ?3")?;
        for name in &change.cancel {
            cancel.execute(params![manager, key, name])?;
        }
        let mut schedule = conn.prepare_cached(
            "INSERT INTO treaty_process_timeouts (manager, key, name, id, due) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (manager, key, name) DO UPDATE SET id = excluded.id, due = excluded.due",
        )?;
        for timeout in &change.schedule {
            schedule.execute(params![manager, key, timeout.name, timeout.id.as_bytes(), timeout.due])?;
        }
    }
    let mut outbox =
        conn.prepare_cached("INSERT INTO treaty_process_outbox (manager, message_id, envelope) VALUES (?1, ?2, ?3)")?;
    for (id, envelope) in &change.outbox {
        outbox.execute(params![manager, id.as_bytes(), envelope])?;
    }
    Ok(())
}

impl ProcessStore for SqliteProcessStore {
    async fn checkpoint(&self, manager: &str) -> Result<u64, ProcessError> {
        let manager = manager.to_string();
        let stored: Option<i64> = self
            .read(move |conn| {
                conn.query_row(
                    "SELECT position FROM treaty_process_checkpoints WHERE manager = ?1",
                    [manager],
                    |row| row.get(0),
                )
                .optional()
            })
            .await?;
        Ok(stored.map_or(0, |p| p.max(0) as u64))
    }

    async fn state_versions(&self, manager: &str) -> Result<Vec<u32>, ProcessError> {
        let manager = manager.to_string();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT DISTINCT state_version FROM treaty_process_instances \
                 WHERE manager = ?1 AND state_version IS NOT NULL ORDER BY state_version",
            )?;
            let versions = statement.query_map([manager], |row| row.get::<_, u32>(0))?;
            versions.collect()
        })
        .await
    }

    async fn load(&self, manager: &str, key: &str) -> Result<Option<StoredInstance>, ProcessError> {
        let (manager, key) = (manager.to_string(), key.to_string());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT revision, state_version, state FROM treaty_process_instances WHERE manager = ?1 AND key = ?2",
            )?
            .query_row(params![manager, key], |row| {
                let state = match (row.get::<_, Option<u32>>(1)?, row.get::<_, Option<Vec<u8>>>(2)?) {
                    (Some(version), Some(json)) => InstanceState::Running { version, json },
                    _ => InstanceState::Completed,
                };
                Ok(StoredInstance {
                    revision: row.get(0)?,
                    state,
                })
            })
            .optional()
        })
        .await
    }

    async fn commit(&self, commit: Commit) -> Result<(), ProcessError> {
        let manager = commit.manager.clone();
        match self.write(move |conn| write_commit(conn, &commit)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProcessError::Conflict { manager }),
            Err(e) => Err(self.failed(e)),
        }
    }

    async fn outbox(&self, manager: &str, limit: usize) -> Result<Vec<OutboxRow>, ProcessError> {
        let manager = manager.to_string();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT seq, message_id, envelope FROM treaty_process_outbox WHERE manager = ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = statement.query_map(params![manager, limit as i64], |row| {
                Ok(OutboxRow {
                    seq: row.get(0)?,
                    message_id: uuid(row.get(1)?)?,
                    envelope: row.get(2)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn remove_outbox(&self, manager: &str, through: i64) -> Result<(), ProcessError> {
        let manager = manager.to_string();
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM treaty_process_outbox WHERE manager = ?1 AND seq <= ?2")?
                .execute(params![manager, through])
        })
        .await
        .map_err(|e| self.failed(e))?;
        Ok(())
    }

    async fn due_timeouts(&self, manager: &str, now: i64, limit: usize) -> Result<Vec<DueTimeout>, ProcessError> {
        let manager = manager.to_string();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT key, name, id, due FROM treaty_process_timeouts WHERE manager = ?1 AND due <= ?2 \
                 ORDER BY due, key, name LIMIT ?3",
            )?;
            let rows = statement.query_map(params![manager, now, limit as i64], |row| {
                Ok(DueTimeout {
                    key: row.get(0)?,
                    name: row.get(1)?,
                    id: uuid(row.get(2)?)?,
                    due: row.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn next_due(&self, manager: &str) -> Result<Option<i64>, ProcessError> {
        let manager = manager.to_string();
        self.read(move |conn| {
            conn.query_row(
                "SELECT MIN(due) FROM treaty_process_timeouts WHERE manager = ?1",
                [manager],
                |row| row.get(0),
            )
        })
        .await
    }
}
