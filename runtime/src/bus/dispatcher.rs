//! The bus: sends commands, and handles them with retries, quarantine and
//! replies.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{oneshot, watch, OnceCell, Semaphore};
use tokio::task::JoinHandle;

use super::envelope::{Envelope, Handled, Outcome, Reply};
use super::handler::{AggregateHandler, HandleError, Handler};
use super::quarantine::{ParkedMessage, Quarantine, QuarantineError};
use super::transport::{Delivery, Transport, TransportError};
use super::CommandSet;
use crate::aggregate::Refusal;
use crate::aggregate::{Aggregate, Repository, SnapshotStore};
use crate::contract::{Command, EncodeError};
use crate::metrics::{self, Settled};
use crate::store::EventStore;
use crate::telemetry::trace;
use crate::types::{Timestamp, Uuid};
use tracing::Instrument as _;

/// How failed messages are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a message is quarantined, the first included.
    pub max_attempts: u32,
    /// The delay before the second attempt; each later one doubles it.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (from 1): exponential,
    /// capped, with "equal jitter" (half fixed, half random) so messages
    /// that failed together do not all come back together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let full = self.first_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let random = (Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0;
        full / 2 + full.mul_f64(random / 2.0)
    }
}

/// How a bus works.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Messages handled at the same time.
    pub concurrency: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// How long [`Bus::ask`] waits for the outcome.
    pub ask_timeout: Duration,
    /// How often the bus looks for quarantined messages an operator asked
    /// to retry.
    pub quarantine_poll: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            concurrency: 16,
            retry: RetryPolicy::default(),
            ask_timeout: Duration::from_secs(30),
            quarantine_poll: Duration::from_secs(1),
        }
    }
}

/// Why a handler could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contract {contract} already has a handler; each command has exactly one")]
pub struct DuplicateHandler {
    /// The contract.
    pub contract: String,
}

/// Why a command could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The command could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The transport did not take it.
    #[error("cannot send the message: {0}")]
    Transport(#[from] TransportError),
    /// The envelope's payload is not JSON.
    #[error("message {message_id} has a payload that is not JSON: {reason}")]
    InvalidPayload {
        /// The message.
        message_id: Uuid,
        /// What the JSON parser said.
        reason: String,
    },
}

/// Why [`Bus::ask`] has no outcome to return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The handler refused the command with a domain error: its text, and
    /// the typed error through [`Refusal::downcast`] when the aggregate
    /// encodes its errors.
    #[error("the command was refused: {0}")]
    Refused(Refusal),
    /// The message could not be handled and was quarantined.
    #[error("the command was quarantined: {0}")]
    Quarantined(String),
    /// No outcome came in time. The command may still be handled; asking
    /// again with the same envelope is safe.
    #[error(
        "no outcome for message {message_id} within {timeout:?}; it may still be handled, and sending it again is safe"
    )]
    Timeout {
        /// The message.
        message_id: Uuid,
        /// How long the bus waited.
        timeout: Duration,
    },
    /// The command could not be sent.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Sends commands and handles them.
///
/// Clones share the handlers and the transport. Any bus can send and ask;
/// [`Bus::start`] makes it handle the messages of its transport too.
pub struct Bus<T: Transport, Q: Quarantine> {
    inner: Arc<Inner<T, Q>>,
}

impl<T: Transport, Q: Quarantine> Clone for Bus<T, Q> {
    fn clone(&self) -> Self {
        Bus {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T, Q> {
    transport: T,
    quarantine: Q,
    config: BusConfig,
    handlers: RwLock<HashMap<&'static str, Arc<Registered>>>,
    pending: Mutex<HashMap<Uuid, oneshot::Sender<Outcome>>>,
    replies: OnceCell<JoinHandle<()>>,
}

impl<T: Transport, Q: Quarantine> Bus<T, Q> {
    /// A bus over `transport`, parking failed messages in `quarantine`.
    ///
    /// Give each bus a transport of its own rather than a clone of another
    /// bus's: replies arrive at a transport's reply address, and two buses
    /// listening there would take each other's.
    pub fn new(transport: T, quarantine: Q, config: BusConfig) -> Self {
        Bus {
            inner: Arc::new(Inner {
                transport,
                quarantine,
                config,
                handlers: RwLock::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
                replies: OnceCell::new(),
            }),
        }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.inner.transport
    }

    /// The quarantine.
    pub fn quarantine(&self) -> &Q {
        &self.inner.quarantine
    }

    /// Registers `handler` for each of its contracts.
    ///
    /// # Errors
    ///
    /// When one of them has a handler already (nothing is registered).
    pub fn register(&self, handler: impl Handler) -> Result<&Self, DuplicateHandler> {
        let handler: Arc<dyn Handler> = Arc::new(handler);
        let mut handlers = self.inner.handlers.write().unwrap_or_else(|e| e.into_inner());
        let contracts = handler.contracts();
        if let Some(taken) = contracts.iter().find(|c| handlers.contains_key(*c)) {
            return Err(DuplicateHandler {
                contract: taken.to_string(),
            });
        }
        for contract in contracts {
            let registered = Registered {
                handler: handler.clone(),
                metrics: metrics::ContractMetrics::new(contract),
            };
            handlers.insert(contract, Arc::new(registered));
        }
        Ok(self)
    }

    /// Registers an aggregate's repository as the handler of every command
    /// of the aggregate.
    ///
    /// # Errors
    ///
    /// When one of them has a handler already.
    pub fn handle_aggregate<A, S, N>(&self, repository: Repository<A, S, N>) -> Result<&Self, DuplicateHandler>
    where
        A: Aggregate,
        A::Command: CommandSet<Id = A::Id>,
        S: EventStore,
        N: SnapshotStore,
    {
        self.register(AggregateHandler::new(repository))
    }

    /// Sends `command` one way; returns its message id.
    ///
    /// # Errors
    ///
    /// When it cannot be encoded or the transport does not take it.
    pub async fn send<C: Command>(&self, command: &C) -> Result<Uuid, SendError> {
        let envelope = Envelope::command(command)?;
        let id = envelope.id;
        self.send_traced(Cow::Owned(envelope)).await?;
        Ok(id)
    }

    /// Sends a prepared envelope one way. Sending the same envelope again
    /// is safe: its effect happens once.
    ///
    /// # Errors
    ///
    /// When the transport does not take it.
    pub async fn send_envelope(&self, envelope: &Envelope) -> Result<(), SendError> {
        self.send_traced(Cow::Borrowed(envelope)).await
    }

    /// Sends `envelope`, writing the trace context into its headers: in
    /// place when the envelope is the caller's own to give (`send`,
    /// `ask`), into a copy when it is borrowed.
    async fn send_traced(&self, envelope: Cow<'_, Envelope>) -> Result<(), SendError> {
        if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(&envelope.payload) {
            return Err(SendError::InvalidPayload {
                message_id: envelope.id,
                reason: error.to_string(),
            });
        }
        // At DEBUG: at INFO the span the send is made in (an HTTP
        // request's, a process manager's, the application's own) already
        // covers it, and the delivery names the contract and the message
        // again; a span of its own would cost every command a span.
        let span = tracing::debug_span!(
            "treaty.bus.send",
            otel.kind = "producer",
            contract = %envelope.contract,
            message_id = %envelope.id,
        );
        let current;
        let sender = if span.is_disabled() {
            current = tracing::Span::current();
            &current
        } else {
            &span
        };
        let id = envelope.id;
        // The delivery's span becomes a child of the sender's, in
        // whichever process it is handled.
        let body = match envelope {
            // Owned: no copy of the envelope (its contract, payload and
            // headers) for the sake of one header.
            Cow::Owned(mut envelope) => {
                trace::inject(sender, &mut envelope.headers);
                envelope.to_json()
            }
            Cow::Borrowed(envelope) => match trace::injected(sender, &envelope.headers) {
                Some(headers) => Envelope {
                    headers,
                    ..envelope.clone()
                }
                .to_json(),
                None => envelope.to_json(),
            },
        };
        self.inner
            .transport
            .send(id, body, Duration::ZERO)
            .instrument(span)
            .await?;
        Ok(())
    }

    /// Sends `command` and waits for its outcome: the events it produced
    /// and the stream's new version, or the domain error. No view is
    /// polled; the handling bus replies directly.
    ///
    /// # Errors
    ///
    /// [`AskError::Refused`] with the domain error,
    /// [`AskError::Quarantined`], [`AskError::Timeout`] after the
    /// configured timeout, or a send error.
    pub async fn ask<C: Command>(&self, command: &C) -> Result<Handled, AskError> {
        let envelope = Envelope::command(command).map_err(SendError::from)?;
        self.ask_envelope(envelope, self.inner.config.ask_timeout).await
    }

    /// Like [`Bus::ask`], with a prepared envelope and a timeout.
    ///
    /// # Errors
    ///
    /// As [`Bus::ask`].
    pub async fn ask_envelope(&self, mut envelope: Envelope, timeout: Duration) -> Result<Handled, AskError> {
        self.listen_for_replies().await;
        envelope.reply_to = Some(self.inner.transport.reply_address());
        let (sender, receiver) = oneshot::channel();
        self.pending().insert(envelope.id, sender);
        // Removes the entry however this ends, also when the caller drops
        // the future: an abandoned ask must not stay in the map.
        let _waiting = PendingAsk {
            pending: &self.inner.pending,
            id: envelope.id,
        };
        let message_id = envelope.id;
        self.send_traced(Cow::Owned(envelope)).await?;
        let outcome = tokio::time::timeout(timeout, receiver).await;
        match outcome {
            Ok(Ok(Outcome::Handled(handled))) => Ok(handled),
            Ok(Ok(Outcome::Refused { error, value })) => Err(AskError::Refused(match value {
                Some(value) => Refusal::with_error(error, value),
                None => Refusal::new(error),
            })),
            Ok(Ok(Outcome::Quarantined { error })) => Err(AskError::Quarantined(error)),
            Ok(Err(_)) | Err(_) => Err(AskError::Timeout { message_id, timeout }),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<Outcome>>> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the task that hands replies to waiting asks, once.
    async fn listen_for_replies(&self) {
        let inner = Arc::downgrade(&self.inner);
        let transport = self.inner.transport.clone();
        self.inner
            .replies
            .get_or_init(|| {
                std::future::ready(tokio::spawn(async move {
                    loop {
                        let body = match transport.receive_reply().await {
                            Ok(body) => body,
                            Err(TransportError::Closed) => return,
                            Err(error) => {
                                tracing::warn!("bus: receiving replies failed: {error}; trying again in 1s");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                                continue;
                            }
                        };
                        let Some(inner) = inner.upgrade() else { return };
                        match Reply::from_json(&body) {
                            Ok(reply) => {
                                let waiting = inner
                                    .pending
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .remove(&reply.message_id);
                                if let Some(waiting) = waiting {
                                    let _ = waiting.send(reply.outcome);
                                }
                            }
                            Err(error) => tracing::warn!("bus: ignoring a reply: {error}"),
                        }
                    }
                }))
            })
            .await;
    }

    /// Starts handling the transport's messages with the registered
    /// handlers, and sending again the quarantined messages an operator
    /// asked to retry.
    pub fn start(&self) -> RunningBus {
        let (cancel, cancelled) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(self.inner.config.concurrency.max(1)));
        let consumer = tokio::spawn(consume(self.inner.clone(), permits.clone(), cancelled.clone()));
        let retries = tokio::spawn(resend_retries(self.inner.clone(), cancelled));
        RunningBus {
            cancel,
            tasks: vec![consumer, retries],
            permits,
            concurrency: self.inner.config.concurrency.max(1),
        }
    }
}

/// Removes an ask's entry from the pending asks when dropped.
struct PendingAsk<'a> {
    pending: &'a Mutex<HashMap<Uuid, oneshot::Sender<Outcome>>>,
    id: Uuid,
}

impl Drop for PendingAsk<'_> {
    fn drop(&mut self) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl<T, Q> Drop for Inner<T, Q> {
    fn drop(&mut self) {
        // The reply listener holds the transport; without this it would
        // wait for replies (and keep a broker connection) for ever.
        if let Some(listener) = self.replies.get() {
            listener.abort();
        }
    }
}

/// A bus handling messages. [`RunningBus::shutdown`] stops taking new
/// ones and waits for those in progress.
pub struct RunningBus {
    cancel: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    permits: Arc<Semaphore>,
    concurrency: usize,
}

impl RunningBus {
    /// Stops taking messages and waits until those being handled are
    /// settled. Messages not yet taken stay with the transport.
    pub async fn shutdown(self) {
        let _ = self.cancel.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let _ = self.permits.acquire_many(self.concurrency as u32).await;
    }
}

async fn consume<T: Transport, Q: Quarantine>(
    inner: Arc<Inner<T, Q>>,
    permits: Arc<Semaphore>,
    mut cancelled: watch::Receiver<bool>,
) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let delivery = tokio::select! {
            biased;
            _ = cancelled.wait_for(|stop| *stop) => return,
            delivery = inner.transport.receive() => delivery,
        };
        match delivery {
            Ok(delivery) => {
                let inner = inner.clone();
                tokio::spawn(async move {
                    process(&inner, delivery).await;
                    drop(permit);
                });
            }
            Err(TransportError::Closed) => return,
            Err(error) => {
                tracing::warn!("bus: receiving failed: {error}; trying again in 1s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Handles one delivery and settles it.
async fn process<T: Transport, Q: Quarantine>(inner: &Inner<T, Q>, delivery: Delivery) {
    let envelope = match Envelope::from_json(&delivery.body) {
        Ok(envelope) => envelope,
        Err(malformed) => {
            let parked = ParkedMessage {
                // Derived from the bytes, so a redelivery of the same bytes
                // replaces its entry instead of adding one.
                id: Uuid::new_v8(xxhash_rust::const_xxh3::xxh3_128(&delivery.body).to_be_bytes()),
                contract: None,
                body: delivery.body.clone(),
                error: malformed.reason.clone(),
                attempts: 1,
                first_seen: Timestamp::now(),
                parked_at: Timestamp::now(),
                retry_requested: false,
            };
            metrics::bus_settled(metrics::ContractMetrics::unknown(), Settled::Quarantined);
            park(inner, delivery, parked, None).await;
            return;
        }
    };
    let span = tracing::info_span!(
        "treaty.bus.deliver",
        otel.kind = "consumer",
        contract = %envelope.contract,
        message_id = %envelope.id,
        attempt = envelope.attempt,
        correlation_id = envelope.correlation_id.map(tracing::field::display),
        causation_id = envelope.causation_id.map(tracing::field::display),
        outcome = tracing::field::Empty,
    );
    // Every attempt, and a message sent again from the quarantine, joins
    // the sender's trace: the headers travel unchanged.
    trace::set_parent_from_headers(&span, &envelope.headers);
    settle(inner, delivery, envelope).instrument(span).await;
}

/// A contract's handler, and the keys of its contract's metrics.
struct Registered {
    handler: Arc<dyn Handler>,
    metrics: metrics::ContractMetrics,
}

/// Handles a delivered envelope and settles its delivery: acknowledged,
/// requeued for a retry, or parked.
async fn settle<T: Transport, Q: Quarantine>(inner: &Inner<T, Q>, delivery: Delivery, mut envelope: Envelope) {
    let registered = inner
        .handlers
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(envelope.contract.as_str())
        .cloned();
    // The registered name, not the envelope's text, labels the metrics.
    let counted = registered
        .as_ref()
        .map_or(metrics::ContractMetrics::unknown(), |registered| &registered.metrics);
    let result = match &registered {
        None => Err(HandleError::Permanent(format!(
            "no handler for contract {} (message {}): register one on the bus that consumes this transport",
            envelope.contract, envelope.id
        ))),
        Some(registered) => AssertUnwindSafe(metrics::handling(
            counted,
            inner.transport.handling(
                &delivery,
                registered
                    .handler
                    .handle(&envelope)
                    // At DEBUG: `treaty.bus.deliver` around it already times
                    // the delivery, and an aggregate's handler has its
                    // `treaty.aggregate.execute` inside.
                    .instrument(tracing::debug_span!("treaty.bus.handle", contract = %envelope.contract)),
            ),
        ))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(HandleError::Transient(format!(
                "the handler panicked: {}",
                panic_text(&panic)
            )))
        }),
    };
    let result = result.and_then(|handled| match handled.events.iter().find(|e| !is_json(&e.payload)) {
        Some(event) => Err(HandleError::Permanent(format!(
            "the handler of {} produced a {} event whose payload is not JSON",
            envelope.contract, event.contract
        ))),
        None => Ok(handled),
    });
    let span = tracing::Span::current();
    let outcome = match result {
        Ok(handled) => {
            metrics::bus_settled(counted, Settled::Handled);
            Outcome::Handled(handled)
        }
        Err(HandleError::Refused(refusal)) => {
            metrics::bus_settled(counted, Settled::Refused);
            Outcome::Refused {
                error: refusal.message().to_string(),
                value: refusal.error_json().cloned(),
            }
        }
        Err(HandleError::Transient(error)) if envelope.attempt < inner.config.retry.max_attempts => {
            metrics::bus_settled(counted, Settled::Retried);
            let delay = inner.config.retry.delay(envelope.attempt);
            tracing::warn!(
                "bus: message {} ({}) failed attempt {} of {}: {error}; retrying in {delay:?}",
                envelope.id,
                envelope.contract,
                envelope.attempt,
                inner.config.retry.max_attempts
            );
            span.record("outcome", "retry");
            envelope.attempt += 1;
            if let Err(error) = inner.transport.requeue(delivery, envelope.to_json(), delay).await {
                tracing::warn!("bus: cannot requeue message {}: {error}", envelope.id);
            }
            return;
        }
        Err(HandleError::Transient(error) | HandleError::Permanent(error)) => {
            span.record("outcome", "quarantined");
            metrics::bus_settled(counted, Settled::Quarantined);
            let parked = ParkedMessage {
                id: envelope.id,
                contract: Some(envelope.contract.clone()),
                body: delivery.body.clone(),
                error: error.clone(),
                attempts: envelope.attempt,
                first_seen: envelope.sent_at,
                parked_at: Timestamp::now(),
                retry_requested: false,
            };
            park(inner, delivery, parked, envelope.reply_to.as_deref()).await;
            return;
        }
    };
    span.record(
        "outcome",
        match &outcome {
            Outcome::Handled(_) => "handled",
            Outcome::Refused { .. } => "refused",
            Outcome::Quarantined { .. } => "quarantined",
        },
    );
    if let Err(error) = inner.transport.ack(delivery).await {
        tracing::warn!("bus: cannot acknowledge message {}: {error}", envelope.id);
    }
    reply(inner, &envelope, outcome).await;
}

/// Parks a message in the quarantine, then takes it out of circulation.
/// When parking fails the delivery is left unsettled, so the transport
/// delivers it again rather than lose it.
async fn park<T: Transport, Q: Quarantine>(
    inner: &Inner<T, Q>,
    delivery: Delivery,
    parked: ParkedMessage,
    reply_to: Option<&str>,
) {
    let (id, error) = (parked.id, parked.error.clone());
    tracing::error!(
        "bus: message {id} quarantined after {} attempt(s): {error}",
        parked.attempts
    );
    if let Err(failure) = inner.quarantine.park(parked).await {
        tracing::error!("bus: cannot quarantine message {id}: {failure}; it will be delivered again");
        return;
    }
    if let Err(failure) = inner.transport.dead_letter(delivery, &error).await {
        tracing::warn!("bus: cannot dead-letter message {id}: {failure}");
    }
    if let Some(to) = reply_to {
        let reply = Reply {
            message_id: id,
            outcome: Outcome::Quarantined { error },
        };
        if let Err(failure) = inner.transport.reply(to, reply.to_json()).await {
            tracing::warn!("bus: cannot reply to {to}: {failure}");
        }
    }
}

async fn reply<T: Transport, Q: Quarantine>(inner: &Inner<T, Q>, envelope: &Envelope, outcome: Outcome) {
    let Some(to) = &envelope.reply_to else { return };
    let reply = Reply {
        message_id: envelope.id,
        outcome,
    };
    if let Err(error) = inner.transport.reply(to, reply.to_json()).await {
        tracing::warn!("bus: cannot reply to {to}: {error}");
    }
}

/// Sends again the quarantined messages an operator asked to retry, as
/// first attempts, then removes them from the quarantine. A crash between
/// the two sends one twice, which deduplication absorbs.
async fn resend_retries<T: Transport, Q: Quarantine>(inner: Arc<Inner<T, Q>>, mut cancelled: watch::Receiver<bool>) {
    loop {
        if let Err(error) = resend_once(&inner).await {
            tracing::warn!("bus: cannot read quarantine retries: {error}");
        }
        tokio::select! {
            _ = cancelled.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(inner.config.quarantine_poll) => {}
        }
    }
}

async fn resend_once<T: Transport, Q: Quarantine>(inner: &Inner<T, Q>) -> Result<(), QuarantineError> {
    for requested in inner.quarantine.retries().await? {
        if let Err(error) = resend(inner, requested.id).await {
            tracing::warn!("bus: cannot send message {} again: {error}", requested.id);
        }
    }
    Ok(())
}

/// Sends one parked message again. Claiming the request first means one
/// bus sends it however many share the quarantine; removing it only if it
/// was not parked again meanwhile keeps a resent message that failed at
/// once (and was parked anew) in the quarantine.
async fn resend<T: Transport, Q: Quarantine>(inner: &Inner<T, Q>, id: Uuid) -> Result<(), QuarantineError> {
    let Some(parked) = inner.quarantine.claim_retry(id).await? else {
        return Ok(());
    };
    let body = match Envelope::from_json(&parked.body) {
        Ok(mut envelope) => {
            envelope.attempt = 1;
            // Whoever asked gave up long ago.
            envelope.reply_to = None;
            envelope.to_json()
        }
        Err(_) => parked.body.clone(),
    };
    if let Err(error) = inner.transport.send(id, body, Duration::ZERO).await {
        tracing::warn!("bus: cannot send message {id} again: {error}; asking again for the next poll");
        inner.quarantine.request_retry(id).await?;
        return Ok(());
    }
    if inner.quarantine.remove_if_parked_at(id, parked.parked_at).await? {
        tracing::info!("bus: message {id} sent again from the quarantine");
    } else {
        tracing::info!("bus: message {id} sent again from the quarantine, and parked again since");
    }
    Ok(())
}

fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        text.to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-text panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_jitter_and_a_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for _ in 0..100 {
            let first = policy.delay(1);
            assert!(
                first >= Duration::from_millis(50) && first <= Duration::from_millis(100),
                "{first:?}"
            );
            let third = policy.delay(3);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
                "{third:?}"
            );
            let late = policy.delay(30);
            assert!(
                late >= Duration::from_millis(500) && late <= Duration::from_secs(1),
                "{late:?}"
            );
        }
    }
}
