//! The bus over the in-process transport with the bank aggregate:
//! request/response, exactly-once effects under duplicate deliveries,
//! retries, quarantine while other messages flow, retries from the
//! quarantine, and bad input.

mod bank;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bank::*;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use treaty::aggregate::Repository;
use treaty::bus::{
    AskError, Bus, BusConfig, Envelope, HandleError, Handled, Handler, InProcessTransport, MemoryQuarantine,
    Quarantine, RetryPolicy, Transport,
};
use treaty::store::{Direction, EventStore, MemoryStore, StreamName};
use treaty::Contract;

type TestBus = Bus<InProcessTransport, MemoryQuarantine>;

fn config() -> BusConfig {
    BusConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ask_timeout: Duration::from_secs(10),
        quarantine_poll: Duration::from_millis(20),
        ..BusConfig::default()
    }
}

fn bank_bus(store: &MemoryStore) -> TestBus {
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), config());
    bus.handle_aggregate(Repository::<Account, _>::new(store.clone()))
        .unwrap();
    bus
}

fn open_cmd(account: &str) -> OpenAccount {
    OpenAccount {
        id: id(account),
        owner: format!("owner of {account}"),
    }
}

fn deposit_cmd(account: &str, amount: u64) -> Deposit {
    Deposit {
        id: id(account),
        amount,
    }
}

async fn events_of(store: &MemoryStore, account: &str) -> Vec<treaty::store::RecordedEvent> {
    let stream = StreamName::new(format!("account-{account}")).unwrap();
    store
        .read_stream(&stream, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap()
}

/// Waits until `done` holds, failing after ten seconds.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    for _ in 0..1000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_returns_the_events_or_the_domain_error() {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let running = bus.start();

    let opened = bus.ask(&open_cmd("a")).await.unwrap();
    assert_eq!(opened.stream.as_deref(), Some("account-a"));
    assert_eq!((opened.stream_version, opened.duplicate), (1, false));
    let event: AccountOpened = opened.events[0].decode().unwrap();
    assert_eq!(event.owner, "owner of a");

    let deposited = bus.ask(&deposit_cmd("a", 40)).await.unwrap();
    assert_eq!(deposited.stream_version, 2);
    assert_eq!(deposited.events[0].decode::<Deposited>().unwrap().amount, 40);
    // Where the events went: their stream versions and global positions,
    // the position a reader waits for to see this command's effect.
    bus.ask(&open_cmd("b")).await.unwrap();
    let into_b = bus.ask(&deposit_cmd("b", 5)).await.unwrap();
    assert_eq!((into_b.events[0].version, into_b.events[0].position), (2, 4));
    assert_eq!(into_b.last_position(), Some(4));
    assert_eq!((opened.events[0].version, opened.events[0].position), (1, 1));
    let stored = events_of(&store, "b").await;
    assert_eq!(stored[1].position, 4);

    let refused = bus
        .ask(&Withdraw {
            id: id("a"),
            amount: 100,
        })
        .await
        .unwrap_err();
    let AskError::Refused(error) = refused else {
        panic!("expected a domain error, got {refused}")
    };
    assert_eq!(error, "insufficient funds: balance 40, requested 100");
    assert_eq!(events_of(&store, "a").await.len(), 2);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_arrives_typed_over_the_in_process_transport() {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let running = bus.start();
    a_refusal_arrives_as_the_typed_domain_error(&bus).await;
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_delivered_many_times_has_its_effect_once() {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let running = bus.start();
    bus.ask(&open_cmd("a")).await.unwrap();

    // The same envelope published twenty times at once, then once more
    // after it was handled.
    let deposit = Envelope::command(&deposit_cmd("a", 7)).unwrap();
    let sends = (0..20).map(|_| bus.send_envelope(&deposit));
    futures::future::try_join_all(sends).await.unwrap();
    let again = bus
        .ask_envelope(deposit.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    assert!(again.duplicate, "{again:?}");
    assert_eq!(again.events.len(), 1);
    // The original outcome: the stored event's version and position.
    assert_eq!((again.events[0].version, again.events[0].position), (2, 2));
    assert_eq!(again.events[0].decode::<Deposited>().unwrap().amount, 7);

    let events = events_of(&store, "a").await;
    assert_eq!(events.len(), 2, "the deposit was applied more than once: {events:?}");
    assert_eq!(events[1].metadata.causation_id, Some(deposit.id));
    assert_eq!(events[1].id, treaty::store::message_event_id(deposit.id, 0));
    running.shutdown().await;
}

/// Fails every message of its contract, or panics, counting attempts.
struct Poison {
    attempts: Arc<AtomicU32>,
    panic: bool,
}

mod poison {
    treaty::contract! {
        namespace poison;
        Explode?(reason: String);
    }
}

impl Handler for Poison {
    fn contracts(&self) -> Vec<&'static str> {
        vec![poison::poison::Explode::NAME]
    }

    fn handle<'a>(&'a self, _: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let panic = self.panic;
        Box::pin(async move {
            if panic {
                panic!("the handler blew up");
            }
            Err(HandleError::Transient("the disk is on fire".into()))
        })
    }
}

async fn poison_is_quarantined_while_others_flow(panic: bool, expected_error: &str) {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let attempts = Arc::new(AtomicU32::new(0));
    bus.register(Poison {
        attempts: attempts.clone(),
        panic,
    })
    .unwrap();
    let running = bus.start();
    bus.ask(&open_cmd("a")).await.unwrap();

    let explode = poison::poison::Explode { reason: "test".into() };
    let poison_id = bus.send(&explode).await.unwrap();
    for _ in 0..50 {
        bus.send(&deposit_cmd("a", 1)).await.unwrap();
    }
    eventually("the deposits are applied", || async {
        events_of(&store, "a").await.len() == 51
    })
    .await;
    let quarantine = bus.quarantine().clone();
    eventually("the poison message is parked", || {
        let quarantine = quarantine.clone();
        async move { quarantine.get(poison_id).await.unwrap().is_some() }
    })
    .await;
    let parked = quarantine.get(poison_id).await.unwrap().unwrap();
    assert_eq!(parked.attempts, 3);
    assert_eq!(parked.contract.as_deref(), Some("poison.Explode"));
    assert!(parked.error.contains(expected_error), "{}", parked.error);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);

    // Asking for a retry twice sends it once more.
    assert!(quarantine.request_retry(poison_id).await.unwrap());
    assert!(quarantine.request_retry(poison_id).await.unwrap());
    eventually("the retried message failed again", || async {
        attempts.load(Ordering::SeqCst) == 6
    })
    .await;
    eventually("it is parked again", || {
        let quarantine = quarantine.clone();
        async move {
            let parked = quarantine.get(poison_id).await.unwrap();
            parked.is_some_and(|p| !p.retry_requested)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 6, "the retry was sent more than once");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_is_quarantined_after_its_attempts_while_others_flow() {
    poison_is_quarantined_while_others_flow(false, "the disk is on fire").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_retried_then_quarantined() {
    poison_is_quarantined_while_others_flow(true, "the handler panicked: the handler blew up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_retried_from_the_quarantine_is_handled_once() {
    let store = MemoryStore::new();
    // No handler yet: the open is quarantined at once.
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), config());
    let running = bus.start();
    let open = bus.send(&open_cmd("a")).await.unwrap();
    let quarantine = bus.quarantine().clone();
    eventually("the message is parked", || {
        let quarantine = quarantine.clone();
        async move { quarantine.get(open).await.unwrap().is_some() }
    })
    .await;
    let parked = quarantine.get(open).await.unwrap().unwrap();
    assert_eq!(parked.attempts, 1, "no retry can help a message nobody handles");
    assert!(
        parked.error.starts_with("no handler for contract bank.OpenAccount"),
        "{}",
        parked.error
    );
    running.shutdown().await;

    // The handler is deployed; an operator retries the message.
    let bus = Bus::new(bus.transport().clone(), quarantine.clone(), config());
    bus.handle_aggregate(Repository::<Account, _>::new(store.clone()))
        .unwrap();
    let running = bus.start();
    quarantine.request_retry(open).await.unwrap();
    eventually("the account is opened", || async {
        events_of(&store, "a").await.len() == 1
    })
    .await;
    eventually("the quarantine is empty", || {
        let quarantine = quarantine.clone();
        async move { quarantine.list().await.unwrap().is_empty() }
    })
    .await;
    running.shutdown().await;
}

async fn quarantined_reason(bus: &TestBus, body: Vec<u8>) -> String {
    bus.transport()
        .send(treaty::Uuid::nil(), body, Duration::ZERO)
        .await
        .unwrap();
    let quarantine = bus.quarantine().clone();
    eventually("the message is parked", || {
        let quarantine = quarantine.clone();
        async move { !quarantine.list().await.unwrap().is_empty() }
    })
    .await;
    let parked = quarantine.list().await.unwrap().remove(0);
    quarantine.remove(parked.id).await.unwrap();
    assert_eq!(parked.attempts, 1, "bad input must not be retried: {parked:?}");
    parked.error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_quarantined_with_a_clear_reason() {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let running = bus.start();

    let malformed = quarantined_reason(&bus, b"{not json".to_vec()).await;
    assert!(
        malformed.starts_with("the message is not a Treaty envelope: "),
        "{malformed}"
    );

    let mut unknown = Envelope::command(&deposit_cmd("a", 1)).unwrap();
    unknown.contract = "shipping.ShipIt".into();
    let reason = quarantined_reason(&bus, unknown.to_json()).await;
    assert!(
        reason.starts_with("no handler for contract shipping.ShipIt"),
        "{reason}"
    );

    let mut future = Envelope::command(&deposit_cmd("a", 1)).unwrap();
    future.contract_version = 9;
    let reason = quarantined_reason(&bus, future.to_json()).await;
    assert!(reason.contains("as bank.Deposit v9"), "{reason}");
    assert!(reason.contains("version 9"), "{reason}");

    let mut wrong_shape = Envelope::command(&deposit_cmd("a", 1)).unwrap();
    wrong_shape.payload = br#"{"id": "a", "amount": "lots"}"#.to_vec();
    let reason = quarantined_reason(&bus, wrong_shape.to_json()).await;
    assert!(reason.contains("as bank.Deposit v1"), "{reason}");

    // A fingerprint this build does not know is judged by the schema the
    // envelope carries, which must be that fingerprint's
    // (tests/rollout.rs has the compatible and breaking cases).
    let mut changed = Envelope::command(&deposit_cmd("a", 1)).unwrap();
    changed.fingerprint = "0".repeat(32);
    let reason = quarantined_reason(&bus, changed.to_json()).await;
    assert!(reason.contains("does not have that fingerprint"), "{reason}");

    // And the bus still works.
    bus.ask(&open_cmd("a")).await.unwrap();
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_times_out_when_nobody_handles() {
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), config());
    let envelope = Envelope::command(&open_cmd("a")).unwrap();
    let error = bus
        .ask_envelope(envelope.clone(), Duration::from_millis(50))
        .await
        .unwrap_err();
    let AskError::Timeout { message_id, .. } = error else {
        panic!("expected a timeout, got {error}")
    };
    assert_eq!(message_id, envelope.id);
}

#[test]
fn two_handlers_for_one_command_are_refused() {
    let store = MemoryStore::new();
    let bus = bank_bus(&store);
    let error = bus
        .handle_aggregate(Repository::<Account, _>::new(store))
        .err()
        .unwrap();
    assert!(error
        .to_string()
        .ends_with("already has a handler; each command has exactly one"));
}

/// A message delivered again after a snapshot has covered its events is
/// recognized through the store, not decided again on the newer state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_after_a_snapshot_is_recognized() {
    use treaty::aggregate::{MemorySnapshots, MessageExecution, SnapshotPolicy};
    use treaty::store::Metadata;

    let store = MemoryStore::new();
    let repository =
        Repository::<Account, _>::new(store.clone()).with_snapshots(MemorySnapshots::new(), SnapshotPolicy::every(1));
    let open_message = treaty::Uuid::now_v7();
    let deposit_message = treaty::Uuid::now_v7();
    repository
        .execute_message(&id("a"), &open("a", "Ann"), open_message, Metadata::now())
        .await
        .unwrap();
    repository
        .execute_message(&id("a"), &deposit("a", 5), deposit_message, Metadata::now())
        .await
        .unwrap();
    for _ in 0..3 {
        repository.execute(&id("a"), &deposit("a", 1)).await.unwrap();
    }

    // Deciding `OpenAccount` again would be refused, and `Deposit` would
    // deposit twice; both are answered with what they recorded then.
    for (message, command, contract) in [
        (open_message, open("a", "Ann"), "bank.AccountOpened"),
        (deposit_message, deposit("a", 5), "bank.Deposited"),
    ] {
        let again = repository
            .execute_message(&id("a"), &command, message, Metadata::now())
            .await
            .unwrap();
        let MessageExecution::AlreadyHandled { events, .. } = again else {
            panic!("message {message} was executed again")
        };
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].contract, contract);
        assert_eq!(events[0].id, treaty::store::message_event_id(message, 0));
    }
    assert_eq!(events_of(&store, "a").await.len(), 5);
}
