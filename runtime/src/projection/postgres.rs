//! The view store in PostgreSQL, beside a PostgreSQL event store: two
//! tables in the configured schema, with the same columns and meaning as
//! the SQLite ones.
//!
//! Fencing: a commit first moves its generation's checkpoint with `UPDATE
//! … WHERE checkpoint = from`. The row lock that update takes is held until
//! the transaction ends, so a second engine committing to the same
//! generation waits for the first, then finds the checkpoint moved and
//! writes nothing. Dropping a generation deletes its record before its
//! views for the same reason: it waits for a commit in flight, and the
//! views that commit wrote are then visible to the delete that follows.
//!
//! Leases: `treaty_view_leases` records, per projection, the instance
//! working on it, its fencing token and when its lease expires, by the
//! server's clock (so instances on machines whose clocks differ agree).
//! Taking over a lease updates its row, and every write of a fenced handle
//! first reads that row `FOR SHARE`: a takeover waits for a write in
//! flight, and a write after a takeover sees the new token and writes
//! nothing.
//!
//! Keys are compared byte-wise (`COLLATE "C"`), whatever the database's
//! collation, so listings page in the same order as in SQLite.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::store::{
    code_json, parse_code, Generation, GenerationDetails, GenerationStatus, Lease, ViewChange, ViewError, ViewStore,
};
use crate::storage::postgres::{self, Connected};
use crate::storage::{Component, OpenError, PostgresOptions};
use crate::types::Timestamp;

/// The view store's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["treaty_projections", "treaty_views"];

/// Views in PostgreSQL. Clones share the connection pool.
///
/// Every operation is one statement or one transaction on a pooled
/// connection, so several processes can read the views while one engine
/// writes them, and a second engine writing the same generation is refused
/// with [`ViewError::CheckpointMoved`] instead of corrupting it.
#[derive(Clone)]
pub struct PostgresViewStore {
    inner: Arc<Connected<Statements>>,
    /// The lease whose token this handle's writes to its projection check.
    fence: Option<Arc<Lease>>,
}

/// The store's statements, with table names qualified by the configured
/// schema. They are built once at open, since every call prepares one.
struct Statements {
    generations: String,
    begin: String,
    describe: String,
    load: String,
    advance: String,
    checkpoint: String,
    put: String,
    delete: String,
    lock_projection: String,
    swap: String,
    drop_record: String,
    drop_views: String,
    get: String,
    list_first: String,
    list_after: String,
    acquire: String,
    renew: String,
    release: String,
    leases: String,
    fence: String,
    /// The lease table's qualified name, to ask whether it exists.
    leases_table: String,
}

/// How long a fenced write's transaction may wait on a stalled client
/// before the server ends the session, releasing the lease row.
const IDLE_IN_FENCED_TRANSACTION: &str = "SET LOCAL idle_in_transaction_session_timeout = '5s'";

/// The server's clock in milliseconds since the epoch: lease times are
/// all taken from it.
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

impl Statements {
    fn new(schema: &str) -> Self {
        let projections = format!("{schema}.treaty_projections");
        let views = format!("{schema}.treaty_views");
        let leases = format!("{schema}.treaty_view_leases");
        let live_views = format!(
            "FROM {projections} p JOIN {views} v ON v.projection = p.name AND v.generation = p.generation \
             WHERE p.name = $1 AND p.status = 'live'"
        );
        Statements {
            // `*`, and the added columns by name: a schema of the first
            // layout, opened with `open_existing` (which migrates nothing),
            // has none of them.
            generations: format!("SELECT * FROM {projections} ORDER BY name, generation"),
            describe: format!(
                "UPDATE {projections} SET code = COALESCE($3, code), \
                 events_per_second = COALESCE($4, events_per_second) WHERE name = $1 AND generation = $2"
            ),
            begin: format!(
                "INSERT INTO {projections} (name, generation, fingerprint, checkpoint, status, updated_at) \
                 VALUES ($1, $2, $3, 0, 'building', $4) ON CONFLICT DO NOTHING"
            ),
            load: format!("SELECT key, value FROM {views} WHERE projection = $1 AND generation = $2 AND key = ANY($3)"),
            advance: format!(
                "UPDATE {projections} SET checkpoint = $1, updated_at = $2 \
                 WHERE name = $3 AND generation = $4 AND checkpoint = $5"
            ),
            checkpoint: format!("SELECT checkpoint FROM {projections} WHERE name = $1 AND generation = $2"),
            put: format!(
                "INSERT INTO {views} (projection, generation, key, value) \
                 SELECT $1, $2, t.key, t.value FROM unnest($3::text[], $4::text[]) AS t(key, value) \
                 ON CONFLICT (projection, generation, key) DO UPDATE SET value = EXCLUDED.value"
            ),
            delete: format!("DELETE FROM {views} WHERE projection = $1 AND generation = $2 AND key = ANY($3)"),
            // Locking in generation order means two promotions of one
            // projection queue behind each other instead of deadlocking.
            lock_projection: format!(
                "SELECT generation, status FROM {projections} WHERE name = $1 ORDER BY generation FOR UPDATE"
            ),
            // One statement retires the live generation and makes the new
            // one live, keeping the retired one's time like SQLite does.
            swap: format!(
                "UPDATE {projections} SET \
                 status = CASE WHEN generation = $2 THEN 'live' ELSE 'retired' END, \
                 updated_at = CASE WHEN generation = $2 THEN $3 ELSE updated_at END \
                 WHERE name = $1 AND (generation = $2 OR status = 'live')"
            ),
            drop_record: format!("DELETE FROM {projections} WHERE name = $1 AND generation = $2"),
            drop_views: format!("DELETE FROM {views} WHERE projection = $1 AND generation = $2"),
            get: format!("SELECT v.value {live_views} AND v.key = $2"),
            // Two statements rather than `$2 IS NULL OR key > $2`, so each
            // has a plain index range to scan.
            list_first: format!("SELECT v.key, v.value {live_views} ORDER BY v.key LIMIT $2"),
            list_after: format!("SELECT v.key, v.value {live_views} AND v.key > $2 ORDER BY v.key LIMIT $3"),
            // Taken when free, expired, or held under the same name; the
            // token grows by one at each acquisition. Two instances racing
            // for one expired lease queue on its row, and the second then
            // finds it unexpired and takes nothing.
            acquire: format!(
                "INSERT INTO {leases} AS l (projection, holder, token, expires_at) VALUES ($1, $2, 1, {NOW_MS} + $3) \
                 ON CONFLICT (projection) DO UPDATE SET holder = EXCLUDED.holder, token = l.token + 1, \
                 expires_at = EXCLUDED.expires_at \
                 WHERE l.expires_at <= {NOW_MS} OR l.holder = EXCLUDED.holder \
                 RETURNING token, expires_at"
            ),
            renew: format!(
                "UPDATE {leases} SET expires_at = {NOW_MS} + $4 WHERE projection = $1 AND token = $2 AND holder = $3 \
                 RETURNING expires_at"
            ),
            release: format!("UPDATE {leases} SET expires_at = 0 WHERE projection = $1 AND token = $2 AND holder = $3"),
            leases: format!("SELECT projection, holder, token, expires_at FROM {leases} ORDER BY projection"),
            fence: format!("SELECT token, holder FROM {leases} WHERE projection = $1 FOR SHARE"),
            leases_table: leases,
        }
    }
}

impl std::fmt::Debug for PostgresViewStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresViewStore")
            .field("location", &self.inner.location)
            .finish()
    }
}

impl PostgresViewStore {
    /// Connects to `url` (`postgres://user:password@host/database`) with
    /// default settings (schema `treaty`, beside a default event store) and
    /// creates the tables if needed.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the server cannot be reached or the tables
    /// cannot be created.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        PostgresViewStore::open_with(url, PostgresOptions::default()).await
    }

    /// Connects to `url` and creates the tables in `options.schema` if
    /// needed, with at most `options.pool_size` connections. Given the
    /// event store's options (`PostgresConfig::connection`), the views sit
    /// beside its tables.
    ///
    /// # Errors
    ///
    /// When the URL is invalid, the schema name is not a plain identifier,
    /// the server cannot be reached or the tables cannot be created.
    pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
        let connected = postgres::connect(url, &options, Component::ViewStore, Statements::new, |schema, _| {
            format!(
                "CREATE TABLE IF NOT EXISTS {schema}.treaty_projections (
                     name        TEXT COLLATE \"C\" NOT NULL,
                     generation  BIGINT NOT NULL,
                     fingerprint TEXT NOT NULL,
                     checkpoint  BIGINT NOT NULL,
                     status      TEXT NOT NULL,
                     updated_at  BIGINT NOT NULL,
                     code        TEXT,
                     events_per_second BIGINT,
                     PRIMARY KEY (name, generation)
                 );
                 {migration}
                 CREATE TABLE IF NOT EXISTS {schema}.treaty_views (
                     projection TEXT COLLATE \"C\" NOT NULL,
                     generation BIGINT NOT NULL,
                     key        TEXT COLLATE \"C\" NOT NULL,
                     value      TEXT NOT NULL,
                     PRIMARY KEY (projection, generation, key)
                 );
                 CREATE TABLE IF NOT EXISTS {schema}.treaty_view_leases (
                     projection TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,
                     holder     TEXT NOT NULL,
                     token      BIGINT NOT NULL,
                     expires_at BIGINT NOT NULL
                 );",
                migration = projections_migration(schema),
            )
        })
        .await?;
        Ok(PostgresViewStore {
            inner: Arc::new(connected),
            fence: None,
        })
    }

    /// Connects to the existing view store in `options.schema`, creating
    /// nothing: for tools such as `treaty projections status`, which look
    /// at the views but must not create a schema or a table, nor need the
    /// privileges to. Unlike [`open_with`](Self::open_with) it runs no DDL
    /// and takes no advisory lock, only a read of `pg_catalog.pg_tables`.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the schema lacks the view store's tables
    /// (with `found` empty when no projection ever ran there),
    /// [`OpenError::Storage`] when the URL is invalid, the schema name is
    /// not a plain identifier or the server cannot be reached.
    pub async fn open_existing(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
        let connected =
            postgres::connect_existing(url, &options, Component::ViewStore, TABLES, Statements::new).await?;
        Ok(PostgresViewStore {
            inner: Arc::new(connected),
            fence: None,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, ViewError> {
        self.inner.pool.get().await.map_err(storage)
    }

    /// Fails with [`ViewError::LeaseLost`] when this handle is fenced by a
    /// lease on `projection` whose token is no longer the recorded one.
    /// The row stays locked `FOR SHARE` until `tx` ends, so no takeover
    /// commits meanwhile.
    async fn check_fence(&self, tx: &deadpool_postgres::Transaction<'_>, projection: &str) -> Result<(), ViewError> {
        let Some(lease) = self.fence.as_deref().filter(|lease| lease.projection == projection) else {
            return Ok(());
        };
        // The lock taken below blocks a takeover while this transaction is
        // open: should this process stall inside it (paused, frozen), the
        // server ends its session after a while, so the lease can still be
        // taken over. Statements that run take as long as they need; only
        // a transaction waiting on its client counts.
        tx.batch_execute(IDLE_IN_FENCED_TRANSACTION).await.map_err(storage)?;
        let statement = tx.prepare_cached(&self.inner.sql.fence).await.map_err(storage)?;
        let row = tx.query_opt(&statement, &[&projection]).await.map_err(storage)?;
        let recorded = row.map(|row| (row.get::<_, i64>(0), row.get::<_, String>(1)));
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
}

/// Adds the columns later layouts added to `treaty_projections` (item
/// lists and rates; the first layout had neither) when they are missing.
/// Runs in the table-creation transaction; does nothing once done.
fn projections_migration(schema: &str) -> String {
    let mut statement = String::from("DO $migrate$ BEGIN");
    for (column, ty) in [("code", "TEXT"), ("events_per_second", "BIGINT")] {
        statement.push_str(&format!(
            "
                 IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                                WHERE table_schema = '{schema}' AND table_name = 'treaty_projections'
                                  AND column_name = '{column}') THEN
                     ALTER TABLE {schema}.treaty_projections ADD COLUMN {column} {ty};
                 END IF;"
        ));
    }
    statement.push_str("\n             END $migrate$;");
    statement
}

/// Starts a read-committed transaction whatever the server's default.
/// The fencing relies on it: a statement that waited for another
/// transaction's row lock then sees that transaction's outcome (a moved
/// checkpoint, a deleted record) instead of failing to serialize.
async fn read_committed(
    client: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, ViewError> {
    client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(storage)
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> ViewError {
    ViewError::Storage(Box::new(e))
}

fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

fn lease_row(projection: &str, holder: &str, token: i64, expires_at: i64) -> Result<Lease, ViewError> {
    Ok(Lease {
        projection: projection.to_string(),
        holder: holder.to_string(),
        token: token as u64,
        expires_at: Timestamp::from_millisecond(expires_at).map_err(storage)?,
    })
}

fn now_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

/// A generation or checkpoint as stored: the columns are `BIGINT`.
fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The net effect of a commit's changes, as the two batched statements
/// take it: keys and values to write, and keys to delete.
struct NetChanges<'a> {
    put_keys: Vec<&'a str>,
    put_values: Vec<&'a str>,
    deletes: Vec<&'a str>,
}

/// The net effect of `changes` applied in order: the last change of each
/// key. One statement may not touch a row twice, and a later change of a
/// key must win as it does when changes are applied one by one. Keys come
/// out sorted, so rows are written in index order.
fn net_changes(changes: &[ViewChange]) -> Result<NetChanges<'_>, ViewError> {
    let mut last: BTreeMap<&str, Option<&[u8]>> = BTreeMap::new();
    for change in changes {
        last.insert(&change.key, change.value.as_deref());
    }
    let mut net = NetChanges {
        put_keys: Vec::new(),
        put_values: Vec::new(),
        deletes: Vec::new(),
    };
    for (key, value) in last {
        match value {
            Some(json) => {
                net.put_keys.push(key);
                net.put_values.push(std::str::from_utf8(json).map_err(storage)?);
            }
            None => net.deletes.push(key),
        }
    }
    Ok(net)
}

impl ViewStore for PostgresViewStore {
    async fn generations(&self) -> Result<Vec<Generation>, ViewError> {
        let client = self.client().await?;
        // Not a cached statement: its columns depend on the layout, which
        // a migration by another process may change.
        let rows = client
            .query(self.inner.sql.generations.as_str(), &[])
            .await
            .map_err(storage)?;
        let invalid = |reason: String| ViewError::InvalidRow {
            location: self.inner.location.clone(),
            reason,
        };
        let mut generations = Vec::with_capacity(rows.len());
        for row in rows {
            let column = |name: &str| row.columns().iter().position(|c| c.name() == name);
            let projection: String = row.try_get("name").map_err(storage)?;
            let generation: i64 = row.try_get("generation").map_err(storage)?;
            let fingerprint: String = row.try_get("fingerprint").map_err(storage)?;
            let checkpoint: i64 = row.try_get("checkpoint").map_err(storage)?;
            let status: &str = row.try_get("status").map_err(storage)?;
            let updated_at: i64 = row.try_get("updated_at").map_err(storage)?;
            let code: Option<String> = match column("code") {
                Some(c) => row.try_get(c).map_err(storage)?,
                None => None,
            };
            let rate: Option<i64> = match column("events_per_second") {
                Some(c) => row.try_get(c).map_err(storage)?,
                None => None,
            };
            let status = GenerationStatus::parse(status).ok_or_else(|| {
                invalid(format!(
                    "projection {projection} generation {generation} has unknown status {status:?}"
                ))
            })?;
            let updated_at = Timestamp::from_millisecond(updated_at)
                .map_err(|e| invalid(format!("projection {projection} has an invalid time: {e}")))?;
            let generation = u64::try_from(generation).map_err(|_| {
                invalid(format!(
                    "projection {projection} has a negative generation {generation}"
                ))
            })?;
            let checkpoint = u64::try_from(checkpoint).map_err(|_| {
                invalid(format!(
                    "projection {projection} generation {generation} has a negative checkpoint {checkpoint}"
                ))
            })?;
            generations.push(Generation {
                projection,
                generation,
                fingerprint,
                checkpoint,
                status,
                updated_at,
                code: parse_code(code.as_deref()),
                events_per_second: rate.and_then(|r| u64::try_from(r).ok()),
            });
        }
        Ok(generations)
    }

    async fn describe(&self, projection: &str, generation: u64, details: GenerationDetails) -> Result<(), ViewError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.describe).await.map_err(storage)?;
        let code = details.code.as_ref().map(code_json);
        let rate = details.events_per_second.map(stored);
        client
            .execute(&statement, &[&projection, &stored(generation), &code, &rate])
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn begin_generation(&self, projection: &str, generation: u64, fingerprint: &str) -> Result<(), ViewError> {
        let mut client = self.client().await?;
        let tx = read_committed(&mut client).await?;
        self.check_fence(&tx, projection).await?;
        let statement = tx.prepare_cached(&self.inner.sql.begin).await.map_err(storage)?;
        let inserted = tx
            .execute(
                &statement,
                &[&projection, &stored(generation), &fingerprint, &now_millis()],
            )
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        if inserted == 0 {
            return Err(ViewError::WrongGeneration {
                projection: projection.to_string(),
                generation,
                reason: "exists already",
            });
        }
        Ok(())
    }

    async fn load(
        &self,
        projection: &str,
        generation: u64,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.load).await.map_err(storage)?;
        // One array parameter carries every key: one round trip whatever
        // the batch size, and no limit on bound parameters to chunk for.
        let rows = client
            .query(&statement, &[&projection, &stored(generation), &keys])
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1).into_bytes()))
            .collect())
    }

    async fn commit(
        &self,
        projection: &str,
        generation: u64,
        from: u64,
        to: u64,
        changes: Vec<ViewChange>,
    ) -> Result<(), ViewError> {
        let sql = &self.inner.sql;
        let mut client = self.client().await?;
        let tx = read_committed(&mut client).await?;
        self.check_fence(&tx, projection).await?;
        let advance = tx.prepare_cached(&sql.advance).await.map_err(storage)?;
        let generation_param = stored(generation);
        // The fence: this update holds the generation's row until the
        // transaction ends, so a concurrent commit from the same checkpoint
        // waits here and then matches no row.
        let moved = tx
            .execute(
                &advance,
                &[
                    &stored(to),
                    &now_millis(),
                    &projection,
                    &generation_param,
                    &stored(from),
                ],
            )
            .await
            .map_err(storage)?;
        if moved == 0 {
            let checkpoint = tx.prepare_cached(&sql.checkpoint).await.map_err(storage)?;
            let found = tx
                .query_opt(&checkpoint, &[&projection, &generation_param])
                .await
                .map_err(storage)?
                .map(|row| row.get::<_, i64>(0) as u64);
            tx.rollback().await.map_err(storage)?;
            return Err(ViewError::CheckpointMoved {
                projection: projection.to_string(),
                generation,
                expected: from,
                found,
            });
        }
        let net = net_changes(&changes)?;
        let put = tx.prepare_cached(&sql.put).await.map_err(storage)?;
        let delete = tx.prepare_cached(&sql.delete).await.map_err(storage)?;
        // The writes touch different keys, so they are sent together and
        // share one round trip (tokio-postgres pipelines them).
        let writes = async {
            if net.put_keys.is_empty() {
                return Ok(0);
            }
            tx.execute(&put, &[&projection, &generation_param, &net.put_keys, &net.put_values])
                .await
        };
        let deletions = async {
            if net.deletes.is_empty() {
                return Ok(0);
            }
            tx.execute(&delete, &[&projection, &generation_param, &net.deletes])
                .await
        };
        futures::future::try_join(writes, deletions).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    async fn promote(&self, projection: &str, generation: u64) -> Result<Option<u64>, ViewError> {
        let sql = &self.inner.sql;
        let mut client = self.client().await?;
        let tx = read_committed(&mut client).await?;
        self.check_fence(&tx, projection).await?;
        let lock = tx.prepare_cached(&sql.lock_projection).await.map_err(storage)?;
        // Locking every generation of the projection first means the
        // statuses read here stay true until the swap below commits.
        let rows = tx.query(&lock, &[&projection]).await.map_err(storage)?;
        let target = stored(generation);
        let status_of = |wanted: &dyn Fn(i64, &str) -> bool| {
            rows.iter()
                .map(|row| (row.get::<_, i64>(0), row.get::<_, &str>(1)))
                .find(|(generation, status)| wanted(*generation, status))
                .map(|(generation, _)| generation)
        };
        if status_of(&|g, status| g == target && status == "building").is_none() {
            tx.rollback().await.map_err(storage)?;
            return Err(ViewError::WrongGeneration {
                projection: projection.to_string(),
                generation,
                reason: "is not being built",
            });
        }
        let retired = status_of(&|_, status| status == "live").map(|g| g as u64);
        let swap = tx.prepare_cached(&sql.swap).await.map_err(storage)?;
        tx.execute(&swap, &[&projection, &target, &now_millis()])
            .await
            .map_err(storage)?;
        tx.commit().await.map_err(storage)?;
        Ok(retired)
    }

    async fn drop_generation(&self, projection: &str, generation: u64) -> Result<(), ViewError> {
        let sql = &self.inner.sql;
        let mut client = self.client().await?;
        let tx = read_committed(&mut client).await?;
        self.check_fence(&tx, projection).await?;
        let generation = stored(generation);
        // The record goes first: deleting it waits for a commit holding it,
        // and the next statement, with a fresh snapshot, then sees and
        // deletes the views that commit wrote. Later commits find no record
        // and write nothing.
        let record = tx.prepare_cached(&sql.drop_record).await.map_err(storage)?;
        tx.execute(&record, &[&projection, &generation])
            .await
            .map_err(storage)?;
        let views = tx.prepare_cached(&sql.drop_views).await.map_err(storage)?;
        tx.execute(&views, &[&projection, &generation]).await.map_err(storage)?;
        tx.commit().await.map_err(storage)
    }

    async fn acquire(&self, projection: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.acquire).await.map_err(storage)?;
        let row = client
            .query_opt(&statement, &[&projection, &holder, &ttl_millis(ttl)])
            .await
            .map_err(storage)?;
        row.map(|row| lease_row(projection, holder, row.get(0), row.get(1)))
            .transpose()
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.renew).await.map_err(storage)?;
        let row = client
            .query_opt(
                &statement,
                &[&lease.projection, &stored(lease.token), &lease.holder, &ttl_millis(ttl)],
            )
            .await
            .map_err(storage)?;
        row.map(|row| lease_row(&lease.projection, &lease.holder, stored(lease.token), row.get(0)))
            .transpose()
    }

    async fn release(&self, lease: &Lease) -> Result<(), ViewError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.release).await.map_err(storage)?;
        client
            .execute(&statement, &[&lease.projection, &stored(lease.token), &lease.holder])
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn leases(&self) -> Result<Vec<Lease>, ViewError> {
        let client = self.client().await?;
        // A schema of a layout from before leases, opened with
        // `open_existing`, has no lease table.
        let present = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&self.inner.sql.leases_table])
            .await
            .map_err(storage)?
            .get::<_, bool>(0);
        if !present {
            return Ok(Vec::new());
        }
        let rows = client.query(&self.inner.sql.leases, &[]).await.map_err(storage)?;
        rows.iter()
            .map(|row| lease_row(row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect()
    }

    fn fenced(&self, lease: &Lease) -> Self {
        PostgresViewStore {
            inner: self.inner.clone(),
            fence: Some(Arc::new(lease.clone())),
        }
    }

    async fn get(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>, ViewError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(&self.inner.sql.get).await.map_err(storage)?;
        // One statement, one snapshot: it sees the live generation either
        // before or after a promotion, never a mix.
        let rows = client.query(&statement, &[&projection, &key]).await.map_err(storage)?;
        Ok(rows.first().map(|row| row.get::<_, String>(0).into_bytes()))
    }

    async fn list(
        &self,
        projection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match after {
            None => {
                let statement = client
                    .prepare_cached(&self.inner.sql.list_first)
                    .await
                    .map_err(storage)?;
                client.query(&statement, &[&projection, &limit]).await
            }
            Some(after) => {
                let statement = client
                    .prepare_cached(&self.inner.sql.list_after)
                    .await
                    .map_err(storage)?;
                client.query(&statement, &[&projection, &after, &limit]).await
            }
        }
        .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1).into_bytes()))
            .collect())
    }
}
