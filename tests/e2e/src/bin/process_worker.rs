//! A process that runs the welcome process manager and the bank's
//! command handlers until it is killed, for the crash test in
//! `tests/process_managers.rs`.
//!
//! `process_worker EVENTS_DB` opens the event store, the queue and the
//! process store in the same file, runs a bus with the account aggregate
//! and the welcome process, prints `running`, and works on whatever comes.

#[path = "../../tests/bank/mod.rs"]
mod bank;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine, SqliteQueue, SqliteQueueConfig};
use treaty::process::{ProcessConfig, ProcessRunner, SqliteProcessStore};
use treaty::store::{Durability, SqliteConfig, SqliteStore};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [events] = args.as_slice() else {
        eprintln!("usage: process_worker EVENTS_DB");
        return ExitCode::from(2);
    };
    match run(events).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("process_worker: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(events: &str) -> Result<(), Box<dyn std::error::Error>> {
    // A crash of the process, not of the machine, is what is tested:
    // commits need only reach the operating system.
    let store = SqliteStore::open_with(
        events,
        SqliteConfig {
            durability: Durability::Normal,
            ..SqliteConfig::default()
        },
    )?;
    let queue = SqliteQueue::open_with(
        events,
        SqliteQueueConfig {
            durability: Durability::Normal,
            // Short, so the messages a killed worker held come back soon.
            visibility_timeout: Duration::from_millis(300),
            poll_interval: Duration::from_millis(10),
            ..SqliteQueueConfig::default()
        },
    )?;
    let processes = SqliteProcessStore::open_with(events, Durability::Normal)?;
    let bus = Bus::new(queue, MemoryQuarantine::new(), BusConfig::default());
    bus.handle_aggregate(Repository::<bank::Account, _>::new(store.clone()))?;
    let _running = bus.start();
    let _welcome = ProcessRunner::new(bank::welcome::Welcome, store, processes, bus)
        .config(ProcessConfig {
            // Small, so kills land between checkpoint moves too.
            checkpoint_every: 7,
            ..ProcessConfig::default()
        })
        .start()
        .await?;
    println!("running");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
