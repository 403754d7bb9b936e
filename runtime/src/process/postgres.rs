//! Process managers' tables in PostgreSQL, in the event store's schema:
//! each commit is one transaction that locks the manager's checkpoint row
//! first, so commits of one manager take turns.

use std::sync::Arc;

use tokio_postgres::types::ToSql;

use super::store::{Commit, DueTimeout, InstanceChange, InstanceState, OutboxRow, ProcessStore, StoredInstance};
use super::ProcessError;
use crate::storage::postgres::{self, Connected};
use crate::storage::{Component, OpenError, PostgresOptions};
use crate::types::Uuid;

/// Process managers' checkpoints, instances, outbox and timeouts in
/// PostgreSQL; give it the event store's options
/// (`PostgresConfig::connection`) so its tables sit beside the events.
/// Clones share the connection pool.
#[derive(Clone)]
pub struct PostgresProcessStore {
    inner: Arc<Connected<Statements>>,
}

impl std::fmt::Debug for PostgresProcessStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresProcessStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

/// The statements, with the tables qualified by the configured schema.
struct Statements {
    checkpoint: String,
    lock_checkpoint: String,
    write_checkpoint: String,
    versions: String,
    load: String,
    lock_instance: String,
    write_instance: String,
    pending: String,
    fire: String,
    clear: String,
    cancel: String,
    schedule: String,
    enqueue: String,
    outbox: String,
    dequeue: String,
    due: String,
    next_due: String,
}

impl Statements {
    fn new(schema: &str) -> Self {
        let checkpoints = format!("{schema}.treaty_process_checkpoints");
        let instances = format!("{schema}.treaty_process_instances");
        let outbox = format!("{schema}.treaty_process_outbox");
        let timeouts = format!("{schema}.treaty_process_timeouts");
        Statements {
            checkpoint: format!("SELECT position FROM {checkpoints} WHERE manager = $1"),
            // Creates the row at 0 when missing, then locks it: commits of
            // one manager take turns from here.
            lock_checkpoint: format!(
                "INSERT INTO {checkpoints} (manager, position) VALUES ($1, 0) ON CONFLICT (manager) \
                 DO UPDATE SET position = {checkpoints}.position RETURNING position"
            ),
            write_checkpoint: format!("UPDATE {checkpoints} SET position = $2 WHERE manager = $1"),
            versions: format!(
                "SELECT DISTINCT state_version FROM {instances} \
                 WHERE manager = $1 AND state_version IS NOT NULL ORDER BY state_version"
            ),
            load: format!("SELECT revision, state_version, state FROM {instances} WHERE manager = $1 AND key = $2"),
            lock_instance: format!("SELECT revision FROM {instances} WHERE manager = $1 AND key = $2 FOR UPDATE"),
            write_instance: format!(
                "INSERT INTO {instances} (manager, key, revision, state_version, state) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (manager, key) DO UPDATE SET revision = EXCLUDED.revision, \
                 state_version = EXCLUDED.state_version, state = EXCLUDED.state"
            ),
            pending: format!("SELECT 1 FROM {timeouts} WHERE manager = $1 AND key = $2 AND id = $3"),
            fire: format!("DELETE FROM {timeouts} WHERE manager = $1 AND key = $2 AND id = $3"),
            clear: format!("DELETE FROM {timeouts} WHERE manager = $1 AND key = $2"),
            cancel: format!("DELETE FROM {timeouts} WHERE manager = $1 AND key = $2 AND name = $3"),
            schedule: format!(
                "INSERT INTO {timeouts} (manager, key, name, id, due) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (manager, key, name) DO UPDATE SET id = EXCLUDED.id, due = EXCLUDED.due"
            ),
            enqueue: format!("INSERT INTO {outbox} (manager, message_id, envelope) VALUES ($1, $2, $3)"),
            outbox: format!("SELECT seq, message_id, envelope FROM {outbox} WHERE manager = $1 ORDER BY seq LIMIT $2"),
            dequeue: format!("DELETE FROM {outbox} WHERE manager = $1 AND seq <= $2"),
            due: format!(
                "SELECT key, name, id, due FROM {timeouts} WHERE manager = $1 AND due <= $2 \
                 ORDER BY due, key, name LIMIT $3"
            ),
            next_due: format!("SELECT MIN(due) FROM {timeouts} WHERE manager = $1"),
        }
    }
}

impl PostgresProcessStore {
    /// Connects to `url` with default settings (schema `treaty`, beside a
    /// default event store) and creates the tables if needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the server cannot be reached or the tables
    /// cannot be created.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        PostgresProcessStore::open_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` and creates the tables in `options.schema` if
    /// needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the schema name is not a plain identifier,
    /// the server cannot be reached or the tables cannot be created.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
        let connected = postgres::connect(url, &options, Component::Processes, Statements::new, |schema, _| {
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.treaty_process_checkpoints (
                     manager  TEXT PRIMARY KEY,
                     position BIGINT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS {schema}.treaty_process_instances (
                     manager       TEXT NOT NULL,
                     key           TEXT NOT NULL,
                     revision      BIGINT NOT NULL,
                     state_version BIGINT,
                     state         BYTEA,
                     PRIMARY KEY (manager, key)
                 );
                 CREATE INDEX IF NOT EXISTS treaty_process_instances_versions
                     ON {schema}.treaty_process_instances (manager, state_version);
                 CREATE TABLE IF NOT EXISTS {schema}.treaty_process_outbox (
                     seq        BIGSERIAL PRIMARY KEY,
                     manager    TEXT NOT NULL,
                     message_id UUID NOT NULL,
                     envelope   BYTEA NOT NULL
                 );
                 CREATE INDEX IF NOT EXISTS treaty_process_outbox_manager
                     ON {schema}.treaty_process_outbox (manager, seq);
                 CREATE TABLE IF NOT EXISTS {schema}.treaty_process_timeouts (
                     manager TEXT NOT NULL,
                     key     TEXT NOT NULL,
                     name    TEXT NOT NULL,
                     id      UUID NOT NULL,
                     due     BIGINT NOT NULL,
                     PRIMARY KEY (manager, key, name)
                 );
                 CREATE INDEX IF NOT EXISTS treaty_process_timeouts_due
                     ON {schema}.treaty_process_timeouts (manager, due);"
            )
        })
        .await?;
        Ok(PostgresProcessStore {
            inner: Arc::new(connected),
        })
    }

    fn failed(&self, e: impl std::error::Error + Send + Sync + 'static) -> ProcessError {
        ProcessError::Storage {
            location: self.inner.location.clone(),
            source: Box::new(e),
        }
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<tokio_postgres::Row>, ProcessError> {
        let client = self.inner.pool.get().await.map_err(|e| self.failed(e))?;
        let statement = client.prepare_cached(sql).await.map_err(|e| self.failed(e))?;
        client.query(&statement, params).await.map_err(|e| self.failed(e))
    }

    /// Writes `commit` in `tx`; `false` when what it expects is not so
    /// (the caller rolls back).
    async fn write(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        commit: &Commit,
    ) -> Result<bool, tokio_postgres::Error> {
        let sql = &self.inner.sql;
        let manager = commit.manager.as_str();
        let stored: i64 = tx.query_one(&sql.lock_checkpoint, &[&manager]).await?.get(0);
        let (Ok(expected), Ok(checkpoint)) = (
            i64::try_from(commit.expected_checkpoint),
            i64::try_from(commit.checkpoint),
        ) else {
            return Ok(false);
        };
        if stored != expected || checkpoint < expected {
            return Ok(false);
        }
        tx.execute(&sql.write_checkpoint, &[&manager, &checkpoint]).await?;
        for change in &commit.instances {
            if !self.write_change(tx, manager, change).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes one instance's change in `tx`; `false` when what it expects
    /// is not so.
    async fn write_change(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        manager: &str,
        change: &InstanceChange,
    ) -> Result<bool, tokio_postgres::Error> {
        let sql = &self.inner.sql;
        let key = change.key.as_str();
        let revision: Option<i64> = tx
            .query_opt(&sql.lock_instance, &[&manager, &key])
            .await?
            .map(|r| r.get(0));
        if revision != change.expected_revision {
            return Ok(false);
        }
        if let Some(fired) = change.fired {
            if tx.query_opt(&sql.pending, &[&manager, &key, &fired]).await?.is_none() {
                return Ok(false);
            }
            tx.execute(&sql.fire, &[&manager, &key, &fired]).await?;
        }
        let (version, state) = match &change.state {
            InstanceState::Running { version, json } => (Some(i64::from(*version)), Some(json.as_slice())),
            InstanceState::Completed => (None, None),
        };
        let next = change.expected_revision.unwrap_or(0) + 1;
        tx.execute(&sql.write_instance, &[&manager, &key, &next, &version, &state])
            .await?;
        if state.is_none() {
            tx.execute(&sql.clear, &[&manager, &key]).await?;
        } else {
            for name in &change.cancel {
                tx.execute(&sql.cancel, &[&manager, &key, name]).await?;
            }
            for timeout in &change.schedule {
                tx.execute(
                    &sql.schedule,
                    &[&manager, &key, &timeout.name, &timeout.id, &timeout.due],
                )
                .await?;
            }
        }
        for (id, envelope) in &change.outbox {
            tx.execute(&sql.enqueue, &[&manager, id, envelope]).await?;
        }
        Ok(true)
    }
}

impl ProcessStore for PostgresProcessStore {
    async fn checkpoint(&self, manager: &str) -> Result<u64, ProcessError> {
        let rows = self.query(&self.inner.sql.checkpoint, &[&manager]).await?;
        Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0).max(0) as u64))
    }

    async fn state_versions(&self, manager: &str) -> Result<Vec<u32>, ProcessError> {
        let rows = self.query(&self.inner.sql.versions, &[&manager]).await?;
        Ok(rows
            .iter()
            .map(|row| u32::try_from(row.get::<_, i64>(0)).unwrap_or(u32::MAX))
            .collect())
    }

    async fn load(&self, manager: &str, key: &str) -> Result<Option<StoredInstance>, ProcessError> {
        let rows = self.query(&self.inner.sql.load, &[&manager, &key]).await?;
        Ok(rows.first().map(|row| {
            let state = match (row.get::<_, Option<i64>>(1), row.get::<_, Option<Vec<u8>>>(2)) {
                (Some(version), Some(json)) => InstanceState::Running {
                    version: u32::try_from(version).unwrap_or(u32::MAX),
                    json,
                },
                _ => InstanceState::Completed,
            };
            StoredInstance {
                revision: row.get(0),
                state,
            }
        }))
    }

    async fn commit(&self, commit: Commit) -> Result<(), ProcessError> {
        let mut client = self.inner.pool.get().await.map_err(|e| self.failed(e))?;
        let tx = client.transaction().await.map_err(|e| self.failed(e))?;
        if self.write(&tx, &commit).await.map_err(|e| self.failed(e))? {
            tx.commit().await.map_err(|e| self.failed(e))
        } else {
            drop(tx);
            Err(ProcessError::Conflict {
                manager: commit.manager,
            })
        }
    }

    async fn outbox(&self, manager: &str, limit: usize) -> Result<Vec<OutboxRow>, ProcessError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(&self.inner.sql.outbox, &[&manager, &limit]).await?;
        Ok(rows
            .iter()
            .map(|row| OutboxRow {
                seq: row.get(0),
                message_id: row.get::<_, Uuid>(1),
                envelope: row.get(2),
            })
            .collect())
    }

    async fn remove_outbox(&self, manager: &str, through: i64) -> Result<(), ProcessError> {
        self.query(&self.inner.sql.dequeue, &[&manager, &through]).await?;
        Ok(())
    }

    async fn due_timeouts(&self, manager: &str, now: i64, limit: usize) -> Result<Vec<DueTimeout>, ProcessError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(&self.inner.sql.due, &[&manager, &now, &limit]).await?;
        Ok(rows
            .iter()
            .map(|row| DueTimeout {
                key: row.get(0),
                name: row.get(1),
                id: row.get(2),
                due: row.get(3),
            })
            .collect())
    }

    async fn next_due(&self, manager: &str) -> Result<Option<i64>, ProcessError> {
        let rows = self.query(&self.inner.sql.next_due, &[&manager]).await?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }
}
