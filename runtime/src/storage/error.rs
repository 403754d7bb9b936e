//! Why a durable component could not be opened.

use std::fmt;

/// A durable component, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Component {
    /// The event store (`SqliteStore`, `PostgresStore`).
    EventStore,
    /// The view store of projections (`SqliteViewStore`,
    /// `PostgresViewStore`).
    ViewStore,
    /// The bus's quarantine (`SqliteQuarantine`, `PostgresQuarantine`).
    Quarantine,
    /// The bus's SQLite transport (`SqliteQueue`).
    Queue,
    /// Aggregate snapshots (`SqliteSnapshots`).
    Snapshots,
    /// The checkpoints of relays publishing integration events
    /// (`SqliteRelayCheckpoints`, `PostgresRelayCheckpoints`).
    RelayCheckpoints,
    /// Process managers' state, checkpoints, outbox and timeouts
    /// (`SqliteProcessStore`, `PostgresProcessStore`).
    Processes,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Component::EventStore => "event store",
            Component::ViewStore => "view store",
            Component::Quarantine => "quarantine",
            Component::Queue => "queue",
            Component::Snapshots => "snapshot store",
            Component::RelayCheckpoints => "relay checkpoint store",
            Component::Processes => "process store",
        })
    }
}

/// Why a durable component could not be opened. Every error says where
/// it looked; a PostgreSQL location never shows the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Opened with `open_existing`, the database lacks some or all of the
    /// component's tables. Nothing was created.
    #[error(
        "no Treaty {component} at {location}: its {} missing (opening an existing {component} creates nothing)",
        tables_missing(missing)
    )]
    Missing {
        /// What was opened.
        component: Component,
        /// Where it was looked for.
        location: String,
        /// The component's tables that are not there, in the order it
        /// creates them; never empty.
        missing: Vec<&'static str>,
        /// The component's tables that are there. Empty when the component
        /// never ran in this database, rather than lost some of its tables.
        found: Vec<&'static str>,
    },
    /// The event store's tables were written by a newer Treaty with
    /// another layout.
    #[error(
        "the store at {location} has schema version {found}; this build knows version {supported} — upgrade Treaty"
    )]
    NewerSchema {
        /// Where the store is.
        location: String,
        /// Its layout version.
        found: i64,
        /// The newest layout this build knows.
        supported: i64,
    },
    /// Opened with `open_existing`, an event store of an older layout
    /// cannot be moved to this build's.
    #[error(
        "the store at {location} has layout {found}, older than this build's layout {current}, and cannot be \
         moved while it is opened read-only; open it once with a Treaty service (`open`), which moves it"
    )]
    OlderSchema {
        /// Where the store is.
        location: String,
        /// Its layout version.
        found: i64,
        /// The layout this build reads.
        current: i64,
    },
    /// The database could not be reached, opened or read, or the tables
    /// could not be created.
    #[error("cannot open the {component} at {location}: {source}")]
    Storage {
        /// What was opened.
        component: Component,
        /// Where, or what was wrong with the address when it is unusable.
        location: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl OpenError {
    /// Whether opening again can succeed: when the server could not be
    /// reached or refused for now (a connection refused or reset, a server
    /// starting or shutting down, too many connections, a busy database).
    /// A wrong URL, password, layout or missing table stays wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            OpenError::Storage { source, .. } => super::transient::is_transient(source.as_ref()),
            _ => false,
        }
    }

    /// A [`OpenError::Storage`] of `component` at `location`.
    pub(crate) fn storage(
        component: Component,
        location: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        OpenError::Storage {
            component,
            location: location.into(),
            source: source.into(),
        }
    }

    /// A [`OpenError::Missing`] when some of `tables` are not among
    /// `present`, in the order of `tables`.
    pub(crate) fn require_tables(
        component: Component,
        location: &str,
        tables: &[&'static str],
        present: impl Fn(&str) -> bool,
    ) -> Result<(), Self> {
        let (found, missing): (Vec<&'static str>, Vec<&'static str>) = tables.iter().partition(|t| present(t));
        if missing.is_empty() {
            return Ok(());
        }
        Err(OpenError::Missing {
            component,
            location: location.to_string(),
            missing,
            found,
        })
    }
}

/// "`a` table is", "`a` and `b` tables are", "`a`, `b` and `c` tables
/// are".
fn tables_missing(tables: &[&str]) -> String {
    let mut names: Vec<String> = tables.iter().map(|t| format!("`{t}`")).collect();
    let last = names.pop().unwrap_or_default();
    if names.is_empty() {
        format!("{last} table is")
    } else {
        format!("{} and {last} tables are", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(tables: &[&'static str], present: &[&str]) -> String {
        OpenError::require_tables(Component::EventStore, "events.db", tables, |t| present.contains(&t))
            .expect_err("missing")
            .to_string()
    }

    #[test]
    fn the_missing_tables_are_named_in_a_sentence() {
        assert_eq!(
            missing(&["events", "contracts"], &["events"]),
            "no Treaty event store at events.db: its `contracts` table is missing \
             (opening an existing event store creates nothing)"
        );
        assert_eq!(
            missing(&["events", "contracts"], &[]),
            "no Treaty event store at events.db: its `events` and `contracts` tables are missing \
             (opening an existing event store creates nothing)"
        );
        assert_eq!(
            missing(&["events", "head", "contracts"], &[]),
            "no Treaty event store at events.db: its `events`, `head` and `contracts` tables are missing \
             (opening an existing event store creates nothing)"
        );
    }

    #[test]
    fn the_tables_found_are_kept_apart_from_the_missing() {
        let Err(OpenError::Missing { missing, found, .. }) =
            OpenError::require_tables(Component::ViewStore, "views.db", &["a", "b", "c"], |t| t == "b")
        else {
            panic!("not missing");
        };
        assert_eq!((missing, found), (vec!["a", "c"], vec!["b"]));
        assert!(OpenError::require_tables(Component::ViewStore, "views.db", &["a"], |_| true).is_ok());
    }
}
