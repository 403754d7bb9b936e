//! Opening the store named by `--db`, and the few store operations the
//! subcommands use, over either backend.
//!
//! The commands only read, so they open stores read-only: nothing is
//! created or moved, SQLite files are opened read-only, and a PostgreSQL
//! role allowed only `SELECT` suffices. A first look says which of the
//! store's tables are missing, so a mistyped path or schema gets an error
//! that names them.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use treaty_runtime::store::registry::{self, CompiledContract, RegisterError, StoredContract};
use treaty_runtime::store::{
    Direction, EventStore, EventStream, PostgresConfig, PostgresStore, ReadError, SqliteStore, StreamName,
};

use super::{describe, DbArgs, Failure};

/// The schema `PostgresStore` uses unless told otherwise.
pub(crate) const DEFAULT_SCHEMA: &str = "treaty";

/// The tables every Treaty store has, per backend.
const SQLITE_TABLES: [&str; 2] = ["events", "contracts"];
const POSTGRES_TABLES: [&str; 3] = ["events", "head", "contracts"];

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

    /// [`registry::check_contracts`]: compares without writing.
    pub async fn check_contracts(&self, compiled: &[CompiledContract]) -> Result<(), RegisterError> {
        match self {
            Store::Sqlite(store) => registry::check_contracts(store, compiled).await,
            Store::Postgres(store) => registry::check_contracts(store, compiled).await,
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
    if is_postgres_url(&db.db) {
        let schema = db.schema.as_deref().unwrap_or(DEFAULT_SCHEMA);
        return open_postgres(&db.db, schema).await.map(Store::Postgres);
    }
    if db.schema.is_some() {
        return Err(Failure::usage(format!(
            "--schema applies to PostgreSQL stores only, and {} is a SQLite file path",
            db.db
        )));
    }
    open_sqlite(Path::new(&db.db)).map(Store::Sqlite)
}

pub(crate) fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

fn open_sqlite(path: &Path) -> Result<SqliteStore, Failure> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(Failure::usage(format!(
                "{shown} is not a file, so it is not a SQLite store"
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::usage(format!(
                "no store at {shown}: the file does not exist (store commands never create one)"
            )))
        }
        Err(e) => return Err(Failure::usage(format!("cannot read {shown}: {e}"))),
    }
    let missing =
        missing_sqlite_tables(path).map_err(|e| Failure::usage(format!("cannot open {shown}: {}", describe(&e))))?;
    if !missing.is_empty() {
        return Err(not_a_store(&shown.to_string(), &missing));
    }
    SqliteStore::open_read_only(path).map_err(|e| Failure::usage(describe(&e)))
}

/// The store tables `path` lacks, found through a read-only connection so
/// that looking never changes the file.
fn missing_sqlite_tables(path: &Path) -> rusqlite::Result<Vec<&'static str>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut statement = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    let mut missing = Vec::new();
    for table in SQLITE_TABLES {
        if !statement.exists([table])? {
            missing.push(table);
        }
    }
    Ok(missing)
}

async fn open_postgres(url: &str, schema: &str) -> Result<PostgresStore, Failure> {
    let shown = redact(url);
    let missing = missing_postgres_tables(url, schema)
        .await
        .map_err(|e| Failure::usage(format!("cannot open the store at {shown}: {}", describe(&e))))?;
    if !missing.is_empty() {
        return Err(not_a_store(&format!("{shown} (schema {schema})"), &missing));
    }
    let config = PostgresConfig {
        schema: schema.to_string(),
        // One command reads one thing at a time.
        pool_size: 2,
        ..PostgresConfig::default()
    };
    PostgresStore::open_existing(url, config)
        .await
        .map_err(|e| Failure::usage(describe(&e)))
}

/// The store tables `schema` lacks, found with one query on a connection
/// of its own that is closed again before the store opens its pool.
async fn missing_postgres_tables(url: &str, schema: &str) -> Result<Vec<&'static str>, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .await?;
    drop(client);
    // The connection ends once the client is gone; its own error, if any,
    // changes nothing about the answer already read.
    let _ = driver.await;
    let present: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
    Ok(POSTGRES_TABLES
        .into_iter()
        .filter(|table| !present.iter().any(|p| p == table))
        .collect())
}

fn not_a_store(location: &str, missing: &[&str]) -> Failure {
    let mut tables: Vec<String> = missing.iter().map(|t| format!("`{t}`")).collect();
    let last = tables.pop().unwrap_or_default();
    let (tables, verb) = if tables.is_empty() {
        (format!("{last} table"), "is")
    } else {
        (format!("{} and {last} tables", tables.join(", ")), "are")
    };
    Failure::usage(format!(
        "no Treaty event store at {location}: its {tables} {verb} missing (store commands never create one)"
    ))
}

/// The URL with its password (in the authority or as a `password=`
/// parameter) replaced, fit for error messages.
pub(crate) fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = redact_authority(base);
    if let Some(query) = query {
        let parameters: Vec<&str> = query
            .split('&')
            .map(|p| if p.starts_with("password=") { "password=***" } else { p })
            .collect();
        shown.push('?');
        shown.push_str(&parameters.join("&"));
    }
    shown
}

fn redact_authority(base: &str) -> String {
    let Some(scheme) = base.find("://") else {
        return base.to_string();
    };
    let start = scheme + 3;
    let end = base[start..].find('/').map_or(base.len(), |i| start + i);
    let authority = &base[start..end];
    match authority.rfind('@').map(|at| authority.split_at(at)) {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{}{user}:***{host}{}", &base[..start], &base[end..]),
            None => base.to_string(),
        },
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://treaty:secret@127.0.0.1:5432/treaty"),
            "postgres://treaty:***@127.0.0.1:5432/treaty"
        );
        assert_eq!(redact("postgres://treaty@host/db"), "postgres://treaty@host/db");
        assert_eq!(
            redact("postgresql://host/db?user=a&password=b&sslmode=disable"),
            "postgresql://host/db?user=a&password=***&sslmode=disable"
        );
    }

    #[test]
    fn only_postgres_schemes_are_urls() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("events.db"));
        assert!(!is_postgres_url("sqlite://events.db"));
    }
}
