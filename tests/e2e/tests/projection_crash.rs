//! Crashes: `projection_worker` is killed with SIGKILL at random moments
//! during a first build, during catch-up and during a rebuild beside a
//! live generation. After every kill the stored views must be exactly the
//! fold of the events up to the stored checkpoint (nothing lost, nothing
//! applied twice), and readers must keep seeing the complete old
//! generation while the new one is built.

mod bank;
mod projection;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bank::*;
use futures::TryStreamExt;
use projection::*;
use treaty::aggregate::EventSet;
use treaty::projection::{Generation, GenerationStatus, SqliteViewStore, ViewReader, ViewStore};
use treaty::store::{Durability, EventStore, ExpectedVersion, Metadata, SqliteConfig, SqliteStore, StreamName};
use treaty_e2e::Random;

const WORKER: &str = env!("CARGO_BIN_EXE_projection_worker");

/// Appends `count` events: accounts opened, then deposits and
/// withdrawals, ten events per append.
async fn append_events(store: &SqliteStore, first_account: u64, count: u64, random: &mut Random) {
    let accounts = count / 100;
    for account in first_account..first_account + accounts {
        let name = format!("acc-{account}");
        let stream = StreamName::new(format!("account-{name}")).unwrap();
        let mut events = vec![opened(&name, &format!("owner {account}"))];
        while events.len() < 100 {
            let amount = 1 + random.below(100);
            events.push(if random.below(3) == 0 {
                withdrew(&name, amount)
            } else {
                deposited(&name, amount)
            });
        }
        for chunk in events.chunks(10) {
            let new = chunk.iter().map(|e| e.to_new_event(Metadata::now()).unwrap()).collect();
            store.append(&stream, ExpectedVersion::Any, new).await.unwrap();
        }
    }
}

/// Every event in the store with its position.
async fn all_events(store: &SqliteStore) -> Vec<(u64, AccountEvent)> {
    store
        .read_all(1)
        .map_ok(|recorded| (recorded.position, AccountEvent::from_recorded(&recorded).unwrap()))
        .try_collect()
        .await
        .unwrap()
}

fn spawn(events: &Path, views: &Path, version: &str) -> Child {
    Command::new(WORKER)
        .args([events.as_os_str(), views.as_os_str(), version.as_ref()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Runs a worker until it reports `live`, then kills it.
fn run_until_live(events: &Path, views: &Path, version: &str) {
    let mut child = spawn(events, views, version);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "live", "the worker stopped before it was live");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Kills a `v1`/`v2` worker after a random delay of up to `max_delay_ms`.
fn kill_at_random(events: &Path, views: &Path, version: &str, max_delay_ms: u64, random: &mut Random) {
    let mut child = spawn(events, views, version);
    std::thread::sleep(Duration::from_millis(5 + random.below(max_delay_ms)));
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Kills a `v1` worker as soon as generation 1's checkpoint has moved
/// past `before` (or after ten seconds).
async fn kill_after_progress(events: &Path, views_path: &Path, views: &SqliteViewStore, before: u64) {
    let mut child = spawn(events, views_path, "v1");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let moved = generations(views).await.get(&1).is_some_and(|g| g.checkpoint > before);
        if moved {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn generations(views: &SqliteViewStore) -> BTreeMap<u64, Generation> {
    views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.generation, g))
        .collect()
}

async fn stored_views(views: &SqliteViewStore, generation: u64) -> BTreeMap<String, Balance> {
    // Reads a generation directly, live or not, through the store's `load`.
    let keys = (0..2_000).map(|a| format!("acc-{a}")).collect();
    views
        .load("bank.balances", generation, keys)
        .await
        .unwrap()
        .into_iter()
        .map(|(key, json)| (key, serde_json::from_slice(&json).unwrap()))
        .collect()
}

async fn live_views(views: &SqliteViewStore) -> BTreeMap<String, Balance> {
    let reader = ViewReader::new(views.clone());
    reader
        .list::<Balances>(None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The views of `generation` are exactly the fold of the events up to
/// its checkpoint.
async fn assert_consistent(views: &SqliteViewStore, generation: &Generation, events: &[(u64, AccountEvent)]) {
    let upto: Vec<_> = events
        .iter()
        .filter(|(position, _)| *position <= generation.checkpoint)
        .cloned()
        .collect();
    assert_eq!(
        stored_views(views, generation.generation).await,
        expected_balances(&upto),
        "generation {} at checkpoint {}",
        generation.generation,
        generation.checkpoint
    );
}

/// How long the `attempt`th kill waits at most: a little longer each
/// time, and faster and faster, so that a worker slowed by a loaded
/// machine (its start takes a lease and opens two databases) still gets
/// to finish within the attempts.
fn kill_after_ms(attempt: u64) -> u64 {
    5 + 10 * attempt * (1 + attempt / 25)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_neither_lose_nor_double_apply_events() {
    let mut random = Random::seeded("killed workers");
    let dir = tempfile::tempdir().unwrap();
    let events_path = dir.path().join("events.db");
    let views_path = dir.path().join("views.db");
    let config = SqliteConfig {
        durability: Durability::Normal,
        ..SqliteConfig::default()
    };
    let store = SqliteStore::open_with(&events_path, config.clone()).unwrap();
    append_events(&store, 0, 20_000, &mut random).await;
    let mut events = all_events(&store).await;
    let views = SqliteViewStore::open(&views_path).unwrap();

    // A first build, killed again and again: nothing is readable until it
    // is complete, and what is stored matches its checkpoint. Each kill
    // comes a little later, so the build gets further every time. Whether
    // a kill landed mid-build is read from the store, not from the
    // worker's output: it may die between promoting and saying so.
    let mut interrupted = 0;
    for attempt in 0.. {
        assert!(attempt < 100, "the first build never completed");
        kill_at_random(&events_path, &views_path, "v1", kill_after_ms(attempt), &mut random);
        let generation = generations(&views).await.remove(&1);
        if generation.as_ref().is_some_and(|g| g.status == GenerationStatus::Live) {
            break;
        }
        interrupted += 1;
        assert!(live_views(&views).await.is_empty(), "a half-built view was readable");
        // A kill before the worker recorded the generation leaves none.
        if let Some(building) = generation {
            assert_eq!(building.status, GenerationStatus::Building);
            assert_consistent(&views, &building, &events).await;
        }
    }
    assert!(interrupted > 0, "no kill landed during the first build");
    run_until_live(&events_path, &views_path, "v1");
    assert_eq!(live_views(&views).await, expected_balances(&events));

    // Catch-up after events were appended while the worker was down. The
    // worker is killed as soon as its checkpoint moves, so the kill lands
    // mid-way however fast the machine is.
    let mut interrupted = 0;
    let mut head = 0;
    for round in 0..6 {
        append_events(&store, 200 + round * 50, 5_000, &mut random).await;
        events = all_events(&store).await;
        head = events.last().unwrap().0;
        let before = generations(&views).await.remove(&1).unwrap().checkpoint;
        kill_after_progress(&events_path, &views_path, &views, before).await;
        let generation = generations(&views).await.remove(&1).unwrap();
        assert_eq!(generation.status, GenerationStatus::Live);
        interrupted += usize::from(generation.checkpoint < head);
        assert_consistent(&views, &generation, &events).await;
    }
    assert!(interrupted > 0, "no kill landed during catch-up");
    run_until_live(&events_path, &views_path, "v1");
    let complete = expected_balances(&events);
    assert_eq!(live_views(&views).await, complete);

    // A rebuild under a new fingerprint: the old generation keeps serving
    // its complete views until the new one replaces it.
    let mut interrupted = 0;
    for attempt in 0.. {
        assert!(attempt < 100, "the rebuild never completed");
        kill_at_random(&events_path, &views_path, "v2", kill_after_ms(attempt), &mut random);
        assert_eq!(live_views(&views).await, complete, "the old generation stopped serving");
        let generation = generations(&views).await.remove(&2);
        if generation.as_ref().is_some_and(|g| g.status == GenerationStatus::Live) {
            break;
        }
        interrupted += 1;
        if let Some(building) = generation {
            assert_eq!(building.status, GenerationStatus::Building);
            assert_consistent(&views, &building, &events).await;
        }
    }
    assert!(interrupted > 0, "no kill landed during the rebuild");
    run_until_live(&events_path, &views_path, "v2");
    assert_eq!(live_views(&views).await, complete);
    // The worker reports `live` as soon as readers see the new generation,
    // and may be killed before it dropped the old one: the next start
    // drops what is retired.
    run_until_live(&events_path, &views_path, "v2");
    let generations = generations(&views).await;
    assert_eq!(generations.keys().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(generations[&2].status, GenerationStatus::Live);
    assert_eq!(generations[&2].checkpoint, head);
}
