//! Where messages that could not be handled are parked.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::types::{Timestamp, Uuid};

/// A message the bus gave up on, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    /// The message's id (a new id when the bytes were not an envelope).
    pub id: Uuid,
    /// The contract, when the message was an envelope.
    pub contract: Option<String>,
    /// The message exactly as received.
    pub body: Vec<u8>,
    /// The last error.
    pub error: String,
    /// How many times it was attempted.
    pub attempts: u32,
    /// When it was sent.
    pub first_seen: Timestamp,
    /// When it was parked.
    pub parked_at: Timestamp,
    /// Whether an operator asked for it to be sent again.
    pub retry_requested: bool,
}

/// Why a quarantine operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuarantineError {
    /// A stored row is not a parked message.
    #[error("the quarantine at {location} holds an invalid row: {reason}")]
    InvalidRow {
        /// The database.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed.
    #[error("quarantine storage failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Storage for parked messages, kept next to the event store so that
/// `treaty quarantine` can manage them while nothing runs.
pub trait Quarantine: Clone + Send + Sync + 'static {
    /// Parks a message. Parking one that is parked already replaces it
    /// (a redelivery that failed again).
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn park(&self, message: ParkedMessage) -> impl Future<Output = Result<(), QuarantineError>> + Send;

    /// Every parked message, oldest first.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn list(&self) -> impl Future<Output = Result<Vec<ParkedMessage>, QuarantineError>> + Send;

    /// One parked message.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn get(&self, id: Uuid) -> impl Future<Output = Result<Option<ParkedMessage>, QuarantineError>> + Send;

    /// Asks for a parked message to be sent again; a running bus picks it
    /// up. Asking twice is the same as asking once. Returns whether the
    /// message is parked.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn request_retry(&self, id: Uuid) -> impl Future<Output = Result<bool, QuarantineError>> + Send;

    /// The messages whose retry was requested.
    ///
    /// Several buses may share one quarantine, so a bus sending these again
    /// takes each with [`claim_retry`](Quarantine::claim_retry) first.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn retries(&self) -> impl Future<Output = Result<Vec<ParkedMessage>, QuarantineError>> + Send;

    /// Removes a parked message (discarded, or sent again). Returns whether
    /// it was parked.
    ///
    /// It removes whatever is parked under `id`, so a bus that sent a
    /// message again uses [`remove_if_parked_at`](Quarantine::remove_if_parked_at)
    /// instead: the message may have failed again and been parked anew.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn remove(&self, id: Uuid) -> impl Future<Output = Result<bool, QuarantineError>> + Send;

    /// Takes the retry request of a parked message, for the one bus that
    /// will send it again.
    ///
    /// Atomically: when message `id` is parked with its retry requested,
    /// clears the request and returns the message as it is now stored
    /// (`retry_requested` false, `parked_at` as stored, which is what
    /// [`remove_if_parked_at`](Quarantine::remove_if_parked_at) compares);
    /// otherwise (not parked, or no retry requested) returns `None` and
    /// changes nothing. Of several callers at once, in one process or in
    /// many sharing the storage, exactly one gets the message, so buses
    /// sharing a quarantine send a requested retry once.
    ///
    /// The message stays parked. Once it is sent, the caller removes it
    /// with `remove_if_parked_at`; if sending fails, it asks again with
    /// [`request_retry`](Quarantine::request_retry) (or leaves that to the
    /// operator).
    ///
    /// # Errors
    ///
    /// When the backend fails; nothing was claimed then.
    fn claim_retry(&self, id: Uuid) -> impl Future<Output = Result<Option<ParkedMessage>, QuarantineError>> + Send;

    /// Removes message `id` only if it is still the parking whose
    /// `parked_at` is given, as [`claim_retry`](Quarantine::claim_retry)
    /// returned it. When the message was parked again meanwhile (sent
    /// again, it failed again at once), the new parking has a later
    /// `parked_at` and stays. Returns whether it removed the message.
    ///
    /// Backends compare `parked_at` at the precision they store it:
    /// milliseconds in SQLite and PostgreSQL, exactly in memory. A
    /// `parked_at` read back from the backend always matches its own row.
    ///
    /// # Errors
    ///
    /// When the backend fails; nothing was removed then.
    fn remove_if_parked_at(
        &self,
        id: Uuid,
        parked_at: Timestamp,
    ) -> impl Future<Output = Result<bool, QuarantineError>> + Send;
}

/// A quarantine in memory, for tests and for buses whose parked messages
/// need not outlive the process.
#[derive(Debug, Clone, Default)]
pub struct MemoryQuarantine {
    parked: Arc<Mutex<BTreeMap<Uuid, ParkedMessage>>>,
}

impl MemoryQuarantine {
    /// An empty quarantine.
    pub fn new() -> Self {
        MemoryQuarantine::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Uuid, ParkedMessage>> {
        self.parked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Quarantine for MemoryQuarantine {
    async fn park(&self, message: ParkedMessage) -> Result<(), QuarantineError> {
        self.lock().insert(message.id, message);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        let mut all: Vec<_> = self.lock().values().cloned().collect();
        all.sort_by_key(|m| m.parked_at);
        Ok(all)
    }

    async fn get(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        Ok(self.lock().get(&id).cloned())
    }

    async fn request_retry(&self, id: Uuid) -> Result<bool, QuarantineError> {
        Ok(self.lock().get_mut(&id).map(|m| m.retry_requested = true).is_some())
    }

    async fn retries(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        Ok(self.lock().values().filter(|m| m.retry_requested).cloned().collect())
    }

    async fn remove(&self, id: Uuid) -> Result<bool, QuarantineError> {
        Ok(self.lock().remove(&id).is_some())
    }

    async fn claim_retry(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        let mut parked = self.lock();
        Ok(parked.get_mut(&id).filter(|m| m.retry_requested).map(|m| {
            m.retry_requested = false;
            m.clone()
        }))
    }

    async fn remove_if_parked_at(&self, id: Uuid, parked_at: Timestamp) -> Result<bool, QuarantineError> {
        let mut parked = self.lock();
        if parked.get(&id).is_some_and(|m| m.parked_at == parked_at) {
            parked.remove(&id);
            return Ok(true);
        }
        Ok(false)
    }
}
