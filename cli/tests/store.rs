//! `treaty store dump`, `stats` and `check`, run as users run them,
//! against stores built through treaty_runtime with the fingerprints
//! that `.treaty` files compile to.
//!
//! Every SQLite test builds its own store in its own temporary directory.
//! The PostgreSQL test runs when `TREATY_TEST_POSTGRES` names a server,
//! in a schema of its own that it drops at the end.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use treaty_runtime::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName};
use treaty_runtime::Uuid;

mod common;

use common::{postgres_execute, postgres_url, read_only, runtime, stderr, stdout, treaty};

/// The contracts the test stores are written with.
const CONTRACTS: &str = "namespace shop;

/// An order was placed.
OrderPlaced! v2 (total: u64, note: String = \"\")
    was v1 (total: u64);

/// An order left the warehouse.
OrderShipped!(carrier: String);

/// A customer signed up.
CustomerRegistered!(name: String);

/// Place an order.
PlaceOrder?(total: u64);
";

/// `CONTRACTS` with three problems for the stored events: `OrderShipped`
/// changed without a new version, `OrderPlaced` lost its v1 history, and
/// `CustomerRegistered` is gone.
const BROKEN: &str = "namespace shop;

OrderPlaced! v2 (total: u64, note: String = \"\");

OrderShipped!(carrier: String, tracking: String);

PlaceOrder?(total: u64);
";

/// One event to append: stream, contract, version, payload.
type Sample = (&'static str, &'static str, u32, &'static str);

/// Five events in three streams of two prefixes; one payload is
/// pretty-printed, as a producer other than generated code may write it.
const EVENTS: [Sample; 5] = [
    ("order-1", "shop.OrderPlaced", 1, r#"{"total":5}"#),
    ("order-1", "shop.OrderPlaced", 2, r#"{"total":7,"note":"gift"}"#),
    ("order-1", "shop.OrderShipped", 1, "{\n  \"carrier\": \"ups\"\n}"),
    (
        "order-2",
        "shop.OrderPlaced",
        2,
        r#"{"total":123456789012345678901234567890,"note":""}"#,
    ),
    ("customer-9", "shop.CustomerRegistered", 1, r#"{"name":"Ann"}"#),
];

/// The fingerprint of every contract version in `text`, as generated
/// code carries it.
fn fingerprints(text: &str) -> BTreeMap<(String, u32), String> {
    let mut sources = treaty_dsl::Sources::new();
    sources.add("shop.treaty", text);
    let schema = treaty_dsl::compile(&sources, &treaty_dsl::Config::default()).unwrap();
    treaty_dsl::contracts(&schema)
        .into_iter()
        .map(|c| ((c.name, c.version), c.fingerprint))
        .collect()
}

fn new_event(contract: &str, version: u32, payload: &str, fingerprints: &BTreeMap<(String, u32), String>) -> NewEvent {
    let mut metadata = Metadata::now();
    metadata.headers.insert("user".into(), "ann".into());
    NewEvent {
        id: Uuid::now_v7(),
        contract: contract.to_string(),
        contract_version: version,
        fingerprint: fingerprints[&(contract.to_string(), version)].clone(),
        payload: payload.as_bytes().to_vec(),
        metadata,
        schema: None,
    }
}

/// Appends `events` one at a time, so positions follow the list.
async fn append_all(store: &impl EventStore, events: &[Sample]) {
    let fingerprints = fingerprints(CONTRACTS);
    for (stream, contract, version, payload) in events {
        let stream = StreamName::new(*stream).unwrap();
        let event = new_event(contract, *version, payload, &fingerprints);
        store.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap();
    }
}

/// The contract table of `treaty store stats`, each row as contract,
/// version, first position and events (the fingerprint and the time
/// left out).
fn contract_rows(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            // contract, version, fingerprint, first position, first seen, events
            format!("{} {} {} {}", cells[0], cells[1], cells[3], cells[cells.len() - 1])
        })
        .collect()
}

/// A temporary directory with `shop.treaty` (the `CONTRACTS`) and a
/// SQLite store `events.db` holding `EVENTS`.
fn sqlite_fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.treaty"), CONTRACTS).unwrap();
    let db = dir.path().join("events.db");
    runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        append_all(&store, &EVENTS).await;
    });
    (dir, db)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Checks a dump of `EVENTS` line by line.
fn assert_dump_of_samples(lines: &[Value]) {
    assert_eq!(lines.len(), EVENTS.len());
    for (i, (line, (stream, contract, version, payload))) in lines.iter().zip(EVENTS).enumerate() {
        let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected_keys = [
            "position",
            "stream",
            "version",
            "contract",
            "contract_version",
            "fingerprint",
            "id",
            "payload",
            "metadata",
        ];
        expected_keys.sort_unstable();
        assert_eq!(keys, expected_keys, "{line}");
        assert_eq!(line["position"], i as u64 + 1);
        assert_eq!(line["stream"], stream);
        assert_eq!(line["contract"], contract);
        assert_eq!(line["contract_version"], version);
        assert_eq!(
            line["fingerprint"],
            fingerprints(CONTRACTS)[&(contract.to_string(), version)]
        );
        assert!(line["id"].as_str().unwrap().parse::<Uuid>().is_ok(), "{line}");
        assert_eq!(line["payload"], serde_json::from_str::<Value>(payload).unwrap());
        assert_eq!(line["metadata"]["headers"]["user"], "ann");
        assert!(line["metadata"]["timestamp"].is_string(), "{line}");
    }
    let versions: Vec<u64> = lines.iter().map(|l| l["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [1, 2, 3, 1, 1]);
}

#[test]
fn dump_prints_every_event_as_a_json_line() {
    let (dir, _db) = sqlite_fixture();
    let output = treaty(dir.path(), &["store", "dump", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let text = stdout(&output);
    assert_dump_of_samples(&json_lines(&text));
    // Large numbers are copied as written, not rounded through a float,
    // and the pretty-printed payload is put on its one line.
    assert!(
        text.contains(r#""payload":{"total":123456789012345678901234567890,"note":""}"#),
        "{text}"
    );
    assert!(text.contains(r#""payload":{"carrier":"ups"}"#), "{text}");
}

#[test]
fn dump_starts_at_a_position_and_filters_a_stream() {
    let (dir, _db) = sqlite_fixture();
    let from = treaty(dir.path(), &["store", "dump", "--db", "events.db", "--from", "3"]);
    assert_eq!(from.status.code(), Some(0), "{}", stderr(&from));
    let positions: Vec<u64> = json_lines(&stdout(&from))
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [3, 4, 5]);

    let stream = treaty(
        dir.path(),
        &[
            "store",
            "dump",
            "--db",
            "events.db",
            "--stream",
            "order-1",
            "--from",
            "2",
        ],
    );
    assert_eq!(stream.status.code(), Some(0), "{}", stderr(&stream));
    let lines = json_lines(&stdout(&stream));
    let positions: Vec<u64> = lines.iter().map(|l| l["position"].as_u64().unwrap()).collect();
    assert_eq!(positions, [2, 3]);
    assert!(lines.iter().all(|l| l["stream"] == "order-1"));

    let invalid = treaty(dir.path(), &["store", "dump", "--db", "events.db", "--stream", "$all"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(
        stderr(&invalid).contains("invalid stream name \"$all\""),
        "{}",
        stderr(&invalid)
    );
}

#[test]
fn dump_stops_quietly_when_the_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    // Far more than a pipe buffers, so the dump is still writing when
    // the reader leaves.
    runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        let fingerprints = fingerprints(CONTRACTS);
        let note = "x".repeat(200);
        let payload = format!(r#"{{"total":1,"note":"{note}"}}"#);
        let stream = StreamName::new("bulk-1").unwrap();
        for _ in 0..10 {
            let batch = (0..500)
                .map(|_| new_event("shop.OrderPlaced", 2, &payload, &fingerprints))
                .collect();
            store.append(&stream, ExpectedVersion::Any, batch).await.unwrap();
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_treaty"))
        .args(["store", "dump", "--db", "events.db"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("{\"position\":1,"), "{first}");
    // The reader (and with it the pipe) is dropped here, like `| head -1`.
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

#[test]
fn a_corrupt_row_is_reported_and_the_dump_goes_on_after_it() {
    let (dir, db) = sqlite_fixture();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE events SET metadata = '{not json' WHERE position = 3", [])
        .unwrap();
    drop(conn);
    let output = treaty(dir.path(), &["store", "dump", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(1));
    let positions: Vec<u64> = json_lines(&stdout(&output))
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 2, 4, 5]);
    let err = stderr(&output);
    assert!(
        err.starts_with("error: event at position 3 cannot be read: metadata:"),
        "{err}"
    );
    assert!(
        err.ends_with("error: 1 stored event could not be read (reported above); every other event was printed\n"),
        "{err}"
    );

    // The scan of `stats` meets the same row, says so, and counts the rest.
    let stats = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    assert_eq!(stats.status.code(), Some(1));
    assert!(
        stderr(&stats).contains("event at position 3 cannot be read"),
        "{}",
        stderr(&stats)
    );
    assert!(
        stdout(&stats).contains("4 events, head position 5"),
        "{}",
        stdout(&stats)
    );
}

#[test]
fn payloads_that_are_not_json_are_reported_with_their_positions() {
    let (dir, db) = sqlite_fixture();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE events SET payload = 'oops' WHERE position = 2", [])
        .unwrap();
    // Stored by an earlier build that checked payloads less strictly.
    conn.execute("UPDATE events SET payload = '[1e400]' WHERE position = 4", [])
        .unwrap();
    drop(conn);
    let output = treaty(dir.path(), &["store", "dump", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(1));
    let positions: Vec<u64> = json_lines(&stdout(&output))
        .iter()
        .map(|l| l["position"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 3, 5]);
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("error: event at position 2 cannot be read: the payload is not JSON"),
        "{err}"
    );
    assert!(
        lines[1].starts_with("error: event at position 4 cannot be read: the payload is not JSON"),
        "{err}"
    );
    assert!(
        lines[2].starts_with("error: 2 stored events could not be read"),
        "{err}"
    );
}

#[test]
fn stored_names_reach_the_terminal_escaped() {
    let (dir, db) = sqlite_fixture();
    // Written by an earlier build, which did not check contract names.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "UPDATE events SET contract = 'shop.' || char(27) || '[2J' || char(10) || 'Fake' WHERE position = 5;
         UPDATE contracts SET name = 'shop.' || char(27) || '[2J' || char(10) || 'Fake'
         WHERE name = 'shop.CustomerRegistered';",
    )
    .unwrap();
    drop(conn);
    let output = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("shop.\\u{1b}[2J\\nFake"), "{text}");
    let dump = treaty(dir.path(), &["store", "dump", "--db", "events.db"]);
    assert!(!stdout(&dump).contains('\u{1b}'));
}

#[test]
fn stats_counts_contract_versions_and_stream_prefixes() {
    let (dir, _db) = sqlite_fixture();
    let output = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(
        contract_rows(&text),
        [
            "shop.CustomerRegistered v1 5 1",
            "shop.OrderPlaced v1 1 1",
            "shop.OrderPlaced v2 2 2",
            "shop.OrderShipped v1 3 1",
        ],
        "{text}"
    );
    assert!(
        text.starts_with("contract                 version                       fingerprint  first position            first seen  events\n"),
        "{text}"
    );
    let fingerprint = &fingerprints(CONTRACTS)[&("shop.OrderPlaced".into(), 2)];
    assert!(text.contains(fingerprint.as_str()), "{text}");
    assert!(
        text.ends_with(
            "stream prefix  events
customer            1
order               4

5 events, head position 5
"
        ),
        "{text}"
    );

    let json = treaty(dir.path(), &["store", "stats", "--db", "events.db", "--json"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let stats: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(stats["head"], 5);
    assert_eq!(stats["total"], 5);
    assert_eq!(
        stats["streams"],
        serde_json::json!([{"prefix": "customer", "events": 1}, {"prefix": "order", "events": 4}])
    );
    let contracts: Vec<(String, u64, u64)> = stats["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            (name, c["version"].as_u64().unwrap(), c["events"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        contracts,
        [
            ("shop.CustomerRegistered".to_string(), 1, 1),
            ("shop.OrderPlaced".to_string(), 1, 1),
            ("shop.OrderPlaced".to_string(), 2, 2),
            ("shop.OrderShipped".to_string(), 1, 1),
        ]
    );
    assert_eq!(
        stats["contracts"][0]["fingerprint"],
        fingerprints(CONTRACTS)[&("shop.CustomerRegistered".into(), 1)]
    );
}

#[test]
fn stats_lists_registered_versions_without_events_and_events_without_a_registry_row() {
    let (dir, db) = sqlite_fixture();
    // A version a build registered but no event uses, and a registry row
    // lost behind the store's back: both are listed, and the counts still
    // add up to the total.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute_batch(
        "INSERT INTO contracts (name, version, fingerprint) VALUES ('shop.OrderPlaced', 3, 'f3');
         DELETE FROM contracts WHERE name = 'shop.OrderShipped';",
    )
    .unwrap();
    drop(raw);
    let output = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        contract_rows(&stdout(&output)),
        [
            "shop.CustomerRegistered v1 5 1",
            "shop.OrderPlaced v1 1 1",
            "shop.OrderPlaced v2 2 2",
            "shop.OrderPlaced v3 - 0",
            "shop.OrderShipped v1 3 1",
        ],
        "{}",
        stdout(&output)
    );
}

#[test]
fn stats_of_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path().join("events.db")).unwrap());
    let output = treaty(dir.path(), &["store", "stats", "--db", "events.db", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stats: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        stats,
        serde_json::json!({"head": 0, "total": 0, "contracts": [], "streams": []})
    );
}

#[test]
fn check_passes_when_the_contracts_read_every_event() {
    let (dir, _db) = sqlite_fixture();
    let output = treaty(
        dir.path(),
        &["store", "check", "--db", "events.db", "--contracts", "shop.treaty"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("the store holds 4 writer schemas:\n"), "{text}");
    let placed = &fingerprints(CONTRACTS)[&("shop.OrderPlaced".into(), 2)];
    assert!(
        text.contains(&format!(
            "  shop.OrderPlaced v2 {placed} (first at position 2, first seen "
        )),
        "{text}"
    );
    assert!(
        text.ends_with("ok: the contracts can read every event in the store (4 event versions)\n"),
        "{text}"
    );
    // Nothing was recorded: the registry still lacks `PlaceOrder`, which
    // no event uses.
    let stats = treaty(dir.path(), &["store", "stats", "--db", "events.db", "--json"]);
    let stats: Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!(stats["contracts"].as_array().unwrap().len(), 4);
}

#[test]
fn check_lists_every_problem_of_changed_contracts() {
    let (dir, _db) = sqlite_fixture();
    std::fs::write(dir.path().join("shop.treaty"), BROKEN).unwrap();
    let output = treaty(
        dir.path(),
        &["store", "check", "--db", "events.db", "--contracts", "shop.treaty"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("the store holds 4 writer schemas:"));
    let err = stderr(&output);
    let stored = &fingerprints(CONTRACTS)[&("shop.OrderShipped".into(), 1)];
    let compiled = &fingerprints(BROKEN)[&("shop.OrderShipped".into(), 1)];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert_eq!(
        lines[0],
        "the compiled contracts cannot read this store (3 problems, mode backward):"
    );
    assert!(
        lines[1]
            .starts_with("  - shop.CustomerRegistered v1: stored events (the first at position 5) use a contract this build does not have"),
        "{err}"
    );
    assert!(
        lines[2].starts_with(
            "  - shop.OrderPlaced v1: stored events use it (the first at position 1), but this build reads only v2"
        ),
        "{err}"
    );
    assert!(
        lines[3].starts_with(&format!(
            "  - shop.OrderShipped v1: the store has fingerprint {stored}, this build {compiled}"
        )),
        "{err}"
    );
}

#[test]
fn check_refuses_contracts_with_errors_and_bad_arguments() {
    let (dir, _db) = sqlite_fixture();
    std::fs::write(dir.path().join("bad.treaty"), "namespace x;\nA!(n: Strin);\n").unwrap();
    let invalid = treaty(
        dir.path(),
        &["store", "check", "--db", "events.db", "--contracts", "bad.treaty"],
    );
    assert_eq!(invalid.status.code(), Some(2));
    assert!(stderr(&invalid).contains("error[unknown-type]"), "{}", stderr(&invalid));

    let missing = treaty(
        dir.path(),
        &["store", "check", "--db", "events.db", "--contracts", "no/such.treaty"],
    );
    assert_eq!(missing.status.code(), Some(2));

    let no_contracts = treaty(dir.path(), &["store", "check", "--db", "events.db"]);
    assert_eq!(no_contracts.status.code(), Some(2));
}

#[test]
fn a_missing_or_foreign_database_is_a_usage_error_and_stays_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["dump", "stats"] {
        let output = treaty(dir.path(), &["store", command, "--db", "missing.db"]);
        assert_eq!(output.status.code(), Some(2));
        assert_eq!(
            stderr(&output),
            "error: no store at missing.db: the file does not exist (store commands never create one)\n"
        );
    }
    assert!(!dir.path().join("missing.db").exists());

    // A SQLite database of another program is not turned into a store.
    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE events (x INTEGER)").unwrap();
    drop(conn);
    let before = std::fs::read(&other).unwrap();
    let output = treaty(dir.path(), &["store", "dump", "--db", "other.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no Treaty event store at other.db: its `contracts` table is missing"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read(&other).unwrap(), before);

    std::fs::write(dir.path().join("text.db"), "hello").unwrap();
    let output = treaty(dir.path(), &["store", "stats", "--db", "text.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("text.db"), "{}", stderr(&output));

    let output = treaty(dir.path(), &["store", "dump", "--db", "other.db", "--schema", "x"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--schema applies to PostgreSQL stores only"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn commands_read_a_store_while_a_writer_holds_its_lock() {
    let (dir, db) = sqlite_fixture();
    std::fs::write(dir.path().join("shop.treaty"), CONTRACTS).unwrap();
    // A writer in the middle of a transaction, holding SQLite's write lock
    // until the commands are done: they only read, so they do not wait.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    let dump = treaty(dir.path(), &["store", "dump", "--db", "events.db"]);
    let stats = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    let check = treaty(
        dir.path(),
        &["store", "check", "--db", "events.db", "--contracts", "shop.treaty"],
    );
    writer.execute_batch("ROLLBACK").unwrap();
    assert_eq!(dump.status.code(), Some(0), "{}", stderr(&dump));
    assert_dump_of_samples(&json_lines(&stdout(&dump)));
    assert_eq!(stats.status.code(), Some(0), "{}", stderr(&stats));
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn a_store_of_an_older_layout_is_refused_and_left_as_it_is() {
    let (dir, db) = sqlite_fixture();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    let output = treaty(dir.path(), &["store", "stats", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: the store at events.db has layout 1, older than this build's layout 3, and cannot be moved while \
         it is opened read-only; open it once with a Treaty service (`open`), which moves it\n"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Whether `url` carries a password, which error messages must hide.
fn has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(credentials, _)| credentials.contains(':'))
}

async fn postgres_schema_exists(url: &str, schema: &str) -> bool {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
    row.get(0)
}

#[test]
fn dump_and_check_a_postgres_store() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("cli_test_{}", Uuid::now_v7().simple());
    let runtime = runtime();
    runtime.block_on(async {
        let config = treaty_runtime::store::PostgresConfig {
            connection: treaty_runtime::storage::PostgresOptions {
                schema: schema.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let store = treaty_runtime::store::PostgresStore::open_with(&url, config)
            .await
            .unwrap();
        append_all(&store, &EVENTS).await;
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.treaty"), CONTRACTS).unwrap();
    std::fs::write(dir.path().join("broken.treaty"), BROKEN).unwrap();
    // Every command through connections that cannot write: the commands
    // only read, so a role allowed only `SELECT` can run them.
    let reader = read_only(&url);
    let store_args = ["--db", reader.as_str(), "--schema", schema.as_str()];
    let run = |args: &[&str]| treaty(dir.path(), &[&["store"], args, &store_args].concat());

    let dump = run(&["dump"]);
    let check = run(&["check", "--contracts", "shop.treaty"]);
    let broken = run(&["check", "--contracts", "broken.treaty"]);
    let stats = run(&["stats", "--json"]);
    let missing_schema = format!("{schema}_missing");
    let missing = treaty(
        dir.path(),
        &["store", "dump", "--db", &url, "--schema", &missing_schema],
    );
    let created = runtime.block_on(postgres_schema_exists(&url, &missing_schema));
    runtime.block_on(postgres_execute(&url, &format!("DROP SCHEMA {schema} CASCADE")));

    assert_eq!(dump.status.code(), Some(0), "{}", stderr(&dump));
    assert_dump_of_samples(&json_lines(&stdout(&dump)));
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(
        stdout(&check).ends_with("ok: the contracts can read every event in the store (4 event versions)\n"),
        "{}",
        stdout(&check)
    );
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("(3 problems, mode backward)"),
        "{}",
        stderr(&broken)
    );
    assert_eq!(stats.status.code(), Some(0), "{}", stderr(&stats));
    let stats: Value = serde_json::from_str(&stdout(&stats)).unwrap();
    assert_eq!((stats["head"].as_u64(), stats["total"].as_u64()), (Some(5), Some(5)));
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains(&format!("(schema {missing_schema})")),
        "{}",
        stderr(&missing)
    );
    if has_password(&url) {
        assert!(!stderr(&missing).contains(url.as_str()), "the password is shown");
    }
    assert!(!created, "a read-only command created schema {missing_schema}");
}

/// The event versions of `text` with their canonical schemas, as
/// generated code registers them.
fn compiled(text: &str) -> Vec<treaty_runtime::store::registry::CompiledContract> {
    let mut sources = treaty_dsl::Sources::new();
    sources.add("shop.treaty", text);
    let schema = treaty_dsl::compile(&sources, &treaty_dsl::Config::default()).unwrap();
    treaty_dsl::contracts(&schema)
        .into_iter()
        .filter(|c| c.kind == treaty_dsl::ContractKind::Event)
        .map(|c| treaty_runtime::store::registry::CompiledContract {
            schema: Some(c.schema.to_string()),
            name: c.name,
            version: c.version,
            fingerprint: c.fingerprint,
        })
        .collect()
}

/// `CONTRACTS` with `OrderShipped` changed in place: a field with a
/// default added, which every mode accepts.
const COMPATIBLE: &str = "namespace shop;

OrderPlaced! v2 (total: u64, note: String = \"\")
    was v1 (total: u64);

OrderShipped!(carrier: String, tracking: String = \"\");

CustomerRegistered!(name: String);
";

/// `CONTRACTS` with `OrderShipped` changed in place in a way the store's
/// events cannot be read with: a required field added.
const INCOMPATIBLE: &str = "namespace shop;

OrderPlaced! v2 (total: u64, note: String = \"\")
    was v1 (total: u64);

OrderShipped!(carrier: String, tracking: String);

CustomerRegistered!(name: String);
";

#[test]
fn check_applies_the_rule_book_to_the_registered_schemas_and_lists_every_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let shipped_b = compiled(COMPATIBLE)
        .into_iter()
        .find(|c| c.name == "shop.OrderShipped")
        .unwrap();
    runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        treaty_runtime::store::registry::register_contracts(&store, &compiled(CONTRACTS))
            .await
            .unwrap();
        append_all(&store, &EVENTS).await;
        // A build with the compatible change started and wrote one event.
        treaty_runtime::store::registry::register_contracts(&store, &compiled(COMPATIBLE))
            .await
            .unwrap();
        let mut event = new_event(
            "shop.OrderShipped",
            1,
            r#"{"carrier":"dhl","tracking":"x"}"#,
            &fingerprints(CONTRACTS),
        );
        event.fingerprint = shipped_b.fingerprint.clone();
        store
            .append(&StreamName::new("order-3").unwrap(), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    });
    std::fs::write(dir.path().join("compatible.treaty"), COMPATIBLE).unwrap();
    std::fs::write(dir.path().join("incompatible.treaty"), INCOMPATIBLE).unwrap();
    let check = |file: &str, mode: Option<&str>| {
        let mut args = vec!["store", "check", "--db", "events.db", "--contracts", file];
        if let Some(mode) = mode {
            args.extend(["--mode", mode]);
        }
        treaty(dir.path(), &args)
    };

    let ok = check("compatible.treaty", None);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let text = stdout(&ok);
    let shipped_a = &fingerprints(CONTRACTS)[&("shop.OrderShipped".into(), 1)];
    // Both writer schemas of `OrderShipped` v1, in the order first used.
    let a_at = text
        .find(&format!(
            "  shop.OrderShipped v1 {shipped_a} (first at position 3, first seen 20"
        ))
        .expect(&text);
    let b_at = text
        .find(&format!(
            "  shop.OrderShipped v1 {} (first at position 6, first seen 20",
            shipped_b.fingerprint
        ))
        .expect(&text);
    assert!(a_at < b_at, "{text}");
    assert!(text.starts_with("the store holds 5 writer schemas:\n"), "{text}");

    // The required field is refused against both stored schemas, with
    // the lint's rule id, field path and help.
    let refused = check("incompatible.treaty", None);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let err = stderr(&refused);
    assert!(
        err.starts_with("the compiled contracts cannot read this store (2 problems, mode backward):\n"),
        "{err}"
    );
    assert_eq!(
        err.matches("error[field-added-required]: event `shop.OrderShipped` v1: required field `tracking` of type `String` was added without a default").count(),
        1,
        "{err}"
    );
    assert!(err.contains("help: "), "{err}");

    // The mode is the one given; an unknown one is a usage error.
    let full = check("compatible.treaty", Some("full"));
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let unknown = check("compatible.treaty", Some("sideways"));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown compatibility mode `sideways`; expected backward, forward or full"),
        "{}",
        stderr(&unknown)
    );
}

/// Every row of every table of the SQLite database `db`, as text: what a
/// command that only reads must leave as it was. (The file's bytes are no
/// measure: the process that wrote it may still be closing its
/// connection, which moves its write-ahead log into the file.)
fn contents(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut rows = Vec::new();
    for table in tables {
        let mut select = conn
            .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
            .unwrap();
        let columns = select.column_count();
        let mut found = select.query([]).unwrap();
        while let Some(row) = found.next().unwrap() {
            let values: Vec<rusqlite::types::Value> = (0..columns).map(|i| row.get(i).unwrap()).collect();
            rows.push(format!("{table}: {values:?}"));
        }
    }
    rows
}

#[test]
fn lint_against_a_store_compares_with_every_stored_writer_schema_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        treaty_runtime::store::registry::register_contracts(&store, &compiled(CONTRACTS))
            .await
            .unwrap();
        append_all(&store, &EVENTS).await;
    });
    std::fs::write(dir.path().join("compatible.treaty"), COMPATIBLE).unwrap();
    std::fs::write(dir.path().join("incompatible.treaty"), INCOMPATIBLE).unwrap();
    let before = contents(&db);
    let lint = |file: &str, extra: &[&str]| {
        let mut args = vec!["lint", file, "--against", "db:events.db"];
        args.extend(extra);
        treaty(dir.path(), &args)
    };

    // The store's mode, backward, is the default.
    let ok = lint("compatible.treaty", &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(
        stderr(&ok).contains("ok: 0 breaking changes,") && stderr(&ok).contains("against db:events.db (mode backward)"),
        "{}",
        stderr(&ok)
    );
    let refused = lint("incompatible.treaty", &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(err.contains("field-added-required"), "{err}");
    assert!(err.contains("`shop.OrderShipped` v1"), "{err}");
    // The JSON rendering names the rule, as `treaty store check` does.
    let json = lint("incompatible.treaty", &["--format", "json"]);
    let report: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(report["mode"], "backward");
    let breaking: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| (f["rule"].as_str().unwrap(), f["field"].as_str().unwrap()))
        .collect();
    assert_eq!(breaking, [("field-added-required", "tracking")]);
    assert_eq!(contents(&db), before, "the store is only read");

    // A corrupt stored schema is a usage error naming the contract and
    // version, and the row is left as it is.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute(
        "UPDATE contracts SET schema = '{\"fields\": ' WHERE name = 'shop.OrderShipped'",
        [],
    )
    .unwrap();
    drop(raw);
    let corrupt = lint("compatible.treaty", &[]);
    assert_eq!(corrupt.status.code(), Some(2));
    assert!(
        stderr(&corrupt).contains("the stored schema of shop.OrderShipped v1 (fingerprint"),
        "{}",
        stderr(&corrupt)
    );
    assert!(
        stderr(&corrupt).contains("it is corrupt (not JSON"),
        "{}",
        stderr(&corrupt)
    );
    // One a newer Treaty wrote is refused too, not guessed at.
    let raw = rusqlite::Connection::open(&db).unwrap();
    raw.execute(
        "UPDATE contracts SET schema_format = 9 WHERE name = 'shop.OrderShipped'",
        [],
    )
    .unwrap();
    drop(raw);
    let newer = lint("compatible.treaty", &[]);
    assert_eq!(newer.status.code(), Some(2));
    assert!(
        stderr(&newer).contains("it was written by a newer Treaty (schema format 9; this build reads up to 1)"),
        "{}",
        stderr(&newer)
    );
    // A store that is not there is a usage error too.
    let missing = treaty(dir.path(), &["lint", "compatible.treaty", "--against", "db:missing.db"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn lint_against_a_postgres_store_through_a_read_only_role() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("cli_test_{}", Uuid::now_v7().simple());
    let runtime = runtime();
    runtime.block_on(async {
        let config = treaty_runtime::store::PostgresConfig {
            connection: treaty_runtime::storage::PostgresOptions {
                schema: schema.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let store = treaty_runtime::store::PostgresStore::open_with(&url, config)
            .await
            .unwrap();
        treaty_runtime::store::registry::register_contracts(&store, &compiled(CONTRACTS))
            .await
            .unwrap();
        append_all(&store, &EVENTS).await;
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compatible.treaty"), COMPATIBLE).unwrap();
    std::fs::write(dir.path().join("incompatible.treaty"), INCOMPATIBLE).unwrap();
    let reader = read_only(&url);
    let against = format!("db:{reader}");
    let lint = |file: &str| {
        treaty(
            dir.path(),
            &["lint", file, "--against", &against, "--db-schema", &schema],
        )
    };
    let ok = lint("compatible.treaty");
    let refused = lint("incompatible.treaty");
    let misplaced = treaty(
        dir.path(),
        &[
            "lint",
            "compatible.treaty",
            "--against",
            "compatible.treaty",
            "--db-schema",
            "x",
        ],
    );
    runtime.block_on(postgres_execute(&url, &format!("DROP SCHEMA {schema} CASCADE")));
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stderr(&ok).contains("(mode backward)"), "{}", stderr(&ok));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("field-added-required"),
        "{}",
        stderr(&refused)
    );
    if has_password(&url) {
        assert!(!stderr(&refused).contains(url.as_str()), "the password is shown");
    }
    assert_eq!(misplaced.status.code(), Some(2));
}
