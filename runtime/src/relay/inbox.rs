//! The inbox: integration events consumed from RabbitMQ, checked against
//! this build's contracts, and handled with an effect that happens once.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::Instrument as _;

use super::amqp::{self, Backoff, DEFAULT_EXCHANGE_PREFIX};
use super::compatibility::check_compatible;
use super::event::{header, IntegrationEvent};
use crate::bus::amqp::declare_durable;
use crate::bus::{HandleError, ParkedMessage, Quarantine, RetryPolicy};
use crate::contract::ContractInfo;
use crate::telemetry::trace;
use crate::types::{Timestamp, Uuid};
use crate::CompatibilityMode;

/// Handles the integration events of some contracts.
///
/// Its effect must happen once per event id, however often the event is
/// delivered (a relay publishes again after a failure, the broker
/// redelivers what was not acknowledged): the effect and the record that
/// the event was handled commit together. With an aggregate, execute the
/// reaction with [`Repository::execute_message`] and the event's id as
/// the message id: its events get ids derived from the event id
/// ([`message_event_id`]), so a repeat finds them and changes nothing.
///
/// [`Repository::execute_message`]: crate::aggregate::Repository::execute_message
/// [`message_event_id`]: crate::store::message_event_id
pub trait IntegrationHandler: Send + Sync + 'static {
    /// The contracts it handles, as this build compiled them: the inbox
    /// binds its queue to them and checks each event against them
    /// ([`check_compatible`](super::check_compatible)).
    fn contracts(&self) -> Vec<ContractInfo>;

    /// Handles one event. [`HandleError::Transient`] is retried as
    /// [`InboxConfig::retry`] says, then parked;
    /// [`HandleError::Permanent`] is parked at once;
    /// [`HandleError::Refused`] settles the event (the domain said no, and
    /// will say so again). The inbox calls it for the retries of an event
    /// that failed in a batch.
    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>>;

    /// Handles the events a lane holds at once (at most
    /// [`InboxConfig::batch`], in the order they came), so that their
    /// effects can commit together, such as one append per stream: one
    /// durable commit for many events rather than one each.
    ///
    /// Returns one result per event, in order (at least the first
    /// event's), meaning what
    /// [`handle`](Self::handle)'s result means; the inbox acknowledges each
    /// event after the whole batch returned, parks those that failed
    /// permanently, and retries those that failed transiently one at a
    /// time with `handle`, in order, before it takes the next batch. Fewer
    /// results than events say that the events after them were not
    /// handled: they come first in the next batch.
    ///
    /// Events of one stream must take effect in order: once an event of a
    /// stream failed, the later events of that stream in the batch must
    /// fail too (without effect) or be left without a result. Each effect
    /// must still happen once per event id whatever batch the event comes
    /// in: after a redelivery, a batch may hold events that were handled
    /// before beside some that were not.
    ///
    /// The default hands the events to `handle` one after the other and
    /// stops at the first that fails.
    fn handle_batch<'a>(&'a self, events: &'a [IntegrationEvent]) -> BoxFuture<'a, Vec<Result<(), HandleError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(events.len());
            for event in events {
                let result = self.handle(event).await;
                let failed = matches!(result, Err(HandleError::Transient(_) | HandleError::Permanent(_)));
                results.push(result);
                if failed {
                    break;
                }
            }
            results
        })
    }
}

/// How an [`Inbox`] consumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxConfig {
    /// The inbox's durable queue, one per subscribing service: the
    /// instances of one service share it, and each service has its own.
    pub queue: String,
    /// The exchange prefix the publishing relays use.
    pub exchange_prefix: String,
    /// The most deliveries handed out and not yet acknowledged.
    pub prefetch: u16,
    /// How many batches are handled at once. Events of one stream are
    /// always handled one after the other, in the order they came.
    pub lanes: usize,
    /// The most events a lane hands to
    /// [`IntegrationHandler::handle_batch`] at once: those it holds when
    /// it is free, up to this many.
    pub batch: usize,
    /// Retries of transient failures before an event is parked.
    pub retry: RetryPolicy,
    /// Whether to declare the queue as a quorum queue (falling back to a
    /// classic durable queue when the broker refuses).
    pub quorum: bool,
    /// The longest pause between two attempts to reconnect.
    pub max_reconnect_delay: Duration,
    /// How compatible the schema of an event must be with this build's
    /// when the build knows its version under another fingerprint
    /// ([`check_compatible`](super::check_compatible)): backward by
    /// default, where this build must read it.
    pub compatibility: CompatibilityMode,
}

impl InboxConfig {
    /// Consumes `queue` with the default exchange prefix and limits.
    pub fn new(queue: impl Into<String>) -> Self {
        InboxConfig {
            queue: queue.into(),
            exchange_prefix: DEFAULT_EXCHANGE_PREFIX.to_string(),
            // 256 and 64 rather than 64 and 16: with one durable commit
            // per event, a few busy streams (one stream's events are
            // handled one after the other) left the inbox waiting on
            // fsyncs; more deliveries in flight spread over more lanes
            // fill the store's group commits (relay_rabbitmq_events).
            prefetch: 256,
            lanes: 64,
            batch: 64,
            retry: RetryPolicy::default(),
            quorum: true,
            max_reconnect_delay: Duration::from_secs(5),
            compatibility: CompatibilityMode::Backward,
        }
    }
}

/// Why an inbox cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The configuration or handler cannot work.
    #[error("{0}")]
    Config(String),
    /// The first connection failed: the queue is not declared.
    #[error("inbox {queue}: {reason}")]
    Broker {
        /// The queue.
        queue: String,
        /// What failed.
        reason: String,
    },
}

/// Receives integration events published by relays of other services,
/// and hands each to its [`IntegrationHandler`] once it passed the
/// contract check.
///
/// Its durable queue [`InboxConfig::queue`] is bound to the exchange of
/// each handled contract's namespace with the contract name as routing
/// key, and consumed with manual acknowledgements: a delivery is
/// acknowledged only after its handler's effect committed, or after it
/// was parked in the quarantine. An event whose headers are not a Treaty
/// integration event, or whose contract version this build does not read
/// as the publisher meant it ([`check_compatible`](super::check_compatible)),
/// is parked at once with the reason, as an envelope (so `treaty
/// quarantine list` and `show` print it); the inbox does not act on a
/// retry request of a parked event. When parking fails, the delivery is
/// put back in the queue.
///
/// Events are spread over [`InboxConfig::lanes`] by stream, so events of
/// one stream are handled in the order they came while streams proceed
/// side by side. A lane hands the events it holds when it is free, up to
/// [`InboxConfig::batch`], to [`IntegrationHandler::handle_batch`] at
/// once, acknowledges those handled once the batch returned, and retries
/// a failed one alone, in order, before its next batch. When the connection fails, the inbox connects again
/// with backoff; what was delivered and not acknowledged comes again,
/// and the handler's deduplication absorbs it.
pub struct Inbox<H, Q> {
    url: String,
    handler: Arc<H>,
    quarantine: Q,
    config: InboxConfig,
}

impl<H: IntegrationHandler, Q: Quarantine> Inbox<H, Q> {
    /// An inbox on the broker at `url`, handling with `handler` and
    /// parking in `quarantine`.
    pub fn new(url: impl Into<String>, handler: H, quarantine: Q, config: InboxConfig) -> Self {
        Inbox {
            url: url.into(),
            handler: Arc::new(handler),
            quarantine,
            config,
        }
    }

    /// Declares the queue and its bindings, then consumes in a task until
    /// [`RunningInbox::shutdown`]. Once this returns, events published to
    /// the bound exchanges wait in the queue for the inbox.
    ///
    /// # Errors
    ///
    /// [`InboxError::Config`] when the handler handles nothing or no lane
    /// is configured, [`InboxError::Broker`] when the first connection or
    /// declaration fails.
    pub async fn start(self) -> Result<RunningInbox, InboxError> {
        let contracts = self.handler.contracts();
        if contracts.is_empty() {
            return Err(InboxError::Config(format!(
                "inbox {}: its handler handles no contract",
                self.config.queue
            )));
        }
        if self.config.batch == 0 {
            return Err(InboxError::Config(format!(
                "inbox {}: batch is 0; a lane must hand at least one event at a time to the handler",
                self.config.queue
            )));
        }
        if self.config.lanes == 0 {
            return Err(InboxError::Config(format!(
                "inbox {}: lanes is 0; it must handle at least one event at a time",
                self.config.queue
            )));
        }
        let first = self.open(&contracts).await.map_err(|reason| InboxError::Broker {
            queue: self.config.queue.clone(),
            reason,
        })?;
        let (stop_tx, stop) = watch::channel(false);
        let settled = Arc::new(AtomicU64::new(0));
        let shared = Arc::new(Shared {
            handler: self.handler.clone(),
            quarantine: self.quarantine.clone(),
            contracts,
            retry: self.config.retry.clone(),
            batch: self.config.batch,
            compatibility: self.config.compatibility,
            queue: self.config.queue.clone(),
            settled: settled.clone(),
        });
        let task = tokio::spawn(self.run(shared, first, stop));
        Ok(RunningInbox {
            stop: stop_tx,
            settled,
            task,
        })
    }

    /// Connects, declares the queue, the exchanges and the bindings.
    async fn open(&self, contracts: &[ContractInfo]) -> Result<(Connection, Channel), String> {
        let queue = &self.config.queue;
        let connection = amqp::connect(&self.url, &format!("treaty inbox {queue}")).await?;
        let declared = async {
            let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
            let (channel, _) = declare_durable(&connection, channel, queue, FieldTable::default(), self.config.quorum)
                .await
                .map_err(|e| e.to_string())?;
            for contract in contracts {
                let exchange = amqp::exchange(&self.config.exchange_prefix, contract.name);
                amqp::declare_exchange(&channel, &exchange).await?;
                channel
                    .queue_bind(
                        queue.as_str().into(),
                        exchange.as_str().into(),
                        contract.name.into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                    .map_err(|e| format!("cannot bind {queue} to {exchange} for {}: {e}", contract.name))?;
            }
            channel
                .basic_qos(self.config.prefetch, BasicQosOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(channel)
        }
        .await;
        match declared {
            Ok(channel) => Ok((connection, channel)),
            Err(error) => {
                amqp::close(&connection).await;
                Err(error)
            }
        }
    }

    async fn run(self, shared: Arc<Shared<H, Q>>, first: (Connection, Channel), mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(self.config.max_reconnect_delay);
        let mut session = Some(first);
        loop {
            if let Some((connection, channel)) = session.take() {
                backoff.reset();
                let result = self.consume(&shared, &channel, &mut stop).await;
                amqp::close(&connection).await;
                match result {
                    Ok(()) => return,
                    Err(error) => tracing::warn!("inbox {}: {error}; reconnecting", self.config.queue),
                }
            }
            if !backoff.wait(&mut stop).await {
                return;
            }
            match self.open(&shared.contracts).await {
                Ok(opened) => {
                    tracing::info!("inbox {}: connected to the broker again", self.config.queue);
                    session = Some(opened);
                }
                Err(error) => tracing::warn!("inbox {}: cannot reconnect: {error}", self.config.queue),
            }
        }
    }

    /// Consumes on `channel` until `stop` (`Ok`, once the lanes handled
    /// what they hold) or a failure (the lanes are stopped).
    async fn consume(
        &self,
        shared: &Arc<Shared<H, Q>>,
        channel: &Channel,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let queue = &self.config.queue;
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume {queue}: {e}"))?;
        let mut lanes = JoinSet::new();
        let senders: Vec<_> = (0..self.config.lanes)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                lanes.spawn(lane(shared.clone(), rx));
                tx
            })
            .collect();
        let failure = loop {
            let next = tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break None,
                next = deliveries.next() => next,
            };
            let delivery = match next {
                Some(Ok(delivery)) => delivery,
                Some(Err(error)) => break Some(format!("consuming {queue} failed: {error}")),
                None => break Some(format!("the broker ended the consumer of {queue}")),
            };
            let headers = amqp::text_headers(delivery.properties.headers().as_ref());
            let lane = lane_of(headers.get(header::STREAM), senders.len());
            // A lane ends only when its sender is dropped, below.
            let _ = senders[lane].send((headers, delivery));
        };
        drop(senders);
        match failure {
            None => {
                // What the lanes hold was delivered to this inbox: handle
                // it rather than leave it unacknowledged until the close.
                while lanes.join_next().await.is_some() {}
                Ok(())
            }
            Some(error) => {
                // Their acknowledgements can no longer reach the broker,
                // which delivers those events again.
                lanes.shutdown().await;
                Err(error)
            }
        }
    }
}

/// The lane of a stream: the same for every event of the stream.
fn lane_of(stream: Option<&String>, lanes: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    stream.hash(&mut hasher);
    (hasher.finish() % lanes as u64) as usize
}

/// What the lanes share.
struct Shared<H, Q> {
    handler: Arc<H>,
    quarantine: Q,
    contracts: Vec<ContractInfo>,
    retry: RetryPolicy,
    batch: usize,
    compatibility: CompatibilityMode,
    queue: String,
    settled: Arc<AtomicU64>,
}

type Incoming = (BTreeMap<String, String>, lapin::message::Delivery);

/// Handles the deliveries given to one lane: those it holds when it is
/// free, up to [`InboxConfig::batch`], as one batch.
async fn lane<H: IntegrationHandler, Q: Quarantine>(
    shared: Arc<Shared<H, Q>>,
    mut incoming: mpsc::UnboundedReceiver<Incoming>,
) {
    // Deliveries the handler left without a result: they come first.
    let mut pending: VecDeque<Incoming> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match incoming.recv().await {
                Some(next) => pending.push_back(next),
                None => return,
            }
        }
        while pending.len() < shared.batch {
            match incoming.try_recv() {
                Ok(next) => pending.push_back(next),
                Err(_) => break,
            }
        }
        let taken = pending.len().min(shared.batch);
        let batch: Vec<Incoming> = pending.drain(..taken).collect();
        let unhandled = handle_batch(&shared, batch).await;
        for delivery in unhandled.into_iter().rev() {
            pending.push_front(delivery);
        }
    }
}

/// Handles one batch: reads and checks each delivery (parking those that
/// are no Treaty event or not compatible), hands the events to the
/// handler at once, then settles each; returns the deliveries the
/// handler left without a result, in order.
async fn handle_batch<H: IntegrationHandler, Q: Quarantine>(
    shared: &Shared<H, Q>,
    batch: Vec<Incoming>,
) -> Vec<Incoming> {
    let mut events = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::with_capacity(batch.len());
    for (headers, delivery) in batch {
        match read(shared, &headers, &delivery.data) {
            Ok(event) => {
                events.push(event);
                deliveries.push((headers, delivery));
            }
            Err(parked) => settle(shared, &delivery, Some(*parked)).await,
        }
    }
    if events.is_empty() {
        return Vec::new();
    }
    let span = batch_span(&shared.queue, &events, 1);
    let mut results = shared.handler.handle_batch(&events).instrument(span).await;
    if results.is_empty() {
        // Else the lane would hand the same batch again and again: the
        // first event goes through the retries, alone.
        results.push(Err(HandleError::Transient(format!(
            "the handler's handle_batch returned no result for a batch of {} events; it must return at least the \
             first event's",
            events.len()
        ))));
    }
    let handled = results.len().min(events.len());
    let unhandled = deliveries.split_off(handled);
    // The events whose effects committed (or that were refused) are
    // settled together: their acknowledgements leave at once rather than
    // one after the other.
    let mut failed = Vec::new();
    let mut settled = Vec::with_capacity(handled);
    for ((event, (_, delivery)), result) in events.iter().zip(&deliveries).zip(results) {
        match result {
            Ok(()) => settled.push(settle(shared, delivery, None)),
            Err(HandleError::Refused(reason)) => {
                refused(event, &reason);
                settled.push(settle(shared, delivery, None));
            }
            Err(failure) => failed.push((event, delivery, failure)),
        }
    }
    futures::future::join_all(settled).await;
    // One at a time, in order: a later event of the same stream failed
    // too, and is retried only after this one settled.
    for (event, delivery, failure) in failed {
        let outcome = retry(shared, event, failure).await;
        settle(shared, delivery, outcome).await;
    }
    unhandled
}

/// Reads and checks a delivery; `Err` with what to park when it is no
/// Treaty integration event or not one this build reads.
fn read<H, Q>(
    shared: &Shared<H, Q>,
    headers: &BTreeMap<String, String>,
    body: &[u8],
) -> Result<IntegrationEvent, Box<ParkedMessage>> {
    let event = IntegrationEvent::from_wire(headers, body.to_vec()).map_err(|reason| {
        let id = headers
            .get(header::EVENT_ID)
            .and_then(|id| Uuid::parse_str(id).ok())
            .unwrap_or_else(Uuid::new_v4);
        Box::new(parked(
            id,
            headers.get(header::CONTRACT).cloned(),
            body.to_vec(),
            format!("not a Treaty integration event: {reason}"),
            1,
            Timestamp::now(),
        ))
    })?;
    if let Err(reason) = check_compatible(&shared.contracts, &event, shared.compatibility) {
        return Err(Box::new(parked_event(&event, reason, 1)));
    }
    Ok(event)
}

/// After an event failed in its batch with `failure`: parks it when the
/// failure is permanent, else retries it alone as [`InboxConfig::retry`]
/// says; `Some` with what to park when it cannot be handled.
async fn retry<H: IntegrationHandler, Q: Quarantine>(
    shared: &Shared<H, Q>,
    event: &IntegrationEvent,
    failure: HandleError,
) -> Option<ParkedMessage> {
    let mut attempt = 1;
    let mut result = Err(failure);
    loop {
        match result {
            Ok(()) => return None,
            Err(HandleError::Refused(reason)) => {
                refused(event, &reason);
                return None;
            }
            Err(HandleError::Permanent(reason)) => return Some(parked_event(event, reason, attempt)),
            Err(HandleError::Transient(reason)) if attempt >= shared.retry.max_attempts => {
                return Some(parked_event(
                    event,
                    format!("{reason} (after {attempt} attempts)"),
                    attempt,
                ))
            }
            Err(HandleError::Transient(reason)) => {
                tracing::warn!(
                    "inbox: integration event {} ({}), attempt {attempt}: {reason}; retrying",
                    event.id,
                    event.contract
                );
                tokio::time::sleep(shared.retry.delay(attempt)).await;
                attempt += 1;
                let span = batch_span(&shared.queue, std::slice::from_ref(event), attempt);
                result = shared.handler.handle(event).instrument(span).await;
            }
        }
    }
}

fn refused(event: &IntegrationEvent, reason: &impl std::fmt::Display) {
    tracing::info!(
        "inbox: integration event {} ({} from stream {}) refused: {reason}",
        event.id,
        event.contract,
        event.stream
    );
}

/// Acknowledges a delivery, after parking `parked` if there is one; when
/// parking fails, the delivery goes back to the queue.
async fn settle<H, Q: Quarantine>(
    shared: &Shared<H, Q>,
    delivery: &lapin::message::Delivery,
    parked: Option<ParkedMessage>,
) {
    let settle = match parked {
        None => true,
        Some(parked) => {
            let (id, error) = (parked.id, parked.error.clone());
            match shared.quarantine.park(parked).await {
                Ok(()) => {
                    tracing::error!("inbox: parked integration event {id}: {error}");
                    true
                }
                Err(failure) => {
                    tracing::error!(
                        "inbox: cannot park integration event {id} ({failure}); it goes back to the queue: {error}"
                    );
                    false
                }
            }
        }
    };
    let settled = if settle {
        delivery.acker.ack(BasicAckOptions::default()).await
    } else {
        delivery
            .acker
            .nack(BasicNackOptions {
                multiple: false,
                requeue: true,
            })
            .await
    };
    match settled {
        Ok(_) if settle => {
            shared.settled.fetch_add(1, Ordering::Relaxed);
        }
        Ok(_) => {}
        // The channel is gone: the broker delivers the event again.
        Err(error) => tracing::info!("inbox: cannot settle a delivery ({error}); it will come again"),
    }
}

/// The span of a batch's handling (`attempt` 1) or of an event's retry:
/// the child of the event's trace when it is one event, else linked to
/// the traces of its events (at most [`BATCH_LINKS`]), as far as their
/// metadata carries a `traceparent` (the relay sends the stored one).
fn batch_span(queue: &str, events: &[IntegrationEvent], attempt: u32) -> tracing::Span {
    let one = match events {
        [one] => Some(one),
        _ => None,
    };
    let same_contract = events
        .first()
        .map(|e| e.contract.as_str())
        .filter(|contract| events.iter().all(|e| e.contract == *contract));
    let span = tracing::info_span!(
        "treaty.inbox.batch",
        otel.kind = "consumer",
        queue,
        events = events.len(),
        attempt,
        contract = same_contract,
        stream = one.map(|e| tracing::field::display(&e.stream)),
        event_id = one.map(|e| tracing::field::display(e.id)),
        correlation_id = one.and_then(|e| e.metadata.correlation_id).map(tracing::field::display),
        causation_id = one.and_then(|e| e.metadata.causation_id).map(tracing::field::display),
    );
    match one {
        Some(event) => {
            trace::set_parent_from_headers(&span, &event.metadata.headers);
        }
        None => {
            trace::link_each(&span, events.iter().map(|e| &e.metadata.headers), BATCH_LINKS);
        }
    }
    span
}

/// The most traces one batch's span links to.
const BATCH_LINKS: usize = 32;

fn parked_event(event: &IntegrationEvent, error: String, attempts: u32) -> ParkedMessage {
    parked(
        event.id,
        Some(event.contract.clone()),
        event.to_parked_body(),
        error,
        attempts,
        event.metadata.timestamp,
    )
}

fn parked(
    id: Uuid,
    contract: Option<String>,
    body: Vec<u8>,
    error: String,
    attempts: u32,
    first_seen: Timestamp,
) -> ParkedMessage {
    ParkedMessage {
        id,
        contract,
        body,
        error,
        attempts,
        first_seen,
        parked_at: Timestamp::now(),
        retry_requested: false,
    }
}

/// An inbox at work.
pub struct RunningInbox {
    stop: watch::Sender<bool>,
    settled: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl RunningInbox {
    /// How many deliveries it has acknowledged (handled, refused or
    /// parked), repeats included.
    pub fn settled(&self) -> u64 {
        self.settled.load(Ordering::Relaxed)
    }

    /// Stops consuming, handles what was delivered already, and closes
    /// the connection.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}
