//! Crash safety of the SQLite store: `treaty-bench crash-writer` appends
//! batches of ten events and says `acked <stream> <version>` after each
//! append the store acknowledged. This test kills it with SIGKILL at
//! moments drawn from a fixed-seed generator, restarts it on the same file
//! many times, and then checks what the file holds: every acknowledged
//! event, no half-written batch, and no gap in any stream's versions or in
//! the global positions.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::TryStreamExt;
use serde::Deserialize;
use treaty_runtime::store::{EventStore, RecordedEvent, SqliteStore};
use uuid::Uuid;

/// Kills per test run: enough for many kills to land inside an append.
const ROUNDS: usize = 20;

/// How long each writer runs before it is killed, in milliseconds.
const SHORTEST_RUN: u64 = 50;
const LONGEST_RUN: u64 = 400;

/// SIGKILL's number, the same on every Unix.
const SIGKILL: i32 = 9;

/// The kill moments are random but the same on every run, so a failure
/// can be reproduced.
const SEED: u64 = 0x7e57_c4a5_4e5e_ed01;

/// The payload crash-writer gives every event.
#[derive(Debug, Deserialize)]
struct Tick {
    batch: Uuid,
    index: u32,
    size: u32,
}

/// SplitMix64: a few lines of arithmetic that give well-spread numbers
/// from any seed; enough for choosing sleep times, with no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number from `low` to `high`, both included.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// One acknowledgement: the stream, and its version after the append.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    stream: String,
    version: u64,
}

#[test]
fn killed_writers_keep_every_acknowledged_append_and_no_partial_batch() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut random = SplitMix64(SEED);
    let mut acks: Vec<Vec<Ack>> = Vec::new();
    for round in 0..ROUNDS {
        let run = Duration::from_millis(random.between(SHORTEST_RUN, LONGEST_RUN));
        acks.push(run_and_kill(&db, run, round));
    }

    let total: usize = acks.iter().map(Vec::len).sum();
    let rounds_with_acks = acks.iter().filter(|round| !round.is_empty()).count();
    // A writer that never got an append acknowledged would make every
    // check below pass vacuously.
    assert!(
        rounds_with_acks >= ROUNDS / 2 && total >= ROUNDS,
        "the writer made too little progress to test anything: {total} acks, in {rounds_with_acks} of {ROUNDS} rounds"
    );
    let acks: Vec<Ack> = acks.into_iter().flatten().collect();
    versions_only_grow(&acks);

    let events = read_everything(&db);
    positions_have_no_gaps(&events);
    let streams = streams_have_no_gaps(&events);
    batches_are_whole(&events);
    for ack in &acks {
        let stored = streams.get(&ack.stream).copied().unwrap_or(0);
        assert!(
            stored >= ack.version,
            "{} was acknowledged at version {} but the store has it at {stored}",
            ack.stream,
            ack.version
        );
    }
    eprintln!(
        "{total} acknowledged appends over {ROUNDS} kills; the store holds {} events in {} streams",
        events.len(),
        streams.len()
    );
}

/// Starts the writer, lets it run for `run`, kills it with SIGKILL and
/// returns the acknowledgements it printed in full.
fn run_and_kill(db: &Path, run: Duration, round: usize) -> Vec<Ack> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_treaty-bench"))
        .args(["crash-writer", "--db"])
        .arg(db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start crash-writer");
    // Both pipes are drained while the writer runs, so it never blocks on
    // a full pipe.
    let stdout = child.stdout.take().expect("stdout is piped");
    let lines = std::thread::spawn(move || complete_lines(stdout));
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::sleep(run);
    // The writer never stops by itself; if it has, it failed.
    if let Some(status) = child.try_wait().expect("poll crash-writer") {
        panic!(
            "round {round}: crash-writer exited with {status}: {}",
            errors.join().unwrap()
        );
    }
    // `Child::kill` sends SIGKILL on Unix: no destructor, no flush, no
    // checkpoint runs in the writer.
    child.kill().expect("kill crash-writer");
    let status = child.wait().expect("wait for crash-writer");
    assert_eq!(status.signal(), Some(SIGKILL), "round {round}: {status}");
    let errors = errors.join().unwrap();
    assert!(
        errors.is_empty(),
        "round {round}: crash-writer wrote to stderr: {errors}"
    );
    lines
        .join()
        .unwrap()
        .iter()
        .map(|line| parse_ack(line, round))
        .collect()
}

/// The lines that arrived whole. A kill can cut the last line short; a
/// cut line was never fully given, so it is not counted as an ack.
fn complete_lines(stdout: impl Read) -> Vec<String> {
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return lines,
            Ok(_) if line.ends_with('\n') => lines.push(line.trim_end().to_string()),
            Ok(_) => return lines,
        }
    }
}

fn parse_ack(line: &str, round: usize) -> Ack {
    let fields: Vec<&str> = line.split(' ').collect();
    match fields.as_slice() {
        ["acked", stream, version] => Ack {
            stream: stream.to_string(),
            version: version
                .parse()
                .unwrap_or_else(|_| panic!("round {round}: bad version in {line:?}")),
        },
        _ => panic!("round {round}: unexpected output {line:?}"),
    }
}

/// A restarted writer must continue each stream where the store says it
/// is, so a stream's acknowledged versions only grow, across restarts too.
fn versions_only_grow(acks: &[Ack]) {
    let mut last: HashMap<&str, u64> = HashMap::new();
    for ack in acks {
        if let Some(previous) = last.insert(&ack.stream, ack.version) {
            assert!(
                ack.version > previous,
                "{} was acknowledged at version {previous} and later at {}",
                ack.stream,
                ack.version
            );
        }
    }
}

fn read_everything(db: &Path) -> Vec<RecordedEvent> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = SqliteStore::open(db).unwrap();
    runtime.block_on(async {
        let events: Vec<RecordedEvent> = store.read_all(1).try_collect().await.unwrap();
        assert_eq!(
            store.head().await.unwrap(),
            events.len() as u64,
            "the head is the last position"
        );
        events
    })
}

fn positions_have_no_gaps(events: &[RecordedEvent]) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event.position,
            i as u64 + 1,
            "positions must run 1, 2, 3, ... without gaps"
        );
    }
}

/// Checks that each stream's versions run 1, 2, 3, ... in position order,
/// and returns each stream's last version.
fn streams_have_no_gaps(events: &[RecordedEvent]) -> BTreeMap<String, u64> {
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for event in events {
        let version = versions.entry(event.stream.to_string()).or_insert(0);
        assert_eq!(
            event.version,
            *version + 1,
            "{} jumps from version {version} to {} at position {}",
            event.stream,
            event.version,
            event.position
        );
        *version = event.version;
    }
    versions
}

/// Every batch is all there: `size` events with indexes 0 to size - 1, in
/// one stream, at consecutive versions and positions in index order.
fn batches_are_whole(events: &[RecordedEvent]) {
    let mut batches: HashMap<Uuid, Vec<(&RecordedEvent, Tick)>> = HashMap::new();
    for event in events {
        let tick: Tick = serde_json::from_slice(&event.payload)
            .unwrap_or_else(|e| panic!("position {}: payload is not a tick: {e}", event.position));
        batches.entry(tick.batch).or_default().push((event, tick));
    }
    for (batch, members) in &batches {
        let (first, first_tick) = &members[0];
        assert_eq!(
            members.len(),
            first_tick.size as usize,
            "batch {batch} has {} of its {} events",
            members.len(),
            first_tick.size
        );
        for (offset, (event, tick)) in members.iter().enumerate() {
            let offset = offset as u64;
            assert_eq!(tick.index as u64, offset, "batch {batch} is out of order");
            assert_eq!(event.stream, first.stream, "batch {batch} is split over streams");
            assert_eq!(event.version, first.version + offset, "batch {batch} has a version gap");
            assert_eq!(event.position, first.position + offset, "batch {batch} is interleaved");
        }
    }
}
