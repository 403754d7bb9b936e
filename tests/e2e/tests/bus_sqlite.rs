//! The bus over the durable SQLite queue with the bank aggregate:
//!
//! - with the event store in the queue's file, a delivery's
//!   acknowledgement commits in the transaction that appends the
//!   command's events, so no moment exists at which the events are stored
//!   and the message still queued (a crash there would deliver it again)
//!   or the message gone and the events not stored;
//! - with the store elsewhere, or with a handler of one's own (which may
//!   append more than once), the acknowledgement follows the handler;
//! - `bus_worker` processes killed at random while they handle commands
//!   neither lose a command nor apply one twice.

mod bank;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bank::*;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use tokio::sync::{Notify, Semaphore};
use treaty::aggregate::{EventSet, Repository, Snapshot, SnapshotError, SnapshotPolicy, SnapshotStore};
use treaty::bus::{
    Bus, BusConfig, Envelope, HandleError, Handled, Handler, MemoryQuarantine, SqliteQueue, SqliteQueueConfig,
};
use treaty::store::{Durability, EventStore, ExpectedVersion, Metadata, SqliteConfig, SqliteStore, StreamName};
use treaty_e2e::Random;

const WORKER: &str = env!("CARGO_BIN_EXE_bus_worker");

/// Snapshots that keep nothing, and whose `save` (which the repository
/// calls after its append committed, before the handler returns) waits
/// until the test lets it go: the moment between the append and the
/// acknowledgement a separate acknowledgement would have.
#[derive(Clone)]
struct Pausing {
    reached: Arc<Notify>,
    release: Arc<Semaphore>,
}

impl Default for Pausing {
    fn default() -> Self {
        Pausing {
            reached: Arc::new(Notify::new()),
            release: Arc::new(Semaphore::new(0)),
        }
    }
}

impl SnapshotStore for Pausing {
    async fn load(&self, _: &StreamName) -> Result<Option<Snapshot>, SnapshotError> {
        Ok(None)
    }

    async fn save(&self, _: &StreamName, _: Snapshot) -> Result<(), SnapshotError> {
        self.reached.notify_one();
        self.release.acquire().await.expect("never closed").forget();
        Ok(())
    }
}

/// Rows of `table` in the file, read through a connection of its own, as
/// a process started after a crash would see them.
fn rows(path: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Opens an account through a bus over a queue in `queue_path`, with the
/// store in `store_path`, and returns (events stored, messages queued) as
/// seen while the handler is held between its append and its return.
async fn rows_between_append_and_return(store_path: &Path, queue_path: &Path) -> (i64, i64) {
    let store = SqliteStore::open(store_path).unwrap();
    let queue = SqliteQueue::open(queue_path).unwrap();
    let pausing = Pausing::default();
    let bus = Bus::new(queue.clone(), MemoryQuarantine::new(), BusConfig::default());
    bus.handle_aggregate(
        Repository::<Account, _>::new(store.clone()).with_snapshots(pausing.clone(), SnapshotPolicy::every(1)),
    )
    .unwrap();
    let running = bus.start();
    let asking = tokio::spawn({
        let bus = bus.clone();
        async move {
            bus.ask(&OpenAccount {
                id: id("a"),
                owner: "ann".into(),
            })
            .await
        }
    });
    pausing.reached.notified().await;
    let seen = (rows(store_path, "events"), rows(queue_path, "treaty_queue"));
    pausing.release.add_permits(1);
    let handled = asking.await.unwrap().unwrap();
    assert_eq!(handled.events.len(), 1);
    // Settled either way once the outcome is back.
    assert_eq!(rows(queue_path, "treaty_queue"), 0);
    running.shutdown().await;
    queue.close();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_in_the_file_the_acknowledgement_commits_with_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    // The events are stored and the message is gone, together: a crash
    // at this moment leaves nothing to deliver again.
    assert_eq!(rows_between_append_and_return(&path, &path).await, (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_elsewhere_the_acknowledgement_follows_the_append() {
    let dir = tempfile::tempdir().unwrap();
    let (events, queue) = (dir.path().join("events.db"), dir.path().join("queue.db"));
    // The message is still queued (claimed): a crash now delivers it
    // again, and deduplication absorbs it.
    assert_eq!(rows_between_append_and_return(&events, &queue).await, (1, 1));
}

/// A handler of its own for `bank.OpenAccount`: appends the opening
/// directly to the store, then waits like [`Pausing`] before returning.
struct AppendsThenPauses {
    store: SqliteStore,
    pausing: Pausing,
}

impl Handler for AppendsThenPauses {
    fn contracts(&self) -> Vec<&'static str> {
        vec![<OpenAccount as treaty::Contract>::NAME]
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            let opened = AccountEvent::from(AccountOpened {
                id: id("b"),
                owner: "bob".into(),
            })
            .to_new_event(Metadata::now())
            .map_err(|e| HandleError::Permanent(e.to_string()))?;
            let stream = StreamName::new(format!("account-b-{}", envelope.id)).unwrap();
            self.store
                .append(&stream, ExpectedVersion::NoStream, vec![opened])
                .await
                .map_err(|e| HandleError::Transient(e.to_string()))?;
            self.pausing.reached.notify_one();
            self.pausing.release.acquire().await.expect("never closed").forget();
            Ok(Handled::default())
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_arrives_typed_over_the_sqlite_queue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).unwrap();
    let bus = Bus::new(
        SqliteQueue::open(&path).unwrap(),
        MemoryQuarantine::new(),
        BusConfig::default(),
    );
    bus.handle_aggregate(Repository::<Account, _>::new(store)).unwrap();
    let running = bus.start();
    a_refusal_arrives_as_the_typed_domain_error(&bus).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_of_ones_own_is_acknowledged_after_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteStore::open(&path).unwrap();
    let queue = SqliteQueue::open(&path).unwrap();
    let pausing = Pausing::default();
    let bus = Bus::new(queue.clone(), MemoryQuarantine::new(), BusConfig::default());
    bus.register(AppendsThenPauses {
        store: store.clone(),
        pausing: pausing.clone(),
    })
    .unwrap();
    let running = bus.start();
    bus.send(&OpenAccount {
        id: id("b"),
        owner: "bob".into(),
    })
    .await
    .unwrap();
    pausing.reached.notified().await;
    // Its append is stored, its message still queued: it did not accept
    // the acknowledgement, since it might append again.
    assert_eq!((rows(&path, "events"), rows(&path, "treaty_queue")), (1, 1));
    pausing.release.add_permits(1);
    running.shutdown().await;
    assert_eq!(rows(&path, "treaty_queue"), 0);
    queue.close();
}

/// Accounts, and deposits to each, in the crash test.
const ACCOUNTS: u64 = 10;
const DEPOSITS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_workers_neither_lose_nor_double_apply_commands() {
    let mut random = Random::seeded("killed workers");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteStore::open_with(
        &path,
        SqliteConfig {
            durability: Durability::Normal,
            ..SqliteConfig::default()
        },
    )
    .unwrap();
    // The accounts are opened directly, so no deposit can come first.
    let repository = Repository::<Account, _>::new(store.clone());
    for account in 0..ACCOUNTS {
        repository
            .execute(&id(&format!("a{account}")), &open(&format!("a{account}"), "owner"))
            .await
            .unwrap();
    }
    let queue = SqliteQueue::open_with(
        &path,
        SqliteQueueConfig {
            durability: Durability::Normal,
            ..SqliteQueueConfig::default()
        },
    )
    .unwrap();
    // This bus only sends; the workers handle.
    let sender = Bus::new(queue.clone(), MemoryQuarantine::new(), BusConfig::default());
    let mut expected = BTreeMap::new();
    for _ in 0..DEPOSITS {
        for account in 0..ACCOUNTS {
            let amount = 1 + random.below(1000);
            *expected.entry(format!("a{account}")).or_insert(0) += amount;
            sender
                .send(&Deposit {
                    id: id(&format!("a{account}")),
                    amount,
                })
                .await
                .unwrap();
        }
    }
    let total = (ACCOUNTS * DEPOSITS) as i64;
    assert_eq!(rows(&path, "treaty_queue"), total);

    // Workers killed after a random delay, a little longer each time, so
    // that the queue drains however slow the machine is.
    let mut interrupted = 0;
    for attempt in 0.. {
        assert!(attempt < 200, "the queue never drained");
        treaty_e2e::worker::run_and_kill(WORKER, &path, &mut random, attempt);
        let left = rows(&path, "treaty_queue");
        if left == 0 {
            break;
        }
        interrupted += i32::from(left < total);
    }
    println!("{interrupted} kills landed while commands were handled");
    assert!(interrupted > 0, "no kill landed while commands were handled");

    // Every deposit applied once: one event per message, the balances as
    // sent.
    let mut balances = BTreeMap::new();
    let mut causes = std::collections::HashSet::new();
    let events: Vec<_> = store.read_all(1).try_collect().await.unwrap();
    for event in &events {
        if event.contract != <Deposited as treaty::Contract>::NAME {
            continue;
        }
        let cause = event.metadata.causation_id.expect("deposits come from messages");
        assert!(causes.insert(cause), "message {cause} applied twice");
        let deposited: Deposited = event.decode().unwrap();
        *balances.entry(deposited.id.0.clone()).or_insert(0) += deposited.amount;
    }
    assert_eq!(causes.len() as i64, total, "a command was lost");
    assert_eq!(balances, expected);
}
