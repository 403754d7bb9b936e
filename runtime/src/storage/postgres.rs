//! Opening PostgreSQL, shared by the event store, the view store and the
//! quarantine: their connection settings, checking them, building the
//! connection pool, and creating the tables or checking they exist.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

use super::{Component, OpenError};

/// The connection settings every PostgreSQL component takes: the event
/// store (inside its `PostgresConfig`), the view store and the quarantine.
/// Components given the same schema share it, each with tables of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema holding the tables, created when missing (except by
    /// `open_existing`). Lower-case letters, digits and `_` only: it is
    /// spliced into the statements.
    pub schema: String,
    /// The most connections in the component's pool.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    /// The schema `treaty` and at most 16 connections.
    fn default() -> Self {
        PostgresOptions {
            schema: "treaty".into(),
            pool_size: 16,
        }
    }
}

/// The advisory lock taken while creating tables. Every backend takes the
/// same key on purpose: they create the same schema when they share one,
/// and two `CREATE SCHEMA IF NOT EXISTS` racing from different processes
/// can still collide in the catalog.
const DDL_LOCK: i64 = 7337001;

/// How often creating the tables is tried when another process created
/// the same objects at the same moment.
const DDL_ATTEMPTS: u32 = 3;

/// A connection pool to a database whose tables exist, with what a
/// backend built from the schema (its statements), shared by its clones.
pub(crate) struct Connected<S> {
    pub(crate) pool: Pool,
    /// The server, database and schema, without credentials, for errors.
    pub(crate) location: String,
    pub(crate) sql: S,
}

/// A pool of connections to `url` for the schema `options.schema`, and a
/// description of where it points that never shows the password. Nothing
/// is sent to the server yet.
fn pool(url: &str, options: &PostgresOptions, component: Component) -> Result<(Pool, String), OpenError> {
    // The URL is not echoed: it may hold a password, in a form the parser
    // did not understand.
    let mut pg_config = tokio_postgres::Config::from_str(url)
        .map_err(|e| OpenError::storage(component, "an invalid PostgreSQL connection string", e))?;
    let schema = &options.schema;
    let location = describe(&pg_config, schema);
    // The schema name is spliced into every statement, so only plain
    // identifiers are accepted.
    if let Some(problem) = schema_problem(schema) {
        return Err(OpenError::storage(component, location, problem));
    }
    // The backends prepare their statements once per connection. A
    // prepared statement may switch to a generic plan, made without the
    // values, and a generic plan made while the tables are small or have no
    // statistics yet scans them whole and is kept until the next `ANALYZE`:
    // the event store's appends slowed down as it grew. The backends'
    // statements are index lookups whatever the values, so each is planned
    // with its values instead (a custom plan). The event store's append
    // function sets its own mode: its statements keep one plan, checked to
    // be right for every table size (see `store/postgres.rs`).
    let settings = match pg_config.get_options() {
        Some(given) => format!("{given} -c plan_cache_mode=force_custom_plan"),
        None => "-c plan_cache_mode=force_custom_plan".to_string(),
    };
    pg_config.options(&settings);
    let manager = Manager::from_config(
        pg_config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .build()
        .map_err(|e| OpenError::storage(component, &location, e))?;
    Ok((pool, location))
}

/// The keywords PostgreSQL does not take as a plain schema name
/// (`pg_get_keywords()` of categories R and T: reserved, and types and
/// functions).
const KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Why `schema` cannot be spliced into statements as a plain identifier,
/// if it cannot: names are refused up front with a clear reason rather
/// than failing later with a syntax error, or being cut short by the
/// server (which keeps 63 bytes of a longer name, so two long names could
/// share one schema).
fn schema_problem(schema: &str) -> Option<String> {
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if schema.is_empty() || !schema.chars().all(plain) {
        Some(format!(
            "schema name {schema:?} must be lower-case letters, digits and `_`"
        ))
    } else if schema.starts_with(|c: char| c.is_ascii_digit()) {
        Some(format!(
            "schema name {schema:?} must start with a letter or `_`, not a digit"
        ))
    } else if schema.len() > 63 {
        Some(format!(
            "schema name {schema:?} is longer than the 63 bytes PostgreSQL keeps of a name"
        ))
    } else if KEYWORDS.contains(&schema) {
        Some(format!(
            "schema name {schema:?} is an SQL keyword, which PostgreSQL does not take as a plain name; choose another"
        ))
    } else if schema.starts_with("pg_") {
        Some(format!(
            "schema name {schema:?} starts with `pg_`, which PostgreSQL reserves for its own schemas"
        ))
    } else {
        None
    }
}

/// Connects to `url` with `options`' schema and pool size, and creates the
/// tables. Once the schema is checked to be a plain identifier, `sql`
/// builds the backend's statements from it, and `ddl` returns the
/// statements creating the tables in it. The schema itself is created
/// here, and the statements run in a transaction holding the advisory
/// lock.
pub(crate) async fn connect<S>(
    url: &str,
    options: &PostgresOptions,
    component: Component,
    sql: impl FnOnce(&str) -> S,
    ddl: impl FnOnce(&str, &S) -> String,
) -> Result<Connected<S>, OpenError> {
    let (pool, location) = pool(url, options, component)?;
    let schema = &options.schema;
    let mut client = pool
        .get()
        .await
        .map_err(|e| OpenError::storage(component, &location, e))?;
    // Creating tables concurrently from several processes can race on the
    // catalog; the advisory lock makes it one at a time. It must be the
    // transaction-scoped kind: it is then held until the DDL commits, and
    // released even when a statement fails.
    let sql = sql(schema);
    let ddl = format!(
        "SELECT pg_advisory_xact_lock({DDL_LOCK});
         CREATE SCHEMA IF NOT EXISTS {schema};
         {}",
        ddl(schema, &sql)
    );
    // The lock only orders processes that hold it until their DDL commits.
    // One that releases it earlier, or takes none, can still commit the
    // same schema or table while this transaction waits to create it; that
    // shows as a duplicate, and a second attempt then finds the object in
    // place.
    let mut attempt = 1;
    loop {
        match create_tables(&mut client, &ddl).await {
            Ok(()) => break,
            Err(e) if attempt < DDL_ATTEMPTS && is_duplicate(&e) => attempt += 1,
            Err(e) => return Err(OpenError::storage(component, location, e)),
        }
    }
    drop(client);
    Ok(Connected { pool, location, sql })
}

/// Connects to `url` with `options`' schema and pool size only if the
/// schema holds every one of `tables`, for `open_existing`: it runs no DDL
/// and takes no advisory lock, only a read of `pg_catalog.pg_tables`, so
/// it creates nothing and a role allowed only `SELECT` suffices. `sql`
/// builds the backend's statements from the schema.
pub(crate) async fn connect_existing<S>(
    url: &str,
    options: &PostgresOptions,
    component: Component,
    tables: &[&'static str],
    sql: impl FnOnce(&str) -> S,
) -> Result<Connected<S>, OpenError> {
    let (pool, location) = pool(url, options, component)?;
    let client = pool
        .get()
        .await
        .map_err(|e| OpenError::storage(component, &location, e))?;
    let rows = client
        .query(
            "SELECT tablename::TEXT FROM pg_catalog.pg_tables WHERE schemaname = $1",
            &[&options.schema],
        )
        .await
        .map_err(|e| OpenError::storage(component, &location, e))?;
    drop(client);
    OpenError::require_tables(component, &location, tables, |table| {
        rows.iter().any(|row| row.get::<_, &str>(0) == table)
    })?;
    Ok(Connected {
        pool,
        location,
        sql: sql(&options.schema),
    })
}

/// Runs the table creation in a transaction of its own, which holds the
/// advisory lock the DDL takes until it commits or rolls back.
async fn create_tables(client: &mut Object, ddl: &str) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute(ddl).await?;
    tx.commit().await
}

/// Whether creating an object failed because a concurrent transaction
/// committed the same one first.
fn is_duplicate(error: &tokio_postgres::Error) -> bool {
    [
        SqlState::UNIQUE_VIOLATION,
        SqlState::DUPLICATE_SCHEMA,
        SqlState::DUPLICATE_TABLE,
        SqlState::DUPLICATE_OBJECT,
    ]
    .iter()
    .any(|code| error.code() == Some(code))
}

/// Where the tables are, without the password: user, first host and port,
/// database and schema.
fn describe(config: &tokio_postgres::Config, schema: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let database = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}:{port}/{database} (schema {schema})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_never_show_the_password() {
        for url in [
            "postgres://someone:hunter2@127.0.0.1:1/events",
            "postgresql://127.0.0.1:1/events?user=someone&password=hunter2",
            "host=127.0.0.1 port=1 user=someone password=hunter2 dbname=events",
        ] {
            let config = tokio_postgres::Config::from_str(url).unwrap();
            assert_eq!(
                describe(&config, "treaty"),
                "postgres://someone@127.0.0.1:1/events (schema treaty)",
                "{url}"
            );
        }
    }

    // Every PostgreSQL backend opens through `pool` and `connect`, so
    // their checks are tested here once, not per backend.

    #[test]
    fn a_schema_name_that_is_not_an_identifier_is_refused() {
        let options = PostgresOptions {
            schema: "views; DROP TABLE x".into(),
            ..PostgresOptions::default()
        };
        let refused = pool("postgres://someone@127.0.0.1/views", &options, Component::ViewStore).expect_err("refused");
        assert_eq!(
            refused.to_string(),
            "cannot open the view store at postgres://someone@127.0.0.1:5432/views (schema views; DROP TABLE x): \
             schema name \"views; DROP TABLE x\" must be lower-case letters, digits and `_`"
        );
    }

    #[test]
    fn schema_names_the_server_would_not_take_as_they_are_are_refused() {
        for (schema, reason) in [
            ("select", "is an SQL keyword"),
            ("user", "is an SQL keyword"),
            ("1abc", "must start with a letter or `_`"),
            ("pg_temp_x", "reserves for its own schemas"),
            ("Upper", "must be lower-case letters"),
            ("", "must be lower-case letters"),
        ] {
            let problem = schema_problem(schema).unwrap_or_default();
            assert!(problem.contains(reason), "{schema:?}: {problem}");
        }
        assert!(schema_problem(&"s".repeat(64)).is_some());
        for fine in ["treaty", "_x", "a1", "users", "selection", "int", &"s".repeat(63)] {
            assert_eq!(schema_problem(fine), None, "{fine}");
        }
    }

    /// Every keyword the test server does not take as a schema name is in
    /// the list, and every name the list lets through works as a schema.
    #[tokio::test]
    async fn the_keyword_list_covers_the_servers_keywords() {
        let Some(url) = treaty_testing::server_url("TREATY_TEST_POSTGRES") else {
            return;
        };
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        let rows = client
            .query("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')", &[])
            .await
            .unwrap();
        let missing: Vec<String> = rows
            .iter()
            .map(|row| row.get::<_, String>(0))
            .filter(|word| !KEYWORDS.contains(&word.as_str()))
            .collect();
        assert!(missing.is_empty(), "not in KEYWORDS: {missing:?}");
        // Unreserved and column-name keywords are plain schema names.
        for name in ["int", "values", "schema"] {
            assert_eq!(schema_problem(name), None);
            client
                .batch_execute(&format!(
                    "BEGIN; CREATE SCHEMA {name}; CREATE TABLE {name}.events (x INT); SELECT x FROM {name}.events; \
                     ROLLBACK"
                ))
                .await
                .unwrap();
        }
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn opening_errors_name_the_server_without_the_password() {
        // Nothing listens on port 1, so connecting fails at once.
        let unreachable = "postgres://someone:hunter2@127.0.0.1:1/events";
        let options = PostgresOptions::default();
        let Err(refused) = connect(
            unreachable,
            &options,
            Component::Quarantine,
            |_| (),
            |_, _| String::new(),
        )
        .await
        else {
            panic!("connected to port 1");
        };
        let message = refused.to_string();
        assert!(
            message
                .starts_with("cannot open the quarantine at postgres://someone@127.0.0.1:1/events (schema treaty): "),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        let invalid = pool("postgres://someone:hunter2@[bad", &options, Component::EventStore).expect_err("refused");
        assert!(!invalid.to_string().contains("hunter2"), "{invalid}");
    }
}
