//! The transport conformance suite: the same tests, with the same
//! assertions, run against every `Transport`, then what only the durable
//! SQLite queue promises (surviving a restart, redelivery after the
//! visibility timeout, several processes on one file), and a bus running
//! over it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use treaty_runtime::bus::{
    AskError, Bus, BusConfig, Delivery, Envelope, HandleError, Handled, Handler, InProcessTransport, Quarantine,
    RetryPolicy, SqliteQuarantine, SqliteQueue, SqliteQueueConfig, Transport, TransportError,
};
use treaty_runtime::storage::{Component, Durability, OpenError};
use treaty_runtime::{Timestamp, Uuid};

/// How long a test waits for something that should happen.
const PATIENCE: Duration = Duration::from_secs(10);

/// How long a test watches for something that must not happen.
const QUIET: Duration = Duration::from_millis(200);

async fn send(transport: &impl Transport, body: &str) {
    transport
        .send(Uuid::now_v7(), body.as_bytes().to_vec(), Duration::ZERO)
        .await
        .unwrap();
}

async fn receive(transport: &impl Transport) -> Delivery {
    tokio::time::timeout(PATIENCE, transport.receive())
        .await
        .expect("a message should have been delivered")
        .unwrap()
}

fn text(delivery: &Delivery) -> &str {
    std::str::from_utf8(&delivery.body).unwrap()
}

/// Fails when a message is delivered within [`QUIET`].
async fn nothing_delivered(transport: &impl Transport) {
    if let Ok(delivery) = tokio::time::timeout(QUIET, transport.receive()).await {
        panic!("nothing should have been delivered, got {:?}", delivery.map(|d| d.body));
    }
}

pub async fn messages_arrive_in_order_and_are_gone_once_acked(transport: impl Transport) {
    for body in ["first", "second", "third"] {
        send(&transport, body).await;
    }
    let mut tags = HashSet::new();
    for expected in ["first", "second", "third"] {
        let delivery = receive(&transport).await;
        assert_eq!(text(&delivery), expected);
        assert!(tags.insert(delivery.tag), "tag {} given twice", delivery.tag);
        transport.ack(delivery).await.unwrap();
    }
    nothing_delivered(&transport).await;
}

pub async fn an_unsettled_delivery_does_not_hold_up_the_next(transport: impl Transport) {
    send(&transport, "slow").await;
    send(&transport, "fast").await;
    let slow = receive(&transport).await;
    let fast = receive(&transport).await;
    assert_eq!((text(&slow), text(&fast)), ("slow", "fast"));
    transport.ack(fast).await.unwrap();
    transport.ack(slow).await.unwrap();
    nothing_delivered(&transport).await;
}

pub async fn a_requeued_message_comes_back_after_its_delay_with_its_new_body(transport: impl Transport) {
    send(&transport, r#"{"attempt":1}"#).await;
    let delivery = receive(&transport).await;
    let requeued = Instant::now();
    transport
        .requeue(delivery, br#"{"attempt":2}"#.to_vec(), Duration::from_millis(500))
        .await
        .unwrap();
    nothing_delivered(&transport).await;
    let again = receive(&transport).await;
    assert!(
        requeued.elapsed() >= Duration::from_millis(490),
        "{:?}",
        requeued.elapsed()
    );
    assert_eq!(text(&again), r#"{"attempt":2}"#);
    transport.ack(again).await.unwrap();
    nothing_delivered(&transport).await;
}

pub async fn a_delayed_message_lets_ready_ones_pass(transport: impl Transport) {
    let sent = Instant::now();
    transport
        .send(Uuid::now_v7(), b"later".to_vec(), Duration::from_millis(400))
        .await
        .unwrap();
    send(&transport, "now").await;
    let now = receive(&transport).await;
    assert_eq!(text(&now), "now");
    let later = receive(&transport).await;
    assert_eq!(text(&later), "later");
    assert!(sent.elapsed() >= Duration::from_millis(390), "{:?}", sent.elapsed());
    transport.ack(now).await.unwrap();
    transport.ack(later).await.unwrap();
}

pub async fn a_dead_lettered_message_is_gone(transport: impl Transport) {
    send(&transport, "poison").await;
    let delivery = receive(&transport).await;
    transport
        .dead_letter(delivery, "no handler for contract x")
        .await
        .unwrap();
    nothing_delivered(&transport).await;
}

pub async fn replies_to_the_reply_address_come_back_in_order(transport: impl Transport) {
    let address = transport.reply_address();
    transport.reply(&address, b"one".to_vec()).await.unwrap();
    transport.reply(&address, b"two".to_vec()).await.unwrap();
    for expected in ["one", "two"] {
        let reply = tokio::time::timeout(PATIENCE, transport.receive_reply())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reply, expected.as_bytes());
    }
    assert!(tokio::time::timeout(QUIET, transport.receive_reply()).await.is_err());
}

pub async fn a_waiting_receive_is_woken_by_a_send(transport: impl Transport) {
    let waiting = tokio::spawn({
        let transport = transport.clone();
        async move { transport.receive().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = Instant::now();
    send(&transport, "wake up").await;
    let delivery = tokio::time::timeout(PATIENCE, waiting).await.unwrap().unwrap().unwrap();
    // The SQLite queue under test polls once a minute: only the wake-up
    // can have been this quick.
    assert!(sent.elapsed() < Duration::from_secs(5), "{:?}", sent.elapsed());
    assert_eq!(text(&delivery), "wake up");
}

/// Declares every conformance test for one transport. `$make` returns a
/// fresh, empty transport.
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            conformance!(@cases $make;
                messages_arrive_in_order_and_are_gone_once_acked,
                an_unsettled_delivery_does_not_hold_up_the_next,
                a_requeued_message_comes_back_after_its_delay_with_its_new_body,
                a_delayed_message_lets_ready_ones_pass,
                a_dead_lettered_message_is_gone,
                replies_to_the_reply_address_come_back_in_order,
                a_waiting_receive_is_woken_by_a_send
            );
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case($make).await;
            }
        )*
    };
}

/// A database file in a directory of its own. The directory is leaked on
/// purpose: it must outlive the queues, and the OS cleans the temp dir.
fn fresh_path() -> PathBuf {
    tempfile::tempdir().unwrap().keep().join("events.db")
}

/// How many messages the queue in `path` holds, read from its table, so
/// that no consumer's receive takes part.
fn queued(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM treaty_queue", [], |r| r.get(0))
        .unwrap()
}

/// Settings for tests: `poll` as given, everything else the default.
fn polling(poll: Duration) -> SqliteQueueConfig {
    SqliteQueueConfig {
        poll_interval: poll,
        ..SqliteQueueConfig::default()
    }
}

/// A SQLite queue that polls only once a minute, so a test that passes
/// quickly shows the wake-up of a send through the same queue works.
fn fresh_sqlite() -> SqliteQueue {
    SqliteQueue::open_with(fresh_path(), polling(Duration::from_secs(60))).unwrap()
}

conformance!(in_process, InProcessTransport::new());
conformance!(sqlite, fresh_sqlite());

/// What only the SQLite queue does: persistence, redelivery and sharing
/// one file between processes (here, two queues opened on one file, each
/// with its own connection, like two processes).
mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_survive_reopening() {
        let path = fresh_path();
        {
            let queue = SqliteQueue::open(&path).unwrap();
            send(&queue, "handled").await;
            send(&queue, "pending").await;
            send(&queue, "delayed").await;
            let handled = receive(&queue).await;
            assert_eq!(text(&handled), "handled");
            queue.ack(handled).await.unwrap();
        }
        let queue = SqliteQueue::open(&path).unwrap();
        let pending = receive(&queue).await;
        assert_eq!(text(&pending), "pending");
        queue.ack(pending).await.unwrap();
        let delayed = receive(&queue).await;
        assert_eq!(text(&delayed), "delayed");
        queue.ack(delayed).await.unwrap();
        nothing_delivered(&queue).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unacknowledged_message_is_delivered_again_after_the_visibility_timeout() {
        const TIMEOUT: Duration = Duration::from_millis(600);
        let path = fresh_path();
        let config = SqliteQueueConfig {
            visibility_timeout: TIMEOUT,
            poll_interval: Duration::from_millis(20),
            ..SqliteQueueConfig::default()
        };
        let first = SqliteQueue::open_with(&path, config.clone()).unwrap();
        send(&first, "crashy").await;
        // Taken before the receive, so no later than the lock's start.
        let claimed = Instant::now();
        let lost = receive(&first).await;
        // The consumer "dies": the delivery is never settled. Both the
        // same queue and another process look for the message; whichever
        // gets it, however slow this machine, gets it only once the lock
        // expired. (Only the order is checked: no window of time in which
        // nothing may happen, which a slow machine could overrun.)
        let second = SqliteQueue::open_with(&path, config).unwrap();
        let (again, taker) = tokio::select! {
            again = receive(&first) => (again, &first),
            again = receive(&second) => (again, &second),
        };
        // Lock times are whole milliseconds.
        assert!(
            claimed.elapsed() >= TIMEOUT - Duration::from_millis(10),
            "delivered again after {:?}",
            claimed.elapsed()
        );
        assert_eq!(text(&again), "crashy");
        assert_ne!(again.tag, lost.tag, "a new claim has a tag of its own");
        taker.ack(again).await.unwrap();
        // The first consumer settling late changes nothing, and no copy
        // of the message is left.
        first.ack(lost).await.unwrap();
        nothing_delivered(&first).await;
        assert_eq!(queued(&path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_settlement_leaves_the_next_claim_alone() {
        let path = fresh_path();
        // The first consumer's lock expires quickly; the second's lasts
        // longer than any test, so only a settlement can release it.
        let (first, second) = (
            SqliteQueue::open_with(
                &path,
                SqliteQueueConfig {
                    visibility_timeout: Duration::from_millis(200),
                    ..polling(Duration::from_millis(20))
                },
            )
            .unwrap(),
            SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap(),
        );
        send(&first, "slow").await;
        let stale = receive(&first).await;
        let current = receive(&second).await;
        assert_eq!(text(&current), "slow");
        // The first consumer finishes at last and settles, in every way
        // there is: none of it touches the second consumer's claim.
        let stale_copy = || Delivery {
            body: stale.body.clone(),
            tag: stale.tag,
        };
        first
            .requeue(stale_copy(), b"stale requeue".to_vec(), Duration::ZERO)
            .await
            .unwrap();
        first.dead_letter(stale_copy(), "stale").await.unwrap();
        first.ack(stale).await.unwrap();
        // Not unlocked: nobody else gets the message...
        nothing_delivered(&first).await;
        nothing_delivered(&second).await;
        // ...and not deleted: its consumer can still requeue it, with its
        // own body, and then ack it.
        assert_eq!(queued(&path), 1);
        second
            .requeue(current, b"requeued by the second".to_vec(), Duration::ZERO)
            .await
            .unwrap();
        let requeued = receive(&first).await;
        assert_eq!(text(&requeued), "requeued by the second");
        first.ack(requeued).await.unwrap();
        assert_eq!(queued(&path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn settling_twice_does_nothing_the_second_time() {
        let path = fresh_path();
        let queue = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
        send(&queue, "once").await;
        let delivery = receive(&queue).await;
        let copy = Delivery {
            body: delivery.body.clone(),
            tag: delivery.tag,
        };
        queue
            .requeue(delivery, b"requeued".to_vec(), Duration::from_secs(3600))
            .await
            .unwrap();
        // The requeue released the claim: settling it again acks nothing.
        queue.ack(copy).await.unwrap();
        assert_eq!(queued(&path), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unacknowledged_message_outlives_a_restart() {
        let path = fresh_path();
        let config = SqliteQueueConfig {
            visibility_timeout: Duration::from_millis(300),
            poll_interval: Duration::from_millis(20),
            ..SqliteQueueConfig::default()
        };
        {
            let queue = SqliteQueue::open_with(&path, config.clone()).unwrap();
            send(&queue, "in flight").await;
            let _unsettled = receive(&queue).await;
        }
        let queue = SqliteQueue::open_with(&path, config).unwrap();
        let again = receive(&queue).await;
        assert_eq!(text(&again), "in flight");
        queue.ack(again).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_of_another_process_are_found_by_polling() {
        let path = fresh_path();
        let consumer = SqliteQueue::open_with(&path, polling(Duration::from_millis(50))).unwrap();
        let producer = SqliteQueue::open(&path).unwrap();
        let waiting = tokio::spawn({
            let consumer = consumer.clone();
            async move { consumer.receive().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        send(&producer, "from elsewhere").await;
        let delivery = tokio::time::timeout(PATIENCE, waiting).await.unwrap().unwrap().unwrap();
        assert_eq!(text(&delivery), "from elsewhere");
        consumer.ack(delivery).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replies_reach_only_their_own_address() {
        let path = fresh_path();
        let (a, b) = (
            SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap(),
            SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap(),
        );
        assert_ne!(a.reply_address(), b.reply_address());
        assert_eq!(a.reply_address(), a.clone().reply_address(), "clones share the address");
        a.reply(&b.reply_address(), b"for b".to_vec()).await.unwrap();
        b.reply(&a.reply_address(), b"for a".to_vec()).await.unwrap();
        a.reply("nobody", b"for nobody".to_vec()).await.unwrap();
        let for_a = tokio::time::timeout(PATIENCE, a.receive_reply())
            .await
            .unwrap()
            .unwrap();
        let for_b = tokio::time::timeout(PATIENCE, b.receive_reply())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((for_a.as_slice(), for_b.as_slice()), (&b"for a"[..], &b"for b"[..]));
        assert!(tokio::time::timeout(QUIET, a.receive_reply()).await.is_err());
        assert!(tokio::time::timeout(QUIET, b.receive_reply()).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replies_nobody_takes_expire() {
        let path = fresh_path();
        let config = SqliteQueueConfig {
            reply_ttl: Duration::from_millis(100),
            ..polling(Duration::from_millis(20))
        };
        let queue = SqliteQueue::open_with(&path, config).unwrap();
        queue.reply(&queue.reply_address(), b"stale".to_vec()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Writing a reply deletes the expired ones.
        queue.reply("elsewhere", b"fresh".to_vec()).await.unwrap();
        assert!(tokio::time::timeout(QUIET, queue.receive_reply()).await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_processes_on_one_file_never_hold_one_message_at_once() {
        const MESSAGES: usize = 200;
        let path = fresh_path();
        let config = SqliteQueueConfig {
            // Fewer fsyncs keep the test quick; locking is the same.
            durability: Durability::Normal,
            poll_interval: Duration::from_millis(5),
            ..SqliteQueueConfig::default()
        };
        let queues = [
            SqliteQueue::open_with(&path, config.clone()).unwrap(),
            SqliteQueue::open_with(&path, config).unwrap(),
        ];
        let held = Arc::new(Mutex::new(HashSet::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut consumers = Vec::new();
        for queue in queues.iter().chain(queues.iter()) {
            let (queue, held, received) = (queue.clone(), held.clone(), received.clone());
            consumers.push(tokio::spawn(async move {
                while let Ok(delivery) = tokio::time::timeout(Duration::from_secs(2), queue.receive()).await {
                    let delivery = delivery.unwrap();
                    let body = text(&delivery).to_string();
                    assert!(
                        held.lock().unwrap().insert(body.clone()),
                        "{body} is held by two consumers at once"
                    );
                    tokio::task::yield_now().await;
                    held.lock().unwrap().remove(&body);
                    received.lock().unwrap().push(body);
                    queue.ack(delivery).await.unwrap();
                }
            }));
        }
        for n in 0..MESSAGES {
            send(&queues[n % 2], &format!("message {n}")).await;
        }
        for consumer in consumers {
            consumer.await.unwrap();
        }
        let mut received = received.lock().unwrap().clone();
        received.sort();
        let mut expected: Vec<String> = (0..MESSAGES).map(|n| format!("message {n}")).collect();
        expected.sort();
        assert_eq!(received, expected, "every message exactly once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn closing_ends_waiting_receives_and_keeps_the_messages() {
        let path = fresh_path();
        let queue = SqliteQueue::open(&path).unwrap();
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move {
                (
                    queue.receive().await.map(|_| ()),
                    queue.receive_reply().await.map(|_| ()),
                )
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        queue.close();
        let (message, reply) = tokio::time::timeout(PATIENCE, waiting).await.unwrap().unwrap();
        assert!(matches!(message, Err(TransportError::Closed)), "{message:?}");
        assert!(matches!(reply, Err(TransportError::Closed)), "{reply:?}");
        // Sending still works, for the next process to receive.
        send(&queue, "kept").await;
        assert!(matches!(queue.receive().await, Err(TransportError::Closed)));
        drop(queue);
        let next = SqliteQueue::open(&path).unwrap();
        assert_eq!(text(&receive(&next).await), "kept");
    }

    /// Sends from many tasks at once, each checking, as soon as its send
    /// returned, that another connection (another process) reads its
    /// message: sends committed in groups still each commit before they
    /// return.
    async fn concurrent_sends_are_each_committed_when_they_return(path: &std::path::Path, queue: SqliteQueue) {
        const TASKS: usize = 8;
        const EACH: usize = 25;
        let senders: Vec<_> = (0..TASKS)
            .map(|task| {
                let (queue, path) = (queue.clone(), path.to_path_buf());
                tokio::spawn(async move {
                    let conn = rusqlite::Connection::open(&path).unwrap();
                    for n in 0..EACH {
                        let body = format!("task {task} message {n}");
                        send(&queue, &body).await;
                        let stored: i64 = conn
                            .query_row(
                                "SELECT count(*) FROM treaty_queue WHERE body = ?1",
                                [body.as_bytes()],
                                |r| r.get(0),
                            )
                            .unwrap();
                        assert_eq!(stored, 1, "{body} was not committed when its send returned");
                    }
                })
            })
            .collect();
        for sender in senders {
            sender.await.unwrap();
        }
        assert_eq!(queued(path), (TASKS * EACH) as i64);
        let mut received = HashSet::new();
        for _ in 0..TASKS * EACH {
            let delivery = receive(&queue).await;
            assert!(received.insert(text(&delivery).to_string()), "delivered twice");
            queue.ack(delivery).await.unwrap();
        }
        assert_eq!(queued(path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_through_the_queues_writer_are_each_committed_when_they_return() {
        let path = fresh_path();
        let queue = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
        concurrent_sends_are_each_committed_when_they_return(&path, queue).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_sends_through_the_stores_writer_are_each_committed_when_they_return() {
        let path = fresh_path();
        // The event store open on the same file: the queue writes through
        // its writer, in the groups of its appends.
        let _store = treaty_runtime::store::SqliteStore::open(&path).unwrap();
        let queue = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
        concurrent_sends_are_each_committed_when_they_return(&path, queue).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claimed_messages_not_handed_out_go_to_others_before_their_timeout() {
        let path = fresh_path();
        let queue = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
        for body in ["first", "second", "third"] {
            send(&queue, body).await;
        }
        // One receive claims all three; two wait in this queue, which
        // then stops receiving.
        let first = receive(&queue).await;
        assert_eq!(text(&first), "first");
        let other = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
        queue.close();
        // Released (by the close, or after a second unclaimed): the other
        // queue has them, in order, long before the visibility timeout
        // (30 s) could bring them back.
        for expected in ["second", "third"] {
            let delivery = receive(&other).await;
            assert_eq!(text(&delivery), expected);
            other.ack(delivery).await.unwrap();
        }
        queue.ack(first).await.unwrap();
        assert_eq!(queued(&path), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_a_directory_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let failed = SqliteQueue::open(dir.path()).unwrap_err();
        let message = failed.to_string();
        assert!(message.contains(&dir.path().display().to_string()), "{message}");
    }

    /// The names of the tables and indexes in the SQLite file at `path`.
    fn objects(path: &std::path::Path) -> Vec<String> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut statement = conn.prepare("SELECT name FROM sqlite_master ORDER BY name").unwrap();
        let names = statement.query_map([], |r| r.get(0)).unwrap();
        names.collect::<Result<_, _>>().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_an_existing_queue_names_its_missing_tables_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("absent.db");
        let failed = SqliteQueue::open_existing(&absent, SqliteQueueConfig::default()).unwrap_err();
        assert!(matches!(failed, OpenError::Storage { .. }), "{failed}");
        assert!(!absent.exists(), "opening created the file");

        let path = fresh_path();
        drop(treaty_runtime::store::SqliteStore::open(&path).unwrap());
        let before = objects(&path);
        let failed = SqliteQueue::open_existing(&path, SqliteQueueConfig::default()).unwrap_err();
        assert_eq!(
            failed.to_string(),
            format!(
                "no Treaty queue at {}: its `treaty_queue` and `treaty_replies` tables are missing \
                 (opening an existing queue creates nothing)",
                path.display()
            )
        );
        assert!(
            matches!(&failed, OpenError::Missing { component: Component::Queue, found, .. } if found.is_empty()),
            "{failed:?}"
        );
        assert_eq!(objects(&path), before);

        let queue = SqliteQueue::open(&path).unwrap();
        send(&queue, "waiting").await;
        drop(queue);
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("DROP INDEX treaty_replies_created")
            .unwrap();
        let before = objects(&path);
        let existing = SqliteQueue::open_existing(&path, polling(Duration::from_millis(20))).unwrap();
        let waiting = receive(&existing).await;
        assert_eq!(text(&waiting), "waiting");
        existing.ack(waiting).await.unwrap();
        assert_eq!(objects(&path), before, "opening created the missing index");

        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("DROP TABLE treaty_replies")
            .unwrap();
        let failed = SqliteQueue::open_existing(&path, SqliteQueueConfig::default()).unwrap_err();
        assert!(
            matches!(&failed, OpenError::Missing { missing, found, .. }
                if missing == &["treaty_replies"] && found == &["treaty_queue"]),
            "{failed:?}"
        );
    }
}

/// A handler of `test.Ok`, which succeeds, and `test.Flaky`, which fails
/// for good until `fixed` is set.
struct TestHandler(Arc<HandlerState>);

#[derive(Default)]
struct HandlerState {
    fixed: AtomicBool,
    flaky_handled: AtomicU32,
}

impl Handler for TestHandler {
    fn contracts(&self) -> Vec<&'static str> {
        vec!["test.Ok", "test.Flaky"]
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            if envelope.contract == "test.Flaky" {
                if !self.0.fixed.load(Ordering::SeqCst) {
                    return Err(HandleError::Permanent("the flaky handler is broken".into()));
                }
                self.0.flaky_handled.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Handled {
                stream: Some(format!("stream-of-{}", envelope.contract)),
                stream_version: 1,
                ..Handled::default()
            })
        })
    }
}

fn envelope(contract: &str) -> Envelope {
    Envelope {
        id: Uuid::now_v7(),
        contract: contract.to_string(),
        contract_version: 1,
        fingerprint: "00112233445566778899aabbccddeeff".to_string(),
        payload: b"{}".to_vec(),
        correlation_id: None,
        causation_id: None,
        attempt: 1,
        headers: Default::default(),
        reply_to: None,
        sent_at: Timestamp::now(),
        schema: None,
    }
}

/// The pieces together: a bus over the SQLite queue with the SQLite
/// quarantine in the same file answers asks through the replies table,
/// parks what fails, and sends it again when an operator asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_over_the_sqlite_queue_answers_quarantines_and_retries() {
    let path = fresh_path();
    let queue = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
    let quarantine = SqliteQuarantine::open(&path).unwrap();
    let config = BusConfig {
        retry: RetryPolicy {
            max_attempts: 2,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        },
        ask_timeout: PATIENCE,
        quarantine_poll: Duration::from_millis(20),
        ..BusConfig::default()
    };
    let bus = Bus::new(queue.clone(), quarantine.clone(), config);
    let handler = Arc::new(HandlerState::default());
    bus.register(TestHandler(handler.clone())).unwrap();
    let running = bus.start();

    let handled = bus.ask_envelope(envelope("test.Ok"), PATIENCE).await.unwrap();
    assert_eq!(handled.stream.as_deref(), Some("stream-of-test.Ok"));

    let flaky = envelope("test.Flaky");
    let refused = bus.ask_envelope(flaky.clone(), PATIENCE).await.unwrap_err();
    assert!(
        matches!(&refused, AskError::Quarantined(error) if error == "the flaky handler is broken"),
        "{refused}"
    );
    let parked = quarantine.get(flaky.id).await.unwrap().unwrap();
    assert_eq!(parked.contract.as_deref(), Some("test.Flaky"));
    // The bus's own consumer receives from this queue too, so whether
    // anything is left is read from the table: the bus acknowledged the
    // handled message and dead-lettered the parked one before replying.
    assert_eq!(queued(&path), 0);

    handler.fixed.store(true, Ordering::SeqCst);
    assert!(quarantine.request_retry(flaky.id).await.unwrap());
    let started = Instant::now();
    while handler.flaky_handled.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < PATIENCE, "the retry was never handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Shutting down waits for the handled message to be acknowledged.
    running.shutdown().await;
    assert_eq!(quarantine.get(flaky.id).await.unwrap(), None);
    queue.close();
    // The retried message was handled and acknowledged: nothing is left
    // for the next process.
    assert_eq!(queued(&path), 0);
    let next = SqliteQueue::open_with(&path, polling(Duration::from_millis(20))).unwrap();
    nothing_delivered(&next).await;
}
