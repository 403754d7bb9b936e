//! The bus suite: commands handled end to end through each transport.
//!
//! - `inproc_commands`: commands sent one way through the in-process
//!   transport, each handled by an aggregate's repository that appends
//!   one event to a durable SQLite store; against the same commands
//!   executed directly through the repository by as many tasks as the bus
//!   handles at once.
//! - `sqlite_queue_commands`: the same through the durable embedded queue.
//! - `rabbitmq_roundtrip`: publish with confirms, consume, handle, ack,
//!   through RabbitMQ, with a handler that does nothing, against raw lapin
//!   doing the same publish, consume and ack (when a broker is given).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use treaty::aggregate::{Aggregate, Repository};
use treaty::bus::{Bus, BusConfig, InProcessTransport, MemoryQuarantine, SqliteQueue, Transport};
use treaty::store::{EventStore, Metadata, SqliteStore};
use treaty::Uuid;

use crate::report::{Report, Row};
use crate::Failure;

treaty::contract! {
    //! Counters, the smallest aggregate that appends one event per command.
    namespace benchbus;

    id CounterId: String;

    aggregate Counter(id: CounterId) {
        Increment?(by: u64);
        Incremented!(by: u64);
    }
}

use benchbus::{CounterCommand, CounterEvent, CounterId, Increment, Incremented};

/// A counter's state: its total.
#[derive(Debug, Default)]
pub struct Counter {
    total: u64,
}

impl Aggregate for Counter {
    type Id = CounterId;
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = std::convert::Infallible;
    const CATEGORY: &'static str = "counter";

    fn decide(&self, command: &CounterCommand) -> Result<Vec<CounterEvent>, Self::Error> {
        let CounterCommand::Increment(increment) = command;
        Ok(vec![Incremented {
            id: increment.id.clone(),
            by: increment.by,
        }
        .into()])
    }

    fn apply(&mut self, event: &CounterEvent) {
        let CounterEvent::Incremented(incremented) = event;
        self.total += incremented.by;
    }
}

/// Counters the commands are spread over.
const COUNTERS: u64 = 1_000;

/// Tasks the bus, and the direct baseline, run at once.
const CONCURRENCY: usize = 16;

fn command(i: u64) -> Increment {
    Increment {
        id: CounterId(format!("c{}", i % COUNTERS)),
        by: 1,
    }
}

/// Runs the suite with `commands` commands per case.
pub fn run(commands: u64) -> Result<Report, Failure> {
    let mut report = Report::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start the runtime", e))?;
    runtime.block_on(async {
        let direct = direct(commands).await?;
        eprintln!("bus: direct repository: {direct:.0} commands/s");
        let baseline = format!("repository without the bus, {commands} commands");
        let inproc = through_bus(commands, |_| Ok(InProcessTransport::new())).await?;
        eprintln!("bus: in-process transport: {inproc:.0} commands/s");
        report.push(Row::new("bus", "inproc_commands", inproc, "commands/s").relative_to(&baseline, direct));
        // The queue lives in the event store's own file, as it would in an
        // application, so its writes and the appends share one database.
        let queue = through_bus(commands, |path| {
            SqliteQueue::open(path).map_err(|e| Failure::new(format!("cannot open the queue: {e}")))
        })
        .await?;
        eprintln!("bus: durable SQLite queue: {queue:.0} commands/s");
        report.push(Row::new("bus", "sqlite_queue_commands", queue, "commands/s").relative_to(&baseline, direct));
        Ok::<_, Failure>(())
    })?;
    Ok(report)
}

/// A durable store in a temporary directory that lives as long as it.
fn store() -> Result<(tempfile::TempDir, SqliteStore), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let store = SqliteStore::open(dir.path().join("events.db"))
        .map_err(|e| Failure::new(format!("cannot open the store: {e}")))?;
    Ok((dir, store))
}

/// Commands per second executed directly through the repository by
/// `CONCURRENCY` tasks, each message exactly once as the bus does it.
async fn direct(commands: u64) -> Result<f64, Failure> {
    let (_dir, store) = store()?;
    let repository = Arc::new(Repository::<Counter, _>::new(store.clone()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY as u64)
        .map(|task| {
            let repository = repository.clone();
            tokio::spawn(async move {
                let mut i = task;
                while i < commands {
                    let increment = command(i);
                    repository
                        .execute_message(
                            &increment.id,
                            &increment.clone().into(),
                            Uuid::now_v7(),
                            Metadata::now(),
                        )
                        .await
                        .map_err(|e| e.to_string())?;
                    i += CONCURRENCY as u64;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| Failure::new(e.to_string()))?
            .map_err(|e| Failure::new(format!("a direct execution failed: {e}")))?;
    }
    let rate = commands as f64 / started.elapsed().as_secs_f64();
    check_head(&store, commands).await?;
    Ok(rate)
}

/// Commands per second sent one way through the transport `open` makes
/// (given the event store's file) and handled by a bus over it, until the
/// last event is stored.
async fn through_bus<T: Transport>(
    commands: u64,
    open: impl FnOnce(&Path) -> Result<T, Failure>,
) -> Result<f64, Failure> {
    let (dir, store) = store()?;
    let transport = open(&dir.path().join("events.db"))?;
    let config = BusConfig {
        concurrency: CONCURRENCY,
        ..BusConfig::default()
    };
    let bus = Bus::new(transport, MemoryQuarantine::new(), config);
    bus.handle_aggregate(Repository::<Counter, _>::new(store.clone()))
        .map_err(|e| Failure::new(e.to_string()))?;
    let running = bus.start();
    let started = Instant::now();
    for i in 0..commands {
        bus.send(&command(i))
            .await
            .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
    }
    wait_for_head(&store, commands).await?;
    let rate = commands as f64 / started.elapsed().as_secs_f64();
    running.shutdown().await;
    check_head(&store, commands).await?;
    Ok(rate)
}

async fn wait_for_head(store: &SqliteStore, events: u64) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let head = store.head().await.map_err(|e| Failure::new(e.to_string()))?;
        if head >= events {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "only {head} of {events} commands were handled in ten minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Fails the run unless exactly one event per command was stored.
async fn check_head(store: &SqliteStore, events: u64) -> Result<(), Failure> {
    let head = store.head().await.map_err(|e| Failure::new(e.to_string()))?;
    if head != events {
        return Err(Failure::new(format!(
            "{events} commands stored {head} events, not one each"
        )));
    }
    Ok(())
}
