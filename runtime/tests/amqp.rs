//! The RabbitMQ transport against a real broker: the transport contract
//! (send, receive, ack, delayed requeue, dead letters, replies,
//! redelivery of what was never acknowledged) and surviving a broker
//! restart.
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
//! at the end. The tests run one at a time, since a restart drops every
//! connection to the broker.
#![cfg(feature = "amqp")]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lapin::options::BasicGetOptions;
use lapin::types::AMQPValue;
use lapin::{Connection, ConnectionProperties};
use treaty_runtime::bus::{AmqpConfig, AmqpTransport, Delivery, Transport, TransportError};
use treaty_runtime::Uuid;

/// A restart in one test would disturb the others.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn amqp_url() -> Option<String> {
    match std::env::var("TREATY_TEST_AMQP") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TREATY_TEST_AMQP is not: .ci/run must start RabbitMQ and set it")
        }
        Err(_) => {
            eprintln!("skipped: set TREATY_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/%2f to run the RabbitMQ tests");
            None
        }
    }
}

fn restart_command() -> Option<String> {
    match std::env::var("TREATY_TEST_AMQP_RESTART") {
        Ok(command) => Some(command),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TREATY_TEST_AMQP_RESTART is not: .ci/services.sh must set it")
        }
        Err(_) => {
            eprintln!(
                "skipped: set TREATY_TEST_AMQP_RESTART to a shell command restarting the broker \
                 (such as `rabbitmqctl stop_app && rabbitmqctl start_app && rabbitmqctl await_startup`)"
            );
            None
        }
    }
}

/// Runs the restart command; returns once the broker is back.
async fn restart_broker(command: &str) {
    let command = command.to_string();
    let status = tokio::task::spawn_blocking(move || std::process::Command::new("sh").arg("-c").arg(command).status())
        .await
        .unwrap()
        .expect("the restart command runs");
    assert!(status.success(), "the restart command failed: {status}");
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
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let config = config();
    let transport = AmqpTransport::connect(&url, config.clone()).await.unwrap();
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
    other.delete_topology().await.unwrap();
}

/// A command queue that exists as a classic queue (declared by a
/// deployment with `quorum: false`, or by a broker without quorum
/// queues) is used as it is: declaring it as a quorum queue is refused,
/// and the transport falls back to a classic durable queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_a_classic_queue_when_quorum_is_refused() {
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let classic = AmqpConfig {
        quorum: false,
        ..config()
    };
    let first = AmqpTransport::connect(&url, classic.clone()).await.unwrap();
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
    transport.delete_topology().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeue_delivers_the_new_body_after_the_delay() {
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
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
    transport.delete_topology().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_land_in_the_dead_letter_queue_with_the_reason() {
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
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
    transport.delete_topology().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_reach_their_address() {
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let config = config();
    let asker = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let handler = AmqpTransport::connect(&url, config).await.unwrap();
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
    handler.delete_topology().await.unwrap();
}

/// A consumer killed between committing and acknowledging: the broker
/// delivers the message again to the next consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_delivery_is_redelivered_after_its_consumer_closes() {
    let Some(url) = amqp_url() else { return };
    let _serial = SERIAL.lock().await;
    let config = config();
    let killed = AmqpTransport::connect(&url, config.clone()).await.unwrap();
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
    next.delete_topology().await.unwrap();
}

/// A restart of the broker: the transport reconnects, a publish during
/// the outage waits for it, an acknowledgement of a delivery of the old
/// connection is not an error, and that delivery comes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_is_survived_and_stale_acknowledgements_are_harmless() {
    let Some(url) = amqp_url() else { return };
    let Some(restart) = restart_command() else { return };
    let _serial = SERIAL.lock().await;
    let transport = AmqpTransport::connect(&url, config()).await.unwrap();
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

    let restarting = tokio::spawn(async move { restart_broker(&restart).await });
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
    transport.delete_topology().await.unwrap();
}
