//! A contract changed in place between two builds of a service: what the
//! bus does with a command whose fingerprint the receiving build does not
//! know, over every transport.
//!
//! Each envelope carries its writer's schema, and the receiver judges it
//! with the lint's rule book: a compatible change (a field with a default
//! added, an ignored field removed, an integer widened in backward mode)
//! is read, a breaking one is quarantined with the lint's rule id, and so
//! is a message whose schema is missing or does not match its
//! fingerprint. `tests/rollout_processes.rs` runs the two builds as
//! processes.

#[path = "../rollout/added.rs"]
mod added;
#[path = "../rollout/breaking.rs"]
mod breaking;
#[path = "../rollout/new.rs"]
mod new;
#[path = "../rollout/old.rs"]
mod old;
mod transports;
#[path = "../rollout/widened.rs"]
mod widened;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use treaty::aggregate::{Aggregate, Repository};
use treaty::bus::{
    AggregateHandler, Bus, BusConfig, Envelope, InProcessTransport, MemoryQuarantine, ParkedMessage, Quarantine,
    Transport, WriterSchema,
};
use treaty::store::{EventStore, MemoryStore};
use treaty::{CompatibilityMode, Contract};

/// What became of the envelopes sent: the `Added` events stored, as
/// (tally, amount, build), and the messages parked.
#[derive(Debug)]
struct Outcome {
    added: Vec<(String, u64, String)>,
    parked: Vec<ParkedMessage>,
}

impl Outcome {
    /// The one parked message's reason.
    fn parked_reason(&self) -> &str {
        assert!(self.added.is_empty(), "nothing is handled: {:?}", self.added);
        assert_eq!(self.parked.len(), 1, "one message is parked: {:?}", self.parked);
        &self.parked[0].error
    }
}

/// Sends `envelopes` through `transport` to a bus handling tallies with
/// aggregate `A` (a build) in `mode`, and waits until each is handled or
/// parked.
async fn deliver<A, T>(transport: T, mode: CompatibilityMode, envelopes: &[Envelope]) -> Outcome
where
    A: Aggregate,
    A::Command: treaty::bus::CommandSet<Id = A::Id>,
    T: Transport,
{
    let store = MemoryStore::new();
    let quarantine = MemoryQuarantine::new();
    let bus = Bus::new(transport, quarantine.clone(), BusConfig::default());
    bus.register(AggregateHandler::new(Repository::<A, _>::new(store.clone())).compatibility(mode))
        .expect("one handler");
    let running = bus.start();
    for envelope in envelopes {
        bus.send_envelope(envelope).await.expect("the transport takes it");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let outcome = loop {
        let events: Vec<_> = store.read_all(0).try_collect().await.expect("the store reads");
        let parked = quarantine.list().await.expect("the quarantine lists");
        if events.len() + parked.len() >= envelopes.len() {
            let added = events.iter().map(added::added).collect();
            break Outcome { added, parked };
        }
        assert!(
            Instant::now() < deadline,
            "after a minute, {} of {} messages are settled",
            events.len() + parked.len(),
            envelopes.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    running.shutdown().await;
    outcome
}

fn envelope<C: treaty::Command>(command: &C) -> Envelope {
    Envelope::command(command).expect("the command encodes")
}

/// Every case, through one kind of transport made by `transport`.
async fn every_case<T: Transport, F: std::future::Future<Output = T>>(transport: impl Fn() -> F) {
    // The versions differ by fingerprint only: the change was made in place.
    assert_eq!(old::Add::VERSION, new::Add::VERSION);
    assert_ne!(old::Add::FINGERPRINT, new::Add::FINGERPRINT);

    // A field with a default added: the new build reads the old one's
    // commands, and the old build the new one's (it ignores the note).
    let from_old = deliver::<new::Tally, _>(
        transport().await,
        CompatibilityMode::Backward,
        &[envelope(&old::Add::new(old::TallyId("a".into()), 7))],
    )
    .await;
    assert_eq!(from_old.added, [("a".to_string(), 7, "new".to_string())]);
    assert!(from_old.parked.is_empty(), "{:?}", from_old.parked);
    let from_new = deliver::<old::Tally, _>(
        transport().await,
        CompatibilityMode::Full,
        &[envelope(&new::Add {
            note: "rolled out".into(),
            ..new::Add::new(new::TallyId("b".into()), 8)
        })],
    )
    .await;
    assert_eq!(from_new.added, [("b".to_string(), 8, "old".to_string())]);

    // An integer widened: readable by the newer build, so accepted in
    // backward mode; full mode also asks that the older build read the
    // newer one, which it cannot, and says so with the lint's rule.
    let widened_backward = deliver::<widened::Tally, _>(
        transport().await,
        CompatibilityMode::Backward,
        &[envelope(&old::Add::new(old::TallyId("c".into()), 9))],
    )
    .await;
    assert_eq!(widened_backward.added, [("c".to_string(), 9, "widened".to_string())]);
    let widened_full = deliver::<widened::Tally, _>(
        transport().await,
        CompatibilityMode::Full,
        &[envelope(&old::Add::new(old::TallyId("c".into()), 9))],
    )
    .await;
    let reason = widened_full.parked_reason();
    assert!(reason.contains("[integer-widened]"), "{reason}");
    assert!(reason.contains("mode full"), "{reason}");

    // A breaking change: quarantined with the lint's rule id, field path
    // and help.
    let broken = deliver::<new::Tally, _>(
        transport().await,
        CompatibilityMode::Backward,
        &[envelope(&breaking::Add::new(
            breaking::TallyId("d".into()),
            "ten".into(),
        ))],
    )
    .await;
    let reason = broken.parked_reason();
    assert!(reason.contains("rollout.Add v1"), "{reason}");
    assert!(reason.contains("[field-type-changed]"), "{reason}");
    assert!(reason.contains("`amount`"), "{reason}");
    assert!(reason.contains("help:"), "{reason}");

    // Without its schema, a message of an unknown fingerprint cannot be
    // judged; with a schema that is not its fingerprint's, neither can be
    // trusted.
    let mut bare = envelope(&old::Add::new(old::TallyId("e".into()), 1));
    bare.schema = None;
    let unjudged = deliver::<new::Tally, _>(transport().await, CompatibilityMode::Backward, &[bare]).await;
    let reason = unjudged.parked_reason();
    assert!(reason.contains("carries no schema"), "{reason}");
    let mut forged = envelope(&old::Add::new(old::TallyId("f".into()), 1));
    forged.schema = WriterSchema::of::<new::Add>();
    let untrusted = deliver::<new::Tally, _>(transport().await, CompatibilityMode::Backward, &[forged]).await;
    let reason = untrusted.parked_reason();
    assert!(reason.contains("does not have that fingerprint"), "{reason}");
}

#[tokio::test]
async fn in_process() {
    every_case(|| async { InProcessTransport::new() }).await;
}

#[tokio::test]
async fn sqlite_queue() {
    let queues = transports::SqliteQueues::new();
    every_case(|| queues.queue()).await;
}

#[cfg(feature = "amqp")]
#[tokio::test]
async fn rabbitmq() {
    let Some(url) = treaty_testing::server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let brokers = transports::Brokers::new(url);
    every_case(|| brokers.transport()).await;
    brokers.delete_all().await;
}
