//! The event store in PostgreSQL, for many writers on many machines.
//!
//! Concurrency: a unique `(stream, version)` constraint makes the second of
//! two racing appends to one stream fail, which is reported as a wrong
//! expected version.
//!
//! Global order without gaps: a sequence would hand out positions at
//! insert time, and a slow transaction could commit position 7 after a
//! reader already saw 8 and moved on, skipping 7 for ever. Instead every
//! append takes its positions from a one-row `head` table with `UPDATE …
//! RETURNING` just before inserting. The row lock is held until
//! the transaction ends, so the next append gets its positions only after
//! this one has committed (or rolled back, giving the positions back).
//! Positions therefore become visible in order and without holes, and a
//! reader that has seen position `n` has seen everything before it. The
//! price is that commits of appends serialize on that row; each holds it
//! only for its insert and commit (and, the first time this process
//! appends a version, its registry row).

use std::collections::HashMap;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use crate::metrics;
use crate::storage::postgres::{self, Connected};
use crate::storage::{Component, OpenError, PostgresOptions};

use super::paging::{self, Page, RowKey, PAGE_SIZE};
use super::registry::{CompiledContract, StoredContract};
use super::rules::{self, StoredId, DEFAULT_MAX_EVENT_BYTES};
use super::{
    AppendError, AppendResult, Direction, EventLocation, EventStore, EventStream, ExpectedVersion, Metadata, NewEvent,
    ReadError, RecordedEvent, StreamName,
};

/// Settings of a [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// The schema holding the store's tables and the size of its pool,
    /// which the view store and the quarantine take too.
    pub connection: PostgresOptions,
    /// The largest payload accepted, in bytes.
    pub max_event_bytes: usize,
    /// How often subscriptions look for events appended by other
    /// processes. Appends made through this store wake them at once.
    pub poll_interval: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            connection: PostgresOptions::default(),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            poll_interval: Duration::from_millis(100),
        }
    }
}

/// An event store in PostgreSQL. Clones share the connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    tables: Tables,
    config: PostgresConfig,
    head: std::sync::Arc<watch::Sender<u64>>,
    in_use: std::sync::Arc<VersionsInUse>,
}

/// The contract versions this store has appended with their fingerprints,
/// so its appends can skip the registry.
///
/// A version is added once an append that registered it has committed.
/// Its registry row then exists with that fingerprint and a first
/// position, and neither ever changes again. An append whose versions are
/// all known has nothing to register and nothing to check, and the server
/// skips the registry: a registry statement on every append cost about a
/// sixth of the append rate (docs/benchmarks.md).
#[derive(Default)]
struct VersionsInUse(std::sync::RwLock<HashMap<String, Vec<(u32, String)>>>);

impl VersionsInUse {
    /// Whether every event's version is known with its fingerprint.
    fn cover(&self, events: &[NewEvent]) -> bool {
        let known = self.0.read().unwrap_or_else(|e| e.into_inner());
        let same = |a: &NewEvent, b: &NewEvent| {
            (a.contract_version, &a.fingerprint, &a.contract) == (b.contract_version, &b.fingerprint, &b.contract)
        };
        // The events of one append are mostly of one version: an event
        // of the same version as the event before it needs no lookup.
        events.iter().enumerate().all(|(i, e)| {
            (i > 0 && same(&events[i - 1], e))
                || known.get(&e.contract).is_some_and(|versions| {
                    versions
                        .iter()
                        .any(|(v, f)| *v == e.contract_version && *f == e.fingerprint)
                })
        })
    }

    /// Adds the versions of an append that registered them and committed.
    fn add(&self, events: &[NewEvent]) {
        let mut known = self.0.write().unwrap_or_else(|e| e.into_inner());
        for (contract, version, fingerprint) in rules::first_uses(events).into_keys() {
            let versions = known.entry(contract.to_string()).or_default();
            if !versions.iter().any(|(v, f)| *v == version && f == fingerprint) {
                versions.push((version, fingerprint.to_string()));
            }
        }
    }
}

/// The layout of the store's tables, numbered like the SQLite store's: 1
/// counted events per contract version in the registry, 2 keeps their
/// first positions, 3 keeps contract versions as `BIGINT`, so every `u32`
/// version is stored as itself (layout 2's `INTEGER` took only half of
/// them). PostgreSQL keeps no number; the columns tell the layouts apart.
const LAYOUT: i64 = 3;

/// The store's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["events", "head", "contracts"];

/// Table names, qualified with the configured schema.
#[derive(Clone)]
struct Tables {
    events: String,
    head: String,
    contracts: String,
    /// The call of the server-side append (`append_function`).
    append: String,
}

impl Tables {
    fn new(schema: &str) -> Tables {
        Tables {
            events: format!("{schema}.events"),
            head: format!("{schema}.head"),
            contracts: format!("{schema}.contracts"),
            append: format!(
                "SELECT status, stream_version, first_position, last_position
                 FROM {schema}.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
        }
    }
}

const COLUMNS: &str = "position, id, stream, version, contract, contract_version, fingerprint, payload, metadata";

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host/database`) with
    /// default settings and creates the tables if needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid or the server cannot be reached.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        PostgresStore::open_with(url, PostgresConfig::default()).await
    }

    /// Connects to `url` and creates the tables if needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the schema name is not a plain identifier,
    /// or the server cannot be reached.
    pub async fn open_with(url: &str, config: PostgresConfig) -> Result<Self, OpenError> {
        let Connected {
            pool,
            location,
            sql: tables,
        } = postgres::connect(
            url,
            &config.connection,
            Component::EventStore,
            Tables::new,
            |schema, tables| {
                format!(
                    "CREATE TABLE IF NOT EXISTS {events} (
                     position         BIGINT PRIMARY KEY,
                     id               UUID NOT NULL UNIQUE,
                     stream           TEXT NOT NULL,
                     version          BIGINT NOT NULL,
                     contract         TEXT NOT NULL,
                     contract_version BIGINT NOT NULL,
                     fingerprint      TEXT NOT NULL,
                     payload          TEXT NOT NULL,
                     metadata         TEXT NOT NULL,
                     UNIQUE (stream, version)
                 );
                 CREATE TABLE IF NOT EXISTS {head} (
                     singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
                     position  BIGINT NOT NULL
                 );
                 INSERT INTO {head} (singleton, position) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
                 CREATE TABLE IF NOT EXISTS {contracts} (
                     name           TEXT NOT NULL,
                     version        BIGINT NOT NULL,
                     fingerprint    TEXT NOT NULL,
                     schema         TEXT,
                     first_position BIGINT,
                     PRIMARY KEY (name, version)
                 );
                 {migration}
                 {widening}
                 {function}",
                    events = tables.events,
                    head = tables.head,
                    contracts = tables.contracts,
                    migration = registry_migration(tables, schema),
                    widening = version_migration(tables, schema),
                    function = append_function(tables, schema),
                )
            },
        )
        .await?;
        PostgresStore::start(pool, location, tables, config).await
    }

    /// Connects to the existing store in `config.connection.schema` at
    /// `url` without creating or changing anything: for tools that only
    /// read, such as `treaty store`, whose role may be allowed nothing more
    /// than `SELECT`. Appends still work when the role may write, since the
    /// tables and the append function exist.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use treaty_runtime::store::{EventStore, PostgresConfig, PostgresStore};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let url = "postgres://reader:secret@db.internal/orders";
    /// let store = PostgresStore::open_existing(url, PostgresConfig::default()).await?;
    /// println!("{} events", store.head().await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the schema lacks the store's tables,
    /// [`OpenError::OlderSchema`] when they have an older layout (open it
    /// once with [`PostgresStore::open`] to move them), and
    /// [`OpenError::Storage`] when the URL is invalid or the server cannot
    /// be reached.
    pub async fn open_existing(url: &str, config: PostgresConfig) -> Result<Self, OpenError> {
        let Connected {
            pool,
            location,
            sql: tables,
        } = postgres::connect_existing(url, &config.connection, Component::EventStore, TABLES, Tables::new).await?;
        let failed =
            |e: Box<dyn std::error::Error + Send + Sync>| OpenError::storage(Component::EventStore, &location, e);
        let client = pool.get().await.map_err(|e| failed(Box::new(e)))?;
        // The layout shows in the columns: layout 2 added
        // `contracts.first_position`, layout 3 widened
        // `events.contract_version` to `bigint`. The catalog, not
        // `information_schema`, which hides the columns of tables the role
        // has no rights on.
        let columns = client
            .query(
                "SELECT c.relname::TEXT, a.attname::TEXT, format_type(a.atttypid, a.atttypmod)
                 FROM pg_catalog.pg_attribute a
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname IN ('events', 'contracts')
                   AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped",
                &[&config.connection.schema],
            )
            .await
            .map_err(|e| failed(Box::new(e)))?;
        drop(client);
        let column = |table: &str, column: &str| {
            columns
                .iter()
                .find(|row| row.get::<_, &str>(0) == table && row.get::<_, &str>(1) == column)
                .map(|row| row.get::<_, String>(2))
        };
        let found = if column("contracts", "first_position").is_none() {
            1
        } else if column("events", "contract_version").as_deref() != Some("bigint") {
            2
        } else {
            LAYOUT
        };
        if found < LAYOUT {
            return Err(OpenError::OlderSchema {
                location,
                found,
                current: LAYOUT,
            });
        }
        PostgresStore::start(pool, location, tables, config).await
    }

    /// Reads the head and starts following other writers.
    async fn start(pool: Pool, location: String, tables: Tables, config: PostgresConfig) -> Result<Self, OpenError> {
        let failed =
            |e: Box<dyn std::error::Error + Send + Sync>| OpenError::storage(Component::EventStore, &location, e);
        let client = pool.get().await.map_err(|e| failed(Box::new(e)))?;
        let head: i64 = client
            .query_one(&format!("SELECT position FROM {}", tables.head), &[])
            .await
            .map_err(|e| failed(Box::new(e)))?
            .get(0);
        drop(client);
        let store = PostgresStore {
            pool,
            tables,
            config,
            head: std::sync::Arc::new(watch::channel(head as u64).0),
            in_use: std::sync::Arc::default(),
        };
        store.watch_other_writers();
        Ok(store)
    }

    /// Polls the head so subscriptions in this process see appends made
    /// by other processes. The task ends when every store handle is gone.
    fn watch_other_writers(&self) {
        let weak = std::sync::Arc::downgrade(&self.head);
        let pool = self.pool.clone();
        let sql = format!("SELECT position FROM {}", self.tables.head);
        let interval = self.config.poll_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(head) = weak.upgrade() else { return };
                if head.receiver_count() == 0 {
                    continue;
                }
                let Ok(client) = pool.get().await else { continue };
                if let Ok(row) = client.query_one(&sql, &[]).await {
                    let position = row.get::<_, i64>(0) as u64;
                    head.send_if_modified(|current| {
                        let moved = position > *current;
                        *current = (*current).max(position);
                        moved
                    });
                }
            }
        });
    }

    async fn page(&self, query: PageQuery) -> Result<PgPage, ReadError> {
        retrying(|| self.page_once(&query)).await
    }

    async fn page_once(&self, query: &PageQuery) -> Result<PgPage, ReadError> {
        let client = self.pool.get().await.map_err(read_error)?;
        let limit = PAGE_SIZE as i64;
        let events = &self.tables.events;
        let rows = match query {
            PageQuery::All { at } => {
                client
                    .query(
                        &format!("SELECT {COLUMNS} FROM {events} WHERE position >= $1 ORDER BY position LIMIT $2"),
                        &[&clamp(*at), &limit],
                    )
                    .await
            }
            PageQuery::Stream { stream, at, direction } => {
                let filter = match direction {
                    Direction::Forward => "version >= $2 ORDER BY version",
                    Direction::Backward => "version <= $2 ORDER BY version DESC",
                };
                client
                    .query(
                        &format!("SELECT {COLUMNS} FROM {events} WHERE stream = $1 AND {filter} LIMIT $3"),
                        &[&stream.as_str(), &clamp(*at), &limit],
                    )
                    .await
            }
        }
        .map_err(read_error)?;
        let last = match rows.last() {
            Some(row) => Some(row_key(row)?),
            None => None,
        };
        Ok(PgPage {
            rows: rows.iter().map(to_event).collect(),
            last,
        })
    }
}

impl PostgresStore {
    /// Where the append's ids are stored already, judged as a retry
    /// (`Some`: the original result), a conflict (an error), or new
    /// (`None`). Only appends that hit a stored id come here.
    async fn judge_stored(
        &self,
        stream: &StreamName,
        ids: &[crate::types::Uuid],
    ) -> Result<Option<AppendResult>, AppendError> {
        let client = self.pool.get().await.map_err(append_error)?;
        let lookup = client
            .prepare_cached(&format!(
                "SELECT id, stream, version, position FROM {} WHERE id = ANY($1)",
                self.tables.events
            ))
            .await
            .map_err(append_error)?;
        let rows = client.query(&lookup, &[&ids]).await.map_err(append_error)?;
        let stored: Vec<Option<StoredId>> = ids
            .iter()
            .map(|id| {
                rows.iter()
                    .find(|r| r.get::<_, crate::types::Uuid>(0) == *id)
                    .and_then(|r| {
                        Some(StoredId {
                            id: *id,
                            stream: StreamName::new(r.get::<_, String>(1)).ok()?,
                            version: r.get::<_, i64>(2) as u64,
                            position: r.get::<_, i64>(3) as u64,
                        })
                    })
            })
            .collect();
        rules::judge_retry(stream, &stored)
    }
}

/// The SQLSTATE the append function raises for a changed fingerprint; its
/// message is contract, version, stored and appended fingerprint, joined
/// by U+001F.
const FINGERPRINT_MISMATCH: &str = "TR001";

fn fingerprint_mismatch(error: &tokio_postgres::Error) -> Option<AppendError> {
    let message = error.as_db_error()?.message();
    let mut parts = message.split('\u{1f}');
    let contract = parts.next()?.to_string();
    let version = parts.next()?.parse().ok()?;
    let stored = parts.next()?.to_string();
    let appended = parts.next()?.to_string();
    Some(AppendError::FingerprintMismatch {
        contract,
        version,
        stored,
        appended,
    })
}

/// Moves a registry of the first layout, which counted the events of each
/// contract version on every append, to first positions, filled from the
/// events in one pass. Runs in the table-creation transaction; does
/// nothing once done.
fn registry_migration(tables: &Tables, schema: &str) -> String {
    format!(
        r#"DO $migrate$ BEGIN
                 IF EXISTS (SELECT 1 FROM information_schema.columns
                            WHERE table_schema = '{schema}' AND table_name = 'contracts'
                              AND column_name = 'events') THEN
                     ALTER TABLE {contracts} ADD COLUMN first_position BIGINT;
                     UPDATE {contracts} AS c SET first_position = used.position
                     FROM (SELECT contract, contract_version, min(position) AS position
                           FROM {events} GROUP BY contract, contract_version) AS used
                     WHERE used.contract = c.name AND used.contract_version = c.version;
                     ALTER TABLE {contracts} DROP COLUMN events;
                     DROP FUNCTION IF EXISTS {schema}.append(
                         TEXT, INTEGER, BIGINT, UUID[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[]);
                 END IF;
             END $migrate$;"#,
        events = tables.events,
        contracts = tables.contracts,
    )
}

/// Moves the tables of layout 2, which kept contract versions as
/// `INTEGER`, to `BIGINT`, so every `u32` version is stored as itself.
/// Layout 2 wrote a version above `i32::MAX` wrapped to a negative
/// number, which made the store unreadable from that event on; the move
/// gives such versions back their value. It rewrites the events table,
/// holding its lock meanwhile: expect it to take as long as copying the
/// table. The append function of layout 2, whose versions were
/// `INTEGER[]`, is dropped. Runs in the table-creation transaction; does
/// nothing once done.
fn version_migration(tables: &Tables, schema: &str) -> String {
    format!(
        r#"DO $widen$ BEGIN
                 IF EXISTS (SELECT 1 FROM information_schema.columns
                            WHERE table_schema = '{schema}' AND table_name = 'events'
                              AND column_name = 'contract_version' AND data_type = 'integer') THEN
                     ALTER TABLE {events} ALTER COLUMN contract_version TYPE BIGINT
                         USING (CASE WHEN contract_version < 0 THEN contract_version + 4294967296
                                     ELSE contract_version END);
                     DROP FUNCTION IF EXISTS {schema}.append(
                         TEXT, INTEGER, BIGINT, BOOLEAN, UUID[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[]);
                 END IF;
                 IF EXISTS (SELECT 1 FROM information_schema.columns
                            WHERE table_schema = '{schema}' AND table_name = 'contracts'
                              AND column_name = 'version' AND data_type = 'integer') THEN
                     ALTER TABLE {contracts} ALTER COLUMN version TYPE BIGINT
                         USING (CASE WHEN version < 0 THEN version + 4294967296 ELSE version END);
                 END IF;
             END $widen$;"#,
        events = tables.events,
        contracts = tables.contracts,
    )
}

/// The server-side append: the expected-version check (a stored id, the
/// sign of a retry, is caught by the unique index or, for a retry whose
/// expectation no longer holds, by the caller after a wrong version),
/// positions from the head row (locked until the statement's transaction
/// commits, which keeps positions gap-free and in commit order), the
/// registry when `p_register` (rows locked in byte order, like
/// `record_contracts`, after the head row: an append holding the head
/// never waits for another append, so appends cannot deadlock), and the
/// insert.
///
/// The function plans its statements once per connection (a generic
/// plan), unlike the connection's other statements. Each reads through a
/// unique index or reads no table, so one plan is right for every value
/// and table size; planning them again on every call cost about a sixth
/// of the append rate.
fn append_function(tables: &Tables, schema: &str) -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION {schema}.append(
                 p_stream TEXT, p_kind INTEGER, p_exact BIGINT, p_register BOOLEAN, p_ids UUID[],
                 p_contracts TEXT[], p_contract_versions BIGINT[], p_fingerprints TEXT[], p_payloads TEXT[],
                 p_metadata TEXT[])
             RETURNS TABLE (status TEXT, stream_version BIGINT, first_position BIGINT, last_position BIGINT)
             LANGUAGE plpgsql
             SET plan_cache_mode = force_generic_plan
             AS $treaty$
             #variable_conflict use_column
             DECLARE
                 v_n BIGINT := cardinality(p_ids);
                 v_cur BIGINT;
                 v_last BIGINT;
                 v_stored TEXT;
                 r RECORD;
             BEGIN
                 SELECT MAX(version) INTO v_cur FROM {events} WHERE stream = p_stream;
                 IF (p_kind = 1 AND v_cur IS NOT NULL) OR (p_kind = 2 AND v_cur IS NULL)
                    OR (p_kind = 3 AND COALESCE(v_cur, 0) <> p_exact) THEN
                     RETURN QUERY SELECT 'wrong_version'::TEXT, v_cur, NULL::BIGINT, NULL::BIGINT;
                     RETURN;
                 END IF;
                 UPDATE {head} SET position = position + v_n RETURNING position INTO v_last;
                 IF p_register THEN
                     FOR r IN
                         SELECT t.c, t.v, t.f, min(t.i) AS i
                         FROM unnest(p_contracts, p_contract_versions, p_fingerprints)
                              WITH ORDINALITY AS t(c, v, f, i)
                         GROUP BY t.c, t.v, t.f
                         ORDER BY t.c COLLATE "C", t.v, t.f COLLATE "C"
                     LOOP
                         INSERT INTO {contracts} AS x (name, version, fingerprint, first_position)
                         VALUES (r.c, r.v, r.f, v_last - v_n + r.i)
                         ON CONFLICT (name, version)
                             DO UPDATE SET first_position = COALESCE(x.first_position, EXCLUDED.first_position)
                         RETURNING x.fingerprint INTO v_stored;
                         IF v_stored <> r.f THEN
                             RAISE EXCEPTION USING ERRCODE = '{code}',
                                 MESSAGE = r.c || chr(31) || r.v || chr(31) || v_stored || chr(31) || r.f;
                         END IF;
                     END LOOP;
                 END IF;
                 INSERT INTO {events}
                     (position, id, stream, version, contract, contract_version, fingerprint, payload, metadata)
                 SELECT v_last - v_n + t.i, t.id, p_stream, COALESCE(v_cur, 0) + t.i, t.c, t.cv, t.f, t.p, t.m
                 FROM unnest(p_ids, p_contracts, p_contract_versions, p_fingerprints, p_payloads, p_metadata)
                      WITH ORDINALITY AS t(id, c, cv, f, p, m, i);
                 RETURN QUERY SELECT 'ok'::TEXT, COALESCE(v_cur, 0) + v_n, v_last - v_n + 1, v_last;
             END
             $treaty$;"#,
        events = tables.events,
        head = tables.head,
        contracts = tables.contracts,
        code = FINGERPRINT_MISMATCH,
    )
}

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

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A page of rows, each an event or why its row cannot be read, with
/// where the last row sits so a read goes on past a damaged one.
struct PgPage {
    rows: Vec<Result<RecordedEvent, ReadError>>,
    last: Option<RowKey>,
}

impl Page for PgPage {
    type Events = std::vec::IntoIter<Result<RecordedEvent, ReadError>>;

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn last(&self) -> Option<RowKey> {
        self.last
    }

    fn into_events(self) -> Self::Events {
        self.rows.into_iter()
    }
}

/// Where a row sits; every column read may fail on a damaged row, and
/// such a row is reported, not a reason to panic.
fn row_key(row: &Row) -> Result<RowKey, ReadError> {
    let position: i64 = row.try_get(0).map_err(read_error)?;
    let version = row.try_get::<_, i64>(3).ok().and_then(|v| u64::try_from(v).ok());
    Ok(RowKey {
        position: position as u64,
        version,
    })
}

fn to_event(row: &Row) -> Result<RecordedEvent, ReadError> {
    let position = row.try_get::<_, i64>(0).map_err(read_error)? as u64;
    let corrupt = |reason: String| ReadError::Corrupt { position, reason };
    let column = |name: &str, e: tokio_postgres::Error| corrupt(format!("{name}: {}", describe(&e)));
    let stream: String = row.try_get(2).map_err(|e| column("stream", e))?;
    let stream = StreamName::new(stream).map_err(|e| corrupt(e.to_string()))?;
    let version: i64 = row.try_get(3).map_err(|e| column("version", e))?;
    let contract_version: i64 = row.try_get(5).map_err(|e| column("contract version", e))?;
    let metadata: &str = row.try_get(8).map_err(|e| column("metadata", e))?;
    let metadata: Metadata = serde_json::from_str(metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    Ok(RecordedEvent {
        id: row.try_get(1).map_err(|e| column("event id", e))?,
        stream,
        version: u64::try_from(version).map_err(|_| corrupt(format!("negative version {version}")))?,
        position,
        contract: row.try_get(4).map_err(|e| column("contract", e))?,
        contract_version: u32::try_from(contract_version)
            .map_err(|_| corrupt(format!("contract version {contract_version} out of range")))?,
        fingerprint: row.try_get(6).map_err(|e| column("fingerprint", e))?,
        payload: row
            .try_get::<_, String>(7)
            .map_err(|e| column("payload", e))?
            .into_bytes(),
        metadata,
    })
}

/// A failure of the server as errors show it: its SQLSTATE and message,
/// where tokio-postgres says only "db error".
#[derive(Debug)]
struct ServerError {
    text: String,
    source: tokio_postgres::Error,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A tokio-postgres error, with the server's SQLSTATE and message when
/// the server raised it.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("PostgreSQL {} {}: {}", db.severity(), db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

/// A failure of PostgreSQL or of the pool, and whether it is transient
/// (by SQLSTATE for the server's errors; see `storage/transient.rs`).
fn failure<E: std::error::Error + Send + Sync + 'static>(e: E) -> (bool, Box<dyn std::error::Error + Send + Sync>) {
    let transient = crate::storage::transient::is_transient(&e);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    let boxed = match boxed.downcast::<tokio_postgres::Error>() {
        Ok(pg) => Box::new(ServerError {
            text: describe(&pg),
            source: *pg,
        }),
        Err(other) => other,
    };
    (transient, boxed)
}

fn append_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> AppendError {
    match failure(e) {
        (true, e) => AppendError::Unavailable(e),
        (false, e) => AppendError::Storage(e),
    }
}

fn read_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> ReadError {
    match failure(e) {
        (true, e) => ReadError::Unavailable(e),
        (false, e) => ReadError::Storage(e),
    }
}

/// How often an operation is tried when it fails transiently: a pooled
/// connection the server closed, a server restarting, a serialization
/// failure. An append is safe to try again because its event ids make it
/// idempotent: when an earlier attempt committed, the next finds its
/// events and answers with its result.
const ATTEMPTS: u32 = 4;

/// The pause before the `n`th attempt (from 2): long enough for the pool
/// to see that the connections of a restarted server are gone.
fn pause(attempt: u32) -> Duration {
    Duration::from_millis(5 * 5u64.pow(attempt.saturating_sub(2)))
}

/// Errors whose kind says whether another attempt can succeed.
trait Retryable {
    fn retryable(&self) -> bool;
}

impl Retryable for AppendError {
    fn retryable(&self) -> bool {
        self.is_retryable()
    }
}

impl Retryable for ReadError {
    fn retryable(&self) -> bool {
        self.is_retryable()
    }
}

/// Runs `attempt` until it succeeds, fails for good, or [`ATTEMPTS`] are
/// used up.
async fn retrying<T, E: Retryable, F: std::future::Future<Output = Result<T, E>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, E> {
    let mut made = 1;
    loop {
        match attempt().await {
            Err(e) if e.retryable() && made < ATTEMPTS => {
                made += 1;
                tokio::time::sleep(pause(made)).await;
            }
            done => return done,
        }
    }
}

/// The arrays of one append's call, made once for all its attempts.
struct Call<'a> {
    kind: i32,
    exact: i64,
    ids: Vec<crate::types::Uuid>,
    contracts: Vec<&'a str>,
    contract_versions: Vec<i64>,
    fingerprints: Vec<&'a str>,
    payloads: Vec<&'a str>,
    metadata: Vec<String>,
}

impl<'a> Call<'a> {
    fn new(expected: ExpectedVersion, events: &'a [NewEvent]) -> Result<Call<'a>, AppendError> {
        let (kind, exact): (i32, i64) = match expected {
            ExpectedVersion::Any => (0, 0),
            ExpectedVersion::NoStream => (1, 0),
            ExpectedVersion::StreamExists => (2, 0),
            ExpectedVersion::Exact(n) => (3, i64::try_from(n).unwrap_or(i64::MAX)),
        };
        // Validation checked that payloads are UTF-8 and metadata
        // serializes; should either still fail, the append fails, never
        // the caller's task.
        let payloads = events
            .iter()
            .map(|e| {
                std::str::from_utf8(&e.payload).map_err(|error| AppendError::InvalidPayload {
                    id: e.id,
                    contract: e.contract.clone(),
                    reason: format!("it is not UTF-8: {error}"),
                })
            })
            .collect::<Result<_, _>>()?;
        let metadata = events
            .iter()
            .map(|e| serde_json::to_string(&e.metadata).map_err(|error| AppendError::Storage(Box::new(error))))
            .collect::<Result<_, _>>()?;
        Ok(Call {
            kind,
            exact,
            ids: events.iter().map(|e| e.id).collect(),
            contracts: events.iter().map(|e| e.contract.as_str()).collect(),
            contract_versions: events.iter().map(|e| i64::from(e.contract_version)).collect(),
            fingerprints: events.iter().map(|e| e.fingerprint.as_str()).collect(),
            payloads,
            metadata,
        })
    }
}

impl PostgresStore {
    /// [`EventStore::append`] without its metrics.
    async fn append_untimed(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        rules::validate_append(stream, &events, self.config.max_event_bytes)?;
        let call = Call::new(expected, &events)?;
        // A transient failure (a pooled connection the server closed, a
        // serialization failure) is tried again here, so callers do not
        // each have to: the same event ids make it safe.
        retrying(|| self.append_once(stream, expected, &events, &call)).await
    }

    /// One attempt at an append.
    async fn append_once(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: &[NewEvent],
        call: &Call<'_>,
    ) -> Result<AppendResult, AppendError> {
        let client = self.pool.get().await.map_err(append_error)?;
        // One prepared call does the whole append inside the server, in the
        // statement's own transaction: one round trip instead of seven.
        let prepared = client.prepare_cached(&self.tables.append).await.map_err(append_error)?;
        let register = !self.in_use.cover(events);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
            &stream.as_str(),
            &call.kind,
            &call.exact,
            &register,
            &call.ids,
            &call.contracts,
            &call.contract_versions,
            &call.fingerprints,
            &call.payloads,
            &call.metadata,
        ];
        let row = match client.query_one(&prepared, &params).await {
            Ok(row) => row,
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                // Another writer got in between the version check and the
                // insert, or an id other than the first is stored already
                // (an earlier attempt of this append may have committed).
                drop(client);
                if let Some(result) = self.judge_stored(stream, &call.ids).await? {
                    return Ok(self.moved(result));
                }
                let actual = self.stream_version(stream).await.ok().flatten();
                return Err(AppendError::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual,
                });
            }
            Err(e) if e.code().map(SqlState::code) == Some(FINGERPRINT_MISMATCH) => {
                // Stored ids are told apart first, as every backend does.
                drop(client);
                if let Some(result) = self.judge_stored(stream, &call.ids).await? {
                    return Ok(self.moved(result));
                }
                return Err(fingerprint_mismatch(&e).unwrap_or_else(|| append_error(e)));
            }
            Err(e) => return Err(append_error(e)),
        };
        let status: &str = row.try_get(0).map_err(append_error)?;
        let stream_version: Option<i64> = row.try_get(1).map_err(append_error)?;
        match status {
            "ok" => {
                if register {
                    self.in_use.add(events);
                }
                let first: i64 = row.try_get(2).map_err(append_error)?;
                let last: i64 = row.try_get(3).map_err(append_error)?;
                Ok(self.moved(AppendResult {
                    stream_version: stream_version.unwrap_or(0) as u64,
                    first_position: first as u64,
                    last_position: last as u64,
                }))
            }
            _ => {
                // A retry of an append that went through carries an
                // expectation that no longer holds; it is told apart here,
                // off the happy path, instead of looking up every append's
                // ids first.
                drop(client);
                match self.judge_stored(stream, &call.ids).await? {
                    Some(original) => Ok(self.moved(original)),
                    None => Err(AppendError::WrongExpectedVersion {
                        stream: stream.clone(),
                        expected,
                        actual: stream_version.map(|v| v as u64),
                    }),
                }
            }
        }
    }

    /// Wakes this process's subscriptions when `result` moved the head.
    fn moved(&self, result: AppendResult) -> AppendResult {
        self.head.send_if_modified(|current| {
            let moved = result.last_position > *current;
            *current = (*current).max(result.last_position);
            moved
        });
        result
    }
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        let timed = metrics::Append::start(metrics::Backend::Postgres, events.len());
        timed.finish(self.append_untimed(stream, expected, events).await)
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<Option<u64>, ReadError> {
        let sql = format!("SELECT MAX(version) FROM {} WHERE stream = $1", self.tables.events);
        retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            let row = client.query_one(&sql, &[&stream.as_str()]).await.map_err(read_error)?;
            let max: Option<i64> = row.try_get(0).map_err(read_error)?;
            Ok(max.map(|v| v as u64))
        })
        .await
    }

    async fn locate(&self, id: crate::types::Uuid) -> Result<Option<EventLocation>, ReadError> {
        let sql = format!(
            "SELECT stream, version, position FROM {} WHERE id = $1",
            self.tables.events
        );
        let row = retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            client.query_opt(&sql, &[&id]).await.map_err(read_error)
        })
        .await?;
        row.map(|row| {
            let position = row.try_get::<_, i64>(2).map_err(read_error)? as u64;
            let corrupt = |reason: String| ReadError::Corrupt { position, reason };
            let stream: String = row
                .try_get(0)
                .map_err(|e| corrupt(format!("stream: {}", describe(&e))))?;
            let stream = StreamName::new(stream).map_err(|e| corrupt(e.to_string()))?;
            let version: i64 = row
                .try_get(1)
                .map_err(|e| corrupt(format!("version: {}", describe(&e))))?;
            Ok(EventLocation {
                stream,
                version: u64::try_from(version).map_err(|_| corrupt(format!("negative version {version}")))?,
                position,
            })
        })
        .transpose()
    }

    async fn head(&self) -> Result<u64, ReadError> {
        let sql = format!("SELECT position FROM {}", self.tables.head);
        retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            let row = client.query_one(&sql, &[]).await.map_err(read_error)?;
            let head: i64 = row.try_get(0).map_err(read_error)?;
            Ok(head as u64)
        })
        .await
    }

    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream {
        let store = self.clone();
        let stream = stream.clone();
        let fetch = move |at: u64| {
            let store = store.clone();
            let stream = stream.clone();
            async move { store.page(PageQuery::Stream { stream, at, direction }).await }
        };
        paging::stream_pages(from, direction, fetch)
    }

    fn read_all(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::paged(
            from.max(1),
            move |at| {
                let store = store.clone();
                async move { store.page(PageQuery::All { at }).await }
            },
            paging::after_position,
        )
    }

    async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        let sql = format!(
            "SELECT name, version, fingerprint, schema, first_position FROM {} ORDER BY name, version",
            self.tables.contracts
        );
        let rows = retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            client.query(&sql, &[]).await.map_err(read_error)
        })
        .await?;
        rows.iter()
            .map(|r| {
                let version: i64 = r.try_get(1).map_err(read_error)?;
                let first_position: Option<i64> = r.try_get(4).map_err(read_error)?;
                Ok(StoredContract {
                    name: r.try_get(0).map_err(read_error)?,
                    version: u32::try_from(version).map_err(|_| {
                        ReadError::Storage(
                            format!("the registry holds contract version {version}, out of range").into(),
                        )
                    })?,
                    fingerprint: r.try_get(2).map_err(read_error)?,
                    schema: r.try_get(3).map_err(read_error)?,
                    first_position: first_position.map(|p| p as u64),
                })
            })
            .collect()
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        super::validate::registry(&contracts)?;
        // One statement, so the registry rows are locked only while it
        // runs: an append registering a version waits for them while it
        // holds the head row, and with it every other append. The rows are
        // taken in byte order, as appends take them, and a version given
        // twice is given once.
        let mut sorted = contracts;
        sorted.sort();
        sorted.dedup_by(|a, b| (&a.name, a.version) == (&b.name, b.version));
        let names: Vec<&str> = sorted.iter().map(|c| c.name.as_str()).collect();
        let versions: Vec<i64> = sorted.iter().map(|c| i64::from(c.version)).collect();
        let fingerprints: Vec<&str> = sorted.iter().map(|c| c.fingerprint.as_str()).collect();
        let schemas: Vec<Option<&str>> = sorted.iter().map(|c| c.schema.as_deref()).collect();
        let sql = format!(
            "INSERT INTO {0} AS c (name, version, fingerprint, schema)
             SELECT t.name, t.version, t.fingerprint, t.schema
             FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[]) AS t(name, version, fingerprint, schema)
             ORDER BY t.name COLLATE \"C\", t.version
             ON CONFLICT (name, version) DO UPDATE SET schema = COALESCE(c.schema, EXCLUDED.schema)
             WHERE c.fingerprint = EXCLUDED.fingerprint",
            self.tables.contracts
        );
        // The upsert changes nothing when repeated, so it is retried like
        // an append.
        retrying(|| async {
            let client = self.pool.get().await.map_err(append_error)?;
            client
                .execute(&sql, &[&names, &versions, &fingerprints, &schemas])
                .await
                .map_err(append_error)
        })
        .await?;
        Ok(())
    }

    fn subscribe(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::subscription(
            from,
            move |at| {
                let store = store.clone();
                async move { store.page(PageQuery::All { at }).await }
            },
            self.head.subscribe(),
            None,
        )
    }
}
