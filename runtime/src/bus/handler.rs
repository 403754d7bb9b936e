//! Command handlers: what the bus calls for each message.

use futures::future::BoxFuture;

use super::check_readable;
use super::envelope::{Envelope, Handled};
use super::CommandSet;
use crate::aggregate::Refusal;
use crate::aggregate::{Aggregate, ExecuteError, LoadError, Repository, SnapshotStore};
use crate::store::{AppendError, EventStore, Metadata};
use crate::types::Timestamp;
use crate::CompatibilityMode as Mode;

/// Why a handler did not accept a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// The command was refused with a domain error. It is settled, not
    /// retried, and the asker receives the error.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// A failure that may pass (storage, network, conflicts under heavy
    /// contention): retried with backoff, then quarantined.
    #[error("{0}")]
    Transient(String),
    /// A failure that no retry can fix (the message cannot be read by this
    /// build): quarantined at once.
    #[error("{0}")]
    Permanent(String),
}

/// Handles the messages of some contracts.
pub trait Handler: Send + Sync + 'static {
    /// The names of the contracts it handles.
    fn contracts(&self) -> Vec<&'static str>;

    /// Handles one message. Its effects must be idempotent under
    /// redelivery of the same message id: the bus delivers at least once.
    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>>;
}

/// The handler of an aggregate's commands: decodes the command, and
/// executes it exactly once through [`Repository::execute_message`]
/// (whose span leaves the message's ids to the span of the bus delivery
/// around it).
///
/// A command whose contract version this build knows under another
/// fingerprint (the sender's build changed it in place) is read when the
/// schema its envelope carries is compatible with this build's by the
/// rules of the handler's mode ([`AggregateHandler::compatibility`]), and
/// quarantined with the rules' findings otherwise.
pub struct AggregateHandler<A: Aggregate, S: EventStore, N: SnapshotStore> {
    repository: Repository<A, S, N>,
    mode: Mode,
}

impl<A: Aggregate, S: EventStore, N: SnapshotStore> AggregateHandler<A, S, N> {
    /// Handles `A`'s commands with `repository`, reading every sender's
    /// schema this build can read ([`CompatibilityMode::Backward`](Mode::Backward)).
    pub fn new(repository: Repository<A, S, N>) -> Self {
        AggregateHandler {
            repository,
            mode: Mode::Backward,
        }
    }

    /// Which compatibility a command with a fingerprint this build does
    /// not know must have to be handled: [`Mode::Backward`] (the default)
    /// when this build reads it; [`Mode::Full`] when, in addition, the
    /// sender's build would read this build's version, so that a rollout
    /// may go in either order.
    pub fn compatibility(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

impl<A, S, N> Handler for AggregateHandler<A, S, N>
where
    A: Aggregate,
    A::Command: CommandSet<Id = A::Id>,
    S: EventStore,
    N: SnapshotStore,
{
    fn contracts(&self) -> Vec<&'static str> {
        <A::Command as CommandSet>::CONTRACTS.iter().map(|c| c.name).collect()
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            check_readable(<A::Command as CommandSet>::CONTRACTS, envelope, self.mode)
                .map_err(HandleError::Permanent)?;
            let command =
                <A::Command as CommandSet>::decode(&envelope.contract, envelope.contract_version, &envelope.payload)
                    .map_err(|e| {
                        HandleError::Permanent(format!(
                            "cannot read message {} as {} v{}: {e}",
                            envelope.id, envelope.contract, envelope.contract_version
                        ))
                    })?;
            let metadata = Metadata {
                timestamp: Timestamp::now(),
                correlation_id: envelope.correlation_id.or(Some(envelope.id)),
                causation_id: Some(envelope.id),
                headers: envelope.headers.clone(),
            };
            let id = command.id().clone();
            // One execution makes at most one append, which records the
            // whole effect of the command: the transport's acknowledgement
            // may commit with it.
            crate::store::sqlite_shared::accept_commit_with();
            let execution = self
                .repository
                .execute_delivered(&id, &command, envelope.id, metadata)
                .await
                .map_err(classify::<A>)?;
            let stream = A::stream_name(&id).map_err(|e| HandleError::Permanent(e.to_string()))?;
            Handled::from_execution(execution, &stream).map_err(|e| HandleError::Permanent(e.to_string()))
        })
    }
}

/// Sorts a repository error into refused, transient and permanent.
fn classify<A: Aggregate>(error: ExecuteError<A::Error>) -> HandleError {
    match error {
        ExecuteError::Rejected(e) => HandleError::Refused(A::refusal(&e)),
        ExecuteError::Load(e @ LoadError::Decode { .. }) => HandleError::Permanent(e.to_string()),
        ExecuteError::Load(e @ LoadError::InvalidStream(_)) => HandleError::Permanent(e.to_string()),
        ExecuteError::Encode(e) => HandleError::Permanent(e.to_string()),
        ExecuteError::Append {
            source:
                source @ (AppendError::TooLarge { .. }
                | AppendError::FingerprintMismatch { .. }
                | AppendError::IncompatibleSchema { .. }
                | AppendError::InvalidPayload { .. }
                | AppendError::InvalidContract { .. }
                | AppendError::InvalidMetadata { .. }
                | AppendError::DuplicateEventId { .. }
                | AppendError::Empty { .. }
                | AppendError::InvalidStream(_)),
            stream,
        } => HandleError::Permanent(format!("cannot append to stream {stream}: {source}")),
        other => HandleError::Transient(other.to_string()),
    }
}
