//! Opening SQLite files, shared by every component that keeps tables in
//! one. The event store, the view store, snapshots, the queue and the
//! quarantine may share one file, so they must agree on its settings.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{Component, OpenError};

/// How long a connection waits for another one's write lock. The event
/// store's writer and other processes share the write lock, and waiting
/// for it is normal, failing at once is not.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How hard a commit tries to survive failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is on disk before the append returns (`synchronous =
    /// FULL`): an acknowledged append survives a crash of the process and
    /// of the machine. The default. Group commit keeps concurrent appends
    /// cheap.
    #[default]
    Full,
    /// Commits reach the operating system before the append returns, and
    /// the disk at checkpoints (`synchronous = NORMAL` with WAL): an
    /// acknowledged append survives a crash of the process, but the last
    /// appends before a power loss or kernel crash may be lost. Several
    /// times faster for one writer appending one event at a time.
    Normal,
}

impl Durability {
    fn synchronous(self) -> &'static str {
        match self {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        }
    }
}

/// A read-write connection to the SQLite file at `path`, creating the
/// file if needed, with the settings every Treaty table in such a file is
/// written with:
///
/// - a 30 s busy timeout;
/// - WAL, so readers run while one connection writes;
/// - `synchronous` from the durability: `FULL` or `NORMAL`.
pub(crate) fn connect(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Switching a file to WAL needs it to itself, and SQLite answers
    // BUSY at once, without the busy timeout, while another connection
    // holds it: several processes opening a new store together. The
    // switch is retried as the busy timeout would wait.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            switched => break switched?,
        }
    }
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    Ok(conn)
}

/// A read-write connection to the existing SQLite file at `path`, for
/// `open_existing`: like [`connect`], but it never creates the file and
/// leaves the file's journal mode as it is (`synchronous` and the busy
/// timeout belong to the connection, not the file).
pub(crate) fn connect_existing(path: &Path, durability: Durability) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", durability.synchronous())?;
    Ok(conn)
}

/// A read-only connection to the existing SQLite file at `path`, which
/// can neither create nor change it.
pub(crate) fn connect_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Checks, for `open_existing`, that the file at `path` holds every one
/// of `component`'s `tables`, through a read-only connection: looking
/// never creates the file or changes it. Returns that connection, with
/// which the component may look further.
///
/// # Errors
///
/// [`OpenError::Missing`] when tables are missing, [`OpenError::Storage`]
/// when the file does not exist or cannot be read.
pub(crate) fn check_tables(
    path: &Path,
    component: Component,
    tables: &[&'static str],
) -> Result<Connection, OpenError> {
    let location = path.display().to_string();
    let look = || -> rusqlite::Result<(Connection, Vec<&'static str>)> {
        let conn = connect_read_only(path)?;
        let mut present = Vec::new();
        {
            let mut statement = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
            for table in tables {
                if statement.exists([table])? {
                    present.push(*table);
                }
            }
        }
        Ok((conn, present))
    };
    let (conn, present) = look().map_err(|e| OpenError::storage(component, &location, e))?;
    OpenError::require_tables(component, &location, tables, |table| present.contains(&table))?;
    Ok(conn)
}
