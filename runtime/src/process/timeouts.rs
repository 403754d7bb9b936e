//! Due timeouts, delivered once each: a timeout's step commits only while
//! its row is stored, and removes it in the same transaction.

use std::sync::Arc;

use tokio::sync::Notify;

use super::instance::Pending;
use super::store::{Commit, ProcessStore};
use super::{Cause, ProcessError, ProcessManager};
use crate::types::Timestamp;

/// Timeouts read per query.
const BATCH: usize = 100;

/// Delivers every timeout of the manager due now, with the checkpoint
/// left at `checkpoint`; returns when the next pending one is due.
pub(crate) async fn fire_due<P: ProcessManager, S: ProcessStore>(
    manager: &P,
    store: &S,
    checkpoint: u64,
    outbox: &Arc<Notify>,
) -> Result<Option<i64>, ProcessError> {
    loop {
        let due = store
            .due_timeouts(P::NAME, Timestamp::now().as_millisecond(), BATCH)
            .await?;
        let more = due.len() == BATCH;
        for timeout in due {
            let cause = Cause {
                id: timeout.id,
                correlation_id: timeout.id,
                trace: Default::default(),
            };
            let mut pending = Pending::load(manager, store, timeout.key.clone()).await?;
            pending.timeout(manager, &timeout.name, cause)?;
            let sends = pending.sends();
            store
                .commit(Commit {
                    manager: P::NAME.to_string(),
                    expected_checkpoint: checkpoint,
                    checkpoint,
                    instances: pending.into_change(Some(timeout.id))?.into_iter().collect(),
                })
                .await?;
            if sends {
                outbox.notify_one();
            }
        }
        if !more {
            return store.next_due(P::NAME).await;
        }
    }
}
