//! Messaging: commands delivered to their handlers over a transport, with
//! an effect that happens once however often a message is delivered.
//!
//! - [`Bus`] sends commands one way ([`Bus::send`]) or waits for their
//!   outcome ([`Bus::ask`]), and, once started, handles the transport's
//!   messages: each through the [`Handler`] registered for its contract,
//!   usually an aggregate's repository ([`Bus::handle_aggregate`]).
//! - Deduplication: a handled command's events get ids derived from the
//!   message id ([`message_event_id`](crate::store::message_event_id)),
//!   so the append that records them records in the same transaction that
//!   the message was handled; a redelivered message finds them and is
//!   answered with the original outcome.
//! - Transient failures are retried with exponential backoff and jitter
//!   ([`RetryPolicy`]); after the last attempt, or at once when no retry
//!   can help (no handler, an unreadable payload, not an envelope), the
//!   message is parked in the [`Quarantine`] with its error, and the
//!   messages behind it keep flowing.
//! - Events are not published by the bus: subscribers in the service
//!   read them from the event store (its subscriptions, the projection
//!   engine), so there is no second write that could disagree with the
//!   store; other services receive chosen events through a relay
//!   (`crate::relay`, feature `amqp`).
//!
//! Transports implement [`Transport`]: [`InProcessTransport`] for one
//! binary, [`SqliteQueue`] durable in the event store's SQLite file, and
//! `AmqpTransport` (RabbitMQ).

#[cfg(feature = "amqp")]
pub(crate) mod amqp;
mod dispatcher;
mod envelope;
mod handler;
mod inprocess;
mod quarantine;
#[cfg(feature = "postgres")]
mod quarantine_postgres;
mod quarantine_sqlite;
mod sqlite_queue;
mod transport;
mod writer_schema;

use crate::contract::{ContractInfo, DecodeError, EncodeError};

#[cfg(feature = "amqp")]
pub use amqp::{AmqpConfig, AmqpTransport};
pub use dispatcher::{AskError, Bus, BusConfig, DuplicateHandler, RetryPolicy, RunningBus, SendError};
pub use envelope::{Envelope, Handled, MalformedMessage, Outcome, ProducedEvent, Reply};
pub use handler::{AggregateHandler, HandleError, Handler};
pub use inprocess::InProcessTransport;
pub use quarantine::{MemoryQuarantine, ParkedMessage, Quarantine, QuarantineError};
#[cfg(feature = "postgres")]
pub use quarantine_postgres::PostgresQuarantine;
pub use quarantine_sqlite::SqliteQuarantine;
// Defined with the aggregate whose `refusal` makes it; the bus carries it.
pub use crate::aggregate::{DowncastError, Refusal};
pub use sqlite_queue::{SqliteQueue, SqliteQueueConfig};
pub use transport::{Delivery, Transport, TransportError};

/// The schema a message was written with, which every envelope carries.
pub use crate::contract::WriterSchema;
pub use writer_schema::check_readable;
#[cfg(feature = "amqp")]
pub(crate) use writer_schema::{check_writer, Written};

/// A closed set of command contracts addressed to one aggregate: the
/// generated `FooCommand` enums implement it.
pub trait CommandSet: Sized + Send + Sync + 'static {
    /// The identity of the aggregate a command is for.
    type Id: Clone + Send + Sync + 'static;

    /// The member contracts.
    const CONTRACTS: &'static [ContractInfo];

    /// The aggregate the command is for.
    fn id(&self) -> &Self::Id;

    /// The member's contract name, such as `"bank.Deposit"`.
    fn contract_name(&self) -> &'static str;

    /// The member's current contract version, the one `encode` writes.
    fn contract_version(&self) -> u32;

    /// The member's JSON at its current version.
    ///
    /// # Errors
    ///
    /// Only when a field's own `Serialize` fails.
    fn encode(&self) -> Result<Vec<u8>, EncodeError>;

    /// Reads a received command by contract name and version, upcasting
    /// earlier versions.
    ///
    /// # Errors
    ///
    /// When no member has that name, or the member cannot read it.
    fn decode(contract: &str, version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}
