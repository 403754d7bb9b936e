//! One step of one instance: load its state, let the manager react to an
//! event or a due timeout, and commit the new state with the checkpoint,
//! the outbox and the timeouts in one transaction.

use super::store::{Commit, InstanceChange, InstanceState, ProcessStore, ScheduledTimeout};
use super::{envelope, timeout_id, Cause, Effects, ProcessError, ProcessManager};
use crate::types::{Timestamp, Uuid};

/// What an instance reacts to.
pub(crate) enum Input<'a, E> {
    /// An event it handles.
    Event(&'a E),
    /// Its timeout of this name, with the timeout's id.
    Timeout(&'a str, Uuid),
}

/// What a step did.
pub(crate) enum Stepped {
    /// It committed; with when the earliest timeout it scheduled is due,
    /// and whether it put commands in the outbox.
    Committed { earliest: Option<i64>, sent: bool },
    /// The instance completed before: nothing was done.
    Completed,
}

/// Runs one step of instance `key` and commits it, moving the checkpoint
/// from `checkpoint.0` to `checkpoint.1`.
pub(crate) async fn step<P: ProcessManager, S: ProcessStore>(
    manager: &P,
    store: &S,
    checkpoint: (u64, u64),
    key: String,
    cause: Cause,
    input: Input<'_, P::Event>,
) -> Result<Stepped, ProcessError> {
    let stored = store.load(P::NAME, &key).await?;
    let (expected_revision, mut state) = match stored {
        None => (None, P::State::default()),
        Some(stored) => match stored.state {
            InstanceState::Completed => return finished(P::NAME, store, checkpoint, key, stored.revision, input).await,
            InstanceState::Running { version, json } => {
                (Some(stored.revision), read_state(manager, &key, version, &json)?)
            }
        },
    };
    let mut effects = Effects::new();
    let fired = match input {
        Input::Event(event) => {
            manager.handle(&mut state, event, &mut effects);
            None
        }
        Input::Timeout(name, id) => {
            manager.timeout(&mut state, name, &mut effects);
            Some(id)
        }
    };
    let encode_failed = |reason: String| ProcessError::Encode {
        manager: P::NAME.to_string(),
        reason: format!("instance {key}: {reason}"),
    };
    if let Some(failure) = effects.failure() {
        return Err(encode_failed(failure.to_string()));
    }
    let state = if effects.is_complete() {
        InstanceState::Completed
    } else {
        InstanceState::Running {
            version: P::STATE_VERSION,
            json: serde_json::to_vec(&state).map_err(|e| encode_failed(format!("cannot encode the state: {e}")))?,
        }
    };
    let now = Timestamp::now().as_millisecond();
    let schedule: Vec<ScheduledTimeout> = effects
        .scheduled()
        .iter()
        .enumerate()
        .map(|(index, (name, after))| ScheduledTimeout {
            name: name.clone(),
            id: timeout_id(P::NAME, cause.id, index),
            due: now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
        })
        .collect();
    let earliest = schedule.iter().map(|t| t.due).min();
    let outbox: Vec<(Uuid, Vec<u8>)> = effects
        .commands()
        .iter()
        .enumerate()
        .map(|(index, command)| {
            let envelope = envelope(P::NAME, cause, index, command);
            (envelope.id, envelope.to_json())
        })
        .collect();
    let sent = !outbox.is_empty();
    store
        .commit(Commit {
            manager: P::NAME.to_string(),
            expected_checkpoint: checkpoint.0,
            checkpoint: checkpoint.1,
            instance: Some(InstanceChange {
                key,
                expected_revision,
                state,
                fired,
                schedule,
                cancel: effects.cancelled().to_vec(),
                outbox,
            }),
        })
        .await?;
    Ok(Stepped::Committed { earliest, sent })
}

/// What a step of a completed instance does: nothing for an event; for a
/// timeout (which completion removed, so only one stored by an older
/// build), removes it.
async fn finished<E, S: ProcessStore>(
    manager: &str,
    store: &S,
    checkpoint: (u64, u64),
    key: String,
    revision: i64,
    input: Input<'_, E>,
) -> Result<Stepped, ProcessError> {
    let Input::Timeout(_, id) = input else {
        return Ok(Stepped::Completed);
    };
    store
        .commit(Commit {
            manager: manager.to_string(),
            expected_checkpoint: checkpoint.0,
            checkpoint: checkpoint.1,
            instance: Some(InstanceChange {
                key,
                expected_revision: Some(revision),
                state: InstanceState::Completed,
                fired: Some(id),
                schedule: Vec::new(),
                cancel: Vec::new(),
                outbox: Vec::new(),
            }),
        })
        .await?;
    Ok(Stepped::Committed {
        earliest: None,
        sent: false,
    })
}

/// Reads a stored state, migrating it when it was written at an earlier
/// version.
pub(crate) fn read_state<P: ProcessManager>(
    manager: &P,
    key: &str,
    version: u32,
    json: &[u8],
) -> Result<P::State, ProcessError> {
    let failed = |reason: String| ProcessError::State {
        manager: P::NAME.to_string(),
        key: key.to_string(),
        version,
        reason,
    };
    if version == P::STATE_VERSION {
        return serde_json::from_slice(json).map_err(|e| failed(e.to_string()));
    }
    if !P::MIGRATES_FROM.contains(&version) {
        return Err(failed(format!(
            "STATE_VERSION is {} and MIGRATES_FROM does not list {version}",
            P::STATE_VERSION
        )));
    }
    let value = serde_json::from_slice(json).map_err(|e| failed(e.to_string()))?;
    manager.migrate(version, value).map_err(failed)
}
