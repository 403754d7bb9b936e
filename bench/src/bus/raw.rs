//! Raw lapin: what the RabbitMQ baselines (`rabbitmq_roundtrip`,
//! `relay_rabbitmq_events`) share, set up as Treaty's side sets up its
//! own: a publishing channel in confirm mode, a durable quorum queue, and
//! a consumer with a prefetch.

use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, Consumer};

use crate::Failure;

/// A failure of the raw side, named as such.
pub(crate) fn failed(error: lapin::Error) -> Failure {
    Failure::new(format!("RabbitMQ (raw lapin): {error}"))
}

/// A connection to `url` and a channel on it in confirm mode.
pub(crate) async fn publisher(url: &str) -> Result<(Connection, Channel), Failure> {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(failed)?;
    let channel = connection.create_channel().await.map_err(failed)?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(failed)?;
    Ok((connection, channel))
}

/// Declares the durable quorum queue `queue`, as Treaty declares its own.
pub(crate) async fn quorum_queue(channel: &Channel, queue: &str) -> Result<(), Failure> {
    let mut arguments = FieldTable::default();
    arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .map_err(failed)?;
    Ok(())
}

/// A consumer of `queue` on a channel of its own, with `prefetch`
/// deliveries unacknowledged at most.
pub(crate) async fn consumer(connection: &Connection, queue: &str, prefetch: u16) -> Result<Consumer, Failure> {
    let channel = connection.create_channel().await.map_err(failed)?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await
        .map_err(failed)?;
    channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(failed)
}
