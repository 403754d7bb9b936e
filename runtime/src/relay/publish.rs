//! The relay: chosen events of a store, published to RabbitMQ in the
//! store's order, the checkpoint advanced only after the broker confirmed.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, PublisherConfirm};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::amqp::{self, Backoff, DEFAULT_EXCHANGE_PREFIX};
use super::checkpoint::RelayCheckpoints;
use super::event::IntegrationEvent;
use crate::bus::WriterSchema;
use crate::contract::ContractInfo;
use crate::store::registry::SCHEMA_FORMAT;
use crate::store::{EventStore, RecordedEvent};
use crate::telemetry::trace;

/// What a [`Relay`] publishes and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The relay's name: the key of its checkpoint. Two relays of one
    /// store with different names each publish everything.
    pub name: String,
    /// The contracts whose events are published; the store's other
    /// events are passed over.
    pub contracts: Vec<String>,
    /// Events of namespace `ns` go to the exchange `{prefix}ns`.
    pub exchange_prefix: String,
    /// The most events per batch: the checkpoint advances once per
    /// batch, after the broker confirmed it. The next batch is published
    /// while one is being confirmed, so up to twice as many events are
    /// unconfirmed.
    pub batch: usize,
    /// How long the broker may take to confirm a batch before the relay
    /// connects again and publishes from its checkpoint.
    pub confirm_timeout: Duration,
    /// The longest pause between two attempts to reconnect.
    pub max_reconnect_delay: Duration,
}

impl RelayConfig {
    /// Publishes the events of `contracts` under the relay name `name`,
    /// with the default exchange prefix and limits.
    pub fn new(name: impl Into<String>, contracts: &[ContractInfo]) -> Self {
        RelayConfig {
            name: name.into(),
            contracts: contracts.iter().map(|c| c.name.to_string()).collect(),
            exchange_prefix: DEFAULT_EXCHANGE_PREFIX.to_string(),
            batch: 256,
            confirm_timeout: Duration::from_secs(30),
            max_reconnect_delay: Duration::from_secs(5),
        }
    }

    fn check(&self) -> Result<(), RelayError> {
        let problem = if self.name.is_empty() {
            "the relay's name is empty; name it, since its checkpoint is kept under its name"
        } else if self.contracts.is_empty() {
            "the relay publishes no contract; list the contracts whose events other services receive"
        } else if self.batch == 0 {
            "the relay's batch is 0; it must publish at least one event at a time"
        } else {
            return Ok(());
        };
        Err(RelayError::Config(problem.to_string()))
    }
}

/// Why a relay cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
}

/// Publishes chosen events of a store to RabbitMQ, for the inboxes of
/// other services ([`Inbox`](super::Inbox)).
///
/// Each event of [`RelayConfig::contracts`] goes to the durable topic
/// exchange of its namespace with its contract name as routing key,
/// persistent, its payload as the body and everything else in headers
/// ([`header`](super::header)). The relay reads the store from its
/// checkpoint in position order, publishes a batch on one channel in
/// confirm mode, waits for every confirm of the batch, and only then
/// saves the position of the batch's last event (chosen or not) as its
/// checkpoint, in [`RelayCheckpoints`] beside the store. It reads and
/// publishes the next batch meanwhile, and saves a batch's checkpoint only
/// after the one before it.
///
/// So nothing is lost: an event counts as published only once the broker
/// has it. An event may be published twice: after a crash, a broker
/// restart or a connection failure between the confirms and the save,
/// the relay publishes again from its checkpoint, and inboxes, which
/// deduplicate by event id, absorb the repeats. Events of one stream are
/// published in the order of the store, on one channel, so a queue
/// receives them in that order; a repeat after a failure restarts from
/// the checkpoint in order too.
///
/// The exchange only routes to queues bound to it: events published
/// before any subscriber declared its queue reach nobody (publishing is
/// not `mandatory`, since a publisher does not know its subscribers).
/// Start subscribers first, or start the relay with a new name, which
/// publishes from the beginning of the store.
pub struct Relay<S, C> {
    store: S,
    checkpoints: C,
    url: String,
    config: RelayConfig,
}

impl<S: EventStore + Clone, C: RelayCheckpoints> Relay<S, C> {
    /// A relay of `store`'s events to the broker at `url`, keeping its
    /// checkpoint in `checkpoints`.
    ///
    /// # Errors
    ///
    /// [`RelayError::Config`] when the configuration cannot work.
    pub fn new(store: S, checkpoints: C, url: impl Into<String>, config: RelayConfig) -> Result<Self, RelayError> {
        config.check()?;
        Ok(Relay {
            store,
            checkpoints,
            url: url.into(),
            config,
        })
    }

    /// Starts publishing, in a task, until [`RunningRelay::shutdown`]. It
    /// connects (and reconnects) on its own, with backoff, logging each
    /// failure.
    pub fn start(self) -> RunningRelay {
        let (stop_tx, stop) = watch::channel(false);
        let (published_tx, published) = watch::channel(0);
        let task = tokio::spawn(self.run(stop, published_tx));
        RunningRelay {
            stop: stop_tx,
            published,
            task,
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>, published: watch::Sender<u64>) {
        let mut backoff = Backoff::new(self.config.max_reconnect_delay);
        loop {
            match self.session(&mut stop, &published, &mut backoff).await {
                Ok(()) => return,
                Err(error) => tracing::warn!(
                    "relay {}: {error}; publishing again from its checkpoint",
                    self.config.name
                ),
            }
            if !backoff.wait(&mut stop).await {
                return;
            }
        }
    }

    /// One connection: publishes until `stop` (`Ok`) or a failure.
    async fn session(
        &self,
        stop: &mut watch::Receiver<bool>,
        published: &watch::Sender<u64>,
        backoff: &mut Backoff,
    ) -> Result<(), String> {
        let name = &self.config.name;
        let connection = amqp::connect(&self.url, &format!("treaty relay {name}")).await?;
        let result = async {
            let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            let from = self
                .checkpoints
                .load(name)
                .await
                .map_err(|e| format!("cannot read its checkpoint: {e}"))?;
            published.send_replace(from);
            tracing::info!("relay {name}: connected; publishing from position {}", from + 1);
            backoff.reset();
            let mut declared = HashSet::new();
            let mut schemas = Schemas::default();
            let mut events = self.store.subscribe(from + 1);
            // Pipelined: while the broker confirms one batch and its
            // checkpoint is saved (in `settling`), the next batch is read
            // and published. The checkpoint still moves only after every
            // event up to it was confirmed, since a batch is settled only
            // after the one before it: at most two batches are unconfirmed.
            // Waiting for each batch before reading the next left the
            // channel idle during every store read and checkpoint fsync.
            let mut settling: Option<Settling> = None;
            let outcome = async {
                loop {
                    let first = loop {
                        // The guard of `wait_for` must not live across an
                        // await: the arms only say what happened.
                        let woke = tokio::select! {
                            biased;
                            _ = stop.wait_for(|stop| *stop) => Woke::Stop,
                            // A batch settled while the store had nothing new.
                            done = async { settling.as_mut().map(|batch| &mut batch.0).unwrap().await },
                                if settling.is_some() => Woke::Settled(done),
                            next = events.next() => Woke::Event(next),
                        };
                        match woke {
                            Woke::Stop => {
                                if let Some(batch) = settling.take() {
                                    published.send_replace(settled(batch).await?);
                                }
                                return Ok(());
                            }
                            Woke::Settled(done) => {
                                settling = None;
                                published.send_replace(joined(done)?);
                            }
                            Woke::Event(next) => break next,
                        }
                    };
                    let mut batch = vec![read(first)?];
                    while batch.len() < self.config.batch {
                        match events.next().now_or_never() {
                            Some(next) => batch.push(read(next)?),
                            None => break,
                        }
                    }
                    let span = batch_span(name, &self.config.exchange_prefix, &batch);
                    let confirms = self
                        .publish(&channel, &mut declared, &mut schemas, &batch)
                        .instrument(span)
                        .await?;
                    let last = batch.last().map_or(from, |event| event.position);
                    if let Some(previous) = settling.take() {
                        published.send_replace(settled(previous).await?);
                    }
                    settling = Some(Settling(tokio::spawn(settle(
                        confirms,
                        self.config.confirm_timeout,
                        self.checkpoints.clone(),
                        name.clone(),
                        last,
                    ))));
                }
            }
            .await;
            // On a failure, a batch still settling may save its checkpoint
            // only if the broker confirmed it; stop it all the same, and
            // the next session publishes again from the checkpoint.
            if let Some(batch) = settling {
                batch.0.abort();
            }
            outcome
        }
        .await;
        amqp::close(&connection).await;
        result
    }

    /// Publishes the chosen events of `batch`; their confirms are awaited
    /// by [`settle`].
    async fn publish(
        &self,
        channel: &Channel,
        declared: &mut HashSet<String>,
        schemas: &mut Schemas,
        batch: &[RecordedEvent],
    ) -> Result<Vec<(u64, PublisherConfirm)>, String> {
        let mut confirms = Vec::new();
        for event in batch {
            if !self.config.contracts.contains(&event.contract) {
                continue;
            }
            let exchange = amqp::exchange(&self.config.exchange_prefix, &event.contract);
            if !declared.contains(&exchange) {
                amqp::declare_exchange(channel, &exchange).await?;
                declared.insert(exchange.clone());
            }
            let properties = BasicProperties::default()
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_message_id(event.id.to_string().into())
                .with_type(event.contract.as_str().into())
                .with_headers(amqp::field_table(IntegrationEvent::headers_of(
                    event,
                    schemas.of(&self.store, &event.fingerprint).await?.as_ref(),
                )));
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    event.contract.as_str().into(),
                    BasicPublishOptions::default(),
                    &event.payload,
                    properties,
                )
                .await
                .map_err(|e| format!("cannot publish the event at position {}: {e}", event.position))?;
            confirms.push((event.position, confirm));
        }
        Ok(confirms)
    }
}

/// The writer schemas of the store's registry by fingerprint, sent with
/// each event (`treaty-schema`) so that an inbox whose build knows the
/// version under another fingerprint can judge it. The registry is read
/// again when an event has a fingerprint not met yet, which is once per
/// new writer schema.
#[derive(Default)]
struct Schemas {
    known: HashMap<String, Option<WriterSchema>>,
}

impl Schemas {
    /// The schema recorded for `fingerprint`, or `None` when the registry
    /// has none (written by a build without schemas) or one of a newer
    /// format.
    async fn of<S: EventStore>(&mut self, store: &S, fingerprint: &str) -> Result<Option<WriterSchema>, String> {
        if let Some(known) = self.known.get(fingerprint) {
            return Ok(known.clone());
        }
        let recorded = store
            .contracts()
            .await
            .map_err(|e| format!("cannot read the store's writer schemas: {e}"))?;
        for contract in recorded {
            let schema = contract
                .schema
                .filter(|_| contract.schema_format <= SCHEMA_FORMAT)
                .and_then(|text| WriterSchema::parse(&text).ok());
            self.known.insert(contract.fingerprint, schema);
        }
        Ok(self.known.entry(fingerprint.to_string()).or_insert(None).clone())
    }
}

/// The span of publishing one batch, linked to the traces of its events
/// (at most [`BATCH_LINKS`]) as far as their metadata carries a
/// `traceparent`: one span per batch keeps the cost off each event, and
/// the inboxes continue each event's own trace, which travels in its
/// headers.
fn batch_span(relay: &str, exchange_prefix: &str, batch: &[RecordedEvent]) -> tracing::Span {
    let span = tracing::info_span!(
        "treaty.relay.batch",
        otel.kind = "producer",
        relay,
        exchange_prefix,
        events = batch.len(),
        from_position = batch.first().map_or(0, |e| e.position),
        to_position = batch.last().map_or(0, |e| e.position),
    );
    trace::link_each(&span, batch.iter().map(|e| &e.metadata.headers), BATCH_LINKS);
    span
}

/// The most traces one batch's span links to.
const BATCH_LINKS: usize = 32;

/// What the relay woke up for.
enum Woke {
    Stop,
    Settled(Result<Result<u64, String>, tokio::task::JoinError>),
    Event(Option<Result<RecordedEvent, crate::store::ReadError>>),
}

/// A published batch being settled: its confirms awaited, then its
/// checkpoint saved; the task yields the checkpoint's position.
struct Settling(JoinHandle<Result<u64, String>>);

/// Waits for a batch to settle; the position its checkpoint reached.
async fn settled(batch: Settling) -> Result<u64, String> {
    joined(batch.0.await)
}

fn joined(done: Result<Result<u64, String>, tokio::task::JoinError>) -> Result<u64, String> {
    done.map_err(|e| format!("settling a batch failed: {e}"))?
}

/// Waits for every confirm of a batch (within `timeout`), then saves
/// `last`, the position of the batch's last event, as the checkpoint.
async fn settle<C: RelayCheckpoints>(
    confirms: Vec<(u64, PublisherConfirm)>,
    timeout: Duration,
    checkpoints: C,
    name: String,
    last: u64,
) -> Result<u64, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    for (position, confirm) in confirms {
        let confirmation = tokio::time::timeout_at(deadline, confirm)
            .await
            .map_err(|_| format!("the broker did not confirm the event at position {position} within {timeout:?}"))?
            .map_err(|e| format!("the broker did not confirm the event at position {position}: {e}"))?;
        if confirmation.is_nack() {
            return Err(format!("the broker refused the event at position {position}"));
        }
    }
    checkpoints
        .save(&name, last)
        .await
        .map_err(|e| format!("cannot save its checkpoint at position {last}: {e}"))?;
    Ok(last)
}

/// An event the subscription yielded, or why the relay stops reading.
fn read(next: Option<Result<RecordedEvent, crate::store::ReadError>>) -> Result<RecordedEvent, String> {
    match next {
        Some(Ok(event)) => Ok(event),
        Some(Err(error)) => Err(format!("cannot read the store: {error}")),
        None => Err("the store's subscription ended".to_string()),
    }
}

/// A relay at work.
pub struct RunningRelay {
    stop: watch::Sender<bool>,
    published: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl RunningRelay {
    /// The position of its checkpoint: every chosen event up to it was
    /// confirmed by the broker.
    pub fn published(&self) -> u64 {
        *self.published.borrow()
    }

    /// Returns once the checkpoint has reached `position`.
    pub async fn wait_for_position(&self, position: u64) {
        let mut published = self.published.clone();
        // The sender lives as long as the task, which runs until shutdown.
        let _ = published.wait_for(|published| *published >= position).await;
    }

    /// Stops publishing once the batch in flight is confirmed and its
    /// checkpoint saved (or has failed, and is published again by the
    /// next start), and closes the connection.
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}
