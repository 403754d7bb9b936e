//! The RabbitMQ transport (AMQP 0-9-1, through lapin).
//!
//! What it declares and guarantees is documented on [`AmqpTransport`],
//! where users read it.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use tokio::sync::{mpsc, watch, Notify};

use super::transport::{Delivery, Transport, TransportError};
use crate::types::Uuid;

/// The delivery tag bits that hold the broker's tag; the bits above hold
/// the connection generation. 2^44 deliveries on one channel would take
/// years at a million a second.
const TAG_BITS: u32 = 44;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;
/// The generation bits kept in a tag (it wraps after 2^20 reconnects).
const GENERATION_MASK: u64 = (1 << (64 - TAG_BITS)) - 1;

/// The first pause before connecting again; it doubles up to
/// [`AmqpConfig::max_reconnect_delay`].
pub(crate) const FIRST_RECONNECT_DELAY: Duration = Duration::from_millis(100);
/// How long opening a connection may take before it counts as failed.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing a connection politely may take; a dead one is dropped.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause before publishing again after the broker refused a message.
const NACK_PAUSE: Duration = Duration::from_millis(100);
/// How long a delay queue outlives its TTL once unused (`x-expires`).
const DELAY_QUEUE_EXPIRY_MARGIN: Duration = Duration::from_secs(30 * 60);
/// How often a delay queue in use is declared again, which restarts its
/// `x-expires` clock. Publishing does not restart it, so without this a
/// busy delay queue would expire with messages in it; since this is
/// shorter than the margin above, every message expires (moves on to the
/// command queue) before its delay queue can.
const DELAY_QUEUE_REDECLARE: Duration = Duration::from_secs(10 * 60);
/// The header that carries why a message was dead-lettered.
const REASON_HEADER: &str = "x-treaty-reason";
/// How long no [`Transport::receive`] may wait before the transport stops
/// consuming and puts the deliveries it prefetched back in the queue.
const UNWANTED_AFTER: Duration = Duration::from_secs(2);

/// How an [`AmqpTransport`] uses its broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpConfig {
    /// The command queue; the other queues and the dead-letter exchange
    /// are named after it (see [`AmqpTransport`]).
    pub queue: String,
    /// The most deliveries handed out and not yet settled. Keep it at or
    /// above the bus's concurrency so the bus never waits on the broker.
    pub prefetch: u16,
    /// Whether to declare the command and dead-letter queues as quorum
    /// queues (falling back to classic durable queues when the broker
    /// refuses); `false` declares classic queues outright.
    pub quorum: bool,
    /// How long publishing (send, requeue, dead-letter, reply) waits for
    /// the broker while it is unreachable before failing.
    pub outage_timeout: Duration,
    /// The longest pause between two attempts to reconnect.
    pub max_reconnect_delay: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        AmqpConfig {
            queue: "treaty.commands".to_string(),
            prefetch: 32,
            quorum: true,
            outage_timeout: Duration::from_secs(30),
            max_reconnect_delay: Duration::from_secs(5),
        }
    }
}

/// Commands and replies through a RabbitMQ broker: durable, acknowledged
/// after handling, surviving restarts of the broker and of the process.
///
/// Clones share one connection (re-established whenever it fails) and one
/// reply queue.
///
/// # Topology
///
/// Everything is named after [`AmqpConfig::queue`] (`Q`, `treaty.commands`
/// by default) and declared at connect and again after every reconnect:
///
/// - `Q`, the durable command queue. It is declared as a quorum queue
///   (`x-queue-type: quorum`, replicated and fsynced before the publisher
///   confirm; single-node brokers have them since RabbitMQ 3.8). When the
///   broker refuses that (an older broker, or `Q` exists already as a
///   classic queue), it is declared as a classic durable queue instead;
///   [`AmqpTransport::quorum`] tells which. Its `x-dead-letter-exchange`
///   is `Q.dlx`, so a message the broker itself gives up on (a delivery
///   limit, say) is kept rather than dropped.
/// - `Q.dlx`, a durable fanout exchange, and `Q.dead-letter`, the durable
///   queue bound to it (a quorum queue too when the broker takes one,
///   like `Q`). Quarantined messages
///   are published there explicitly, with the reason in the
///   `x-treaty-reason` header and a publisher confirm, and only then acked.
///   Publishing explicitly rather than nacking into the queue's dead-letter
///   exchange is what makes the reason travel with the message, and does
///   not depend on how each queue type confirms dead-lettering.
/// - `Q.delay.<ms>`, one classic durable queue per delay bucket, for
///   [`Transport::send`] and [`Transport::requeue`] with a delay. Its
///   queue-wide `x-message-ttl` is the bucket and its dead-letter target
///   is `Q` (through the default exchange), so a message moves to `Q` when
///   its time is up. A queue-wide TTL is used because per-message
///   `expiration` is only enforced at the head of a queue: a long delay
///   would hold back every shorter one behind it. Delays are rounded to
///   four buckets per doubling (at most 9 % off), so a retry policy uses a
///   few dozen queues at most; each has `x-expires` set a while after its
///   TTL, so buckets that are no longer used go away by themselves (this
///   transport declares a bucket again before that can happen to a
///   message it published). Delayed messages are persistent and survive a
///   broker restart; the move from a delay queue to `Q` is the broker's
///   own dead-lettering, which it does not confirm, so a broker crash at
///   that very moment can lose a delayed message.
/// - `Q.reply.<uuid>`, an exclusive, auto-delete queue per transport
///   instance: its [`Transport::reply_address`]. Replies are published to
///   the default exchange with the address as routing key, and are not
///   persistent: an asker that is gone cannot use them. The broker deletes
///   it when the connection that declared it ends; the transport declares
///   it again on the next, under a new name when the broker refuses the
///   old one (see below).
///
/// # Delivery
///
/// Every publish waits for the broker's publisher confirm and is
/// `mandatory` (a message no queue takes comes back as an error instead of
/// vanishing); commands and dead letters are persistent. Commands are
/// consumed with manual acknowledgements and [`AmqpConfig::prefetch`]
/// unacknowledged deliveries at most, from the first
/// [`Transport::receive`] on: a transport that only sends takes nothing.
///
/// The broker hands out up to `prefetch` deliveries ahead of the bus's
/// `receive` calls; until they are received, other consumers of `Q` cannot
/// have them. So when no `receive` has waited for a while (two seconds:
/// the bus was shut down with [`RunningBus::shutdown`], or every handler
/// of a saturated bus is busy), the transport stops consuming and puts the
/// deliveries nobody received back in the queue (a nack with requeue, which
/// RabbitMQ 4.3 and later do not count against a quorum queue's delivery
/// limit), where other consumers take them; the next `receive` consumes
/// again. Deliveries received and not yet settled stay with this transport
/// until they are settled. Closing the transport ([`AmqpTransport::close`],
/// or dropping the last clone) puts back at once every delivery it holds
/// that was not acknowledged, received or not: call it when the process
/// stops consuming for good.
///
/// [`RunningBus::shutdown`]: crate::bus::RunningBus::shutdown
///
/// # Reconnecting
///
/// When the connection or a channel fails (a broker restart, a network
/// cut), a supervisor task connects again with exponential backoff,
/// declares the topology again and consumes again. Publishing waits for
/// that, up to [`AmqpConfig::outage_timeout`]. Each connection is a
/// generation, recorded in the tags of its deliveries: a delivery of an
/// earlier generation can no longer be acknowledged (the broker put it
/// back in the queue when its channel closed and delivers it again, and
/// the bus recognizes the message), so settling it is not an error, and
/// there is nothing to wait for either: a delivery tag is only good on its
/// own channel. Deliveries of an earlier connection that `receive` had not
/// taken yet are dropped rather than handed out, for the same reason. A
/// requeue or dead-letter whose publish fails puts the original back in
/// the queue at once (a nack with requeue) when its channel is still open.
/// After a network cut, what the broker had handed to the cut connection
/// comes back only once the broker notices the cut (missed heartbeats, a
/// minute or so), and until then the broker may hand it more.
///
/// The reply queue is declared again under the same name, so addresses
/// handed out before a broker restart still work; replies sent while it
/// was gone are lost and their askers time out. After a network cut,
/// though, the broker keeps the old connection, and with it the exclusive
/// reply queue, until it notices that connection is dead (missed
/// heartbeats, a minute or so), and refuses to declare the queue again
/// (`RESOURCE_LOCKED`) until then. The transport then declares a reply
/// queue under a new name and [`Transport::reply_address`] returns that
/// from then on: commands and new asks go on at once, while asks that were
/// waiting for a reply to the old address time out (their replies go to
/// the old queue, which the broker deletes with the old connection).
#[derive(Clone)]
pub struct AmqpTransport {
    shared: Arc<Shared>,
}

/// What every clone shares, and what outlives each connection.
struct Shared {
    url: String,
    config: AmqpConfig,
    names: Names,
    /// The reply queue, the transport's reply address: the same on every
    /// connection unless the broker refuses to declare it again.
    reply_queue: Mutex<String>,
    /// The live connection, `None` while reconnecting or once closed.
    session: watch::Sender<Option<Arc<Session>>>,
    closed: watch::Sender<bool>,
    /// Whether the command queue is a quorum queue (as last declared).
    quorum: AtomicBool,
    /// Every delay bucket declared through this transport, for
    /// [`AmqpTransport::delete_topology`].
    delay_buckets: Mutex<BTreeSet<u64>>,
    /// Commands consumed and not yet received.
    inbox: Arc<Inbox>,
    replies_tx: mpsc::UnboundedSender<Vec<u8>>,
    replies: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
}

/// The names of the queues and the exchange.
struct Names {
    queue: String,
    dead_letter_exchange: String,
    dead_letter_queue: String,
}

impl Names {
    fn new(queue: &str) -> Self {
        Names {
            queue: queue.to_string(),
            dead_letter_exchange: format!("{queue}.dlx"),
            dead_letter_queue: format!("{queue}.dead-letter"),
        }
    }

    fn delay_queue(&self, bucket_ms: u64) -> String {
        format!("{}.delay.{bucket_ms}", self.queue)
    }

    /// A reply queue name no other transport uses.
    fn new_reply_queue(&self) -> String {
        format!("{}.reply.{}", self.queue, Uuid::new_v4().simple())
    }
}

/// A command delivered on the channel of connection `generation`.
struct Incoming {
    generation: u64,
    tag: u64,
    body: Vec<u8>,
}

/// The commands consumed and not yet taken by [`Transport::receive`], and
/// who waits for them.
struct Inbox {
    entries: Mutex<VecDeque<Incoming>>,
    /// Woken whenever an entry comes.
    ready: Notify,
    /// How many `receive` calls wait. It changes whenever one starts or
    /// ends, which is how a consumer tells that the bus still receives.
    receivers: watch::Sender<usize>,
}

impl Inbox {
    fn new() -> Self {
        Inbox {
            entries: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            receivers: watch::Sender::new(0),
        }
    }

    fn push(&self, incoming: Incoming) {
        lock(&self.entries).push_back(incoming);
        self.ready.notify_waiters();
    }

    fn pop(&self) -> Option<Incoming> {
        lock(&self.entries).pop_front()
    }

    /// Drops the entries of connections before `generation`: they can
    /// no longer be acknowledged, and the broker has put them back in the
    /// queue (or does when it notices their connection is gone).
    fn drop_before(&self, generation: u64) {
        lock(&self.entries).retain(|incoming| incoming.generation >= generation);
    }

    /// Takes the entries of connection `generation` out, for putting them
    /// back in the queue.
    fn take(&self, generation: u64) -> Vec<u64> {
        let mut entries = lock(&self.entries);
        let mut tags = Vec::new();
        entries.retain(|incoming| {
            let taken = incoming.generation == generation;
            if taken {
                tags.push(incoming.tag);
            }
            !taken
        });
        tags
    }

    fn clear(&self) {
        lock(&self.entries).clear();
    }
}

/// Counts a `receive` in [`Inbox::receivers`] while it waits.
struct Receiving<'a>(&'a Inbox);

impl<'a> Receiving<'a> {
    fn new(inbox: &'a Inbox) -> Self {
        inbox.receivers.send_modify(|receivers| *receivers += 1);
        Receiving(inbox)
    }
}

impl Drop for Receiving<'_> {
    fn drop(&mut self) {
        self.0.receivers.send_modify(|receivers| *receivers -= 1);
    }
}

/// One connection and its channels.
struct Session {
    generation: u64,
    connection: Connection,
    /// In confirm mode; every publish goes through it.
    publisher: Channel,
    /// Consumes commands, with the prefetch limit.
    consumer: Channel,
    /// Declares delay queues, whose declaration may fail on its own.
    topology: Channel,
    /// When each delay queue was last declared on this connection.
    delay_queues: Mutex<HashMap<u64, Instant>>,
    /// Becomes true when the session failed or was retired; the
    /// supervisor then replaces it.
    over: watch::Sender<bool>,
}

impl Session {
    fn retire(&self) {
        self.over.send_replace(true);
    }

    fn is_over(&self) -> bool {
        *self.over.borrow()
    }
}

/// Where a publish goes.
#[derive(Clone, Copy)]
enum Target<'a> {
    Commands,
    Delay(u64),
    DeadLetter,
    Reply(&'a str),
}

/// Why one publish attempt failed, and what to do about it.
enum Failure {
    /// The connection or a channel failed, or the topology is missing:
    /// try again on a new connection.
    Reconnect(String),
    /// The broker refused this message: try again on the same connection.
    Retry(String),
    /// Trying again cannot help.
    Fatal(String),
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn failed(error: impl Into<BoxError>) -> TransportError {
    TransportError::Failed(error.into())
}

impl AmqpTransport {
    /// Connects to the broker at `url` (`amqp://user:password@host:port/vhost`,
    /// the vhost `/` written `%2f`), declares the topology, and keeps the
    /// connection up from then on.
    ///
    /// Only `amqp://` URLs work as built: `amqps://` needs one of lapin's
    /// TLS features, which a crate depending on lapin can switch on.
    ///
    /// # Errors
    ///
    /// When the broker cannot be reached, refuses the credentials, or
    /// holds queues of these names with other arguments.
    pub async fn connect(url: &str, config: AmqpConfig) -> Result<Self, TransportError> {
        let (replies_tx, replies) = mpsc::unbounded_channel();
        let names = Names::new(&config.queue);
        let shared = Arc::new(Shared {
            url: url.to_string(),
            reply_queue: Mutex::new(names.new_reply_queue()),
            names,
            quorum: AtomicBool::new(config.quorum),
            config,
            session: watch::Sender::new(None),
            closed: watch::Sender::new(false),
            delay_buckets: Mutex::new(BTreeSet::new()),
            inbox: Arc::new(Inbox::new()),
            replies_tx,
            replies: tokio::sync::Mutex::new(replies),
        });
        let first = open_session(&shared, 1).await.map_err(TransportError::Failed)?;
        go_live(&shared, &first);
        tokio::spawn(supervise(Arc::downgrade(&shared), shared.closed.subscribe(), first));
        Ok(AmqpTransport { shared })
    }

    /// Whether the command queue is a quorum queue; `false` when it is a
    /// classic durable queue (asked for, or the broker refused quorum).
    pub fn quorum(&self) -> bool {
        self.shared.quorum.load(Ordering::Relaxed)
    }

    /// The command queue.
    pub fn queue(&self) -> &str {
        &self.shared.names.queue
    }

    /// The queue quarantined messages are published to, each with the
    /// reason in its `x-treaty-reason` header.
    pub fn dead_letter_queue(&self) -> &str {
        &self.shared.names.dead_letter_queue
    }

    /// Closes the connection: deliveries not yet acknowledged, the
    /// prefetched ones nobody received included, go back to the queue,
    /// [`Transport::receive`] and [`Transport::receive_reply`] return
    /// [`TransportError::Closed`], and so does publishing. Every clone is
    /// closed; dropping the last clone closes too.
    ///
    /// A process that stops consuming for good (after
    /// [`RunningBus::shutdown`](crate::bus::RunningBus::shutdown)) should
    /// call it rather than keep the transport open: the broker then hands
    /// what this transport held to other consumers at once.
    pub async fn close(&self) {
        self.shared.closed.send_replace(true);
        self.shared.inbox.clear();
        let session = self.shared.session.send_replace(None);
        if let Some(session) = session {
            session.retire();
            // Waiting for the broker's close-ok means the unacknowledged
            // deliveries are back in the queue when this returns.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "closed".into())).await;
        }
    }

    /// Closes the transport, then deletes the command queue, the
    /// dead-letter queue and exchange, and the delay queues this
    /// transport used, with the messages in them: for tests and for
    /// taking a deployment down. Delay queues other transports declared
    /// expire by themselves.
    ///
    /// # Errors
    ///
    /// When the broker cannot be reached or refuses.
    pub async fn delete_topology(&self) -> Result<(), TransportError> {
        self.close().await;
        let connection = connect(&self.shared).await.map_err(TransportError::Failed)?;
        let channel = connection.create_channel().await.map_err(failed)?;
        let names = &self.shared.names;
        let buckets: Vec<u64> = lock(&self.shared.delay_buckets).iter().copied().collect();
        let queues = [names.queue.clone(), names.dead_letter_queue.clone()]
            .into_iter()
            .chain(buckets.into_iter().map(|bucket| names.delay_queue(bucket)));
        for queue in queues {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await
                .map_err(failed)?;
        }
        channel
            .exchange_delete(
                names.dead_letter_exchange.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .map_err(failed)?;
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, "deleted".into())).await;
        Ok(())
    }

    /// Publishes `body` to `target` with a publisher confirm, on the live
    /// connection or, while there is none, on the next one, until
    /// [`AmqpConfig::outage_timeout`] has passed.
    async fn publish(
        &self,
        target: Target<'_>,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), TransportError> {
        let deadline = Instant::now() + self.shared.config.outage_timeout;
        let mut after = 0;
        let mut last_error = String::from("no connection to the broker");
        loop {
            let session = self.session_after(after, deadline, &last_error).await?;
            match publish_once(&self.shared, &session, target, body, properties.clone(), deadline).await {
                Ok(()) => return Ok(()),
                Err(Failure::Fatal(error)) => return Err(failed(error)),
                Err(Failure::Reconnect(error)) => {
                    tracing::info!("amqp: publishing failed ({error}); publishing again once reconnected");
                    session.retire();
                    after = session.generation;
                    last_error = error;
                }
                Err(Failure::Retry(error)) => {
                    last_error = error;
                    if Instant::now() + NACK_PAUSE >= deadline {
                        return Err(self.outage(&last_error));
                    }
                    tokio::time::sleep(NACK_PAUSE).await;
                }
            }
        }
    }

    /// The live session of a generation after `after`, waiting for it
    /// until `deadline`.
    async fn session_after(
        &self,
        after: u64,
        deadline: Instant,
        last_error: &str,
    ) -> Result<Arc<Session>, TransportError> {
        let mut sessions = self.shared.session.subscribe();
        let mut closed = self.shared.closed.subscribe();
        let wait = async {
            sessions
                .wait_for(|session| {
                    session
                        .as_ref()
                        .is_some_and(|session| session.generation > after && !session.is_over())
                })
                .await
                .map(|session| session.clone())
        };
        tokio::select! {
            biased;
            _ = closed.wait_for(|closed| *closed) => Err(TransportError::Closed),
            waited = tokio::time::timeout_at(deadline.into(), wait) => match waited {
                Ok(Ok(Some(session))) => Ok(session),
                Ok(Ok(None) | Err(_)) => Err(TransportError::Closed),
                Err(_) => Err(self.outage(last_error)),
            },
        }
    }

    fn outage(&self, last_error: &str) -> TransportError {
        failed(format!(
            "the broker did not take the message within {:?}: {last_error}",
            self.shared.config.outage_timeout
        ))
    }

    /// The live session, if `tag` was delivered on it.
    fn session_of(&self, tag: u64) -> Option<Arc<Session>> {
        let session = self.shared.session.borrow().clone()?;
        (session.generation & GENERATION_MASK == tag >> TAG_BITS && !session.is_over()).then_some(session)
    }

    /// Acknowledges delivery `tag` when its channel is still open. When
    /// it is not, the broker has put the message back already and
    /// delivers it again, which the bus recognizes: nothing to report.
    async fn settle(&self, tag: u64) {
        let Some(session) = self.session_of(tag) else {
            tracing::info!("amqp: not acknowledging a delivery of a connection that has closed since; the broker delivers it again");
            return;
        };
        if let Err(error) = session
            .consumer
            .basic_ack(tag & TAG_MASK, BasicAckOptions::default())
            .await
        {
            tracing::info!("amqp: cannot acknowledge a delivery ({error}); the broker delivers it again");
            session.retire();
        }
    }

    /// Puts delivery `tag` back in the queue when its channel is still
    /// open, so a message that could not be settled is delivered again now
    /// rather than when the connection ends.
    async fn release(&self, tag: u64) {
        let Some(session) = self.session_of(tag) else { return };
        let options = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        if session.consumer.basic_nack(tag & TAG_MASK, options).await.is_err() {
            session.retire();
        }
    }
}

impl std::fmt::Debug for AmqpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpTransport")
            .field("queue", &self.shared.names.queue)
            .field("reply_address", &*lock(&self.shared.reply_queue))
            .finish_non_exhaustive()
    }
}

impl Transport for AmqpTransport {
    async fn send(&self, id: Uuid, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        let properties = persistent().with_message_id(id.to_string().into());
        self.publish(target_for(delay), &body, properties).await
    }

    /// Waits for the next command; the first call starts consuming, and
    /// so does the first after the transport stopped because nobody
    /// received (see [`AmqpTransport`]).
    async fn receive(&self) -> Result<Delivery, TransportError> {
        let inbox = &self.shared.inbox;
        let _receiving = Receiving::new(inbox);
        let mut closed = self.shared.closed.subscribe();
        loop {
            // Registered before looking, so an entry pushed in between
            // still wakes this receive.
            let ready = inbox.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if *closed.borrow() {
                return Err(TransportError::Closed);
            }
            while let Some(next) = inbox.pop() {
                let live = self.shared.session.borrow().clone();
                if live.is_some_and(|live| live.generation == next.generation && !live.is_over()) {
                    return Ok(Delivery {
                        body: next.body,
                        tag: (next.generation & GENERATION_MASK) << TAG_BITS | (next.tag & TAG_MASK),
                    });
                }
                // Prefetched on a connection that has failed since: it can
                // no longer be acknowledged, and the broker delivers it
                // again on the new one.
            }
            tokio::select! {
                biased;
                _ = closed.wait_for(|closed| *closed) => return Err(TransportError::Closed),
                () = &mut ready => {}
            }
        }
    }

    /// Acknowledges the delivery. A delivery of a connection that closed
    /// since cannot be acknowledged; that is not an error, since the
    /// broker delivers it again and the bus recognizes it.
    async fn ack(&self, delivery: Delivery) -> Result<(), TransportError> {
        self.settle(delivery.tag).await;
        Ok(())
    }

    /// Publishes `body` to the delay queue of `delay` (or the command
    /// queue), confirmed, then acknowledges the original.
    async fn requeue(&self, delivery: Delivery, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        if let Err(error) = self.publish(target_for(delay), &body, persistent()).await {
            self.release(delivery.tag).await;
            return Err(error);
        }
        self.settle(delivery.tag).await;
        Ok(())
    }

    /// Publishes the message to the dead-letter exchange with the reason
    /// in its `x-treaty-reason` header, confirmed, then acknowledges it.
    async fn dead_letter(&self, delivery: Delivery, reason: &str) -> Result<(), TransportError> {
        let mut headers = FieldTable::default();
        headers.insert(REASON_HEADER.into(), AMQPValue::LongString(reason.into()));
        let properties = persistent().with_headers(headers);
        if let Err(error) = self.publish(Target::DeadLetter, &delivery.body, properties).await {
            self.release(delivery.tag).await;
            return Err(error);
        }
        self.settle(delivery.tag).await;
        Ok(())
    }

    /// The reply queue. It changes when the broker refuses to declare it
    /// again after a reconnect (see [`AmqpTransport`]), so it is asked for
    /// each time rather than kept.
    fn reply_address(&self) -> String {
        lock(&self.shared.reply_queue).clone()
    }

    async fn reply(&self, to: &str, body: Vec<u8>) -> Result<(), TransportError> {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(1);
        self.publish(Target::Reply(to), &body, properties).await
    }

    async fn receive_reply(&self) -> Result<Vec<u8>, TransportError> {
        let mut closed = self.shared.closed.subscribe();
        let mut replies = self.shared.replies.lock().await;
        tokio::select! {
            biased;
            _ = closed.wait_for(|closed| *closed) => Err(TransportError::Closed),
            reply = replies.recv() => reply.ok_or(TransportError::Closed),
        }
    }
}

fn persistent() -> BasicProperties {
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
}

fn target_for(delay: Duration) -> Target<'static> {
    if delay.is_zero() {
        Target::Commands
    } else {
        Target::Delay(delay_bucket(delay))
    }
}

/// `delay` rounded to the nearest of four steps per doubling (1, 2, 3, 4,
/// 5, 6, 7, 8, 10, 11, 13, 16, … ms), so that the delays of a jittered
/// retry policy share a few queues. At most 2^32 - 1 ms, the longest TTL.
fn delay_bucket(delay: Duration) -> u64 {
    let ms = delay.as_secs_f64() * 1000.0;
    let ms = ms.clamp(1.0, f64::from(u32::MAX));
    let step = (ms.log2() * 4.0).round();
    (step / 4.0).exp2().round().clamp(1.0, f64::from(u32::MAX)) as u64
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

async fn connect(shared: &Shared) -> Result<Connection, BoxError> {
    let properties =
        ConnectionProperties::default().with_connection_name(format!("treaty {}", shared.names.queue).into());
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(&shared.url, properties)).await {
        Ok(connected) => Ok(connected?),
        Err(_) => Err(format!("connecting to the broker took longer than {CONNECT_TIMEOUT:?}").into()),
    }
}

/// Connects, declares the topology and starts consuming replies (and
/// commands, once asked for).
async fn open_session(shared: &Shared, generation: u64) -> Result<Arc<Session>, BoxError> {
    let names = &shared.names;
    let connection = connect(shared).await?;
    let topology = connection.create_channel().await?;
    topology
        .exchange_declare(
            names.dead_letter_exchange.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let (topology, _) = declare_durable(
        &connection,
        topology,
        &names.dead_letter_queue,
        FieldTable::default(),
        shared.config.quorum,
    )
    .await?;
    topology
        .queue_bind(
            names.dead_letter_queue.as_str().into(),
            names.dead_letter_exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(names.dead_letter_exchange.as_str().into()),
    );
    let (topology, quorum) =
        declare_durable(&connection, topology, &names.queue, arguments, shared.config.quorum).await?;
    shared.quorum.store(quorum, Ordering::Relaxed);
    // Delay queues of buckets used before are declared again here, so a
    // message published before a reconnect is not lost to `x-expires`.
    let buckets: Vec<u64> = lock(&shared.delay_buckets).iter().copied().collect();
    let mut delay_queues = HashMap::new();
    for bucket in buckets {
        declare_delay_queue(&topology, names, bucket).await?;
        delay_queues.insert(bucket, Instant::now());
    }

    let publisher = connection.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    let consumer = connection.create_channel().await?;
    consumer
        .basic_qos(shared.config.prefetch, BasicQosOptions::default())
        .await?;
    let (reply_channel, replies) = consume_replies(shared, &connection).await?;

    let session = Arc::new(Session {
        generation,
        connection,
        publisher,
        consumer,
        topology,
        delay_queues: Mutex::new(delay_queues),
        over: watch::Sender::new(false),
    });
    tokio::spawn(forward_replies(
        session.clone(),
        reply_channel,
        replies,
        shared.replies_tx.clone(),
    ));
    Ok(session)
}

/// Makes `session` the live one and starts consuming commands on it. The
/// consumer starts only now, so every command `receive` takes belongs to
/// the live session or an earlier one, never a later one.
fn go_live(shared: &Shared, session: &Arc<Session>) {
    shared.session.send_replace(Some(session.clone()));
    shared.inbox.drop_before(session.generation);
    tokio::spawn(forward_commands(
        session.clone(),
        shared.names.queue.clone(),
        shared.inbox.clone(),
    ));
}

/// Declares the reply queue and consumes it, on a channel of its own (the
/// broker closes a channel whose declaration it refuses, and the session
/// goes on without that one).
///
/// The reply queue keeps its name across connections, so that addresses
/// handed out before a reconnect still reach this transport. When the
/// broker refuses to declare it again, most likely because it still holds
/// it for a connection cut off from this side that it has not noticed is
/// gone (`RESOURCE_LOCKED` until its heartbeat times out), the transport
/// takes a new name: waiting for the broker would stop every ask for that
/// long, while a new address only loses the replies to asks in flight.
async fn consume_replies(shared: &Shared, connection: &Connection) -> Result<(Channel, Consumer), BoxError> {
    let current = lock(&shared.reply_queue).clone();
    let refused = match declare_reply_queue(connection, &current).await {
        Ok(consumed) => return Ok(consumed),
        Err(refused) => refused,
    };
    let fresh = shared.names.new_reply_queue();
    let consumed = declare_reply_queue(connection, &fresh).await.map_err(|error| {
        format!("cannot declare the reply queue {current} ({refused}), nor a new one, {fresh} ({error})")
    })?;
    tracing::warn!(
        "amqp: cannot declare the reply queue {current} again ({refused}); replies now go to {fresh}, and \
         asks waiting for a reply to {current} time out"
    );
    *lock(&shared.reply_queue) = fresh;
    Ok(consumed)
}

async fn declare_reply_queue(connection: &Connection, queue: &str) -> Result<(Channel, Consumer), lapin::Error> {
    let channel = connection.create_channel().await?;
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    let replies = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions {
                // Replies are not persistent and an asker that misses one
                // times out, so acknowledging them buys nothing.
                no_ack: true,
                exclusive: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((channel, replies))
}

/// Declares a durable queue, as a quorum queue first when `quorum`, and
/// returns the channel to go on with (the broker closes a channel whose
/// declaration it refuses) and whether the queue is a quorum queue.
pub(crate) async fn declare_durable(
    connection: &Connection,
    channel: Channel,
    queue: &str,
    arguments: FieldTable,
    quorum: bool,
) -> Result<(Channel, bool), BoxError> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut channel = channel;
    let mut refused = None;
    if quorum {
        let mut quorum_arguments = arguments.clone();
        quorum_arguments.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
        match channel.queue_declare(queue.into(), durable, quorum_arguments).await {
            Ok(_) => return Ok((channel, true)),
            Err(error) => {
                tracing::info!(
                    "amqp: declaring {queue} as a quorum queue failed ({error}); declaring a classic durable queue"
                );
                refused = Some(error);
                channel = connection.create_channel().await?;
            }
        }
    }
    match channel.queue_declare(queue.into(), durable, arguments).await {
        Ok(_) => Ok((channel, false)),
        Err(error) => Err(match refused {
            Some(refused) => format!(
                "cannot declare queue {queue} as a quorum queue ({refused}) nor as a classic one ({error}); \
                 if it exists with other arguments, delete it or choose another queue name"
            ),
            None => format!(
                "cannot declare queue {queue} ({error}); if it exists with other arguments, delete it or choose another queue name"
            ),
        }
        .into()),
    }
}

async fn declare_delay_queue(channel: &Channel, names: &Names, bucket_ms: u64) -> Result<(), lapin::Error> {
    let mut arguments = FieldTable::default();
    arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(bucket_ms as i64));
    arguments.insert(
        "x-expires".into(),
        AMQPValue::LongLongInt((bucket_ms + DELAY_QUEUE_EXPIRY_MARGIN.as_millis() as u64) as i64),
    );
    // The default exchange, with the command queue as routing key.
    arguments.insert("x-dead-letter-exchange".into(), AMQPValue::LongString("".into()));
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(names.queue.as_str().into()),
    );
    channel
        .queue_declare(
            names.delay_queue(bucket_ms).into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .map(|_| ())
}

/// One attempt at publishing on `session`.
async fn publish_once(
    shared: &Shared,
    session: &Session,
    target: Target<'_>,
    body: &[u8],
    properties: BasicProperties,
    deadline: Instant,
) -> Result<(), Failure> {
    let names = &shared.names;
    let delay_queue;
    let (exchange, routing_key): (&str, &str) = match target {
        Target::Commands => ("", &names.queue),
        Target::Delay(bucket) => {
            let declared = lock(&session.delay_queues)
                .get(&bucket)
                .is_some_and(|at| at.elapsed() < DELAY_QUEUE_REDECLARE);
            if !declared {
                declare_delay_queue(&session.topology, names, bucket)
                    .await
                    .map_err(|e| Failure::Reconnect(format!("cannot declare a delay queue: {e}")))?;
                lock(&shared.delay_buckets).insert(bucket);
                lock(&session.delay_queues).insert(bucket, Instant::now());
            }
            delay_queue = names.delay_queue(bucket);
            ("", &delay_queue)
        }
        Target::DeadLetter => (&names.dead_letter_exchange, ""),
        Target::Reply(to) => ("", to),
    };
    let options = BasicPublishOptions {
        mandatory: true,
        immediate: false,
    };
    let confirm = session
        .publisher
        .basic_publish(
            ShortString::from(exchange),
            ShortString::from(routing_key),
            options,
            body,
            properties,
        )
        .await
        .map_err(|e| Failure::Reconnect(e.to_string()))?;
    let confirmation = tokio::time::timeout_at(deadline.into(), confirm)
        .await
        .map_err(|_| Failure::Reconnect("the broker did not confirm the message".to_string()))?
        .map_err(|e| Failure::Reconnect(e.to_string()))?;
    if confirmation.is_nack() {
        return Err(Failure::Retry("the broker refused the message".to_string()));
    }
    let Some(returned) = confirmation.take_message() else {
        return Ok(());
    };
    let reason = returned.reply_text.as_str();
    Err(match target {
        Target::Reply(to) => Failure::Fatal(format!("no queue takes replies to {to} ({reason}): its bus is gone")),
        Target::Delay(bucket) => {
            // Deleted behind this transport's back: declare it again.
            lock(&session.delay_queues).remove(&bucket);
            Failure::Retry(format!("no delay queue took the message ({reason})"))
        }
        Target::Commands | Target::DeadLetter => Failure::Reconnect(format!(
            "no queue took the message ({reason}); declaring the topology again"
        )),
    })
}

/// Hands the session's replies to `receive_reply` until the session ends.
/// Holds the replies' channel open meanwhile.
async fn forward_replies(
    session: Arc<Session>,
    _channel: Channel,
    mut replies: Consumer,
    to: mpsc::UnboundedSender<Vec<u8>>,
) {
    let mut over = session.over.subscribe();
    loop {
        let next = tokio::select! {
            _ = over.wait_for(|over| *over) => return,
            next = replies.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                if to.send(delivery.data).is_err() {
                    return;
                }
            }
            Some(Err(error)) => {
                tracing::info!("amqp: the reply consumer failed: {error}; reconnecting");
                session.retire();
                return;
            }
            None => {
                session.retire();
                return;
            }
        }
    }
}

/// Consumes commands on the session and hands them to `receive` while
/// the bus receives, until the session ends. When no `receive` has waited
/// for [`UNWANTED_AFTER`], stops consuming and puts the deliveries nobody
/// received back in the queue, so that other consumers get them now
/// rather than when this connection closes; consumes again at the next
/// `receive`.
async fn forward_commands(session: Arc<Session>, queue: String, inbox: Arc<Inbox>) {
    let mut over = session.over.subscribe();
    let mut receivers = inbox.receivers.subscribe();
    loop {
        tokio::select! {
            _ = over.wait_for(|over| *over) => return,
            wanted = receivers.wait_for(|receivers| *receivers > 0) => if wanted.is_err() { return },
        }
        let consumed = session
            .consumer
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await;
        let mut commands = match consumed {
            Ok(commands) => commands,
            Err(error) => {
                tracing::warn!("amqp: cannot consume {queue}: {error}; reconnecting");
                session.retire();
                return;
            }
        };
        let unwanted = unwanted(inbox.receivers.subscribe());
        tokio::pin!(unwanted);
        loop {
            let next = tokio::select! {
                _ = over.wait_for(|over| *over) => return,
                () = &mut unwanted => break,
                next = commands.next() => next,
            };
            if !forward(&session, &queue, &inbox, next) {
                return;
            }
        }
        if let Err(error) = session
            .consumer
            .basic_cancel(commands.tag(), BasicCancelOptions::default())
            .await
        {
            tracing::info!("amqp: cannot stop consuming {queue}: {error}; reconnecting");
            session.retire();
            return;
        }
        // What came before the broker's cancel-ok; then the stream ends.
        loop {
            let next = tokio::select! {
                _ = over.wait_for(|over| *over) => return,
                next = commands.next() => next,
            };
            if next.is_none() {
                break;
            }
            if !forward(&session, &queue, &inbox, next) {
                return;
            }
        }
        // A `receive` may have taken some meanwhile; those it keeps.
        let unreceived = inbox.take(session.generation);
        let count = unreceived.len();
        for tag in unreceived {
            let options = BasicNackOptions {
                multiple: false,
                requeue: true,
            };
            if let Err(error) = session.consumer.basic_nack(tag, options).await {
                tracing::info!("amqp: cannot put a prefetched delivery back ({error}); reconnecting");
                session.retire();
                return;
            }
        }
        tracing::debug!("amqp: nothing receives; stopped consuming {queue} and put {count} prefetched deliveries back");
    }
}

/// Puts what the command consumer yielded in the inbox; false when the
/// consumer ended or failed (and the session with it).
fn forward(
    session: &Session,
    queue: &str,
    inbox: &Inbox,
    next: Option<Result<lapin::message::Delivery, lapin::Error>>,
) -> bool {
    match next {
        Some(Ok(delivery)) => {
            inbox.push(Incoming {
                generation: session.generation,
                tag: delivery.delivery_tag,
                body: delivery.data,
            });
            true
        }
        Some(Err(error)) => {
            tracing::warn!("amqp: consuming {queue} failed: {error}; reconnecting");
            session.retire();
            false
        }
        None => {
            tracing::warn!("amqp: the broker ended the consumer of {queue}; reconnecting");
            session.retire();
            false
        }
    }
}

/// Returns once no `receive` has waited for [`UNWANTED_AFTER`].
async fn unwanted(mut receivers: watch::Receiver<usize>) {
    loop {
        if receivers.wait_for(|receivers| *receivers == 0).await.is_err() {
            return;
        }
        match tokio::time::timeout(UNWANTED_AFTER, receivers.changed()).await {
            // A receive started (and maybe ended) meanwhile.
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => return,
        }
    }
}

/// Keeps a session up: waits for the current one to fail, then connects
/// again with backoff, until the transport is closed or dropped.
async fn supervise(shared: Weak<Shared>, mut closed: watch::Receiver<bool>, first: Arc<Session>) {
    let mut current = Some(first);
    let mut generation = 1;
    let mut delay = FIRST_RECONNECT_DELAY;
    loop {
        if let Some(session) = current.take() {
            let mut over = session.over.subscribe();
            tokio::select! {
                _ = over.wait_for(|over| *over) => {}
                // Also when the transport is dropped (the sender goes).
                _ = closed.wait_for(|closed| *closed) => {}
            }
            if *closed.borrow() {
                // `close` took the session and closes its connection.
                return;
            }
            session.retire();
            if let Some(shared) = shared.upgrade() {
                shared.session.send_if_modified(|live| {
                    let retired = live.as_ref().is_some_and(|live| live.generation == session.generation);
                    if retired {
                        *live = None;
                    }
                    retired
                });
                // The broker puts them back when the connection closes.
                shared.inbox.drop_before(session.generation + 1);
            }
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "reconnecting".into())).await;
        }
        let Some(strong) = shared.upgrade() else { return };
        if *closed.borrow() {
            return;
        }
        generation += 1;
        let opened = tokio::select! {
            opened = open_session(&strong, generation) => opened,
            _ = closed.wait_for(|closed| *closed) => return,
        };
        match opened {
            Ok(session) => {
                if *closed.borrow() {
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "closed".into())).await;
                    return;
                }
                tracing::info!("amqp: connected to the broker again");
                delay = FIRST_RECONNECT_DELAY;
                go_live(&strong, &session);
                current = Some(session);
            }
            Err(error) => {
                let max_delay = strong.config.max_reconnect_delay;
                drop(strong);
                tracing::warn!("amqp: cannot reconnect to the broker: {error}; trying again in {delay:?}");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = closed.wait_for(|closed| *closed) => return,
                }
                delay = (delay * 2).min(max_delay.max(FIRST_RECONNECT_DELAY));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_to_four_buckets_per_doubling() {
        assert_eq!(delay_bucket(Duration::from_micros(10)), 1);
        assert_eq!(delay_bucket(Duration::from_millis(1)), 1);
        assert_eq!(delay_bucket(Duration::from_millis(1000)), 1024);
        assert_eq!(delay_bucket(Duration::from_millis(100)), 108);
        assert_eq!(delay_bucket(Duration::from_secs(30)), 27_554);
        assert_eq!(delay_bucket(Duration::from_secs(u64::MAX)), u64::from(u32::MAX));
        // Half a step (2^(1/8)) off at most, plus rounding to whole ms.
        for ms in 1..100_000u64 {
            let bucket = delay_bucket(Duration::from_millis(ms)) as f64;
            let off = (bucket - ms as f64).abs();
            assert!(off <= ms as f64 * 0.0906 + 0.5, "{ms} ms rounds to {bucket}");
        }
        let buckets: BTreeSet<u64> = (1..=30_000).map(|ms| delay_bucket(Duration::from_millis(ms))).collect();
        assert!(buckets.len() < 65, "{} buckets", buckets.len());
    }

    #[test]
    fn tags_carry_the_generation() {
        let tag = (7 & GENERATION_MASK) << TAG_BITS | (12_345 & TAG_MASK);
        assert_eq!(tag >> TAG_BITS, 7);
        assert_eq!(tag & TAG_MASK, 12_345);
        let wrapped = ((GENERATION_MASK + 3) & GENERATION_MASK) << TAG_BITS | 1;
        assert_eq!(wrapped >> TAG_BITS, 2);
    }
}
