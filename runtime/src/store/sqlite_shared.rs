//! What other components keeping tables in the event store's SQLite file
//! (the bus's queue) share with its writer, so that one process writes a
//! file through one connection:
//!
//! - [`FileWriter`]: a writer thread's handle. Besides appends, it takes
//!   any write as a job: the jobs and appends that queue up while one
//!   group commits are written together in the next, each in a savepoint
//!   of its own (group commit), and every one is answered only after the
//!   group committed. A store registers its writer under the file's
//!   canonical path ([`writer_for`]); components without a store in the
//!   process start a writer of their own ([`FileWriter::start`]).
//! - [`CommitWith`]: a write offered to the next append of the current
//!   task to the same file (the acknowledgement of the message being
//!   handled), committed in that append's transaction, in a savepoint of
//!   its own inside the append's. The store knows nothing of what it
//!   writes.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, Weak};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sqlite::{Request, Writer};

/// A job's work, run by the writer inside its group's transaction. It
/// returns whether it succeeded (its savepoint is kept) and what to do
/// once the group committed or failed.
pub(crate) type Job = Box<dyn FnOnce(&Connection) -> (bool, Finish) + Send>;

/// Answers a job with the outcome of its group's commit.
pub(crate) type Finish = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// Why a job written through a [`FileWriter`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The job's own statements failed; its savepoint was rolled back and
    /// the rest of its group committed.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The group's transaction failed to commit: nothing of it is written.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer thread stopped, or the job panicked, before answering:
    /// nothing of the job is written.
    #[error("the SQLite writer stopped before the write was committed, which was rolled back")]
    Stopped,
}

/// A handle on a writer thread; the thread ends once every handle is gone
/// and what they sent is written.
pub(crate) struct FileWriter {
    sender: Mutex<mpsc::Sender<Request>>,
}

impl FileWriter {
    pub(crate) fn new(sender: mpsc::Sender<Request>) -> Self {
        FileWriter {
            sender: Mutex::new(sender),
        }
    }

    /// A writer thread of its own for `conn`, named `name`, for a
    /// component whose file no store of this process writes.
    pub(crate) fn start(conn: Connection, name: &str) -> std::io::Result<FileWriter> {
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(conn, tokio::sync::watch::Sender::new(0), 1024);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || writer.run(receiver))?;
        Ok(FileWriter::new(sender))
    }

    /// Hands a request to the thread; false when it has stopped.
    pub(crate) fn submit(&self, request: Request) -> bool {
        self.sender
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(request)
            .is_ok()
    }

    /// Writes `work` in the writer's next group and answers once the
    /// group committed. The job is handed over at once, not when the
    /// future is first polled: dropping the future does not withdraw it.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = Result<T, WriteError>> + Send + 'static {
        self.write_or(work, drop)
    }

    /// Like [`write`](Self::write), but what a committed `work` returned
    /// goes to `undelivered` (on the writer's thread) when nobody waits
    /// for it any more: the future was dropped.
    pub(crate) fn write_or<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        undelivered: impl FnOnce(T) + Send + 'static,
    ) -> impl Future<Output = Result<T, WriteError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = work(conn);
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |committed: Result<(), &str>| match (committed, result) {
                (Ok(()), Ok(value)) => {
                    if let Err(Ok(value)) = reply.send(Ok(value)) {
                        undelivered(value);
                    }
                }
                (Ok(()), Err(e)) => {
                    let _ = reply.send(Err(WriteError::Sql(e)));
                }
                (Err(e), _) => {
                    let _ = reply.send(Err(WriteError::Commit(e.to_string())));
                }
            });
            (ok, finish)
        });
        let submitted = self.submit(Request::Job(job));
        async move {
            if !submitted {
                return Err(WriteError::Stopped);
            }
            answer.await.unwrap_or(Err(WriteError::Stopped))
        }
    }
}

/// The writers of the stores open in this process, by their file's
/// canonical path.
static WRITERS: Mutex<Option<HashMap<PathBuf, Weak<FileWriter>>>> = Mutex::new(None);

/// The canonical path of an existing file, the key writers are found by;
/// `None` when it cannot be resolved, and then nothing is shared.
pub(crate) fn file_key(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok()
}

/// Registers a store's writer for its file.
pub(crate) fn register(file: PathBuf, writer: &Arc<FileWriter>) {
    let mut writers = WRITERS.lock().unwrap_or_else(|e| e.into_inner());
    let writers = writers.get_or_insert_with(HashMap::new);
    writers.retain(|_, w| w.strong_count() > 0);
    writers.insert(file, Arc::downgrade(writer));
}

/// The writer of a store open on `file` in this process, if any.
pub(crate) fn writer_for(file: &Path) -> Option<Arc<FileWriter>> {
    WRITERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()?
        .get(file)?
        .upgrade()
}

/// The write a [`CommitWith`] offers.
type OfferedWrite = Box<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// A write to commit with the next append the current task makes to the
/// file `file`, if the handler running accepts it
/// ([`accept_commit_with`]).
pub(crate) struct CommitWith {
    file: PathBuf,
    write: OfferedWrite,
    accepted: AtomicBool,
    committed: AtomicBool,
}

impl CommitWith {
    pub(crate) fn new(
        file: PathBuf,
        write: impl Fn(&Connection) -> rusqlite::Result<()> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(CommitWith {
            file,
            write: Box::new(write),
            accepted: AtomicBool::new(false),
            committed: AtomicBool::new(false),
        })
    }

    /// Whether the write committed, with an append.
    pub(crate) fn committed(&self) -> bool {
        self.committed.load(Ordering::SeqCst)
    }

    /// Runs the write on the append's connection (inside its savepoint).
    pub(crate) fn run(&self, conn: &Connection) -> rusqlite::Result<()> {
        (self.write)(conn)
    }

    /// Marks the write committed; the writer calls this after the commit
    /// and before it answers the append.
    pub(crate) fn mark_committed(&self) {
        self.committed.store(true, Ordering::SeqCst);
    }
}

tokio::task_local! {
    static OFFERED: Arc<CommitWith>;
}

/// Runs `work` with `offer` offered to its appends.
pub(crate) async fn offering<F: Future>(offer: Arc<CommitWith>, work: F) -> F::Output {
    OFFERED.scope(offer, work).await
}

/// Accepts the write offered to the current task, if any: the caller
/// promises that its first successful append records the whole effect of
/// what it handles, so the write may commit with it. Handlers that write
/// several times must not accept.
pub(crate) fn accept_commit_with() {
    let _ = OFFERED.try_with(|offer| offer.accepted.store(true, Ordering::SeqCst));
}

/// The write offered to an append to `file` by the current task: one that
/// was accepted and has not committed yet.
pub(crate) fn offered_for(file: Option<&Path>) -> Option<Arc<CommitWith>> {
    let file = file?;
    OFFERED
        .try_with(|offer| {
            (offer.accepted.load(Ordering::SeqCst) && !offer.committed() && offer.file == file).then(|| offer.clone())
        })
        .ok()
        .flatten()
}
