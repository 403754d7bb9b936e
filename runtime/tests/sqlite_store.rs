//! What only the SQLite backend has: a file that outlives the process,
//! layout versions, and rows that can be damaged on disk.

use futures::{StreamExt, TryStreamExt};
use treaty_runtime::storage::{Component, OpenError};
use treaty_runtime::store::*;
use treaty_runtime::Uuid;

fn event(n: u64) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        contract: "test.Happened".into(),
        contract_version: 1,
        fingerprint: "f".repeat(32),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        metadata: Metadata::now(),
        schema: None,
    }
}

#[tokio::test]
async fn events_survive_reopening_and_positions_continue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let s = StreamName::new("order-1").unwrap();
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .append(&s, ExpectedVersion::NoStream, vec![event(1), event(2)])
            .await
            .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.head().await.unwrap(), 2);
    let result = store
        .append(&s, ExpectedVersion::Exact(2), vec![event(3)])
        .await
        .unwrap();
    assert_eq!(result.first_position, 3);
    let all: Vec<RecordedEvent> = store.read_all(1).try_collect().await.unwrap();
    assert_eq!(all.len(), 3);
}

#[tokio::test]
async fn a_corrupt_row_is_reported_with_its_position_and_left_in_place() {
    // Each kind of damage, done behind the store's back to the second of
    // three rows, and the start of the error it must give.
    let damages = [
        ("metadata = '{broken'", "metadata:"),
        ("metadata = CAST(X'FF' AS TEXT)", "metadata:"),
        ("id = X'0102'", "event id:"),
        ("id = 'text'", "event id:"),
        ("stream = '$all'", "invalid stream name"),
        ("stream = X'6F72'", "stream:"),
        ("contract = CAST(X'FF' AS TEXT)", "contract:"),
        ("payload = CAST(X'C3' AS TEXT)", "payload:"),
        ("version = -1", "negative version -1"),
        (
            "contract_version = 5000000000",
            "contract version 5000000000 out of range",
        ),
    ];
    for (damage, reason) in damages {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        let s = StreamName::new("order-1").unwrap();
        store
            .append(&s, ExpectedVersion::Any, vec![event(1), event(2), event(3)])
            .await
            .unwrap();
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute(&format!("UPDATE events SET {damage} WHERE position = 2"), [])
            .unwrap();
        drop(raw);

        let mut read = store.read_all(1);
        let first = read.try_next().await.unwrap().unwrap();
        assert_eq!(
            (first.position, first.payload.as_slice()),
            (1, &b"{\"n\":1}"[..]),
            "{damage}"
        );
        let error = read.try_next().await.unwrap_err();
        let expected = format!("event at position 2 cannot be read: {reason}");
        assert!(error.to_string().starts_with(&expected), "{damage}: {error}");
        assert!(!error.is_retryable(), "{damage}");
        // The read goes on with the rows after it.
        let third = read.try_next().await.unwrap().expect("the row after the damaged one");
        assert_eq!(third.position, 3, "{damage}");
        assert!(read.try_next().await.unwrap().is_none(), "{damage}");
        // So does a read of the stream (which finds the damaged row or
        // not, depending on the damage).
        let by_stream: Vec<Result<RecordedEvent, ReadError>> =
            store.read_stream(&s, 1, Direction::Forward).collect().await;
        let read: Vec<u64> = by_stream.iter().flatten().map(|e| e.position).collect();
        assert_eq!(read, [1, 3], "{damage}");
        for failed in by_stream.iter().filter_map(|e| e.as_ref().err()) {
            assert!(
                matches!(failed, ReadError::Corrupt { position: 2, .. }),
                "{damage}: {failed}"
            );
        }
        // The rows after it are still there and readable from past it,
        // with their own text.
        let rest: Vec<RecordedEvent> = store.read_all(3).try_collect().await.unwrap();
        assert_eq!(rest.len(), 1, "{damage}");
        assert_eq!(
            (rest[0].stream.as_str(), rest[0].payload.as_slice()),
            ("order-1", &b"{\"n\":3}"[..]),
            "{damage}"
        );
        assert_eq!(store.head().await.unwrap(), 3, "{damage}");
    }
}

#[tokio::test]
async fn a_newer_layout_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    drop(SqliteStore::open(&path).unwrap());
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", 99).unwrap();
    drop(raw);
    let error = SqliteStore::open(&path).err().expect("refused");
    assert!(
        error
            .to_string()
            .contains("has schema version 99; this build knows version 3"),
        "{error}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    std::fs::write(&path, vec![7u8; 4096]).unwrap();
    let error = SqliteStore::open(&path).err().expect("refused");
    assert!(
        error.to_string().starts_with("cannot open the event store at"),
        "{error}"
    );
    // Nothing was written over it.
    assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 4096]);
}

#[tokio::test]
async fn both_durability_modes_store_events() {
    for durability in [Durability::Full, Durability::Normal] {
        let dir = tempfile::tempdir().unwrap();
        let config = SqliteConfig {
            durability,
            ..SqliteConfig::default()
        };
        let store = SqliteStore::open_with(dir.path().join("events.db"), config).unwrap();
        let s = StreamName::new("s").unwrap();
        store.append(&s, ExpectedVersion::Any, vec![event(1)]).await.unwrap();
        assert_eq!(store.head().await.unwrap(), 1);
    }
}

/// A file of layout 1, whose registry counted events, as that build left
/// it: two versions in use and one only registered.
const LAYOUT_1: &str = "
CREATE TABLE events (
    position INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, stream TEXT NOT NULL, version INTEGER NOT NULL,
    contract TEXT NOT NULL, contract_version INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream, version)
);
CREATE TABLE contracts (
    name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, schema TEXT,
    events INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (name, version)
);
INSERT INTO events VALUES
    (1, X'01', 'order-1', 1, 'shop.Placed', 1, 'p1', '{}', '{\"timestamp\":\"2025-01-01T00:00:00Z\"}'),
    (2, X'02', 'order-1', 2, 'shop.Shipped', 1, 's1', '{}', '{\"timestamp\":\"2025-01-01T00:00:00Z\"}'),
    (3, X'03', 'order-2', 1, 'shop.Placed', 1, 'p1', '{}', '{\"timestamp\":\"2025-01-01T00:00:00Z\"}');
INSERT INTO contracts VALUES
    ('shop.Placed', 1, 'p1', NULL, 2), ('shop.Shipped', 1, 's1', NULL, 1), ('shop.Placed', 2, '70320000000000000000000000000000', '{}', 0);
PRAGMA user_version = 1;
";

#[tokio::test]
async fn a_layout_1_registry_gets_first_positions_from_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(LAYOUT_1)
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let seen: Vec<(String, u32, Option<u64>)> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.version, c.first_position))
        .collect();
    assert_eq!(
        seen,
        [
            ("shop.Placed".into(), 1, Some(1)),
            ("shop.Placed".into(), 2, None),
            ("shop.Shipped".into(), 1, Some(2)),
        ]
    );
    // The migrated file takes appends, and the next open leaves it as is.
    let mut placed = event(4);
    (placed.contract, placed.fingerprint) = ("shop.Placed".into(), "70320000000000000000000000000000".into());
    placed.contract_version = 2;
    let s = StreamName::new("order-3").unwrap();
    store.append(&s, ExpectedVersion::NoStream, vec![placed]).await.unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let placed_v2 = store.contracts().await.unwrap()[1].clone();
    assert_eq!((placed_v2.version, placed_v2.first_position), (2, Some(4)));
    assert_eq!(store.head().await.unwrap(), 4);
}

/// A file of layout 2, one fingerprint per contract version, as that
/// build left it: a version in use with its schema, one in use without,
/// and one only registered.
const LAYOUT_2: &str = "
CREATE TABLE events (
    position INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, stream TEXT NOT NULL, version INTEGER NOT NULL,
    contract TEXT NOT NULL, contract_version INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    payload TEXT NOT NULL, metadata TEXT NOT NULL, UNIQUE (stream, version)
);
CREATE TABLE contracts (
    name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, schema TEXT,
    first_position INTEGER, PRIMARY KEY (name, version)
);
INSERT INTO events VALUES
    (1, X'01', 'order-1', 1, 'shop.Placed', 1, '70310000000000000000000000000000', '{}', '{\"timestamp\":\"2025-01-01T00:00:00Z\"}'),
    (2, X'02', 'order-1', 2, 'shop.Shipped', 1, '73310000000000000000000000000000', '{}', '{\"timestamp\":\"2025-01-01T00:00:00Z\"}');
INSERT INTO contracts VALUES
    ('shop.Placed', 1, '70310000000000000000000000000000',
     '{\"fields\":{\"total\":{\"type\":\"u64\"}},\"kind\":\"event\",\"name\":\"shop.Placed\",\"version\":1}', 1),
    ('shop.Shipped', 1, '73310000000000000000000000000000', NULL, 2),
    ('shop.Placed', 2, '70320000000000000000000000000000', '{}', NULL);
PRAGMA user_version = 2;
";

#[tokio::test]
async fn a_layout_2_registry_becomes_a_schema_registry_with_every_row_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(LAYOUT_2)
        .unwrap();
    // Read-only, the old layout is refused and left as it is.
    let refused = SqliteStore::open_existing(&path, SqliteConfig::default())
        .err()
        .expect("older");
    assert!(
        refused
            .to_string()
            .contains("has layout 2, older than this build's layout 3"),
        "{refused}"
    );
    let store = SqliteStore::open(&path).unwrap();
    let seen = |rows: Vec<registry::StoredContract>| -> Vec<(String, u32, String, bool, Option<u64>, u32)> {
        rows.into_iter()
            .map(|c| {
                (
                    c.name,
                    c.version,
                    c.fingerprint,
                    c.schema.is_some(),
                    c.first_position,
                    c.schema_format,
                )
            })
            .collect()
    };
    let p1 = "70310000000000000000000000000000".to_string();
    assert_eq!(
        seen(store.contracts().await.unwrap()),
        [
            ("shop.Placed".into(), 1, p1.clone(), true, Some(1), 1),
            (
                "shop.Placed".into(),
                2,
                "70320000000000000000000000000000".into(),
                true,
                None,
                1
            ),
            (
                "shop.Shipped".into(),
                1,
                "73310000000000000000000000000000".into(),
                false,
                Some(2),
                1
            ),
        ]
    );
    // The moved registry takes a compatible change in place next to the
    // stored schema, and the next open leaves it as it is.
    let b = registry::CompiledContract {
        name: "shop.Placed".into(),
        version: 1,
        fingerprint: "70310000000000000000000000000062".into(),
        schema: Some(
            r#"{"fields":{"total":{"type":"u64"},"note":{"type":"String","default":""}},"kind":"event","name":"shop.Placed","version":1}"#
                .into(),
        ),
    };
    let shipped = registry::CompiledContract {
        name: "shop.Shipped".into(),
        version: 1,
        fingerprint: "73310000000000000000000000000000".into(),
        schema: None,
    };
    registry::register_contracts(&store, &[b.clone(), shipped])
        .await
        .unwrap();
    let mut placed = event(3);
    (placed.contract, placed.fingerprint) = ("shop.Placed".into(), b.fingerprint.clone());
    store
        .append(
            &StreamName::new("order-2").unwrap(),
            ExpectedVersion::NoStream,
            vec![placed],
        )
        .await
        .unwrap();
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let rows = store.contracts().await.unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        (rows[1].fingerprint.as_str(), rows[1].first_position),
        (b.fingerprint.as_str(), Some(3))
    );
    assert!(rows[1].first_seen.is_some() && rows[0].first_seen.is_none());
    assert_eq!(store.head().await.unwrap(), 3);
}

#[tokio::test]
async fn a_schema_written_by_a_newer_treaty_is_not_compared_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).unwrap();
    let a = registry::CompiledContract {
        name: "shop.Placed".into(),
        version: 1,
        fingerprint: "61000000000000000000000000000000".into(),
        schema: Some(r#"{"fields":{},"kind":"event","name":"shop.Placed","version":1}"#.into()),
    };
    registry::register_contracts(&store, std::slice::from_ref(&a))
        .await
        .unwrap();
    // What a newer Treaty would write: a later schema format.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("UPDATE contracts SET schema_format = 7, schema = '{\"v7\": true}'", [])
        .unwrap();
    let b = registry::CompiledContract {
        fingerprint: "62000000000000000000000000000000".into(),
        ..a.clone()
    };
    let error = registry::register_contracts(&store, &[b]).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("shop.Placed v1: the stored schema with fingerprint 61000000000000000000000000000000 cannot be read: its schema was written by a newer Treaty (schema format 7; this build reads up to 1)"),
        "{text}"
    );
    let rows = store.contracts().await.unwrap();
    assert_eq!((rows.len(), rows[0].schema_format), (1, 7), "the row is kept as it was");
    // The build that matches it still starts.
    registry::register_contracts(&store, &[a]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_follow_appends_made_by_other_processes() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    // Two stores on one file, each with its own writer, as two processes
    // would have.
    let writer = SqliteStore::open(&path).unwrap();
    let follower = SqliteStore::open(&path).unwrap();
    let s = StreamName::new("order-1").unwrap();
    writer
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();
    // The follower opened before that append, so even its first event
    // comes from the other writer.
    let mut live = follower.subscribe(1);
    for position in [1, 2] {
        let next = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
            .await
            .unwrap_or_else(|_| panic!("the subscription never saw position {position}"))
            .unwrap()
            .unwrap();
        assert_eq!(next.position, position);
        if position == 1 {
            // Caught up: the next event comes while it waits.
            writer
                .append(&s, ExpectedVersion::Exact(1), vec![event(2)])
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_opened_read_only_reads_follows_and_refuses_writes() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let empty = dir.path().join("empty.db");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    let missing = SqliteStore::open_existing(&empty, SqliteConfig::default())
        .err()
        .expect("no store");
    assert_eq!(
        missing.to_string(),
        format!(
            "no Treaty event store at {}: its `events` and `contracts` tables are missing \
             (opening an existing event store creates nothing)",
            empty.display()
        )
    );

    let writer = SqliteStore::open(&path).unwrap();
    let s = StreamName::new("order-1").unwrap();
    writer
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();
    let reader = SqliteStore::open_existing(&path, SqliteConfig::default()).unwrap();
    assert_eq!(reader.head().await.unwrap(), 1);
    let refused = reader
        .append(&s, ExpectedVersion::Any, vec![event(2)])
        .await
        .unwrap_err();
    assert!(matches!(refused, AppendError::ReadOnly { .. }), "{refused}");
    let refused = reader.record_contracts(Vec::new()).await.unwrap_err();
    assert!(matches!(refused, AppendError::ReadOnly { .. }), "{refused}");
    // It follows what the writer appends.
    let mut live = reader.subscribe(1);
    assert_eq!(live.next().await.unwrap().unwrap().position, 1);
    writer
        .append(&s, ExpectedVersion::Exact(1), vec![event(3)])
        .await
        .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), live.next())
        .await
        .expect("the read-only store sees the writer's append")
        .unwrap()
        .unwrap();
    assert_eq!((next.position, next.payload.as_slice()), (2, &b"{\"n\":3}"[..]));

    // Another layout is refused either way, and the file left as it was.
    for (layout, expected) in [
        (1, "has layout 1, older than this build's layout 3"),
        (99, "has schema version 99"),
    ] {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", layout).unwrap();
        drop(raw);
        let error = SqliteStore::open_existing(&path, SqliteConfig::default())
            .err()
            .expect("refused");
        assert!(error.to_string().contains(expected), "{error}");
    }
}

#[test]
fn processes_opening_a_layout_1_file_at_once_all_open_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let fresh = dir.path().join("fresh.db");
    // In WAL mode, as the store that wrote layout 1 left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(LAYOUT_1).unwrap();
    drop(conn);
    // Each open reads the layout; only the first may move the file. The
    // same for a file that does not exist yet, which every open creates.
    for path in [&path, &fresh] {
        let start = std::sync::Barrier::new(4);
        std::thread::scope(|scope| {
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        SqliteStore::open(path).map(drop)
                    })
                })
                .collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_catches_up_on_many_pages_from_another_process_at_once() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let writer = SqliteStore::open(&path).unwrap();
    // A long poll interval: catching up must not take one poll per page.
    let config = SqliteConfig {
        poll_interval: std::time::Duration::from_secs(2),
        ..SqliteConfig::default()
    };
    let follower = SqliteStore::open_existing(&path, config).unwrap();
    let mut live = follower.subscribe(1);
    let s = StreamName::new("order-1").unwrap();
    let events: Vec<NewEvent> = (0..2_600).map(event).collect();
    writer.append(&s, ExpectedVersion::NoStream, events).await.unwrap();
    // Five pages: one poll (up to 2 s) finds them, and the rest follow
    // without waiting; a poll per page would take 10 s.
    let read = tokio::time::timeout(std::time::Duration::from_secs(6), async {
        let mut read = 0;
        while read < 2_600 {
            live.next().await.unwrap().unwrap();
            read += 1;
        }
        read
    })
    .await
    .expect("the subscription caught up within one poll");
    assert_eq!(read, 2_600);
}

#[test]
fn opening_an_existing_store_names_its_missing_tables_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.db");
    let error = SqliteStore::open_existing(&absent, SqliteConfig::default())
        .err()
        .expect("no file");
    assert!(
        matches!(
            error,
            OpenError::Storage {
                component: Component::EventStore,
                ..
            }
        ),
        "{error}"
    );
    assert!(!absent.exists(), "opening created the file");

    // A database of another program with an `events` table of its own.
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE events (x INTEGER)")
        .unwrap();
    let before = std::fs::read(&other).unwrap();
    let error = SqliteStore::open_existing(&other, SqliteConfig::default())
        .err()
        .expect("no store");
    assert!(
        error.to_string().starts_with(&format!(
            "no Treaty event store at {}: its `contracts` table is missing",
            other.display()
        )),
        "{error}"
    );
    let OpenError::Missing {
        component,
        location,
        missing,
        found,
    } = error
    else {
        panic!("not missing");
    };
    assert_eq!(
        (component, location, missing, found),
        (
            Component::EventStore,
            other.display().to_string(),
            vec!["contracts"],
            vec!["events"]
        )
    );
    assert_eq!(std::fs::read(&other).unwrap(), before, "opening changed the file");
}

/// A replay leaves out every event's headers, on every page, and keeps the
/// rest of its metadata; a read keeps them all.
#[tokio::test]
async fn a_replay_leaves_out_the_headers_a_read_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let s = StreamName::new("traced-1").unwrap();
    let correlation = Uuid::now_v7();
    // More than one page of the store's reads (512 rows).
    let traced: Vec<NewEvent> = (0..600)
        .map(|n| {
            let mut e = event(n);
            e.metadata.correlation_id = Some(correlation);
            e.metadata
                .headers
                .insert("traceparent".into(), format!("00-{:032x}-{:016x}-01", n + 1, n + 1));
            e
        })
        .collect();
    store.append(&s, ExpectedVersion::NoStream, traced).await.unwrap();
    let replayed: Vec<RecordedEvent> = store.replay_stream(&s, 1).try_collect().await.unwrap();
    assert_eq!(replayed.len(), 600);
    assert!(replayed.iter().all(|e| e.metadata.headers.is_empty()));
    assert!(replayed.iter().all(|e| e.metadata.correlation_id == Some(correlation)));
    let read: Vec<RecordedEvent> = store
        .read_stream(&s, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(read.len(), 600);
    assert_eq!(
        read[599].metadata.headers.get("traceparent").map(String::as_str),
        Some(format!("00-{:032x}-{:016x}-01", 600, 600).as_str())
    );
}
