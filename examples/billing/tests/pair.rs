//! The factory and billing as two processes with their own SQLite files,
//! sharing only a RabbitMQ broker: `factory produce` makes cars,
//! `factory relay` publishes each `CarProduced`, and `billing run`
//! invoices each car, and its collection process sends each invoice and,
//! its payment being due after a second, marks it overdue. Whatever
//! happens in between (the broker restarted while cars are relayed, the
//! relay killed and started again, billing killed and started again),
//! every car is invoiced exactly once, and every invoice sent once and
//! marked overdue once.
//!
//! Runs when `TREATY_TEST_AMQP` names a broker, and the restart test when
//! `TREATY_TEST_AMQP_RESTART` restarts it (`.ci/services.sh` sets both);
//! without them the tests say why they skip, except under `CI`, where
//! they fail. The factory binary is built by `cargo build -p factory` on
//! first use (a no-op when the workspace's tests built it already).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use treaty::bus::{Quarantine, SqliteQuarantine};
use treaty::store::{EventStore, SqliteConfig, SqliteStore};
use treaty::Uuid;
use treaty_testing::{
    amqp_cleanup, amqp_restart_command, restart_amqp_broker, server_url, AmqpBrokerLock, AsyncCleanup,
};

use billing::billing::{CarInvoiced, InvoiceId, InvoiceOverdue, InvoiceSent, PaymentReceived};
use billing::factory::CarProduced;
use billing::Collection;
use treaty::process::{command_message_id, ProcessManager};
use treaty::store::RecordedEvent;

/// The factory binary, built once per test process.
fn factory_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "factory", "--bin", "factory"])
            .current_dir(&workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p factory failed: {status}");
        let binary = Path::new(env!("CARGO_BIN_EXE_billing")).with_file_name("factory");
        assert!(binary.exists(), "no factory binary at {}", binary.display());
        binary
    })
}

/// A child process whose standard output is kept, killed when dropped.
struct Process {
    name: &'static str,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    seen: mpsc::Receiver<String>,
}

impl Process {
    fn start(name: &'static str, binary: &Path, args: &[&str]) -> Process {
        let mut child = Command::new(binary)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (sender, seen) = mpsc::channel();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        Process {
            name,
            child,
            lines,
            seen,
        }
    }

    /// Waits for a line starting with `prefix`.
    fn wait_for(&self, prefix: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.seen.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!(
            "{} did not print {prefix:?} within a minute: {:?}",
            self.name,
            self.lines.lock().unwrap()
        );
    }

    /// Waits for the process to end, which must be a success.
    fn finish(mut self) {
        let status = self.child.wait().expect("the process ends");
        assert!(
            status.success(),
            "{} failed ({status}): {:?}",
            self.name,
            self.lines.lock().unwrap()
        );
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One run's files and broker names.
struct Pair {
    _dir: tempfile::TempDir,
    factory_db: PathBuf,
    billing_db: PathBuf,
    url: String,
    prefix: String,
    queue: String,
}

impl Pair {
    fn new(url: &str) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::new_v4().simple();
        Pair {
            factory_db: dir.path().join("factory.db"),
            billing_db: dir.path().join("billing.db"),
            _dir: dir,
            url: url.to_string(),
            prefix: format!("treaty.test.{id}."),
            queue: format!("treaty.test.{id}.billing"),
        }
    }

    /// Deletes the queue and the exchange at the end, also on failure.
    fn cleanup(&self) -> AsyncCleanup {
        amqp_cleanup(&self.url, &self.queue, &format!("{}factory", self.prefix))
    }

    fn billing(&self) -> Process {
        let db = self.billing_db.to_str().unwrap();
        let args = [
            "run",
            "--db",
            db,
            "--amqp",
            &self.url,
            "--exchange-prefix",
            &self.prefix,
            "--queue",
            &self.queue,
            // Every invoice is overdue a second after it is sent.
            "--payment-due",
            "1",
        ];
        let billing = Process::start("billing run", Path::new(env!("CARGO_BIN_EXE_billing")), &args);
        billing.wait_for("consuming ");
        billing
    }

    fn relay(&self) -> Process {
        let db = self.factory_db.to_str().unwrap();
        let args = [
            "relay",
            "--db",
            db,
            "--amqp",
            &self.url,
            "--exchange-prefix",
            &self.prefix,
        ];
        let relay = Process::start("factory relay", factory_binary(), &args);
        relay.wait_for("relaying ");
        relay
    }

    fn produce(&self, cars: u64) -> Process {
        let db = self.factory_db.to_str().unwrap();
        let cars = cars.to_string();
        Process::start(
            "factory produce",
            factory_binary(),
            &["produce", "--db", db, "--cars", &cars],
        )
    }

    /// The id of every `CarProduced` in the factory's store.
    async fn cars(&self) -> Vec<Uuid> {
        let store = SqliteStore::open_existing(&self.factory_db, SqliteConfig::default()).unwrap();
        let events: Vec<_> = store.read_all(1).try_collect().await.unwrap();
        let mut cars: Vec<Uuid> = events.iter().filter(|e| e.is::<CarProduced>()).map(|e| e.id).collect();
        cars.sort();
        cars
    }

    /// Every event in billing's store.
    async fn billing_events(&self) -> Vec<RecordedEvent> {
        let Ok(store) = SqliteStore::open_existing(&self.billing_db, SqliteConfig::default()) else {
            return Vec::new();
        };
        store.read_all(1).try_collect().await.unwrap()
    }

    /// The car of every invoice in billing's store, repeats included.
    async fn invoiced(&self) -> Vec<Uuid> {
        let events = self.billing_events().await;
        let mut cars: Vec<Uuid> = events
            .iter()
            .filter(|e| e.is::<CarInvoiced>())
            .map(|e| e.decode::<CarInvoiced>().unwrap().car)
            .collect();
        cars.sort();
        cars
    }

    /// Waits until billing has invoiced at least `count` cars.
    async fn wait_for_invoices(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let invoiced = self.invoiced().await.len();
            if invoiced >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "billing invoiced {invoiced} cars of {count} and no more for three minutes"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until billing holds at least `count` events of contract `E`
    /// (`what` names them in the failure). Sending an invoice and marking
    /// it overdue are two commands of the collection that may be applied
    /// in either order, so each is waited for.
    async fn wait_for<E: treaty::Contract>(&self, count: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let found = self.billing_events().await.iter().filter(|e| e.is::<E>()).count();
            if found >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "billing has {found} invoices of {count} {what} and no more for three minutes"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every car produced is invoiced exactly once; every invoice is sent
    /// once, by the command the collection derived from the car's
    /// `CarInvoiced`, and marked overdue once; nothing is parked.
    async fn check_each_car_invoiced_once(&self) {
        let cars = self.cars().await;
        self.wait_for_invoices(cars.len()).await;
        self.wait_for::<InvoiceSent>(cars.len(), "sent").await;
        self.wait_for::<InvoiceOverdue>(cars.len(), "marked overdue").await;
        // Repeats arriving late would show as more invoices than cars.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let invoiced = self.invoiced().await;
        assert_eq!(invoiced.len(), cars.len(), "invoices for {} cars", cars.len());
        assert_eq!(invoiced, cars, "each car invoiced exactly once");
        let events = self.billing_events().await;
        let of_invoice = |event: &RecordedEvent| -> InvoiceId {
            if event.is::<InvoiceSent>() {
                event.decode::<InvoiceSent>().unwrap().id
            } else {
                event.decode::<InvoiceOverdue>().unwrap().id
            }
        };
        let mut sent = std::collections::HashMap::<InvoiceId, Vec<&RecordedEvent>>::new();
        let mut overdue = std::collections::HashMap::<InvoiceId, usize>::new();
        for event in &events {
            if event.is::<InvoiceSent>() {
                sent.entry(of_invoice(event)).or_default().push(event);
            } else if event.is::<InvoiceOverdue>() {
                *overdue.entry(of_invoice(event)).or_default() += 1;
            }
        }
        assert_eq!(sent.len(), cars.len(), "invoices sent");
        assert_eq!(overdue.len(), cars.len(), "invoices overdue");
        for invoiced in events.iter().filter(|e| e.is::<CarInvoiced>()) {
            let invoice = InvoiceId(invoiced.decode::<CarInvoiced>().unwrap().car);
            let sent = sent.get(&invoice).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(sent.len(), 1, "invoice {invoice} sent once");
            assert_eq!(
                sent[0].metadata.causation_id,
                Some(command_message_id(Collection::NAME, invoiced.id, 0)),
                "invoice {invoice} sent by the collection of its car"
            );
            assert_eq!(overdue.get(&invoice), Some(&1), "invoice {invoice} overdue once");
        }
        let quarantine = SqliteQuarantine::open_existing(&self.billing_db, Default::default()).unwrap();
        assert_eq!(quarantine.list().await.unwrap(), Vec::new());
    }

    /// Pays the first car's invoice with `billing pay`, while `billing
    /// run` runs, and checks that `billing invoices` shows it paid late
    /// and every other invoice overdue.
    async fn pay_one_invoice(&self) {
        let cars = self.cars().await;
        let invoice = cars[0].to_string();
        let db = self.billing_db.to_str().unwrap();
        let billing = Path::new(env!("CARGO_BIN_EXE_billing"));
        Process::start("billing pay", billing, &["pay", "--db", db, "--invoice", &invoice]).finish();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.billing_events().await.iter().any(|e| e.is::<PaymentReceived>()) {
            assert!(
                Instant::now() < deadline,
                "billing did not record the payment within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let listing = Process::start("billing invoices", billing, &["invoices", "--db", db]);
        let lines = listing.lines.clone();
        listing.finish();
        let lines = lines.lock().unwrap();
        let invoices: Vec<&String> = lines.iter().filter(|l| l.starts_with("invoice ")).collect();
        assert_eq!(invoices.len(), cars.len(), "{lines:?}");
        assert!(lines.contains(&format!("invoice {invoice}: paid late")), "{lines:?}");
        let overdue = invoices.iter().filter(|l| l.ends_with(": overdue")).count();
        assert_eq!(overdue, cars.len() - 1, "{lines:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_while_relaying_loses_no_car_and_invoices_none_twice() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let Some(restart) = amqp_restart_command() else {
        return;
    };
    factory_binary();
    let _broker = AmqpBrokerLock::exclusive();
    let pair = Pair::new(&url);
    let cleanup = pair.cleanup();
    let billing = pair.billing();
    let relay = pair.relay();
    let producing = pair.produce(300);
    pair.wait_for_invoices(1).await;
    restart_amqp_broker(&restart).await;
    // Billing dies with invoices received, sent and overdue in flight.
    pair.wait_for_invoices(150).await;
    billing.kill();
    let billing = pair.billing();
    producing.finish();
    pair.produce(50).finish();
    pair.check_each_car_invoiced_once().await;
    assert_eq!(pair.cars().await.len(), 350);
    pair.pay_one_invoice().await;
    relay.kill();
    billing.kill();
    cleanup.run().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_and_started_again_leaves_no_gap_and_invoices_none_twice() {
    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    factory_binary();
    let _broker = AmqpBrokerLock::shared();
    let pair = Pair::new(&url);
    let cleanup = pair.cleanup();
    let billing = pair.billing();
    pair.produce(400).finish();
    let relay = pair.relay();
    pair.wait_for_invoices(1).await;
    relay.kill();
    let relay = pair.relay();
    pair.wait_for_invoices(200).await;
    billing.kill();
    let billing = pair.billing();
    pair.check_each_car_invoiced_once().await;
    relay.kill();
    billing.kill();
    cleanup.run().await;
}
