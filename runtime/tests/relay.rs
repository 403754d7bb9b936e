//! Integration events against a real broker: a relay publishes chosen
//! events of one SQLite store, an inbox appends their copies to another,
//! each once and in order per stream, across relay restarts and a relay
//! that publishes everything again; an event whose fingerprint the
//! receiving build does not know is quarantined. A handler that takes
//! batches commits each event once and in order per stream, also when a
//! redelivery mixes handled events with new ones, while an event that
//! fails in its batch is retried or parked alone. The checkpoints' own
//! rule (they only move forward) is checked without a broker.
//!
//! Runs when `TREATY_TEST_AMQP` names a broker (`.ci/services.sh` sets
//! it); without it the broker tests say why they skip, except under `CI`,
//! where they fail. Each test uses an exchange prefix and a queue of its
//! own and deletes them at the end, also when it fails.
#![cfg(feature = "amqp")]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::TryStreamExt;
use treaty_runtime::bus::{HandleError, MemoryQuarantine, Quarantine, RetryPolicy};
use treaty_runtime::relay::{
    Inbox, InboxConfig, IntegrationEvent, IntegrationHandler, Relay, RelayCheckpoints, RelayConfig, RunningInbox,
    SqliteRelayCheckpoints,
};
use treaty_runtime::store::{
    message_event_id, AppendError, Direction, EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName,
};
use treaty_runtime::{ContractInfo, ContractKind, ContractVersion, Uuid};
use treaty_testing::{amqp_cleanup, server_url, AmqpBrokerLock, AsyncCleanup};

const V1: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const V2: &str = "cccccccccccccccccccccccccccccccc";
const HISTORY: &[ContractVersion] = &[
    ContractVersion {
        version: 2,
        fingerprint: V2,
    },
    ContractVersion {
        version: 1,
        fingerprint: V1,
    },
];
/// The contract the relay publishes and the inbox handles.
const HAPPENED: ContractInfo = ContractInfo {
    name: "test.Happened",
    kind: ContractKind::Event,
    history: HISTORY,
    schemas: "",
};

/// Appends a copy of each event to `copy-{stream}` of its store, with an
/// id derived from the event's: a repeat is recognized as a retry of the
/// same append and changes nothing.
struct Copy {
    store: SqliteStore,
}

impl IntegrationHandler for Copy {
    fn contracts(&self) -> Vec<ContractInfo> {
        vec![HAPPENED]
    }

    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(async move {
            let stream =
                StreamName::new(format!("copy-{}", event.stream)).map_err(|e| HandleError::Permanent(e.to_string()))?;
            let copy = NewEvent {
                id: message_event_id(event.id, 0),
                contract: event.contract.clone(),
                contract_version: event.contract_version,
                fingerprint: event.fingerprint.clone(),
                payload: event.payload.clone(),
                metadata: event.caused_metadata(),
                schema: event.schema.clone(),
            };
            self.store
                .append(&stream, ExpectedVersion::Any, vec![copy])
                .await
                .map(|_| ())
                .map_err(|e| HandleError::Transient(e.to_string()))
        })
    }
}

fn event(contract: &str, version: u32, fingerprint: &str, n: u64) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        contract: contract.into(),
        contract_version: version,
        fingerprint: fingerprint.into(),
        payload: format!(r#"{{"n":{n}}}"#).into_bytes(),
        metadata: Metadata::now(),
        schema: None,
    }
}

/// Appends `count` chosen events to each of three streams, numbered on
/// from `from`, and one event of another contract per stream.
async fn append(store: &SqliteStore, from: u64, count: u64) {
    for s in 0..3 {
        let stream = StreamName::new(format!("thing-{s}")).unwrap();
        for n in from..from + count {
            store
                .append(&stream, ExpectedVersion::Any, vec![event(HAPPENED.name, 2, V2, n)])
                .await
                .unwrap();
        }
        store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![event("test.Private", 1, "dddddddddddddddddddddddddddddddd", 0)],
            )
            .await
            .unwrap();
    }
}

/// Waits for `done`, failing the test after a minute: the work under
/// test has stopped then, whatever the machine's speed.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "still not the case after a minute: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `n` of each copy in `copy-thing-{s}`, in stream order.
async fn copies(store: &SqliteStore, s: u64) -> Vec<u64> {
    let stream = StreamName::new(format!("copy-thing-{s}")).unwrap();
    let events: Vec<_> = store
        .read_stream(&stream, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap();
    events
        .iter()
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.payload).unwrap()["n"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

/// Names of their own on the shared broker, deleted at the end.
struct Topology {
    prefix: String,
    queue: String,
}

impl Topology {
    fn new() -> Self {
        let id = Uuid::new_v4().simple();
        Topology {
            prefix: format!("treaty.test.{id}."),
            queue: format!("treaty.test.{id}.inbox"),
        }
    }

    fn cleanup(&self, url: &str) -> AsyncCleanup {
        amqp_cleanup(url, &self.queue, &format!("{}test", self.prefix))
    }

    fn relay_config(&self, name: &str) -> RelayConfig {
        RelayConfig {
            exchange_prefix: self.prefix.clone(),
            batch: 7,
            max_reconnect_delay: Duration::from_millis(500),
            ..RelayConfig::new(name, &[HAPPENED])
        }
    }

    fn inbox_config(&self) -> InboxConfig {
        InboxConfig {
            exchange_prefix: self.prefix.clone(),
            lanes: 4,
            max_reconnect_delay: Duration::from_millis(500),
            ..InboxConfig::new(self.queue.clone())
        }
    }
}

/// Two services' stores in a temporary directory: the source a relay
/// publishes from, and the target whose inbox (started, copying each
/// event into the target) receives them.
struct Services {
    dir: tempfile::TempDir,
    source_path: std::path::PathBuf,
    source: SqliteStore,
    target: SqliteStore,
    quarantine: MemoryQuarantine,
    inbox: RunningInbox,
}

impl Services {
    async fn start(url: &str, topology: &Topology) -> Services {
        let dir = tempfile::tempdir().unwrap();
        let source_path = dir.path().join("source.db");
        let source = SqliteStore::open(&source_path).unwrap();
        let target = SqliteStore::open(dir.path().join("target.db")).unwrap();
        let quarantine = MemoryQuarantine::new();
        let inbox = Inbox::new(
            url.to_string(),
            Copy { store: target.clone() },
            quarantine.clone(),
            topology.inbox_config(),
        )
        .start()
        .await
        .unwrap();
        Services {
            dir,
            source_path,
            source,
            target,
            quarantine,
            inbox,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_reaches_the_inbox_once_in_order_across_relay_restarts() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let topology = Topology::new();
    let cleanup = topology.cleanup(&url);
    let Services {
        dir,
        source_path,
        source,
        target,
        quarantine,
        inbox,
    } = Services::start(&url, &topology).await;

    append(&source, 0, 10).await;
    let checkpoints = SqliteRelayCheckpoints::open(&source_path).unwrap();
    let relay = Relay::new(
        source.clone(),
        checkpoints.clone(),
        url.clone(),
        topology.relay_config("test"),
    )
    .unwrap()
    .start();
    let head = source.head().await.unwrap();
    relay.wait_for_position(head).await;
    assert_eq!(
        checkpoints.load("test").await.unwrap(),
        head,
        "the checkpoint is saved after the confirms"
    );
    eventually("30 copies", || async { target.head().await.unwrap() == 30 }).await;
    relay.shutdown().await;

    // Started again, the relay goes on from its checkpoint.
    append(&source, 10, 5).await;
    let relay = Relay::new(
        source.clone(),
        checkpoints.clone(),
        url.clone(),
        topology.relay_config("test"),
    )
    .unwrap()
    .start();
    relay.wait_for_position(source.head().await.unwrap()).await;
    eventually("45 copies", || async { target.head().await.unwrap() == 45 }).await;
    // A copy is stored before its delivery is acknowledged and counted:
    // wait for the count too. A repeat would show here or, at the latest,
    // make the 90 below unreachable.
    eventually("45 settled", || async { inbox.settled() >= 45 }).await;
    let settled = inbox.settled();
    assert_eq!(settled, 45, "no event was published twice while the checkpoint held");
    relay.shutdown().await;

    // A relay whose checkpoint is lost publishes everything again: the
    // inbox receives every event a second time and changes nothing.
    let lost = SqliteRelayCheckpoints::open(dir.path().join("lost.db")).unwrap();
    let relay = Relay::new(source.clone(), lost, url.clone(), topology.relay_config("test"))
        .unwrap()
        .start();
    relay.wait_for_position(source.head().await.unwrap()).await;
    eventually("45 repeats settled", || async { inbox.settled() == 90 }).await;
    relay.shutdown().await;
    inbox.shutdown().await;

    assert_eq!(target.head().await.unwrap(), 45);
    for s in 0..3 {
        assert_eq!(
            copies(&target, s).await,
            (0..15).collect::<Vec<_>>(),
            "stream thing-{s}"
        );
    }
    assert!(quarantine.list().await.unwrap().is_empty());
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_of_an_unknown_fingerprint_is_quarantined_and_the_stream_goes_on() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let topology = Topology::new();
    let cleanup = topology.cleanup(&url);
    let Services {
        dir: _dir,
        source_path,
        source,
        target,
        quarantine,
        inbox,
    } = Services::start(&url, &topology).await;

    // v1 as the publisher's build means it, which is not what the
    // receiving build means by v1; then a v2 both agree on.
    let stream = StreamName::new("thing-0").unwrap();
    let changed = event(HAPPENED.name, 1, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0);
    let changed_id = changed.id;
    source
        .append(&stream, ExpectedVersion::Any, vec![changed])
        .await
        .unwrap();
    source
        .append(&stream, ExpectedVersion::Any, vec![event(HAPPENED.name, 2, V2, 1)])
        .await
        .unwrap();
    let relay = Relay::new(
        source.clone(),
        SqliteRelayCheckpoints::open(&source_path).unwrap(),
        url.clone(),
        topology.relay_config("test"),
    )
    .unwrap()
    .start();
    eventually("the v2 event copied", || async { target.head().await.unwrap() == 1 }).await;
    eventually("both settled", || async { inbox.settled() == 2 }).await;
    relay.shutdown().await;
    inbox.shutdown().await;

    assert_eq!(copies(&target, 0).await, vec![1]);
    let parked = quarantine.list().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, changed_id);
    assert_eq!(parked[0].contract.as_deref(), Some(HAPPENED.name));
    let error = &parked[0].error;
    assert!(error.contains("stream thing-0"), "{error}");
    assert!(error.contains(&format!("knows v1 as {V1}")), "{error}");
    // Hand-written contracts carry no schema: nothing to judge the
    // change by (tests/e2e/tests/relay_compatibility.rs has schemas).
    assert!(error.contains("carries no schema"), "{error}");
    cleanup.run().await;
}

/// The ids and streams of the events of one call of `handle_batch`.
type Batch = Vec<(Uuid, String)>;

/// Copies each event like [`Copy`], a batch in one append per stream,
/// and fails the events of `fail_once` the first time they come (those
/// of `refuse` permanently, each time), with
/// the later events of their stream in that batch (without effect), as
/// [`IntegrationHandler::handle_batch`] asks. Remembers what each call
/// was given.
struct BatchCopy {
    store: SqliteStore,
    fail_once: Mutex<HashSet<Uuid>>,
    refuse: HashSet<Uuid>,
    batches: Arc<Mutex<Vec<Batch>>>,
    singles: Arc<Mutex<Vec<Uuid>>>,
}

impl BatchCopy {
    /// Appends the copies of `events`, all of one stream, in one append;
    /// when some were appended before in another batch, one by one.
    async fn append(&self, events: &[&IntegrationEvent]) -> Result<(), HandleError> {
        let stream = StreamName::new(format!("copy-{}", events[0].stream)).unwrap();
        let copies = events.iter().map(|event| copy_of(event)).collect();
        match self.store.append(&stream, ExpectedVersion::Any, copies).await {
            Ok(_) => Ok(()),
            Err(AppendError::IdConflict { .. }) => {
                for event in events {
                    self.store
                        .append(&stream, ExpectedVersion::Any, vec![copy_of(event)])
                        .await
                        .map_err(|e| HandleError::Transient(e.to_string()))?;
                }
                Ok(())
            }
            Err(e) => Err(HandleError::Transient(e.to_string())),
        }
    }
}

fn copy_of(event: &IntegrationEvent) -> NewEvent {
    NewEvent {
        id: message_event_id(event.id, 0),
        contract: event.contract.clone(),
        contract_version: event.contract_version,
        fingerprint: event.fingerprint.clone(),
        payload: event.payload.clone(),
        metadata: event.caused_metadata(),
        schema: event.schema.clone(),
    }
}

impl IntegrationHandler for BatchCopy {
    fn contracts(&self) -> Vec<ContractInfo> {
        vec![HAPPENED]
    }

    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(async move {
            self.singles.lock().unwrap().push(event.id);
            self.append(&[event]).await
        })
    }

    fn handle_batch<'a>(&'a self, events: &'a [IntegrationEvent]) -> BoxFuture<'a, Vec<Result<(), HandleError>>> {
        Box::pin(async move {
            self.batches
                .lock()
                .unwrap()
                .push(events.iter().map(|e| (e.id, e.stream.to_string())).collect());
            let mut results: Vec<Option<Result<(), HandleError>>> = events.iter().map(|_| None).collect();
            let mut streams: Vec<&StreamName> = Vec::new();
            for event in events {
                if !streams.contains(&&event.stream) {
                    streams.push(&event.stream);
                }
            }
            for stream in streams {
                let of_stream: Vec<usize> = (0..events.len()).filter(|&i| events[i].stream == *stream).collect();
                // Up to the event that fails, appended; from it on, failed.
                let failing = of_stream
                    .iter()
                    .position(|&i| {
                        self.refuse.contains(&events[i].id) || self.fail_once.lock().unwrap().remove(&events[i].id)
                    })
                    .unwrap_or(of_stream.len());
                let (appended, failed) = of_stream.split_at(failing);
                if !appended.is_empty() {
                    let batch: Vec<&IntegrationEvent> = appended.iter().map(|&i| &events[i]).collect();
                    let result = self.append(&batch).await;
                    for &i in appended {
                        results[i] = Some(result.clone());
                    }
                }
                for &i in failed {
                    results[i] = Some(Err(if self.refuse.contains(&events[i].id) {
                        HandleError::Permanent("refused by the test".into())
                    } else {
                        HandleError::Transient("failing once, as the test asks".into())
                    }));
                }
            }
            results.into_iter().map(Option::unwrap).collect()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_commits_each_event_once_in_order_and_retries_a_failing_one_alone() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let topology = Topology::new();
    let cleanup = topology.cleanup(&url);
    let dir = tempfile::tempdir().unwrap();
    let source_path = dir.path().join("source.db");
    let source = SqliteStore::open(&source_path).unwrap();
    let target = SqliteStore::open(dir.path().join("target.db")).unwrap();
    let quarantine = MemoryQuarantine::new();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let singles = Arc::new(Mutex::new(Vec::new()));
    // One lane, and the queue filled before it consumes: the lane holds
    // many events of the three streams whenever it is free.
    let config = InboxConfig {
        lanes: 1,
        retry: RetryPolicy {
            first_delay: Duration::from_millis(10),
            ..RetryPolicy::default()
        },
        ..topology.inbox_config()
    };
    let start = |fail_once: HashSet<Uuid>| {
        Inbox::new(
            url.clone(),
            BatchCopy {
                store: target.clone(),
                fail_once: Mutex::new(fail_once),
                refuse: HashSet::new(),
                batches: batches.clone(),
                singles: singles.clone(),
            },
            quarantine.clone(),
            config.clone(),
        )
        .start()
    };
    // Declares the queue and its binding.
    start(HashSet::new()).await.unwrap().shutdown().await;

    append(&source, 0, 10).await;
    let failing = {
        let stream = StreamName::new("thing-1").unwrap();
        let events: Vec<_> = source
            .read_stream(&stream, 4, Direction::Forward)
            .try_collect()
            .await
            .unwrap();
        events[0].id
    };
    let checkpoints = SqliteRelayCheckpoints::open(&source_path).unwrap();
    let relay = Relay::new(source.clone(), checkpoints, url.clone(), topology.relay_config("test"))
        .unwrap()
        .start();
    relay.wait_for_position(source.head().await.unwrap()).await;
    relay.shutdown().await;

    let inbox = start(HashSet::from([failing])).await.unwrap();
    eventually("30 settled", || async { inbox.settled() >= 30 }).await;
    assert_eq!(inbox.settled(), 30);
    assert_eq!(target.head().await.unwrap(), 30, "each event committed once");
    for s in 0..3 {
        assert_eq!(
            copies(&target, s).await,
            (0..10).collect::<Vec<_>>(),
            "stream thing-{s}"
        );
    }
    {
        let batches = batches.lock().unwrap();
        assert!(
            batches.iter().any(|batch| batch.len() > 1),
            "the lane handed several events at once: {batches:?}"
        );
        // It failed in its batch, and so did the later events of its
        // stream there, without effect; those were retried alone, once
        // each, in order, and no other event was.
        let with_failing: Vec<&Batch> = batches
            .iter()
            .filter(|batch| batch.iter().any(|(id, _)| *id == failing))
            .collect();
        assert_eq!(with_failing.len(), 1, "{batches:?}");
        let retried: Vec<Uuid> = with_failing[0]
            .iter()
            .skip_while(|(id, _)| *id != failing)
            .filter(|(_, stream)| stream == "thing-1")
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(*singles.lock().unwrap(), retried);
    }

    // Everything published again: each event comes a second time, in
    // batches of other shapes, and changes nothing.
    let lost = SqliteRelayCheckpoints::open(dir.path().join("lost.db")).unwrap();
    let relay = Relay::new(source.clone(), lost, url.clone(), topology.relay_config("test"))
        .unwrap()
        .start();
    relay.wait_for_position(source.head().await.unwrap()).await;
    eventually("60 settled", || async { inbox.settled() >= 60 }).await;
    relay.shutdown().await;
    inbox.shutdown().await;
    assert_eq!(target.head().await.unwrap(), 30, "repeats change nothing");
    for s in 0..3 {
        assert_eq!(
            copies(&target, s).await,
            (0..10).collect::<Vec<_>>(),
            "stream thing-{s}"
        );
    }
    assert!(quarantine.list().await.unwrap().is_empty());
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_failing_permanently_in_a_batch_is_parked_alone_and_the_others_commit_once() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let topology = Topology::new();
    let cleanup = topology.cleanup(&url);
    let dir = tempfile::tempdir().unwrap();
    let source_path = dir.path().join("source.db");
    let source = SqliteStore::open(&source_path).unwrap();
    let target = SqliteStore::open(dir.path().join("target.db")).unwrap();
    let quarantine = MemoryQuarantine::new();
    let batches = Arc::new(Mutex::new(Vec::new()));
    let singles = Arc::new(Mutex::new(Vec::new()));
    append(&source, 0, 10).await;
    let refused = {
        let stream = StreamName::new("thing-2").unwrap();
        let events: Vec<_> = source
            .read_stream(&stream, 6, Direction::Forward)
            .try_collect()
            .await
            .unwrap();
        events[0].id
    };
    // One lane, and the queue filled before it consumes, as above.
    let config = InboxConfig {
        lanes: 1,
        ..topology.inbox_config()
    };
    let start = |refuse: HashSet<Uuid>| {
        Inbox::new(
            url.clone(),
            BatchCopy {
                store: target.clone(),
                fail_once: Mutex::new(HashSet::new()),
                refuse,
                batches: batches.clone(),
                singles: singles.clone(),
            },
            quarantine.clone(),
            config.clone(),
        )
        .start()
    };
    start(HashSet::new()).await.unwrap().shutdown().await;
    let relay = Relay::new(
        source.clone(),
        SqliteRelayCheckpoints::open(&source_path).unwrap(),
        url.clone(),
        topology.relay_config("test"),
    )
    .unwrap()
    .start();
    relay.wait_for_position(source.head().await.unwrap()).await;
    relay.shutdown().await;

    let inbox = start(HashSet::from([refused])).await.unwrap();
    eventually("30 settled", || async { inbox.settled() >= 30 }).await;
    inbox.shutdown().await;
    assert_eq!(target.head().await.unwrap(), 29, "each other event committed once");
    for s in 0..2 {
        assert_eq!(
            copies(&target, s).await,
            (0..10).collect::<Vec<_>>(),
            "stream thing-{s}"
        );
    }
    assert_eq!(
        copies(&target, 2).await,
        vec![0, 1, 2, 3, 4, 6, 7, 8, 9],
        "a parked event lets its stream go on"
    );
    let parked = quarantine.list().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!((parked[0].id, parked[0].attempts), (refused, 1));
    assert!(parked[0].error.contains("refused by the test"), "{}", parked[0].error);
    // The later events of its stream in its batch failed with it, without
    // effect, and were retried alone, once each, in order; it was not.
    {
        let batches = batches.lock().unwrap();
        let with_refused: Vec<&Batch> = batches
            .iter()
            .filter(|batch| batch.iter().any(|(id, _)| *id == refused))
            .collect();
        assert_eq!(with_refused.len(), 1, "{batches:?}");
        let retried: Vec<Uuid> = with_refused[0]
            .iter()
            .skip_while(|(id, _)| *id != refused)
            .skip(1)
            .filter(|(_, stream)| stream == "thing-2")
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(*singles.lock().unwrap(), retried);
    }
    cleanup.run().await;
}

#[tokio::test]
async fn sqlite_checkpoints_only_move_forward() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let checkpoints = SqliteRelayCheckpoints::open(&path).unwrap();
    assert_eq!(checkpoints.load("a").await.unwrap(), 0);
    checkpoints.save("a", 10).await.unwrap();
    checkpoints.save("a", 4).await.unwrap();
    checkpoints.save("b", 3).await.unwrap();
    assert_eq!(checkpoints.load("a").await.unwrap(), 10);
    assert_eq!(checkpoints.load("b").await.unwrap(), 3);
    let reopened = SqliteRelayCheckpoints::open_existing(&path, Default::default()).unwrap();
    assert_eq!(reopened.load("a").await.unwrap(), 10);
    let missing = SqliteRelayCheckpoints::open_existing(dir.path().join("other.db"), Default::default());
    assert!(missing.is_err());
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_checkpoints_only_move_forward() {
    use treaty_runtime::relay::PostgresRelayCheckpoints;
    use treaty_runtime::store::PostgresOptions;
    let Some(url) = server_url("TREATY_TEST_POSTGRES") else {
        return;
    };
    let schema = format!("relay_{}", Uuid::new_v4().simple());
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let checkpoints = PostgresRelayCheckpoints::open_with(&url, options.clone())
        .await
        .unwrap();
    assert_eq!(checkpoints.load("a").await.unwrap(), 0);
    checkpoints.save("a", 10).await.unwrap();
    checkpoints.save("a", 4).await.unwrap();
    assert_eq!(checkpoints.load("a").await.unwrap(), 10);
    let reopened = PostgresRelayCheckpoints::open_existing(&url, options).await.unwrap();
    assert_eq!(reopened.load("a").await.unwrap(), 10);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}
