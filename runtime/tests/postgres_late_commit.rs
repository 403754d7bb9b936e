//! A late commit on PostgreSQL: one append's transaction is held open in
//! another process (a deliberately slow writer) while other processes
//! append and commit. `read_all`, `head` and subscriptions must stop
//! before the open append's positions while it is open, never skip its
//! event once it commits, never see events out of position order, and
//! step over the positions of an append that rolls back.
//!
//! The slow writer is this test binary run again (`slow_writer_child`,
//! selected by `TREATY_SLOW_WRITER`): it calls the store's own server-side
//! append inside a transaction, prints `appended <first position>`, and
//! commits or rolls back when told on stdin. The fast writer
//! (`fast_writer_child`, `TREATY_FAST_WRITER`) appends through
//! `PostgresStore` and exits.
#![cfg(feature = "postgres")]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use treaty_runtime::store::*;
use treaty_runtime::Uuid;

fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

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

fn config(schema: &str) -> PostgresConfig {
    PostgresConfig {
        connection: PostgresOptions {
            schema: schema.to_string(),
            ..PostgresOptions::default()
        },
        poll_interval: Duration::from_millis(50),
        ..PostgresConfig::default()
    }
}

async fn collect(stream: EventStream) -> Vec<RecordedEvent> {
    stream.try_collect().await.unwrap()
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.position).collect()
}

/// This test binary again, running only `test`, with `env` set.
fn child(test: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().unwrap()
}

/// What follows `prefix` on the next line of `out` holding it (the test
/// harness may have written the test's name before it on the same line).
fn expect_line(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the child ended before printing {prefix:?}"
        );
        if let Some(at) = line.find(prefix) {
            return line.trim_end()[at + prefix.len()..].to_string();
        }
    }
}

/// A subscription running in the background, forwarding what it reads.
fn subscribe(store: &PostgresStore, from: u64) -> tokio::sync::mpsc::UnboundedReceiver<RecordedEvent> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut subscription = store.subscribe(from);
    tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            if tx.send(event.unwrap()).is_err() {
                return;
            }
        }
    });
    rx
}

/// Everything the subscription delivers within `wait`.
async fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<RecordedEvent>, wait: Duration) -> Vec<RecordedEvent> {
    let mut got = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(wait, rx.recv()).await {
        got.push(event);
    }
    got
}

/// `n` events from the subscription, failing after 10 s.
async fn take(rx: &mut tokio::sync::mpsc::UnboundedReceiver<RecordedEvent>, n: usize) -> Vec<RecordedEvent> {
    let mut got = Vec::new();
    while got.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(event)) => got.push(event),
            _ => panic!(
                "the subscription delivered {} of {n} events: {:?}",
                got.len(),
                positions(&got)
            ),
        }
    }
    got
}

/// Strictly increasing positions.
fn assert_in_order(events: &[RecordedEvent]) {
    assert!(
        events.windows(2).all(|w| w[0].position < w[1].position),
        "out of order: {:?}",
        positions(events)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_commit_in_another_process_is_never_skipped() {
    let Some(url) = treaty_testing::server_url("TREATY_TEST_POSTGRES") else {
        return;
    };
    let schema = format!("test_{}", Uuid::now_v7().simple());
    let store = PostgresStore::open_with(&url, config(&schema)).await.unwrap();
    store
        .append(
            &stream("before"),
            ExpectedVersion::NoStream,
            (0..3).map(event).collect(),
        )
        .await
        .unwrap();
    let mut early = subscribe(&store, 1);
    assert_eq!(positions(&take(&mut early, 3).await), [1, 2, 3]);

    let env = |what: &str| {
        vec![
            ("TREATY_SLOW_WRITER", what.to_string()),
            ("TREATY_TEST_SCHEMA", schema.clone()),
        ]
    };
    // The slow writer takes its positions and holds its transaction open.
    let mut slow = child("slow_writer_child", &env("late"));
    let mut slow_out = BufReader::new(slow.stdout.take().unwrap());
    let late: u64 = tokio::task::block_in_place(|| expect_line(&mut slow_out, "appended "))
        .parse()
        .unwrap();
    assert_eq!(late, 4);

    // Meanwhile another process and this one append and commit.
    let fast = child(
        "fast_writer_child",
        &[
            ("TREATY_FAST_WRITER", "20".to_string()),
            ("TREATY_TEST_SCHEMA", schema.clone()),
        ],
    );
    let mut mine = Vec::new();
    for i in 0..5 {
        let appended = store
            .append(&stream(&format!("mine-{i}")), ExpectedVersion::NoStream, vec![event(i)])
            .await
            .unwrap();
        assert!(appended.first_position > late);
        mine.push(appended.first_position);
    }
    let fast = tokio::task::block_in_place(|| fast.wait_with_output()).unwrap();
    assert!(fast.status.success(), "the fast writer failed");

    // 25 events are committed after the open one's position: none is read
    // while it is open, by this process or a fresh one.
    assert_eq!(store.head().await.unwrap(), 3);
    assert_eq!(positions(&collect(store.read_all(1)).await), [1, 2, 3]);
    let other = PostgresStore::open_existing(&url, config(&schema)).await.unwrap();
    assert_eq!(positions(&collect(other.read_all(4)).await), Vec::<u64>::new());
    assert!(
        drain(&mut early, Duration::from_millis(400)).await.is_empty(),
        "a subscription read past an open append"
    );
    // Streams are not held back: their versions are decided by the unique
    // constraint, not by positions.
    assert_eq!(
        collect(store.read_stream(&stream("mine-0"), 1, Direction::Forward))
            .await
            .len(),
        1
    );

    // The slow writer commits: its event comes first, then the others.
    writeln!(slow.stdin.as_mut().unwrap(), "commit").unwrap();
    tokio::task::block_in_place(|| expect_line(&mut slow_out, "committed"));
    assert!(tokio::task::block_in_place(|| slow.wait()).unwrap().success());
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len(), 29);
    assert_in_order(&all);
    assert_eq!(all[3].position, late);
    assert_eq!(all[3].stream, stream("late"));
    assert!(mine.iter().all(|p| all.iter().any(|e| e.position == *p)));
    assert_eq!(store.head().await.unwrap(), all.last().unwrap().position);
    let followed = take(&mut early, 26).await;
    assert_eq!(positions(&followed), positions(&all[3..]));
    let late_subscriber = collect_n(&store, 1, 29).await;
    assert_eq!(positions(&late_subscriber), positions(&all));

    // A slow writer that rolls back leaves a hole, which readers step over
    // once it is gone; the appends after it are read in order.
    let mut aborted = child("slow_writer_child", &env("aborted"));
    let mut aborted_out = BufReader::new(aborted.stdout.take().unwrap());
    let hole: u64 = tokio::task::block_in_place(|| expect_line(&mut aborted_out, "appended "))
        .parse()
        .unwrap();
    let after = store
        .append(&stream("after-hole"), ExpectedVersion::NoStream, vec![event(99)])
        .await
        .unwrap();
    assert!(after.first_position > hole);
    assert!(drain(&mut early, Duration::from_millis(300)).await.is_empty());
    writeln!(aborted.stdin.as_mut().unwrap(), "rollback").unwrap();
    tokio::task::block_in_place(|| expect_line(&mut aborted_out, "rolled back"));
    assert!(tokio::task::block_in_place(|| aborted.wait()).unwrap().success());
    let next = take(&mut early, 1).await;
    assert_eq!(positions(&next), [after.first_position]);
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len(), 30);
    assert_in_order(&all);
    assert!(all.iter().all(|e| e.position != hole));

    drop(other);
    drop(store);
    drop_schema(&url, &schema).await;
}

/// The same with a group of appends held open (`append_group`, which the
/// store uses for concurrent appends), while another process's appends
/// commit in groups of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_group_commit_in_another_process_is_never_skipped() {
    let Some(url) = treaty_testing::server_url("TREATY_TEST_POSTGRES") else {
        return;
    };
    let schema = format!("test_{}", Uuid::now_v7().simple());
    let store = PostgresStore::open_with(&url, config(&schema)).await.unwrap();
    store
        .append(&stream("before"), ExpectedVersion::NoStream, vec![event(0)])
        .await
        .unwrap();
    let mut early = subscribe(&store, 1);
    assert_eq!(positions(&take(&mut early, 1).await), [1]);

    let mut slow = child(
        "slow_writer_child",
        &[
            ("TREATY_SLOW_WRITER", "group:late-a,late-b,late-c".to_string()),
            ("TREATY_TEST_SCHEMA", schema.clone()),
        ],
    );
    let mut slow_out = BufReader::new(slow.stdout.take().unwrap());
    let late: Vec<u64> = tokio::task::block_in_place(|| expect_line(&mut slow_out, "appended "))
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(late, [2, 3, 4]);

    let fast = child(
        "fast_writer_child",
        &[
            ("TREATY_FAST_WRITER", "40".to_string()),
            ("TREATY_TEST_SCHEMA", schema.clone()),
        ],
    );
    let fast = tokio::task::block_in_place(|| fast.wait_with_output()).unwrap();
    assert!(fast.status.success(), "the fast writer failed");
    assert_eq!(store.head().await.unwrap(), 1);
    assert_eq!(positions(&collect(store.read_all(1)).await), [1]);
    assert!(
        drain(&mut early, Duration::from_millis(400)).await.is_empty(),
        "a subscription read past an open group"
    );

    writeln!(slow.stdin.as_mut().unwrap(), "commit").unwrap();
    tokio::task::block_in_place(|| expect_line(&mut slow_out, "committed"));
    assert!(tokio::task::block_in_place(|| slow.wait()).unwrap().success());
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len(), 44);
    assert_in_order(&all);
    assert_eq!(positions(&all[1..4]), late);
    let followed = take(&mut early, 43).await;
    assert_eq!(positions(&followed), positions(&all[1..]));

    drop(store);
    drop_schema(&url, &schema).await;
}

/// Drops the test's schema.
async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    drop(client);
    connection.await.unwrap().unwrap();
}

/// `n` events from a subscription started now at `from`.
async fn collect_n(store: &PostgresStore, from: u64, n: usize) -> Vec<RecordedEvent> {
    let mut rx = subscribe(store, from);
    take(&mut rx, n).await
}

/// The slow writer: one append through the store's server-side function,
/// in a transaction held open until stdin says `commit` or `rollback`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_writer_child() {
    let (Ok(name), Ok(schema), Ok(url)) = (
        std::env::var("TREATY_SLOW_WRITER"),
        std::env::var("TREATY_TEST_SCHEMA"),
        std::env::var("TREATY_TEST_POSTGRES"),
    ) else {
        return;
    };
    let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    let tx = client.transaction().await.unwrap();
    if let Some(streams) = name.strip_prefix("group:") {
        // A group of appends, one event each, held open like a single one.
        let streams: Vec<&str> = streams.split(',').collect();
        let n = streams.len();
        let events: Vec<NewEvent> = (0..n as u64).map(event).collect();
        let rows = tx
            .query(
                &format!(
                    "SELECT status, first_position FROM {schema}.append_group(
                         $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ),
                &[
                    &streams,
                    &vec![1i32; n],
                    &vec![0i64; n],
                    &vec![1i32; n],
                    &(1..=n as i32).collect::<Vec<_>>(),
                    &vec![1i32; n],
                    &events.iter().map(|e| e.id).collect::<Vec<_>>(),
                    &events.iter().map(|e| e.contract.as_str()).collect::<Vec<_>>(),
                    &events.iter().map(|e| i64::from(e.contract_version)).collect::<Vec<_>>(),
                    &events.iter().map(|e| e.fingerprint.as_str()).collect::<Vec<_>>(),
                    &events
                        .iter()
                        .map(|e| std::str::from_utf8(&e.payload).unwrap())
                        .collect::<Vec<_>>(),
                    &events
                        .iter()
                        .map(|e| serde_json::to_string(&e.metadata).unwrap())
                        .collect::<Vec<_>>(),
                ],
            )
            .await
            .unwrap();
        assert!(rows.iter().all(|row| row.get::<_, &str>(0) == "ok"));
        let first: Vec<String> = rows.iter().map(|row| row.get::<_, i64>(1).to_string()).collect();
        println!("appended {}", first.join(","));
        std::io::stdout().flush().unwrap();
        finish(tx).await;
        drop(client);
        return connection.await.unwrap().unwrap();
    }
    let event = event(0);
    let row = tx
        .query_one(
            &format!("SELECT status, first_position FROM {schema}.append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[
                &name,
                &1i32,
                &0i64,
                &true,
                &vec![event.id],
                &vec![event.contract.as_str()],
                &vec![i64::from(event.contract_version)],
                &vec![event.fingerprint.as_str()],
                &vec![std::str::from_utf8(&event.payload).unwrap()],
                &vec![serde_json::to_string(&event.metadata).unwrap()],
            ],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, &str>(0), "ok");
    println!("appended {}", row.get::<_, i64>(1));
    std::io::stdout().flush().unwrap();
    finish(tx).await;
    drop(client);
    connection.await.unwrap().unwrap();
}

/// Commits or rolls back `tx` when stdin says so.
async fn finish(tx: tokio_postgres::Transaction<'_>) {
    let mut told = String::new();
    tokio::task::block_in_place(|| std::io::stdin().read_line(&mut told)).unwrap();
    match told.trim() {
        "commit" => {
            tx.commit().await.unwrap();
            println!("committed");
        }
        _ => {
            tx.rollback().await.unwrap();
            println!("rolled back");
        }
    }
    std::io::stdout().flush().unwrap();
}

/// The fast writer: appends one event to each of `TREATY_FAST_WRITER`
/// streams through `PostgresStore`, all at once, so that the store writes
/// them in groups (after a first append, which registers the version).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_writer_child() {
    let (Ok(count), Ok(schema), Ok(url)) = (
        std::env::var("TREATY_FAST_WRITER"),
        std::env::var("TREATY_TEST_SCHEMA"),
        std::env::var("TREATY_TEST_POSTGRES"),
    ) else {
        return;
    };
    let store = PostgresStore::open_existing(&url, config(&schema)).await.unwrap();
    let count = count.parse::<u64>().unwrap();
    store
        .append(&stream("fast-0"), ExpectedVersion::NoStream, vec![event(0)])
        .await
        .unwrap();
    let mut appends = tokio::task::JoinSet::new();
    for i in 1..count {
        let store = store.clone();
        appends.spawn(async move {
            store
                .append(&stream(&format!("fast-{i}")), ExpectedVersion::NoStream, vec![event(i)])
                .await
        });
    }
    while let Some(appended) = appends.join_next().await {
        appended.unwrap().unwrap();
    }
}
