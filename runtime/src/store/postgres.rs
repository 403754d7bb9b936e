//! The event store in PostgreSQL, for many writers on many machines.
//!
//! Concurrency: a unique `(stream, version)` constraint makes the second of
//! two racing appends to one stream fail, which is reported as a wrong
//! expected version.
//!
//! Global order without skipped events, and without a lock held through
//! commit. A sequence alone hands out positions at insert time, and a slow
//! transaction could commit position 7 after a reader already saw 8 and
//! moved on, skipping 7 for ever. So every append, before it takes its
//! positions (`nextval` of the `positions` sequence), reads the
//! sequence's last value `L` and takes a shared transaction-level advisory
//! lock keyed by it, held until the append ends: its positions are above
//! `L`, and the lock says so to readers in `pg_locks`. A reader first
//! computes a bound (`readable_bound()`): the sequence's last value, or
//! the lowest `L` of an open append if lower. Every position at or below
//! the bound was handed out to an append that has ended, and each append
//! starting later takes positions above it; so the rows at or below the
//! bound, read in a later statement (a later snapshot), are every row that
//! will ever be committed there.
//!
//! Appends then commit in parallel (each its own fsync, which PostgreSQL
//! groups), and a reader waits only for appends that took positions
//! below what it returns. Positions are unique and increase in the agreed
//! order, but an append that fails after taking positions (an id stored
//! already, a rollback) leaves them unused, and the positions of one
//! append may interleave with another's: positions may have holes, which
//! readers step over. Appends to one stream take turns (a transaction
//! advisory lock on the stream), so a lost race is decided before any
//! position is taken and leaves none.
//!
//! Concurrent appends of one process to different streams are written
//! together, one call and one transaction per group (`group`).

mod group;

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
use super::registry::{admit_first_uses, CompiledContract, Mode, StoredContract, SCHEMA_FORMAT};
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
    /// The mode in which `register_contracts` compares a build's schemas
    /// with the stored ones (see [`EventStore::compatibility`]).
    pub compatibility: Mode,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            connection: PostgresOptions::default(),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            poll_interval: Duration::from_millis(100),
            compatibility: Mode::Backward,
        }
    }
}

/// An event store in PostgreSQL. Clones share the connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// Shared: reads clone the store for every page.
    tables: std::sync::Arc<Tables>,
    config: PostgresConfig,
    head: std::sync::Arc<watch::Sender<u64>>,
    in_use: std::sync::Arc<VersionsInUse>,
    /// Group commit of concurrent appends (`group`); `None` when the
    /// store's schema was made by a build without the group function and
    /// opened without changing it.
    grouper: Option<group::Grouper>,
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
/// them), 4 takes positions from the sequence `positions` instead of a
/// `head` row locked through every commit, 5 is a schema registry (every
/// fingerprint of a version, with its schema's format and when it was
/// first seen). PostgreSQL keeps no number; the columns and the sequence
/// tell the layouts apart.
const LAYOUT: i64 = 5;

/// The store's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["events", "contracts"];

/// Table names, qualified with the configured schema.
#[derive(Clone)]
struct Tables {
    events: String,
    contracts: String,
    /// The call of the server-side append (`append_function`).
    append: String,
    /// The call of the server-side append of a group
    /// (`group::group_function`).
    append_group: String,
    /// The bound up to which rows may be read (`bound_function`), asked
    /// in a statement of its own before the rows are read.
    bound: String,
    /// The upsert of registry rows (`record_contracts`): `$1` to `$4` the
    /// rows' names, versions, fingerprints and schemas, in byte order,
    /// `$5` the schema format.
    record: String,
    /// The first half of the two-`integer` key of the shared advisory lock
    /// an open append holds (`bound_function`), from the schema.
    append_key: i32,
}

impl Tables {
    fn new(schema: &str) -> Tables {
        Tables {
            events: format!("{schema}.events"),
            contracts: format!("{schema}.contracts"),
            append: format!(
                "SELECT status, stream_version, first_position, last_position
                 FROM {schema}.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            append_group: format!(
                "SELECT status, stream_version, first_position, last_position
                 FROM {schema}.append_group($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            bound: format!("SELECT {schema}.readable_bound()"),
            record: format!(
                "INSERT INTO {schema}.contracts AS c (name, version, fingerprint, schema, schema_format, first_seen)
                 SELECT t.name, t.version, t.fingerprint, t.schema, $5,
                        (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
                 FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[]) AS t(name, version, fingerprint, schema)
                 ORDER BY t.name COLLATE \"C\", t.version, t.fingerprint COLLATE \"C\"
                 ON CONFLICT (name, version, fingerprint) DO UPDATE
                 SET schema = EXCLUDED.schema, schema_format = EXCLUDED.schema_format
                 WHERE c.schema IS NULL AND EXCLUDED.schema IS NOT NULL"
            ),
            append_key: append_key(schema),
        }
    }

    /// The first half of the key of the lock an append holds on its
    /// stream (`append_function`).
    fn stream_key(&self) -> i32 {
        self.append_key ^ 0x4000_0000
    }

    /// The first half of the key of the lock an append registering a
    /// fingerprint holds on its contract version (`append_function`).
    fn registry_key(&self) -> i32 {
        self.append_key ^ 0x2000_0000
    }

    /// The registry's rows in the order [`EventStore::contracts`] gives
    /// them: every one, or, when `of_one_version`, those of contract `$1`
    /// version `$2`.
    fn registry_sql(&self, of_one_version: bool) -> String {
        let filter = if of_one_version {
            "WHERE name = $1 AND version = $2"
        } else {
            ""
        };
        format!(
            "SELECT name, version, fingerprint, schema, schema_format, first_position, first_seen FROM {} {filter}
             ORDER BY name, version, first_position NULLS LAST, fingerprint COLLATE \"C\"",
            self.contracts
        )
    }

    /// The highest position at or below `$1`, 0 when there is none.
    fn head_sql(&self) -> String {
        format!(
            "SELECT COALESCE(MAX(position), 0) FROM {} WHERE position <= $1",
            self.events
        )
    }
}

/// The first half of the key of the shared advisory lock an open append
/// holds, derived from the schema so that stores in different schemas
/// never hold each other's readers back; the second half is the low 32
/// bits of the sequence value the append saw. Positive, so
/// `pg_locks.classid` shows it as itself.
fn append_key(schema: &str) -> i32 {
    // FNV-1a: stable across builds and processes, which must agree.
    let hash = format!("treaty.events.{schema}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    ((hash >> 33) & 0x7fff_ffff) as i32
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
                 CREATE TABLE IF NOT EXISTS {contracts} (
                     name           TEXT NOT NULL,
                     version        BIGINT NOT NULL,
                     fingerprint    TEXT NOT NULL,
                     schema         TEXT,
                     schema_format  INTEGER NOT NULL DEFAULT 1,
                     first_position BIGINT,
                     first_seen     BIGINT,
                     PRIMARY KEY (name, version, fingerprint)
                 );
                 {migration}
                 {widening}
                 {sequence}
                 {schemas}
                 CREATE SEQUENCE IF NOT EXISTS {schema}.positions AS BIGINT MINVALUE 1 CACHE 1;
                 {function}
                 {group}
                 {bound}",
                    events = tables.events,
                    contracts = tables.contracts,
                    migration = registry_migration(tables, schema),
                    widening = version_migration(tables, schema),
                    sequence = sequence_migration(tables, schema),
                    schemas = schema_registry_migration(tables, schema),
                    function = append_function(tables, schema),
                    group = group::group_function(tables, schema),
                    bound = bound_function(tables, schema),
                )
            },
        )
        .await?;
        PostgresStore::start(pool, location, tables, config, true).await
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
        // `events.contract_version` to `bigint`; layout 4 replaced the
        // `head` table by the `positions` sequence; layout 5 added
        // `contracts.first_seen` with the schema registry. The catalog, not
        // `information_schema`, which hides the columns of tables the role
        // has no rights on.
        let columns = client
            .query(
                "SELECT c.relname::TEXT, a.attname::TEXT, format_type(a.atttypid, a.atttypmod)
                 FROM pg_catalog.pg_attribute a
                 JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname IN ('events', 'contracts')
                   AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
                 UNION ALL
                 SELECT c.relname::TEXT, '', ''
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = $1 AND c.relname = 'positions' AND c.relkind = 'S'
                 UNION ALL
                 SELECT 'append_group', '', ''
                 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = $1 AND p.proname = 'append_group'",
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
        } else if column("positions", "").is_none() {
            3
        } else if column("contracts", "first_seen").is_none() {
            4
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
        // A store made by a build without group commit has no group
        // function, and this handle may not create it: its appends go one
        // at a time, as that build's did.
        let grouping = column("append_group", "").is_some();
        PostgresStore::start(pool, location, tables, config, grouping).await
    }

    /// Reads the head and starts following other writers.
    async fn start(
        pool: Pool,
        location: String,
        tables: Tables,
        config: PostgresConfig,
        grouping: bool,
    ) -> Result<Self, OpenError> {
        let failed =
            |e: Box<dyn std::error::Error + Send + Sync>| OpenError::storage(Component::EventStore, &location, e);
        let client = pool.get().await.map_err(|e| failed(Box::new(e)))?;
        let head = readable_head(&client, &tables).await.map_err(|e| failed(Box::new(e)))?;
        drop(client);
        let tables = std::sync::Arc::new(tables);
        let grouper = grouping.then(|| group::Grouper::start(pool.clone(), tables.clone()));
        let store = PostgresStore {
            pool,
            tables,
            config,
            head: std::sync::Arc::new(watch::channel(head).0),
            in_use: std::sync::Arc::default(),
            grouper,
        };
        store.watch_other_writers();
        Ok(store)
    }

    /// Polls the readable head so subscriptions in this process see
    /// appends made by other processes. The task ends when every store
    /// handle is gone.
    fn watch_other_writers(&self) {
        let weak = std::sync::Arc::downgrade(&self.head);
        let pool = self.pool.clone();
        let tables = self.tables.clone();
        let interval = self.config.poll_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(head) = weak.upgrade() else { return };
                if head.receiver_count() == 0 {
                    continue;
                }
                let Ok(client) = pool.get().await else { continue };
                if let Ok(position) = readable_head(&client, &tables).await {
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

    /// The events of `stream` from `from` on, page by page; their
    /// metadata's headers left out unless `headers`.
    fn stream_pages(&self, stream: &StreamName, from: u64, direction: Direction, headers: bool) -> EventStream {
        let store = self.clone();
        let stream = stream.clone();
        let fetch = move |at: u64| {
            let store = store.clone();
            let stream = stream.clone();
            async move {
                store
                    .page(PageQuery::Stream {
                        stream,
                        at,
                        direction,
                        headers,
                    })
                    .await
            }
        };
        paging::stream_pages(from, direction, fetch)
    }

    async fn page_once(&self, query: &PageQuery) -> Result<PgPage, ReadError> {
        let client = self.pool.get().await.map_err(read_error)?;
        let limit = PAGE_SIZE as i64;
        let events = &self.tables.events;
        let rows = match query {
            PageQuery::All { at } => {
                // Only up to the bound, and in a later statement: the rows
                // there are then every row that will ever be committed at
                // those positions.
                let bound = readable_bound(&client, &self.tables).await.map_err(read_error)?;
                client
                    .query(
                        &format!(
                            "SELECT {COLUMNS} FROM {events}
                             WHERE position >= $1 AND position <= $2 ORDER BY position LIMIT $3"
                        ),
                        &[&clamp(*at), &bound, &limit],
                    )
                    .await
            }
            PageQuery::Stream {
                stream, at, direction, ..
            } => {
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
        let headers = match query {
            PageQuery::All { .. } => true,
            PageQuery::Stream { headers, .. } => *headers,
        };
        Ok(PgPage {
            rows: rows.iter().map(|row| to_event(row, headers)).collect(),
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

/// A registry row as the registry's `SELECT` lists its columns.
fn stored_contract(r: &tokio_postgres::Row) -> Result<StoredContract, ReadError> {
    let version: i64 = r.try_get(1).map_err(read_error)?;
    let format: i32 = r.try_get(4).map_err(read_error)?;
    let first_position: Option<i64> = r.try_get(5).map_err(read_error)?;
    let first_seen: Option<i64> = r.try_get(6).map_err(read_error)?;
    Ok(StoredContract {
        name: r.try_get(0).map_err(read_error)?,
        version: u32::try_from(version).map_err(|_| {
            ReadError::Storage(format!("the registry holds contract version {version}, out of range").into())
        })?,
        fingerprint: r.try_get(2).map_err(read_error)?,
        schema: r.try_get(3).map_err(read_error)?,
        // A negative format is no format this Treaty wrote: shown as the
        // newest, so it is not compared.
        schema_format: u32::try_from(format).unwrap_or(u32::MAX),
        first_position: first_position.map(|p| p as u64),
        first_seen: first_seen.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
    })
}

/// The schemas the events of an append carry for their versions, each
/// checked to hash to its fingerprint, to record once the append has
/// made their registry rows.
fn first_schemas(events: &[NewEvent]) -> Result<Vec<CompiledContract>, AppendError> {
    let mut rows = Vec::new();
    for &index in rules::first_uses(events).values() {
        let event = &events[index];
        if let Some(schema) = super::registry::schema_to_record(event)? {
            rows.push(CompiledContract {
                name: event.contract.clone(),
                version: event.contract_version,
                fingerprint: event.fingerprint.clone(),
                schema: Some(schema.to_string()),
            });
        }
    }
    Ok(rows)
}

/// A registry that cannot be read while judging an append: the append
/// fails as the read did, retryable when it was.
fn unreadable(e: ReadError) -> AppendError {
    match e {
        ReadError::Unavailable(e) => AppendError::Unavailable(e),
        other => AppendError::Storage(Box::new(other)),
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

/// Moves the tables of layout 3, which took positions from a one-row
/// `head` table locked until each append committed, to the `positions`
/// sequence: it continues after the head, and the head table is dropped.
/// Runs in the table-creation transaction; does nothing once done.
fn sequence_migration(tables: &Tables, schema: &str) -> String {
    format!(
        r#"DO $positions$ BEGIN
                 IF to_regclass('{schema}.head') IS NOT NULL THEN
                     CREATE SEQUENCE IF NOT EXISTS {schema}.positions AS BIGINT MINVALUE 1 CACHE 1;
                     PERFORM setval('{schema}.positions', GREATEST(last, 1), last > 0)
                     FROM (SELECT GREATEST(
                               (SELECT COALESCE(MAX(position), 0) FROM {events}),
                               (SELECT COALESCE(MAX(position), 0) FROM {schema}.head)) AS last) AS h;
                     DROP TABLE {schema}.head;
                 END IF;
             END $positions$;"#,
        events = tables.events,
    )
}

/// Moves the registry of layout 4, one fingerprint per contract version,
/// to the schema registry of layout 5: every fingerprint of a version, its
/// schema's format and when it was first seen (`NULL`, unknown, for the
/// rows moved). Every row is kept. Runs in the table-creation transaction;
/// does nothing once done.
fn schema_registry_migration(tables: &Tables, schema: &str) -> String {
    format!(
        r#"DO $schemas$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                                WHERE table_schema = '{schema}' AND table_name = 'contracts'
                                  AND column_name = 'first_seen') THEN
                     ALTER TABLE {contracts} ADD COLUMN schema_format INTEGER NOT NULL DEFAULT 1,
                                             ADD COLUMN first_seen BIGINT;
                     EXECUTE format('ALTER TABLE {contracts} DROP CONSTRAINT %I',
                         (SELECT conname FROM pg_catalog.pg_constraint
                          WHERE conrelid = '{contracts}'::regclass AND contype = 'p'));
                     ALTER TABLE {contracts} ADD PRIMARY KEY (name, version, fingerprint);
                 END IF;
             END $schemas$;"#,
        contracts = tables.contracts,
    )
}

/// The server-side append: the expected-version check (a stored id, the
/// sign of a retry, is caught by the unique index or, for a retry whose
/// expectation no longer holds, by the caller after a wrong version), the
/// registry when `p_register` (fingerprints in byte order, like
/// `record_contracts`, checked before any position is taken, so a refused
/// fingerprint leaves no hole: one new for a version stored with another
/// is refused, since only `register_contracts` records such a one after
/// checking it), the positions, the first positions of the fingerprints
/// it registered, and the insert. An append registering a fingerprint not
/// in use yet holds a transaction-level advisory lock on its version, so
/// every other append registering it waits, and its first position is the
/// lowest position of an event using it.
///
/// First it takes a transaction-level advisory lock on its stream (by the
/// stream name's hash; a collision only makes two streams take turns):
/// appends to one stream would conflict anyway, and waiting for the one
/// ahead lets the version check, not the unique index after the positions
/// are taken, decide the race, so lost races leave no hole. It is the
/// only lock an append waits for before holding registry rows, so appends
/// cannot deadlock.
///
/// Before taking its positions the append reads the sequence's last value
/// and takes a shared transaction-level advisory lock keyed by it (its low
/// 32 bits; `bound_function` restores the rest), held until the append
/// ends: readers then know that its positions lie above that value. The
/// lock is shared, so appends never wait for each other on it; several
/// positions are taken one `nextval` at a time, so they increase but may
/// interleave with another append's.
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
                 v_seen BIGINT;
                 v_positions BIGINT[];
                 v_stored TEXT;
                 v_used BOOLEAN;
                 r RECORD;
             BEGIN
                 -- Appends to one stream take turns from here to their
                 -- commit, so a race is lost at the version check, before
                 -- any position is taken, instead of at the insert.
                 PERFORM pg_advisory_xact_lock({stream_key}, hashtext(p_stream));
                 SELECT MAX(version) INTO v_cur FROM {events} WHERE stream = p_stream;
                 IF (p_kind = 1 AND v_cur IS NOT NULL) OR (p_kind = 2 AND v_cur IS NULL)
                    OR (p_kind = 3 AND COALESCE(v_cur, 0) <> p_exact) THEN
                     RETURN QUERY SELECT 'wrong_version'::TEXT, v_cur, NULL::BIGINT, NULL::BIGINT;
                     RETURN;
                 END IF;
                 IF p_register THEN
                     FOR r IN
                         SELECT t.c, t.v, t.f
                         FROM unnest(p_contracts, p_contract_versions, p_fingerprints) AS t(c, v, f)
                         GROUP BY t.c, t.v, t.f
                         ORDER BY t.c COLLATE "C", t.v, t.f COLLATE "C"
                     LOOP
                         -- A fingerprint in use is final: read, not locked,
                         -- so an open append never holds up another's check.
                         SELECT x.first_position IS NOT NULL INTO v_used FROM {contracts} AS x
                         WHERE x.name = r.c AND x.version = r.v AND x.fingerprint = r.f;
                         IF NOT FOUND OR NOT v_used THEN
                             PERFORM pg_advisory_xact_lock({registry_key}, hashtext(r.c || chr(31) || r.v::TEXT));
                             IF NOT EXISTS (SELECT 1 FROM {contracts} AS x
                                            WHERE x.name = r.c AND x.version = r.v AND x.fingerprint = r.f) THEN
                                 SELECT x.fingerprint INTO v_stored FROM {contracts} AS x
                                 WHERE x.name = r.c AND x.version = r.v
                                 ORDER BY x.first_position NULLS LAST, x.fingerprint COLLATE "C" LIMIT 1;
                                 IF FOUND THEN
                                     RAISE EXCEPTION USING ERRCODE = '{code}',
                                         MESSAGE = r.c || chr(31) || r.v || chr(31) || v_stored || chr(31) || r.f;
                                 END IF;
                                 INSERT INTO {contracts} (name, version, fingerprint, first_seen)
                                 VALUES (r.c, r.v, r.f, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
                                 ON CONFLICT DO NOTHING;
                             END IF;
                         END IF;
                     END LOOP;
                 END IF;
                 v_seen := COALESCE(pg_sequence_last_value('{schema}.positions'), 0) % 4294967296;
                 PERFORM pg_advisory_xact_lock_shared({key},
                     (CASE WHEN v_seen >= 2147483648 THEN v_seen - 4294967296 ELSE v_seen END)::INTEGER);
                 IF v_n = 1 THEN
                     v_positions := ARRAY[nextval('{schema}.positions')];
                 ELSE
                     v_positions := ARRAY(SELECT nextval('{schema}.positions') FROM generate_series(1, v_n) ORDER BY 1);
                 END IF;
                 IF p_register THEN
                     UPDATE {contracts} AS x SET first_position = v_positions[u.i]
                     FROM (SELECT t.c, t.v, t.f, min(t.i) AS i
                           FROM unnest(p_contracts, p_contract_versions, p_fingerprints) WITH ORDINALITY AS t(c, v, f, i)
                           GROUP BY t.c, t.v, t.f) AS u
                     WHERE x.name = u.c AND x.version = u.v AND x.fingerprint = u.f AND x.first_position IS NULL;
                 END IF;
                 INSERT INTO {events}
                     (position, id, stream, version, contract, contract_version, fingerprint, payload, metadata)
                 SELECT v_positions[t.i], t.id, p_stream, COALESCE(v_cur, 0) + t.i, t.c, t.cv, t.f, t.p, t.m
                 FROM unnest(p_ids, p_contracts, p_contract_versions, p_fingerprints, p_payloads, p_metadata)
                      WITH ORDINALITY AS t(id, c, cv, f, p, m, i);
                 RETURN QUERY SELECT 'ok'::TEXT, COALESCE(v_cur, 0) + v_n, v_positions[1], v_positions[v_n];
             END
             $treaty$;"#,
        events = tables.events,
        contracts = tables.contracts,
        key = tables.append_key,
        stream_key = tables.stream_key(),
        registry_key = tables.registry_key(),
        code = FINGERPRINT_MISMATCH,
    )
}

/// The readers' bound: the sequence's last value `V`, or, when lower, the
/// lowest value an open append saw before taking its positions (from the
/// low 32 bits in its lock's key, taken as the value nearest `V`). `V` is
/// read before the locks, so an append that had not yet taken its lock
/// then takes positions above `V`; an open append that had holds positions
/// above its value. Every position at or below the bound was therefore
/// handed out to an append that has ended by the time the locks were read,
/// and is committed or never will be: a statement run after this one sees
/// every row that will ever be there. Transactions that append nothing to
/// this store (other schemas, other databases, the view store) hold no
/// such lock and never hold readers back.
fn bound_function(tables: &Tables, schema: &str) -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION {schema}.readable_bound() RETURNS BIGINT
             LANGUAGE plpgsql VOLATILE
             AS $treaty$
             DECLARE
                 v_last BIGINT := pg_sequence_last_value('{schema}.positions');
                 v_open BIGINT;
             BEGIN
                 IF v_last IS NULL THEN
                     RETURN 0;
                 END IF;
                 SELECT min(v_last + (l.objid::TEXT::BIGINT - v_last % 4294967296 + 6442450944) % 4294967296
                            - 2147483648)
                 INTO v_open
                 FROM pg_catalog.pg_locks AS l
                 WHERE l.locktype = 'advisory' AND l.classid = {key}::OID AND l.objsubid = 2
                   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database());
                 RETURN LEAST(v_last, v_open);
             END
             $treaty$;"#,
        key = tables.append_key,
    )
}

/// The bound up to which rows may be read (`bound_function`). Each call
/// runs in a transaction of its own (the pool's connections autocommit),
/// so a statement sent after it reads with a later snapshot, whatever the
/// server's default isolation level.
async fn readable_bound(
    client: &deadpool_postgres::ClientWrapper,
    tables: &Tables,
) -> Result<i64, tokio_postgres::Error> {
    let bound = client.prepare_cached(&tables.bound).await?;
    client.query_one(&bound, &[]).await?.try_get(0)
}

/// The highest readable position: the last committed one at or below the
/// bound, asked after it.
async fn readable_head(
    client: &deadpool_postgres::ClientWrapper,
    tables: &Tables,
) -> Result<u64, tokio_postgres::Error> {
    let bound = readable_bound(client, tables).await?;
    let head = client.prepare_cached(&tables.head_sql()).await?;
    let position: i64 = client.query_one(&head, &[&bound]).await?.try_get(0)?;
    Ok(position as u64)
}

enum PageQuery {
    All {
        at: u64,
    },
    Stream {
        stream: StreamName,
        at: u64,
        direction: Direction,
        /// Whether the events' metadata keeps its headers (not in a
        /// replay, [`EventStore::replay_stream`]).
        headers: bool,
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

/// The event in `row`, its metadata's headers left out unless `headers`.
fn to_event(row: &Row, headers: bool) -> Result<RecordedEvent, ReadError> {
    let position = row.try_get::<_, i64>(0).map_err(read_error)? as u64;
    let corrupt = |reason: String| ReadError::Corrupt { position, reason };
    let column = |name: &str, e: tokio_postgres::Error| corrupt(format!("{name}: {}", describe(&e)));
    let stream: String = row.try_get(2).map_err(|e| column("stream", e))?;
    let stream = StreamName::new(stream).map_err(|e| corrupt(e.to_string()))?;
    let version: i64 = row.try_get(3).map_err(|e| column("version", e))?;
    let contract_version: i64 = row.try_get(5).map_err(|e| column("contract version", e))?;
    let metadata: &str = row.try_get(8).map_err(|e| column("metadata", e))?;
    let metadata = Metadata::from_stored_json(metadata, headers).map_err(|e| corrupt(format!("metadata: {e}")))?;
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

/// Why an append made in a transaction of its own failed.
enum Failed {
    /// The server refused or failed a statement.
    Server(tokio_postgres::Error),
    /// A fingerprint was judged and refused.
    Refused(AppendError),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Failed {
        Failed::Server(e)
    }
}

impl From<AppendError> for Failed {
    fn from(e: AppendError) -> Failed {
        Failed::Refused(e)
    }
}

/// What one attempt at an append came to.
struct Attempt {
    result: AppendResult,
    /// Whether this attempt wrote the events, rather than finding them
    /// written by an earlier append with their ids.
    wrote: bool,
}

impl Attempt {
    /// An earlier append's result, found for a retry.
    fn found(result: AppendResult) -> Attempt {
        Attempt { result, wrote: false }
    }
}

/// Registry rows as the upsert (`Tables::record`) takes them: in byte
/// order, as appends take registry rows, each fingerprint once.
struct RegistryRows {
    rows: Vec<CompiledContract>,
}

impl RegistryRows {
    fn new(mut rows: Vec<CompiledContract>) -> RegistryRows {
        rows.sort();
        rows.dedup_by(|a, b| (&a.name, a.version, &a.fingerprint) == (&b.name, b.version, &b.fingerprint));
        RegistryRows { rows }
    }

    /// The upsert's parameters, `$1` to `$5`.
    fn params(&self) -> RegistryParams<'_> {
        RegistryParams {
            names: self.rows.iter().map(|c| c.name.as_str()).collect(),
            versions: self.rows.iter().map(|c| i64::from(c.version)).collect(),
            fingerprints: self.rows.iter().map(|c| c.fingerprint.as_str()).collect(),
            schemas: self.rows.iter().map(|c| c.schema.as_deref()).collect(),
            format: SCHEMA_FORMAT as i32,
        }
    }
}

struct RegistryParams<'a> {
    names: Vec<&'a str>,
    versions: Vec<i64>,
    fingerprints: Vec<&'a str>,
    schemas: Vec<Option<&'a str>>,
    format: i32,
}

impl RegistryParams<'_> {
    fn as_slice(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 5] {
        [
            &self.names,
            &self.versions,
            &self.fingerprints,
            &self.schemas,
            &self.format,
        ]
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

/// An expectation as the append functions take it: a kind (0 any, 1 no
/// stream, 2 stream exists, 3 exact) and the exact version.
fn expectation(expected: ExpectedVersion) -> (i32, i64) {
    match expected {
        ExpectedVersion::Any => (0, 0),
        ExpectedVersion::NoStream => (1, 0),
        ExpectedVersion::StreamExists => (2, 0),
        ExpectedVersion::Exact(n) => (3, i64::try_from(n).unwrap_or(i64::MAX)),
    }
}

// Validation checked that payloads are UTF-8 and metadata serializes;
// should either still fail, the append fails, never the caller's task.

/// An event's payload as the text column stores it.
fn payload_text(event: &NewEvent) -> Result<&str, AppendError> {
    std::str::from_utf8(&event.payload).map_err(|error| AppendError::InvalidPayload {
        id: event.id,
        contract: event.contract.clone(),
        reason: format!("it is not UTF-8: {error}"),
    })
}

/// Each event's metadata as JSON.
fn metadata_json(events: &[NewEvent]) -> Result<Vec<String>, AppendError> {
    events
        .iter()
        .map(|e| serde_json::to_string(&e.metadata).map_err(|error| AppendError::Storage(Box::new(error))))
        .collect()
}

impl<'a> Call<'a> {
    fn new(expected: ExpectedVersion, events: &'a [NewEvent]) -> Result<Call<'a>, AppendError> {
        let (kind, exact) = expectation(expected);
        let payloads = events.iter().map(payload_text).collect::<Result<_, _>>()?;
        let metadata = metadata_json(events)?;
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
        let events = match self.grouped(stream, expected, events).await? {
            Ok(result) => return Ok(result),
            Err(events) => events,
        };
        // The first append of a version in this process records the
        // schemas its events carry, checked before anything is written.
        let schemas = if self.in_use.cover(&events) {
            Vec::new()
        } else {
            first_schemas(&events)?
        };
        let call = Call::new(expected, &events)?;
        // A fingerprint new for a stored version is refused by the append
        // function. The append is then made again with the same ids in a
        // transaction that judges the append's new fingerprints of that
        // version, holding the version's lock (`append_admitting`), and
        // records those found compatible before the call: recorded only
        // if the events are written, and judged against every row any
        // other append can have recorded. Each round adds one version,
        // so the rounds end.
        let mut changed: Vec<(&str, u32)> = Vec::new();
        loop {
            // A transient failure (a pooled connection the server closed,
            // a serialization failure) is tried again here, so callers do
            // not each have to: the same event ids make it safe.
            let result = retrying(|| self.append_once(stream, expected, &events, &call, &changed)).await;
            match result {
                Err(AppendError::FingerprintMismatch {
                    contract,
                    version,
                    stored,
                    appended,
                }) => {
                    let Some(event) = events
                        .iter()
                        .find(|e| (e.contract.as_str(), e.contract_version) == (contract.as_str(), version))
                        .filter(|_| !changed.contains(&(contract.as_str(), version)))
                    else {
                        return Err(AppendError::FingerprintMismatch {
                            contract,
                            version,
                            stored,
                            appended,
                        });
                    };
                    changed.push((event.contract.as_str(), version));
                    changed.sort_unstable();
                }
                Ok(Attempt { result, wrote }) => {
                    // A retry answered with an earlier append's result
                    // wrote nothing, so it records nothing, as in the
                    // other backends.
                    if wrote && !schemas.is_empty() {
                        // The rows exist now, so this only fills their
                        // schemas; should it fail, `register_contracts`
                        // fills them at the next start.
                        if let Err(e) = self.record_contracts(schemas).await {
                            tracing::warn!("the schemas of a first append could not be recorded: {e}");
                        }
                    }
                    return Ok(result);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The registry's rows, every one or those of one contract version, in
    /// the order [`EventStore::contracts`] gives them.
    async fn registry_rows(&self, of: Option<(&str, u32)>) -> Result<Vec<StoredContract>, ReadError> {
        let sql = self.tables.registry_sql(of.is_some());
        let rows = retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            match of {
                Some((name, version)) => client.query(&sql, &[&name, &i64::from(version)]).await,
                None => client.query(&sql, &[]).await,
            }
            .map_err(read_error)
        })
        .await?;
        rows.iter().map(stored_contract).collect()
    }

    /// The append made with a group (`group`), when it can be: its
    /// versions registered already, not too large, grouping available.
    /// `Err` gives the events back for the single path.
    async fn grouped(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Result<AppendResult, Vec<NewEvent>>, AppendError> {
        let Some(grouper) = &self.grouper else {
            return Ok(Err(events));
        };
        if events.len() > group::MAX_GROUPED_APPEND || !self.in_use.cover(&events) {
            return Ok(Err(events));
        }
        // Payloads are UTF-8 (`validate_append`); should one not be, its
        // group fails and the single path reports it.
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = group::Request {
            stream: stream.clone(),
            expected,
            metadata: metadata_json(&events)?,
            events,
            reply,
        };
        if let Err(request) = grouper.send(request) {
            return Ok(Err(request.events));
        }
        let Ok(group::Reply { events, outcome }) = answer.await else {
            // The group's task ended with its runtime: the append may or
            // may not have been written, and trying it again with the
            // same events is safe (their ids tell a retry apart).
            return Err(AppendError::Unavailable("the group commit task has stopped".into()));
        };
        match outcome {
            group::Outcome::Appended(result) => Ok(Ok(self.moved(result))),
            group::Outcome::Alone => Ok(Err(events)),
            group::Outcome::WrongVersion(actual) => {
                let ids: Vec<crate::types::Uuid> = events.iter().map(|e| e.id).collect();
                match self.judge_stored(stream, &ids).await? {
                    Some(original) => Ok(Ok(self.moved(original))),
                    None => Err(AppendError::WrongExpectedVersion {
                        stream: stream.clone(),
                        expected,
                        actual,
                    }),
                }
            }
        }
    }

    /// One attempt at an append.
    async fn append_once(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: &[NewEvent],
        call: &Call<'_>,
        changed: &[(&str, u32)],
    ) -> Result<Attempt, AppendError> {
        let mut client = self.pool.get().await.map_err(append_error)?;
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
        let answer = if changed.is_empty() {
            client.query_one(&prepared, &params).await.map_err(Failed::Server)
        } else {
            self.append_admitting(&mut client, stream, events, changed, &prepared, &params)
                .await
        };
        // Whatever follows reads on connections of its own.
        drop(client);
        let row = match answer {
            Ok(row) => row,
            Err(Failed::Refused(e)) => return Err(e),
            Err(Failed::Server(e)) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                // Another writer got in between the version check and the
                // insert, or an id other than the first is stored already
                // (an earlier attempt of this append may have committed).
                if let Some(result) = self.judge_stored(stream, &call.ids).await? {
                    return Ok(Attempt::found(self.moved(result)));
                }
                let actual = self.stream_version(stream).await.ok().flatten();
                return Err(AppendError::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual,
                });
            }
            Err(Failed::Server(e)) if e.code().map(SqlState::code) == Some(FINGERPRINT_MISMATCH) => {
                // Stored ids are told apart first, as every backend does.
                if let Some(result) = self.judge_stored(stream, &call.ids).await? {
                    return Ok(Attempt::found(self.moved(result)));
                }
                return Err(fingerprint_mismatch(&e).unwrap_or_else(|| append_error(e)));
            }
            Err(Failed::Server(e)) => return Err(append_error(e)),
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
                Ok(Attempt {
                    result: self.moved(AppendResult {
                        stream_version: stream_version.unwrap_or(0) as u64,
                        first_position: first as u64,
                        last_position: last as u64,
                    }),
                    wrote: true,
                })
            }
            _ => {
                // A retry of an append that went through carries an
                // expectation that no longer holds; it is told apart here,
                // off the happy path, instead of looking up every append's
                // ids first.
                match self.judge_stored(stream, &call.ids).await? {
                    Some(original) => Ok(Attempt::found(self.moved(original))),
                    None => Err(AppendError::WrongExpectedVersion {
                        stream: stream.clone(),
                        expected,
                        actual: stream_version.map(|v| v as u64),
                    }),
                }
            }
        }
    }

    /// The append's call in a transaction that first judges the append's
    /// new fingerprints of the `changed` contract versions and records
    /// those found compatible ([`admit_first_uses`]), so that they are
    /// recorded if and only if the events are.
    ///
    /// The transaction takes the locks the append function takes, and in
    /// its order, before reading the registry: the stream's, then those of
    /// every contract version of the append in byte order. It then cannot
    /// deadlock with another append, and every fingerprint another append
    /// records for these versions is either committed before the
    /// registry is read, and judged against, or recorded after this
    /// transaction ends, and judged against what it recorded.
    async fn append_admitting(
        &self,
        client: &mut deadpool_postgres::Client,
        stream: &StreamName,
        events: &[NewEvent],
        changed: &[(&str, u32)],
        append: &tokio_postgres::Statement,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Row, Failed> {
        let transaction = client.transaction().await?;
        transaction
            .execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2::TEXT))",
                &[&self.tables.stream_key(), &stream.as_str()],
            )
            .await?;
        let uses = rules::first_uses(events);
        let mut versions: Vec<(&str, u32)> = uses.keys().map(|&(contract, version, _)| (contract, version)).collect();
        versions.dedup();
        for &(contract, version) in &versions {
            transaction
                .execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2::TEXT || chr(31) || $3::BIGINT::TEXT))",
                    &[&self.tables.registry_key(), &contract, &i64::from(version)],
                )
                .await?;
        }
        let mut admitted = Vec::new();
        for &(contract, version) in changed {
            let stored = transaction
                .query(&self.tables.registry_sql(true), &[&contract, &i64::from(version)])
                .await?
                .iter()
                .map(stored_contract)
                .collect::<Result<Vec<_>, _>>()
                .map_err(unreadable)?;
            let first_uses = uses
                .iter()
                .filter(|((c, v, fingerprint), _)| {
                    (*c, *v) == (contract, version) && !stored.iter().any(|row| row.fingerprint == *fingerprint)
                })
                .map(|(_, &index)| &events[index])
                .collect::<Vec<_>>();
            admitted.extend(admit_first_uses(stored, first_uses, self.config.compatibility)?);
        }
        let rows = RegistryRows::new(admitted);
        transaction
            .execute(&self.tables.record, &rows.params().as_slice())
            .await?;
        let row = transaction.query_one(append, params).await?;
        // A wrong version (or a retry's stale expectation) wrote no
        // events, so the rows recorded for them are rolled back too.
        if row.try_get::<_, &str>(0)? == "ok" {
            transaction.commit().await?;
        } else {
            transaction.rollback().await?;
        }
        Ok(row)
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
        retrying(|| async {
            let client = self.pool.get().await.map_err(read_error)?;
            readable_head(&client, &self.tables).await.map_err(read_error)
        })
        .await
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
            move |at| {
                let store = store.clone();
                async move { store.page(PageQuery::All { at }).await }
            },
            paging::after_position,
        )
    }

    async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        self.registry_rows(None).await
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        super::validate::registry(&contracts)?;
        // One statement, so the registry rows are locked only while it
        // runs: an append registering a fingerprint waits for them.
        let rows = RegistryRows::new(contracts);
        // The upsert changes nothing when repeated, so it is retried like
        // an append.
        retrying(|| async {
            let client = self.pool.get().await.map_err(append_error)?;
            client
                .execute(&self.tables.record, &rows.params().as_slice())
                .await
                .map_err(append_error)
        })
        .await?;
        Ok(())
    }

    fn compatibility(&self) -> Mode {
        self.config.compatibility
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
            // The head this process knows may run ahead of what can be
            // read (another process's append, holding lower positions, is
            // still open), so a subscription that found nothing past it
            // looks again after the poll interval.
            Some(self.config.poll_interval),
        )
    }
}
