//! What a process runner keeps: the [`ProcessStore`] trait its backends
//! implement, and the values it reads and writes.

use std::future::Future;

use super::ProcessError;
use crate::types::Uuid;

/// An instance as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInstance {
    /// Counts the instance's commits; a commit names the revision it read,
    /// so two runners cannot both change one instance.
    pub revision: i64,
    /// Its state, or that it completed.
    pub state: InstanceState,
}

/// An instance's state as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceState {
    /// Running, with its state's JSON at a state version.
    Running {
        /// The `STATE_VERSION` the JSON was written at.
        version: u32,
        /// The state's JSON.
        json: Vec<u8>,
    },
    /// Completed: later events for it are skipped.
    Completed,
}

/// A timeout to store: due at `due` (milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTimeout {
    /// Its name within the instance; a pending timeout of the same name is
    /// replaced.
    pub name: String,
    /// Its id, derived from what scheduled it; the commands it causes
    /// derive their ids from it.
    pub id: Uuid,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due: i64,
}

/// A timeout that is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimeout {
    /// The instance.
    pub key: String,
    /// The timeout's name.
    pub name: String,
    /// Its id.
    pub id: Uuid,
    /// When it was due, in milliseconds since the Unix epoch.
    pub due: i64,
}

/// A command waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The row's place in the outbox, increasing in commit order.
    pub seq: i64,
    /// The message id.
    pub message_id: Uuid,
    /// The envelope, as JSON.
    pub envelope: Vec<u8>,
}

/// One step of a process manager, committed all or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The manager.
    pub manager: String,
    /// The checkpoint the runner read; the commit fails with
    /// [`ProcessError::Conflict`] when the stored one differs.
    pub expected_checkpoint: u64,
    /// The new checkpoint, at least `expected_checkpoint`: it never moves
    /// back.
    pub checkpoint: u64,
    /// The instances it changes, each key at most once; none for a commit
    /// that only moves the checkpoint.
    pub instances: Vec<InstanceChange>,
}

/// What a commit does to one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceChange {
    /// The instance.
    pub key: String,
    /// The revision read, `None` when the instance was not stored: the
    /// commit fails with [`ProcessError::Conflict`] when the stored one
    /// differs.
    pub expected_revision: Option<i64>,
    /// Its new state ([`InstanceState::Completed`] also drops its
    /// timeouts).
    pub state: InstanceState,
    /// The timeout being delivered: the commit fails with
    /// [`ProcessError::Conflict`] unless it is still stored, and removes
    /// it.
    pub fired: Option<Uuid>,
    /// Timeouts to store, replacing pending ones of the same names.
    pub schedule: Vec<ScheduledTimeout>,
    /// Names of pending timeouts to remove.
    pub cancel: Vec<String>,
    /// Envelopes to send, with their message ids, in order.
    pub outbox: Vec<(Uuid, Vec<u8>)>,
}

/// Where process managers keep their checkpoints, instances, outbox and
/// timeouts: [`SqliteProcessStore`](super::SqliteProcessStore) and
/// `PostgresProcessStore`. [`ProcessRunner`](super::ProcessRunner) is its
/// user; applications only open one.
pub trait ProcessStore: Clone + Send + Sync + 'static {
    /// The manager's checkpoint: the position of the last event it
    /// handled or skipped, 0 before the first.
    fn checkpoint(&self, manager: &str) -> impl Future<Output = Result<u64, ProcessError>> + Send;

    /// The state versions of the manager's stored running instances.
    fn state_versions(&self, manager: &str) -> impl Future<Output = Result<Vec<u32>, ProcessError>> + Send;

    /// One instance, `None` when it was never stored.
    fn load(
        &self,
        manager: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredInstance>, ProcessError>> + Send;

    /// Writes `commit` in one transaction.
    ///
    /// # Errors
    ///
    /// [`ProcessError::Conflict`] when the checkpoint, an instance's
    /// revision or a fired timeout is not as the commit expects (nothing
    /// is written).
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<(), ProcessError>> + Send;

    /// The oldest `limit` rows of the manager's outbox.
    fn outbox(&self, manager: &str, limit: usize) -> impl Future<Output = Result<Vec<OutboxRow>, ProcessError>> + Send;

    /// Removes the outbox rows up to `through` (their `seq`) once their
    /// envelopes were sent. Rows are numbered in commit order: a manager's
    /// commits take turns, and take their numbers inside their turn.
    fn remove_outbox(&self, manager: &str, through: i64) -> impl Future<Output = Result<(), ProcessError>> + Send;

    /// Up to `limit` of the manager's timeouts due at `now` (milliseconds
    /// since the Unix epoch), earliest first.
    fn due_timeouts(
        &self,
        manager: &str,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueTimeout>, ProcessError>> + Send;

    /// When the manager's earliest pending timeout is due, if it has one.
    fn next_due(&self, manager: &str) -> impl Future<Output = Result<Option<i64>, ProcessError>> + Send;
}
