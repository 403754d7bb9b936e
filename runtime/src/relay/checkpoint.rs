//! Where a relay remembers how far it has published: a table in the
//! database of the store it reads (the SQLite file, or the PostgreSQL
//! schema), so the checkpoint and the events it counts live and are
//! backed up together.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};

/// The checkpoint table, as `open_existing` looks for it.
const TABLES: &[&str] = &["treaty_relay_checkpoints"];

const SQLITE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS treaty_relay_checkpoints (
    relay    TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
";

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The stored position is not a position.
    #[error("the relay checkpoint of {relay} at {location} holds {value}, not a position")]
    Invalid {
        /// The relay.
        relay: String,
        /// The database.
        location: String,
        /// What is stored.
        value: i64,
    },
    /// The backend failed.
    #[error("relay checkpoint storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The positions up to which relays have published, by relay name.
///
/// A checkpoint only moves forward: saving a lower position than the one
/// stored keeps the stored one, so a relay that lost its lease of the
/// work to another (two processes started by mistake) cannot move it back.
pub trait RelayCheckpoints: Clone + Send + Sync + 'static {
    /// The position up to which `relay` has published, 0 when it never
    /// published.
    ///
    /// # Errors
    ///
    /// When the backend fails or the stored value is not a position.
    fn load(&self, relay: &str) -> impl Future<Output = Result<u64, CheckpointError>> + Send;

    /// Records that `relay` has published every chosen event up to
    /// `position`.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn save(&self, relay: &str, position: u64) -> impl Future<Output = Result<(), CheckpointError>> + Send;
}

/// Relay checkpoints in a SQLite file, the event store's own.
#[derive(Clone)]
pub struct SqliteRelayCheckpoints {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteRelayCheckpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteRelayCheckpoints")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteRelayCheckpoints {
    /// Opens (or creates) the checkpoint table in the database at `path`,
    /// durable like the event store's default.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the table cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteRelayCheckpoints::open_with(path, Durability::Full)
    }

    /// Opens (or creates) the checkpoint table with the given durability.
    /// With [`Durability::Normal`] a power loss may take the checkpoint
    /// back a little; the relay then publishes those events again, which
    /// subscribers' inboxes absorb.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the table cannot be created.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let open = || {
            let mut conn = connect(&path, durability)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SQLITE_SCHEMA)?;
            tx.commit()?;
            Ok(conn)
        };
        let conn = open().map_err(|e: rusqlite::Error| open_failed(&path, e))?;
        Ok(SqliteRelayCheckpoints::from_connection(path, conn))
    }

    /// Opens the existing checkpoint table at `path`, creating nothing:
    /// for tools that read or reset checkpoints.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when no relay ever ran on the file,
    /// [`OpenError::Storage`] when it cannot be opened.
    pub fn open_existing(path: impl AsRef<Path>, durability: Durability) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        check_tables(&path, Component::RelayCheckpoints, TABLES)?;
        let conn = connect_existing(&path, durability).map_err(|e| open_failed(&path, e))?;
        Ok(SqliteRelayCheckpoints::from_connection(path, conn))
    }

    fn from_connection(path: PathBuf, conn: Connection) -> Self {
        SqliteRelayCheckpoints {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
            }),
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &str) -> Result<T, CheckpointError> + Send + 'static,
    ) -> Result<T, CheckpointError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&conn, &inner.path.display().to_string())
        })
        .await
        .map_err(|e| CheckpointError::Storage(Box::new(e)))?
    }
}

fn open_failed(path: &Path, source: rusqlite::Error) -> OpenError {
    OpenError::storage(Component::RelayCheckpoints, path.display().to_string(), source)
}

fn storage(e: impl std::error::Error + Send + Sync + 'static) -> CheckpointError {
    CheckpointError::Storage(Box::new(e))
}

/// A stored value as a position.
fn position(relay: &str, location: &str, value: Option<i64>) -> Result<u64, CheckpointError> {
    match value {
        None => Ok(0),
        Some(value) => u64::try_from(value).map_err(|_| CheckpointError::Invalid {
            relay: relay.to_string(),
            location: location.to_string(),
            value,
        }),
    }
}

/// A position as stored: positions come from the store, which keeps them
/// in 63 bits.
fn stored(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

impl RelayCheckpoints for SqliteRelayCheckpoints {
    async fn load(&self, relay: &str) -> Result<u64, CheckpointError> {
        let relay = relay.to_string();
        self.with_conn(move |conn, location| {
            let value = conn
                .prepare_cached("SELECT position FROM treaty_relay_checkpoints WHERE relay = ?1")
                .map_err(storage)?
                .query_row(params![relay], |row| row.get::<_, i64>(0))
                .optional()
                .map_err(storage)?;
            position(&relay, location, value)
        })
        .await
    }

    async fn save(&self, relay: &str, position: u64) -> Result<(), CheckpointError> {
        let relay = relay.to_string();
        self.with_conn(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO treaty_relay_checkpoints (relay, position) VALUES (?1, ?2) \
                 ON CONFLICT (relay) DO UPDATE SET position = MAX(position, excluded.position)",
            )
            .map_err(storage)?
            .execute(params![relay, stored(position)])
            .map_err(storage)?;
            Ok(())
        })
        .await
    }
}

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresRelayCheckpoints;

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::Arc;

    use super::{position, storage, stored, CheckpointError, RelayCheckpoints, TABLES};
    use crate::storage::postgres::{self, Connected};
    use crate::storage::{Component, OpenError, PostgresOptions};

    /// Relay checkpoints in PostgreSQL, in the event store's schema.
    /// Clones share the connection pool.
    #[derive(Clone)]
    pub struct PostgresRelayCheckpoints {
        inner: Arc<Connected<Statements>>,
    }

    struct Statements {
        load: String,
        save: String,
    }

    impl Statements {
        fn new(schema: &str) -> Self {
            let table = format!("{schema}.treaty_relay_checkpoints");
            Statements {
                load: format!("SELECT position FROM {table} WHERE relay = $1"),
                save: format!(
                    "INSERT INTO {table} (relay, position) VALUES ($1, $2) \
                     ON CONFLICT (relay) DO UPDATE SET position = GREATEST({table}.position, EXCLUDED.position)"
                ),
            }
        }
    }

    impl std::fmt::Debug for PostgresRelayCheckpoints {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("PostgresRelayCheckpoints")
                .field("location", &self.inner.location)
                .finish()
        }
    }

    impl PostgresRelayCheckpoints {
        /// Connects to `url` and creates the table in `options.schema` if
        /// needed; given the event store's options
        /// (`PostgresConfig::connection`), it sits beside its tables.
        ///
        /// # Errors
        ///
        /// When the URL is invalid, the schema name is not a plain
        /// identifier, the server cannot be reached or the table cannot be
        /// created.
        pub async fn open_with(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
            let connected = postgres::connect(
                url,
                &options,
                Component::RelayCheckpoints,
                Statements::new,
                |schema, _| {
                    format!(
                        "CREATE TABLE IF NOT EXISTS {schema}.treaty_relay_checkpoints (
                         relay    TEXT PRIMARY KEY,
                         position BIGINT NOT NULL
                     );"
                    )
                },
            )
            .await?;
            Ok(PostgresRelayCheckpoints {
                inner: Arc::new(connected),
            })
        }

        /// Connects to the existing checkpoint table, creating nothing.
        ///
        /// # Errors
        ///
        /// [`OpenError::Missing`] when no relay ever ran in the schema,
        /// [`OpenError::Storage`] when the server cannot be reached.
        pub async fn open_existing(url: &str, options: PostgresOptions) -> Result<Self, OpenError> {
            let connected =
                postgres::connect_existing(url, &options, Component::RelayCheckpoints, TABLES, Statements::new).await?;
            Ok(PostgresRelayCheckpoints {
                inner: Arc::new(connected),
            })
        }
    }

    impl RelayCheckpoints for PostgresRelayCheckpoints {
        async fn load(&self, relay: &str) -> Result<u64, CheckpointError> {
            let client = self.inner.pool.get().await.map_err(storage)?;
            let statement = client.prepare_cached(&self.inner.sql.load).await.map_err(storage)?;
            let row = client.query_opt(&statement, &[&relay]).await.map_err(storage)?;
            position(relay, &self.inner.location, row.map(|row| row.get::<_, i64>(0)))
        }

        async fn save(&self, relay: &str, position: u64) -> Result<(), CheckpointError> {
            let client = self.inner.pool.get().await.map_err(storage)?;
            let statement = client.prepare_cached(&self.inner.sql.save).await.map_err(storage)?;
            client
                .execute(&statement, &[&relay, &stored(position)])
                .await
                .map_err(storage)?;
            Ok(())
        }
    }
}
