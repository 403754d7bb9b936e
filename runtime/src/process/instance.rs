//! One instance's part of a commit: its state loaded once, the effects of
//! every event (or the due timeout) it reacts to folded in, and the change
//! to write with the checkpoint, the outbox and the timeouts in one
//! transaction.

use super::store::{InstanceChange, InstanceState, ProcessStore, ScheduledTimeout};
use super::{envelope, timeout_id, Cause, Effects, ProcessError, ProcessManager};
use crate::types::Timestamp;

/// An instance being changed by a commit.
pub(crate) struct Pending<P: ProcessManager> {
    key: String,
    expected_revision: Option<i64>,
    /// Its state; `None` once it completed.
    state: Option<P::State>,
    /// Whether anything changed since it was loaded.
    changed: bool,
    schedule: Vec<ScheduledTimeout>,
    cancel: Vec<String>,
    outbox: Vec<(crate::types::Uuid, Vec<u8>)>,
}

impl<P: ProcessManager> Pending<P> {
    /// Loads instance `key`; a new one starts from the state's `Default`.
    pub(crate) async fn load<S: ProcessStore>(manager: &P, store: &S, key: String) -> Result<Self, ProcessError> {
        let stored = store.load(P::NAME, &key).await?;
        let (expected_revision, state) = match stored {
            None => (None, Some(P::State::default())),
            Some(stored) => match stored.state {
                InstanceState::Completed => (Some(stored.revision), None),
                InstanceState::Running { version, json } => {
                    (Some(stored.revision), Some(read_state(manager, &key, version, &json)?))
                }
            },
        };
        Ok(Pending {
            key,
            expected_revision,
            state,
            changed: false,
            schedule: Vec::new(),
            cancel: Vec::new(),
            outbox: Vec::new(),
        })
    }

    /// Lets the manager react to an event; an event for an instance that
    /// completed is skipped.
    pub(crate) fn handle(&mut self, manager: &P, event: &P::Event, cause: Cause) -> Result<(), ProcessError> {
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        let mut effects = Effects::new();
        manager.handle(state, event, &mut effects);
        self.fold(effects, cause)
    }

    /// Lets the manager react to its due timeout `name`; a completed
    /// instance (which has none, unless an older build left one) only
    /// drops it.
    pub(crate) fn timeout(&mut self, manager: &P, name: &str, cause: Cause) -> Result<(), ProcessError> {
        self.changed = true;
        let Some(state) = &mut self.state else {
            return Ok(());
        };
        let mut effects = Effects::new();
        manager.timeout(state, name, &mut effects);
        self.fold(effects, cause)
    }

    /// Adds the effects of one event or timeout to what the commit writes.
    fn fold(&mut self, effects: Effects, cause: Cause) -> Result<(), ProcessError> {
        if let Some(failure) = effects.failure() {
            return Err(ProcessError::Encode {
                manager: P::NAME.to_string(),
                reason: format!("instance {}: {failure}", self.key),
            });
        }
        self.changed = true;
        for (index, command) in effects.commands().iter().enumerate() {
            let envelope = envelope(P::NAME, &cause, index, command);
            self.outbox.push((envelope.id, envelope.to_json()));
        }
        // What a later event decides about a timeout overrides an earlier
        // one's: the backends cancel before they schedule.
        for name in effects.cancelled() {
            self.schedule.retain(|t| t.name != *name);
            self.cancel.push(name.clone());
        }
        let now = Timestamp::now().as_millisecond();
        for (index, (name, after)) in effects.scheduled().iter().enumerate() {
            self.schedule.retain(|t| t.name != *name);
            self.schedule.push(ScheduledTimeout {
                name: name.clone(),
                id: timeout_id(P::NAME, cause.id, index),
                due: now.saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX)),
            });
        }
        if effects.is_complete() {
            self.state = None;
            self.schedule.clear();
        }
        Ok(())
    }

    /// When the earliest timeout it schedules is due.
    pub(crate) fn earliest(&self) -> Option<i64> {
        self.schedule.iter().map(|t| t.due).min()
    }

    /// Whether it puts commands in the outbox.
    pub(crate) fn sends(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// The change to commit, `None` when nothing changed; `fired` is the
    /// timeout being delivered.
    pub(crate) fn into_change(self, fired: Option<crate::types::Uuid>) -> Result<Option<InstanceChange>, ProcessError> {
        if !self.changed {
            return Ok(None);
        }
        let state = match &self.state {
            None => InstanceState::Completed,
            Some(state) => InstanceState::Running {
                version: P::STATE_VERSION,
                json: serde_json::to_vec(state).map_err(|e| ProcessError::Encode {
                    manager: P::NAME.to_string(),
                    reason: format!("instance {}: cannot encode the state: {e}", self.key),
                })?,
            },
        };
        Ok(Some(InstanceChange {
            key: self.key,
            expected_revision: self.expected_revision,
            state,
            fired,
            schedule: self.schedule,
            cancel: self.cancel,
            outbox: self.outbox,
        }))
    }
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
