//! Transports for tests that make one per case: SQLite queues, each in a
//! file of its own, and RabbitMQ transports on the broker
//! `TREATY_TEST_AMQP` names, each with queues of its own, deleted at the
//! end.

use std::sync::atomic::{AtomicUsize, Ordering};

use treaty::bus::SqliteQueue;

/// Makes SQLite queues, each in a new file of one temporary directory.
pub struct SqliteQueues {
    dir: tempfile::TempDir,
    files: AtomicUsize,
}

impl SqliteQueues {
    /// Queues in a new temporary directory, removed when this is dropped.
    pub fn new() -> Self {
        SqliteQueues {
            dir: tempfile::tempdir().expect("a temporary directory"),
            files: AtomicUsize::new(0),
        }
    }

    /// A queue in a file no other queue of these uses.
    pub async fn queue(&self) -> SqliteQueue {
        let file = self.files.fetch_add(1, Ordering::Relaxed);
        SqliteQueue::open(self.dir.path().join(format!("queue-{file}.db"))).expect("the queue opens")
    }
}

#[cfg(feature = "amqp")]
pub use amqp::Brokers;

#[cfg(feature = "amqp")]
mod amqp {
    use std::sync::Mutex;

    use treaty::bus::{AmqpConfig, AmqpTransport};
    use treaty::Uuid;
    use treaty_testing::AsyncCleanup;

    /// Makes the transports and deletes their topologies.
    pub struct Brokers {
        url: String,
        cleanups: Mutex<Vec<AsyncCleanup>>,
    }

    impl Brokers {
        /// Transports on the broker at `url`.
        pub fn new(url: String) -> Self {
            Brokers {
                url,
                cleanups: Mutex::new(Vec::new()),
            }
        }

        /// A transport with queues of its own, whose topology is deleted by
        /// [`Brokers::delete_all`], or, should the test fail first, when its
        /// cleanup is dropped, so nothing is left on the shared broker.
        pub async fn transport(&self) -> AmqpTransport {
            let config = AmqpConfig {
                queue: format!("treaty.test.{}", Uuid::new_v4().simple()),
                ..AmqpConfig::default()
            };
            let transport = AmqpTransport::connect(&self.url, config)
                .await
                .expect("the broker accepts");
            let topology = transport.clone();
            self.cleanups
                .lock()
                .expect("not poisoned")
                .push(AsyncCleanup::new("the AMQP topology", move || async move {
                    topology.delete_topology().await.map_err(|error| error.to_string())
                }));
            transport
        }

        /// Deletes every transport's topology.
        pub async fn delete_all(self) {
            for cleanup in self.cleanups.into_inner().expect("not poisoned") {
                cleanup.run().await;
            }
        }
    }
}
