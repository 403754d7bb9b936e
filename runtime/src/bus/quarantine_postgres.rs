//! The quarantine in PostgreSQL, beside a PostgreSQL event store: one
//! table in the configured schema, with the same columns and meaning as
//! the SQLite one.

use std::sync::Arc;

use tokio_postgres::Row;

use super::quarantine::{ParkedMessage, Quarantine, QuarantineError};
use crate::storage::postgres::{self, Connected};
use crate::storage::{Component, OpenError, PostgresOptions};
use crate::types::{Timestamp, Uuid};

/// The quarantine's table, as `open_existing` looks for it.
const TABLES: &[&str] = &["treaty_quarantine"];

const COLUMNS: &str = "message_id, contract, body, error, attempts, first_seen, parked_at, retry_requested";

/// Parked messages in PostgreSQL. Clones share the connection pool.
///
/// Every operation is one statement, so the buses of many processes and
/// `treaty quarantine` can use the table at once.
#[derive(Clone)]
pub struct PostgresQuarantine {
    inner: Arc<Connected<Statements>>,
}

/// The statements, with the table name qualified by the configured
/// schema, built once at open.
struct Statements {
    park: String,
    list: String,
    get: String,
    request_retry: String,
    retries: String,
    remove: String,
    claim_retry: String,
    remove_if_parked_at: String,
}

impl Statements {
    fn new(schema: &str) -> Self {
        let table = format!("{schema}.treaty_quarantine");
        Statements {
            park: format!(
                "INSERT INTO {table} ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (message_id) DO UPDATE SET contract = EXCLUDED.contract, body = EXCLUDED.body, \
                 error = EXCLUDED.error, attempts = EXCLUDED.attempts, first_seen = EXCLUDED.first_seen, \
                 parked_at = EXCLUDED.parked_at, retry_requested = EXCLUDED.retry_requested"
            ),
            list: format!("SELECT {COLUMNS} FROM {table} ORDER BY parked_at, message_id"),
            get: format!("SELECT {COLUMNS} FROM {table} WHERE message_id = $1"),
            request_retry: format!("UPDATE {table} SET retry_requested = TRUE WHERE message_id = $1"),
            // `retry_requested` spelled as the partial index's predicate,
            // so the planner uses the index.
            retries: format!("SELECT {COLUMNS} FROM {table} WHERE retry_requested ORDER BY parked_at, message_id"),
            remove: format!("DELETE FROM {table} WHERE message_id = $1"),
            // Under READ COMMITTED a second claim waits for the first's
            // row lock, then re-checks `retry_requested` on the row the
            // first left: false, so it claims nothing.
            claim_retry: format!(
                "UPDATE {table} SET retry_requested = FALSE WHERE message_id = $1 AND retry_requested \
                 RETURNING {COLUMNS}"
            ),
            remove_if_parked_at: format!("DELETE FROM {table} WHERE message_id = $1 AND parked_at = $2"),
        }
    }
}

impl std::fmt::Debug for PostgresQuarantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresQuarantine")
            .field("location", &self.inner.location)
            .finish()
    }
}

impl PostgresQuarantine {
    /// Connects to `url` (`postgres://user:password@host/database`) with
    /// default settings (schema `treaty`, beside a default event store) and
    /// creates the table if needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the server cannot be reached or the table
    /// cannot be created.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        PostgresQuarantine::open_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` and creates the table in `options.schema` if
    /// needed, with at most `options.pool_size` connections. Given the
    /// event store's options (`PostgresConfig::connection`), the quarantine
    /// sits beside its tables.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the schema name is not a plain identifier,
    /// the server cannot be reached or the table cannot be created.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
        // Every bus polls the requested retries, so they have a partial
        // index of their own.
        let connected = postgres::connect(url, &options, Component::Quarantine, Statements::new, |schema, _| {
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.treaty_quarantine (
                     message_id      UUID PRIMARY KEY,
                     contract        TEXT,
                     body            BYTEA NOT NULL,
                     error           TEXT NOT NULL,
                     attempts        BIGINT NOT NULL,
                     first_seen      BIGINT NOT NULL,
                     parked_at       BIGINT NOT NULL,
                     retry_requested BOOLEAN NOT NULL DEFAULT FALSE
                 );
                 CREATE INDEX IF NOT EXISTS treaty_quarantine_parked ON {schema}.treaty_quarantine (parked_at);
                 CREATE INDEX IF NOT EXISTS treaty_quarantine_retries ON {schema}.treaty_quarantine (parked_at)
                     WHERE retry_requested;"
            )
        })
        .await?;
        Ok(PostgresQuarantine {
            inner: Arc::new(connected),
        })
    }

    /// Connects to the existing quarantine in `options.schema`, creating
    /// nothing: for tools such as `treaty quarantine`, which manage parked
    /// messages but must not create a schema, a table or an index, nor
    /// need the privileges to. Unlike [`open_with`](Self::open_with) it
    /// runs no DDL and takes no advisory lock, only a read of
    /// `pg_catalog.pg_tables`.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the schema lacks the quarantine's table
    /// (nothing was ever quarantined there), [`OpenError::Storage`] when
    /// the URL is invalid, the schema name is not a plain identifier or the
    /// server cannot be reached.
    pub async fn open_existing(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
        let connected =
            postgres::connect_existing(url, &options, Component::Quarantine, TABLES, Statements::new).await?;
        Ok(PostgresQuarantine {
            inner: Arc::new(connected),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, QuarantineError> {
        self.inner.pool.get().await.map_err(storage)
    }

    /// Runs a query of parked messages.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<ParkedMessage>, QuarantineError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(storage)?;
        let rows = client.query(&statement, params).await.map_err(storage)?;
        rows.iter().map(|row| self.parked(row)).collect()
    }

    /// Runs a statement on one message; returns whether it found it.
    async fn update(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool, QuarantineError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(storage)?;
        let changed = client.execute(&statement, params).await.map_err(storage)?;
        Ok(changed > 0)
    }

    /// A row as a parked message, or why it is not one.
    fn parked(&self, row: &Row) -> Result<ParkedMessage, QuarantineError> {
        let id: Uuid = row.get(0);
        let invalid = |reason: String| QuarantineError::InvalidRow {
            location: self.inner.location.clone(),
            reason,
        };
        let time = |millis: i64, what: &str| {
            Timestamp::from_millisecond(millis).map_err(|e| invalid(format!("message {id} has an invalid {what}: {e}")))
        };
        let attempts: i64 = row.get(4);
        Ok(ParkedMessage {
            id,
            contract: row.get(1),
            body: row.get(2),
            error: row.get(3),
            attempts: u32::try_from(attempts).map_err(|_| invalid(format!("message {id} has {attempts} attempts")))?,
            first_seen: time(row.get(5), "first-seen time")?,
            parked_at: time(row.get(6), "parking time")?,
            retry_requested: row.get(7),
        })
    }
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> QuarantineError {
    QuarantineError::Storage(Box::new(e))
}

impl Quarantine for PostgresQuarantine {
    async fn park(&self, message: ParkedMessage) -> Result<(), QuarantineError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.park).await.map_err(storage)?;
        client
            .execute(
                &statement,
                &[
                    &message.id,
                    &message.contract,
                    &message.body,
                    &message.error,
                    &i64::from(message.attempts),
                    &message.first_seen.as_millisecond(),
                    &message.parked_at.as_millisecond(),
                    &message.retry_requested,
                ],
            )
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        self.query(&self.inner.sql.list, &[]).await
    }

    async fn get(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        Ok(self.query(&self.inner.sql.get, &[&id]).await?.pop())
    }

    async fn request_retry(&self, id: Uuid) -> Result<bool, QuarantineError> {
        self.update(&self.inner.sql.request_retry, &[&id]).await
    }

    async fn retries(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        self.query(&self.inner.sql.retries, &[]).await
    }

    async fn remove(&self, id: Uuid) -> Result<bool, QuarantineError> {
        self.update(&self.inner.sql.remove, &[&id]).await
    }

    async fn claim_retry(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        Ok(self.query(&self.inner.sql.claim_retry, &[&id]).await?.pop())
    }

    async fn remove_if_parked_at(&self, id: Uuid, parked_at: Timestamp) -> Result<bool, QuarantineError> {
        // Stored in milliseconds, so compared in milliseconds: the time
        // `claim_retry` returned matches exactly.
        self.update(&self.inner.sql.remove_if_parked_at, &[&id, &parked_at.as_millisecond()])
            .await
    }
}
