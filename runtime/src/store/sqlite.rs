//! The embedded default: an event store in one SQLite file.
//!
//! - Opening runs a handful of constant-time statements; nothing is read
//!   into memory, so a store with ten million events opens as fast as one
//!   with a thousand.
//! - One writer thread owns the write connection. Appends queue up for it;
//!   whatever has queued while a transaction commits is written together
//!   in the next one (group commit), each append inside its own savepoint
//!   so one failing append does not affect the others. Many concurrent
//!   writers therefore share each fsync instead of paying for one each.
//! - Positions are assigned by that single writer inside the transaction,
//!   so they are gap-free and in commit order.
//! - Reads use a small pool of read connections (WAL lets them run while
//!   the writer writes) and fetch in pages.
//! - The writer also writes for the other components keeping tables in
//!   the file (the bus's queue): their writes join the group commits as
//!   jobs, and an append may carry a write offered by the task appending
//!   (the acknowledgement of the message it handles) to commit in the
//!   append's transaction; see `sqlite_shared.rs`.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{oneshot, watch};

use super::paging::{self, PAGE_SIZE};
use super::registry::{admit_changed, schema_to_record, CompiledContract, Mode, StoredContract, SCHEMA_FORMAT};
use super::rules::{self, StoredId, DEFAULT_MAX_EVENT_BYTES};
use super::sqlite_page::SqlitePage;
use super::sqlite_shared::{self, CommitWith, FileWriter, Finish, Job};
use super::{
    AppendError, AppendResult, Direction, EventLocation, EventStore, EventStream, ExpectedVersion, NewEvent, ReadError,
    StreamName,
};
use crate::metrics;
use crate::storage::sqlite::{check_tables, connect, connect_read_only};
use crate::storage::{Component, Durability, OpenError};
use crate::types::Uuid;

/// The store's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["events", "contracts"];

/// The layout version this build writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position         INTEGER PRIMARY KEY,
    id               BLOB NOT NULL UNIQUE,
    stream           TEXT NOT NULL,
    version          INTEGER NOT NULL,
    contract         TEXT NOT NULL,
    contract_version INTEGER NOT NULL,
    fingerprint      TEXT NOT NULL,
    payload          TEXT NOT NULL,
    metadata         TEXT NOT NULL,
    UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS contracts (
    name           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    fingerprint    TEXT NOT NULL,
    schema         TEXT,
    schema_format  INTEGER NOT NULL DEFAULT 1,
    first_position INTEGER,
    first_seen     INTEGER,
    PRIMARY KEY (name, version, fingerprint)
);
";

/// Layout 1 counted the events of each contract version in the registry,
/// which cost a registry write on every append. Layout 2 keeps the
/// position of the first event instead, written once; the migration fills
/// it from the events in one pass.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE contracts ADD COLUMN first_position INTEGER;
UPDATE contracts SET first_position = used.position
FROM (SELECT contract, contract_version, min(position) AS position FROM events GROUP BY contract, contract_version) AS used
WHERE used.contract = contracts.name AND used.contract_version = contracts.version;
ALTER TABLE contracts DROP COLUMN events;
";

/// Layout 2 kept one fingerprint per contract version. Layout 3 is a
/// schema registry: every fingerprint a version was written or registered
/// with, its schema's format and when it was first seen (unknown, `NULL`,
/// for the rows moved here). Every row is kept as it was.
const MIGRATE_2_TO_3: &str = "
CREATE TABLE contracts_3 (
    name           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    fingerprint    TEXT NOT NULL,
    schema         TEXT,
    schema_format  INTEGER NOT NULL DEFAULT 1,
    first_position INTEGER,
    first_seen     INTEGER,
    PRIMARY KEY (name, version, fingerprint)
);
INSERT INTO contracts_3 (name, version, fingerprint, schema, first_position)
    SELECT name, version, fingerprint, schema, first_position FROM contracts;
DROP TABLE contracts;
ALTER TABLE contracts_3 RENAME TO contracts;
";

const COLUMNS: &str = "position, id, stream, version, contract, contract_version, fingerprint, payload, metadata";

/// Settings of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// See [`Durability`].
    pub durability: Durability,
    /// The largest payload accepted, in bytes.
    pub max_event_bytes: usize,
    /// The most appends written in one group commit.
    pub max_group: usize,
    /// How many read connections to keep.
    pub readers: usize,
    /// How often a caught-up subscription looks for events appended by
    /// other processes. Appends made through this store wake it at once.
    pub poll_interval: std::time::Duration,
    /// The mode in which `register_contracts` compares a build's schemas
    /// with the stored ones (see [`EventStore::compatibility`]).
    pub compatibility: Mode,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            durability: Durability::Full,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            max_group: 1024,
            readers: 4,
            poll_interval: std::time::Duration::from_millis(100),
            compatibility: Mode::Backward,
        }
    }
}

/// An event store in a SQLite file. Clones share the same store; the
/// writer thread stops when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writing,
    readers: ReaderPool,
    head: watch::Receiver<u64>,
    config: SqliteConfig,
    /// The file's canonical path, by which other components find the
    /// writer and offer writes to appends.
    file: Option<PathBuf>,
}

/// Where appends go.
enum Writing {
    /// To the writer thread.
    Thread(Arc<FileWriter>),
    /// Nowhere: the store was opened with [`SqliteStore::open_existing`].
    ReadOnly {
        /// Keeps the subscriptions' head channel open.
        _head: watch::Sender<u64>,
    },
}

pub(crate) struct Append {
    stream: StreamName,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    /// The store's mode, for an event whose fingerprint is new for a
    /// stored version.
    compatibility: Mode,
    /// A write to commit with the append if it succeeds.
    commit_with: Option<Arc<CommitWith>>,
    reply: oneshot::Sender<Result<AppendResult, AppendError>>,
}

/// What the writer thread is asked to write.
pub(crate) enum Request {
    Append(Append),
    /// Another component's write (see `sqlite_shared.rs`).
    Job(Job),
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with default settings.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or was written by a newer layout.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteStore::open_with(path, SqliteConfig::default())
    }

    /// Opens (or creates) the store at `path`.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or was written by a newer layout.
    pub fn open_with(path: impl AsRef<Path>, config: SqliteConfig) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        let failed = |e: rusqlite::Error| OpenError::storage(Component::EventStore, &location, e);
        let mut conn = store_connection(&path, config.durability).map_err(failed)?;
        // The layout is read inside the write transaction: a process that
        // opened the file at the same moment may have moved it since.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let found: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(failed)?;
        if found > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema {
                location,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == 1 {
            tx.execute_batch(MIGRATE_1_TO_2).map_err(failed)?;
        }
        if found == 1 || found == 2 {
            tx.execute_batch(MIGRATE_2_TO_3).map_err(failed)?;
        }
        tx.execute_batch(SCHEMA).map_err(failed)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(failed)?;
        tx.commit().map_err(failed)?;
        let head = last_position(&conn).map_err(failed)?;
        let (head_tx, head_rx) = watch::channel(head);
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(conn, head_tx, config.max_group.max(1));
        std::thread::Builder::new()
            .name("treaty-sqlite-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| OpenError::storage(Component::EventStore, &location, e))?;
        let writer = Arc::new(FileWriter::new(sender));
        let file = sqlite_shared::file_key(&path);
        if let Some(file) = &file {
            sqlite_shared::register(file.clone(), &writer);
        }
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Writing::Thread(writer),
                readers: ReaderPool {
                    path,
                    idle: Mutex::new(Vec::new()),
                    keep: config.readers.max(1),
                },
                head: head_rx,
                config,
                file,
            }),
        })
    }

    /// Opens the existing store at `path` to read it, without writing to
    /// the file: no file or table is created and no layout moved, and the
    /// file is opened read-only. Appends are refused with
    /// [`AppendError::ReadOnly`]. Subscriptions see the appends of the
    /// processes that write to the file by polling it every
    /// `config.poll_interval`; of `config`, only that, `readers` and
    /// `compatibility` apply.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use treaty_runtime::store::{EventStore, SqliteConfig, SqliteStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = SqliteStore::open_existing("events.db", SqliteConfig::default())?;
    /// println!("{} events", store.head().await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the file lacks the store's tables,
    /// [`OpenError::NewerSchema`] or [`OpenError::OlderSchema`] when they
    /// have another layout than this build's, and
    /// [`OpenError::Storage`] when the file does not exist or cannot be
    /// read.
    pub fn open_existing(path: impl AsRef<Path>, config: SqliteConfig) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let location = path.display().to_string();
        let failed = |e: rusqlite::Error| OpenError::storage(Component::EventStore, &location, e);
        let conn = check_tables(&path, Component::EventStore, TABLES)?;
        stable_plans(&conn).map_err(failed)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(failed)?;
        if found > SCHEMA_VERSION {
            return Err(OpenError::NewerSchema {
                location,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        // Layout 0 is a file whose tables `open` did not create, since it
        // writes the layout in the same transaction: `open` would adopt it.
        if found < SCHEMA_VERSION {
            return Err(OpenError::OlderSchema {
                location,
                found,
                current: SCHEMA_VERSION,
            });
        }
        let head = last_position(&conn).map_err(failed)?;
        let (head_tx, head_rx) = watch::channel(head);
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writer: Writing::ReadOnly { _head: head_tx },
                readers: ReaderPool {
                    path,
                    idle: Mutex::new(vec![conn]),
                    keep: config.readers.max(1),
                },
                head: head_rx,
                config,
                file: None,
            }),
        })
    }

    fn read_only(&self) -> AppendError {
        AppendError::ReadOnly {
            location: self.inner.readers.path.display().to_string(),
        }
    }

    /// Reads one page on the blocking pool. The read starts at once, not
    /// when the future is first polled, so a reader can ask for the next
    /// page before it has worked through this one.
    fn page(&self, query: PageQuery) -> impl std::future::Future<Output = Result<SqlitePage, ReadError>> {
        let inner = self.inner.clone();
        let read = tokio::task::spawn_blocking(move || inner.readers.with(|conn| query.run(conn)));
        async move { read.await.map_err(|e| ReadError::Storage(Box::new(e)))? }
    }

    /// The events of `stream` from `from` on, page by page; their
    /// metadata's headers left out unless `headers`.
    fn stream_pages(&self, stream: &StreamName, from: u64, direction: Direction, headers: bool) -> EventStream {
        let store = self.clone();
        let stream = stream.clone();
        let fetch = move |at: u64| {
            let page = store.page(PageQuery::Stream {
                stream: stream.clone(),
                at,
                direction,
            });
            async move {
                let page = page.await?;
                Ok(if headers { page } else { page.without_headers() })
            }
        };
        paging::stream_pages(from, direction, fetch)
    }
}

/// A read-write connection of the event store: the shared settings of
/// [`connect`], plus stable plans for its cached lookups.
fn store_connection(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = connect(path, durability)?;
    stable_plans(&conn)?;
    Ok(conn)
}

/// Turns on SQLite's query planner stability guarantee, so no plan depends
/// on the values bound to a statement. Without it SQLite treats the
/// parameters of the store's lookups (`stream = ?1`, `position >= ?1`,
/// `LIMIT ?2`) as able to change the plan and expires such a statement
/// when its bindings are cleared, which rusqlite's statement cache does
/// each time it takes a statement back: every cached lookup was parsed and
/// planned again on each use (`SQLITE_STMTSTATUS_REPREPARE` counted one
/// per run), which cost the writer more than the lookup itself. The store
/// never runs `ANALYZE`, so there are no statistics to re-plan with.
fn stable_plans(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

fn last_position(conn: &Connection) -> rusqlite::Result<u64> {
    // `MAX` over the integer primary key is a single b-tree lookup. The
    // statement is cached: the writer runs it for every group commit, and
    // parsing it would cost more than running it.
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(position) FROM events")?
        .query_row([], |r| r.get(0))?;
    Ok(max.unwrap_or(0) as u64)
}

impl SqliteStore {
    /// [`EventStore::append`] without its metrics.
    async fn append_untimed(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        rules::validate_append(stream, &events, self.inner.config.max_event_bytes)?;
        let (reply, answer) = oneshot::channel();
        let request = Append {
            stream: stream.clone(),
            expected,
            events,
            compatibility: self.inner.config.compatibility,
            commit_with: sqlite_shared::offered_for(self.inner.file.as_deref()),
            reply,
        };
        let writer = match &self.inner.writer {
            Writing::Thread(writer) => writer,
            Writing::ReadOnly { .. } => return Err(self.read_only()),
        };
        if !writer.submit(Request::Append(request)) {
            return Err(AppendError::Storage("the SQLite writer thread has stopped".into()));
        }
        answer.await.map_err(|_| {
            AppendError::Storage("the SQLite writer failed during the append, which was rolled back".into())
        })?
    }
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        let timed = metrics::Append::start(metrics::Backend::Sqlite, events.len());
        timed.finish(self.append_untimed(stream, expected, events).await)
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<Option<u64>, ReadError> {
        let inner = self.inner.clone();
        let stream = stream.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .readers
                .with(|conn| stream_version(conn, &stream).map_err(read_failed))
        })
        .await
        .map_err(|e| ReadError::Storage(Box::new(e)))?
    }

    async fn locate(&self, id: Uuid) -> Result<Option<EventLocation>, ReadError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.readers.with(|conn| {
                let found = stored_id(conn, id).map_err(read_failed)?;
                Ok(found.map(|s| EventLocation {
                    stream: s.stream,
                    version: s.version,
                    position: s.position,
                }))
            })
        })
        .await
        .map_err(|e| ReadError::Storage(Box::new(e)))?
    }

    async fn head(&self) -> Result<u64, ReadError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.readers.with(|conn| last_position(conn).map_err(read_failed)))
            .await
            .map_err(|e| ReadError::Storage(Box::new(e)))?
    }

    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream {
        self.stream_pages(stream, from, direction, true)
    }

    fn replay_stream(&self, stream: &StreamName, from: u64) -> EventStream {
        self.stream_pages(stream, from, Direction::Forward, false)
    }

    fn read_all(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::paged(
            from.max(1),
            move |at| store.page(PageQuery::All { at }),
            paging::after_position,
        )
    }

    async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner
                .readers
                .with(|conn| registry_rows(conn, None).map_err(read_failed))
        })
        .await
        .map_err(|e| ReadError::Storage(Box::new(e)))?
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        if let Writing::ReadOnly { .. } = self.inner.writer {
            return Err(self.read_only());
        }
        super::validate::registry(&contracts)?;
        let path = self.inner.readers.path.clone();
        let durability = self.inner.config.durability;
        tokio::task::spawn_blocking(move || -> rusqlite::Result<()> {
            // A connection of its own: this runs once at start, and SQLite
            // lets it wait for the writer thread's transactions.
            let mut conn = store_connection(&path, durability)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare(
                    "INSERT INTO contracts (name, version, fingerprint, schema, schema_format, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (name, version, fingerprint) DO UPDATE
                     SET schema = excluded.schema, schema_format = excluded.schema_format
                     WHERE schema IS NULL AND excluded.schema IS NOT NULL",
                )?;
                let now = now_millis();
                for c in &contracts {
                    upsert.execute(params![c.name, c.version, c.fingerprint, c.schema, SCHEMA_FORMAT, now])?;
                }
            }
            tx.commit()
        })
        .await
        .map_err(|e| AppendError::Storage(Box::new(e)))?
        .map_err(append_failed)
    }

    fn compatibility(&self) -> Mode {
        self.inner.config.compatibility
    }

    fn subscribe(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::subscription(
            from,
            move |at| store.page(PageQuery::All { at }),
            self.inner.head.clone(),
            // Other processes may append to the same file; only appends
            // through this store move its head.
            // At least a millisecond: zero would query in a busy loop.
            Some(self.inner.config.poll_interval.max(std::time::Duration::from_millis(1))),
        )
    }
}

fn stream_version(conn: &Connection, stream: &StreamName) -> rusqlite::Result<Option<u64>> {
    // Cached: the writer runs this for every append, and parsing and
    // planning the statement each time took longer than the lookup.
    let max: Option<i64> = conn
        .prepare_cached("SELECT MAX(version) FROM events WHERE stream = ?1")?
        .query_row([stream.as_str()], |r| r.get(0))?;
    Ok(max.map(|v| v as u64))
}

/// Read connections, opened on demand and kept for reuse.
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl ReaderPool {
    fn with<T>(&self, work: impl FnOnce(&Connection) -> Result<T, ReadError>) -> Result<T, ReadError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => reader_connection(&self.path).map_err(read_failed)?,
        };
        let result = work(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
        result
    }
}

/// A read-only connection, as readers use them.
fn reader_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = connect_read_only(path)?;
    stable_plans(&conn)?;
    Ok(conn)
}

/// One page of a read.
enum PageQuery {
    All {
        at: u64,
    },
    Stream {
        stream: StreamName,
        at: u64,
        direction: Direction,
    },
}

impl PageQuery {
    fn run(&self, conn: &Connection) -> Result<SqlitePage, ReadError> {
        let storage = read_failed;
        let limit = Value::Integer(PAGE_SIZE as i64);
        let (filter, args) = match self {
            PageQuery::All { at } => ("position >= ?1 ORDER BY position LIMIT ?2", vec![int(*at), limit]),
            PageQuery::Stream { stream, at, direction } => {
                let filter = match direction {
                    Direction::Forward => "stream = ?1 AND version >= ?2 ORDER BY version LIMIT ?3",
                    Direction::Backward => "stream = ?1 AND version <= ?2 ORDER BY version DESC LIMIT ?3",
                };
                (filter, vec![Value::Text(stream.to_string()), int(*at), limit])
            }
        };
        let mut statement = conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE {filter}"))
            .map_err(storage)?;
        let mut rows = statement.query(rusqlite::params_from_iter(args)).map_err(storage)?;
        // Sized for a full page up front: SQLite cannot say how many rows
        // are coming.
        let mut page = SqlitePage::with_capacity(PAGE_SIZE);
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    if let Err(e) = page.push(row) {
                        page.fail(storage(e));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    page.fail(storage(e));
                    break;
                }
            }
        }
        Ok(page)
    }
}

/// A cursor as an SQLite integer; cursors past `i64::MAX` match nothing
/// anyway, so they are clamped.
fn int(value: u64) -> Value {
    Value::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The thread that owns the write connection.
pub(crate) struct Writer {
    conn: Connection,
    head: watch::Sender<u64>,
    max_group: usize,
}

/// How a request of a group ended, to be answered after the commit.
enum Written {
    Append {
        reply: oneshot::Sender<Result<AppendResult, AppendError>>,
        result: Result<AppendResult, WriteFailure>,
        /// The write offered with the append, committed with it.
        committed_with: Option<Arc<CommitWith>>,
    },
    Job(Finish),
}

impl Writer {
    pub(crate) fn new(conn: Connection, head: watch::Sender<u64>, max_group: usize) -> Self {
        Writer { conn, head, max_group }
    }

    pub(crate) fn run(mut self, requests: mpsc::Receiver<Request>) {
        // `recv` fails once every handle is gone and every request sent
        // has been taken: the thread ends.
        while let Ok(first) = requests.recv() {
            let mut group = vec![first];
            while group.len() < self.max_group {
                match requests.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            // The last line of defence: validation refuses what could make
            // an append panic, and each append's and job's work catches its
            // own panic. Should anything else in the group panic, its open
            // transaction rolls back as it unwinds, the group's appends and
            // jobs are answered with an error as their reply channels drop,
            // and the thread goes on serving the requests after them.
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.write_group(group)));
            if let Err(panic) = written {
                tracing::error!(
                    "the SQLite writer panicked writing a group of appends, which failed: {}",
                    panic_text(&panic)
                );
            }
        }
    }

    /// Writes every request of the group in one transaction, each in a
    /// savepoint, then answers them all after the commit.
    fn write_group(&mut self, group: Vec<Request>) {
        let mut written = Vec::with_capacity(group.len());
        let mut pending = group.into_iter();
        let outcome = (|| -> rusqlite::Result<Option<u64>> {
            let mut tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Read when the group's first append needs it: a writer of a
            // file without events (a queue's own) never reads it.
            let mut next_position: Option<u64> = None;
            for request in pending.by_ref() {
                let mut savepoint = tx.savepoint()?;
                let append = match request {
                    Request::Job(job) => {
                        // A panicking job drops its reply: its caller learns
                        // it failed, and its savepoint is rolled back.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&savepoint))) {
                            Ok((true, finish)) => {
                                savepoint.commit()?;
                                written.push(Written::Job(finish));
                            }
                            Ok((false, finish)) => {
                                savepoint.rollback()?;
                                written.push(Written::Job(finish));
                            }
                            Err(panic) => {
                                tracing::error!("a write through the SQLite writer panicked: {}", panic_text(&panic));
                                savepoint.rollback()?;
                            }
                        }
                        continue;
                    }
                    Request::Append(append) => append,
                };
                let next = match next_position {
                    Some(next) => next,
                    None => last_position(&savepoint)? + 1,
                };
                next_position = Some(next);
                // A panic in one append's work fails that append alone: its
                // savepoint is rolled back like any failed append's.
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_append(&savepoint, &append, next)))
                        .unwrap_or_else(|panic| {
                            Err(WriteFailure::Rejected(AppendError::Storage(
                                format!("the append panicked and was rolled back: {}", panic_text(&panic)).into(),
                            )))
                        });
                let mut committed_with = None;
                if result.is_ok() {
                    if let Some(offer) = &append.commit_with {
                        // In a savepoint of its own: should the offered
                        // write fail, the append still commits, and the
                        // one who offered it writes it apart.
                        let mut with = savepoint.savepoint()?;
                        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| offer.run(&with)));
                        if matches!(ran, Ok(Ok(()))) {
                            with.commit()?;
                            committed_with = Some(offer.clone());
                        } else {
                            with.rollback()?;
                        }
                    }
                }
                match &result {
                    Ok(r) if r.last_position >= next => {
                        next_position = Some(r.last_position + 1);
                        savepoint.commit()?;
                    }
                    // A retry wrote nothing; a failed append is undone.
                    Ok(_) => savepoint.commit()?,
                    // Dropping an uncommitted savepoint rolls it back.
                    Err(_) => savepoint.rollback()?,
                }
                written.push(Written::Append {
                    reply: append.reply,
                    result,
                    committed_with,
                });
            }
            tx.commit()?;
            Ok(next_position.map(|next| next - 1))
        })();
        match outcome {
            Ok(head) => {
                if let Some(head) = head {
                    self.head.send_if_modified(|current| {
                        let moved = head > *current;
                        *current = head.max(*current);
                        moved
                    });
                }
                for done in written {
                    match done {
                        Written::Append {
                            reply,
                            result,
                            committed_with,
                        } => {
                            if let Some(offer) = committed_with {
                                offer.mark_committed();
                            }
                            let _ = reply.send(result.map_err(into_append_error));
                        }
                        Written::Job(finish) => finish(Ok(())),
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                let transient = crate::storage::transient::sqlite(&e);
                let failed = |reply: oneshot::Sender<Result<AppendResult, AppendError>>| {
                    let error: Box<dyn std::error::Error + Send + Sync> = format!("commit failed: {message}").into();
                    let _ = reply.send(Err(if transient {
                        AppendError::Unavailable(error)
                    } else {
                        AppendError::Storage(error)
                    }));
                };
                for done in written {
                    match done {
                        Written::Append { reply, .. } => failed(reply),
                        Written::Job(finish) => finish(Err(&message)),
                    }
                }
                // What the failure left unwritten fails alike.
                for request in pending {
                    match request {
                        Request::Append(append) => failed(append.reply),
                        // Dropped: its caller learns it was not written.
                        Request::Job(_) => {}
                    }
                }
            }
        }
    }
}

/// What can go wrong inside one append's savepoint.
enum WriteFailure {
    Rejected(AppendError),
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for WriteFailure {
    fn from(e: rusqlite::Error) -> Self {
        WriteFailure::Sql(e)
    }
}

fn into_append_error(failure: WriteFailure) -> AppendError {
    match failure {
        WriteFailure::Rejected(e) => e,
        WriteFailure::Sql(e) => append_failed(e),
    }
}

/// A failure of SQLite as an append error: a busy or locked database is
/// unavailable (retry), anything else a storage failure.
fn append_failed(e: rusqlite::Error) -> AppendError {
    if crate::storage::transient::sqlite(&e) {
        AppendError::Unavailable(Box::new(e))
    } else {
        AppendError::Storage(Box::new(e))
    }
}

/// A failure of SQLite as a read error, sorted like [`append_failed`].
fn read_failed(e: rusqlite::Error) -> ReadError {
    if crate::storage::transient::sqlite(&e) {
        ReadError::Unavailable(Box::new(e))
    } else {
        ReadError::Storage(Box::new(e))
    }
}

/// What a caught panic said.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

fn write_append(conn: &Connection, append: &Append, next_position: u64) -> Result<AppendResult, WriteFailure> {
    // Only the first id is looked up on the happy path: if it is new, any
    // other stored id trips the UNIQUE constraint, which is then explained.
    if stored_id(conn, append.events[0].id)?.is_some() {
        let stored = append
            .events
            .iter()
            .map(|e| stored_id(conn, e.id))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        return match rules::judge_retry(&append.stream, &stored) {
            Ok(Some(original)) => Ok(original),
            Ok(None) => unreachable!("the first id is stored"),
            Err(e) => Err(WriteFailure::Rejected(e)),
        };
    }
    let actual = stream_version(conn, &append.stream)?;
    if !append.expected.admits(actual) {
        stored_elsewhere(conn, append)?;
        return Err(WriteFailure::Rejected(AppendError::WrongExpectedVersion {
            stream: append.stream.clone(),
            expected: append.expected,
            actual,
        }));
    }
    if let Err(failure) = register_first_uses(conn, &append.events, next_position, append.compatibility) {
        if let WriteFailure::Rejected(_) = failure {
            stored_elsewhere(conn, append)?;
        }
        return Err(failure);
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO events (position, id, stream, version, contract, contract_version, fingerprint, payload, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut version = actual.unwrap_or(0);
    let mut position = next_position;
    for event in &append.events {
        version += 1;
        // Validation checked both; should either still fail, the append
        // fails, never the writer.
        let metadata = serde_json::to_string(&event.metadata)
            .map_err(|e| WriteFailure::Rejected(AppendError::Storage(Box::new(e))))?;
        let payload = std::str::from_utf8(&event.payload).map_err(|e| {
            WriteFailure::Rejected(AppendError::InvalidPayload {
                id: event.id,
                contract: event.contract.clone(),
                reason: format!("it is not UTF-8: {e}"),
            })
        })?;
        let inserted = insert.execute(params![
            position as i64,
            event.id.as_bytes().as_slice(),
            append.stream.as_str(),
            version as i64,
            event.contract,
            event.contract_version,
            event.fingerprint,
            payload,
            metadata,
        ]);
        if let Err(e) = inserted {
            // A later id of the batch is stored already.
            if let Some(stored) = stored_id(conn, event.id)? {
                return Err(WriteFailure::Rejected(AppendError::IdConflict {
                    id: stored.id,
                    stored_in: stored.stream,
                    version: stored.version,
                }));
            }
            return Err(WriteFailure::Sql(e));
        }
        position += 1;
    }
    Ok(AppendResult {
        stream_version: version,
        first_position: next_position,
        last_position: position - 1,
    })
}

/// Refuses an append some of whose ids (not the first) are stored with
/// [`AppendError::IdConflict`], as every backend does before it says
/// anything else about the append; only appends already refused come
/// here, so the happy path looks up one id.
fn stored_elsewhere(conn: &Connection, append: &Append) -> Result<(), WriteFailure> {
    let stored = append
        .events
        .iter()
        .map(|e| stored_id(conn, e.id))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    match rules::judge_retry(&append.stream, &stored) {
        Err(e) => Err(WriteFailure::Rejected(e)),
        // The first id is not stored, so this is no retry.
        Ok(_) => Ok(()),
    }
}

/// Records in the registry the writer schemas this append uses for the
/// first time, with the position of their first event and the schema the
/// event carries. A fingerprint new for a version stored with another one
/// is judged against every schema stored for the version, in `mode`
/// ([`admit_changed`]): recorded when compatible, refused with every
/// finding otherwise. Fingerprints already in use are only read, one
/// lookup each: the registry is not written on every append.
fn register_first_uses(
    conn: &Connection,
    events: &[NewEvent],
    first_position: u64,
    mode: Mode,
) -> Result<(), WriteFailure> {
    let mut find = conn.prepare_cached(
        "SELECT first_position IS NOT NULL FROM contracts WHERE name = ?1 AND version = ?2 AND fingerprint = ?3",
    )?;
    for ((contract, version, fingerprint), index) in rules::first_uses(events) {
        let found: Option<bool> = find
            .query_row(params![contract, version, fingerprint], |r| r.get(0))
            .optional()?;
        let position = (first_position + index as u64) as i64;
        match found {
            Some(true) => {}
            Some(false) => {
                conn.prepare_cached(
                    "UPDATE contracts SET first_position = ?4
                     WHERE name = ?1 AND version = ?2 AND fingerprint = ?3 AND first_position IS NULL",
                )?
                .execute(params![contract, version, fingerprint, position])?;
            }
            None => {
                // Earlier versions of this append's new fingerprints are
                // in the table already, so a second fingerprint of one
                // new version is judged against the first.
                let of_version = registry_rows(conn, Some((contract, version)))?;
                let event = &events[index];
                let schema = if of_version.is_empty() {
                    schema_to_record(event)
                        .map_err(WriteFailure::Rejected)?
                        .map(str::to_string)
                } else {
                    admit_changed(&of_version, event, mode)
                        .map_err(WriteFailure::Rejected)?
                        .schema
                };
                conn.prepare_cached(
                    "INSERT INTO contracts (name, version, fingerprint, schema, schema_format, first_position, first_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    contract,
                    version,
                    fingerprint,
                    schema,
                    SCHEMA_FORMAT,
                    position,
                    now_millis()
                ])?;
            }
        }
    }
    Ok(())
}

/// The registry's rows, every one or those of one contract version, in
/// the order [`EventStore::contracts`] gives them.
fn registry_rows(conn: &Connection, of: Option<(&str, u32)>) -> rusqlite::Result<Vec<StoredContract>> {
    let sql = |filter: &str| {
        format!(
            "SELECT name, version, fingerprint, schema, schema_format, first_position, first_seen
             FROM contracts {filter}
             ORDER BY name, version, first_position IS NULL, first_position, fingerprint"
        )
    };
    let row = |r: &rusqlite::Row<'_>| {
        Ok(StoredContract {
            name: r.get(0)?,
            version: r.get(1)?,
            fingerprint: r.get(2)?,
            schema: r.get(3)?,
            schema_format: r.get(4)?,
            first_position: r.get::<_, Option<i64>>(5)?.map(|p| p as u64),
            first_seen: r
                .get::<_, Option<i64>>(6)?
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
        })
    };
    match of {
        Some((name, version)) => conn
            .prepare_cached(&sql("WHERE name = ?1 AND version = ?2"))?
            .query_map(params![name, version], row)?
            .collect(),
        None => conn.prepare_cached(&sql(""))?.query_map([], row)?.collect(),
    }
}

/// The time now in milliseconds since the Unix epoch, as the registry
/// records when it first saw a schema.
pub(crate) fn now_millis() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn stored_id(conn: &Connection, id: Uuid) -> rusqlite::Result<Option<StoredId>> {
    conn.prepare_cached("SELECT stream, version, position FROM events WHERE id = ?1")?
        .query_row([id.as_bytes().as_slice()], |row| {
            let stream: String = row.get(0)?;
            let version: i64 = row.get(1)?;
            let position: i64 = row.get(2)?;
            Ok((stream, version, position))
        })
        .optional()
        .map(|found| {
            found.and_then(|(stream, version, position)| {
                Some(StoredId {
                    id,
                    stream: StreamName::new(stream).ok()?,
                    version: version as u64,
                    position: position as u64,
                })
            })
        })
}
