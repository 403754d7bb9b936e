//! Storage plumbing shared by every durable component (the event store,
//! the view store, the quarantine, the SQLite queue and snapshots): how
//! their SQLite files and PostgreSQL schemas are opened, and why opening
//! fails.
//!
//! Every durable component opens the same way on each backend:
//!
//! - `open(path_or_url)` creates its tables as needed, with default
//!   settings;
//! - `open_with(path_or_url, settings)` does the same with settings;
//! - `open_existing(path_or_url, settings)` creates nothing (no file,
//!   schema, table or index) and changes no setting of the database, and
//!   fails with [`OpenError::Missing`], naming the missing tables, when the
//!   component is not there. It is what tools that inspect a database use,
//!   such as the `treaty` command.
//!
//! The settings every component in one SQLite file shares are its
//! [`Durability`]; those every PostgreSQL component shares are its
//! `PostgresOptions` (feature `postgres`).

mod error;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod sqlite;
pub(crate) mod transient;

pub use error::{Component, OpenError};
#[cfg(feature = "postgres")]
pub use postgres::PostgresOptions;
pub use sqlite::Durability;
