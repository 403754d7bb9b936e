//! Two builds of one service, before and after a compatible change made
//! in place (`Add` v1 gained a field with a default), as two processes
//! sharing one SQLite file: its event store, its queue and its
//! quarantine. While the change rolls out, each build handles the other's
//! commands, in both directions: nothing is quarantined, nothing is lost,
//! nothing is applied twice.

#[path = "../rollout/added.rs"]
mod added;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use treaty::bus::{Quarantine, SqliteQuarantine};
use treaty::store::{EventStore, SqliteStore};

const OLD: &str = env!("CARGO_BIN_EXE_rollout_old");
const NEW: &str = env!("CARGO_BIN_EXE_rollout_new");

/// Commands each build sends in each phase.
const COUNT: u32 = 40;

/// A build serving until killed (also when the test fails).
struct Serving(Child);

impl Serving {
    fn start(build: &str, events: &Path) -> Serving {
        let mut child = Command::new(build)
            .arg(events)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the build starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its output is piped"))
            .read_line(&mut line)
            .expect("its output is readable");
        assert_eq!(line.trim(), "running", "{build} did not start");
        Serving(child)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send(build: &str, events: &Path, prefix: &str) {
    let status = Command::new(build)
        .arg(events)
        .args(["send", prefix, &COUNT.to_string()])
        .status()
        .expect("the build runs");
    assert!(status.success(), "{build} send {prefix}: {status}");
}

/// Every `Added` event stored, as (tally, amount, build that handled it).
async fn added(events: &Path) -> Vec<(String, u64, String)> {
    let store = SqliteStore::open(events).expect("the store opens");
    let recorded: Vec<_> = store.read_all(0).try_collect().await.expect("the store reads");
    recorded.iter().map(added::added).collect()
}

/// Waits until `count` events are stored and returns them, failing with
/// what is parked when they do not come.
async fn wait_for(events: &Path, count: usize) -> Vec<(String, u64, String)> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let added = added(events).await;
        if added.len() >= count || Instant::now() > deadline {
            let parked = SqliteQuarantine::open(events).unwrap().list().await.unwrap();
            assert!(parked.is_empty(), "nothing is parked: {parked:?}");
            assert_eq!(added.len(), count, "every command has its effect");
            return added;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The builds that handled the commands sent with `prefix`, checking that
/// each tally got exactly its amount once.
fn handled_by(added: &[(String, u64, String)], prefix: &str) -> std::collections::BTreeSet<String> {
    for i in 0..COUNT {
        let tally = format!("{prefix}-{i}");
        let effects: Vec<_> = added.iter().filter(|(t, _, _)| *t == tally).collect();
        assert_eq!(effects.len(), 1, "{tally} is added to once: {effects:?}");
        assert_eq!(effects[0].1, u64::from(i) + 1, "{tally} gets its amount");
    }
    added
        .iter()
        .filter(|(t, _, _)| t.starts_with(&format!("{prefix}-")))
        .map(|(_, _, build)| build.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_builds_handle_each_others_commands_while_a_compatible_change_rolls_out() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let events = dir.path().join("events.db");

    // The new build is deployed and serves; the old one still sends.
    send(OLD, &events, "old-first");
    let new = Serving::start(NEW, &events);
    let added = wait_for(&events, COUNT as usize).await;
    assert_eq!(handled_by(&added, "old-first"), ["new".to_string()].into());
    drop(new);

    // Rolled back: the old build serves what the new one sent.
    send(NEW, &events, "new-first");
    let old = Serving::start(OLD, &events);
    let added = wait_for(&events, 2 * COUNT as usize).await;
    assert_eq!(handled_by(&added, "new-first"), ["old".to_string()].into());

    // Both serve and both send, as during a rolling deployment.
    let new = Serving::start(NEW, &events);
    send(OLD, &events, "old-mixed");
    send(NEW, &events, "new-mixed");
    let added = wait_for(&events, 4 * COUNT as usize).await;
    handled_by(&added, "old-mixed");
    handled_by(&added, "new-mixed");
    drop((old, new));
}
