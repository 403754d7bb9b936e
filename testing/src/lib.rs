//! Support for Treaty's own tests, shared by the workspace's test crates.
//! Users never see it: it is not published and no library depends on it,
//! only `[dev-dependencies]`.
//!
//! - [`server_url`]: the PostgreSQL or RabbitMQ server a test should use,
//!   or a printed reason to skip (a failure under `CI`).
//! - [`AmqpBrokerLock`], [`amqp_restart_command`], [`restart_amqp_broker`]:
//!   tests that restart the broker run alone.
//! - [`AsyncCleanup`]: asynchronous cleanup (such as deleting a test's
//!   queues) that also runs when the test fails.
//! - `traces` (feature `otel`): spans recorded in memory through an
//!   OpenTelemetry layer, for the tests of Treaty's traces.

#[cfg(feature = "otel")]
pub mod traces;

use std::future::Future;
use std::pin::Pin;

/// The server a test should use, from the environment variable `var`
/// (such as `TREATY_TEST_POSTGRES`). Without it the test is skipped with a
/// printed reason, except under CI, where it fails: CI must start the
/// server (`.ci/services.sh`) and set the variable.
pub fn server_url(var: &str) -> Option<String> {
    required_setting(var, "to a server's URL")
}

/// The shell command that restarts the RabbitMQ broker of
/// `TREATY_TEST_AMQP` and returns once it accepts connections again, from
/// `TREATY_TEST_AMQP_RESTART` (`.ci/services.sh` sets it). Without it the
/// test is skipped with a printed reason, except under CI, where it fails,
/// as with [`server_url`].
pub fn amqp_restart_command() -> Option<String> {
    required_setting(
        "TREATY_TEST_AMQP_RESTART",
        "to a shell command restarting the broker (such as `rabbitmqctl stop_app && rabbitmqctl start_app \
         && rabbitmqctl await_startup`)",
    )
}

/// The value of `var`; without it `None` and a printed reason (`set VAR
/// {what} to run this test`), or a panic under `CI`, where a test that
/// needs a server must never skip.
fn required_setting(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) => Some(value),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI is set but {var} is not: .ci/run must start the server and set it (.ci/services.sh)")
        }
        Err(_) => {
            eprintln!("skipped: set {var} {what} to run this test");
            None
        }
    }
}

/// Runs `command` (from [`amqp_restart_command`]) on a blocking thread;
/// returns once the broker is back. Panics when it fails. Hold
/// [`AmqpBrokerLock::exclusive`] around it.
pub async fn restart_amqp_broker(command: &str) {
    let command = command.to_string();
    let status = tokio::task::spawn_blocking(move || std::process::Command::new("sh").arg("-c").arg(command).status())
        .await
        .expect("the restart command's thread")
        .expect("the restart command runs");
    assert!(status.success(), "the restart command failed: {status}");
}

/// Keeps tests that restart the RabbitMQ broker apart from every other
/// test using it, whose connections a restart would drop: a lock on a file
/// in the temporary directory, held until dropped.
///
/// A lock inside the process would not do: each test binary is a process
/// of its own, and while `cargo test` runs the binaries one after another,
/// `cargo nextest` runs every test in a process of its own, and two `cargo
/// test` runs on one machine (or one broker) run side by side. The file
/// lock (`flock`) holds across processes, and between the tests of one
/// process too, since each takes it through a file descriptor of its own;
/// the system releases it when a test process dies.
#[must_use = "the lock is released when dropped"]
pub struct AmqpBrokerLock {
    _file: std::fs::File,
}

impl AmqpBrokerLock {
    /// For a test that uses the broker without restarting it: runs
    /// alongside other such tests, never during a restart. Blocks until
    /// then.
    pub fn shared() -> Self {
        let file = Self::file();
        file.lock_shared().expect("locking the AMQP test lock file");
        AmqpBrokerLock { _file: file }
    }

    /// For a test that restarts the broker: runs alone. Blocks until every
    /// other test using the broker is done.
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

/// The asynchronous work an [`AsyncCleanup`] runs.
type CleanupWork = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<(), String>>>> + Send>;

/// Asynchronous cleanup that runs when dropped, so a test that fails
/// (panics or returns early) still leaves nothing behind on a shared
/// server, such as the queues it declared on the broker. A test that
/// passes calls [`AsyncCleanup::run`] at its end, which reports failures.
#[must_use = "the cleanup runs when dropped"]
pub struct AsyncCleanup {
    what: &'static str,
    work: Option<CleanupWork>,
}

impl AsyncCleanup {
    /// Runs `work` when dropped or when [`AsyncCleanup::run`] is called;
    /// `what` names it in messages ("the AMQP topology").
    pub fn new<F, Fut>(what: &'static str, work: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + 'static,
    {
        AsyncCleanup {
            what,
            work: Some(Box::new(move || Box::pin(work()))),
        }
    }

    /// Cleans up now; panics when that fails.
    pub async fn run(mut self) {
        if let Some(work) = self.work.take() {
            if let Err(error) = work().await {
                panic!("cannot delete {}: {error}", self.what);
            }
        }
    }
}

impl Drop for AsyncCleanup {
    /// Runs during a panic (or an early return) inside the test's runtime,
    /// which cannot be blocked on from within: cleans up on a thread of its
    /// own with a runtime of its own, and waits for it. Never panics, which
    /// would abort the test binary.
    fn drop(&mut self) {
        let Some(work) = self.work.take() else { return };
        let cleaned = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                match tokio::time::timeout(std::time::Duration::from_secs(30), work()).await {
                    Ok(cleaned) => cleaned,
                    Err(_) => Err("it took longer than 30s".to_string()),
                }
            })
        })
        .join();
        match cleaned {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("cannot delete {} of a failed test: {error}", self.what),
            Err(_) => eprintln!("cannot delete {} of a failed test: the cleanup panicked", self.what),
        }
    }
}

/// Deletes `queue` and `exchange` from the broker at `url` when dropped
/// (or run), so a test that declared them leaves nothing on the shared
/// broker, also when it fails.
#[cfg(feature = "amqp")]
pub fn amqp_cleanup(url: &str, queue: &str, exchange: &str) -> AsyncCleanup {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    use lapin::{Connection, ConnectionProperties};

    let (url, queue, exchange) = (url.to_string(), queue.to_string(), exchange.to_string());
    AsyncCleanup::new("the test's queue and exchange", move || async move {
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .map_err(|e| e.to_string())?;
        let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let _ = connection.close(200, "done".into()).await;
        Ok(())
    })
}
