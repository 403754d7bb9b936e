//! Process managers over SQLite and PostgreSQL: the same tests, with the
//! same assertions, against each process store beside its event store;
//! then what needs no backend (the store's own checks, specs).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use treaty_runtime::aggregate::EventSet;
use treaty_runtime::bus::{Bus, BusConfig, Envelope, InProcessTransport, MemoryQuarantine, Transport};
use treaty_runtime::process::spec::ProcessSpec;
use treaty_runtime::process::{
    command_message_id, Commit, Effects, InstanceChange, InstanceState, ProcessError, ProcessManager, ProcessRunner,
    ProcessStore, RunningProcess,
};
use treaty_runtime::store::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamName};
use treaty_runtime::{
    decode_json, Command, Contract, ContractInfo, ContractKind, ContractVersion, DecodeError, EncodeError, Timestamp,
    Uuid,
};

/// How long a test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(20);

/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(300);

const FINGERPRINT: &str = "0123456789abcdef0123456789abcdef";

/// A message contract written by hand, as generated code would be.
macro_rules! message {
    ($type:ident, $name:literal, $kind:ident) => {
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $type {
            pub order: String,
        }

        impl Contract for $type {
            const NAME: &'static str = $name;
            const VERSION: u32 = 1;
            const FINGERPRINT: &'static str = FINGERPRINT;
            const HISTORY: &'static [ContractVersion] = &[ContractVersion {
                version: 1,
                fingerprint: FINGERPRINT,
            }];
            const KIND: ContractKind = ContractKind::$kind;
            // Written by hand: no canonical schemas to carry.
            const SCHEMAS: &'static str = "";

            fn decode(version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
                decode_json($name, version, payload)
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{} {}", $name, self.order)
            }
        }
    };
}

message!(OrderPlaced, "shop.OrderPlaced", Event);
message!(PaymentReceived, "shop.PaymentReceived", Event);
message!(ShipOrder, "shop.ShipOrder", Command);
message!(CancelOrder, "shop.CancelOrder", Command);
impl Command for ShipOrder {}
impl Command for CancelOrder {}

/// The events the checkout follows.
#[derive(Debug, Clone, PartialEq)]
pub enum ShopEvent {
    Placed(OrderPlaced),
    Paid(PaymentReceived),
}

impl std::fmt::Display for ShopEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShopEvent::Placed(e) => e.fmt(f),
            ShopEvent::Paid(e) => e.fmt(f),
        }
    }
}

impl EventSet for ShopEvent {
    const CONTRACTS: &'static [ContractInfo] =
        &[ContractInfo::of::<OrderPlaced>(), ContractInfo::of::<PaymentReceived>()];

    fn contract_name(&self) -> &'static str {
        match self {
            ShopEvent::Placed(_) => OrderPlaced::NAME,
            ShopEvent::Paid(_) => PaymentReceived::NAME,
        }
    }

    fn contract_version(&self) -> u32 {
        1
    }

    fn contract_fingerprint(&self) -> &'static str {
        FINGERPRINT
    }

    fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        match self {
            ShopEvent::Placed(e) => e.encode(),
            ShopEvent::Paid(e) => e.encode(),
        }
    }

    fn decode(contract: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        match contract {
            OrderPlaced::NAME => OrderPlaced::decode(version, payload).map(ShopEvent::Placed),
            PaymentReceived::NAME => PaymentReceived::decode(version, payload).map(ShopEvent::Paid),
            other => Err(DecodeError::unknown_contract(
                other,
                version,
                &[OrderPlaced::NAME, PaymentReceived::NAME],
            )),
        }
    }
}

impl From<OrderPlaced> for ShopEvent {
    fn from(e: OrderPlaced) -> Self {
        ShopEvent::Placed(e)
    }
}

impl From<PaymentReceived> for ShopEvent {
    fn from(e: PaymentReceived) -> Self {
        ShopEvent::Paid(e)
    }
}

/// What an order's checkout remembers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Checkout {
    placed: bool,
}

/// The checkout process: an order placed waits for its payment; paid, it
/// is shipped; unpaid when `overdue` has passed, it is cancelled.
pub struct CheckoutProcess {
    overdue: Duration,
}

fn order_of(event: &ShopEvent) -> String {
    match event {
        ShopEvent::Placed(e) => e.order.clone(),
        ShopEvent::Paid(e) => e.order.clone(),
    }
}

fn checkout(overdue: Duration, placed: &mut bool, event: &ShopEvent, effects: &mut Effects) {
    match event {
        ShopEvent::Placed(_) => {
            *placed = true;
            effects.schedule("payment-overdue", overdue);
        }
        ShopEvent::Paid(e) => {
            effects
                .send(&ShipOrder { order: e.order.clone() })
                .cancel("payment-overdue")
                .complete();
        }
    }
}

impl ProcessManager for CheckoutProcess {
    const NAME: &'static str = "checkout";
    type Event = ShopEvent;
    type State = Checkout;

    fn correlate(&self, event: &ShopEvent) -> Option<String> {
        Some(order_of(event))
    }

    fn handle(&self, state: &mut Checkout, event: &ShopEvent, effects: &mut Effects) {
        checkout(self.overdue, &mut state.placed, event, effects);
    }

    fn timeout(&self, _: &mut Checkout, name: &str, effects: &mut Effects) {
        if name == "payment-overdue" {
            effects.send(&CancelOrder { order: "unpaid".into() }).complete();
        }
    }
}

/// The checkout after its state changed shape, without saying how to read
/// the old one.
pub struct CheckoutChangedUnmigrated;

/// The new state shape.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CheckoutV2 {
    status: String,
}

impl ProcessManager for CheckoutChangedUnmigrated {
    const NAME: &'static str = "checkout";
    const STATE_VERSION: u32 = 2;
    type Event = ShopEvent;
    type State = CheckoutV2;

    fn correlate(&self, event: &ShopEvent) -> Option<String> {
        Some(order_of(event))
    }

    fn handle(&self, _: &mut CheckoutV2, _: &ShopEvent, _: &mut Effects) {
        unreachable!("a runner refusing to start handles nothing")
    }
}

/// The checkout after its state changed shape, migrating the old one.
pub struct CheckoutChanged;

impl ProcessManager for CheckoutChanged {
    const NAME: &'static str = "checkout";
    const STATE_VERSION: u32 = 2;
    const MIGRATES_FROM: &'static [u32] = &[1];
    type Event = ShopEvent;
    type State = CheckoutV2;

    fn correlate(&self, event: &ShopEvent) -> Option<String> {
        Some(order_of(event))
    }

    fn handle(&self, state: &mut CheckoutV2, event: &ShopEvent, effects: &mut Effects) {
        assert_eq!(state.status, "placed", "the migrated state reaches the handler");
        let mut placed = true;
        checkout(Duration::from_secs(3600), &mut placed, event, effects);
    }

    fn migrate(&self, version: u32, state: serde_json::Value) -> Result<CheckoutV2, String> {
        assert_eq!(version, 1);
        let placed = state["placed"].as_bool().ok_or("no `placed`")?;
        Ok(CheckoutV2 {
            status: if placed { "placed" } else { "new" }.into(),
        })
    }
}

type TestBus = Bus<InProcessTransport, MemoryQuarantine>;

fn bus() -> TestBus {
    Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), BusConfig::default())
}

/// Appends `event` to stream `shop-{order}`; returns its id and position.
async fn append(store: &impl EventStore, event: ShopEvent) -> (Uuid, u64) {
    let stream = StreamName::new(format!("shop-{}", order_of(&event))).unwrap();
    let new = event.to_new_event(Metadata::now()).unwrap();
    let id = new.id;
    let appended = store.append(&stream, ExpectedVersion::Any, vec![new]).await.unwrap();
    (id, appended.first_position)
}

/// Appends an event of a contract the checkout does not follow.
async fn append_other(store: &impl EventStore) -> u64 {
    let stream = StreamName::new("other-1").unwrap();
    let new = NewEvent {
        id: Uuid::now_v7(),
        contract: "other.Happened".into(),
        contract_version: 1,
        fingerprint: FINGERPRINT.into(),
        payload: b"{}".to_vec(),
        metadata: Metadata::now(),
        schema: None,
    };
    store
        .append(&stream, ExpectedVersion::Any, vec![new])
        .await
        .unwrap()
        .first_position
}

async fn start<P: ProcessManager, E: EventStore + Clone, S: ProcessStore>(
    manager: P,
    events: &E,
    store: &S,
    bus: &TestBus,
) -> RunningProcess {
    ProcessRunner::new(manager, events.clone(), store.clone(), bus.clone())
        .start()
        .await
        .unwrap()
}

async fn handled(running: &RunningProcess, events: &impl EventStore) {
    let head = events.head().await.unwrap();
    assert!(
        tokio::time::timeout(PATIENCE, running.wait_for(head)).await.unwrap(),
        "the runner stopped"
    );
}

/// The next envelope the bus's transport carries.
async fn sent(bus: &TestBus) -> Envelope {
    let delivery = tokio::time::timeout(PATIENCE, bus.transport().receive())
        .await
        .expect("a command should have been sent")
        .unwrap();
    let envelope = Envelope::from_json(&delivery.body).unwrap();
    bus.transport().ack(delivery).await.unwrap();
    envelope
}

async fn nothing_sent(bus: &TestBus) {
    if let Ok(delivery) = tokio::time::timeout(QUIET, bus.transport().receive()).await {
        panic!("nothing should have been sent, got {:?}", delivery.map(|d| d.body));
    }
}

async fn outbox_empties(store: &impl ProcessStore) {
    tokio::time::timeout(PATIENCE, async {
        while !store.outbox("checkout", 10).await.unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the outbox should have been emptied");
}

const HOUR: Duration = Duration::from_secs(3600);

pub async fn a_paid_order_is_shipped_once_and_its_timeout_cancelled<E, S>(events: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let bus = bus();
    append(&events, OrderPlaced { order: "a".into() }.into()).await;
    let (paid, _) = append(&events, PaymentReceived { order: "a".into() }.into()).await;
    append(&events, OrderPlaced { order: "b".into() }.into()).await;
    append_other(&events).await;
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    handled(&running, &events).await;
    let ship = sent(&bus).await;
    assert_eq!(ship.id, command_message_id("checkout", paid, 0));
    assert_eq!(ship.decode::<ShipOrder>().unwrap(), ShipOrder { order: "a".into() });
    assert_eq!((ship.causation_id, ship.correlation_id), (Some(paid), Some(paid)));
    outbox_empties(&store).await;
    nothing_sent(&bus).await;
    running.shutdown().await.unwrap();

    let a = store.load("checkout", "a").await.unwrap().unwrap();
    assert_eq!(a.state, InstanceState::Completed);
    let b = store.load("checkout", "b").await.unwrap().unwrap();
    assert!(matches!(b.state, InstanceState::Running { version: 1, .. }), "{b:?}");
    let far = Timestamp::now().as_millisecond() + 2 * 3_600_000;
    let pending = store.due_timeouts("checkout", far, 10).await.unwrap();
    assert_eq!(pending.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(
        store.checkpoint("checkout").await.unwrap(),
        events.head().await.unwrap()
    );

    // A restart reads nothing again, and an event for a completed instance
    // is skipped.
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    append(&events, PaymentReceived { order: "a".into() }.into()).await;
    handled(&running, &events).await;
    nothing_sent(&bus).await;
    running.shutdown().await.unwrap();
    assert_eq!(
        store.checkpoint("checkout").await.unwrap(),
        events.head().await.unwrap()
    );
}

pub async fn a_due_timeout_is_delivered_once<E, S>(events: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let bus = bus();
    append(&events, OrderPlaced { order: "c".into() }.into()).await;
    let running = start(
        CheckoutProcess {
            overdue: Duration::ZERO,
        },
        &events,
        &store,
        &bus,
    )
    .await;
    let cancel = sent(&bus).await;
    assert_eq!(cancel.contract, "shop.CancelOrder");
    outbox_empties(&store).await;
    nothing_sent(&bus).await;
    running.shutdown().await.unwrap();
    let c = store.load("checkout", "c").await.unwrap().unwrap();
    assert_eq!(c.state, InstanceState::Completed);
    assert_eq!(store.next_due("checkout").await.unwrap(), None);
    // Started again, nothing is due and nothing is sent.
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    nothing_sent(&bus).await;
    running.shutdown().await.unwrap();
}

pub async fn what_a_crash_left_in_the_outbox_is_sent_at_start<E, S>(events: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let bus = bus();
    // A step committed, and the process died before sending.
    let mut envelope = Envelope::command(&ShipOrder { order: "d".into() }).unwrap();
    envelope.id = command_message_id("checkout", Uuid::now_v7(), 0);
    store
        .commit(Commit {
            manager: "checkout".into(),
            expected_checkpoint: 0,
            checkpoint: 0,
            instances: vec![InstanceChange {
                key: "d".into(),
                expected_revision: None,
                state: InstanceState::Running {
                    version: 1,
                    json: br#"{"placed":true}"#.to_vec(),
                },
                fired: None,
                schedule: Vec::new(),
                cancel: Vec::new(),
                outbox: vec![(envelope.id, envelope.to_json())],
            }],
        })
        .await
        .unwrap();
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    assert_eq!(sent(&bus).await.id, envelope.id);
    outbox_empties(&store).await;
    running.shutdown().await.unwrap();
}

pub async fn commits_expect_the_checkpoint_revision_and_timeout_they_read<E, S>(_: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let change_of = |key: &str, expected_revision, fired| InstanceChange {
        key: key.into(),
        expected_revision,
        state: InstanceState::Running {
            version: 1,
            json: b"{}".to_vec(),
        },
        fired,
        schedule: Vec::new(),
        cancel: Vec::new(),
        outbox: Vec::new(),
    };
    let change = |expected_revision, fired| change_of("e", expected_revision, fired);
    let commit = |expected_checkpoint, checkpoint, instance: Option<InstanceChange>| Commit {
        manager: "checkout".into(),
        expected_checkpoint,
        checkpoint,
        instances: instance.into_iter().collect(),
    };
    store.commit(commit(0, 5, Some(change(None, None)))).await.unwrap();
    let conflict = |result: Result<(), ProcessError>| {
        assert!(
            matches!(result, Err(ProcessError::Conflict { ref manager }) if manager == "checkout"),
            "{result:?}"
        )
    };
    // Another runner read checkpoint 0 too.
    conflict(store.commit(commit(0, 6, Some(change(Some(1), None)))).await);
    // The checkpoint never moves back.
    conflict(store.commit(commit(5, 4, None)).await);
    // Another runner changed the instance first.
    conflict(store.commit(commit(5, 6, Some(change(None, None)))).await);
    // A timeout delivered already.
    conflict(
        store
            .commit(commit(5, 5, Some(change(Some(1), Some(Uuid::now_v7())))))
            .await,
    );
    // One instance of several changed first: none is written.
    let both = Commit {
        manager: "checkout".into(),
        expected_checkpoint: 5,
        checkpoint: 6,
        instances: vec![change(Some(1), None), change_of("other", Some(3), None)],
    };
    conflict(store.commit(both).await);
    assert_eq!(store.checkpoint("checkout").await.unwrap(), 5);
    assert_eq!(store.load("checkout", "e").await.unwrap().unwrap().revision, 1);
    assert_eq!(store.load("checkout", "other").await.unwrap(), None);
    store.commit(commit(5, 7, Some(change(Some(1), None)))).await.unwrap();
    assert_eq!(store.load("checkout", "e").await.unwrap().unwrap().revision, 2);
}

pub async fn a_changed_state_version_needs_a_migration_and_nothing_is_replayed<E, S>(events: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let bus = bus();
    append(&events, OrderPlaced { order: "f".into() }.into()).await;
    let (paid, _) = append(&events, PaymentReceived { order: "g".into() }.into()).await;
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    handled(&running, &events).await;
    assert_eq!(sent(&bus).await.id, command_message_id("checkout", paid, 0));
    outbox_empties(&store).await;
    running.shutdown().await.unwrap();

    let refused = ProcessRunner::new(CheckoutChangedUnmigrated, events.clone(), store.clone(), bus.clone())
        .start()
        .await
        .err()
        .expect("a state version without a migration is refused");
    assert!(
        matches!(&refused, ProcessError::StateVersion { stored, current: 2, .. } if stored == &[1]),
        "{refused:?}"
    );
    let text = refused.to_string();
    assert!(text.contains("checkout") && text.contains("MIGRATES_FROM"), "{text}");

    // With the migration it starts from its checkpoint: the events before
    // it are not handled again, so nothing is sent again.
    let running = start(CheckoutChanged, &events, &store, &bus).await;
    handled(&running, &events).await;
    nothing_sent(&bus).await;
    let (paid, _) = append(&events, PaymentReceived { order: "f".into() }.into()).await;
    handled(&running, &events).await;
    let ship = sent(&bus).await;
    assert_eq!(ship.id, command_message_id("checkout", paid, 0));
    assert_eq!(ship.decode::<ShipOrder>().unwrap(), ShipOrder { order: "f".into() });
    running.shutdown().await.unwrap();
}

pub async fn an_event_this_build_cannot_read_stops_the_runner_with_its_position<E, S>(events: E, store: S)
where
    E: EventStore + Clone,
    S: ProcessStore,
{
    let bus = bus();
    append(&events, OrderPlaced { order: "h".into() }.into()).await;
    let stream = StreamName::new("shop-h").unwrap();
    let unreadable = NewEvent {
        id: Uuid::now_v7(),
        contract: OrderPlaced::NAME.into(),
        contract_version: 1,
        fingerprint: FINGERPRINT.into(),
        payload: br#"{"customer":"h"}"#.to_vec(),
        metadata: Metadata::now(),
        schema: None,
    };
    let position = events
        .append(&stream, ExpectedVersion::Any, vec![unreadable])
        .await
        .unwrap()
        .first_position;
    let running = start(CheckoutProcess { overdue: HOUR }, &events, &store, &bus).await;
    assert!(!tokio::time::timeout(PATIENCE, running.wait_for(position))
        .await
        .unwrap());
    let error = running.shutdown().await.unwrap_err();
    assert!(
        matches!(&error, ProcessError::Decode { position: p, version: 1, .. } if *p == position),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("checkout") && text.contains("shop.OrderPlaced v1"),
        "{text}"
    );
    // It stopped before the event (and before the rest of its batch, which
    // a fixed build handles again): nothing of it was committed.
    assert!(store.checkpoint("checkout").await.unwrap() < position);
    assert!(store.outbox("checkout", 10).await.unwrap().is_empty());
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_paid_order_is_shipped_once_and_its_timeout_cancelled() {
                let Some((events, store)) = $open else { return };
                super::a_paid_order_is_shipped_once_and_its_timeout_cancelled(events, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_due_timeout_is_delivered_once() {
                let Some((events, store)) = $open else { return };
                super::a_due_timeout_is_delivered_once(events, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn what_a_crash_left_in_the_outbox_is_sent_at_start() {
                let Some((events, store)) = $open else { return };
                super::what_a_crash_left_in_the_outbox_is_sent_at_start(events, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn commits_expect_the_checkpoint_revision_and_timeout_they_read() {
                let Some((events, store)) = $open else { return };
                super::commits_expect_the_checkpoint_revision_and_timeout_they_read(events, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_event_this_build_cannot_read_stops_the_runner_with_its_position() {
                let Some((events, store)) = $open else { return };
                super::an_event_this_build_cannot_read_stops_the_runner_with_its_position(events, store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_changed_state_version_needs_a_migration_and_nothing_is_replayed() {
                let Some((events, store)) = $open else { return };
                super::a_changed_state_version_needs_a_migration_and_nothing_is_replayed(events, store).await;
            }
        }
    };
}

mod sqlite_backend {
    use treaty_runtime::process::SqliteProcessStore;
    use treaty_runtime::store::SqliteStore;

    use super::*;

    /// An event store and a process store in one fresh file; the directory
    /// is kept for the test's life by leaking it.
    fn fresh() -> Option<(SqliteStore, SqliteProcessStore)> {
        let dir = tempfile::tempdir().unwrap().keep();
        let path = dir.join("events.db");
        let events = SqliteStore::open(&path).unwrap();
        Some((events, SqliteProcessStore::open(&path).unwrap()))
    }

    conformance!(sqlite, fresh());
}

#[cfg(feature = "postgres")]
mod postgres_backend {
    use treaty_runtime::process::PostgresProcessStore;
    use treaty_runtime::storage::PostgresOptions;
    use treaty_runtime::store::{PostgresConfig, PostgresStore};

    use super::*;

    /// An event store and a process store in a schema of their own.
    async fn fresh() -> Option<(PostgresStore, PostgresProcessStore)> {
        let url = treaty_testing::server_url("TREATY_TEST_POSTGRES")?;
        let options = PostgresOptions {
            schema: format!("test_process_{}", Uuid::now_v7().simple()),
            pool_size: 4,
        };
        let config = PostgresConfig {
            connection: options.clone(),
            ..PostgresConfig::default()
        };
        let events = PostgresStore::open_with(&url, config).await.unwrap();
        Some((events, PostgresProcessStore::open_with(&url, options).await.unwrap()))
    }

    conformance!(postgres, fresh().await);
}

#[test]
fn specs_compare_commands_timeouts_and_completion_and_render_as_markdown() {
    let spec = ProcessSpec::new("A paid order is shipped", CheckoutProcess { overdue: HOUR })
        .given([OrderPlaced { order: "a".into() }])
        .when(PaymentReceived { order: "a".into() })
        .sends(&ShipOrder { order: "a".into() })
        .cancels("payment-overdue")
        .completes();
    spec.verify();
    let markdown = spec.to_markdown().unwrap();
    assert_eq!(
        markdown,
        "## A paid order is shipped\n\n**Given**\n\n- shop.OrderPlaced a\n\n**When**\n\n- shop.PaymentReceived a\n\n\
         **Then** the process\n\n- sends: shop.ShipOrder a\n- cancels the timeout payment-overdue\n- completes\n"
    );

    ProcessSpec::new(
        "A placed order waits for its payment",
        CheckoutProcess { overdue: HOUR },
    )
    .when(OrderPlaced { order: "a".into() })
    .schedules("payment-overdue", HOUR)
    .verify();
    ProcessSpec::new("An unpaid order is cancelled", CheckoutProcess { overdue: HOUR })
        .given([OrderPlaced { order: "a".into() }])
        .when_timeout("a", "payment-overdue")
        .sends(&CancelOrder { order: "unpaid".into() })
        .completes()
        .verify();
    ProcessSpec::new(
        "A completed order ignores a second payment",
        CheckoutProcess { overdue: HOUR },
    )
    .given([PaymentReceived { order: "a".into() }])
    .when(PaymentReceived { order: "a".into() })
    .verify();

    let wrong = ProcessSpec::new("Shipping the wrong order", CheckoutProcess { overdue: HOUR })
        .when(PaymentReceived { order: "a".into() })
        .sends(&ShipOrder { order: "b".into() })
        .completes();
    let failure = wrong.check().unwrap_err().to_string();
    assert!(failure.contains("spec failed: Shipping the wrong order"), "{failure}");
    assert!(
        failure.contains(r#"sends shop.ShipOrder v1 {"order":"b"}"#),
        "{failure}"
    );
    assert!(
        failure.contains(r#"sends shop.ShipOrder v1 {"order":"a"}"#),
        "{failure}"
    );
    assert!(wrong.to_markdown().is_err());

    let incomplete = ProcessSpec::new("No when", CheckoutProcess { overdue: HOUR }).completes();
    assert!(incomplete.check().unwrap_err().to_string().contains("no `when`"));
}
