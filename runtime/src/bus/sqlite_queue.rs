//! The durable embedded transport: a queue in a SQLite file, usually the
//! event store's own, so a single binary gets messages that survive a
//! restart without running a broker.
//!
//! - A message is a row of `treaty_queue`. Sending inserts it and commits
//!   before returning; receiving claims the oldest ready row by setting
//!   its `locked_until` in a write transaction, so two consumers (threads
//!   or processes) never hold the same row at once; acknowledging deletes
//!   it. A claim whose lock expired (the consumer died before settling) is
//!   ready again: that is the redelivery the bus deduplicates.
//! - A delivery's tag is its claim: the row id with the row's claim count
//!   (`deliveries`). Settling acts on the row only while that claim is
//!   the last one, so a consumer that settles after its lock expired and
//!   another consumer claimed the message again changes nothing: it
//!   neither deletes nor unlocks the message under the newer claim. Row
//!   ids never repeat (`AUTOINCREMENT`), so a late settlement never
//!   touches a newer message either.
//! - A receive with nothing ready waits: a send through this queue wakes
//!   it at once, a delayed message it saw wakes it when it becomes ready,
//!   and sends from other processes and expired locks are found by
//!   polling, with a read first so that an idle consumer never takes the
//!   write lock the event store's writer needs.
//! - Replies go to `treaty_replies`, one address per open queue.
//! - Every write goes through a writer thread that group-commits: the
//!   event store's, when a store is open on the same file in this process
//!   (so the file has one writer and the queue's writes share the
//!   appends' commits), and otherwise the queue's own. A send, claim or
//!   settlement returns only once the group holding it committed.
//! - A receive claims up to `prefetch` ready messages in one statement;
//!   those not handed out at once wait in the queue for the next
//!   receives, and are released when nobody took them for a while, when
//!   the queue is closed and when it is dropped.
//! - When the event store shares the file, the acknowledgement of a
//!   delivery an aggregate handles commits in the transaction that
//!   appends the command's events: a crash can leave the message neither
//!   handled and still queued, nor acknowledged and not handled. The
//!   acknowledgement that follows is then only noted, not written again.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::watch;

use super::transport::{Delivery, Transport, TransportError};
use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};
use crate::store::sqlite_shared::{self, CommitWith, FileWriter, WriteError};
use crate::types::{Timestamp, Uuid};

/// The queue's tables, as `open_existing` looks for them.
const TABLES: &[&str] = &["treaty_queue", "treaty_replies"];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS treaty_queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    body         BLOB NOT NULL,
    not_before   INTEGER NOT NULL,
    locked_until INTEGER,
    deliveries   INTEGER NOT NULL DEFAULT 0,
    sent_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS treaty_queue_ready ON treaty_queue (not_before, id);
CREATE TABLE IF NOT EXISTS treaty_replies (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL,
    body    BLOB NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS treaty_replies_address ON treaty_replies (address, id);
CREATE INDEX IF NOT EXISTS treaty_replies_created ON treaty_replies (created);
";

/// Whether a message is ready: a cheap read, so polling an idle queue
/// never takes the write lock.
const READY: &str = "SELECT 1 FROM treaty_queue \
     WHERE not_before <= ?1 AND (locked_until IS NULL OR locked_until <= ?1) LIMIT 1";

/// Claims the `?3` ready messages that became ready first (ties in send
/// order). The index on `(not_before, id)` makes this a range scan that
/// skips only the messages being handled right now. `RETURNING` gives
/// rows in no promised order, so they are sorted by what it returns.
const CLAIM: &str = "UPDATE treaty_queue SET locked_until = ?1, deliveries = deliveries + 1 \
     WHERE id IN (SELECT id FROM treaty_queue \
                 WHERE not_before <= ?2 AND (locked_until IS NULL OR locked_until <= ?2) \
                 ORDER BY not_before, id LIMIT ?3) \
     RETURNING id, deliveries, body, not_before";

/// Releases a claim that was not handed out, so that the message is ready
/// again at once.
const RELEASE: &str = "UPDATE treaty_queue SET locked_until = NULL WHERE id = ?1 AND (deliveries & 65535) = ?2 \
     AND locked_until IS NOT NULL";

/// The condition under which a settlement acts: the row is still held by
/// the claim `?1` (row id) and `?2` (its claim count, as kept in the tag)
/// name. A newer claim counted up `deliveries`; a settlement already made
/// (a requeue) unlocked the row.
const CLAIMED: &str = "id = ?1 AND (deliveries & 65535) = ?2 AND locked_until IS NOT NULL";

/// The bits of a tag that hold the claim count; the bits above hold the
/// row id.
const CLAIM_BITS: u32 = 16;
const CLAIM_MASK: u64 = (1 << CLAIM_BITS) - 1;
// `CLAIMED` spells the mask out.
const _: () = assert!(CLAIM_MASK == 65535);

/// The tag of the claim of row `id` that made its claim count `deliveries`.
/// The count is kept modulo 2^16: a late settlement could only be taken
/// for a newer claim after 65,536 further claims of the same message, each
/// waiting for a visibility timeout. Row ids need 48 bits, enough for
/// ten thousand messages a second for 890 years.
fn tag_of(id: i64, deliveries: i64) -> rusqlite::Result<u64> {
    match u64::try_from(id) {
        Ok(id) if id < 1 << (64 - CLAIM_BITS) => Ok(id << CLAIM_BITS | (deliveries as u64 & CLAIM_MASK)),
        _ => Err(rusqlite::Error::IntegralValueOutOfRange(0, id)),
    }
}

/// The row id and claim count a tag names, as bound to [`CLAIMED`].
fn claim_of(tag: u64) -> (i64, i64) {
    ((tag >> CLAIM_BITS) as i64, (tag & CLAIM_MASK) as i64)
}

/// When the first delayed message becomes ready: the next value of the
/// index after now, so a waiting receive sleeps until then instead of
/// until the next poll.
const NEXT_READY: &str = "SELECT not_before FROM treaty_queue WHERE not_before > ?1 ORDER BY not_before LIMIT 1";

/// What a look for a message or a reply found.
enum Looked<T> {
    Found(T),
    /// Nothing yet; something waiting for its delay is ready this much
    /// later.
    Empty {
        ready_in: Option<Duration>,
    },
}

/// Settings of a [`SqliteQueue`].
#[derive(Debug, Clone)]
pub struct SqliteQueueConfig {
    /// How hard a send or settlement tries to survive failures; see
    /// [`Durability`]. With [`Durability::Normal`] a power loss may lose
    /// the last messages sent, or deliver again the last ones settled.
    /// While an event store of this process writes the same file, the
    /// queue writes through it, at the store's durability.
    pub durability: Durability,
    /// How long a received message stays with its consumer before it is
    /// delivered again. It must exceed the longest a handler runs: a
    /// message still being handled when it passes is handled twice (which
    /// deduplication absorbs, at the cost of the work), and once another
    /// consumer has claimed it, the first consumer's settlement does
    /// nothing.
    pub visibility_timeout: Duration,
    /// How often a waiting receive looks for messages sent by other
    /// processes and for deliveries whose lock expired. Sends through this
    /// queue wake it at once, and it sleeps no longer than until the first
    /// delayed message it saw becomes ready.
    pub poll_interval: Duration,
    /// How long a reply nobody takes is kept. The asker gave up after its
    /// ask timeout, or its process is gone (addresses are never reused),
    /// so such replies are deleted as new ones are written.
    pub reply_ttl: Duration,
    /// The most messages one receive claims together (at least one). Those
    /// not handed out at once wait in this queue for the next receives;
    /// nobody else can have them meanwhile. They are released when no
    /// receive took them for a second (less with a short visibility
    /// timeout), and when the queue is closed or dropped.
    pub prefetch: usize,
}

impl Default for SqliteQueueConfig {
    fn default() -> Self {
        SqliteQueueConfig {
            durability: Durability::Full,
            visibility_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            reply_ttl: Duration::from_secs(3600),
            prefetch: 16,
        }
    }
}

/// A durable queue in a SQLite database, beside the event store.
///
/// Clones share one connection and one reply address. Several processes
/// may open the same file: each message is handled by one of them at a
/// time, and replies reach the process that asked.
#[derive(Clone)]
pub struct SqliteQueue {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// The file's canonical path, by which the event store's writer is
    /// found and acknowledgements are offered to its appends.
    file: Option<PathBuf>,
    /// For the reads that find whether anything is ready, so that an idle
    /// queue never asks a writer for anything.
    conn: Mutex<Connection>,
    /// The queue's own writer, used when no event store of this process
    /// writes the file.
    writer: FileWriter,
    /// Claimed messages not handed out yet, with when they were claimed.
    prefetched: Mutex<VecDeque<(Delivery, Instant)>>,
    /// The tags of deliveries whose acknowledgement committed with the
    /// handler's append, so that settling them writes nothing more.
    acked: Mutex<HashSet<u64>>,
    config: SqliteQueueConfig,
    reply_address: String,
    /// Bumped by every send and requeue through this queue, to wake its
    /// waiting receives without waiting for the next poll.
    sent: watch::Sender<u64>,
    /// Bumped by every reply written through this queue.
    replied: watch::Sender<u64>,
    closed: AtomicBool,
    /// Whether the task releasing claimed messages nobody took runs.
    releasing: AtomicBool,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue")
            .field("path", &self.inner.path)
            .field("reply_address", &self.inner.reply_address)
            .finish_non_exhaustive()
    }
}

/// A failure of the queue, with the database it happened in: a transport
/// error does not otherwise say which file it was.
#[derive(Debug, thiserror::Error)]
#[error("SQLite queue {location}: {source}")]
struct QueueFailed {
    location: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn open_failed(path: &Path, source: rusqlite::Error) -> OpenError {
    OpenError::storage(Component::Queue, path.display().to_string(), source)
}

fn failed(path: &Path, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> TransportError {
    TransportError::Failed(Box::new(QueueFailed {
        location: path.display().to_string(),
        source: source.into(),
    }))
}

impl SqliteQueue {
    /// Opens (or creates) the queue's tables in the database at `path`
    /// with default settings: as durable as the event store's default,
    /// a 30 s visibility timeout and a 50 ms poll.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteQueue::open_with(path, SqliteQueueConfig::default())
    }

    /// Opens (or creates) the queue's tables in the database at `path`.
    ///
    /// # Errors
    ///
    /// When the database cannot be opened or the tables cannot be created.
    pub fn open_with(path: impl AsRef<Path>, config: SqliteQueueConfig) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let open = || {
            let mut conn = connect(&path, config.durability)?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA)?;
            tx.commit()?;
            Ok((conn, connect(&path, config.durability)?))
        };
        let (conn, write) = open().map_err(|e: rusqlite::Error| open_failed(&path, e))?;
        SqliteQueue::start(path, conn, write, config)
    }

    /// Opens the existing queue in the database at `path`, creating
    /// nothing: no file, table or index, and the file's journal mode stays
    /// as it is. For a process that must only join a queue others set up.
    ///
    /// # Errors
    ///
    /// [`OpenError::Missing`] when the file lacks the queue's tables,
    /// [`OpenError::Storage`] when the file does not exist or cannot be
    /// opened or read.
    pub fn open_existing(path: impl AsRef<Path>, config: SqliteQueueConfig) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        check_tables(&path, Component::Queue, TABLES)?;
        let connect = || connect_existing(&path, config.durability).map_err(|e| open_failed(&path, e));
        let (conn, write) = (connect()?, connect()?);
        SqliteQueue::start(path, conn, write, config)
    }

    fn start(path: PathBuf, conn: Connection, write: Connection, config: SqliteQueueConfig) -> Result<Self, OpenError> {
        let writer = FileWriter::start(write, "treaty-sqlite-queue-writer")
            .map_err(|e| OpenError::storage(Component::Queue, path.display().to_string(), e))?;
        Ok(SqliteQueue {
            inner: Arc::new(Inner {
                file: sqlite_shared::file_key(&path),
                path,
                conn: Mutex::new(conn),
                writer,
                prefetched: Mutex::new(VecDeque::new()),
                acked: Mutex::new(HashSet::new()),
                config,
                reply_address: Uuid::new_v4().to_string(),
                sent: watch::Sender::new(0),
                replied: watch::Sender::new(0),
                closed: AtomicBool::new(false),
                releasing: AtomicBool::new(false),
            }),
        })
    }

    /// Stops receiving: waiting and later calls of
    /// [`receive`](Transport::receive) and
    /// [`receive_reply`](Transport::receive_reply) on this queue and its
    /// clones return [`TransportError::Closed`]. Sending, settling and
    /// replying still work, so deliveries in progress can be settled.
    /// Messages stay in the database for the next process, and those this
    /// queue claimed but did not hand out are released for it at once.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.sent.send_modify(|n| *n = n.wrapping_add(1));
        self.inner.replied.send_modify(|n| *n = n.wrapping_add(1));
        self.inner.release_prefetched(None);
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Runs `f` with the reading connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, TransportError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.lock()).map_err(|e| failed(&inner.path, e)))
            .await
            .map_err(|e| failed(&self.inner.path, e))?
    }

    /// Writes `work` through the file's writer, once it committed.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, TransportError> {
        self.inner.write(work).await.map_err(|e| failed(&self.inner.path, e))
    }

    /// Hands out a claimed message, claiming the next ready ones if none
    /// is left.
    async fn claim(&self) -> Result<Looked<Delivery>, TransportError> {
        if let Some(delivery) = self.inner.take_prefetched() {
            return Ok(Looked::Found(delivery));
        }
        self.start_releasing();
        // A read first, so that an idle queue asks no writer for anything.
        if let Looked::Empty { ready_in } = self.with_conn(ready).await? {
            return Ok(Looked::Empty { ready_in });
        }
        let (visibility, prefetch) = (self.inner.config.visibility_timeout, self.inner.config.prefetch.max(1));
        // Should this receive be dropped while the claim runs (the bus
        // shutting down), what the claim took, once committed, joins
        // `prefetched` on the writer's side: it waits there for the next
        // receive, or is released. A claim whose commit failed took
        // nothing.
        let to = ClaimedBatch(Arc::downgrade(&self.inner));
        let claimed = self.inner.write_or(
            move |conn| claim_batch(conn, visibility, prefetch),
            move |batch| to.hand_over(batch),
        );
        let batch = claimed.await.map_err(|e| failed(&self.inner.path, e))?;
        ClaimedBatch(Arc::downgrade(&self.inner)).hand_over(batch);
        // Another receive may have taken them meanwhile, or another
        // process claimed them first: then look again at once.
        Ok(match self.inner.take_prefetched() {
            Some(delivery) => Looked::Found(delivery),
            None => Looked::Empty {
                ready_in: Some(Duration::ZERO),
            },
        })
    }

    /// Starts, once, the task that releases claimed messages no receive
    /// took for a while.
    fn start_releasing(&self) {
        if self.inner.releasing.swap(true, Ordering::SeqCst) {
            return;
        }
        let linger = self.inner.linger();
        let inner = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(linger).await;
                let Some(inner) = inner.upgrade() else { return };
                inner.release_prefetched(Some(linger));
            }
        });
    }

    /// Waits until `take` finds something, woken by `wake`, by the poll,
    /// or when what `take` saw delayed becomes ready.
    async fn wait_for<T, F, Fut>(&self, wake: &watch::Sender<u64>, mut take: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Looked<T>, TransportError>>,
    {
        let mut woken = wake.subscribe();
        loop {
            // Marking the wake-ups seen before looking means a send made
            // while looking still wakes the wait below.
            woken.borrow_and_update();
            if self.is_closed() {
                return Err(TransportError::Closed);
            }
            let poll = self.inner.config.poll_interval;
            let pause = match take().await? {
                Looked::Found(found) => return Ok(found),
                Looked::Empty {
                    ready_in: Some(ready_in),
                } => ready_in.min(poll),
                Looked::Empty { ready_in: None } => poll,
            };
            tokio::select! {
                changed = woken.changed() => {
                    // The sender lives in `inner`, which this queue holds.
                    debug_assert!(changed.is_ok());
                }
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// Where the messages a claim took go: the queue's `prefetched`.
struct ClaimedBatch(Weak<Inner>);

impl ClaimedBatch {
    /// Hands the claimed messages to the queue.
    fn hand_over(self, claimed: Vec<Delivery>) {
        if let Some(inner) = self.0.upgrade() {
            let now = Instant::now();
            inner.prefetched().extend(claimed.into_iter().map(|d| (d, now)));
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn prefetched(&self) -> MutexGuard<'_, VecDeque<(Delivery, Instant)>> {
        self.prefetched.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn acked(&self) -> MutexGuard<'_, HashSet<u64>> {
        self.acked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_prefetched(&self) -> Option<Delivery> {
        self.prefetched().pop_front().map(|(delivery, _)| delivery)
    }

    /// How long a claimed message waits for a receive before it is
    /// released: a second, or a quarter of the visibility timeout when
    /// that is shorter, so a handler taking one late still has most of it.
    fn linger(&self) -> Duration {
        (self.config.visibility_timeout / 4).clamp(Duration::from_millis(1), Duration::from_secs(1))
    }

    /// Writes `work` through the event store's writer when a store of this
    /// process writes the file, through the queue's own otherwise. The
    /// job is handed over at once.
    fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = Result<T, WriteError>> + Send + 'static {
        self.write_or(work, drop)
    }

    /// Like [`write`](Self::write), with what to do with the committed
    /// result nobody waits for any more.
    fn write_or<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        undelivered: impl FnOnce(T) + Send + 'static,
    ) -> impl Future<Output = Result<T, WriteError>> + Send + 'static {
        match self.file.as_deref().and_then(sqlite_shared::writer_for) {
            Some(store) => store.write_or(work, undelivered),
            None => self.writer.write_or(work, undelivered),
        }
    }

    /// Releases the claimed messages not handed out: those claimed at
    /// least `older` ago, or all of them. Nobody waits for the release: if
    /// it fails, the visibility timeout brings them back.
    fn release_prefetched(&self, older: Option<Duration>) {
        let released: Vec<(i64, i64)> = {
            let mut prefetched = self.prefetched();
            let keep = match older {
                None => 0,
                Some(older) => prefetched.iter().filter(|(_, at)| at.elapsed() < older).count(),
            };
            // The oldest are at the front.
            let release = prefetched.len() - keep;
            prefetched.drain(..release).map(|(d, _)| claim_of(d.tag)).collect()
        };
        if released.is_empty() {
            return;
        }
        drop(self.write(move |conn| {
            let mut release = conn.prepare_cached(RELEASE)?;
            for (id, claim) in released {
                release.execute(params![id, claim])?;
            }
            Ok(())
        }));
        self.sent.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Through the queue's own writer, which writes it before it stops.
        let released: Vec<(i64, i64)> = self.prefetched().drain(..).map(|(d, _)| claim_of(d.tag)).collect();
        if !released.is_empty() {
            drop(self.writer.write(move |conn| {
                let mut release = conn.prepare_cached(RELEASE)?;
                for (id, claim) in released {
                    release.execute(params![id, claim])?;
                }
                Ok(())
            }));
        }
    }
}

fn now_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Whether a message is ready, and if not when the first delayed one will
/// be: a read, which takes no write lock.
fn ready(conn: &mut Connection) -> rusqlite::Result<Looked<()>> {
    let now = now_millis();
    if conn.prepare_cached(READY)?.exists(params![now])? {
        return Ok(Looked::Found(()));
    }
    let next: Option<i64> = conn
        .prepare_cached(NEXT_READY)?
        .query_row(params![now], |r| r.get(0))
        .optional()?;
    let ready_in = next.map(|at| Duration::from_millis(at.saturating_sub(now).max(0) as u64));
    Ok(Looked::Empty { ready_in })
}

/// Claims up to `most` ready messages, in the order they became ready, in
/// the writer's transaction (which holds the write lock, so another
/// process cannot claim the same rows). The clock is read in the writer,
/// so time spent waiting for it does not shorten the lock.
fn claim_batch(conn: &Connection, visibility: Duration, most: usize) -> rusqlite::Result<Vec<Delivery>> {
    let now = now_millis();
    let mut claimed = conn
        .prepare_cached(CLAIM)?
        .query_map(
            params![
                now.saturating_add(millis(visibility)),
                now,
                i64::try_from(most).unwrap_or(i64::MAX)
            ],
            |r| {
                let delivery = Delivery {
                    tag: tag_of(r.get(0)?, r.get(1)?)?,
                    body: r.get(2)?,
                };
                Ok(((r.get::<_, i64>(3)?, r.get::<_, i64>(0)?), delivery))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    claimed.sort_unstable_by_key(|(order, _)| *order);
    Ok(claimed.into_iter().map(|(_, delivery)| delivery).collect())
}

impl Transport for SqliteQueue {
    /// Stores the message, in the next group commit of the file's writer.
    /// Its id is not kept apart from the body: the bus reads it from the
    /// envelope, and deduplicates with it.
    async fn send(&self, _id: Uuid, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        self.write(move |conn| {
            let now = now_millis();
            conn.prepare_cached("INSERT INTO treaty_queue (body, not_before, sent_at) VALUES (?1, ?2, ?3)")?
                .execute(params![body, now.saturating_add(millis(delay)), now])?;
            Ok(())
        })
        .await?;
        self.inner.sent.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    async fn receive(&self) -> Result<Delivery, TransportError> {
        self.wait_for(&self.inner.sent, || self.claim()).await
    }

    /// Offers the delivery's acknowledgement to the appends the handling
    /// makes to this file through an event store of this process; a
    /// handler that accepts it (an aggregate's) commits it with the
    /// command's events, and [`ack`](Self::ack) then writes nothing.
    fn handling<F>(&self, delivery: &Delivery, handling: F) -> impl Future<Output = F::Output> + Send
    where
        F: Future + Send,
    {
        let offer = self.inner.file.clone().map(|file| {
            let (id, claim) = claim_of(delivery.tag);
            CommitWith::new(file, move |conn| {
                conn.prepare_cached(&format!("DELETE FROM treaty_queue WHERE {CLAIMED}"))?
                    .execute(params![id, claim])?;
                Ok(())
            })
        });
        let (inner, tag) = (self.inner.clone(), delivery.tag);
        async move {
            let Some(offer) = offer else {
                return handling.await;
            };
            let handled = sqlite_shared::offering(offer.clone(), handling).await;
            if offer.committed() {
                inner.acked().insert(tag);
            }
            handled
        }
    }

    /// Deletes the message, if this delivery's claim is still the last
    /// one. A delivery whose visibility timeout passed and whose message
    /// another receive (of any process) claimed since is stale: settling
    /// it does nothing and succeeds. The message was delivered again, and
    /// the bus deduplicates that delivery. A delivery whose timeout passed
    /// but that nobody claimed again still settles. A delivery whose
    /// acknowledgement committed with the handler's append is settled
    /// already.
    async fn ack(&self, delivery: Delivery) -> Result<(), TransportError> {
        if self.inner.acked().remove(&delivery.tag) {
            return Ok(());
        }
        let (id, claim) = claim_of(delivery.tag);
        self.write(move |conn| {
            conn.prepare_cached(&format!("DELETE FROM treaty_queue WHERE {CLAIMED}"))?
                .execute(params![id, claim])?;
            Ok(())
        })
        .await
    }

    /// Replaces the message's body and releases it, if this delivery's
    /// claim is still the last one. A stale delivery (see
    /// [`ack`](Self::ack)), or one whose acknowledgement committed with
    /// the handler's append, changes nothing.
    async fn requeue(&self, delivery: Delivery, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        if self.inner.acked().remove(&delivery.tag) {
            return Ok(());
        }
        let (id, claim) = claim_of(delivery.tag);
        let requeued = self
            .write(move |conn| {
                // One statement replaces the body and releases the lock
                // together: a crash leaves either the old attempt locked
                // (and delivered again after the timeout) or the new one
                // waiting.
                conn.prepare_cached(&format!(
                    "UPDATE treaty_queue SET body = ?3, not_before = ?4, locked_until = NULL WHERE {CLAIMED}"
                ))?
                .execute(params![id, claim, body, now_millis().saturating_add(millis(delay))])
            })
            .await?;
        if requeued > 0 {
            self.inner.sent.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(())
    }

    /// Deletes the message like [`ack`](Self::ack), and like it does
    /// nothing for a stale delivery. The bus parked the message, with the
    /// reason, in the quarantine before calling this, so the queue only
    /// lets go of it.
    async fn dead_letter(&self, delivery: Delivery, _reason: &str) -> Result<(), TransportError> {
        self.ack(delivery).await
    }

    fn reply_address(&self) -> String {
        self.inner.reply_address.clone()
    }

    async fn reply(&self, to: &str, body: Vec<u8>) -> Result<(), TransportError> {
        let to = to.to_string();
        let ttl = millis(self.inner.config.reply_ttl);
        self.write(move |conn| {
            let now = now_millis();
            conn.prepare_cached("INSERT INTO treaty_replies (address, body, created) VALUES (?1, ?2, ?3)")?
                .execute(params![to, body, now])?;
            conn.prepare_cached("DELETE FROM treaty_replies WHERE created < ?1")?
                .execute(params![now.saturating_sub(ttl)])?;
            Ok(())
        })
        .await?;
        self.inner.replied.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    async fn receive_reply(&self) -> Result<Vec<u8>, TransportError> {
        self.wait_for(&self.inner.replied, || async {
            let address = self.inner.reply_address.clone();
            let look = address.clone();
            let waiting = self
                .with_conn(move |conn| {
                    conn.prepare_cached("SELECT 1 FROM treaty_replies WHERE address = ?1 LIMIT 1")?
                        .exists(params![look])
                })
                .await?;
            if !waiting {
                return Ok(Looked::Empty { ready_in: None });
            }
            let body = self
                .write(move |conn| {
                    conn.prepare_cached(
                        "DELETE FROM treaty_replies WHERE id = \
                         (SELECT id FROM treaty_replies WHERE address = ?1 ORDER BY id LIMIT 1) RETURNING body",
                    )?
                    .query_row(params![address], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
                })
                .await?;
            Ok(body.map_or(Looked::Empty { ready_in: None }, Looked::Found))
        })
        .await
    }
}
