//! The outbox dispatcher: sends the envelopes a manager's steps committed
//! through the bus, oldest first, and removes each row once the transport
//! took it. A crash in between sends the envelope again with the same
//! message id, which the handler's deduplication absorbs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::Instrument as _;

use super::store::ProcessStore;
use super::ProcessError;
use crate::bus::{Bus, Envelope, Quarantine, Transport};
use crate::telemetry::trace;

/// Sends the outbox of `manager` until cancelled: at start (what a
/// previous run left), when a step wakes it, and every `poll`.
pub(crate) async fn dispatch<S: ProcessStore, T: Transport, Q: Quarantine>(
    manager: &'static str,
    store: S,
    bus: Bus<T, Q>,
    batch: usize,
    poll: Duration,
    wake: Arc<Notify>,
    mut cancelled: watch::Receiver<bool>,
) {
    loop {
        match send_batch(manager, &store, &bus, batch).await {
            Ok(sent) if sent == batch => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!("process manager {manager}: cannot send its outbox: {error}; trying again"),
        }
        tokio::select! {
            biased;
            _ = cancelled.wait_for(|stop| *stop) => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Sends up to `batch` rows; returns how many.
async fn send_batch<S: ProcessStore, T: Transport, Q: Quarantine>(
    manager: &'static str,
    store: &S,
    bus: &Bus<T, Q>,
    batch: usize,
) -> Result<usize, String> {
    let rows = store.outbox(manager, batch).await.map_err(|e| e.to_string())?;
    for row in &rows {
        let envelope = Envelope::from_json(&row.envelope).map_err(|e| {
            ProcessError::Encode {
                manager: manager.to_string(),
                reason: format!("outbox row {} (message {}): {e}", row.seq, row.message_id),
            }
            .to_string()
        })?;
        // The send continues the trace of the event that caused the
        // command, whose context the envelope carries: the delivery is
        // this span's child (or, when DEBUG is recorded, the child of the
        // bus's `treaty.bus.send` inside it).
        let span = tracing::info_span!(
            "treaty.process.send",
            manager,
            contract = %envelope.contract,
            message_id = %envelope.id,
        );
        trace::set_parent_from_headers(&span, &envelope.headers);
        bus.send_envelope(&envelope)
            .instrument(span)
            .await
            .map_err(|e| e.to_string())?;
    }
    // One removal for the batch: a crash before it sends the batch again,
    // which the handlers' deduplication absorbs.
    if let Some(last) = rows.last() {
        store
            .remove_outbox(manager, last.seq)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(rows.len())
}
