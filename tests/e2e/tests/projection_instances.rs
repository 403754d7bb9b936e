//! Several instances of one service: three `instance_worker` processes run
//! the same projections against one view store while events flow, and one
//! of them is killed with SIGKILL at random, again and again (and once
//! paused past its lease, then woken). Every projection keeps moving and
//! catches up with the head at the end; views always equal the fold of
//! the events up to their checkpoint; and no two instances ever write one
//! projection at once, as the fencing tokens of the writes show: along a
//! generation's checkpoints they never go back, and the woken instance is
//! refused. Halfway, all instances are replaced by a build whose
//! `bank.balances` has a new fingerprint, so it is rebuilt and swapped
//! under the same kills.
//!
//! Runs on SQLite, and on PostgreSQL when `TREATY_TEST_POSTGRES` is set.
//! The lease is 1 s (`TREATY_TEST_LEASE_MS` changes it), renewed every
//! 250 ms; the failover times measured are printed.

mod bank;
mod projection;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bank::*;
use futures::TryStreamExt;
use projection::*;
use treaty::aggregate::EventSet;
use treaty::projection::{GenerationStatus, Lease, Projection, SqliteViewStore, ViewReader, ViewStore};
use treaty::store::{EventStore, ExpectedVersion, Metadata, SqliteStore, StreamName};
use treaty_e2e::Random;

const WORKER: &str = env!("CARGO_BIN_EXE_instance_worker");
const PROJECTIONS: [&str; 2] = ["bank.balances", "bank.totals"];
const INSTANCES: usize = 3;
const KILLS: usize = 8;

fn lease_ms() -> u64 {
    std::env::var("TREATY_TEST_LEASE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(1_000)
}

/// The worker processes, one per slot, each under a name of its own.
struct Workers {
    backend: &'static str,
    events: String,
    views: String,
    log: PathBuf,
    version: &'static str,
    spawned: usize,
    slots: Vec<(String, Child)>,
}

impl Workers {
    fn spawn(&mut self) -> (String, Child) {
        self.spawned += 1;
        let name = format!("worker-{}", self.spawned);
        let child = Command::new(WORKER)
            .args([
                self.backend,
                &self.events,
                &self.views,
                &name,
                &lease_ms().to_string(),
                self.version,
            ])
            .arg(&self.log)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        (name, child)
    }

    fn start(&mut self) {
        while self.slots.len() < INSTANCES {
            let worker = self.spawn();
            self.slots.push(worker);
        }
    }

    /// Kills the worker in `slot` with SIGKILL and starts a new one there.
    fn kill_and_replace(&mut self, slot: usize) -> String {
        let replacement = self.spawn();
        let (name, mut child) = std::mem::replace(&mut self.slots[slot], replacement);
        child.kill().unwrap();
        child.wait().unwrap();
        name
    }

    fn kill_all(&mut self) {
        for (_, child) in &mut self.slots {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.slots.clear();
    }

    fn signal(&self, slot: usize, signal: &str) {
        let pid = self.slots[slot].1.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Appends events until told to stop: a new account now and then, else
/// five deposits or withdrawals on one.
async fn append_until<S: EventStore>(store: S, stop: Arc<AtomicBool>, mut random: Random, first: usize) -> usize {
    let mut accounts = first;
    let mut appends = 0;
    while !stop.load(Ordering::Relaxed) {
        let (account, events) = if random.below(10) == 0 {
            accounts += 1;
            let name = format!("acc-{}", accounts - 1);
            let owner = format!("owner {}", accounts - 1);
            (name.clone(), vec![opened(&name, &owner)])
        } else {
            let name = format!("acc-{}", random.below(accounts as u64));
            let events = (0..5)
                .map(|_| {
                    let amount = 1 + random.below(100);
                    if random.below(3) == 0 {
                        withdrew(&name, amount)
                    } else {
                        deposited(&name, amount)
                    }
                })
                .collect();
            (name, events)
        };
        append(&store, &account, &events).await;
        appends += 1;
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    appends
}

async fn append<S: EventStore>(store: &S, account: &str, events: &[AccountEvent]) {
    let stream = StreamName::new(format!("account-{account}")).unwrap();
    let new = events
        .iter()
        .map(|e| e.to_new_event(Metadata::now()).unwrap())
        .collect();
    store.append(&stream, ExpectedVersion::Any, new).await.unwrap();
}

async fn all_events<S: EventStore>(store: &S) -> Vec<(u64, AccountEvent)> {
    store
        .read_all(1)
        .map_ok(|recorded| (recorded.position, AccountEvent::from_recorded(&recorded).unwrap()))
        .try_collect()
        .await
        .unwrap()
}

/// The unexpired leases, by projection.
async fn leases<V: ViewStore>(views: &V) -> BTreeMap<String, Lease> {
    let now = treaty::Timestamp::now();
    views
        .leases()
        .await
        .unwrap()
        .into_iter()
        .filter(|lease| lease.expires_at > now)
        .map(|lease| (lease.projection.clone(), lease))
        .collect()
}

/// Every balance view, each exactly the fold of its account's events up
/// to the last position it records. Views are read while workers write:
/// each view is checked on its own.
async fn assert_views_consistent<S: EventStore, V: ViewStore>(events: &S, views: &V) {
    let stored = ViewReader::new(views.clone())
        .list::<Balances>(None, 100_000)
        .await
        .unwrap();
    let events = all_events(events).await;
    for (key, view) in stored {
        let upto: Vec<_> = events
            .iter()
            .filter(|(position, event)| *position <= view.last_position && event.id().to_string() == key)
            .cloned()
            .collect();
        assert_eq!(
            expected_balances(&upto).remove(&key).as_ref(),
            Some(&view),
            "view {key} is not the fold of its events up to {}",
            view.last_position
        );
    }
}

/// One write in the workers' log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Commit {
    generation: u64,
    token: u64,
    from: u64,
    to: u64,
}

/// The commits of each projection.
type Commits = HashMap<String, Vec<Commit>>;

/// The workers' log: the commits of each projection, and the tokens
/// whose writes were refused or failed, or found lost at a renewal.
fn read_log(log: &Path) -> (Commits, Vec<(String, u64)>) {
    let mut commits: Commits = HashMap::new();
    let mut refused = Vec::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let number = |i: usize| fields[i].parse::<u64>().unwrap();
        match fields[0] {
            "commit" if fields.len() == 6 => commits.entry(fields[1].to_string()).or_default().push(Commit {
                generation: number(2),
                token: number(3),
                from: number(4),
                to: number(5),
            }),
            "refused" | "lost" | "failed" if fields.len() == 3 => refused.push((fields[1].to_string(), number(2))),
            // A line cut short by a kill.
            _ => {}
        }
    }
    (commits, refused)
}

/// No two instances wrote one projection at once: along each
/// generation's checkpoints the tokens of the writes never go back, and
/// no checkpoint was written from twice.
fn assert_fenced(commits: &Commits) -> usize {
    let mut tokens = 0;
    for (projection, commits) in commits {
        let mut by_generation: BTreeMap<u64, Vec<&Commit>> = BTreeMap::new();
        for commit in commits {
            assert!(commit.token > 0, "{projection}: a commit without a lease: {commit:?}");
            by_generation.entry(commit.generation).or_default().push(commit);
        }
        for (generation, mut commits) in by_generation {
            commits.sort_by_key(|c| c.to);
            for pair in commits.windows(2) {
                assert!(
                    pair[0].token <= pair[1].token,
                    "{projection} generation {generation}: token went back along the checkpoints: {:?} then {:?}",
                    pair[0],
                    pair[1]
                );
                assert!(pair[0].to < pair[1].to && pair[0].to <= pair[1].from, "{pair:?}");
            }
            let mut distinct: Vec<u64> = commits.iter().map(|c| c.token).collect();
            distinct.dedup();
            tokens += distinct.len();
        }
    }
    tokens
}

/// Waits until `done` holds, polling; fails after `bound`.
async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, bound: Duration, mut done: impl FnMut() -> F) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn live_checkpoints<V: ViewStore>(views: &V) -> BTreeMap<String, (u64, String)> {
    views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.status == GenerationStatus::Live)
        .map(|g| (g.projection, (g.checkpoint, g.fingerprint)))
        .collect()
}

async fn kill_instances_again_and_again<S: EventStore + Clone + 'static, V: ViewStore>(
    events: S,
    views: V,
    mut workers: Workers,
) {
    let mut random = Random::seeded(workers.backend);
    let appender_random = Random(random.0 ^ 0x5eed);
    let lease = Duration::from_millis(lease_ms());
    // Takeover comes within lease + 5 retries (a fifth of the lease each);
    // the bound is generous for a loaded machine.
    let takeover_bound = lease * 3 + Duration::from_secs(15);
    let accounts = 30;
    for account in 0..accounts {
        let name = format!("acc-{account}");
        let mut history = vec![opened(&name, &format!("owner {account}"))];
        history.extend((0..49).map(|i| deposited(&name, 1 + i)));
        append(&events, &name, &history).await;
    }
    workers.start();
    wait_until("every projection live", takeover_bound, || async {
        let live = live_checkpoints(&views).await;
        PROJECTIONS.iter().all(|p| live.contains_key(*p))
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let appender = tokio::spawn(append_until(events.clone(), stop.clone(), appender_random, accounts));
    let mut failovers = Vec::new();
    let mut spread = Vec::new();
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(500 + random.below(1_500))).await;
        let held = leases(&views).await;
        spread.push(
            held.values()
                .map(|l| l.holder.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
        );
        if kill == KILLS / 2 {
            // A new build with a changed `bank.balances`: every instance
            // is replaced, and the one taking it over rebuilds it into a
            // new generation, then swaps, under the kills that follow.
            workers.kill_all();
            workers.version = "v2";
            workers.start();
            wait_until("the new build taking every projection", takeover_bound, || async {
                let now = leases(&views).await;
                PROJECTIONS.iter().all(|p| {
                    now.get(*p)
                        .is_some_and(|l| workers.slots.iter().any(|(name, _)| *name == l.holder))
                })
            })
            .await;
            continue;
        }
        // A worker holding a lease, when one does: killing it is the case
        // that matters.
        let slot = (0..INSTANCES)
            .find(|&slot| held.values().any(|l| l.holder == workers.slots[slot].0))
            .unwrap_or(random.below(INSTANCES as u64) as usize);
        let victims: Vec<Lease> = held
            .values()
            .filter(|l| l.holder == workers.slots[slot].0)
            .cloned()
            .collect();
        let killed_at = Instant::now();
        let name = workers.kill_and_replace(slot);
        if victims.is_empty() {
            continue;
        }
        wait_until(&format!("a takeover from killed {name}"), takeover_bound, || async {
            let now = leases(&views).await;
            victims
                .iter()
                .all(|v| now.get(&v.projection).is_some_and(|l| l.token > v.token))
        })
        .await;
        failovers.push(killed_at.elapsed());
        assert_views_consistent(&events, &views).await;
    }

    // One holder paused past its lease (SIGSTOP), then woken: its lease
    // was taken over meanwhile, and it must not write again. A SQLite
    // process paused inside a write transaction holds the file's write
    // lock, and no other can take a lease until it resumes: then it is
    // woken and paused again later. (PostgreSQL ends the session of a
    // transaction whose client stalls, after 5 s.)
    let mut attempts = 0;
    let (slot, paused) = loop {
        attempts += 1;
        let mut held = leases(&views).await;
        let started = Instant::now();
        let slot = loop {
            let holder = (0..INSTANCES).find(|&slot| held.values().any(|l| l.holder == workers.slots[slot].0));
            if let Some(slot) = holder {
                break slot;
            }
            assert!(started.elapsed() < takeover_bound, "no running instance holds a lease");
            tokio::time::sleep(Duration::from_millis(20)).await;
            held = leases(&views).await;
        };
        let paused: Vec<Lease> = held
            .values()
            .filter(|l| l.holder == workers.slots[slot].0)
            .cloned()
            .collect();
        workers.signal(slot, "-STOP");
        let paused_at = Instant::now();
        let bound = if workers.backend == "sqlite" && attempts < 10 {
            lease * 3 + Duration::from_secs(1)
        } else {
            takeover_bound
        };
        let mut taken = false;
        while paused_at.elapsed() < bound {
            let now = leases(&views).await;
            if paused
                .iter()
                .all(|v| now.get(&v.projection).is_some_and(|l| l.token > v.token))
            {
                taken = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if taken {
            failovers.push(paused_at.elapsed());
            break (slot, paused);
        }
        assert!(attempts < 10, "no takeover from the paused instance within {bound:?}");
        println!(
            "{}: paused inside a write transaction, woken to try again",
            workers.backend
        );
        workers.signal(slot, "-CONT");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // Only what it writes from now on counts.
    let before_waking = std::fs::read_to_string(&workers.log).unwrap().len();
    workers.signal(slot, "-CONT");
    let woken = Instant::now();
    let name = workers.slots[slot].0.clone();
    loop {
        // Its writes under the old tokens refused (or failed), or its
        // renewals finding them lost, and each projection standing by.
        let (_, refused) = read_log(&workers.log);
        let log = std::fs::read_to_string(&workers.log).unwrap();
        if paused.iter().all(|p| {
            refused.contains(&(p.projection.clone(), p.token))
                || log[before_waking..].contains(&format!("standby {} {name}\n", p.projection))
        }) {
            break;
        }
        if let Some(status) = workers.slots[slot].1.try_wait().unwrap() {
            panic!("the woken instance {name} exited: {status}");
        }
        if woken.elapsed() > takeover_bound {
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!(
                "the woken instance {name} did not find its leases {paused:?} lost; now {:?}; log (last first): \
                 {tail:#?}",
                leases(&views).await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.store(true, Ordering::Relaxed);
    let appends = appender.await.unwrap();
    let head = events.head().await.unwrap();
    let v2 = BalancesV2::FINGERPRINT.to_hex();
    wait_until(
        "every projection caught up with the head",
        takeover_bound * 2,
        || async {
            let live = live_checkpoints(&views).await;
            PROJECTIONS
                .iter()
                .all(|p| live.get(*p).is_some_and(|(checkpoint, _)| *checkpoint == head))
                && live["bank.balances"].1 == v2
        },
    )
    .await;
    workers.kill_all();

    let all = all_events(&events).await;
    let reader = ViewReader::new(views.clone());
    let balances: BTreeMap<String, Balance> = reader
        .list::<BalancesV2>(None, 100_000)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(balances, expected_balances(&all));
    let totals = reader.get::<BankTotals>("all").await.unwrap().unwrap();
    assert_eq!(totals.events, all.len() as u64);
    let generations: Vec<_> = views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.projection == "bank.balances")
        .map(|g| (g.generation, g.status))
        .collect();
    assert_eq!(
        generations,
        [(2, GenerationStatus::Live)],
        "the rebuilt generation swapped in"
    );

    let (commits, refused) = read_log(&workers.log);
    let tokens = assert_fenced(&commits);
    let promotions = std::fs::read_to_string(&workers.log)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("promote "))
        .count();
    failovers.sort();
    println!(
        "{}: {} events ({appends} appends while running), {} commits under {tokens} tokens, {} refused or lost, \
         {promotions} promotion(s); failover after SIGKILL or SIGSTOP with a {lease:?} lease: min {:?}, median {:?}, \
         max {:?} over {}; instances holding leases at the kills: {spread:?}",
        workers.backend,
        all.len(),
        commits.values().map(Vec::len).sum::<usize>(),
        refused.len(),
        failovers.first().unwrap(),
        failovers[failovers.len() / 2],
        failovers.last().unwrap(),
        failovers.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_sqlite_file_survive_kills() {
    let dir = tempfile::tempdir().unwrap();
    let events_path = dir.path().join("events.db");
    let views_path = dir.path().join("views.db");
    let events = SqliteStore::open(&events_path).unwrap();
    let views = SqliteViewStore::open(&views_path).unwrap();
    let workers = Workers {
        backend: "sqlite",
        events: events_path.display().to_string(),
        views: views_path.display().to_string(),
        log: dir.path().join("writes.log"),
        version: "v1",
        spawned: 0,
        slots: Vec::new(),
    };
    kill_instances_again_and_again(events, views, workers).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_on_one_postgres_database_survive_kills() {
    use treaty::projection::PostgresViewStore;
    use treaty::store::{PostgresConfig, PostgresOptions, PostgresStore};

    let Some(url) = treaty_testing::server_url("TREATY_TEST_POSTGRES") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("test_instances_{}", treaty::Uuid::now_v7().simple());
    let options = PostgresOptions {
        schema: schema.clone(),
        pool_size: 4,
    };
    let config = PostgresConfig {
        connection: options.clone(),
        ..PostgresConfig::default()
    };
    let events = PostgresStore::open_with(&url, config).await.unwrap();
    let views = PostgresViewStore::open_with(&url, options).await.unwrap();
    let workers = Workers {
        backend: "postgres",
        events: url.clone(),
        views: schema,
        log: dir.path().join("writes.log"),
        version: "v1",
        spawned: 0,
        slots: Vec::new(),
    };
    kill_instances_again_and_again(events, views, workers).await;
}

/// Two engines in one process, as two instances: the second stands by
/// while the first holds every projection, still reports the views'
/// progress, and takes over at once when the first shuts down (which
/// releases its leases).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_engine_follows_and_takes_over_a_released_projection() {
    use treaty::projection::{EngineConfig, Phase, ProjectionEngine};

    let dir = tempfile::tempdir().unwrap();
    let events = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let views = SqliteViewStore::open(dir.path().join("views.db")).unwrap();
    append(&events, "a", &[opened("a", "Ann"), deposited("a", 5)]).await;
    let engine = |instance: &str| {
        let mut engine = ProjectionEngine::new(events.clone(), views.clone());
        engine.add(Balances).add(BankTotals).config(EngineConfig {
            instance: Some(instance.to_string()),
            lease_ttl: Duration::from_secs(60),
            lease_renew: Duration::from_millis(100),
            lease_retry: Duration::from_millis(50),
            ..EngineConfig::default()
        });
        engine
    };
    let first = engine("first").start().await.unwrap();
    first.wait_live().await.unwrap();
    assert_eq!(first.instance(), "first");
    let second = engine("second").start().await.unwrap();
    second.wait_live().await.unwrap();
    wait_until("the second engine standing by", Duration::from_secs(30), || async {
        second.status().iter().all(|s| s.phase == Phase::Standby)
    })
    .await;
    let holders: Vec<_> = views.leases().await.unwrap().into_iter().map(|l| l.holder).collect();
    assert_eq!(holders, ["first", "first"]);

    append(&events, "a", &[deposited("a", 7)]).await;
    let head = events.head().await.unwrap();
    // The standby follows the holder's progress through the view store.
    tokio::time::timeout(Duration::from_secs(30), second.wait_for_position(head))
        .await
        .unwrap()
        .unwrap();

    // A lease of a minute, yet the takeover is immediate: shutting down
    // releases it.
    first.shutdown().await;
    let released = Instant::now();
    wait_until("the second engine taking over", Duration::from_secs(30), || async {
        second.status().iter().all(|s| s.phase == Phase::Live)
    })
    .await;
    assert!(released.elapsed() < Duration::from_secs(30));
    let leases: Vec<_> = views
        .leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.holder, l.token))
        .collect();
    assert_eq!(leases, [("second".to_string(), 2), ("second".to_string(), 2)]);
    append(&events, "a", &[withdrew("a", 2)]).await;
    second.wait_for_position(events.head().await.unwrap()).await.unwrap();
    let balance = ViewReader::new(views.clone())
        .get::<Balances>("a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((balance.balance, balance.events), (10, 4));
    second.shutdown().await;
}
