//! `treaty quarantine`, run as users run it, against databases whose
//! parked messages were written through treaty_runtime's quarantines.
//!
//! Every SQLite test builds its own database in its own temporary
//! directory. The PostgreSQL test runs when `TREATY_TEST_POSTGRES` names a
//! server, in schemas of its own that it drops at the end.

use std::path::{Path, PathBuf};

use expect_test::expect;
use serde_json::Value;
use treaty_runtime::bus::{ParkedMessage, Quarantine, SqliteQuarantine};
use treaty_runtime::store::SqliteStore;
use treaty_runtime::{Timestamp, Uuid};

mod common;

use common::{postgres_execute, postgres_url, runtime, stderr, stdout, treaty};

const CAR: &str = "01900000-0000-7000-8000-000000000001";
const GARBAGE: &str = "01900000-0000-7000-8000-000000000002";
const PAINT: &str = "01900000-0000-7000-8000-000000000003";

fn time(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Three parked messages with fixed ids and times: an envelope whose
/// handler failed, bytes that were not an envelope, and a message whose
/// retry an operator requested already.
fn messages() -> Vec<ParkedMessage> {
    vec![
        ParkedMessage {
            id: CAR.parse().unwrap(),
            contract: Some("factory.ProduceCar".to_string()),
            body: format!(
                r#"{{"id":"{CAR}","contract":"factory.ProduceCar","contract_version":1,"payload":{{"model":"Roadster","wheels":[1,2,3,4]}},"attempt":5}}"#
            )
            .into_bytes(),
            error: "the handler panicked: out of paint\nat station 4".to_string(),
            attempts: 5,
            first_seen: time("2024-05-01T11:59:58.500Z"),
            parked_at: time("2024-05-01T12:00:00.250Z"),
            retry_requested: false,
        },
        ParkedMessage {
            id: GARBAGE.parse().unwrap(),
            contract: None,
            body: b"hello, not json".to_vec(),
            error: "the message is not a Treaty envelope: expected value at line 1 column 1".to_string(),
            attempts: 1,
            first_seen: time("2024-05-01T12:01:00Z"),
            parked_at: time("2024-05-01T12:01:00Z"),
            retry_requested: false,
        },
        ParkedMessage {
            id: PAINT.parse().unwrap(),
            contract: Some("factory.PaintCar".to_string()),
            body: br#"{"id":"x"}"#.to_vec(),
            error: "no handler for contract factory.PaintCar".to_string(),
            attempts: 3,
            first_seen: time("2024-05-01T12:01:30Z"),
            parked_at: time("2024-05-01T12:02:00Z"),
            retry_requested: true,
        },
    ]
}

/// A temporary directory with `events.db`, an event store holding, when
/// `parked` is set, the quarantine with [`messages`].
fn sqlite_fixture(parked: bool) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    runtime().block_on(async {
        SqliteStore::open(&db).unwrap();
        if parked {
            let quarantine = SqliteQuarantine::open(&db).unwrap();
            for message in messages() {
                quarantine.park(message).await.unwrap();
            }
        }
    });
    (dir, db)
}

/// The parked message `id` as the database holds it now.
fn parked(db: &Path, id: &str) -> Option<ParkedMessage> {
    runtime().block_on(async {
        let quarantine = SqliteQuarantine::open(db).unwrap();
        quarantine.get(id.parse().unwrap()).await.unwrap()
    })
}

/// The names of the tables in a SQLite file.
fn tables(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    let names = statement.query_map([], |r| r.get(0)).unwrap();
    names.map(Result::unwrap).collect()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn list_shows_every_parked_message_oldest_first() {
    let (dir, _db) = sqlite_fixture(true);
    let output = treaty(dir.path(), &["quarantine", "list", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    expect![[r#"
        id                                    contract            attempts  parked at             retry      error
        01900000-0000-7000-8000-000000000001  factory.ProduceCar         5  2024-05-01T12:00:00Z             the handler panicked: out of paint
        01900000-0000-7000-8000-000000000002  -                          1  2024-05-01T12:01:00Z             the message is not a Treaty envelope: expected value at line 1 column 1
        01900000-0000-7000-8000-000000000003  factory.PaintCar           3  2024-05-01T12:02:00Z  requested  no handler for contract factory.PaintCar

        3 messages parked, 1 retry requested
    "#]]
    .assert_eq(&stdout(&output));

    let json = treaty(
        dir.path(),
        &["quarantine", "list", "--db", "events.db", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let lines = json_lines(&stdout(&json));
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        serde_json::json!({
            "id": CAR,
            "contract": "factory.ProduceCar",
            "attempts": 5,
            "first_seen": "2024-05-01T11:59:58.5Z",
            "parked_at": "2024-05-01T12:00:00.25Z",
            "retry_requested": false,
            "error": "the handler panicked: out of paint\nat station 4",
        })
    );
    assert_eq!(lines[1]["contract"], Value::Null);
    assert_eq!(lines[2]["retry_requested"], Value::Bool(true));
    // The fields come in a fixed order, for people reading the lines.
    assert!(stdout(&json).starts_with(&format!("{{\"id\":\"{CAR}\",\"contract\":")));
}

#[test]
fn show_prints_everything_with_the_body_indented() {
    let (dir, _db) = sqlite_fixture(true);
    let output = treaty(dir.path(), &["quarantine", "show", CAR, "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    expect![[r#"
        message     01900000-0000-7000-8000-000000000001
        contract    factory.ProduceCar
        attempts    5
        first seen  2024-05-01T11:59:58.5Z
        parked at   2024-05-01T12:00:00.25Z
        retry       not requested

        error:
          the handler panicked: out of paint
          at station 4

        body:
        {
          "id": "01900000-0000-7000-8000-000000000001",
          "contract": "factory.ProduceCar",
          "contract_version": 1,
          "payload": {
            "model": "Roadster",
            "wheels": [
              1,
              2,
              3,
              4
            ]
          },
          "attempt": 5
        }
    "#]]
    .assert_eq(&stdout(&output));

    let garbage = treaty(dir.path(), &["quarantine", "show", GARBAGE, "--db", "events.db"]);
    assert_eq!(garbage.status.code(), Some(0), "{}", stderr(&garbage));
    expect![[r#"
        message     01900000-0000-7000-8000-000000000002
        contract    -
        attempts    1
        first seen  2024-05-01T12:01:00Z
        parked at   2024-05-01T12:01:00Z
        retry       not requested

        error:
          the message is not a Treaty envelope: expected value at line 1 column 1

        body (not JSON):
        hello, not json
    "#]]
    .assert_eq(&stdout(&garbage));

    let requested = treaty(dir.path(), &["quarantine", "show", PAINT, "--db", "events.db"]);
    assert!(
        stdout(&requested).contains("retry       requested: the next running bus will send it again\n"),
        "{}",
        stdout(&requested)
    );
}

#[test]
fn show_dumps_bytes_that_are_not_text() {
    let (dir, db) = sqlite_fixture(false);
    let id = Uuid::now_v7();
    runtime().block_on(async {
        let quarantine = SqliteQuarantine::open(&db).unwrap();
        let message = ParkedMessage {
            id,
            contract: None,
            body: vec![0xff, 0xfe, 0, 1, 2],
            error: "the message is not a Treaty envelope".to_string(),
            attempts: 1,
            first_seen: time("2024-05-01T12:00:00Z"),
            parked_at: time("2024-05-01T12:00:00Z"),
            retry_requested: false,
        };
        quarantine.park(message).await.unwrap();
    });
    let output = treaty(
        dir.path(),
        &["quarantine", "show", &id.to_string(), "--db", "events.db"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).ends_with("body (5 bytes, not text):\n  fffe 0001 02\n"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn retry_is_idempotent() {
    let (dir, db) = sqlite_fixture(true);
    let first = treaty(dir.path(), &["quarantine", "retry", CAR, "--db", "events.db"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    expect![[r#"
        message 01900000-0000-7000-8000-000000000001 will be sent again by the next running bus
    "#]]
    .assert_eq(&stdout(&first));
    assert!(parked(&db, CAR).unwrap().retry_requested);

    let second = treaty(dir.path(), &["quarantine", "retry", CAR, "--db", "events.db"]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    expect![[r#"
        a retry of message 01900000-0000-7000-8000-000000000001 was requested already: the next running bus will send it again
    "#]]
    .assert_eq(&stdout(&second));
    let after = parked(&db, CAR).unwrap();
    assert_eq!(
        after,
        ParkedMessage {
            retry_requested: true,
            ..messages().remove(0)
        }
    );

    let list = treaty(dir.path(), &["quarantine", "list", "--db", "events.db"]);
    assert!(
        stdout(&list).ends_with("3 messages parked, 2 retries requested\n"),
        "{}",
        stdout(&list)
    );
}

#[test]
fn discard_removes_the_message_once() {
    let (dir, db) = sqlite_fixture(true);
    let output = treaty(dir.path(), &["quarantine", "discard", GARBAGE, "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "message 01900000-0000-7000-8000-000000000002 discarded\n"
    );
    assert_eq!(parked(&db, GARBAGE), None);
    assert!(parked(&db, CAR).is_some());

    for command in ["discard", "show", "retry"] {
        let again = treaty(dir.path(), &["quarantine", command, GARBAGE, "--db", "events.db"]);
        assert_eq!(again.status.code(), Some(1), "{command}");
        assert_eq!(stdout(&again), "", "{command}");
        assert_eq!(
            stderr(&again),
            "error: no message 01900000-0000-7000-8000-000000000002 in the quarantine\n",
            "{command}"
        );
    }
}

#[test]
fn an_id_that_is_not_a_uuid_is_a_usage_error() {
    let (dir, _db) = sqlite_fixture(true);
    let output = treaty(dir.path(), &["quarantine", "show", "not-an-id", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid value 'not-an-id'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_missing_file_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["quarantine", "list", "--db", "missing.db"][..],
        &["quarantine", "retry", CAR, "--db", "missing.db"][..],
    ] {
        let output = treaty(dir.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stdout(&output), "");
        expect![[r#"
            error: no database at missing.db: the file does not exist (quarantine commands never create one)
        "#]]
        .assert_eq(&stderr(&output));
    }
    assert!(!dir.path().join("missing.db").exists());

    let schema = treaty(
        dir.path(),
        &["quarantine", "list", "--db", "missing.db", "--schema", "treaty"],
    );
    assert_eq!(schema.status.code(), Some(2));
    assert_eq!(
        stderr(&schema),
        "error: --schema applies to PostgreSQL databases only, and missing.db is a SQLite file path\n"
    );
}

#[test]
fn a_database_where_nothing_was_quarantined_is_left_untouched() {
    let (dir, db) = sqlite_fixture(false);
    let before = tables(&db);
    let output = treaty(dir.path(), &["quarantine", "list", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    expect![[r#"
        no message has been quarantined in this database
    "#]]
    .assert_eq(&stdout(&output));
    assert_eq!(stderr(&output), "");

    // JSON lines: none on standard output, the reason on standard error.
    let json = treaty(
        dir.path(),
        &["quarantine", "list", "--db", "events.db", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    assert_eq!(stdout(&json), "");
    assert_eq!(stderr(&json), "no message has been quarantined in this database\n");

    for command in ["show", "retry", "discard"] {
        let output = treaty(dir.path(), &["quarantine", command, CAR, "--db", "events.db"]);
        assert_eq!(output.status.code(), Some(1), "{command}");
        assert_eq!(
            stderr(&output),
            "error: no message has been quarantined in this database\n",
            "{command}"
        );
    }
    assert_eq!(tables(&db), before);
    assert!(!before.iter().any(|t| t == "treaty_quarantine"), "{before:?}");
}

/// The names of the indexes in a SQLite file.
fn indexes(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
        .unwrap();
    let names = statement.query_map([], |r| r.get(0)).unwrap();
    names.collect::<Result<_, _>>().unwrap()
}

#[test]
fn commands_on_an_existing_quarantine_create_nothing_either() {
    let (dir, db) = sqlite_fixture(true);
    // Opening the quarantine in a program would create the missing index;
    // the commands only use what is there.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DROP INDEX treaty_quarantine_parked")
        .unwrap();
    let before = (tables(&db), indexes(&db));
    for args in [
        &["quarantine", "list", "--db", "events.db"][..],
        &["quarantine", "show", CAR, "--db", "events.db"][..],
        &["quarantine", "retry", CAR, "--db", "events.db"][..],
        &["quarantine", "discard", GARBAGE, "--db", "events.db"][..],
    ] {
        let output = treaty(dir.path(), args);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
    }
    assert_eq!((tables(&db), indexes(&db)), before);
    assert!(parked(&db, CAR).unwrap().retry_requested);
    assert_eq!(parked(&db, GARBAGE), None);
}

#[test]
fn an_empty_quarantine_says_so() {
    let (dir, db) = sqlite_fixture(false);
    runtime().block_on(async { SqliteQuarantine::open(&db).unwrap() });
    let output = treaty(dir.path(), &["quarantine", "list", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "the quarantine is empty: no message is parked\n");
    let json = treaty(
        dir.path(),
        &["quarantine", "list", "--db", "events.db", "--format", "json"],
    );
    assert_eq!((stdout(&json).as_str(), json.status.code()), ("", Some(0)));
}

#[test]
fn the_quarantine_of_a_postgres_database() {
    let Some(url) = postgres_url() else {
        return;
    };
    let id = Uuid::now_v7().simple();
    let (schema, bare) = (format!("cli_quarantine_{id}"), format!("cli_bare_{id}"));
    let runtime = runtime();
    let config = |schema: &str| treaty_runtime::storage::PostgresOptions {
        schema: schema.to_string(),
        pool_size: 2,
    };
    let check = |schema: &str| {
        let (url, config) = (url.clone(), config(schema));
        runtime.block_on(async move {
            // Without DDL, which would create the index dropped below.
            let quarantine = treaty_runtime::bus::PostgresQuarantine::open_existing(&url, config)
                .await
                .unwrap();
            quarantine.get(CAR.parse().unwrap()).await.unwrap()
        })
    };
    runtime.block_on(async {
        let quarantine = treaty_runtime::bus::PostgresQuarantine::open_with(&url, config(&schema))
            .await
            .unwrap();
        for message in messages() {
            quarantine.park(message).await.unwrap();
        }
        postgres_execute(&url, &format!("CREATE SCHEMA {bare}")).await;
        // Opening the quarantine in a program would create the missing
        // index; the commands only use what is there.
        postgres_execute(&url, &format!("DROP INDEX {schema}.treaty_quarantine_parked")).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], schema: &str| {
        let mut all = vec!["quarantine"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--db", &url, "--schema", schema]);
        treaty(dir.path(), &all)
    };
    let list = run(&["list"], &schema);
    let retry = run(&["retry", CAR], &schema);
    let retried = check(&schema);
    let discard = run(&["discard", CAR], &schema);
    let discarded = check(&schema);
    let none = run(&["list"], &bare);
    let missing = run(&["show", CAR], &bare);
    let (bare_tables, index_recreated): (i64, bool) = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let tables = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = $1",
                &[&bare],
            )
            .await
            .unwrap()
            .get(0);
        let index = client
            .query_one(
                "SELECT count(*) > 0 FROM pg_catalog.pg_indexes \
                 WHERE schemaname = $1 AND indexname = 'treaty_quarantine_parked'",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        (tables, index)
    });
    runtime.block_on(postgres_execute(
        &url,
        &format!("DROP SCHEMA {schema} CASCADE; DROP SCHEMA {bare} CASCADE"),
    ));

    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(
        stdout(&list).ends_with("3 messages parked, 1 retry requested\n"),
        "{}",
        stdout(&list)
    );
    assert!(stdout(&list).contains("factory.ProduceCar         5  2024-05-01T12:00:00Z"));
    assert_eq!(retry.status.code(), Some(0), "{}", stderr(&retry));
    assert!(retried.unwrap().retry_requested);
    assert_eq!(discard.status.code(), Some(0), "{}", stderr(&discard));
    assert_eq!(discarded, None);
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
    assert_eq!(stdout(&none), "no message has been quarantined in this database\n");
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(bare_tables, 0, "a read-only command created the quarantine table");
    assert!(!index_recreated, "a command ran the quarantine's DDL");
}
