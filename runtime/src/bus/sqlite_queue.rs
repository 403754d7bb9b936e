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

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::{oneshot, watch};

use super::transport::{Delivery, Transport, TransportError};
use crate::storage::sqlite::{check_tables, connect, connect_existing};
use crate::storage::{Component, Durability, OpenError};
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

/// Claims the ready message that became ready first (ties in send order).
/// The index on `(not_before, id)` makes this a range scan that skips only
/// the messages being handled right now.
const CLAIM: &str = "UPDATE treaty_queue SET locked_until = ?1, deliveries = deliveries + 1 \
     WHERE id = (SELECT id FROM treaty_queue \
                 WHERE not_before <= ?2 AND (locked_until IS NULL OR locked_until <= ?2) \
                 ORDER BY not_before, id LIMIT 1) \
     RETURNING id, deliveries, body";

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
}

impl Default for SqliteQueueConfig {
    fn default() -> Self {
        SqliteQueueConfig {
            durability: Durability::Full,
            visibility_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            reply_ttl: Duration::from_secs(3600),
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
    conn: Mutex<Connection>,
    config: SqliteQueueConfig,
    reply_address: String,
    /// Bumped by every send and requeue through this queue, to wake its
    /// waiting receives without waiting for the next poll.
    sent: watch::Sender<u64>,
    /// Bumped by every reply written through this queue.
    replied: watch::Sender<u64>,
    closed: AtomicBool,
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
            Ok(conn)
        };
        let conn = open().map_err(|e: rusqlite::Error| open_failed(&path, e))?;
        Ok(SqliteQueue::start(path, conn, config))
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
        let conn = connect_existing(&path, config.durability).map_err(|e| open_failed(&path, e))?;
        Ok(SqliteQueue::start(path, conn, config))
    }

    fn start(path: PathBuf, conn: Connection, config: SqliteQueueConfig) -> Self {
        SqliteQueue {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
                config,
                reply_address: Uuid::new_v4().to_string(),
                sent: watch::Sender::new(0),
                replied: watch::Sender::new(0),
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Stops receiving: waiting and later calls of
    /// [`receive`](Transport::receive) and
    /// [`receive_reply`](Transport::receive_reply) on this queue and its
    /// clones return [`TransportError::Closed`]. Sending, settling and
    /// replying still work, so deliveries in progress can be settled.
    /// Messages stay in the database for the next process.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.sent.send_modify(|n| *n = n.wrapping_add(1));
        self.inner.replied.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, TransportError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.lock()).map_err(|e| failed(&inner.path, e)))
            .await
            .map_err(|e| failed(&self.inner.path, e))?
    }

    /// Claims the next ready message, if any.
    async fn claim(&self) -> Result<Looked<Delivery>, TransportError> {
        let inner = self.inner.clone();
        let (answer, claimed) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.lock();
            let result = claim_next(&mut conn, inner.config.visibility_timeout);
            if let Err(Ok(Looked::Found(delivery))) = answer.send(result) {
                // The receive was cancelled (the bus shutting down) while
                // the claim ran: unlock the message so that the next
                // consumer has it now, not after the visibility timeout.
                // If this fails the timeout still brings it back.
                let (id, claim) = claim_of(delivery.tag);
                let _ = conn
                    .prepare_cached(&format!("UPDATE treaty_queue SET locked_until = NULL WHERE {CLAIMED}"))
                    .and_then(|mut s| s.execute(params![id, claim]));
            }
        });
        match claimed.await {
            Ok(result) => result.map_err(|e| failed(&self.inner.path, e)),
            Err(_) => Err(failed(
                &self.inner.path,
                "the claim did not finish: its thread panicked or the runtime is stopping",
            )),
        }
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

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn now_millis() -> i64 {
    Timestamp::now().as_millisecond()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Claims the next ready message in a write transaction. The clock is
/// read once the connection is ours, so time spent waiting for it does
/// not shorten the lock.
fn claim_next(conn: &mut Connection, visibility: Duration) -> rusqlite::Result<Looked<Delivery>> {
    let now = now_millis();
    if !conn.prepare_cached(READY)?.exists(params![now])? {
        let next: Option<i64> = conn
            .prepare_cached(NEXT_READY)?
            .query_row(params![now], |r| r.get(0))
            .optional()?;
        let ready_in = next.map(|at| Duration::from_millis(at.saturating_sub(now).max(0) as u64));
        return Ok(Looked::Empty { ready_in });
    }
    // Immediate: the write lock is taken before reading, so another
    // process cannot claim the same row between this read and the update.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_millis();
    let claimed = tx
        .prepare_cached(CLAIM)?
        .query_row(params![now.saturating_add(millis(visibility)), now], |r| {
            Ok(Delivery {
                tag: tag_of(r.get(0)?, r.get(1)?)?,
                body: r.get(2)?,
            })
        })
        .optional()?;
    tx.commit()?;
    // Another process claimed the ready message first: look again at
    // once, there may be more.
    Ok(claimed.map_or(
        Looked::Empty {
            ready_in: Some(Duration::ZERO),
        },
        Looked::Found,
    ))
}

/// Takes the oldest reply sent to `address`.
fn take_reply(conn: &mut Connection, address: &str) -> rusqlite::Result<Looked<Vec<u8>>> {
    if !conn
        .prepare_cached("SELECT 1 FROM treaty_replies WHERE address = ?1 LIMIT 1")?
        .exists(params![address])?
    {
        return Ok(Looked::Empty { ready_in: None });
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let body = tx
        .prepare_cached(
            "DELETE FROM treaty_replies WHERE id = \
             (SELECT id FROM treaty_replies WHERE address = ?1 ORDER BY id LIMIT 1) RETURNING body",
        )?
        .query_row(params![address], |r| r.get::<_, Vec<u8>>(0))
        .optional()?;
    tx.commit()?;
    Ok(body.map_or(Looked::Empty { ready_in: None }, Looked::Found))
}

impl Transport for SqliteQueue {
    /// Stores the message. Its id is not kept apart from the body: the
    /// bus reads it from the envelope, and deduplicates with it.
    async fn send(&self, _id: Uuid, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        self.with_conn(move |conn| {
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

    /// Deletes the message, if this delivery's claim is still the last
    /// one. A delivery whose visibility timeout passed and whose message
    /// another receive (of any process) claimed since is stale: settling
    /// it does nothing and succeeds. The message was delivered again, and
    /// the bus deduplicates that delivery. A delivery whose timeout passed
    /// but that nobody claimed again still settles.
    async fn ack(&self, delivery: Delivery) -> Result<(), TransportError> {
        let (id, claim) = claim_of(delivery.tag);
        self.with_conn(move |conn| {
            conn.prepare_cached(&format!("DELETE FROM treaty_queue WHERE {CLAIMED}"))?
                .execute(params![id, claim])?;
            Ok(())
        })
        .await
    }

    /// Replaces the message's body and releases it, if this delivery's
    /// claim is still the last one. A stale delivery (see
    /// [`ack`](Self::ack)) changes nothing: the message keeps the body and
    /// the lock of the newer claim, which settles it.
    async fn requeue(&self, delivery: Delivery, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        let (id, claim) = claim_of(delivery.tag);
        let requeued = self
            .with_conn(move |conn| {
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
        self.with_conn(move |conn| {
            let now = now_millis();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached("INSERT INTO treaty_replies (address, body, created) VALUES (?1, ?2, ?3)")?
                .execute(params![to, body, now])?;
            tx.prepare_cached("DELETE FROM treaty_replies WHERE created < ?1")?
                .execute(params![now.saturating_sub(ttl)])?;
            tx.commit()
        })
        .await?;
        self.inner.replied.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    async fn receive_reply(&self) -> Result<Vec<u8>, TransportError> {
        self.wait_for(&self.inner.replied, || {
            let address = self.inner.reply_address.clone();
            self.with_conn(move |conn| take_reply(conn, &address))
        })
        .await
    }
}
