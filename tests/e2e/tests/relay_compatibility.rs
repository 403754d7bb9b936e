//! Integration events of a contract version changed in place, from one
//! service's store through its relay and RabbitMQ to another service's
//! inbox, built with the contracts after the change: the relay sends each
//! event's writer schema as its store recorded it, and the inbox judges
//! it with the lint's rule book, as the bus judges commands. A compatible
//! change is read; a breaking one is parked with
//! the lint's rule id; an integer widened is read in backward mode and
//! parked in full mode.
//!
//! Runs when `TREATY_TEST_AMQP` names a broker; without it the tests say
//! why they skip, except under `CI`, where they fail.

#![cfg(feature = "amqp")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use treaty::bus::{HandleError, MemoryQuarantine, ParkedMessage, Quarantine};
use treaty::relay::{
    Inbox, InboxConfig, IntegrationEvent, IntegrationHandler, Relay, RelayConfig, SqliteRelayCheckpoints,
};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName};
use treaty::{CompatibilityMode, Contract, ContractInfo, Event, Uuid};
use treaty_e2e::lint_cases;
use treaty_testing::{amqp_cleanup, server_url};

/// Keeps the JSON of every event the inbox hands it, decoded as the
/// receiving build's type.
struct Received {
    contract: ContractInfo,
    decode: fn(&IntegrationEvent) -> serde_json::Value,
    events: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl IntegrationHandler for Received {
    fn contracts(&self) -> Vec<ContractInfo> {
        vec![self.contract]
    }

    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(async move {
            let json = (self.decode)(event);
            self.events.lock().expect("not poisoned").push(json);
            Ok(())
        })
    }
}

/// What became of the one event published.
enum Outcome {
    Read(serde_json::Value),
    Parked(ParkedMessage),
}

/// Stores `event` (contract `W`, the writer's build) in a store of its
/// own that registered `W`'s contracts, relays it, and receives it in an
/// inbox of the build whose `OrderPlaced` is `R`, in `mode`.
async fn relay_one<W, R>(url: &str, event: W, mode: CompatibilityMode) -> Outcome
where
    W: Event,
    R: Contract + serde::Serialize,
{
    let id = Uuid::new_v4().simple();
    let prefix = format!("treaty.test.{id}.");
    let queue = format!("treaty.test.{id}.inbox");
    let cleanup = amqp_cleanup(url, &queue, &format!("{prefix}shop"));

    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("publisher.db")).expect("the store opens");
    register_contracts(&store, &CompiledContract::all_versions::<W>())
        .await
        .expect("the writer's contracts register");
    let stream = StreamName::new("order-1").expect("a stream name");
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![NewEvent::from_contract(&event, Metadata::now()).expect("the event encodes")],
        )
        .await
        .expect("the event is stored");

    let events = Arc::new(Mutex::new(Vec::new()));
    let quarantine = MemoryQuarantine::new();
    let handler = Received {
        contract: ContractInfo::of::<R>(),
        decode: |event| serde_json::to_value(event.decode::<R>().expect("the event decodes")).expect("JSON"),
        events: events.clone(),
    };
    let inbox = Inbox::new(
        url,
        handler,
        quarantine.clone(),
        InboxConfig {
            exchange_prefix: prefix.clone(),
            compatibility: mode,
            ..InboxConfig::new(queue)
        },
    )
    .start()
    .await
    .expect("the inbox starts");
    let checkpoints = SqliteRelayCheckpoints::open(dir.path().join("publisher.db")).expect("checkpoints open");
    let relay = Relay::new(
        store,
        checkpoints,
        url,
        RelayConfig {
            exchange_prefix: prefix,
            ..RelayConfig::new("orders", &[ContractInfo::of::<W>()])
        },
    )
    .expect("the relay's configuration works")
    .start();

    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        if let Some(json) = events.lock().expect("not poisoned").first() {
            break Outcome::Read(json.clone());
        }
        if let Some(parked) = quarantine.list().await.expect("the quarantine lists").pop() {
            break Outcome::Parked(parked);
        }
        assert!(
            Instant::now() < deadline,
            "the event neither arrived nor was parked in a minute"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    relay.shutdown().await;
    inbox.shutdown().await;
    cleanup.run().await;
    outcome
}

fn order() -> Uuid {
    "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().expect("a UUID")
}

#[tokio::test]
async fn an_event_changed_compatibly_in_place_is_read_and_a_breaking_change_is_parked_with_its_rule() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };

    // A required field given a default in place: read as written.
    use lint_cases::ok_default_added::{after, before};
    assert_ne!(
        before::shop::OrderPlaced::FINGERPRINT,
        after::shop::OrderPlaced::FINGERPRINT
    );
    let read = relay_one::<_, after::shop::OrderPlaced>(
        &url,
        before::shop::OrderPlaced::new(before::shop::OrderId(order()), "store".into()),
        CompatibilityMode::Backward,
    )
    .await;
    match read {
        Outcome::Read(json) => assert_eq!(json["channel"], "store", "{json}"),
        Outcome::Parked(parked) => panic!("a compatible event was parked: {}", parked.error),
    }

    // A field whose type changed: parked with the lint's rule.
    use lint_cases::field_type_changed as changed;
    let parked = relay_one::<_, changed::after::shop::OrderPlaced>(
        &url,
        changed::before::shop::OrderPlaced::new(changed::before::shop::OrderId(order()), "gift".into()),
        CompatibilityMode::Backward,
    )
    .await;
    match parked {
        Outcome::Parked(parked) => {
            assert!(parked.error.contains("[field-type-changed]"), "{}", parked.error);
            assert!(parked.error.contains("event `shop.OrderPlaced` v1"), "{}", parked.error);
            assert!(parked.error.contains("`label`"), "{}", parked.error);
        }
        Outcome::Read(json) => panic!("a breaking change was read: {json}"),
    }

    // An integer widened: this build reads it, which is all backward
    // mode asks; full mode also asks the reverse.
    use lint_cases::integer_widened as widened;
    for (mode, readable) in [(CompatibilityMode::Backward, true), (CompatibilityMode::Full, false)] {
        let outcome = relay_one::<_, widened::after::shop::OrderPlaced>(&url, widened_event(), mode).await;
        match (outcome, readable) {
            (Outcome::Read(_), true) => {}
            (Outcome::Parked(parked), false) => {
                assert!(parked.error.contains("[integer-widened]"), "{}", parked.error)
            }
            (Outcome::Read(json), false) => panic!("read in mode {mode}: {json}"),
            (Outcome::Parked(parked), true) => panic!("parked in mode {mode}: {}", parked.error),
        }
    }
}

fn widened_event() -> lint_cases::integer_widened::before::shop::OrderPlaced {
    use lint_cases::integer_widened::before::shop;
    shop::OrderPlaced::new(
        shop::OrderId(order()),
        shop::Money::new(700, "EUR".into()),
        shop::Method::Card,
        7,
    )
}
