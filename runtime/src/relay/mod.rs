//! Integration events: chosen events of one service's store, published to
//! RabbitMQ and received by other services, each with its effect once.
//!
//! - [`Relay`] reads a store from its checkpoint and publishes the events
//!   of chosen contracts to an exchange per namespace, with the contract
//!   name as routing key, persistent and confirmed by the broker; only
//!   then it advances its checkpoint, kept beside the store
//!   ([`SqliteRelayCheckpoints`], `PostgresRelayCheckpoints`).
//! - [`Inbox`] consumes a service's queue bound to those exchanges,
//!   checks each event's contract, version and fingerprint
//!   ([`check_compatible`]), and hands the events each lane holds to an
//!   [`IntegrationHandler`] as one batch, whose effects are deduplicated
//!   by event id in the receiving store.
//!
//! docs/messaging.md ("Integration events") says what travels and what
//! each side guarantees.

mod amqp;
mod checkpoint;
mod compatibility;
mod event;
mod inbox;
mod publish;

pub use amqp::DEFAULT_EXCHANGE_PREFIX;
#[cfg(feature = "postgres")]
pub use checkpoint::PostgresRelayCheckpoints;
pub use checkpoint::{CheckpointError, RelayCheckpoints, SqliteRelayCheckpoints};
pub use compatibility::check_compatible;
pub use event::{header, IntegrationEvent};
pub use inbox::{Inbox, InboxConfig, InboxError, IntegrationHandler, RunningInbox};
pub use publish::{Relay, RelayConfig, RelayError, RunningRelay};
