//! A process that runs the welcome process manager and the bank's
//! command handlers until it is killed, for the crash test in
//! `tests/process_managers.rs`.
//!
//! `process_worker EVENTS_DB` opens the event store, the queue and the
//! process store in the same file, runs a bus with the account aggregate
//! and the welcome process, prints `running`, and works on whatever comes.

#[path = "../../tests/bank/mod.rs"]
mod bank;

use std::process::ExitCode;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine};
use treaty::process::{ProcessConfig, ProcessRunner, SqliteProcessStore};
use treaty::store::Durability;
use treaty_e2e::worker;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    worker::main("process_worker", run).await
}

async fn run(events: String) -> worker::Result {
    let (store, queue) = worker::open(&events)?;
    let processes = SqliteProcessStore::open_with(&events, Durability::Normal)?;
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
    worker::running().await
}
