//! Optimistic concurrency across processes on PostgreSQL: two `treaty-bench
//! contend` processes race to append to one stream, each reading the
//! version and appending with exactly that expected version, retrying when
//! the other got there first. Every version must be won by exactly one of
//! them and stored exactly once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use futures::TryStreamExt;
use treaty_runtime::store::{
    Direction, EventStore, PostgresConfig, PostgresOptions, PostgresStore, RecordedEvent, StreamName,
};
use uuid::Uuid;

/// Appends each process must win.
const APPENDS: u64 = 200;

const STREAM: &str = "race";

/// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`.
/// Locally the test skips without one; under `CI` a missing server is a
/// failure, because CI must have started one.
fn postgres_url() -> Option<String> {
    treaty_testing::server_url("TREATY_TEST_POSTGRES")
}

/// A `contend` process that has connected and is waiting for the start.
struct Contender {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl Contender {
    fn start(url: &str, schema: &str) -> Contender {
        let mut child = Command::new(env!("CARGO_BIN_EXE_treaty-bench"))
            .args([
                "contend",
                "--db",
                url,
                "--schema",
                schema,
                "--stream",
                STREAM,
                "--wait-for-go",
            ])
            .args(["--appends", &APPENDS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start treaty-bench contend");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut ready = String::new();
        stdout.read_line(&mut ready).expect("read from contend");
        let mut contender = Contender { child, stdout };
        if ready.trim_end() != "ready" {
            let _ = contender.child.wait();
            panic!("contend did not get ready: {ready:?}; stderr: {}", contender.stderr());
        }
        contender
    }

    /// What the process wrote to stderr (it writes little: a summary, or
    /// why it failed), once it has exited.
    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    }

    fn go(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .expect("start contend");
    }

    /// Waits for the process to finish and returns the versions it won,
    /// in the order it won them.
    fn wins(mut self) -> Vec<u64> {
        let mut wins = Vec::new();
        for line in (&mut self.stdout).lines() {
            let line = line.expect("read from contend");
            let version = line
                .strip_prefix("won ")
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("unexpected output from contend: {line:?}"));
            wins.push(version);
        }
        let status = self.child.wait().expect("wait for contend");
        let stderr = self.stderr();
        assert!(status.success(), "contend failed: {status}: {stderr}");
        eprint!("{stderr}");
        wins
    }
}

#[test]
fn two_processes_racing_on_one_stream_win_each_version_exactly_once() {
    let Some(url) = postgres_url() else { return };
    let schema = format!("race_{}", Uuid::now_v7().simple());
    // Both connect (and the first creates the tables) before either
    // appends, so the race starts for both at the same moment.
    let mut first = Contender::start(&url, &schema);
    let mut second = Contender::start(&url, &schema);
    first.go();
    second.go();
    let first = first.wins();
    let second = second.wins();

    let total = 2 * APPENDS;
    for (name, wins) in [("first", &first), ("second", &second)] {
        assert_eq!(
            wins.len() as u64,
            APPENDS,
            "the {name} process won {} appends",
            wins.len()
        );
        assert!(
            wins.windows(2).all(|w| w[0] < w[1]),
            "the {name} process won versions out of order"
        );
    }
    let first_set: BTreeSet<u64> = first.iter().copied().collect();
    let second_set: BTreeSet<u64> = second.iter().copied().collect();
    let both: Vec<u64> = first_set.intersection(&second_set).copied().collect();
    assert!(both.is_empty(), "versions won by both processes: {both:?}");
    let all: Vec<u64> = first_set.union(&second_set).copied().collect();
    assert_eq!(all, (1..=total).collect::<Vec<_>>(), "the wins must cover 1..={total}");
    // Had one process finished before the other began, nothing would have
    // raced: each must have won a version below the other's last.
    assert!(
        first[0] < *second.last().unwrap() && second[0] < *first.last().unwrap(),
        "the processes did not overlap: first won {}..={}, second {}..={}",
        first[0],
        first.last().unwrap(),
        second[0],
        second.last().unwrap()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = PostgresConfig {
            connection: PostgresOptions {
                schema: schema.clone(),
                ..PostgresOptions::default()
            },
            ..PostgresConfig::default()
        };
        let store = PostgresStore::open_with(&url, config).await.unwrap();
        let stream = StreamName::new(STREAM).unwrap();
        let stored: Vec<RecordedEvent> = store
            .read_stream(&stream, 1, Direction::Forward)
            .try_collect()
            .await
            .unwrap();
        let versions: Vec<u64> = stored.iter().map(|e| e.version).collect();
        assert_eq!(
            versions,
            (1..=total).collect::<Vec<_>>(),
            "each version is stored once, without gaps"
        );
        let all: Vec<RecordedEvent> = store.read_all(1).try_collect().await.unwrap();
        let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
        assert_eq!(positions, (1..=total).collect::<Vec<_>>(), "positions have no gaps");
        assert_eq!(store.head().await.unwrap(), total);
        drop_schema(&url, &schema).await;
    });
}

/// Removes the test's tables once they have been checked; a failed test
/// leaves them for inspection.
async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
    drop(client);
    let _ = connection.await;
}
