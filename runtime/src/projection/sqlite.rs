//! The embedded default view store: two tables in a SQLite file, which may
//! be the event store's own file.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::store::{
    code_json, parse_code, Generation, GenerationDetails, GenerationStatus, Lease, ViewChange, ViewError, ViewStore,
};
use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};
use crate::types::Timestamp;

/// The view store's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["treaty_projections", "treaty_views"];

/// Views deleted per transaction when a generation is dropped.
const DROP_CHUNK: i64 = 10_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS treaty_projections (
    name        TEXT NOT NULL,
    generation  INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    checkpoint  INTEGER NOT NULL,
    status      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    code        TEXT,
    events_per_second INTEGER,
    PRIMARY KEY (name, generation)
);
CREATE TABLE IF NOT EXISTS treaty_views (
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (projection, generation, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS treaty_view_leases (
    projection TEXT NOT NULL PRIMARY KEY,
    holder     TEXT NOT NULL,
    token      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
";

/// The columns later layouts added to `treaty_projections`, each with the
/// statement that adds it to a file of an earlier layout. The first layout
/// had no item lists or rates; views and checkpoints are untouched.
const ADDED_COLUMNS: [(&str, &str); 2] = [
    ("code", "ALTER TABLE treaty_projections ADD COLUMN code TEXT"),
    (
        "events_per_second",
        "ALTER TABLE treaty_projections ADD COLUMN events_per_second INTEGER",
    ),
];

/// Adds the columns of [`ADDED_COLUMNS`] that are missing, in one
/// immediate transaction, so two processes opening the file at once do
/// not both add one.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    for (column, statement) in ADDED_COLUMNS {
        let present: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('treaty_projections') WHERE name = ?1)",
            [column],
            |r| r.get(0),
        )?;
        if !present {
            tx.execute_batch(statement)?;
        }
    }
    tx.commit()
}

/// Views in a SQLite database.
///
/// Several processes on one machine may run engines on the same file:
/// the leases in `treaty_view_leases` give each projection to one of them
/// at a time, and the writes of a [`fenced`](ViewStore::fenced) handle
/// check the lease's token in their own transaction.
///
/// One thread of the store's own owns the write connection and does the
/// projection engine's work: writing generations and commits, one
/// transaction per commit, and loading the views a batch of events needs.
/// Reads through [`ViewReader`](super::ViewReader) use their own
/// connections on Tokio's blocking pool, so they run while a commit is
/// being written (WAL) and always see a committed state. Clones share the
/// same store; the thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteViewStore {
    inner: Arc<Inner>,
    /// The lease whose token this handle's writes to its projection check.
    fence: Option<Arc<Lease>>,
}

/// Work for the writer thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

struct Inner {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Mutex<Vec<Connection>>,
    durability: Durability,
    /// Whether connections open the file as it is, creating nothing and
    /// changing no setting ([`SqliteViewStore::open_existing`]).
    existing: bool,
}

impl std::fmt::Debug for SqliteViewStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteViewStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteViewStore {
    /// Opens (or creates) the view tables in the database at `path`,
    /// durable like the event store's default.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteViewStore::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the view tables with the given durability.
    /// Views can always be rebuilt from the events, so
    /// [`Durability::Normal`] loses at most recent checkpoints on a power
    /// failure, never correctness.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let failed = |e: rusqlite::Error| OpenError::storage(Component::ViewStore, path.display().to_string(), e);
        let conn = connect(&path, durability).map_err(failed)?;
        conn.execute_batch(SCHEMA).map_err(failed)?;
        migrate(&conn).map_err(failed)?;
        SqliteViewStore::start(path, conn, durability, false)
    }

    /// Opens the existing view store in the database at `path`, creating
    /// nothing: for tools such as `treaty projections status`, which look
    /// at the views but must not create a file or a table, nor change the
    /// file. Unlike [`open_with`](Self::open_with) its connections run no
    /// DDL, never create the file and leave its journal mode as it is
    /// (`open_with` switches the file to WAL). Writes use `durability`.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the file lacks the view store's tables
    /// (with `found` empty when no projection ever ran there),
    /// [`OpenError::Storage`] when the file does not exist or cannot be
    /// opened or read.
    pub fn open_existing(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        check_tables(&path, Component::ViewStore, TABLES)?;
        let conn = connect_existing(&path, durability)
            .map_err(|e| OpenError::storage(Component::ViewStore, path.display().to_string(), e))?;
        SqliteViewStore::start(path, conn, durability, true)
    }

    /// Starts the writer thread on `conn`.
    fn start(path: PathBuf, conn: Connection, durability: Durability, existing: bool) -> Result<Self, OpenError> {
        let (writer, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("treaty-views-writer".into())
            .spawn(move || run_writer(conn, jobs))
            .map_err(|e| OpenError::storage(Component::ViewStore, path.display().to_string(), e))?;
        Ok(SqliteViewStore {
            inner: Arc::new(Inner {
                path,
                writer,
                readers: Mutex::new(Vec::new()),
                durability,
                existing,
            }),
            fence: None,
        })
    }

    /// Runs `f` with the write connection on the writer thread.
    ///
    /// The engine's work runs there rather than on Tokio's blocking pool
    /// because of how glibc's allocator treats threads: each thread that
    /// allocates gets a malloc arena of its own, which keeps what is freed
    /// in it for that arena's later use. Loading views and committing
    /// allocate on the thread that does it, and the blocking pool starts a
    /// new thread whenever none is idle at that moment, which happens now
    /// and then when tasks follow each other closely, as the engine's
    /// loads, commits and event reads do. Over a long rebuild the pool
    /// kept growing, each new thread adding an arena of 0.4 to 1 MiB to
    /// the process, so its peak memory grew with the number of events. One
    /// thread is one arena, however long the rebuild. Little is lost by
    /// serialising: a projection waits for each load or commit before its
    /// next one, and commits took the one write connection in turn anyway;
    /// only a load may now wait for another projection's commit.
    async fn on_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ViewError> + Send + 'static,
    ) -> Result<T, ViewError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have stopped waiting; the work is done anyway.
            let _ = reply.send(f(conn));
        });
        self.inner.writer.send(job).map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }

    /// Runs `f` with a read connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ViewError> + Send + 'static,
    ) -> Result<T, ViewError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let idle = inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match idle {
                Some(conn) => conn,
                None if inner.existing => connect_existing(&inner.path, inner.durability).map_err(storage)?,
                None => connect(&inner.path, inner.durability).map_err(storage)?,
            };
            let result = f(&conn);
            let mut idle = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < 4 {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| ViewError::Storage(Box::new(e)))?
    }
}

/// The writer thread: runs jobs until every handle on the store is gone.
fn run_writer(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        // A job that panics drops its reply, so its caller gets an error;
        // the transaction it had open rolls back as it unwinds, and the
        // thread carries on with the next job.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
    }
}

fn writer_stopped() -> ViewError {
    ViewError::Storage("the view store's writer thread stopped".into())
}

fn storage(e: rusqlite::Error) -> ViewError {
    ViewError::Storage(Box::new(e))
}

fn now_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

fn lease_row(projection: String, holder: String, token: i64, expires_at: i64) -> Result<Lease, ViewError> {
    Ok(Lease {
        projection,
        holder,
        token: token as u64,
        expires_at: Timestamp::from_millisecond(expires_at).map_err(|e| ViewError::Storage(Box::new(e)))?,
    })
}

/// Fails with [`ViewError::LeaseLost`] when `fence` is a lease on
/// `projection` whose token is no longer the recorded one. Run inside the
/// write's transaction: SQLite's write lock keeps the token as read until
/// it commits.
fn check_fence(conn: &Connection, fence: Option<&Lease>, projection: &str) -> Result<(), ViewError> {
    let Some(lease) = fence.filter(|lease| lease.projection == projection) else {
        return Ok(());
    };
    let recorded = conn
        .prepare_cached("SELECT token, holder FROM treaty_view_leases WHERE projection = ?1")
        .map_err(storage)?
        .query_row(params![projection], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()
        .map_err(storage)?;
    match recorded {
        Some((token, _)) if token as u64 == lease.token => Ok(()),
        other => Err(ViewError::LeaseLost {
            projection: projection.to_string(),
            token: lease.token,
            current: other.as_ref().map(|(token, _)| *token as u64),
            holder: other.map(|(_, holder)| holder),
        }),
    }
}

fn checkpoint_of(conn: &Connection, projection: &str, generation: u64) -> Result<Option<u64>, ViewError> {
    conn.prepare_cached("SELECT checkpoint FROM treaty_projections WHERE name = ?1 AND generation = ?2")
        .map_err(storage)?
        .query_row(params![projection, generation as i64], |r| r.get::<_, i64>(0))
        .optional()
        .map(|c| c.map(|c| c as u64))
        .map_err(storage)
}

impl ViewStore for SqliteViewStore {
    async fn generations(&self) -> Result<Vec<Generation>, ViewError> {
        let location = self.inner.path.display().to_string();
        self.read(move |conn| {
            // The added columns only when the file has them: one of the
            // first layout, opened with `open_existing` (which migrates
            // nothing), does not. Asked each time, since another process
            // may migrate the file meanwhile; stepping this statement makes
            // SQLite reload the schema, so the next one is prepared
            // against the file as it is.
            let mut columns = conn
                .prepare("SELECT name FROM pragma_table_info('treaty_projections')")
                .map_err(storage)?;
            let columns: Vec<String> = columns
                .query_map([], |r| r.get(0))
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)?;
            let added = |column: &'static str| {
                if columns.iter().any(|c| c == column) {
                    column
                } else {
                    "NULL"
                }
            };
            let mut statement = conn
                .prepare(&format!(
                    "SELECT name, generation, fingerprint, checkpoint, status, updated_at, {}, {} \
                     FROM treaty_projections ORDER BY name, generation",
                    added("code"),
                    added("events_per_second")
                ))
                .map_err(storage)?;
            let rows = statement
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                    ))
                })
                .map_err(storage)?;
            let mut generations = Vec::new();
            for row in rows {
                let (projection, generation, fingerprint, checkpoint, status, updated_at, code, rate) =
                    row.map_err(storage)?;
                let invalid = |reason: String| ViewError::InvalidRow {
                    location: location.clone(),
                    reason,
                };
                let status = GenerationStatus::parse(&status).ok_or_else(|| {
                    invalid(format!(
                        "projection {projection} generation {generation} has unknown status {status:?}"
                    ))
                })?;
                let updated_at = Timestamp::from_millisecond(updated_at)
                    .map_err(|e| invalid(format!("projection {projection} has an invalid time: {e}")))?;
                generations.push(Generation {
                    projection,
                    generation: generation as u64,
                    fingerprint,
                    checkpoint: checkpoint as u64,
                    status,
                    updated_at,
                    code: parse_code(code.as_deref()),
                    events_per_second: rate.and_then(|r| u64::try_from(r).ok()),
                });
            }
            Ok(generations)
        })
        .await
    }

    async fn describe(&self, projection: &str, generation: u64, details: GenerationDetails) -> Result<(), ViewError> {
        let projection = projection.to_string();
        let code = details.code.as_ref().map(code_json);
        let rate = details.events_per_second.map(|r| i64::try_from(r).unwrap_or(i64::MAX));
        self.on_writer(move |conn| {
            conn.prepare_cached(
                "UPDATE treaty_projections SET code = COALESCE(?3, code), \
                 events_per_second = COALESCE(?4, events_per_second) WHERE name = ?1 AND generation = ?2",
            )
            .map_err(storage)?
            .execute(params![projection, generation as i64, code, rate])
            .map(|_| ())
            .map_err(storage)
        })
        .await
    }

    async fn begin_generation(&self, projection: &str, generation: u64, fingerprint: &str) -> Result<(), ViewError> {
        let (projection, fingerprint) = (projection.to_string(), fingerprint.to_string());
        let fence = self.fence.clone();
        self.on_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            check_fence(&tx, fence.as_deref(), &projection)?;
            let inserted = tx
                .execute(
                    "INSERT INTO treaty_projections (name, generation, fingerprint, checkpoint, status, updated_at) \
                     VALUES (?1, ?2, ?3, 0, 'building', ?4) ON CONFLICT DO NOTHING",
                    params![projection, generation as i64, fingerprint, now_millis()],
                )
                .map_err(storage)?;
            if inserted == 0 {
                return Err(ViewError::WrongGeneration {
                    projection,
                    generation,
                    reason: "exists already",
                });
            }
            tx.commit().map_err(storage)
        })
        .await
    }

    async fn load(
        &self,
        projection: &str,
        generation: u64,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        let projection = projection.to_string();
        // On the writer thread (see `on_writer`). Between jobs the write
        // connection has no transaction open, so it reads the latest
        // committed state, as a read connection would.
        self.on_writer(move |conn| {
            // One statement for any number of keys, passed as a JSON array:
            // `CROSS JOIN` walks the keys and finds each view by its primary
            // key. A statement with one `?` per key would be a different
            // statement for every batch size, prepared again each time.
            let keys = serde_json::to_string(&keys).map_err(|e| ViewError::Storage(Box::new(e)))?;
            let mut statement = conn
                .prepare_cached(
                    "SELECT v.key, v.value FROM (SELECT DISTINCT value FROM json_each(?3)) AS k \
                     CROSS JOIN treaty_views v ON v.projection = ?1 AND v.generation = ?2 AND v.key = k.value",
                )
                .map_err(storage)?;
            let rows = statement
                .query_map(params![projection, generation as i64, keys], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?.into_bytes()))
                })
                .map_err(storage)?;
            rows.map(|row| row.map_err(storage)).collect()
        })
        .await
    }

    async fn commit(
        &self,
        projection: &str,
        generation: u64,
        from: u64,
        to: u64,
        changes: Vec<ViewChange>,
    ) -> Result<(), ViewError> {
        let projection = projection.to_string();
        let fence = self.fence.clone();
        self.on_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            check_fence(&tx, fence.as_deref(), &projection)?;
            let moved = tx
                .prepare_cached(
                    "UPDATE treaty_projections SET checkpoint = ?1, updated_at = ?2 \
                     WHERE name = ?3 AND generation = ?4 AND checkpoint = ?5",
                )
                .map_err(storage)?
                .execute(params![
                    to as i64,
                    now_millis(),
                    projection,
                    generation as i64,
                    from as i64
                ])
                .map_err(storage)?;
            if moved == 0 {
                let found = checkpoint_of(&tx, &projection, generation)?;
                return Err(ViewError::CheckpointMoved {
                    projection,
                    generation,
                    expected: from,
                    found,
                });
            }
            {
                let mut put = tx
                    .prepare_cached(
                        "INSERT INTO treaty_views (projection, generation, key, value) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (projection, generation, key) DO UPDATE SET value = excluded.value",
                    )
                    .map_err(storage)?;
                let mut delete = tx
                    .prepare_cached("DELETE FROM treaty_views WHERE projection = ?1 AND generation = ?2 AND key = ?3")
                    .map_err(storage)?;
                for change in &changes {
                    match &change.value {
                        Some(json) => {
                            let json = std::str::from_utf8(json).map_err(|e| ViewError::Storage(Box::new(e)))?;
                            put.execute(params![projection, generation as i64, change.key, json])
                        }
                        None => delete.execute(params![projection, generation as i64, change.key]),
                    }
                    .map_err(storage)?;
                }
            }
            tx.commit().map_err(storage)
        })
        .await
    }

    async fn promote(&self, projection: &str, generation: u64) -> Result<Option<u64>, ViewError> {
        let projection = projection.to_string();
        let fence = self.fence.clone();
        self.on_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            check_fence(&tx, fence.as_deref(), &projection)?;
            let building = tx
                .query_row(
                    "SELECT status FROM treaty_projections WHERE name = ?1 AND generation = ?2",
                    params![projection, generation as i64],
                    |r| r.get::<_, String>(0),
                )
                .optional()
                .map_err(storage)?;
            if building.as_deref() != Some("building") {
                return Err(ViewError::WrongGeneration {
                    projection,
                    generation,
                    reason: "is not being built",
                });
            }
            let retired = tx
                .query_row(
                    "SELECT generation FROM treaty_projections WHERE name = ?1 AND status = 'live'",
                    params![projection],
                    |r| r.get::<_, i64>(0),
                )
                .optional()
                .map_err(storage)?;
            tx.execute(
                "UPDATE treaty_projections SET status = 'retired' WHERE name = ?1 AND status = 'live'",
                params![projection],
            )
            .map_err(storage)?;
            tx.execute(
                "UPDATE treaty_projections SET status = 'live', updated_at = ?3 WHERE name = ?1 AND generation = ?2",
                params![projection, generation as i64, now_millis()],
            )
            .map_err(storage)?;
            tx.commit().map_err(storage)?;
            Ok(retired.map(|g| g as u64))
        })
        .await
    }

    async fn drop_generation(&self, projection: &str, generation: u64) -> Result<(), ViewError> {
        // In chunks, each its own transaction, so other projections' loads
        // and commits (and the event store's appends, when the views share
        // its file) get the write lock between them. The record goes last:
        // until then the generation is still listed, not live, and a
        // crash midway leaves it to be dropped again at the next start.
        loop {
            let projection = projection.to_string();
            let fence = self.fence.clone();
            let deleted = self
                .on_writer(move |conn| {
                    let tx = conn
                        .transaction_with_behavior(TransactionBehavior::Immediate)
                        .map_err(storage)?;
                    check_fence(&tx, fence.as_deref(), &projection)?;
                    let deleted = tx
                        .prepare_cached(
                            "DELETE FROM treaty_views WHERE projection = ?1 AND generation = ?2 AND key IN \
                             (SELECT key FROM treaty_views WHERE projection = ?1 AND generation = ?2 LIMIT ?3)",
                        )
                        .map_err(storage)?
                        .execute(params![projection, generation as i64, DROP_CHUNK])
                        .map_err(storage)?;
                    tx.commit().map_err(storage)?;
                    Ok(deleted)
                })
                .await?;
            if deleted == 0 {
                break;
            }
        }
        let projection = projection.to_string();
        let fence = self.fence.clone();
        self.on_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            check_fence(&tx, fence.as_deref(), &projection)?;
            tx.execute(
                "DELETE FROM treaty_projections WHERE name = ?1 AND generation = ?2",
                params![projection, generation as i64],
            )
            .map_err(storage)?;
            tx.commit().map_err(storage)
        })
        .await
    }

    async fn acquire(&self, projection: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        let (projection, holder) = (projection.to_string(), holder.to_string());
        self.on_writer(move |conn| {
            let now = now_millis();
            // Taken when free, expired, or held under the same name; the
            // token grows by one at each acquisition.
            conn.prepare_cached(
                "INSERT INTO treaty_view_leases (projection, holder, token, expires_at) VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (projection) DO UPDATE SET holder = excluded.holder, \
                 token = treaty_view_leases.token + 1, expires_at = excluded.expires_at \
                 WHERE treaty_view_leases.expires_at <= ?4 OR treaty_view_leases.holder = excluded.holder \
                 RETURNING token, expires_at",
            )
            .map_err(storage)?
            .query_row(
                params![projection, holder, now.saturating_add(ttl_millis(ttl)), now],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()
            .map_err(storage)?
            .map(|(token, expires_at)| lease_row(projection, holder, token, expires_at))
            .transpose()
        })
        .await
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        let lease = lease.clone();
        self.on_writer(move |conn| {
            let expires_at = now_millis().saturating_add(ttl_millis(ttl));
            let renewed = conn
                .prepare_cached(
                    "UPDATE treaty_view_leases SET expires_at = ?1 WHERE projection = ?2 AND token = ?3 AND holder = ?4",
                )
                .map_err(storage)?
                .execute(params![expires_at, lease.projection, lease.token as i64, lease.holder])
                .map_err(storage)?;
            if renewed == 0 {
                return Ok(None);
            }
            lease_row(lease.projection, lease.holder, lease.token as i64, expires_at).map(Some)
        })
        .await
    }

    async fn release(&self, lease: &Lease) -> Result<(), ViewError> {
        let lease = lease.clone();
        self.on_writer(move |conn| {
            conn.prepare_cached(
                "UPDATE treaty_view_leases SET expires_at = 0 WHERE projection = ?1 AND token = ?2 AND holder = ?3",
            )
            .map_err(storage)?
            .execute(params![lease.projection, lease.token as i64, lease.holder])
            .map(|_| ())
            .map_err(storage)
        })
        .await
    }

    async fn leases(&self) -> Result<Vec<Lease>, ViewError> {
        self.read(move |conn| {
            // A file of a layout from before leases, opened with
            // `open_existing`, has no lease table.
            let present: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'treaty_view_leases')",
                    [],
                    |r| r.get(0),
                )
                .map_err(storage)?;
            if !present {
                return Ok(Vec::new());
            }
            let mut statement = conn
                .prepare("SELECT projection, holder, token, expires_at FROM treaty_view_leases ORDER BY projection")
                .map_err(storage)?;
            let rows = statement
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(storage)?;
            let mut leases = Vec::new();
            for row in rows {
                let (projection, holder, token, expires_at) = row.map_err(storage)?;
                leases.push(lease_row(projection, holder, token, expires_at)?);
            }
            Ok(leases)
        })
        .await
    }

    fn fenced(&self, lease: &Lease) -> Self {
        SqliteViewStore {
            inner: self.inner.clone(),
            fence: Some(Arc::new(lease.clone())),
        }
    }

    async fn get(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>, ViewError> {
        let (projection, key) = (projection.to_string(), key.to_string());
        self.read(move |conn| {
            conn.prepare_cached(
                // `CROSS JOIN` keeps `p` outside, so the views are found by
                // their primary key, not by scanning the projection's.
                "SELECT v.value FROM treaty_projections p CROSS JOIN treaty_views v \
                 ON v.projection = p.name AND v.generation = p.generation \
                 WHERE p.name = ?1 AND p.status = 'live' AND v.key = ?2",
            )
            .map_err(storage)?
            .query_row(params![projection, key], |r| r.get::<_, String>(0))
            .optional()
            .map(|v| v.map(String::into_bytes))
            .map_err(storage)
        })
        .await
    }

    async fn list(
        &self,
        projection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        let (projection, after) = (projection.to_string(), after.map(str::to_string));
        self.read(move |conn| {
            // As in `get`. Two statements rather than `?2 IS NULL OR ...`,
            // which would keep SQLite from seeking to the key range.
            let sql = if after.is_some() {
                "SELECT v.key, v.value FROM treaty_projections p CROSS JOIN treaty_views v \
                 ON v.projection = p.name AND v.generation = p.generation \
                 WHERE p.name = ?1 AND p.status = 'live' AND v.key > ?2 ORDER BY v.key LIMIT ?3"
            } else {
                "SELECT v.key, v.value FROM treaty_projections p CROSS JOIN treaty_views v \
                 ON v.projection = p.name AND v.generation = p.generation \
                 WHERE p.name = ?1 AND p.status = 'live' AND ?2 IS NULL ORDER BY v.key LIMIT ?3"
            };
            let mut statement = conn.prepare_cached(sql).map_err(storage)?;
            let rows = statement
                .query_map(params![projection, after, limit as i64], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?.into_bytes()))
                })
                .map_err(storage)?;
            rows.map(|r| r.map_err(storage)).collect()
        })
        .await
    }
}
