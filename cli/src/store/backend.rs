//! Opening the store named by `--db`, and the few store operations the
//! subcommands use, over either backend.
//!
//! The commands only read, so they open stores with `open_existing`:
//! nothing is created or moved, SQLite files are opened read-only, and a
//! PostgreSQL role allowed only `SELECT` suffices. A mistyped path or
//! schema gets the runtime's error, which names the missing tables.

use treaty_runtime::store::registry::{self, CompiledContract, Mode, RegisterError, StoredContract};
use treaty_runtime::store::{
    Direction, EventStore, EventStream, PostgresConfig, PostgresStore, ReadError, SqliteConfig, SqliteStore, StreamName,
};

use super::{describe, Failure};
use crate::db::{Database, DbArgs, Subject};

/// How `treaty store` names the database `--db` names.
const STORE: Subject = Subject {
    noun: "store",
    creates_none: "store commands never create one",
};

/// An open store of either backend. `EventStore` has async methods, so it
/// cannot be a trait object; this enum forwards the calls instead.
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Every event from `position` on, in position order.
    pub fn read_all(&self, position: u64) -> EventStream {
        match self {
            Store::Sqlite(store) => store.read_all(position),
            Store::Postgres(store) => store.read_all(position),
        }
    }

    /// The events of one stream, oldest first.
    pub fn read_stream(&self, stream: &StreamName) -> EventStream {
        match self {
            Store::Sqlite(store) => store.read_stream(stream, 1, Direction::Forward),
            Store::Postgres(store) => store.read_stream(stream, 1, Direction::Forward),
        }
    }

    /// The position of the last event.
    pub async fn head(&self) -> Result<u64, ReadError> {
        match self {
            Store::Sqlite(store) => store.head().await,
            Store::Postgres(store) => store.head().await,
        }
    }

    /// The contract registry.
    pub async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        match self {
            Store::Sqlite(store) => store.contracts().await,
            Store::Postgres(store) => store.contracts().await,
        }
    }

    /// [`registry::check_contracts_in`]: compares in `mode` without
    /// writing.
    pub async fn check_contracts_in(&self, compiled: &[CompiledContract], mode: Mode) -> Result<(), RegisterError> {
        match self {
            Store::Sqlite(store) => registry::check_contracts_in(store, compiled, mode).await,
            Store::Postgres(store) => registry::check_contracts_in(store, compiled, mode).await,
        }
    }
}

/// Opens the store `--db` names: a PostgreSQL URL, or else a SQLite file.
///
/// # Errors
///
/// A usage failure (exit 2) naming the path or the URL (without its
/// password) when there is no store there or it cannot be opened.
pub async fn open(db: &DbArgs) -> Result<Store, Failure> {
    let opened = match Database::from_args(db, &STORE)? {
        Database::Sqlite(path) => SqliteStore::open_existing(path, SqliteConfig::default()).map(Store::Sqlite),
        Database::Postgres { url, options } => {
            let config = PostgresConfig {
                connection: options,
                ..PostgresConfig::default()
            };
            PostgresStore::open_existing(&url, config).await.map(Store::Postgres)
        }
    };
    opened.map_err(|e| Failure::usage(describe(&e)))
}
