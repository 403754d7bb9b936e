//! Which backend failures a retry can get past: the one classification
//! behind [`AppendError::is_retryable`](crate::store::AppendError::is_retryable),
//! [`ReadError::is_retryable`](crate::store::ReadError::is_retryable) and
//! [`OpenError::is_retryable`](super::OpenError::is_retryable).
//!
//! Transient: a connection that could not be made or was lost, a server
//! starting or shutting down, too many connections or too little memory,
//! a serialization failure or deadlock, a lock that was not free, a busy
//! SQLite database. Everything else (a data, constraint or syntax error, a
//! wrong password, a missing table, a full disk of SQLite) fails again the
//! same way.

use std::error::Error;

/// Whether `error`, or the first cause in its chain that a backend
/// raised, is transient.
pub(crate) fn is_transient(error: &(dyn Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(e) = error.downcast_ref::<rusqlite::Error>() {
            return sqlite(e);
        }
        #[cfg(feature = "postgres")]
        {
            if let Some(e) = error.downcast_ref::<tokio_postgres::Error>() {
                return postgres(e);
            }
            if let Some(e) = error.downcast_ref::<deadpool_postgres::PoolError>() {
                return match e {
                    deadpool_postgres::PoolError::Timeout(_) => true,
                    deadpool_postgres::PoolError::Backend(e) => postgres(e),
                    _ => false,
                };
            }
        }
        if let Some(e) = error.downcast_ref::<std::io::Error>() {
            return io(e);
        }
        next = error.source();
    }
    false
}

/// A busy or locked database: another connection holds the lock for
/// longer than the busy timeout.
pub(crate) fn sqlite(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// By SQLSTATE for the server's errors; a closed connection or an I/O
/// failure for the rest.
#[cfg(feature = "postgres")]
pub(crate) fn postgres(error: &tokio_postgres::Error) -> bool {
    if let Some(code) = error.code() {
        return sqlstate(code.code());
    }
    if error.is_closed() {
        return true;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return io(e);
        }
        source = cause.source();
    }
    false
}

/// Whether a server error of this SQLSTATE can pass on a retry.
#[cfg(feature = "postgres")]
pub(crate) fn sqlstate(code: &str) -> bool {
    // 08: connection exception. 53: insufficient resources (too many
    // connections, out of memory). 40001 serialization failure, 40P01
    // deadlock, 40003 statement completion unknown. 55P03 lock not
    // available. 57P01-57P03: the server is shutting down, crashed or is
    // not yet accepting connections.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001" | "40P01" | "40003" | "55P03" | "57P01" | "57P02" | "57P03"
        )
}

fn io(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | BrokenPipe
            | TimedOut
            | Interrupted
            | UnexpectedEof
            | WouldBlock
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
            | AddrNotAvailable
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_of_the_connection_are_transient_and_others_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(is_transient(&refused));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!is_transient(&denied));
        let busy = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY), None);
        assert!(is_transient(&busy));
        let full = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        assert!(!is_transient(&full));
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn sqlstates_are_sorted_by_whether_a_retry_can_pass() {
        for code in ["08006", "08003", "40001", "40P01", "57P01", "53300"] {
            assert!(sqlstate(code), "{code}");
        }
        for code in ["22021", "23505", "42601", "42P01", "28P01", "XX000", "TR001"] {
            assert!(!sqlstate(code), "{code}");
        }
    }
}
