//! The view store: where projections keep their views and checkpoints.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use super::Projection;
use crate::types::Timestamp;

/// What a generation of a projection's views is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerationStatus {
    /// Serving reads and following new events.
    Live,
    /// Being rebuilt from the first event; not readable yet.
    Building,
    /// Replaced by a newer generation; its views are being dropped.
    Retired,
}

impl GenerationStatus {
    /// The name stored in the view store.
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Live => "live",
            GenerationStatus::Building => "building",
            GenerationStatus::Retired => "retired",
        }
    }

    /// Reads a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(GenerationStatus::Live),
            "building" => Some(GenerationStatus::Building),
            "retired" => Some(GenerationStatus::Retired),
            _ => None,
        }
    }
}

/// One generation of a projection's views, as recorded in the view store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The projection's name.
    pub projection: String,
    /// The generation number, from 1; each rebuild takes the next one.
    pub generation: u64,
    /// The fingerprint of the code that built it (32 hex digits).
    pub fingerprint: String,
    /// The position of the last event its views include, 0 for none.
    pub checkpoint: u64,
    /// What it is doing.
    pub status: GenerationStatus,
    /// When its checkpoint last moved.
    pub updated_at: Timestamp,
    /// The items of the code that builds it, each with its hash
    /// ([`Code::items`](super::Code::items)); `None` when not recorded
    /// (a generation from before Treaty recorded them).
    pub code: Option<BTreeMap<String, String>>,
    /// How fast its last rebuild or catch-up read events, in events per
    /// second; `None` until one was measured.
    pub events_per_second: Option<u64>,
}

/// What the engine records about a generation besides its views and
/// checkpoint, with [`ViewStore::describe`]. `None` leaves a stored value
/// as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerationDetails {
    /// The items of the code that builds it, each with its hash.
    pub code: Option<BTreeMap<String, String>>,
    /// How fast its last rebuild or catch-up read events.
    pub events_per_second: Option<u64>,
}

/// The lease an engine instance holds on a projection: while it holds it,
/// it alone works on the projection (catches up, rebuilds, promotes,
/// commits), and every write it makes to the projection checks `token` in
/// the same transaction ([`ViewStore::fenced`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The projection.
    pub projection: String,
    /// The instance holding it (`EngineConfig::instance`).
    pub holder: String,
    /// The fencing token: it grows by one at each acquisition, so a
    /// holder that lost the lease cannot write with its old token.
    pub token: u64,
    /// When the lease ends unless renewed, by the view store's clock
    /// (the database server's for PostgreSQL). A released lease expires
    /// at once.
    pub expires_at: Timestamp,
}

/// A change to one view: `value` is the new JSON, `None` deletes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewChange {
    /// The view's key.
    pub key: String,
    /// The new JSON, or `None` to delete the view.
    pub value: Option<Vec<u8>>,
}

/// Why a view store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    /// The generation's checkpoint is not where the writer left it:
    /// another engine wrote the same projection outside the lease (see
    /// [`ViewStore::fenced`]), or the generation was dropped. Nothing was
    /// written.
    #[error("projection {projection} generation {generation} is at checkpoint {}, not {expected}: another engine is writing these views without holding the projection's lease, or the generation was dropped", found.map_or("none (it no longer exists)".to_string(), |c| c.to_string()))]
    CheckpointMoved {
        /// The projection.
        projection: String,
        /// The generation.
        generation: u64,
        /// The checkpoint the writer expected.
        expected: u64,
        /// The checkpoint found, `None` when the generation is gone.
        found: Option<u64>,
    },
    /// The writer's lease on the projection was taken over by another
    /// instance (its fencing token no longer matches): it must stop
    /// working on the projection. Nothing was written.
    #[error("projection {projection}: the lease with token {token} was taken over ({}); this instance stopped writing it and writes nothing", match (holder, current) { (Some(holder), Some(current)) => format!("{holder} holds token {current}"), _ => "no lease recorded".to_string() })]
    LeaseLost {
        /// The projection.
        projection: String,
        /// The writer's token.
        token: u64,
        /// The token now recorded, `None` when there is no lease.
        current: Option<u64>,
        /// The instance holding it now.
        holder: Option<String>,
    },
    /// The generation exists already, or is not in the state the
    /// operation needs.
    #[error("projection {projection} generation {generation} {reason}")]
    WrongGeneration {
        /// The projection.
        projection: String,
        /// The generation.
        generation: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A stored view is not valid JSON of the view type.
    #[error("view {key:?} of projection {projection} cannot be read as the view type: {reason}; the view type changed without a rebuild, or the row was edited")]
    Corrupt {
        /// The projection.
        projection: String,
        /// The view's key.
        key: String,
        /// What the JSON decoder said.
        reason: String,
    },
    /// A stored row breaks the layout (for example an unknown status).
    #[error("the view store at {location} holds an invalid row: {reason}")]
    InvalidRow {
        /// The database.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed.
    #[error("view store failed: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Storage for projection views, in generations.
///
/// Every operation is atomic. Readers see only live generations, so a
/// generation being built is invisible until [`ViewStore::promote`] makes
/// it live in the same transaction that retires the one it replaces.
pub trait ViewStore: Clone + Send + Sync + 'static {
    /// Every recorded generation of every projection.
    ///
    /// # Errors
    ///
    /// When the backend fails or a row is invalid.
    fn generations(&self) -> impl Future<Output = Result<Vec<Generation>, ViewError>> + Send;

    /// Records a new, empty generation with status `Building` and
    /// checkpoint 0.
    ///
    /// # Errors
    ///
    /// [`ViewError::WrongGeneration`] when it exists already.
    fn begin_generation(
        &self,
        projection: &str,
        generation: u64,
        fingerprint: &str,
    ) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// Records `details` for a generation (see [`GenerationDetails`]).
    /// They explain and estimate (which items changed, how long a rebuild
    /// takes), they decide nothing, so they are written apart from the
    /// generation's views and checkpoint. Describing a generation that
    /// does not exist is not an error.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn describe(
        &self,
        projection: &str,
        generation: u64,
        details: GenerationDetails,
    ) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// The views under `keys` in a generation (those that exist), in any
    /// order.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn load(
        &self,
        projection: &str,
        generation: u64,
        keys: Vec<String>,
    ) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>, ViewError>> + Send;

    /// Writes `changes` and moves the generation's checkpoint from `from`
    /// to `to`, in one transaction: after a crash either both happened or
    /// neither did.
    ///
    /// # Errors
    ///
    /// [`ViewError::CheckpointMoved`] when the checkpoint is not at
    /// `from` (nothing is written then).
    fn commit(
        &self,
        projection: &str,
        generation: u64,
        from: u64,
        to: u64,
        changes: Vec<ViewChange>,
    ) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// Makes a `Building` generation live and retires the live one, in one
    /// transaction. Returns the retired generation's number.
    ///
    /// # Errors
    ///
    /// [`ViewError::WrongGeneration`] when the generation is not building.
    fn promote(&self, projection: &str, generation: u64)
        -> impl Future<Output = Result<Option<u64>, ViewError>> + Send;

    /// Deletes a generation's views and its record. Deleting one that does
    /// not exist is not an error.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn drop_generation(&self, projection: &str, generation: u64) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// Takes the lease on `projection` for `holder` for `ttl`, with the
    /// next fencing token, when no lease is recorded, the recorded one has
    /// expired, or `holder` holds it (a restart of the same instance).
    /// `None` when another instance holds an unexpired lease.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn acquire(
        &self,
        projection: &str,
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Lease>, ViewError>> + Send;

    /// Extends `lease` to `ttl` from now while its token is still the
    /// recorded one (even if it expired meanwhile: no one took it over).
    /// Returns the new expiry, `None` when the lease was taken over.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn renew(&self, lease: &Lease, ttl: Duration) -> impl Future<Output = Result<Option<Lease>, ViewError>> + Send;

    /// Ends `lease` now, if it is still the recorded one, so another
    /// instance can take the projection at once. The token is kept: the
    /// next acquisition takes the one after it.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), ViewError>> + Send;

    /// Every recorded lease (empty for a view store of a layout from
    /// before leases).
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn leases(&self) -> impl Future<Output = Result<Vec<Lease>, ViewError>> + Send;

    /// A handle on the same store whose writes to `lease.projection`
    /// ([`begin_generation`](Self::begin_generation),
    /// [`commit`](Self::commit), [`promote`](Self::promote),
    /// [`drop_generation`](Self::drop_generation)) check, in their own
    /// transaction, that `lease.token` is still the recorded token, and
    /// fail with [`ViewError::LeaseLost`] writing nothing otherwise.
    #[must_use]
    fn fenced(&self, lease: &Lease) -> Self;

    /// The view under `key` in the projection's live generation.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn get(&self, projection: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ViewError>> + Send;

    /// Up to `limit` views of the live generation with keys after `after`
    /// (from the first when `None`), in key order: a page of a listing.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    fn list(
        &self,
        projection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>, ViewError>> + Send;
}

/// Typed reads of live views, for the parts of an application that serve
/// them. It works while the engine runs, and from other processes.
#[derive(Debug, Clone)]
pub struct ViewReader<S> {
    store: S,
}

impl<S: ViewStore> ViewReader<S> {
    /// Reads views from `store`.
    pub fn new(store: S) -> Self {
        ViewReader { store }
    }

    /// The view of projection `P` under `key`.
    ///
    /// # Errors
    ///
    /// When the backend fails or the stored JSON is not a `P::View`.
    pub async fn get<P: Projection>(&self, key: &str) -> Result<Option<P::View>, ViewError> {
        match self.store.get(P::NAME, key).await? {
            None => Ok(None),
            Some(json) => decode_view::<P>(key, &json).map(Some),
        }
    }

    /// Up to `limit` views of `P` with keys after `after`, in key order.
    ///
    /// # Errors
    ///
    /// When the backend fails or a stored JSON is not a `P::View`.
    pub async fn list<P: Projection>(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, P::View)>, ViewError> {
        let rows = self.store.list(P::NAME, after, limit).await?;
        rows.into_iter()
            .map(|(key, json)| decode_view::<P>(&key, &json).map(|view| (key, view)))
            .collect()
    }
}

/// The stored JSON of a generation's item list, `None` when it is not
/// an object of strings (such a list only explains, so a bad one is
/// ignored rather than refused).
pub(crate) fn parse_code(json: Option<&str>) -> Option<BTreeMap<String, String>> {
    json.and_then(|json| serde_json::from_str(json).ok())
}

/// The JSON stored for an item list.
pub(crate) fn code_json(code: &BTreeMap<String, String>) -> String {
    serde_json::to_string(code).unwrap_or_else(|_| "{}".to_string())
}

/// Reads a stored view of `P`.
pub(crate) fn decode_view<P: Projection>(key: &str, json: &[u8]) -> Result<P::View, ViewError> {
    serde_json::from_slice(json).map_err(|e| ViewError::Corrupt {
        projection: P::NAME.to_string(),
        key: key.to_string(),
        reason: e.to_string(),
    })
}
