//! The Treaty runtime: the [`Contract`] trait that generated commands and
//! events implement, and the scalar types contracts use.
//!
//! Users depend on the `treaty` facade, which re-exports all of this.

pub mod aggregate;
pub mod bus;
mod contract;
pub mod projection;
pub mod spec;
pub mod storage;
pub mod store;
mod types;

pub use contract::{
    decode_json, Command, Contract, ContractInfo, ContractKind, ContractVersion, DecodeError, EncodeError, Event,
};
pub use types::{Bytes, Date, Decimal, DisplayOptional, ParseIdError, Timestamp, Uuid};

/// Crates that generated code reaches through `::treaty`, so user crates
/// need no direct dependency on them.
/// The names generated code uses unqualified: each generated module
/// glob-imports it, so a type of the contracts with the same name (which
/// validation forbids anyway) would shadow it rather than clash.
#[doc(hidden)]
pub mod __prelude {
    pub use crate::{Bytes, Date, Decimal, Timestamp, Uuid};
    pub use std::collections::BTreeMap;
}

/// Support for Treaty's own tests, shared by the workspace's test crates.
#[doc(hidden)]
pub mod __testing {
    /// The server a test should use, from the environment variable `var`
    /// (such as `TREATY_TEST_POSTGRES`). Without it the test is skipped
    /// with a printed reason, except under CI, where it fails: CI must
    /// start the server (`.ci/services.sh`) and set the variable.
    pub fn server_url(var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("CI is set but {var} is not: .ci/run must start the server and set it")
            }
            Err(_) => {
                eprintln!("skipped: set {var} to a server's URL to run this test");
                None
            }
        }
    }

    /// The shell command that restarts the RabbitMQ broker of
    /// `TREATY_TEST_AMQP` and returns once it accepts connections again,
    /// from `TREATY_TEST_AMQP_RESTART` (`.ci/services.sh` sets it). Without
    /// it the test is skipped with a printed reason, except under CI, where
    /// it fails, as with [`server_url`].
    pub fn amqp_restart_command() -> Option<String> {
        match std::env::var("TREATY_TEST_AMQP_RESTART") {
            Ok(command) => Some(command),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("CI is set but TREATY_TEST_AMQP_RESTART is not: .ci/services.sh must set it")
            }
            Err(_) => {
                eprintln!(
                    "skipped: set TREATY_TEST_AMQP_RESTART to a shell command restarting the broker \
                     (such as `rabbitmqctl stop_app && rabbitmqctl start_app && rabbitmqctl await_startup`) \
                     to run this test"
                );
                None
            }
        }
    }

    /// Runs `command` (from [`amqp_restart_command`]) on a blocking
    /// thread; returns once the broker is back. Panics when it fails. Hold
    /// [`AmqpBrokerLock::exclusive`] around it.
    pub async fn restart_amqp_broker(command: &str) {
        let command = command.to_string();
        let status =
            tokio::task::spawn_blocking(move || std::process::Command::new("sh").arg("-c").arg(command).status())
                .await
                .expect("the restart command's thread")
                .expect("the restart command runs");
        assert!(status.success(), "the restart command failed: {status}");
    }

    /// Keeps tests that restart the RabbitMQ broker apart from every other
    /// test using it, whose connections a restart would drop: a lock on a
    /// file in the temporary directory, held until dropped.
    ///
    /// A lock inside the process would not do: each test binary is a
    /// process of its own, and while `cargo test` runs the binaries one
    /// after another, `cargo nextest` runs every test in a process of its
    /// own, and two `cargo test` runs on one machine (or one broker) run
    /// side by side. The file lock (`flock`) holds across processes, and
    /// between the tests of one process too, since each takes it through a
    /// file descriptor of its own; the system releases it when a test
    /// process dies.
    #[must_use = "the lock is released when dropped"]
    pub struct AmqpBrokerLock {
        _file: std::fs::File,
    }

    impl AmqpBrokerLock {
        /// For a test that uses the broker without restarting it: runs
        /// alongside other such tests, never during a restart. Blocks
        /// until then.
        pub fn shared() -> Self {
            let file = Self::file();
            file.lock_shared().expect("locking the AMQP test lock file");
            AmqpBrokerLock { _file: file }
        }

        /// For a test that restarts the broker: runs alone. Blocks until
        /// every other test using the broker is done.
        pub fn exclusive() -> Self {
            let file = Self::file();
            file.lock().expect("locking the AMQP test lock file");
            AmqpBrokerLock { _file: file }
        }

        fn file() -> std::fs::File {
            let path = std::env::temp_dir().join("treaty-test-amqp-broker.lock");
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()))
        }
    }

    /// Deletes an AMQP transport's topology (its queues and dead-letter
    /// exchange, see [`AmqpTransport::delete_topology`]) when dropped, so
    /// a test that fails leaves nothing on the broker; a test that passes
    /// calls [`AmqpCleanup::delete`] at its end, which reports failures.
    ///
    /// [`AmqpTransport::delete_topology`]: crate::bus::AmqpTransport::delete_topology
    #[cfg(feature = "amqp")]
    #[must_use = "the topology is deleted when dropped"]
    pub struct AmqpCleanup {
        transport: Option<crate::bus::AmqpTransport>,
    }

    #[cfg(feature = "amqp")]
    impl AmqpCleanup {
        /// Deletes `transport`'s topology when dropped.
        pub fn new(transport: &crate::bus::AmqpTransport) -> Self {
            AmqpCleanup {
                transport: Some(transport.clone()),
            }
        }

        /// Deletes the topology now; panics when that fails.
        pub async fn delete(mut self) {
            if let Some(transport) = self.transport.take() {
                transport.delete_topology().await.expect("deleting the AMQP topology");
            }
        }
    }

    #[cfg(feature = "amqp")]
    impl Drop for AmqpCleanup {
        /// Runs during a panic (or an early return) inside the test's
        /// runtime, which cannot be blocked on from within: deletes on a
        /// thread of its own with a runtime of its own, and waits for it.
        /// Never panics, which would abort the test binary.
        fn drop(&mut self) {
            let Some(transport) = self.transport.take() else { return };
            let deleted = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|error| error.to_string())?;
                runtime.block_on(async {
                    match tokio::time::timeout(std::time::Duration::from_secs(30), transport.delete_topology()).await {
                        Ok(deleted) => deleted.map_err(|error| error.to_string()),
                        Err(_) => Err("it took longer than 30s".to_string()),
                    }
                })
            })
            .join();
            match deleted {
                Ok(Ok(())) => {}
                Ok(Err(error)) => eprintln!("cannot delete the AMQP topology of a failed test: {error}"),
                Err(_) => eprintln!("cannot delete the AMQP topology of a failed test: the cleanup panicked"),
            }
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;
}
