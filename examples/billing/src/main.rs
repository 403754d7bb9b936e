//! `billing`: the billing service. `billing run` receives the factory's
//! `CarProduced` events over RabbitMQ and invoices each car in its own
//! SQLite store, and runs the collection process manager that sends each
//! invoice and marks it overdue when its payment is late, until Ctrl-C or
//! SIGTERM; `billing pay` records a payment; `billing invoices` prints
//! what it invoiced and each invoice's state. README.md says how to run
//! it with the factory.

#![deny(warnings)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use futures::TryStreamExt;
use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine, SqliteQuarantine, SqliteQueue, SqliteQueueConfig};
use treaty::process::{ProcessRunner, SqliteProcessStore};
use treaty::relay::{Inbox, InboxConfig, DEFAULT_EXCHANGE_PREFIX};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::{EventStore, SqliteConfig, SqliteStore};
use treaty::Uuid;

use billing::billing::{CarInvoiced, InvoiceId, InvoiceOverdue, InvoiceSent, Money, PaymentReceived, RecordPayment};
use billing::{Account, Collection, Invoice, InvoiceCars, CAR_PRICE_CENTS, PAYMENT_DUE};

const USAGE: &str = "usage: billing run [--db billing.db] [--amqp amqp://guest:guest@127.0.0.1:5672/%2f] \
                     [--exchange-prefix treaty.events.] [--queue billing.factory-events] \
                     [--payment-due SECONDS (30 days)]
       billing pay --invoice ID [--db billing.db]
       billing invoices [--db billing.db]";

/// The settings of `billing run`, `billing pay` and `billing invoices`.
struct Settings {
    db: PathBuf,
    amqp: String,
    exchange_prefix: String,
    queue: String,
    payment_due: Duration,
    invoice: Option<Uuid>,
}

impl Settings {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
        let mut settings = Settings {
            db: PathBuf::from("billing.db"),
            amqp: "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
            exchange_prefix: DEFAULT_EXCHANGE_PREFIX.to_string(),
            queue: "billing.factory-events".to_string(),
            payment_due: PAYMENT_DUE,
            invoice: None,
        };
        while let Some(option) = args.next() {
            let mut value = || args.next().ok_or(format!("{option} needs a value\n{USAGE}"));
            match option.as_str() {
                "--db" => settings.db = PathBuf::from(value()?),
                "--amqp" => settings.amqp = value()?,
                "--exchange-prefix" => settings.exchange_prefix = value()?,
                "--queue" => settings.queue = value()?,
                "--payment-due" => {
                    let seconds = value()?;
                    let seconds: f64 = seconds
                        .parse()
                        .ok()
                        .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                        .ok_or(format!("--payment-due takes seconds, not {seconds}"))?;
                    settings.payment_due = Duration::from_secs_f64(seconds);
                }
                "--invoice" => {
                    let invoice = value()?;
                    settings.invoice =
                        Some(Uuid::parse_str(&invoice).map_err(|e| format!("--invoice {invoice}: {e}"))?);
                }
                other => return Err(format!("unknown option {other}\n{USAGE}")),
            }
        }
        Ok(settings)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_target(false)
        .without_time()
        .init();
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command.as_deref() {
        Some("run") => runtime.block_on(run(Settings::parse(args)?)),
        Some("pay") => runtime.block_on(pay(Settings::parse(args)?)),
        Some("invoices") => runtime.block_on(invoices(Settings::parse(args)?)),
        _ => Err(USAGE.into()),
    }
}

/// Receives, invoices and collects until Ctrl-C or SIGTERM.
async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&settings.db)?;
    let compiled = CompiledContract::from_info(&[billing::billing::CONTRACTS, billing::factory::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;
    // Events and commands this build cannot read are parked beside the
    // invoices, where `treaty quarantine list --db billing.db` finds them.
    let quarantine = SqliteQuarantine::open(&settings.db)?;
    // The invoices' commands (the collection's, and `billing pay`'s) go
    // through a queue in the same file: each is acknowledged in the
    // transaction that appends its events.
    let bus = Bus::new(
        SqliteQueue::open(&settings.db)?,
        quarantine.clone(),
        BusConfig::default(),
    );
    bus.handle_aggregate(Repository::<Invoice, _>::new(store.clone()))?;
    let bus_running = bus.start();
    // The collection keeps its state, outbox and timeouts in the file too,
    // committed with its checkpoint.
    let processes = SqliteProcessStore::open(&settings.db)?;
    let collection = ProcessRunner::new(Collection::new(settings.payment_due), store.clone(), processes, bus)
        .start()
        .await?;
    let config = InboxConfig {
        exchange_prefix: settings.exchange_prefix.clone(),
        ..InboxConfig::new(settings.queue.clone())
    };
    let handler = InvoiceCars::new(Repository::<Account, _>::new(store));
    let running = Inbox::new(settings.amqp.clone(), handler, quarantine, config)
        .start()
        .await?;
    // Tests and scripts read this line to know the queue is bound.
    println!("consuming {} into {}", settings.queue, settings.db.display());
    shutdown_signal().await;
    running.shutdown().await;
    let stopped = collection.shutdown().await;
    bus_running.shutdown().await;
    println!("shutting down");
    Ok(stopped?)
}

/// Queues the payment of an invoice for `billing run` to record.
async fn pay(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let invoice = InvoiceId(
        settings
            .invoice
            .ok_or(format!("billing pay needs --invoice ID\n{USAGE}"))?,
    );
    let queue = SqliteQueue::open_existing(&settings.db, SqliteQueueConfig::default())?;
    let bus = Bus::new(queue, MemoryQuarantine::new(), BusConfig::default());
    let payment = RecordPayment::new(invoice, Money::new(CAR_PRICE_CENTS, "USD".into()));
    let message = bus.send(&payment).await?;
    println!("payment of invoice {invoice} queued as message {message}");
    Ok(())
}

/// How far an invoice's collection got.
#[derive(Default)]
struct Collected {
    sent: bool,
    paid: bool,
    overdue: bool,
}

impl Collected {
    fn state(&self) -> &'static str {
        match (self.sent, self.paid, self.overdue) {
            (_, true, true) => "paid late",
            (_, true, false) => "paid",
            (_, false, true) => "overdue",
            (true, false, false) => "sent",
            (false, false, false) => "invoiced",
        }
    }
}

/// Prints how many cars each account invoiced, then each invoice's state.
async fn invoices(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open_existing(&settings.db, SqliteConfig::default())?;
    let mut per_account = BTreeMap::<String, u64>::new();
    let mut per_invoice = BTreeMap::<InvoiceId, Collected>::new();
    let mut events = store.read_all(1);
    while let Some(event) = events.try_next().await? {
        if event.is::<CarInvoiced>() {
            *per_account.entry(event.stream.to_string()).or_default() += 1;
            let invoiced: CarInvoiced = event.decode()?;
            per_invoice.entry(InvoiceId(invoiced.car)).or_default();
        } else if event.is::<InvoiceSent>() {
            per_invoice.entry(event.decode::<InvoiceSent>()?.id).or_default().sent = true;
        } else if event.is::<PaymentReceived>() {
            per_invoice
                .entry(event.decode::<PaymentReceived>()?.id)
                .or_default()
                .paid = true;
        } else if event.is::<InvoiceOverdue>() {
            per_invoice
                .entry(event.decode::<InvoiceOverdue>()?.id)
                .or_default()
                .overdue = true;
        }
    }
    for (account, cars) in per_account {
        println!("{account}: {cars} cars invoiced");
    }
    for (invoice, collected) in per_invoice {
        println!("invoice {invoice}: {}", collected.state());
    }
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(error) => {
                eprintln!("cannot listen for SIGTERM: {error}");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
