//! A process that handles the bank's commands from the SQLite queue until
//! it is killed, for the crash test in `tests/bus_sqlite.rs`.
//!
//! `bus_worker EVENTS_DB` opens the event store and the queue in the same
//! file (so acknowledgements commit with the appends), runs a bus with
//! the account aggregate, prints `running`, and handles whatever comes.

#[path = "../../tests/bank/mod.rs"]
mod bank;

use std::process::ExitCode;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine};
use treaty_e2e::worker;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    worker::main("bus_worker", run).await
}

async fn run(events: String) -> worker::Result {
    let (store, queue) = worker::open(&events)?;
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
    worker::running().await
}
