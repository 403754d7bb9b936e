//! Snapshots of aggregate state: a cache that lets long streams load from
//! their latest snapshot instead of their first event.
//!
//! Events stay the only truth. A snapshot that is missing, unreadable or
//! of another state shape only costs a full replay, so the repository
//! never fails a command because of one.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{params, Connection, OptionalExtension};

use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};
use crate::store::StreamName;

/// The state of one aggregate instance after the events up to `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state covers: the last event applied.
    pub version: u64,
    /// The version of the state's shape, from [`SnapshotPolicy`]; a
    /// snapshot of another shape is ignored.
    pub state_version: u32,
    /// The state as JSON.
    pub state: String,
}

/// Where snapshots are kept, one per stream.
///
/// A store that loses snapshots, or keeps none, is correct, only slower.
pub trait SnapshotStore: Send + Sync + 'static {
    /// The stream's snapshot, `None` when there is none.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn load(&self, stream: &StreamName) -> impl Future<Output = Result<Option<Snapshot>, SnapshotError>> + Send;

    /// Keeps `snapshot` as the stream's snapshot, unless the stored one
    /// has the same `state_version` and a higher `version`: racing
    /// writers never move a snapshot backwards, and a new state shape
    /// replaces the old one at once.
    ///
    /// # Errors
    ///
    /// When the backend fails; the previous snapshot is then unchanged.
    fn save(&self, stream: &StreamName, snapshot: Snapshot) -> impl Future<Output = Result<(), SnapshotError>> + Send;
}

/// Why a snapshot could not be loaded or saved. Stores fail only in their
/// backend, so loading and saving share this one error; the repository
/// adds the state's serialization, the one other step of a save.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The backend failed.
    #[error("snapshot storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The state's `Serialize` failed, so there was nothing to save.
    #[error("cannot serialize the state: {0}")]
    Serialize(#[source] serde_json::Error),
}

/// When the repository saves snapshots, and which state shape they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// Save a snapshot once the stream is at least this many events past
    /// the snapshot it was loaded from (or past its start). At least 1.
    pub every: u64,
    /// The version of the state's serialized shape. Bump it whenever the
    /// state type or the meaning of its fields changes: snapshots of
    /// other versions are then ignored, and replaced on the next save.
    pub state_version: u32,
}

impl SnapshotPolicy {
    /// A snapshot every `events` events, of state version 1.
    pub fn every(events: u64) -> Self {
        SnapshotPolicy {
            every: events.max(1),
            state_version: 1,
        }
    }

    /// The same policy for state shape `version`.
    pub fn state_version(self, version: u32) -> Self {
        SnapshotPolicy {
            state_version: version,
            ..self
        }
    }
}

/// Whether `new` may replace `stored`, by the rule of [`SnapshotStore::save`].
fn replaces(stored: Option<&Snapshot>, new: &Snapshot) -> bool {
    stored.is_none_or(|s| s.state_version != new.state_version || s.version <= new.version)
}

/// The store of a repository without snapshots: it keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSnapshots;

impl SnapshotStore for NoSnapshots {
    async fn load(&self, _stream: &StreamName) -> Result<Option<Snapshot>, SnapshotError> {
        Ok(None)
    }

    async fn save(&self, _stream: &StreamName, _snapshot: Snapshot) -> Result<(), SnapshotError> {
        Ok(())
    }
}

/// Snapshots in memory, for tests and single-process tools. Clones share
/// the same snapshots.
#[derive(Debug, Clone, Default)]
pub struct MemorySnapshots {
    inner: Arc<RwLock<HashMap<StreamName, Snapshot>>>,
}

impl MemorySnapshots {
    /// No snapshots yet.
    pub fn new() -> Self {
        MemorySnapshots::default()
    }
}

impl SnapshotStore for MemorySnapshots {
    async fn load(&self, stream: &StreamName) -> Result<Option<Snapshot>, SnapshotError> {
        // A panic while the lock was held cannot leave a half-written
        // entry: an entry is replaced by one `insert`.
        let snapshots = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Ok(snapshots.get(stream).cloned())
    }

    async fn save(&self, stream: &StreamName, snapshot: Snapshot) -> Result<(), SnapshotError> {
        let mut snapshots = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if replaces(snapshots.get(stream), &snapshot) {
            snapshots.insert(stream.clone(), snapshot);
        }
        Ok(())
    }
}

const SNAPSHOT_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS snapshots (
    stream        TEXT PRIMARY KEY,
    version       INTEGER NOT NULL,
    state_version INTEGER NOT NULL,
    state         TEXT NOT NULL
);
";

/// Snapshots in the `snapshots` table of a SQLite file.
///
/// The file may be the one a [`SqliteStore`](crate::store::SqliteStore)
/// uses: the table is separate from the store's, and snapshots then share
/// the store's backups. Clones share one connection; snapshot reads and
/// writes are rare next to event reads, so one is enough.
#[derive(Clone)]
pub struct SqliteSnapshots {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteSnapshots {
    /// Opens (or creates) the `snapshots` table in the file at `path`,
    /// durable like the event store's default.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or the table cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteSnapshots::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the `snapshots` table with the given durability.
    /// Snapshots are a cache of the events, so with [`Durability::Normal`]
    /// a power loss costs at most replays of the streams whose last
    /// snapshots it lost.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or the table cannot be created.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref();
        let failed = |e: rusqlite::Error| OpenError::storage(Component::Snapshots, path.display().to_string(), e);
        // The same settings as the event store, so sharing its file
        // changes nothing for it: WAL lets its readers run while a
        // snapshot is written, and the timeout waits out its writer.
        let conn = connect(path, durability).map_err(failed)?;
        conn.execute_batch(SNAPSHOT_SCHEMA).map_err(failed)?;
        Ok(SqliteSnapshots {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Opens the existing `snapshots` table in the file at `path`, creating
    /// nothing and leaving the file's journal mode as it is.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the file has no `snapshots` table,
    /// [`OpenError::Storage`] when the file does not exist or cannot be
    /// opened or read.
    pub fn open_existing(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref();
        check_tables(path, Component::Snapshots, &["snapshots"])?;
        let conn = connect_existing(path, durability)
            .map_err(|e| OpenError::storage(Component::Snapshots, path.display().to_string(), e))?;
        Ok(SqliteSnapshots {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, SnapshotError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside `work` leaves no transaction open: every
            // statement below is a single autocommitted one.
            let conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            work(&conn)
        })
        .await
        .map_err(|e| SnapshotError::Storage(Box::new(e)))?
        .map_err(|e| SnapshotError::Storage(Box::new(e)))
    }
}

impl SnapshotStore for SqliteSnapshots {
    async fn load(&self, stream: &StreamName) -> Result<Option<Snapshot>, SnapshotError> {
        let stream = stream.clone();
        let row = self
            .with(move |conn| {
                conn.prepare_cached("SELECT version, state_version, state FROM snapshots WHERE stream = ?1")?
                    .query_row([stream.as_str()], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
                    })
                    .optional()
            })
            .await?;
        let Some((version, state_version, state)) = row else {
            return Ok(None);
        };
        // Rows out of range were not written by `save`; such a snapshot
        // is unusable, and treating it as missing only costs a replay.
        match (u64::try_from(version), u32::try_from(state_version)) {
            (Ok(version), Ok(state_version)) => Ok(Some(Snapshot {
                version,
                state_version,
                state,
            })),
            _ => Ok(None),
        }
    }

    async fn save(&self, stream: &StreamName, snapshot: Snapshot) -> Result<(), SnapshotError> {
        let stream = stream.clone();
        let version = i64::try_from(snapshot.version).map_err(|e| SnapshotError::Storage(Box::new(e)))?;
        self.with(move |conn| {
            // One statement, so the rule of `replaces` is applied
            // atomically against concurrent savers.
            conn.prepare_cached(
                "INSERT INTO snapshots (stream, version, state_version, state) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (stream) DO UPDATE
                 SET version = excluded.version, state_version = excluded.state_version, state = excluded.state
                 WHERE snapshots.state_version <> excluded.state_version OR snapshots.version <= excluded.version",
            )?
            .execute(params![
                stream.as_str(),
                version,
                snapshot.state_version,
                snapshot.state
            ])
            .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(version: u64, state_version: u32, state: &str) -> Snapshot {
        Snapshot {
            version,
            state_version,
            state: state.to_string(),
        }
    }

    async fn never_moves_backwards(store: impl SnapshotStore) {
        let stream = StreamName::new("account-1").unwrap();
        assert_eq!(store.load(&stream).await.unwrap(), None);
        store.save(&stream, snapshot(10, 1, "{\"a\":10}")).await.unwrap();
        store.save(&stream, snapshot(5, 1, "{\"a\":5}")).await.unwrap();
        assert_eq!(store.load(&stream).await.unwrap(), Some(snapshot(10, 1, "{\"a\":10}")));
        store.save(&stream, snapshot(12, 1, "{\"a\":12}")).await.unwrap();
        assert_eq!(store.load(&stream).await.unwrap(), Some(snapshot(12, 1, "{\"a\":12}")));
        // A new state shape replaces the old one even at a lower version.
        store.save(&stream, snapshot(3, 2, "{\"b\":3}")).await.unwrap();
        assert_eq!(store.load(&stream).await.unwrap(), Some(snapshot(3, 2, "{\"b\":3}")));
        let other = StreamName::new("account-2").unwrap();
        assert_eq!(store.load(&other).await.unwrap(), None);
    }

    #[tokio::test]
    async fn memory_snapshots_never_move_backwards() {
        never_moves_backwards(MemorySnapshots::new()).await;
    }

    #[tokio::test]
    async fn sqlite_snapshots_never_move_backwards_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshots.db");
        never_moves_backwards(SqliteSnapshots::open(&path).unwrap()).await;
        let reopened = SqliteSnapshots::open(&path).unwrap();
        let stream = StreamName::new("account-1").unwrap();
        assert_eq!(reopened.load(&stream).await.unwrap(), Some(snapshot(3, 2, "{\"b\":3}")));
    }

    #[tokio::test]
    async fn sqlite_snapshots_share_the_event_store_file() {
        use crate::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let events = SqliteStore::open(&path).unwrap();
        let snapshots = SqliteSnapshots::open(&path).unwrap();
        let stream = StreamName::new("account-1").unwrap();
        let event = NewEvent {
            id: crate::Uuid::now_v7(),
            contract: "bank.Deposited".into(),
            contract_version: 1,
            fingerprint: "f".repeat(32),
            payload: b"{}".to_vec(),
            metadata: Metadata::now(),
            schema: None,
        };
        events
            .append(&stream, ExpectedVersion::Exact(0), vec![event])
            .await
            .unwrap();
        snapshots.save(&stream, snapshot(1, 1, "{}")).await.unwrap();
        drop(events);
        // The store still opens its file, with the extra table in it.
        let events = SqliteStore::open(&path).unwrap();
        assert_eq!(events.stream_version(&stream).await.unwrap(), Some(1));
        assert_eq!(snapshots.load(&stream).await.unwrap(), Some(snapshot(1, 1, "{}")));
    }

    #[tokio::test]
    async fn sqlite_snapshots_open_as_existing_only_where_their_table_is() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("absent.db");
        let error = SqliteSnapshots::open_existing(&absent, Durability::Full)
            .err()
            .expect("no file");
        assert!(matches!(error, OpenError::Storage { .. }), "{error}");
        assert!(!absent.exists(), "opening created the file");

        let path = dir.path().join("events.db");
        drop(crate::store::SqliteStore::open(&path).unwrap());
        let error = SqliteSnapshots::open_existing(&path, Durability::Full)
            .err()
            .expect("no table");
        assert_eq!(
            error.to_string(),
            format!(
                "no Treaty snapshot store at {}: its `snapshots` table is missing \
                 (opening an existing snapshot store creates nothing)",
                path.display()
            )
        );
        assert!(
            matches!(&error, OpenError::Missing { component: Component::Snapshots, missing, found, .. }
                if missing == &["snapshots"] && found.is_empty()),
            "{error:?}"
        );

        let stream = StreamName::new("account-1").unwrap();
        let snapshots = SqliteSnapshots::open_with(&path, Durability::Normal).unwrap();
        snapshots.save(&stream, snapshot(1, 1, "{}")).await.unwrap();
        let existing = SqliteSnapshots::open_existing(&path, Durability::Full).unwrap();
        assert_eq!(existing.load(&stream).await.unwrap(), Some(snapshot(1, 1, "{}")));
    }
}
