//! What a command route executes on: an aggregate's repository, behind an
//! object-safe trait so the route table holds any number of aggregates.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use treaty_runtime::aggregate::{Aggregate, ExecuteError, LoadError, Repository, SnapshotStore};
use treaty_runtime::bus::{CommandSet, Handled};
use treaty_runtime::store::{AppendError, EventStore, Metadata, StreamName};
use treaty_runtime::{Timestamp, Uuid};

/// A command to execute, already checked against its contract.
pub struct Execute {
    /// The contract name.
    pub contract: String,
    /// The payload's contract version.
    pub version: u32,
    /// The command's whole JSON at its current version, identity included.
    pub payload: Vec<u8>,
    /// The message id: derived from the idempotency key, or new.
    pub message: Uuid,
    /// The stream version the client expects.
    pub expected: Option<u64>,
    /// Headers for the events' metadata: the trace context of the
    /// command's span (`traceparent`, `tracestate`), when traces are
    /// recorded.
    pub headers: BTreeMap<String, String>,
}

/// Why a command was not accepted.
pub enum Failure {
    /// The domain refused it.
    Refused(String),
    /// The stream is at `actual`, not the expected version.
    WrongVersion {
        /// The stream's version.
        actual: u64,
    },
    /// Other writers appended under every attempt.
    Contention(String),
    /// The payload passed the contract check but the decoder refused it,
    /// or the id makes no stream name: bad input.
    Invalid(String),
    /// The events are larger than the store accepts.
    TooLarge(String),
    /// The store failed: try again.
    Unavailable(String),
    /// Something this server cannot fix by retrying (a stored event this
    /// build cannot read): logged, answered as a server error.
    Internal(String),
}

/// A mounted aggregate.
pub trait Target: Send + Sync + 'static {
    /// Executes a command.
    fn execute(&self, command: Execute) -> BoxFuture<'_, Result<Handled, Failure>>;

    /// The stream name of the aggregate whose id displays as `id`.
    fn stream(&self, id: &str) -> Result<StreamName, Failure>;

    /// The version of a stream, 0 when it has no events.
    fn stream_version<'a>(&'a self, stream: &'a StreamName) -> BoxFuture<'a, Result<u64, Failure>>;
}

/// An aggregate's repository as a [`Target`].
pub struct RepositoryTarget<A: Aggregate, S: EventStore, N: SnapshotStore> {
    pub repository: Repository<A, S, N>,
}

impl<A, S, N> Target for RepositoryTarget<A, S, N>
where
    A: Aggregate,
    A::Command: CommandSet<Id = A::Id>,
    S: EventStore,
    N: SnapshotStore,
{
    fn execute(&self, command: Execute) -> BoxFuture<'_, Result<Handled, Failure>> {
        Box::pin(async move {
            let decoded = <A::Command as CommandSet>::decode(&command.contract, command.version, &command.payload)
                .map_err(|e| Failure::Invalid(e.to_string()))?;
            let id = decoded.id().clone();
            let metadata = Metadata {
                timestamp: Timestamp::now(),
                correlation_id: Some(command.message),
                causation_id: Some(command.message),
                headers: command.headers,
            };
            let execution = match command.expected {
                Some(expected) => {
                    self.repository
                        .execute_message_expecting(&id, &decoded, command.message, metadata, expected)
                        .await
                }
                None => {
                    self.repository
                        .execute_message(&id, &decoded, command.message, metadata)
                        .await
                }
            }
            .map_err(classify)?;
            let stream = A::stream_name(&id).map_err(|e| Failure::Invalid(e.to_string()))?;
            Handled::from_execution(execution, &stream).map_err(|e| Failure::Internal(e.to_string()))
        })
    }

    fn stream(&self, id: &str) -> Result<StreamName, Failure> {
        StreamName::for_aggregate(A::CATEGORY, id).map_err(|e| Failure::Invalid(e.to_string()))
    }

    fn stream_version<'a>(&'a self, stream: &'a StreamName) -> BoxFuture<'a, Result<u64, Failure>> {
        Box::pin(async move {
            self.repository
                .store()
                .stream_version(stream)
                .await
                .map(|v| v.unwrap_or(0))
                .map_err(|e| Failure::Unavailable(e.to_string()))
        })
    }
}

fn classify<E: std::error::Error>(error: ExecuteError<E>) -> Failure {
    match error {
        ExecuteError::Rejected(e) => Failure::Refused(e.to_string()),
        ExecuteError::WrongVersion { actual, .. } => Failure::WrongVersion { actual },
        ExecuteError::Conflict { .. } => Failure::Contention(error.to_string()),
        ExecuteError::Load(LoadError::InvalidStream(e)) => Failure::Invalid(e.to_string()),
        ExecuteError::Load(e @ LoadError::Read { .. }) => Failure::Unavailable(e.to_string()),
        ExecuteError::Append {
            source: source @ AppendError::TooLarge { .. },
            ..
        } => Failure::TooLarge(source.to_string()),
        ExecuteError::Append {
            source: source @ AppendError::InvalidStream(_),
            ..
        } => Failure::Invalid(source.to_string()),
        ExecuteError::Append {
            source: source @ AppendError::Storage(_),
            ..
        } => Failure::Unavailable(source.to_string()),
        other => Failure::Internal(other.to_string()),
    }
}
