//! The aggregate repository against the memory and SQLite event stores:
//! deciding, appending and reloading, optimistic concurrency with
//! retries, domain errors, upcasting while loading, and snapshots.

mod bank;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bank::*;
use futures::TryStreamExt;
use treaty::aggregate::{
    Aggregate, EventSet, ExecuteError, LoadError, MemorySnapshots, MessageExecution, Repository, Snapshot,
    SnapshotOutcome, SnapshotPolicy, SnapshotStore, SqliteSnapshots,
};
use treaty::store::registry::{CompiledContract, StoredContract};
use treaty::store::{
    AppendError, AppendResult, Direction, EventLocation, EventStore, EventStream, ExpectedVersion, MemoryStore,
    Metadata, NewEvent, ReadError, RecordedEvent, SqliteStore, StreamName,
};
use treaty::{Contract, Uuid};

fn stream(account: &str) -> StreamName {
    Account::stream_name(&id(account)).unwrap()
}

async fn recorded(store: &impl EventStore, account: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&stream(account), 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap()
}

/// A SQLite store in a temporary directory that lives as long as the
/// store is used.
fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    (dir, store)
}

async fn decides_appends_and_reloads(store: impl EventStore + Clone) {
    let repository = Repository::<Account, _>::new(store.clone());

    let first = repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    assert_eq!(first.events, vec![opened("acc-1", "Ann")]);
    assert_eq!(first.stream_version, 1);
    assert_eq!(first.attempts, 1);
    let appended = first.appended.unwrap();
    assert_eq!((appended.first_position, appended.last_position), (1, 1));

    repository.execute(&id("acc-1"), &deposit("acc-1", 100)).await.unwrap();
    let last = repository.execute(&id("acc-1"), &withdraw("acc-1", 30)).await.unwrap();
    assert_eq!(last.events, vec![withdrew("acc-1", 30)]);
    assert_eq!(last.stream_version, 3);
    assert_eq!(last.state.balance, 70);

    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.replayed, 3);
    assert_eq!(loaded.snapshot, None);
    assert_eq!(
        loaded.state,
        Account {
            owner: Some("Ann".into()),
            balance: 70,
        }
    );

    // The events are stored under the members' contract names, current
    // versions and fingerprints, in the stream `account-acc-1`.
    let events = recorded(&store, "acc-1").await;
    let stored: Vec<(&str, &str, u32, &str)> = events
        .iter()
        .map(|e| {
            (
                e.stream.as_str(),
                e.contract.as_str(),
                e.contract_version,
                e.fingerprint.as_str(),
            )
        })
        .collect();
    assert_eq!(
        stored,
        vec![
            ("account-acc-1", "bank.AccountOpened", 1, AccountOpened::FINGERPRINT),
            ("account-acc-1", "bank.Deposited", 2, Deposited::FINGERPRINT),
            ("account-acc-1", "bank.Withdrew", 1, Withdrew::FINGERPRINT),
        ]
    );
    assert_eq!(events[1].decode::<Deposited>().unwrap().amount, 100);
}

#[tokio::test]
async fn memory_store_decides_appends_and_reloads() {
    decides_appends_and_reloads(MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_decides_appends_and_reloads() {
    let (_dir, store) = sqlite();
    decides_appends_and_reloads(store).await;
}

#[tokio::test]
async fn a_new_aggregate_loads_at_version_zero() {
    let repository = Repository::<Account, _>::new(MemoryStore::new());
    let loaded = repository.load(&id("nobody")).await.unwrap();
    assert_eq!((loaded.version, loaded.replayed), (0, 0));
    assert_eq!(loaded.state, Account::default());
}

#[tokio::test]
async fn metadata_is_stored_with_every_event() {
    let store = MemoryStore::new();
    let repository = Repository::<Account, _>::new(store.clone());
    let correlation = Uuid::now_v7();
    let causation = Uuid::now_v7();
    let metadata = Metadata {
        correlation_id: Some(correlation),
        causation_id: Some(causation),
        ..Metadata::now()
    };
    repository
        .execute_with(&id("acc-1"), &open("acc-1", "Ann"), metadata.clone())
        .await
        .unwrap();
    let events = recorded(&store, "acc-1").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].metadata, metadata);
}

async fn a_refused_command_appends_nothing(store: impl EventStore + Clone) {
    let repository = Repository::<Account, _>::new(store.clone());
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    repository.execute(&id("acc-1"), &deposit("acc-1", 20)).await.unwrap();
    let head = store.head().await.unwrap();

    let error = repository
        .execute(&id("acc-1"), &withdraw("acc-1", 50))
        .await
        .unwrap_err();
    let ExecuteError::Rejected(refusal) = &error else {
        panic!("expected a domain error, got {error:?}");
    };
    assert_eq!(
        *refusal,
        AccountError::InsufficientFunds {
            balance: 20,
            requested: 50
        }
    );
    assert_eq!(
        error.to_string(),
        "the command was refused: insufficient funds: balance 20, requested 50"
    );
    assert_eq!(store.stream_version(&stream("acc-1")).await.unwrap(), Some(2));
    assert_eq!(store.head().await.unwrap(), head);

    // A command on an account that was never opened is refused the same
    // way, and creates no stream.
    let error = repository
        .execute(&id("acc-2"), &deposit("acc-2", 5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExecuteError::Rejected(AccountError::NotOpen)),
        "{error:?}"
    );
    assert_eq!(store.stream_version(&stream("acc-2")).await.unwrap(), None);
}

#[tokio::test]
async fn memory_store_keeps_refused_commands_out() {
    a_refused_command_appends_nothing(MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_keeps_refused_commands_out() {
    let (_dir, store) = sqlite();
    a_refused_command_appends_nothing(store).await;
}

#[tokio::test]
async fn a_command_that_changes_nothing_appends_nothing() {
    let store = MemoryStore::new();
    let repository = Repository::<Account, _>::new(store.clone());
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    let executed = repository.execute(&id("acc-1"), &deposit("acc-1", 0)).await.unwrap();
    assert!(executed.events.is_empty());
    assert_eq!(executed.appended, None);
    assert_eq!(executed.stream_version, 1);
    assert_eq!(store.head().await.unwrap(), 1);
}

/// A store that does something before each append reaches the inner
/// store, to set up races deterministically.
#[derive(Clone)]
struct Hooked<S> {
    inner: S,
    hook: Hook,
}

#[derive(Clone)]
enum Hook {
    /// The first `waiting` appends wait for each other, so every one of
    /// them was decided on the same loaded state and all but one must
    /// conflict.
    Gate {
        barrier: Arc<tokio::sync::Barrier>,
        waiting: Arc<AtomicUsize>,
    },
    /// Another writer deposits 1 just before each append, so every append
    /// conflicts.
    CutIn,
}

impl<S> Hooked<S> {
    fn gate(inner: S, parties: usize) -> Self {
        Hooked {
            inner,
            hook: Hook::Gate {
                barrier: Arc::new(tokio::sync::Barrier::new(parties)),
                waiting: Arc::new(AtomicUsize::new(parties)),
            },
        }
    }

    fn cut_in(inner: S) -> Self {
        Hooked {
            inner,
            hook: Hook::CutIn,
        }
    }
}

impl<S: EventStore> EventStore for Hooked<S> {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        match &self.hook {
            Hook::Gate { barrier, waiting } => {
                let gated = waiting
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if gated {
                    barrier.wait().await;
                }
            }
            Hook::CutIn => {
                let cut_in = deposited("acc-1", 1).to_new_event(Metadata::now()).unwrap();
                self.inner.append(stream, ExpectedVersion::Any, vec![cut_in]).await?;
            }
        }
        self.inner.append(stream, expected, events).await
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<Option<u64>, ReadError> {
        self.inner.stream_version(stream).await
    }

    async fn locate(&self, id: Uuid) -> Result<Option<EventLocation>, ReadError> {
        self.inner.locate(id).await
    }

    async fn head(&self) -> Result<u64, ReadError> {
        self.inner.head().await
    }

    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream {
        self.inner.read_stream(stream, from, direction)
    }

    fn read_all(&self, from: u64) -> EventStream {
        self.inner.read_all(from)
    }

    fn subscribe(&self, from: u64) -> EventStream {
        self.inner.subscribe(from)
    }

    async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        self.inner.contracts().await
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        self.inner.record_contracts(contracts).await
    }
}

async fn racing_deposits_are_both_applied(store: impl EventStore + Clone) {
    Repository::<Account, _>::new(store.clone())
        .execute(&id("acc-1"), &open("acc-1", "Ann"))
        .await
        .unwrap();
    let gate = Hooked::gate(store.clone(), 2);
    let alice = Repository::<Account, _>::new(gate.clone());
    let bob = Repository::<Account, _>::new(gate);
    let account = id("acc-1");
    let (thirty, twelve) = (deposit("acc-1", 30), deposit("acc-1", 12));
    let (a, b) = tokio::join!(alice.execute(&account, &thirty), bob.execute(&account, &twelve));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut attempts = [a.attempts, b.attempts];
    attempts.sort();
    assert_eq!(attempts, [1, 2], "exactly one of them conflicted and retried");
    let mut versions = [a.stream_version, b.stream_version];
    versions.sort();
    assert_eq!(versions, [2, 3]);

    let loaded = Repository::<Account, _>::new(store).load(&id("acc-1")).await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.state.balance, 42, "no deposit was lost");
}

#[tokio::test]
async fn memory_store_racing_deposits_are_both_applied() {
    racing_deposits_are_both_applied(MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_racing_deposits_are_both_applied() {
    let (_dir, store) = sqlite();
    racing_deposits_are_both_applied(store).await;
}

#[tokio::test]
async fn the_retry_decides_again_on_the_newer_state() {
    let store = MemoryStore::new();
    let setup = Repository::<Account, _>::new(store.clone());
    setup.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    setup.execute(&id("acc-1"), &deposit("acc-1", 100)).await.unwrap();

    // Each withdrawal alone is covered by the balance, both together are
    // not. The loser of the race must see the winner's withdrawal when it
    // decides again, and be refused: appending its first decision would
    // overdraw the account.
    let gate = Hooked::gate(store.clone(), 2);
    let alice = Repository::<Account, _>::new(gate.clone());
    let bob = Repository::<Account, _>::new(gate);
    let account = id("acc-1");
    let (seventy, fifty) = (withdraw("acc-1", 70), withdraw("acc-1", 50));
    let (a, b) = tokio::join!(alice.execute(&account, &seventy), bob.execute(&account, &fifty));
    let refusal = match (a, b) {
        (Ok(_), Err(e)) => {
            assert!(
                matches!(
                    e,
                    ExecuteError::Rejected(AccountError::InsufficientFunds {
                        balance: 30,
                        requested: 50
                    })
                ),
                "{e:?}"
            );
            30
        }
        (Err(e), Ok(_)) => {
            assert!(
                matches!(
                    e,
                    ExecuteError::Rejected(AccountError::InsufficientFunds {
                        balance: 50,
                        requested: 70
                    })
                ),
                "{e:?}"
            );
            50
        }
        other => panic!("exactly one withdrawal must succeed: {other:?}"),
    };
    let loaded = setup.load(&id("acc-1")).await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.state.balance, refusal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_writers_lose_no_update() {
    let (_dir, store) = sqlite();
    let repository = Repository::<Account, _>::new(store).with_max_attempts(1000);
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    let writers: Vec<_> = (0..4u64)
        .map(|writer| {
            let repository = repository.clone();
            tokio::spawn(async move {
                for i in 0..10u64 {
                    repository
                        .execute(&id("acc-1"), &deposit("acc-1", writer * 100 + i + 1))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!(loaded.version, 41);
    let expected: u64 = (0..4u64).flat_map(|w| (0..10u64).map(move |i| w * 100 + i + 1)).sum();
    assert_eq!(loaded.state.balance, expected);
}

#[tokio::test]
async fn a_conflict_on_every_attempt_gives_up_after_the_configured_attempts() {
    let store = MemoryStore::new();
    Repository::<Account, _>::new(store.clone())
        .execute(&id("acc-1"), &open("acc-1", "Ann"))
        .await
        .unwrap();
    let repository = Repository::<Account, _>::new(Hooked::cut_in(store.clone())).with_max_attempts(3);
    let error = repository
        .execute(&id("acc-1"), &deposit("acc-1", 500))
        .await
        .unwrap_err();
    assert!(matches!(error, ExecuteError::Conflict { attempts: 3, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "stream account-acc-1 changed under each of 3 attempts; try again later"
    );
    // Only the interloper's three deposits of 1 were stored.
    let loaded = Repository::<Account, _>::new(store).load(&id("acc-1")).await.unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (4, 3));
}

/// An event as an earlier build stored it: `Deposited` version 1, whose
/// amount was a `u32` and which had no memo.
fn deposited_v1(account: &str, amount: u32) -> NewEvent {
    let v1 = Deposited::HISTORY.iter().find(|v| v.version == 1).unwrap();
    NewEvent {
        id: Uuid::now_v7(),
        contract: Deposited::NAME.into(),
        contract_version: 1,
        fingerprint: v1.fingerprint.into(),
        payload: format!(r#"{{"id":"{account}","amount":{amount}}}"#).into_bytes(),
        metadata: Metadata::now(),
        schema: None,
    }
}

async fn loading_upcasts_earlier_versions(store: impl EventStore + Clone) {
    let repository = Repository::<Account, _>::new(store.clone());
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    store
        .append(
            &stream("acc-1"),
            ExpectedVersion::Exact(1),
            vec![deposited_v1("acc-1", 40)],
        )
        .await
        .unwrap();
    repository.execute(&id("acc-1"), &deposit("acc-1", 2)).await.unwrap();

    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (3, 42));
    let events = recorded(&store, "acc-1").await;
    assert_eq!(events[1].contract_version, 1, "the stored event stays at version 1");
    assert_eq!(
        AccountEvent::from_recorded(&events[1]).unwrap(),
        deposited("acc-1", 40),
        "read as version 2, with the memo's default"
    );
    assert_ne!(events[1].fingerprint, events[2].fingerprint);
}

#[tokio::test]
async fn memory_store_loading_upcasts_earlier_versions() {
    loading_upcasts_earlier_versions(MemoryStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_loading_upcasts_earlier_versions() {
    let (_dir, store) = sqlite();
    loading_upcasts_earlier_versions(store).await;
}

#[tokio::test]
async fn an_event_the_aggregate_cannot_read_names_its_stream_version_and_contract() {
    let store = MemoryStore::new();
    let repository = Repository::<Account, _>::new(store.clone());
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    let frozen = NewEvent {
        contract: "bank.AccountFrozen".into(),
        ..deposited_v1("acc-1", 1)
    };
    store
        .append(&stream("acc-1"), ExpectedVersion::Exact(1), vec![frozen])
        .await
        .unwrap();

    let error = repository.load(&id("acc-1")).await.unwrap_err();
    let LoadError::Decode {
        stream,
        version,
        contract,
        contract_version,
        ..
    } = &error
    else {
        panic!("expected a decode error, got {error:?}");
    };
    assert_eq!(
        (stream.as_str(), *version, contract.as_str(), *contract_version),
        ("account-acc-1", 2, "bank.AccountFrozen", 1)
    );
    assert_eq!(
        error.to_string(),
        "cannot read event 2 of stream account-acc-1 as bank.AccountFrozen v1: unknown contract \
         bank.AccountFrozen (version 1); the known contracts are: bank.AccountOpened, bank.Deposited, bank.Withdrew"
    );
    // Executing fails the same way, before deciding anything.
    let error = repository
        .execute(&id("acc-1"), &deposit("acc-1", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ExecuteError::Load(LoadError::Decode { version: 2, .. })),
        "{error:?}"
    );
}

async fn snapshots_are_saved_and_used(store: impl EventStore + Clone, snapshots: impl SnapshotStore + Clone) {
    let repository =
        Repository::<Account, _>::new(store.clone()).with_snapshots(snapshots.clone(), SnapshotPolicy::every(3));
    let account = id("acc-1");
    let mut saved = Vec::new();
    for command in [
        open("acc-1", "Ann"),
        deposit("acc-1", 10),
        deposit("acc-1", 20),
        withdraw("acc-1", 5),
        deposit("acc-1", 40),
        deposit("acc-1", 80),
        withdraw("acc-1", 1),
    ] {
        let executed = repository.execute(&account, &command).await.unwrap();
        if let SnapshotOutcome::Saved(version) = executed.snapshot {
            saved.push(version);
        }
    }
    // Saved once three events have been appended since the last one.
    assert_eq!(saved, vec![3, 6]);

    let loaded = repository.load(&account).await.unwrap();
    assert_eq!(loaded.snapshot, Some(6));
    assert_eq!(loaded.replayed, 1, "only the event after the snapshot is read");
    assert_eq!(loaded.version, 7);
    let replayed = Repository::<Account, _>::new(store.clone())
        .load(&account)
        .await
        .unwrap();
    assert_eq!(replayed.replayed, 7);
    assert_eq!(
        loaded.state, replayed.state,
        "the snapshot gives the same state as a full replay"
    );
    assert_eq!(loaded.state.balance, 144);

    // The state really comes from the snapshot: a doctored one shows.
    let doctored = Snapshot {
        version: 6,
        state_version: 1,
        state: r#"{"owner":"Mallory","balance":1000}"#.into(),
    };
    snapshots.save(&stream("acc-1"), doctored).await.unwrap();
    let loaded = repository.load(&account).await.unwrap();
    assert_eq!(
        loaded.state,
        Account {
            owner: Some("Mallory".into()),
            balance: 999,
        }
    );
}

#[tokio::test]
async fn memory_snapshots_are_saved_and_used() {
    snapshots_are_saved_and_used(MemoryStore::new(), MemorySnapshots::new()).await;
}

#[tokio::test]
async fn sqlite_snapshots_in_the_event_store_file_are_saved_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bank.db");
    let store = SqliteStore::open(&path).unwrap();
    let snapshots = SqliteSnapshots::open(&path).unwrap();
    snapshots_are_saved_and_used(store, snapshots).await;

    // Both survive reopening the file.
    let repository = Repository::<Account, _>::new(SqliteStore::open(&path).unwrap())
        .with_snapshots(SqliteSnapshots::open(&path).unwrap(), SnapshotPolicy::every(3));
    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!(
        (loaded.snapshot, loaded.version, loaded.state.balance),
        (Some(6), 7, 999)
    );
}

/// Opens an account and deposits 10 four times: five events.
async fn five_events(repository: &Repository<Account, MemoryStore, MemorySnapshots>) {
    repository.execute(&id("acc-1"), &open("acc-1", "Ann")).await.unwrap();
    for _ in 0..4 {
        repository.execute(&id("acc-1"), &deposit("acc-1", 10)).await.unwrap();
    }
}

#[tokio::test]
async fn a_snapshot_of_another_state_version_is_ignored_then_replaced() {
    let store = MemoryStore::new();
    let snapshots = MemorySnapshots::new();
    let old = Repository::<Account, _>::new(store.clone()).with_snapshots(snapshots.clone(), SnapshotPolicy::every(2));
    five_events(&old).await;
    assert_eq!(
        snapshots.load(&stream("acc-1")).await.unwrap().unwrap().state_version,
        1
    );

    let new = Repository::<Account, _>::new(store)
        .with_snapshots(snapshots.clone(), SnapshotPolicy::every(2).state_version(2));
    let loaded = new.load(&id("acc-1")).await.unwrap();
    assert_eq!((loaded.snapshot, loaded.replayed, loaded.state.balance), (None, 5, 40));

    // The stream is five events past "no snapshot", so the next command
    // saves one of the new shape.
    let executed = new.execute(&id("acc-1"), &deposit("acc-1", 2)).await.unwrap();
    assert!(
        matches!(executed.snapshot, SnapshotOutcome::Saved(6)),
        "{:?}",
        executed.snapshot
    );
    let stored = snapshots.load(&stream("acc-1")).await.unwrap().unwrap();
    assert_eq!((stored.version, stored.state_version), (6, 2));
}

#[tokio::test]
async fn an_unreadable_snapshot_falls_back_to_a_full_replay() {
    let store = MemoryStore::new();
    let snapshots = MemorySnapshots::new();
    let repository = Repository::<Account, _>::new(store).with_snapshots(snapshots.clone(), SnapshotPolicy::every(100));
    five_events(&repository).await;
    let broken = Snapshot {
        version: 4,
        state_version: 1,
        state: "{\"balance\": \"lots\"}".into(),
    };
    snapshots.save(&stream("acc-1"), broken).await.unwrap();
    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!((loaded.snapshot, loaded.replayed, loaded.state.balance), (None, 5, 40));
}

#[tokio::test]
async fn a_snapshot_ahead_of_the_stream_is_ignored() {
    let store = MemoryStore::new();
    let snapshots = MemorySnapshots::new();
    let repository = Repository::<Account, _>::new(store).with_snapshots(snapshots.clone(), SnapshotPolicy::every(100));
    five_events(&repository).await;
    // A snapshot saved next to another store, which had more events.
    let foreign = Snapshot {
        version: 9,
        state_version: 1,
        state: r#"{"owner":"Ann","balance":7}"#.into(),
    };
    snapshots.save(&stream("acc-1"), foreign).await.unwrap();
    let loaded = repository.load(&id("acc-1")).await.unwrap();
    assert_eq!((loaded.snapshot, loaded.version, loaded.state.balance), (None, 5, 40));
    let executed = repository.execute(&id("acc-1"), &withdraw("acc-1", 40)).await.unwrap();
    assert_eq!((executed.stream_version, executed.state.balance), (6, 0));
}

/// A message handled before is recognized while the stream is replayed,
/// which on SQLite leaves out every event's headers; the events answered
/// are read again whole, headers and all.
#[tokio::test]
async fn a_recognized_message_answers_its_events_with_their_headers() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let repository = Repository::<Account, _>::new(store.clone());
    let account = id("acc-h");
    let open = AccountCommand::from(OpenAccount {
        id: account.clone(),
        owner: "Ann".into(),
    });
    let deposit = AccountCommand::from(Deposit {
        id: account.clone(),
        amount: 5,
    });
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let mut traced = Metadata::now();
    traced.headers.insert("traceparent".into(), traceparent.into());
    repository
        .execute_message(&account, &open, Uuid::now_v7(), Metadata::now())
        .await
        .unwrap();
    let message = Uuid::now_v7();
    let first = repository
        .execute_message(&account, &deposit, message, traced.clone())
        .await
        .unwrap();
    assert!(matches!(first, MessageExecution::Executed(ref e) if e.stream_version == 2));
    // Another event after it, so the message's is found mid-stream.
    repository
        .execute_message(&account, &deposit, Uuid::now_v7(), Metadata::now())
        .await
        .unwrap();
    let again = repository
        .execute_message(&account, &deposit, message, traced)
        .await
        .unwrap();
    let MessageExecution::AlreadyHandled { events, .. } = again else {
        panic!("the retry was decided again");
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].version, 2);
    assert_eq!(events[0].metadata.causation_id, Some(message));
    assert_eq!(
        events[0].metadata.headers.get("traceparent").map(String::as_str),
        Some(traceparent)
    );
    // The state was rebuilt from the replay: 5 + 5.
    assert_eq!(repository.load(&account).await.unwrap().state.balance, 10);
}

#[tokio::test]
async fn an_expected_version_is_checked_after_a_retry_is_recognized() {
    let store = MemoryStore::new();
    let repository = Repository::<Account, _>::new(store.clone());
    let account = id("acc-x");
    let open = AccountCommand::from(OpenAccount {
        id: account.clone(),
        owner: "Ann".into(),
    });
    let message = Uuid::now_v7();
    let first = repository
        .execute_message_expecting(&account, &open, message, Metadata::now(), 0)
        .await
        .unwrap();
    assert!(matches!(first, MessageExecution::Executed(ref e) if e.stream_version == 1));
    // The same message again, expecting the version it saw: the stream is
    // past it, but the message's events are found first.
    let again = repository
        .execute_message_expecting(&account, &open, message, Metadata::now(), 0)
        .await
        .unwrap();
    let MessageExecution::AlreadyHandled { events, .. } = again else {
        panic!("the retry was decided again");
    };
    assert_eq!(events.len(), 1);
    // Another message expecting a stale version is refused unread.
    let deposit = AccountCommand::from(Deposit {
        id: account.clone(),
        amount: 5,
    });
    let stale = repository
        .execute_message_expecting(&account, &deposit, Uuid::now_v7(), Metadata::now(), 0)
        .await;
    let Err(ExecuteError::WrongVersion { expected, actual, .. }) = stale else {
        panic!("a stale expected version was accepted");
    };
    assert_eq!((expected, actual), (0, 1));
    // At the right version it is executed.
    let current = repository
        .execute_message_expecting(&account, &deposit, Uuid::now_v7(), Metadata::now(), 1)
        .await
        .unwrap();
    assert!(matches!(current, MessageExecution::Executed(ref e) if e.stream_version == 2));
    assert_eq!(recorded(&store, "acc-x").await.len(), 2);
}
