//! The bus suite: commands handled end to end through each transport.
//!
//! - `inproc_commands`: commands sent one way through the in-process
//!   transport by as many tasks as the bus handles at once, each handled
//!   by an aggregate's repository that appends one event to a durable
//!   SQLite store; against the same commands executed directly through
//!   the repository by as many tasks.
//! - `sqlite_queue_commands`: the same through the durable embedded queue,
//!   in the event store's file; at least half the direct rate. Each send
//!   is durable before it returns, so one task sending after another
//!   would measure the latency of a commit, not what the queue carries.
//! - `rabbitmq_roundtrip`: publish with confirms, consume, handle, ack,
//!   through RabbitMQ, with a handler that does nothing, against raw lapin
//!   doing the same publish, consume and ack (when a broker is given).
//! - `relay_rabbitmq_events`: integration events from one store to another
//!   service's inbox through a relay and RabbitMQ, against raw lapin
//!   publishing and consuming the same payloads (`relay.rs`).
//! - `process_manager_events`: a process manager's events handled with one
//!   command each, through its outbox into the SQLite queue, against the
//!   bus alone sending the same commands (`process.rs`); at least half.
//!
//! `--case NAME` runs one case.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::StreamExt;
use treaty::aggregate::Repository;
use treaty::bus::{
    AmqpConfig, AmqpTransport, Bus, BusConfig, Envelope, HandleError, Handled, Handler, InProcessTransport,
    MemoryQuarantine, SqliteQueue, Transport, TransportError,
};
use treaty::store::{EventStore, Metadata, SqliteStore};
use treaty::Uuid;

mod process;
pub(crate) mod raw;

use crate::counter::{Counter, CounterId, Increment, COUNTERS};
use crate::relay;
use crate::report::{Report, Row, Target};
use crate::Failure;

/// Tasks the bus, and the direct baseline, run at once.
const CONCURRENCY: usize = 16;

fn command(i: u64) -> Increment {
    Increment {
        id: CounterId(format!("c{}", i % COUNTERS)),
        by: 1,
    }
}

/// The cases, as `--case` names them.
const CASES: &[&str] = &[
    "inproc_commands",
    "sqlite_queue_commands",
    "rabbitmq_roundtrip",
    "relay_rabbitmq_events",
    "process_manager_events",
];

/// Runs the suite with `commands` commands per case, or only the case
/// named `only`, and the RabbitMQ cases when `amqp` names a broker.
pub fn run(commands: u64, amqp: Option<String>, only: Option<&str>) -> Result<Report, Failure> {
    if let Some(case) = only.filter(|only| !CASES.contains(only)) {
        return Err(Failure::new(format!(
            "no bus case is called {case}; the cases are {}",
            CASES.join(", ")
        )));
    }
    let selected = |case: &str| only.is_none_or(|only| only == case);
    let mut report = Report::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start the runtime", e))?;
    runtime.block_on(async {
        if selected("process_manager_events") {
            let managed = process::process_manager(commands).await?;
            let alone = process::bus_alone(commands).await?;
            eprintln!("bus: process manager {managed:.0} events/s, the bus alone {alone:.0}");
            report.push(
                Row::new("bus", "process_manager_events", managed, "events/s")
                    .relative_to(
                        format!("the bus alone sending the same commands, {commands} events"),
                        alone,
                    )
                    .target(Target::AtLeast(0.5)),
            );
        }
        if selected("inproc_commands") || selected("sqlite_queue_commands") {
            repository_cases(&mut report, commands, &selected).await?;
        }
        rabbitmq(&mut report, amqp.as_deref(), commands, &selected).await?;
        Ok::<_, Failure>(())
    })?;
    Ok(report)
}

/// The cases measured against the repository called directly.
async fn repository_cases(report: &mut Report, commands: u64, selected: impl Fn(&str) -> bool) -> Result<(), Failure> {
    let direct = direct(commands).await?;
    eprintln!("bus: direct repository: {direct:.0} commands/s");
    let baseline = format!("repository without the bus, {commands} commands");
    if selected("inproc_commands") {
        let inproc = through_bus(commands, CONCURRENCY as u64, |_| Ok(InProcessTransport::new())).await?;
        eprintln!("bus: in-process transport: {inproc:.0} commands/s");
        report.push(Row::new("bus", "inproc_commands", inproc, "commands/s").relative_to(&baseline, direct));
    }
    // The queue lives in the event store's own file, as it would in an
    // application, so its writes and the appends share one database.
    if selected("sqlite_queue_commands") {
        let queue = through_bus(commands, CONCURRENCY as u64, |path| {
            SqliteQueue::open(path).map_err(|e| Failure::new(format!("cannot open the queue: {e}")))
        })
        .await?;
        eprintln!("bus: durable SQLite queue: {queue:.0} commands/s");
        report.push(
            Row::new("bus", "sqlite_queue_commands", queue, "commands/s")
                .relative_to(&baseline, direct)
                .target(Target::AtLeast(0.5)),
        );
    }
    Ok(())
}

/// The RabbitMQ cases that are selected, or their skips when no broker is
/// given.
async fn rabbitmq(
    report: &mut Report,
    amqp: Option<&str>,
    commands: u64,
    selected: impl Fn(&str) -> bool,
) -> Result<(), Failure> {
    let broker_cases = ["rabbitmq_roundtrip", "relay_rabbitmq_events"];
    let Some(url) = amqp else {
        for case in broker_cases.into_iter().filter(|case| selected(case)) {
            report.skip("bus", case, "no broker: pass --amqp URL or set TREATY_TEST_AMQP");
        }
        return Ok(());
    };
    if selected("rabbitmq_roundtrip") {
        // The baseline first, then Treaty, then the baseline again: the
        // better of the two baseline runs is the comparison, so a broker
        // warming up does not flatter Treaty.
        let raw_first = lapin_roundtrip(url, commands).await?;
        let treaty = treaty_roundtrip(url, commands).await?;
        let raw_second = lapin_roundtrip(url, commands).await?;
        let raw = raw_first.max(raw_second);
        eprintln!("bus: RabbitMQ: Treaty {treaty:.0} messages/s, raw lapin {raw_first:.0} and {raw_second:.0}");
        report.push(
            Row::new("bus", "rabbitmq_roundtrip", treaty, "messages/s")
                .relative_to(format!("raw lapin, {commands} messages"), raw)
                .target(Target::AtLeast(0.7)),
        );
    }
    if selected("relay_rabbitmq_events") {
        // Treaty first (its source store makes the payloads the baseline
        // sends), then the baseline twice: the better run counts, and
        // Treaty meets the broker cold.
        let (treaty, payloads) = relay::treaty_relay(url, commands).await?;
        let raw_first = relay::lapin_relay(url, &payloads).await?;
        let raw_second = relay::lapin_relay(url, &payloads).await?;
        let raw = raw_first.max(raw_second);
        eprintln!(
            "bus: relay over RabbitMQ: Treaty {treaty:.0} events/s, raw lapin {raw_first:.0} and {raw_second:.0}"
        );
        report.push(
            Row::new("bus", "relay_rabbitmq_events", treaty, "events/s")
                .relative_to(format!("raw lapin, {commands} payloads"), raw)
                .target(Target::AtLeast(0.7)),
        );
    }
    Ok(())
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

/// Commands per second sent one way by `senders` tasks through the
/// transport `open` makes (given the event store's file) and handled by a
/// bus over it, until the last event is stored.
pub(crate) async fn through_bus<T: Transport>(
    commands: u64,
    senders: u64,
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
    let senders: Vec<_> = (0..senders.max(1))
        .map(|sender| {
            let (bus, step) = (bus.clone(), senders.max(1));
            tokio::spawn(async move {
                let mut i = sender;
                while i < commands {
                    bus.send(&command(i)).await.map_err(|e| e.to_string())?;
                    i += step;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for sender in senders {
        sender
            .await
            .map_err(|e| Failure::new(e.to_string()))?
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

/// A handler that accepts every command and does nothing else, so the
/// RabbitMQ case measures the bus and its transport, not a store.
struct Accept {
    handled: Arc<std::sync::atomic::AtomicU64>,
}

impl Handler for Accept {
    fn contracts(&self) -> Vec<&'static str> {
        vec![<Increment as treaty::Contract>::NAME]
    }

    fn handle<'a>(&'a self, _: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        Box::pin(std::future::ready(Ok(Handled::default())))
    }
}

/// Messages per second through RabbitMQ with Treaty: `PUBLISHERS` tasks
/// send commands (each send waits for the broker's confirm) while a bus
/// consumes, handles and acknowledges them.
async fn treaty_roundtrip(url: &str, messages: u64) -> Result<f64, Failure> {
    let config = AmqpConfig {
        queue: format!("bench.treaty.{}", Uuid::now_v7().simple()),
        ..AmqpConfig::default()
    };
    let failed = |e: TransportError| Failure::new(format!("RabbitMQ: {e}"));
    let transport = AmqpTransport::connect(url, config).await.map_err(failed)?;
    let bus = Bus::new(
        transport.clone(),
        MemoryQuarantine::new(),
        BusConfig {
            concurrency: CONCURRENCY,
            ..BusConfig::default()
        },
    );
    let handled = Arc::new(std::sync::atomic::AtomicU64::new(0));
    bus.register(Accept {
        handled: handled.clone(),
    })
    .map_err(|e| Failure::new(e.to_string()))?;
    let running = bus.start();
    let started = Instant::now();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let mut i = publisher;
                while i < messages {
                    bus.send(&command(i)).await.map_err(|e| e.to_string())?;
                    i += PUBLISHERS;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for publisher in publishers {
        publisher
            .await
            .map_err(|e| Failure::new(e.to_string()))?
            .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
    }
    wait_until("Treaty handled every message", || {
        handled.load(Ordering::Relaxed) >= messages
    })
    .await?;
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    running.shutdown().await;
    transport.delete_topology().await.map_err(failed)?;
    Ok(rate)
}

/// The same with raw lapin: a durable quorum queue, `PUBLISHERS` tasks
/// publishing persistent messages and waiting for each confirm, and a
/// consumer with the bus's prefetch acknowledging each message.
async fn lapin_roundtrip(url: &str, messages: u64) -> Result<f64, Failure> {
    use lapin::options::{BasicAckOptions, BasicPublishOptions, QueueDeleteOptions};
    use lapin::BasicProperties;

    let failed = raw::failed;
    let queue = format!("bench.lapin.{}", Uuid::now_v7().simple());
    let (connection, publisher) = raw::publisher(url).await?;
    raw::quorum_queue(&publisher, &queue).await?;
    let mut consumer = raw::consumer(&connection, &queue, AmqpConfig::default().prefetch).await?;
    let started = Instant::now();
    let body = Envelope::command(&command(0))
        .map_err(|e| Failure::new(e.to_string()))?
        .to_json();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|publisher_index| {
            let (channel, queue, body) = (publisher.clone(), queue.clone(), body.clone());
            tokio::spawn(async move {
                let mut i = publisher_index;
                while i < messages {
                    let confirm = channel
                        .basic_publish(
                            "".into(),
                            queue.as_str().into(),
                            BasicPublishOptions::default(),
                            &body,
                            BasicProperties::default().with_delivery_mode(2),
                        )
                        .await?;
                    confirm.await?;
                    i += PUBLISHERS;
                }
                Ok::<_, lapin::Error>(())
            })
        })
        .collect();
    let mut acknowledged = 0;
    while acknowledged < messages {
        let delivery = consumer
            .next()
            .await
            .ok_or_else(|| Failure::new("the raw consumer stopped"))?
            .map_err(failed)?;
        delivery.ack(BasicAckOptions::default()).await.map_err(failed)?;
        acknowledged += 1;
    }
    for publisher in publishers {
        publisher
            .await
            .map_err(|e| Failure::new(e.to_string()))?
            .map_err(failed)?;
    }
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    publisher
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .map_err(failed)?;
    let _ = connection.close(0, "done".into()).await;
    Ok(rate)
}

/// Tasks publishing at once in the RabbitMQ case, on either side.
const PUBLISHERS: u64 = 32;

async fn wait_until(what: &str, done: impl Fn() -> bool) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !done() {
        if Instant::now() > deadline {
            return Err(Failure::new(format!("timed out: {what}")));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}
