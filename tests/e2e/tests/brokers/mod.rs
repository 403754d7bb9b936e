//! RabbitMQ transports for tests that make one per case on the broker
//! `TREATY_TEST_AMQP` names, each with queues of its own, deleted at the
//! end.

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
