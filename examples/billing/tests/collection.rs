//! The collection process manager: its specs (`billing::specs`: given
//! events, when an event or a due timeout, then the commands, timeouts and
//! completion), and the process at work in one process on one SQLite
//! file, as `billing run` runs it, without the broker.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use treaty::aggregate::Repository;
use treaty::bus::{AskError, Bus, BusConfig, MemoryQuarantine, SqliteQueue};
use treaty::process::{command_message_id, ProcessRunner, SqliteProcessStore};
use treaty::store::{EventStore, RecordedEvent, SqliteStore};

use billing::billing::{
    AccountCommand, CarInvoiced, InvoiceCar, InvoiceId, InvoiceOverdue, InvoiceSent, PaymentReceived, RecordPayment,
};
use billing::specs::{self, account, car, price};
use billing::{Account, Collection, Invoice, InvoiceError};

#[test]
fn every_spec_of_the_collection_passes() {
    let specs = specs::specs();
    assert_eq!(specs.len(), 4);
    for spec in specs {
        spec.verify();
    }
}

#[test]
fn the_collection_specs_read_like_the_domain() {
    let spec = &specs::specs()[0];
    assert_eq!(
        spec.to_markdown().unwrap(),
        format!(
            "## An invoiced car gets its invoice sent\n\n**Given**\n\n- Invoiced car {car1} (Tesla)\n\n\
             **When**\n\n- Invoiced car {car2} (Tesla)\n\n**Then** the process\n\n\
             - sends: Send invoice {car2} for 2500000 USD\n- schedules the timeout payment-due in 30d\n",
            car1 = car(1),
            car2 = car(2),
        )
    );
}

/// Every event in the store.
async fn events(store: &SqliteStore) -> Vec<RecordedEvent> {
    store.read_all(1).try_collect().await.unwrap()
}

/// Waits until `done` holds for the store's events.
async fn wait_until(store: &SqliteStore, what: &str, done: impl Fn(&[RecordedEvent]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(&events(store).await) {
        assert!(Instant::now() < deadline, "no {what} within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count<C: treaty::Contract>(events: &[RecordedEvent]) -> usize {
    events.iter().filter(|e| e.is::<C>()).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_are_sent_marked_overdue_and_paid_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("billing.db");
    let store = SqliteStore::open(&db).unwrap();
    let bus = Bus::new(
        SqliteQueue::open(&db).unwrap(),
        MemoryQuarantine::new(),
        BusConfig::default(),
    );
    bus.handle_aggregate(Repository::<Invoice, _>::new(store.clone()))
        .unwrap();
    let bus_running = bus.start();
    // Due at once: every invoice is overdue as soon as it is sent.
    let collection = ProcessRunner::new(
        Collection::new(Duration::ZERO),
        store.clone(),
        SqliteProcessStore::open(&db).unwrap(),
        bus.clone(),
    )
    .start()
    .await
    .unwrap();

    let accounts = Repository::<Account, _>::new(store.clone());
    for n in 0..3 {
        let command = AccountCommand::from(InvoiceCar::new(account(), car(n), "Tesla".into()));
        accounts.execute(&account(), &command).await.unwrap();
    }
    wait_until(&store, "overdue invoices", |e| count::<InvoiceOverdue>(e) == 3).await;
    // A payment for an invoice no one sent is refused, and one for an
    // overdue invoice accepted.
    let refused = |outcome: Result<_, AskError>| match outcome {
        Err(AskError::Refused(refusal)) => refusal.message().to_string(),
        other => panic!("not refused: {other:?}"),
    };
    let unknown = bus.ask(&RecordPayment::new(InvoiceId(car(9)), price())).await;
    assert_eq!(refused(unknown), InvoiceError::Unknown.to_string());
    bus.ask(&RecordPayment::new(InvoiceId(car(0)), price())).await.unwrap();
    let again = bus.ask(&RecordPayment::new(InvoiceId(car(0)), price())).await;
    assert_eq!(refused(again), InvoiceError::AlreadyPaid.to_string());
    collection.shutdown().await.unwrap();
    bus_running.shutdown().await;

    // Each invoice sent once and marked overdue once, by the commands the
    // collection derived from its `CarInvoiced`.
    let events = events(&store).await;
    assert_eq!(count::<InvoiceSent>(&events), 3);
    assert_eq!(count::<InvoiceOverdue>(&events), 3);
    assert_eq!(count::<PaymentReceived>(&events), 1);
    for invoiced in events.iter().filter(|e| e.is::<CarInvoiced>()) {
        let car = invoiced.decode::<CarInvoiced>().unwrap().car;
        let sent: Vec<_> = events
            .iter()
            .filter(|e| e.is::<InvoiceSent>() && e.decode::<InvoiceSent>().unwrap().id == InvoiceId(car))
            .collect();
        assert_eq!(sent.len(), 1, "invoice {car} sent once");
        assert_eq!(
            sent[0].metadata.causation_id,
            Some(command_message_id("billing.collection", invoiced.id, 0))
        );
    }
}
