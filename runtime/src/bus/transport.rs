//! How messages move: the one trait every transport implements.

use std::future::Future;
use std::time::Duration;

use crate::types::Uuid;

/// A message taken from a transport, to be settled exactly once with
/// [`Transport::ack`], [`Transport::requeue`] or [`Transport::dead_letter`].
/// A delivery that is never settled (the process died) is delivered again.
#[derive(Debug)]
pub struct Delivery {
    /// The message as sent: an envelope's JSON, or whatever bytes arrived.
    pub body: Vec<u8>,
    /// The transport's handle on the delivery.
    pub tag: u64,
}

/// Why a transport operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The transport was shut down; no more messages will come.
    #[error("the transport is closed")]
    Closed,
    /// The broker or database failed; the operation may be retried.
    #[error("transport failed: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Carries commands to the bus that handles them, and replies back to the
/// bus that asked.
///
/// Delivery is at least once: a message is delivered until a handler's
/// bus settles it, so a crash between handling and acknowledging delivers
/// it again. The bus makes the effect exactly once by deduplicating.
pub trait Transport: Clone + Send + Sync + 'static {
    /// Sends a message (an envelope's JSON) to the command queue, to be
    /// delivered after `delay`. Returns once the transport holds it
    /// durably, if it is durable.
    ///
    /// # Errors
    ///
    /// When the message could not be handed over; it may be sent again.
    fn send(&self, id: Uuid, body: Vec<u8>, delay: Duration)
        -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Waits for the next message to handle.
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] when the transport shut down;
    /// [`TransportError::Failed`] when receiving failed (the bus waits and
    /// tries again).
    fn receive(&self) -> impl Future<Output = Result<Delivery, TransportError>> + Send;

    /// Settles a delivery as handled: it is never delivered again.
    ///
    /// # Errors
    ///
    /// When the transport failed; the message will be delivered again.
    fn ack(&self, delivery: Delivery) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Runs `handling`, the handler's work on `delivery`, before the
    /// delivery is settled. A transport that can commit the delivery's
    /// acknowledgement together with what the handler writes (the SQLite
    /// queue, with an event store in the same file) sets that up here;
    /// the default runs `handling` as it is.
    fn handling<F>(&self, delivery: &Delivery, handling: F) -> impl Future<Output = F::Output> + Send
    where
        F: Future + Send,
    {
        let _ = delivery;
        handling
    }

    /// Replaces a delivery by `body` (the envelope with its next attempt
    /// number), delivered after `delay`.
    ///
    /// # Errors
    ///
    /// When the transport failed; the original will be delivered again.
    fn requeue(
        &self,
        delivery: Delivery,
        body: Vec<u8>,
        delay: Duration,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Takes a delivery out of circulation because it was quarantined
    /// (brokers route it to their dead-letter exchange).
    ///
    /// # Errors
    ///
    /// When the transport failed; the message will be delivered again and
    /// be quarantined again, which the quarantine tolerates.
    fn dead_letter(&self, delivery: Delivery, reason: &str) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// The address replies to this transport's bus are sent to.
    fn reply_address(&self) -> String;

    /// Sends a reply (a [`Reply`](super::Reply)'s JSON) to a bus's reply
    /// address.
    ///
    /// # Errors
    ///
    /// When the transport failed; the asker then times out.
    fn reply(&self, to: &str, body: Vec<u8>) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Waits for the next reply sent to [`Transport::reply_address`].
    ///
    /// # Errors
    ///
    /// [`TransportError::Closed`] when the transport shut down.
    fn receive_reply(&self) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;
}
