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
//! RETURNING` as its last step before inserting. The row lock is held until
//! the transaction ends, so the next append gets its positions only after
//! this one has committed (or rolled back, giving the positions back).
//! Positions therefore become visible in order and without holes, and a
//! reader that has seen position `n` has seen everything before it. The
//! price is that commits of appends serialize on that row; each holds it
//! only for its insert and commit.

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::watch;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::paging::{self, Page, PAGE_SIZE};
use super::registry::{CompiledContract, StoredContract};
use super::rules::{self, StoredId, DEFAULT_MAX_EVENT_BYTES};
use super::{
    AppendError, AppendResult, Direction, EventStore, EventStream, ExpectedVersion, Metadata, NewEvent, OpenError,
    ReadError, RecordedEvent, StreamName,
};

/// Settings of a [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresConfig {
    /// The schema holding the store's tables; created when missing.
    pub schema: String,
    /// The most connections in the pool.
    pub pool_size: usize,
    /// The largest payload accepted, in bytes.
    pub max_event_bytes: usize,
    /// How often subscriptions look for events appended by other
    /// processes. Appends made through this store wake them at once.
    pub poll_interval: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        PostgresConfig {
            schema: "treaty".into(),
            pool_size: 16,
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
}

/// Table names, qualified with the configured schema.
#[derive(Clone)]
struct Tables {
    events: String,
    head: String,
    contracts: String,
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
        let location = redact(url);
        let storage = |e: Box<dyn std::error::Error + Send + Sync>| OpenError::Storage {
            location: location.clone(),
            source: e,
        };
        if config.schema.is_empty()
            || !config
                .schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(storage(
                format!("schema name {:?} must be lower-case letters, digits and `_`", config.schema).into(),
            ));
        }
        let mut pg_config = tokio_postgres::Config::from_str(url).map_err(|e| storage(Box::new(e)))?;
        // The store prepares its statements once per connection. A prepared
        // statement may switch to a generic plan, made without the values,
        // and a generic plan made while the tables are small or have no
        // statistics yet scans them whole and is kept until the next
        // `ANALYZE`: appends slowed down as the store grew. The store's
        // statements are index lookups whatever the values, so each is
        // planned with its values instead (a custom plan).
        let options = match pg_config.get_options() {
            Some(given) => format!("{given} -c plan_cache_mode=force_custom_plan"),
            None => "-c plan_cache_mode=force_custom_plan".to_string(),
        };
        pg_config.options(&options);
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .build()
            .map_err(|e| storage(Box::new(e)))?;
        let tables = Tables {
            events: format!("{}.events", config.schema),
            head: format!("{}.head", config.schema),
            contracts: format!("{}.contracts", config.schema),
        };
        let client = pool.get().await.map_err(|e| storage(Box::new(e)))?;
        let schema = &config.schema;
        // Creating tables concurrently from several processes can race on
        // the catalog; an advisory lock makes it one at a time.
        let ddl = format!(
            "SELECT pg_advisory_lock(7337001);
             CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {events} (
                 position         BIGINT PRIMARY KEY,
                 id               UUID NOT NULL UNIQUE,
                 stream           TEXT NOT NULL,
                 version          BIGINT NOT NULL,
                 contract         TEXT NOT NULL,
                 contract_version INTEGER NOT NULL,
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
                 name        TEXT NOT NULL,
                 version     INTEGER NOT NULL,
                 fingerprint TEXT NOT NULL,
                 schema      TEXT,
                 events      BIGINT NOT NULL DEFAULT 0,
                 PRIMARY KEY (name, version)
             );
             SELECT pg_advisory_unlock(7337001);",
            events = tables.events,
            head = tables.head,
            contracts = tables.contracts,
        );
        client.batch_execute(&ddl).await.map_err(|e| storage(Box::new(e)))?;
        let head: i64 = client
            .query_one(&format!("SELECT position FROM {}", tables.head), &[])
            .await
            .map_err(|e| storage(Box::new(e)))?
            .get(0);
        drop(client);
        let store = PostgresStore {
            pool,
            tables,
            config,
            head: std::sync::Arc::new(watch::channel(head as u64).0),
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

    async fn page(&self, query: PageQuery) -> Result<Page, ReadError> {
        let client = self.pool.get().await.map_err(|e| ReadError::Storage(Box::new(e)))?;
        let limit = PAGE_SIZE as i64;
        let events = &self.tables.events;
        let rows = match query {
            PageQuery::All { at } => {
                client
                    .query(
                        &format!("SELECT {COLUMNS} FROM {events} WHERE position >= $1 ORDER BY position LIMIT $2"),
                        &[&clamp(at), &limit],
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
                        &[&stream.as_str(), &clamp(at), &limit],
                    )
                    .await
            }
        }
        .map_err(|e| ReadError::Storage(Box::new(e)))?;
        Ok(rows.iter().map(to_event).collect())
    }
}

enum PageQuery {
    All { at: u64 },
    Stream { stream: StreamName, at: u64, direction: Direction },
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The URL without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn to_event(row: &Row) -> Result<RecordedEvent, ReadError> {
    let position = row.get::<_, i64>(0) as u64;
    let corrupt = |reason: String| ReadError::Corrupt { position, reason };
    let stream = StreamName::new(row.get::<_, String>(2)).map_err(|e| corrupt(e.to_string()))?;
    let version = row.get::<_, i64>(3);
    let contract_version = row.get::<_, i32>(5);
    let metadata: Metadata =
        serde_json::from_str(row.get::<_, &str>(8)).map_err(|e| corrupt(format!("metadata: {e}")))?;
    Ok(RecordedEvent {
        id: row.get(1),
        stream,
        version: u64::try_from(version).map_err(|_| corrupt(format!("negative version {version}")))?,
        position,
        contract: row.get(4),
        contract_version: u32::try_from(contract_version)
            .map_err(|_| corrupt(format!("contract version {contract_version} out of range")))?,
        fingerprint: row.get(6),
        payload: row.get::<_, String>(7).into_bytes(),
        metadata,
    })
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> AppendError {
    AppendError::Storage(Box::new(e))
}

impl EventStore for PostgresStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        rules::validate_append(stream, &events, self.config.max_event_bytes)?;
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        let table = &self.tables.events;

        // Every statement is prepared once per connection and cached: a
        // statement given as text costs a round trip to prepare it before
        // the one that runs it, which doubled the round trips of an append.
        let ids: Vec<crate::types::Uuid> = events.iter().map(|e| e.id).collect();
        let lookup = tx
            .prepare_cached(&format!(
                "SELECT id, stream, version, position FROM {table} WHERE id = ANY($1)"
            ))
            .await
            .map_err(storage)?;
        let rows = tx.query(&lookup, &[&ids]).await.map_err(storage)?;
        if !rows.is_empty() {
            let stored: Vec<Option<StoredId>> = ids
                .iter()
                .map(|id| {
                    rows.iter().find(|r| r.get::<_, crate::types::Uuid>(0) == *id).and_then(|r| {
                        Some(StoredId {
                            id: *id,
                            stream: StreamName::new(r.get::<_, String>(1)).ok()?,
                            version: r.get::<_, i64>(2) as u64,
                            position: r.get::<_, i64>(3) as u64,
                        })
                    })
                })
                .collect();
            return match rules::judge_retry(stream, &stored)? {
                Some(original) => Ok(original),
                None => unreachable!("some ids are stored"),
            };
        }

        let version = tx
            .prepare_cached(&format!("SELECT MAX(version) FROM {table} WHERE stream = $1"))
            .await
            .map_err(storage)?;
        let actual: Option<i64> = tx
            .query_one(&version, &[&stream.as_str()])
            .await
            .map_err(storage)?
            .get(0);
        let actual = actual.map(|v| v as u64);
        if !expected.admits(actual) {
            return Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }

        // Registry rows are locked in sorted order (see `contract_counts`)
        // and before the head row, so appends cannot deadlock.
        let count_contract = tx
            .prepare_cached(&format!(
                "INSERT INTO {0} AS c (name, version, fingerprint, events) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name, version) DO UPDATE SET events = c.events + EXCLUDED.events
                 RETURNING c.fingerprint",
                self.tables.contracts
            ))
            .await
            .map_err(storage)?;
        for ((contract, version, fingerprint), count) in rules::contract_counts(&events) {
            let stored: String = tx
                .query_one(
                    &count_contract,
                    &[&contract, &(version as i32), &fingerprint, &(count as i64)],
                )
                .await
                .map_err(storage)?
                .get(0);
            if stored != fingerprint {
                return Err(AppendError::FingerprintMismatch {
                    contract: contract.to_string(),
                    version,
                    stored,
                    appended: fingerprint.to_string(),
                });
            }
        }

        // Taking positions is the last step before inserting: from here on
        // the head row is locked until commit.
        let count = events.len() as i64;
        let take_positions = tx
            .prepare_cached(&format!(
                "UPDATE {} SET position = position + $1 RETURNING position",
                self.tables.head
            ))
            .await
            .map_err(storage)?;
        let last: i64 = tx.query_one(&take_positions, &[&count]).await.map_err(storage)?.get(0);
        let first = last - count + 1;
        let base_version = actual.unwrap_or(0) as i64;
        let mut positions = Vec::with_capacity(events.len());
        let mut versions = Vec::with_capacity(events.len());
        let mut streams = Vec::with_capacity(events.len());
        let mut contracts = Vec::with_capacity(events.len());
        let mut contract_versions = Vec::with_capacity(events.len());
        let mut fingerprints = Vec::with_capacity(events.len());
        let mut payloads = Vec::with_capacity(events.len());
        let mut metadata = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            positions.push(first + i as i64);
            versions.push(base_version + 1 + i as i64);
            streams.push(stream.as_str());
            contracts.push(event.contract.as_str());
            contract_versions.push(event.contract_version as i32);
            fingerprints.push(event.fingerprint.as_str());
            payloads.push(std::str::from_utf8(&event.payload).expect("validated as JSON, so UTF-8"));
            metadata.push(serde_json::to_string(&event.metadata).expect("metadata always serializes"));
        }
        let insert = tx
            .prepare_cached(&format!(
                "INSERT INTO {table} ({COLUMNS})
                 SELECT * FROM UNNEST($1::BIGINT[], $2::UUID[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                                      $6::INTEGER[], $7::TEXT[], $8::TEXT[], $9::TEXT[])"
            ))
            .await
            .map_err(storage)?;
        let inserted = tx
            .execute(
                &insert,
                &[
                    &positions,
                    &ids,
                    &streams,
                    &versions,
                    &contracts,
                    &contract_versions,
                    &fingerprints,
                    &payloads,
                    &metadata,
                ],
            )
            .await;
        if let Err(e) = inserted {
            if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                // Another writer got in between the version check and the
                // insert; report what the stream is at now.
                drop(tx);
                let actual = self.stream_version(stream).await.ok().flatten();
                return Err(AppendError::WrongExpectedVersion {
                    stream: stream.clone(),
                    expected,
                    actual,
                });
            }
            return Err(storage(e));
        }
        tx.commit().await.map_err(storage)?;
        self.head.send_if_modified(|current| {
            let moved = last as u64 > *current;
            *current = (*current).max(last as u64);
            moved
        });
        Ok(AppendResult {
            stream_version: (base_version + count) as u64,
            first_position: first as u64,
            last_position: last as u64,
        })
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<Option<u64>, ReadError> {
        let client = self.pool.get().await.map_err(|e| ReadError::Storage(Box::new(e)))?;
        let max: Option<i64> = client
            .query_one(
                &format!("SELECT MAX(version) FROM {} WHERE stream = $1", self.tables.events),
                &[&stream.as_str()],
            )
            .await
            .map_err(|e| ReadError::Storage(Box::new(e)))?
            .get(0);
        Ok(max.map(|v| v as u64))
    }

    async fn head(&self) -> Result<u64, ReadError> {
        let client = self.pool.get().await.map_err(|e| ReadError::Storage(Box::new(e)))?;
        let head: i64 = client
            .query_one(&format!("SELECT position FROM {}", self.tables.head), &[])
            .await
            .map_err(|e| ReadError::Storage(Box::new(e)))?
            .get(0);
        Ok(head as u64)
    }

    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream {
        let store = self.clone();
        let stream = stream.clone();
        let fetch = move |at: u64| {
            let store = store.clone();
            let stream = stream.clone();
            async move { store.page(PageQuery::Stream { stream, at, direction }).await }
        };
        match direction {
            Direction::Forward => paging::paged(from.max(1), fetch, paging::after_version),
            Direction::Backward => paging::paged(from, fetch, paging::before_version),
        }
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
        let client = self.pool.get().await.map_err(|e| ReadError::Storage(Box::new(e)))?;
        let rows = client
            .query(
                &format!(
                    "SELECT name, version, fingerprint, schema, events FROM {} ORDER BY name, version",
                    self.tables.contracts
                ),
                &[],
            )
            .await
            .map_err(|e| ReadError::Storage(Box::new(e)))?;
        Ok(rows
            .iter()
            .map(|r| StoredContract {
                name: r.get(0),
                version: r.get::<_, i32>(1) as u32,
                fingerprint: r.get(2),
                schema: r.get(3),
                events: r.get::<_, i64>(4) as u64,
            })
            .collect())
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        let mut client = self.pool.get().await.map_err(storage)?;
        let tx = client.transaction().await.map_err(storage)?;
        let sql = format!(
            "INSERT INTO {0} AS c (name, version, fingerprint, schema) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name, version) DO UPDATE SET schema = COALESCE(c.schema, EXCLUDED.schema)
             WHERE c.fingerprint = EXCLUDED.fingerprint",
            self.tables.contracts
        );
        let mut sorted = contracts;
        sorted.sort();
        for c in &sorted {
            tx.execute(&sql, &[&c.name, &(c.version as i32), &c.fingerprint, &c.schema])
                .await
                .map_err(storage)?;
        }
        tx.commit().await.map_err(storage)
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
        )
    }
}
