//! The bus over RabbitMQ: every message's effect happens once however
//! often it is published or delivered, `ask` gets its outcome over the
//! broker, and a broker restart in the middle of a run loses nothing and
//! applies nothing twice.
//!
//! Runs when `TREATY_TEST_AMQP` names a broker
//! (`amqp://guest:guest@127.0.0.1:5672/%2f`, as `.ci/services.sh` sets).
//! The restart test also needs `TREATY_TEST_AMQP_RESTART`, a shell command
//! that restarts the broker and returns once it accepts connections again
//! (`.ci/services.sh` sets `rabbitmqctl stop_app && rabbitmqctl start_app
//! && rabbitmqctl await_startup`). Without them the tests say why they
//! skip, except under `CI`, where they fail.
//!
//! Each test uses queues of its own and deletes them at the end, also when
//! it fails (`topology_cleanup`). A restart drops every connection to the
//! broker, so the restart test runs alone, also apart from the tests of
//! other binaries and processes (`AmqpBrokerLock`).
#![cfg(feature = "amqp")]

mod bank;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bank::*;
use treaty::aggregate::Repository;
use treaty::bus::{
    AmqpConfig, AmqpTransport, AskError, Bus, BusConfig, Envelope, MemoryQuarantine, Quarantine, RetryPolicy,
    RunningBus,
};
use treaty::store::{EventStore, MemoryStore, SqliteStore};
use treaty::Uuid;
use treaty_testing::{amqp_restart_command, restart_amqp_broker, server_url, AmqpBrokerLock, AsyncCleanup};

type AmqpBus = Bus<AmqpTransport, MemoryQuarantine>;

/// Deletes `transport`'s topology (its queues and dead-letter exchange, see
/// `AmqpTransport::delete_topology`) at the test's end, also when it fails,
/// so nothing is left on the shared broker.
fn topology_cleanup(transport: &AmqpTransport) -> AsyncCleanup {
    let transport = transport.clone();
    AsyncCleanup::new("the AMQP topology", move || async move {
        transport.delete_topology().await.map_err(|error| error.to_string())
    })
}

/// A command queue of a test's own.
fn new_queue() -> String {
    format!("treaty.test.{}", Uuid::new_v4().simple())
}

/// A bus over command queue `queue`, handling accounts in `store`.
async fn start_bus<S: EventStore + Clone>(url: &str, queue: &str, store: &S) -> (AmqpBus, RunningBus) {
    let config = AmqpConfig {
        queue: queue.to_string(),
        outage_timeout: Duration::from_secs(60),
        max_reconnect_delay: Duration::from_millis(500),
        ..AmqpConfig::default()
    };
    let transport = AmqpTransport::connect(url, config).await.unwrap();
    let bus = Bus::new(
        transport,
        MemoryQuarantine::new(),
        BusConfig {
            retry: RetryPolicy {
                max_attempts: 10,
                first_delay: Duration::from_millis(50),
                max_delay: Duration::from_secs(1),
            },
            ask_timeout: Duration::from_secs(60),
            ..BusConfig::default()
        },
    );
    // Concurrent deposits to one account conflict; deciding again is
    // the repository's business, so they are not retried through the
    // broker nor quarantined.
    bus.handle_aggregate(Repository::<Account, _>::new(store.clone()).with_max_attempts(100))
        .unwrap();
    let running = bus.start();
    (bus, running)
}

fn deposit_message(account: &str, amount: u64) -> Envelope {
    Envelope::command(&Deposit {
        id: id(account),
        amount,
    })
    .unwrap()
}

/// Opens `accounts` through the bus.
async fn open_accounts(bus: &AmqpBus, accounts: &[String]) {
    for account in accounts {
        let opened = bus
            .ask(&OpenAccount {
                id: id(account),
                owner: "Ann".into(),
            })
            .await
            .unwrap();
        assert_eq!(opened.stream_version, 1);
    }
}

/// Waits until the store holds `events` events; fails after `within`.
async fn wait_for_events(store: &impl EventStore, events: u64, within: Duration) {
    let started = Instant::now();
    loop {
        let head = store.head().await.unwrap();
        if head >= events {
            return;
        }
        assert!(started.elapsed() < within, "{head} of {events} events after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Makes sure every message published so far has been settled: a last
/// command asked for is handled after every earlier one was taken (the
/// queue hands them out in order), and shutting down waits for those
/// still being handled.
async fn drain(bus: &AmqpBus, running: RunningBus, account: &str) {
    let marker = Deposit {
        id: id(account),
        amount: 0,
    };
    bus.ask(&marker).await.unwrap();
    running.shutdown().await;
}

/// Asserts each account's version and balance equal the model: `(deposits, total)`.
async fn assert_accounts<S: EventStore + Clone>(store: &S, model: &BTreeMap<String, (u64, u64)>) {
    let repository = Repository::<Account, _>::new(store.clone());
    for (account, (deposits, total)) in model {
        let loaded = repository.load(&id(account)).await.unwrap();
        assert_eq!(loaded.version, 1 + deposits, "events of {account}");
        assert_eq!(loaded.state.balance, *total, "balance of {account}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_published_twice_is_applied_once() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let store = MemoryStore::new();
    let (bus, running) = start_bus(&url, &new_queue(), &store).await;
    let cleanup = topology_cleanup(bus.transport());
    let accounts: Vec<String> = (0..10).map(|i| format!("twice-{i}")).collect();
    open_accounts(&bus, &accounts).await;

    let mut model: BTreeMap<String, (u64, u64)> = accounts.iter().map(|a| (a.clone(), (0, 0))).collect();
    for i in 0..200u64 {
        let account = &accounts[i as usize % accounts.len()];
        let amount = i % 5 + 1;
        let envelope = deposit_message(account, amount);
        bus.send_envelope(&envelope).await.unwrap();
        bus.send_envelope(&envelope).await.unwrap();
        let entry = model.get_mut(account).unwrap();
        entry.0 += 1;
        entry.1 += amount;
    }
    wait_for_events(&store, 10 + 200, Duration::from_secs(120)).await;
    drain(&bus, running, &accounts[0]).await;

    assert_eq!(store.head().await.unwrap(), 10 + 200);
    assert_accounts(&store, &model).await;
    assert!(bus.quarantine().list().await.unwrap().is_empty());
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_gets_outcomes_over_amqp() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let store = MemoryStore::new();
    let (bus, running) = start_bus(&url, &new_queue(), &store).await;
    let cleanup = topology_cleanup(bus.transport());

    let opened = bus
        .ask(&OpenAccount {
            id: id("asked"),
            owner: "Bo".into(),
        })
        .await
        .unwrap();
    assert_eq!(opened.stream.as_deref(), Some("account-asked"));
    assert_eq!(opened.stream_version, 1);
    assert_eq!(opened.events.len(), 1);
    assert_eq!(opened.events[0].contract, "bank.AccountOpened");
    assert!(!opened.duplicate);

    // A domain error comes back as such.
    let refused = bus
        .ask(&Withdraw {
            id: id("asked"),
            amount: 10,
        })
        .await;
    match refused {
        Err(AskError::Refused(error)) => assert!(error.message().contains("insufficient funds"), "{error}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Asking again with the same envelope returns the original outcome.
    let envelope = deposit_message("asked", 25);
    let first = bus
        .ask_envelope(envelope.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    let again = bus.ask_envelope(envelope, Duration::from_secs(60)).await.unwrap();
    assert_eq!(first.stream_version, 2);
    assert!(!first.duplicate);
    assert!(again.duplicate);
    assert_eq!(again.stream_version, first.stream_version);
    assert_eq!(again.events, first.events);

    // A message nobody handles is quarantined, and the asker told so.
    let mut unknown = deposit_message("asked", 1);
    unknown.contract = "bank.Unknown".to_string();
    match bus.ask_envelope(unknown.clone(), Duration::from_secs(60)).await {
        Err(AskError::Quarantined(error)) => assert!(error.contains("no handler"), "{error}"),
        other => panic!("expected a quarantine, got {other:?}"),
    }
    let parked = bus.quarantine().list().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, unknown.id);

    running.shutdown().await;
    let repository = Repository::<Account, _>::new(store.clone());
    assert_eq!(repository.load(&id("asked")).await.unwrap().state.balance, 25);
    cleanup.run().await;
}

/// 10,000 deposits to 100 accounts, sent by one task while the bus
/// consumes them, with the broker restarted once in the middle: every
/// deposit is applied exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_run_loses_nothing_and_applies_nothing_twice() {
    const ACCOUNTS: usize = 100;
    const DEPOSITS: usize = 10_000;
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let Some(restart) = amqp_restart_command() else { return };
    let _broker = AmqpBrokerLock::exclusive();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let (bus, running) = start_bus(&url, &new_queue(), &store).await;
    let cleanup = topology_cleanup(bus.transport());
    let accounts: Vec<String> = (0..ACCOUNTS).map(|i| format!("run-{i}")).collect();
    open_accounts(&bus, &accounts).await;

    let started = Instant::now();
    let mut model: BTreeMap<String, (u64, u64)> = accounts.iter().map(|a| (a.clone(), (0, 0))).collect();
    let mut messages = Vec::with_capacity(DEPOSITS);
    for i in 0..DEPOSITS {
        let account = &accounts[i % ACCOUNTS];
        let amount = (i % 7 + 1) as u64;
        messages.push(deposit_message(account, amount));
        let entry = model.get_mut(account).unwrap();
        entry.0 += 1;
        entry.1 += amount;
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let (bus, sent) = (bus.clone(), sent.clone());
        tokio::spawn(async move {
            for envelope in &messages {
                // A send that fails may or may not have reached the
                // broker; sending the same envelope again is safe.
                let mut failures = 0;
                while let Err(error) = bus.send_envelope(envelope).await {
                    failures += 1;
                    assert!(failures < 5, "cannot send message {}: {error}", envelope.id);
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    while sent.load(Ordering::Relaxed) < DEPOSITS / 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (sent_before, handled_before) = (sent.load(Ordering::Relaxed), store.head().await.unwrap());
    restart_amqp_broker(&restart).await;
    sender.await.unwrap();
    let expected_events = (ACCOUNTS + DEPOSITS) as u64;
    wait_for_events(&store, expected_events, Duration::from_secs(600)).await;
    drain(&bus, running, &accounts[0]).await;
    eprintln!(
        "{DEPOSITS} deposits in {:?}; the broker restarted after {sent_before} were sent and {} handled",
        started.elapsed(),
        handled_before.saturating_sub(ACCOUNTS as u64)
    );

    assert_eq!(store.head().await.unwrap(), expected_events);
    assert_accounts(&store, &model).await;
    assert!(bus.quarantine().list().await.unwrap().is_empty());
    cleanup.run().await;
}

/// A bus shut down in a process that keeps its transport open does not
/// sit on what its transport prefetched: another bus on the same queue
/// handles every message sent after the shutdown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_shut_down_leaves_its_messages_to_other_buses() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let store = MemoryStore::new();
    let queue = new_queue();
    let (stopped, running) = start_bus(&url, &queue, &store).await;
    let cleanup = topology_cleanup(stopped.transport());
    let account = "left-behind".to_string();
    open_accounts(&stopped, std::slice::from_ref(&account)).await;
    running.shutdown().await;

    let mut model = BTreeMap::from([(account.clone(), (0, 0))]);
    for amount in 1..=20 {
        stopped.send_envelope(&deposit_message(&account, amount)).await.unwrap();
        let entry = model.get_mut(&account).unwrap();
        entry.0 += 1;
        entry.1 += amount;
    }
    let (other, running) = start_bus(&url, &queue, &store).await;
    wait_for_events(&store, 1 + 20, Duration::from_secs(30)).await;
    drain(&other, running, &account).await;

    assert_accounts(&store, &model).await;
    other.transport().close().await;
    cleanup.run().await;
}
