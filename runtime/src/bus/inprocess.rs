//! The in-process transport: tokio channels inside one binary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};

use super::transport::{Delivery, Transport, TransportError};
use crate::types::Uuid;

/// Commands and replies through in-memory channels: the default for a
/// single binary. Nothing survives the process; a message in flight when
/// it stops is lost, and so is one the bus could not settle (an
/// unsettled delivery is not delivered again here, unlike the durable
/// transports), so use the durable embedded queue
/// ([`SqliteQueue`](super::SqliteQueue)) when that matters.
#[derive(Clone)]
pub struct InProcessTransport {
    inner: Arc<Channels>,
}

struct Channels {
    commands: mpsc::UnboundedSender<Vec<u8>>,
    incoming: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    replies: mpsc::UnboundedSender<Vec<u8>>,
    reply_inbox: Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    next_tag: AtomicU64,
}

impl InProcessTransport {
    /// A new pair of channels.
    pub fn new() -> Self {
        let (commands, incoming) = mpsc::unbounded_channel();
        let (replies, reply_inbox) = mpsc::unbounded_channel();
        InProcessTransport {
            inner: Arc::new(Channels {
                commands,
                incoming: Mutex::new(incoming),
                replies,
                reply_inbox: Mutex::new(reply_inbox),
                next_tag: AtomicU64::new(1),
            }),
        }
    }
}

impl Default for InProcessTransport {
    fn default() -> Self {
        InProcessTransport::new()
    }
}

impl std::fmt::Debug for InProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessTransport").finish_non_exhaustive()
    }
}

impl Transport for InProcessTransport {
    async fn send(&self, _id: Uuid, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        if delay.is_zero() {
            return self.inner.commands.send(body).map_err(|_| TransportError::Closed);
        }
        let commands = self.inner.commands.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            // The receiver lives as long as the transport; when it is gone
            // there is nobody left to deliver to.
            let _ = commands.send(body);
        });
        Ok(())
    }

    async fn receive(&self) -> Result<Delivery, TransportError> {
        let body = self
            .inner
            .incoming
            .lock()
            .await
            .recv()
            .await
            .ok_or(TransportError::Closed)?;
        let tag = self.inner.next_tag.fetch_add(1, Ordering::Relaxed);
        Ok(Delivery { body, tag })
    }

    async fn ack(&self, _delivery: Delivery) -> Result<(), TransportError> {
        Ok(())
    }

    async fn requeue(&self, _delivery: Delivery, body: Vec<u8>, delay: Duration) -> Result<(), TransportError> {
        self.send(Uuid::nil(), body, delay).await
    }

    async fn dead_letter(&self, _delivery: Delivery, _reason: &str) -> Result<(), TransportError> {
        Ok(())
    }

    fn reply_address(&self) -> String {
        "in-process".to_string()
    }

    async fn reply(&self, _to: &str, body: Vec<u8>) -> Result<(), TransportError> {
        self.inner.replies.send(body).map_err(|_| TransportError::Closed)
    }

    async fn receive_reply(&self) -> Result<Vec<u8>, TransportError> {
        self.inner
            .reply_inbox
            .lock()
            .await
            .recv()
            .await
            .ok_or(TransportError::Closed)
    }
}
