//! A process that runs the welcome process manager and the bank's
//! command handlers until it is killed, for the crash tests in
//! `tests/process_managers.rs`.
//!
//! `process_worker EVENTS_DB` opens the event store, the queue and the
//! process store in the same file, runs a bus with the account aggregate
//! and the welcome process, prints `running`, and works on whatever comes.
//! `process_worker QUEUE_DB --postgres URL SCHEMA` keeps the event store
//! and the process store in the PostgreSQL schema `SCHEMA` instead, and
//! only the queue in `QUEUE_DB`.

#[path = "../../tests/bank/mod.rs"]
mod bank;

use std::process::ExitCode;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine, SqliteQueue};
use treaty::process::{ProcessConfig, ProcessRunner, ProcessStore, SqliteProcessStore};
use treaty::store::{Durability, EventStore};
use treaty_e2e::worker;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    worker::main_with_args("process_worker", "EVENTS_DB | QUEUE_DB --postgres URL SCHEMA", |args| {
        let valid = match args.as_slice() {
            [_] => true,
            [_, flag, _, _] => flag == "--postgres",
            _ => false,
        };
        valid.then(|| start(args))
    })
    .await
}

async fn start(args: Vec<String>) -> worker::Result {
    match <[String; 1]>::try_from(args) {
        Ok([events]) => sqlite(events).await,
        Err(args) => match <[String; 4]>::try_from(args) {
            Ok([queue, _, url, schema]) => postgres(queue, url, schema).await,
            Err(args) => Err(format!("unexpected arguments {args:?}").into()),
        },
    }
}

/// Everything in the SQLite file `events`.
async fn sqlite(events: String) -> worker::Result {
    let (store, queue) = worker::open(&events)?;
    let processes = SqliteProcessStore::open_with(&events, Durability::Normal)?;
    run(store, processes, queue).await
}

/// The stores in PostgreSQL, the queue in the SQLite file `queue`.
#[cfg(feature = "postgres")]
async fn postgres(queue: String, url: String, schema: String) -> worker::Result {
    use treaty::process::PostgresProcessStore;
    use treaty::store::{PostgresConfig, PostgresOptions, PostgresStore};

    let options = PostgresOptions { schema, pool_size: 4 };
    let config = PostgresConfig {
        connection: options.clone(),
        ..PostgresConfig::default()
    };
    let store = PostgresStore::open_with(&url, config).await?;
    let processes = PostgresProcessStore::open_with(&url, options).await?;
    run(store, processes, worker::queue(&queue)?).await
}

#[cfg(not(feature = "postgres"))]
async fn postgres(_: String, _: String, _: String) -> worker::Result {
    Err("built without the feature postgres".into())
}

async fn run<E, P>(store: E, processes: P, queue: SqliteQueue) -> worker::Result
where
    E: EventStore + Clone,
    P: ProcessStore,
{
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
