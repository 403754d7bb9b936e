//! Projections: read models folded from the event store, rebuilt only
//! when their code changes.
//!
//! - [`Projection`] is one read model: which events it consumes, which
//!   views (keyed JSON documents of one type) an event touches, and how
//!   it updates them. `#[treaty::projection]` gives it a compile-time
//!   [`Fingerprint`] of its code.
//! - [`ViewStore`] keeps views in generations, with a checkpoint per
//!   generation written in the same transaction as the views it covers.
//!   [`SqliteViewStore`] is the embedded default; `PostgresViewStore`
//!   (feature `postgres`) sits beside a PostgreSQL event store.
//! - [`ProjectionEngine`] starts every projection: unchanged ones continue
//!   from their checkpoint, changed or new ones rebuild into a new
//!   generation while the old one keeps serving reads, then swap.
//! - [`ViewReader`] reads the live generation of a projection's views.

mod code;
mod engine;
mod fingerprint;
mod plan;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
mod store;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::aggregate::EventSet;
use crate::store::{Metadata, StreamName};

pub use code::{Code, ModuleCode, Upcast};
pub use engine::{EngineConfig, EngineError, Phase, ProjectionEngine, ProjectionStatus, RunningEngine, StartupSummary};
pub use fingerprint::Fingerprint;
pub use plan::{Change, CodeChange, PlannedAction, ProjectionPlan, RebuildReason, StartPlan};
#[cfg(feature = "postgres")]
pub use postgres::PostgresViewStore;
pub use sqlite::SqliteViewStore;
pub use store::{Generation, GenerationDetails, GenerationStatus, Lease, ViewChange, ViewError, ViewReader, ViewStore};

/// One read model: a set of views of one type, each under a text key,
/// folded from the events of [`Projection::Event`].
///
/// Implement it inside `#[treaty::projection]`, which computes
/// [`Projection::FINGERPRINT`] from the crate analysis that build.rs runs
/// (`treaty_codegen::analyze_projections()`):
///
/// ```text
/// #[treaty::projection]
/// impl Projection for OrdersByCustomer {
///     const NAME: &'static str = "orders.by_customer";
///     type Event = OrderEvent;
///     type View = CustomerOrders;
///
///     fn keys(&self, event: &OrderEvent) -> Vec<String> {
///         vec![event.customer().to_string()]
///     }
///
///     fn apply(&self, view: &mut Option<CustomerOrders>, event: &OrderEvent, _: &EventContext<'_>) {
///         let view = view.get_or_insert_with(CustomerOrders::default);
///         view.total += line_total(event);
///     }
/// }
/// ```
///
/// `keys` and `apply` must depend only on their arguments and the code:
/// the engine relies on a rebuild from the first event producing the same
/// views as live processing did.
pub trait Projection: Send + Sync + 'static {
    /// A stable name such as `orders.by_customer`. Views are stored under
    /// it; renaming a projection drops its views and builds new ones.
    const NAME: &'static str;

    /// The fingerprint of the projection's code. When it differs from the
    /// stored one, the engine rebuilds the views. `#[treaty::projection]`
    /// computes it; see `docs/projections.md` for what counts.
    const FINGERPRINT: Fingerprint;

    /// What the fingerprint covers, item by item: the items of the crate
    /// the projection's code reaches, as the analysis build.rs runs found
    /// them, with the hash of each. `#[treaty::projection]` sets it; the
    /// engine stores the items with each generation, so that
    /// [`ProjectionEngine::plan`] can name what changed.
    const CODE: Code = Code::NONE;

    /// The events the projection consumes: a generated `FooEvent` enum or
    /// any [`EventSet`]. Events of other contracts are skipped without
    /// being decoded.
    type Event: EventSet;

    /// The type of every view, stored as JSON. `#[treaty::view]` on its
    /// definition implements [`View`].
    type View: View;

    /// The keys of the views `event` updates, usually one. `apply` is
    /// called once per key.
    fn keys(&self, event: &Self::Event) -> Vec<String>;

    /// Updates the view under one of the event's keys: `None` when it does
    /// not exist yet; setting it to `None` deletes it.
    fn apply(&self, view: &mut Option<Self::View>, event: &Self::Event, context: &EventContext<'_>);
}

/// A type of views, stored as JSON.
///
/// `#[treaty::view]` on the type's definition implements it with the
/// fingerprint of the definition's tokens, which every projection using
/// the type folds into its own: changing a view type rebuilds its
/// projections.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a view type",
    label = "not a view type",
    note = "add `#[treaty::view]` to the definition of `{Self}`"
)]
pub trait View: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The fingerprint of the type's definition.
    const FINGERPRINT: Fingerprint;
}

/// Where an event sits in the store, for projections that record it.
#[derive(Debug, Clone, Copy)]
pub struct EventContext<'a> {
    /// The key of the view being updated.
    pub key: &'a str,
    /// The event's stream.
    pub stream: &'a StreamName,
    /// Its version in the stream.
    pub version: u64,
    /// Its global position.
    pub position: u64,
    /// Its metadata (timestamp, correlation, headers).
    pub metadata: &'a Metadata,
}
