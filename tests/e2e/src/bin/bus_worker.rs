//! A process that handles the bank's commands from the SQLite queue until
//! it is killed, for the crash test in `tests/bus_sqlite.rs`.
//!
//! `bus_worker EVENTS_DB` opens the event store and the queue in the same
//! file (so acknowledgements commit with the appends), runs a bus with
//! the account aggregate, prints `running`, and handles whatever comes.

#[path = "../../tests/bank/mod.rs"]
mod bank;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine, SqliteQueue, SqliteQueueConfig};
use treaty::store::{Durability, SqliteConfig, SqliteStore};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [events] = args.as_slice() else {
        eprintln!("usage: bus_worker EVENTS_DB");
        return ExitCode::from(2);
    };
    match run(events).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bus_worker: {error}");
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
    let bus = Bus::new(
        queue,
        MemoryQuarantine::new(),
        BusConfig {
            concurrency: 8,
            ..BusConfig::default()
        },
    );
    bus.handle_aggregate(Repository::<bank::Account, _>::new(store))?;
    let _running = bus.start();
    println!("running");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
