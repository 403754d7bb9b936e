//! Where the commands that read Treaty's tables find them: `--db` (or
//! `--views`) and `--schema` become a SQLite file that exists, or a
//! PostgreSQL URL and schema. Each command then opens its component there
//! with the runtime's `open_existing`, which creates nothing and says
//! which of the component's tables are missing; only the runtime knows
//! their names, and its errors never show a password.

use std::path::PathBuf;

use clap::Args;
use treaty_runtime::storage::PostgresOptions;

use crate::store::Failure;

/// Where the database is, shared by every command that reads one.
#[derive(Args)]
pub struct DbArgs {
    /// The store: a SQLite file (which must exist), or a `postgres://` URL.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub(crate) db: String,
    /// The PostgreSQL schema holding the store's tables [default: treaty].
    #[arg(long, value_name = "NAME")]
    pub(crate) schema: Option<String>,
}

/// What a command calls the database it opens, in its messages about a
/// path that is no SQLite file.
pub struct Subject {
    /// What the database holds for the command: "store", "database".
    pub noun: &'static str,
    /// Who never creates one: "store commands never create one".
    pub creates_none: &'static str,
}

/// A database a command names: checked, not yet opened.
pub enum Database {
    /// A SQLite file that exists.
    Sqlite(PathBuf),
    /// A PostgreSQL server, and where in it the tables are.
    Postgres {
        /// The URL as given, password included: the runtime's errors name
        /// the server without it.
        url: String,
        /// The schema, and a pool for a command that reads one thing at a
        /// time while it asks for the next page.
        options: PostgresOptions,
    },
}

impl Database {
    /// The database `--db` and `--schema` name.
    ///
    /// # Errors
    ///
    /// A usage failure when `--schema` is given with a SQLite path, or as
    /// [`Database::locate`].
    pub fn from_args(args: &DbArgs, subject: &Subject) -> Result<Self, Failure> {
        if args.schema.is_some() && !is_postgres_url(&args.db) {
            return Err(Failure::usage(format!(
                "--schema applies to PostgreSQL {}s only, and {} is a SQLite file path",
                subject.noun, args.db
            )));
        }
        Database::locate(&args.db, args.schema.as_deref(), subject)
    }

    /// The database at `path_or_url`: a `postgres://` or `postgresql://`
    /// URL, whose tables are in `schema` (`treaty` by default), or else a
    /// SQLite file, which must exist.
    ///
    /// # Errors
    ///
    /// A usage failure when the file does not exist, is not a file or
    /// cannot be read.
    pub fn locate(path_or_url: &str, schema: Option<&str>, subject: &Subject) -> Result<Self, Failure> {
        if is_postgres_url(path_or_url) {
            let mut options = PostgresOptions {
                pool_size: 2,
                ..PostgresOptions::default()
            };
            if let Some(schema) = schema {
                options.schema = schema.to_string();
            }
            return Ok(Database::Postgres {
                url: path_or_url.to_string(),
                options,
            });
        }
        let path = PathBuf::from(path_or_url);
        let shown = path.display();
        let noun = subject.noun;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(Database::Sqlite(path)),
            Ok(_) => Err(Failure::usage(format!(
                "{shown} is not a file, so it is not a SQLite {noun}"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::usage(format!(
                "no {noun} at {shown}: the file does not exist ({})",
                subject.creates_none
            ))),
            Err(e) => Err(Failure::usage(format!("cannot read {shown}: {e}"))),
        }
    }
}

fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_schemes_are_urls() {
        assert!(is_postgres_url("postgres://h/db"));
        assert!(is_postgres_url("postgresql://h/db"));
        assert!(!is_postgres_url("events.db"));
        assert!(!is_postgres_url("sqlite://events.db"));
    }
}
