//! Due timeouts, delivered once each: a timeout's step commits only while
//! its row is stored, and removes it in the same transaction.

use std::sync::Arc;

use tokio::sync::Notify;

use super::instance::{step, Input, Stepped};
use super::store::ProcessStore;
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
            };
            let input = Input::Timeout(&timeout.name, timeout.id);
            let stepped = step(
                manager,
                store,
                (checkpoint, checkpoint),
                timeout.key.clone(),
                cause,
                input,
            )
            .await?;
            if let Stepped::Committed { sent: true, .. } = stepped {
                outbox.notify_one();
            }
        }
        if !more {
            return store.next_due(P::NAME).await;
        }
    }
}
