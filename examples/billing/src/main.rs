//! `billing`: the billing service. `billing run` receives the factory's
//! `CarProduced` events over RabbitMQ and invoices each car in its own
//! SQLite store, until Ctrl-C or SIGTERM; `billing invoices` prints what
//! it invoiced. README.md says how to run it with the factory.

#![deny(warnings)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::TryStreamExt;
use treaty::aggregate::Repository;
use treaty::bus::SqliteQuarantine;
use treaty::relay::{Inbox, InboxConfig, DEFAULT_EXCHANGE_PREFIX};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::{EventStore, SqliteConfig, SqliteStore};

use billing::billing::CarInvoiced;
use billing::{Account, InvoiceCars};

const USAGE: &str = "usage: billing run [--db billing.db] [--amqp amqp://guest:guest@127.0.0.1:5672/%2f] \
                     [--exchange-prefix treaty.events.] [--queue billing.factory-events]
       billing invoices [--db billing.db]";

/// The settings of `billing run` and `billing invoices`.
struct Settings {
    db: PathBuf,
    amqp: String,
    exchange_prefix: String,
    queue: String,
}

impl Settings {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
        let mut settings = Settings {
            db: PathBuf::from("billing.db"),
            amqp: "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
            exchange_prefix: DEFAULT_EXCHANGE_PREFIX.to_string(),
            queue: "billing.factory-events".to_string(),
        };
        while let Some(option) = args.next() {
            let mut value = || args.next().ok_or(format!("{option} needs a value\n{USAGE}"));
            match option.as_str() {
                "--db" => settings.db = PathBuf::from(value()?),
                "--amqp" => settings.amqp = value()?,
                "--exchange-prefix" => settings.exchange_prefix = value()?,
                "--queue" => settings.queue = value()?,
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
        Some("invoices") => runtime.block_on(invoices(Settings::parse(args)?)),
        _ => Err(USAGE.into()),
    }
}

/// Receives and invoices until Ctrl-C or SIGTERM.
async fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&settings.db)?;
    let compiled = CompiledContract::from_info(&[billing::billing::CONTRACTS, billing::factory::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;
    // Events this build cannot read are parked beside the invoices, where
    // `treaty quarantine list --db billing.db` finds them.
    let quarantine = SqliteQuarantine::open(&settings.db)?;
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
    println!("shutting down");
    Ok(())
}

/// Prints how many cars each account invoiced.
async fn invoices(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open_existing(&settings.db, SqliteConfig::default())?;
    let mut per_account = BTreeMap::<String, u64>::new();
    let mut events = store.read_all(1);
    while let Some(event) = events.try_next().await? {
        if event.is::<CarInvoiced>() {
            *per_account.entry(event.stream.to_string()).or_default() += 1;
        }
    }
    for (account, cars) in per_account {
        println!("{account}: {cars} cars invoiced");
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
