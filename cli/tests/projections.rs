//! `treaty projections status`, run as users run it, against event stores
//! and view stores set up through treaty_runtime.
//!
//! Every SQLite test builds its own databases in its own temporary
//! directory. The PostgreSQL test runs when `TREATY_TEST_POSTGRES` names a
//! server, in a schema of its own that it drops at the end.

use std::path::{Path, PathBuf};

use expect_test::expect;
use serde_json::Value;
use treaty_runtime::projection::{Generation, SqliteViewStore, ViewChange, ViewStore};
use treaty_runtime::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName};
use treaty_runtime::Uuid;

mod common;

use common::{postgres_execute, postgres_url, read_only, runtime, stderr, stdout, treaty};

/// The fingerprints of the generations the tests record.
const FIRST: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECOND: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const STOCK: &str = "123456789abcdef0123456789abcdef0";

/// Appends five raw events to `store`, one at a time: head position 5.
async fn append_events(store: &impl EventStore) {
    for (stream, total) in [
        ("order-1", 5),
        ("order-1", 7),
        ("order-2", 1),
        ("order-3", 2),
        ("order-2", 9),
    ] {
        let event = NewEvent {
            id: Uuid::now_v7(),
            contract: "shop.OrderPlaced".to_string(),
            contract_version: 1,
            fingerprint: "00112233445566778899aabbccddeeff".to_string(),
            payload: format!(r#"{{"total":{total}}}"#).into_bytes(),
            metadata: Metadata::now(),
            schema: None,
        };
        let stream = StreamName::new(stream).unwrap();
        store.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap();
    }
}

/// One view change, for checkpoints that move with something written.
fn change(key: &str) -> Vec<ViewChange> {
    vec![ViewChange {
        key: key.to_string(),
        value: Some(br#"{"orders":1}"#.to_vec()),
    }]
}

/// Two projections through the `ViewStore` methods the engine uses:
/// `orders.by_customer` rebuilt once (generation 1 retired, 2 live) and
/// rebuilding again (3 building), `stock.levels` live at generation 1.
async fn record_generations(views: &impl ViewStore) {
    views.begin_generation("orders.by_customer", 1, FIRST).await.unwrap();
    views
        .commit("orders.by_customer", 1, 0, 3, change("ann"))
        .await
        .unwrap();
    assert_eq!(views.promote("orders.by_customer", 1).await.unwrap(), None);
    views.begin_generation("orders.by_customer", 2, SECOND).await.unwrap();
    views
        .commit("orders.by_customer", 2, 0, 5, change("ann"))
        .await
        .unwrap();
    assert_eq!(views.promote("orders.by_customer", 2).await.unwrap(), Some(1));
    views.begin_generation("orders.by_customer", 3, FIRST).await.unwrap();
    views
        .commit("orders.by_customer", 3, 0, 2, change("bob"))
        .await
        .unwrap();
    views.begin_generation("stock.levels", 1, STOCK).await.unwrap();
    views.commit("stock.levels", 1, 0, 4, change("sku-1")).await.unwrap();
    views.promote("stock.levels", 1).await.unwrap();
}

/// A temporary directory with `events.db` holding five events and, when
/// `views` is set, the view store in the same file. Returns the
/// generations as the view store reports them.
fn sqlite_fixture(views: bool) -> (tempfile::TempDir, PathBuf, Vec<Generation>) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.db");
    let generations = runtime().block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        append_events(&store).await;
        if !views {
            return Vec::new();
        }
        let views = SqliteViewStore::open(&db).unwrap();
        record_generations(&views).await;
        views.generations().await.unwrap()
    });
    (dir, db, generations)
}

/// The human output with the seconds since a rebuild last moved, which
/// depend on how fast the test runs, replaced by `N` (after checking that
/// they are few: the rebuild moved moments ago).
fn without_seconds(text: &str) -> String {
    const MARK: &str = "last progress ";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(MARK) {
        let (before, after) = rest.split_at(at + MARK.len());
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let seconds: u64 = after[..digits].parse().unwrap();
        assert!(seconds < 600, "{text}");
        out.push_str(before);
        out.push('N');
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Checks the JSON lines of the generations `record_generations` writes
/// against an event store at head 5.
fn assert_json_of_generations(lines: &[Value], generations: &[Generation]) {
    let rows: Vec<(&str, u64, &str, &str, u64, u64, u64)> = lines
        .iter()
        .map(|l| {
            let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
            let mut expected = [
                "projection",
                "generation",
                "status",
                "fingerprint",
                "checkpoint",
                "head",
                "lag",
                "updated_at",
                "holder",
                "token",
                "lease_expires_at",
            ];
            expected.sort_unstable();
            assert_eq!(keys, expected, "{l}");
            (
                l["projection"].as_str().unwrap(),
                l["generation"].as_u64().unwrap(),
                l["status"].as_str().unwrap(),
                l["fingerprint"].as_str().unwrap(),
                l["checkpoint"].as_u64().unwrap(),
                l["head"].as_u64().unwrap(),
                l["lag"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("orders.by_customer", 1, "retired", FIRST, 3, 5, 2),
            ("orders.by_customer", 2, "live", SECOND, 5, 5, 0),
            ("orders.by_customer", 3, "building", FIRST, 2, 5, 3),
            ("stock.levels", 1, "live", STOCK, 4, 5, 1),
        ]
    );
    // The times are the view store's, in RFC 3339.
    let times: Vec<String> = generations.iter().map(|g| g.updated_at.to_string()).collect();
    let printed: Vec<&str> = lines.iter().map(|l| l["updated_at"].as_str().unwrap()).collect();
    assert_eq!(printed, times);
    for time in printed {
        assert!(time.parse::<treaty_runtime::Timestamp>().is_ok(), "{time}");
    }
}

#[test]
fn status_shows_every_generation_with_its_lag() {
    let (dir, _db, generations) = sqlite_fixture(true);
    let output = treaty(dir.path(), &["projections", "status", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    expect![[r#"
        projection          generation  status      fingerprint  checkpoint  lag
        orders.by_customer           1  retired     0a1b2c3d..            3    2
        orders.by_customer           2  live        f0e1d2c3..            5    0
        orders.by_customer           3  rebuilding  0a1b2c3d..            2    3  rebuild running: last progress Ns ago
        stock.levels                 1  live        12345678..            4    1

        4 generations of 2 projections, event store head position 5
    "#]]
    .assert_eq(&without_seconds(&stdout(&output)));

    let json = treaty(
        dir.path(),
        &["projections", "status", "--db", "events.db", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    assert_eq!(stderr(&json), "");
    assert_json_of_generations(&json_lines(&stdout(&json)), &generations);
}

/// With several instances, status says which one holds each projection.
#[test]
fn status_names_the_instance_holding_each_projection() {
    let (dir, db, _) = sqlite_fixture(true);
    runtime().block_on(async {
        let views = SqliteViewStore::open(&db).unwrap();
        let long = std::time::Duration::from_secs(600);
        views
            .acquire("orders.by_customer", "web-1", long)
            .await
            .unwrap()
            .unwrap();
        let stock = views.acquire("stock.levels", "web-2", long).await.unwrap().unwrap();
        views.release(&stock).await.unwrap();
        views.acquire("stock.levels", "web-3", long).await.unwrap().unwrap();
    });
    let output = treaty(dir.path(), &["projections", "status", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let leases: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("projection  "))
        .skip(1)
        .collect();
    let leases: Vec<&str> = leases
        .into_iter()
        .skip_while(|l| !l.starts_with("projection  "))
        .collect();
    assert_eq!(leases[0], "projection          held by  token  lease", "{text}");
    assert!(
        leases[1].starts_with("orders.by_customer  web-1        1  expires in "),
        "{text}"
    );
    assert!(
        leases[2].starts_with("stock.levels        web-3        2  expires in "),
        "{text}"
    );

    let json = treaty(
        dir.path(),
        &["projections", "status", "--db", "events.db", "--format", "json"],
    );
    let holders: Vec<(String, Value, Value)> = json_lines(&stdout(&json))
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap().to_string(),
                l["holder"].clone(),
                l["token"].clone(),
            )
        })
        .collect();
    assert_eq!(
        holders,
        [
            ("retired".to_string(), Value::Null, Value::Null),
            ("live".to_string(), Value::from("web-1"), Value::from(1)),
            ("building".to_string(), Value::from("web-1"), Value::from(1)),
            ("live".to_string(), Value::from("web-3"), Value::from(2)),
        ]
    );
}

#[test]
fn status_reads_views_kept_in_another_file() {
    let (dir, _db, _) = sqlite_fixture(false);
    let views = dir.path().join("views.db");
    let generations = runtime().block_on(async {
        let views = SqliteViewStore::open(&views).unwrap();
        record_generations(&views).await;
        views.generations().await.unwrap()
    });
    let output = treaty(
        dir.path(),
        &[
            "projections",
            "status",
            "--db",
            "events.db",
            "--views",
            "views.db",
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_json_of_generations(&json_lines(&stdout(&output)), &generations);

    // The event store's own file has no views.
    let own = treaty(dir.path(), &["projections", "status", "--db", "events.db"]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    assert_eq!(stdout(&own), "no projections have run against this database\n");
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

#[test]
fn status_of_a_database_where_no_projection_ran_creates_nothing() {
    let (dir, db, _) = sqlite_fixture(false);
    let before = tables(&db);
    let output = treaty(dir.path(), &["projections", "status", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    expect![[r#"
        no projections have run against this database
    "#]]
    .assert_eq(&stdout(&output));
    assert_eq!(stderr(&output), "");

    // JSON lines: none on standard output, the reason on standard error.
    let json = treaty(
        dir.path(),
        &["projections", "status", "--db", "events.db", "--format", "json"],
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    assert_eq!(stdout(&json), "");
    assert_eq!(stderr(&json), "no projections have run against this database\n");

    assert_eq!(tables(&db), before);
    assert!(!before.iter().any(|t| t.starts_with("treaty_")), "{before:?}");
}

#[test]
fn status_refuses_missing_files_and_creates_none() {
    let (dir, _db, _) = sqlite_fixture(false);
    let output = treaty(dir.path(), &["projections", "status", "--db", "missing.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    expect![[r#"
        error: no store at missing.db: the file does not exist (store commands never create one)
    "#]]
    .assert_eq(&stderr(&output));

    let output = treaty(
        dir.path(),
        &["projections", "status", "--db", "events.db", "--views", "views.db"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout(&output), "");
    expect![[r#"
        error: no view store at views.db: the file does not exist (projections status never creates one)
    "#]]
    .assert_eq(&stderr(&output));
    assert!(!dir.path().join("missing.db").exists());
    assert!(!dir.path().join("views.db").exists());

    let output = treaty(
        dir.path(),
        &["projections", "status", "--db", "events.db", "--format", "yaml"],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn status_refuses_a_view_store_missing_a_table() {
    let (dir, db, _) = sqlite_fixture(true);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TABLE treaty_views").unwrap();
    drop(conn);
    let output = treaty(dir.path(), &["projections", "status", "--db", "events.db"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: no Treaty view store at events.db: its `treaty_views` table is missing \
         (opening an existing view store creates nothing)\n"
    );
    assert!(!tables(&db).contains(&"treaty_views".to_string()));
}

/// The journal mode of a SQLite file, read through a read-only connection,
/// which cannot change it.
fn journal_mode(db: &Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap()
}

#[test]
fn status_leaves_a_view_store_as_it_found_it() {
    let (dir, _db, _) = sqlite_fixture(false);
    let views = dir.path().join("views.db");
    let generations = runtime().block_on(async {
        let views = SqliteViewStore::open(&views).unwrap();
        record_generations(&views).await;
        views.generations().await.unwrap()
    });
    // Back to a rollback journal, once the store's writer thread has
    // closed its connection (leaving WAL needs the file to itself).
    // Until then SQLite either keeps WAL or answers BUSY at once (the
    // switch ignores the busy timeout), so both mean: try again.
    let conn = rusqlite::Connection::open(&views).unwrap();
    let mut mode = String::new();
    for _ in 0..100 {
        match conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get::<_, String>(0)) {
            Ok(now) if now == "delete" => {
                mode = now;
                break;
            }
            Ok(now) => mode = now,
            Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => {}
            Err(e) => panic!("switching {} to a rollback journal: {e}", views.display()),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(mode, "delete");
    drop(conn);
    let before = tables(&views);

    let output = treaty(
        dir.path(),
        &[
            "projections",
            "status",
            "--db",
            "events.db",
            "--views",
            "views.db",
            "--format",
            "json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_json_of_generations(&json_lines(&stdout(&output)), &generations);
    // Opening the store in a program switches the file to WAL; the
    // command changes nothing.
    assert_eq!(journal_mode(&views), "delete");
    assert!(!dir.path().join("views.db-wal").exists());
    assert_eq!(tables(&views), before);

    // Nor does the runtime's `open_existing` create a missing file.
    let missing = dir.path().join("missing.db");
    assert!(SqliteViewStore::open_existing(&missing, treaty_runtime::storage::Durability::Full).is_err());
    assert!(!missing.exists());
}

/// The tables of `schema`, sorted.
async fn postgres_tables(url: &str, schema: &str) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY tablename",
            &[&schema],
        )
        .await
        .unwrap();
    drop(client);
    let _ = driver.await;
    rows.iter().map(|row| row.get(0)).collect()
}

#[test]
fn status_of_a_postgres_store() {
    let Some(url) = postgres_url() else { return };
    let id = Uuid::now_v7().simple();
    let (schema, bare) = (format!("cli_views_{id}"), format!("cli_bare_{id}"));
    let runtime = runtime();
    let options = |schema: &str| treaty_runtime::storage::PostgresOptions {
        schema: schema.to_string(),
        pool_size: 2,
    };
    let config = |schema: &str| treaty_runtime::store::PostgresConfig {
        connection: options(schema),
        ..Default::default()
    };
    let generations = runtime.block_on(async {
        let store = treaty_runtime::store::PostgresStore::open_with(&url, config(&schema))
            .await
            .unwrap();
        append_events(&store).await;
        let views = treaty_runtime::projection::PostgresViewStore::open_with(&url, options(&schema))
            .await
            .unwrap();
        record_generations(&views).await;
        let bare_store = treaty_runtime::store::PostgresStore::open_with(&url, config(&bare))
            .await
            .unwrap();
        append_events(&bare_store).await;
        views.generations().await.unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let status = |schema: &str, format: &str| {
        treaty(
            dir.path(),
            &[
                "projections",
                "status",
                "--db",
                &url,
                "--schema",
                schema,
                "--format",
                format,
            ],
        )
    };
    // The views through connections whose transactions are read-only.
    // The event store and the views through connections that cannot
    // write, as a monitoring role allowed only `SELECT` would have.
    let read_only = read_only(&url);
    let status_read_only = |schema: &str| {
        treaty(
            dir.path(),
            &[
                "projections",
                "status",
                "--db",
                &read_only,
                "--schema",
                schema,
                "--views",
                &read_only,
                "--format",
                "json",
            ],
        )
    };
    let human = status(&schema, "human");
    let json = status(&schema, "json");
    let none = status(&bare, "human");
    let json_read_only = status_read_only(&schema);
    let none_read_only = status_read_only(&bare);
    let bare_tables = runtime.block_on(postgres_tables(&url, &bare));
    runtime.block_on(postgres_execute(
        &url,
        &format!("DROP SCHEMA {schema} CASCADE; DROP SCHEMA {bare} CASCADE"),
    ));

    assert_eq!(human.status.code(), Some(0), "{}", stderr(&human));
    expect![[r#"
        projection          generation  status      fingerprint  checkpoint  lag
        orders.by_customer           1  retired     0a1b2c3d..            3    2
        orders.by_customer           2  live        f0e1d2c3..            5    0
        orders.by_customer           3  rebuilding  0a1b2c3d..            2    3  rebuild running: last progress Ns ago
        stock.levels                 1  live        12345678..            4    1

        4 generations of 2 projections, event store head position 5
    "#]]
    .assert_eq(&without_seconds(&stdout(&human)));
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    assert_json_of_generations(&json_lines(&stdout(&json)), &generations);
    assert_eq!(none.status.code(), Some(0), "{}", stderr(&none));
    assert_eq!(stdout(&none), "no projections have run against this database\n");
    assert_eq!(json_read_only.status.code(), Some(0), "{}", stderr(&json_read_only));
    assert_json_of_generations(&json_lines(&stdout(&json_read_only)), &generations);
    assert_eq!(none_read_only.status.code(), Some(0), "{}", stderr(&none_read_only));
    assert_eq!(stdout(&none_read_only), "");
    assert_eq!(
        stderr(&none_read_only),
        "no projections have run against this database\n"
    );
    assert!(
        !bare_tables.iter().any(|t| t.starts_with("treaty_")),
        "a read-only command created view tables: {bare_tables:?}"
    );
}

/// `--watch` redraws in place: two refreshes against a store at head 5
/// with one message quarantined in the same file. Nothing moves between
/// them, so the second frame shows rates of 0, and the first none yet.
#[test]
fn status_watch_redraws_lag_rate_head_and_quarantine() {
    let (dir, db, _) = sqlite_fixture(true);
    runtime().block_on(async {
        use treaty_runtime::bus::{ParkedMessage, Quarantine, SqliteQuarantine};
        let quarantine = SqliteQuarantine::open(&db).unwrap();
        quarantine
            .park(ParkedMessage {
                id: Uuid::now_v7(),
                contract: Some("shop.PlaceOrder".into()),
                body: b"{}".to_vec(),
                error: "no handler".into(),
                attempts: 1,
                first_seen: treaty_runtime::Timestamp::now(),
                parked_at: treaty_runtime::Timestamp::now(),
                retry_requested: false,
            })
            .await
            .unwrap();
    });
    let output = treaty(
        dir.path(),
        &[
            "projections",
            "status",
            "--db",
            "events.db",
            "--watch",
            "--interval",
            "0.05",
            "--iterations",
            "2",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let text = stdout(&output);
    let frames: Vec<&str> = text.split("\x1b[H\x1b[2J").collect();
    assert_eq!(frames.len(), 3, "{text:?}");
    assert_eq!(frames[0], "", "each frame starts by clearing the screen");
    expect![[r#"
        treaty projections status --watch: refresh 1, every 50ms; Ctrl-C ends

        event store head position 5
        quarantine: 1 message parked, 0 asked to retry

        projection          generation  status      fingerprint  checkpoint  lag  events/s
        orders.by_customer           2  live        f0e1d2c3..            5    0         -
        orders.by_customer           3  rebuilding  0a1b2c3d..            2    3         -
        stock.levels                 1  live        12345678..            4    1         -
    "#]]
    .assert_eq(frames[1]);
    expect![[r#"
        treaty projections status --watch: refresh 2, every 50ms; Ctrl-C ends

        event store head position 5, 0.0 events/s appended
        quarantine: 1 message parked, 0 asked to retry

        projection          generation  status      fingerprint  checkpoint  lag  events/s
        orders.by_customer           2  live        f0e1d2c3..            5    0       0.0
        orders.by_customer           3  rebuilding  0a1b2c3d..            2    3       0.0
        stock.levels                 1  live        12345678..            4    1       0.0
    "#]]
    .assert_eq(frames[2]);
}

#[test]
fn status_watch_options_need_watch_and_a_table() {
    let (dir, _db, _) = sqlite_fixture(true);
    for args in [
        &["--iterations", "2"][..],
        &["--interval", "1"],
        &["--watch", "--interval", "0"],
        &["--watch", "--interval", "soon"],
        &["--watch", "--iterations", "0"],
        &["--watch", "--format", "json", "--iterations", "1"],
    ] {
        let mut all = vec!["projections", "status", "--db", "events.db"];
        all.extend_from_slice(args);
        let output = treaty(dir.path(), &all);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), "", "{args:?}");
    }
}

/// Without `--iterations`, the watch redraws until Ctrl-C, which ends it
/// with success and the prompt below the last frame.
#[cfg(unix)]
#[test]
fn status_watch_ends_at_ctrl_c() {
    use std::io::Read as _;
    use std::process::{Command, Stdio};

    let (dir, _db, _) = sqlite_fixture(true);
    let mut child = Command::new(env!("CARGO_BIN_EXE_treaty"))
        .current_dir(dir.path())
        .args([
            "projections",
            "status",
            "--db",
            "events.db",
            "--watch",
            "--interval",
            "0.05",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Reads until the second frame has begun: the first is drawn whole
    // and the watch is waiting or drawing, listening for Ctrl-C.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while String::from_utf8_lossy(&seen).matches("\x1b[H\x1b[2J").count() < 2 {
        let read = stdout.read(&mut buffer).unwrap();
        assert!(
            read > 0,
            "the watch ended by itself: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buffer[..read]);
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    stdout.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let mut errors = String::new();
    child.stderr.take().unwrap().read_to_string(&mut errors).unwrap();
    assert_eq!(status.code(), Some(0), "{errors}");
    assert_eq!(errors, "");
    let text = String::from_utf8(seen).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    assert!(text.contains("event store head position 5"), "{text:?}");
}
