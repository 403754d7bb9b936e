//! The RabbitMQ transport against a real broker: the transport contract
//! (send, receive, ack, delayed requeue, dead letters, replies,
//! redelivery of what was never acknowledged, giving prefetched deliveries
//! back when nothing receives) and surviving a broker restart and a
//! network cut.
//!
//! Runs when `TREATY_TEST_AMQP` names a broker
//! (`amqp://guest:guest@127.0.0.1:5672/%2f`, as `.ci/services.sh` sets).
//! The restart test also needs `TREATY_TEST_AMQP_RESTART`, a shell command
//! that restarts the broker and returns once it accepts connections again
//! (`.ci/services.sh` sets `rabbitmqctl stop_app && rabbitmqctl start_app
//! && rabbitmqctl await_startup`). Without them the tests say why they
//! skip, except under `CI`, where they fail.
//!
//! Each test declares queues of its own (a random suffix) and deletes them
//! at the end, also when it fails ([`topology_cleanup`]). A restart drops every
//! connection to the broker, so the restart test runs alone, also apart
//! from the tests of other binaries and processes ([`AmqpBrokerLock`]).
#![cfg(feature = "amqp")]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use lapin::{Connection, ConnectionProperties};
use treaty_runtime::bus::{AmqpConfig, AmqpTransport, Delivery, Transport, TransportError};
use treaty_runtime::Uuid;
use treaty_testing::{amqp_restart_command, restart_amqp_broker, server_url, AmqpBrokerLock, AsyncCleanup};

/// Deletes `transport`'s topology (its queues and dead-letter exchange, see
/// `AmqpTransport::delete_topology`) at the test's end, also when it fails,
/// so nothing is left on the shared broker.
fn topology_cleanup(transport: &AmqpTransport) -> AsyncCleanup {
    let transport = transport.clone();
    AsyncCleanup::new("the AMQP topology", move || async move {
        transport.delete_topology().await.map_err(|error| error.to_string())
    })
}

/// A configuration with a command queue of its own.
fn config() -> AmqpConfig {
    AmqpConfig {
        queue: format!("treaty.test.{}", Uuid::new_v4().simple()),
        outage_timeout: Duration::from_secs(60),
        max_reconnect_delay: Duration::from_millis(500),
        ..AmqpConfig::default()
    }
}

async fn receive(transport: &AmqpTransport) -> Delivery {
    tokio::time::timeout(Duration::from_secs(30), transport.receive())
        .await
        .expect("a delivery within 30s")
        .unwrap()
}

/// Asserts that nothing is delivered for a while.
async fn nothing_within(transport: &AmqpTransport, wait: Duration) {
    if let Ok(delivery) = tokio::time::timeout(wait, transport.receive()).await {
        panic!(
            "expected no delivery, got {:?}",
            delivery.map(|d| String::from_utf8_lossy(&d.body).into_owned())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_receives_and_acknowledges() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let config = config();
    let transport = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let cleanup = topology_cleanup(&transport);
    assert!(
        transport.quorum(),
        "RabbitMQ 3.8 and later declare quorum queues, single nodes too"
    );
    for body in ["one", "two", "three"] {
        transport
            .send(Uuid::now_v7(), body.as_bytes().to_vec(), Duration::ZERO)
            .await
            .unwrap();
    }
    for body in ["one", "two", "three"] {
        let delivery = receive(&transport).await;
        assert_eq!(delivery.body, body.as_bytes());
        transport.ack(delivery).await.unwrap();
    }
    transport.close().await;
    assert!(matches!(transport.receive().await, Err(TransportError::Closed)));

    // Acknowledged messages are gone for good, also for another consumer.
    let other = AmqpTransport::connect(&url, config).await.unwrap();
    nothing_within(&other, Duration::from_secs(1)).await;
    other.close().await;
    cleanup.run().await;
}

/// A command queue that exists as a classic queue (declared by a
/// deployment with `quorum: false`, or by a broker without quorum
/// queues) is used as it is: declaring it as a quorum queue is refused,
/// and the transport falls back to a classic durable queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_a_classic_queue_when_quorum_is_refused() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let classic = AmqpConfig {
        quorum: false,
        ..config()
    };
    let first = AmqpTransport::connect(&url, classic.clone()).await.unwrap();
    let cleanup = topology_cleanup(&first);
    assert!(!first.quorum());
    first.close().await;

    let transport = AmqpTransport::connect(
        &url,
        AmqpConfig {
            quorum: true,
            ..classic
        },
    )
    .await
    .unwrap();
    assert!(
        !transport.quorum(),
        "the existing classic queue cannot become a quorum queue"
    );
    transport
        .send(Uuid::now_v7(), b"classic".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"classic");
    transport.ack(delivery).await.unwrap();
    transport.close().await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_delivers_the_new_body_after_the_delay() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
    let cleanup = topology_cleanup(&transport);
    transport
        .send(Uuid::now_v7(), b"attempt 1".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    let requeued = Instant::now();
    transport
        .requeue(delivery, b"attempt 2".to_vec(), Duration::from_secs(1))
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    let waited = requeued.elapsed();
    assert_eq!(delivery.body, b"attempt 2");
    // The 1s delay rounds to the 1024 ms bucket.
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "delivered after {waited:?}"
    );
    transport.ack(delivery).await.unwrap();

    // Without a delay it comes back at once; a delayed send waits too.
    transport
        .send(Uuid::now_v7(), b"later".to_vec(), Duration::from_millis(1500))
        .await
        .unwrap();
    transport
        .send(Uuid::now_v7(), b"now".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"now");
    transport
        .requeue(delivery, b"now again".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"now again");
    transport.ack(delivery).await.unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"later");
    transport.ack(delivery).await.unwrap();
    nothing_within(&transport, Duration::from_millis(500)).await;
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_land_in_the_dead_letter_queue_with_the_reason() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
    let cleanup = topology_cleanup(&transport);
    transport
        .send(Uuid::now_v7(), b"poison".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    transport
        .dead_letter(delivery, "no handler for contract shop.Poison")
        .await
        .unwrap();
    nothing_within(&transport, Duration::from_millis(500)).await;

    let connection = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let message = channel
        .basic_get(transport.dead_letter_queue().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the dead-lettered message");
    assert_eq!(message.delivery.data, b"poison");
    let headers = message.delivery.properties.headers().clone().unwrap();
    let reason = headers.inner().get("x-treaty-reason").cloned();
    assert_eq!(
        reason,
        Some(AMQPValue::LongString("no handler for contract shop.Poison".into()))
    );
    assert_eq!(message.delivery.properties.delivery_mode(), &Some(2));
    connection.close(200, "done".into()).await.unwrap();
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_their_address() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let config = config();
    let asker = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let handler = AmqpTransport::connect(&url, config).await.unwrap();
    let cleanup = topology_cleanup(&handler);
    assert_ne!(asker.reply_address(), handler.reply_address());
    handler
        .reply(&asker.reply_address(), b"{\"outcome\":\"handled\"}".to_vec())
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), asker.receive_reply())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply, b"{\"outcome\":\"handled\"}");

    // A reply to a bus that is gone is reported, not silently dropped.
    let gone = handler.reply("treaty.test.nobody-listens-here", b"{}".to_vec()).await;
    assert!(matches!(gone, Err(TransportError::Failed(_))), "{gone:?}");
    asker.close().await;
    cleanup.run().await;
}

/// A consumer killed between committing and acknowledging: the broker
/// delivers the message again to the next consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_delivery_is_redelivered_after_its_consumer_closes() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let config = config();
    let killed = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let cleanup = topology_cleanup(&killed);
    killed
        .send(Uuid::now_v7(), b"handled, never acknowledged".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&killed).await;
    assert_eq!(delivery.body, b"handled, never acknowledged");
    killed.close().await;

    let next = AmqpTransport::connect(&url, config).await.unwrap();
    let again = receive(&next).await;
    assert_eq!(again.body, b"handled, never acknowledged");
    next.ack(again).await.unwrap();
    // Settling on the closed transport is harmless.
    killed.ack(delivery).await.unwrap();
    nothing_within(&next, Duration::from_millis(500)).await;
    next.close().await;
    cleanup.run().await;
}

/// A restart of the broker: the transport reconnects, a publish during
/// the outage waits for it, an acknowledgement of a delivery of the old
/// connection is not an error, and that delivery comes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_is_survived_and_stale_acknowledgements_are_harmless() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let Some(restart) = amqp_restart_command() else { return };
    let _broker = AmqpBrokerLock::exclusive();
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
    let cleanup = topology_cleanup(&transport);
    let delayed_before = b"delayed across the restart".to_vec();
    transport
        .send(Uuid::now_v7(), b"before the restart".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    transport
        .send(Uuid::now_v7(), delayed_before.clone(), Duration::from_secs(3))
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"before the restart");

    let restarting = tokio::spawn(async move { restart_amqp_broker(&restart).await });
    // Sends while the broker goes down and comes back; each waits for it.
    let sender = transport.clone();
    let sends = tokio::spawn(async move {
        for i in 0..20 {
            sender
                .send(Uuid::now_v7(), format!("during {i}").into_bytes(), Duration::ZERO)
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    restarting.await.unwrap();
    sends.await.unwrap();

    transport.ack(delivery).await.unwrap();
    let mut expected: BTreeSet<String> = (0..20).map(|i| format!("during {i}")).collect();
    expected.insert("before the restart".to_string());
    expected.insert(String::from_utf8(delayed_before).unwrap());
    // Sends under way when the connection dropped may have been taken
    // twice (delivery is at least once); none may be missing.
    let mut received = BTreeSet::new();
    while received != expected {
        let delivery = receive(&transport).await;
        let body = String::from_utf8(delivery.body.clone()).unwrap();
        assert!(expected.contains(&body), "unexpected {body}");
        received.insert(body);
        transport.ack(delivery).await.unwrap();
    }
    cleanup.run().await;
}

/// A consumer that stops receiving (a bus shut down, its transport left
/// open) does not sit on what it prefetched: the deliveries nobody
/// received go back to the queue, for other consumers, and receiving
/// again consumes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetched_deliveries_go_back_to_the_queue_when_nothing_receives() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let config = config();
    let stopped = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let cleanup = topology_cleanup(&stopped);
    let bodies: BTreeSet<String> = (0..5).map(|i| format!("message {i}")).collect();
    for body in &bodies {
        stopped
            .send(Uuid::now_v7(), body.clone().into_bytes(), Duration::ZERO)
            .await
            .unwrap();
    }
    // The first receive consumes, and the broker hands out all five.
    let first = receive(&stopped).await;
    let mut received = BTreeSet::from([String::from_utf8(first.body.clone()).unwrap()]);
    stopped.ack(first).await.unwrap();

    // Nothing receives on `stopped` from here on; another consumer gets
    // the four others, though `stopped` stays connected.
    let other = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let waiting = Instant::now();
    for _ in 0..4 {
        let delivery = receive(&other).await;
        received.insert(String::from_utf8(delivery.body.clone()).unwrap());
        other.ack(delivery).await.unwrap();
    }
    assert_eq!(received, bodies);
    assert!(
        waiting.elapsed() < Duration::from_secs(10),
        "waited {:?}",
        waiting.elapsed()
    );
    other.close().await;

    // Receiving again consumes again.
    stopped
        .send(Uuid::now_v7(), b"once more".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let again = receive(&stopped).await;
    assert_eq!(again.body, b"once more");
    stopped.ack(again).await.unwrap();
    cleanup.run().await;
}

/// A network cut the broker does not notice at once (no FIN reaches it):
/// it keeps the old connection and its exclusive reply queue until its
/// heartbeat times out, a minute, and meanwhile refuses to declare that
/// queue again. The transport reconnects anyway, commands go on at once,
/// and replies come to a new reply queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_cut_moves_the_reply_queue_and_commands_go_on() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let proxy = Proxy::start(&url);
    let config = AmqpConfig {
        outage_timeout: Duration::from_secs(20),
        ..config()
    };
    let transport = AmqpTransport::connect(&proxy.url, config.clone()).await.unwrap();
    let cleanup = topology_cleanup(&transport);
    let replier = AmqpTransport::connect(&url, config).await.unwrap();
    transport
        .send(Uuid::now_v7(), b"before the cut".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"before the cut");
    transport.ack(delivery).await.unwrap();
    let address_before = transport.reply_address();
    // The broker would hand commands to the consumer of the cut connection
    // too until it notices the cut; with nothing receiving for a while,
    // the transport has stopped consuming by then.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let held = proxy.cut();
    let cut = Instant::now();
    transport
        .send(Uuid::now_v7(), b"after the cut".to_vec(), Duration::ZERO)
        .await
        .unwrap();
    let delivery = receive(&transport).await;
    assert_eq!(delivery.body, b"after the cut");
    transport.ack(delivery).await.unwrap();
    assert!(cut.elapsed() < Duration::from_secs(15), "took {:?}", cut.elapsed());

    let address_after = transport.reply_address();
    assert_ne!(
        address_after, address_before,
        "the broker still holds the old reply queue"
    );
    replier
        .reply(&address_after, b"{\"outcome\":\"handled\"}".to_vec())
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), transport.receive_reply())
        .await
        .expect("a reply within 10s")
        .unwrap();
    assert_eq!(reply, b"{\"outcome\":\"handled\"}");

    // The broker sees the old connection end and deletes its queue.
    for stream in held {
        let _ = stream.shutdown(Shutdown::Both);
    }
    replier.close().await;
    cleanup.run().await;
}

/// A TCP proxy in front of the broker that can cut the network the way a
/// pulled cable does for the broker: [`Proxy::cut`] closes the client's
/// side of every connection so far, while the broker's side stays open
/// and silent. Later connections go through as before.
struct Proxy {
    /// `TREATY_TEST_AMQP` with the proxy's address in place of the broker's.
    url: String,
    links: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
}

impl Proxy {
    fn start(url: &str) -> Proxy {
        let (scheme_and_user, rest) = url.split_once('@').expect("an AMQP URL with user@host:port");
        let (broker, vhost) = rest.split_once('/').unwrap_or((rest, ""));
        // AMQP's port unless the URL names one.
        let broker = if broker.contains(':') {
            broker.to_string()
        } else {
            format!("{broker}:5672")
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy_url = format!("{scheme_and_user}@{}/{vhost}", listener.local_addr().unwrap());
        let links = Arc::new(Mutex::new(Vec::new()));
        let accepted = links.clone();
        // Accepts until the test process ends.
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(&broker) else {
                    continue;
                };
                let (Ok(client_out), Ok(server_out)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let (Ok(client_kept), Ok(server_kept)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                accepted.lock().unwrap().push((client_kept, server_kept));
                pipe(client, server_out);
                pipe(server, client_out);
            }
        });
        Proxy { url: proxy_url, links }
    }

    /// Closes the client's side of every connection so far; returns the
    /// broker's sides, open until the test shuts them down.
    fn cut(&self) -> Vec<TcpStream> {
        let links = std::mem::take(&mut *self.links.lock().unwrap());
        links
            .into_iter()
            .map(|(client, server)| {
                let _ = client.shutdown(Shutdown::Both);
                server
            })
            .collect()
    }
}

/// Copies `from` to `to` on a thread, until either fails or ends; never
/// closes either, so a cut client does not close the broker's side.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if to.write_all(&buffer[..read]).is_err() {
                        return;
                    }
                }
            }
        }
    });
}
