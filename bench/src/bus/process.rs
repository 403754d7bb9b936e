//! `process_manager_events`: events handled per second by a process
//! manager that sends one command for each, from the state change and the
//! outbox committed together to the command taken by the durable SQLite
//! queue in the store's file; against the bus alone sending the same
//! commands (made from the same events, read beforehand) one after the
//! other, as the outbox sends them.
//! Nothing consumes the queue, so both sides measure what the sender
//! does.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use treaty::aggregate::EventSet;
use treaty::bus::{Bus, BusConfig, MemoryQuarantine, SqliteQueue};
use treaty::process::{Effects, ProcessManager, ProcessRunner, ProcessStore, SqliteProcessStore};
use treaty::store::{EventStore, ExpectedVersion, Metadata, SqliteStore, StreamName};

use crate::counter::{CounterEvent, CounterId, Increment, Incremented, COUNTERS};
use crate::Failure;

/// Events per append while the store is filled (not timed).
const PER_APPEND: u64 = 100;

/// Forwards each increment of a counter to the next counter, keeping how
/// many it forwarded for each.
struct Forward;

impl ProcessManager for Forward {
    const NAME: &'static str = "bench-forward";
    type Event = CounterEvent;
    type State = u64;

    fn correlate(&self, event: &CounterEvent) -> Option<String> {
        let CounterEvent::Incremented(incremented) = event;
        Some(incremented.id.0.clone())
    }

    fn handle(&self, forwarded: &mut u64, event: &CounterEvent, effects: &mut Effects) {
        *forwarded += 1;
        effects.send(&forward(event));
    }
}

/// The command sent for an event, on either side.
fn forward(event: &CounterEvent) -> Increment {
    let CounterEvent::Incremented(incremented) = event;
    Increment {
        id: CounterId(format!("next-{}", incremented.id.0)),
        by: incremented.by,
    }
}

/// A store in `dir` holding `events` increments over the counters.
async fn filled(dir: &Path, events: u64) -> Result<SqliteStore, Failure> {
    let store =
        SqliteStore::open(dir.join("events.db")).map_err(|e| Failure::new(format!("cannot open the store: {e}")))?;
    let mut appended = 0;
    while appended < events {
        let counter = CounterId(format!("c{}", (appended / PER_APPEND) % COUNTERS));
        let stream = StreamName::new(format!("counter-{}", counter.0)).map_err(|e| Failure::new(e.to_string()))?;
        let batch = (events - appended).min(PER_APPEND);
        let new = (0..batch)
            .map(|_| {
                CounterEvent::from(Incremented {
                    id: counter.clone(),
                    by: 1,
                })
                .to_new_event(Metadata::now())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::new(e.to_string()))?;
        store
            .append(&stream, ExpectedVersion::Any, new)
            .await
            .map_err(|e| Failure::new(format!("cannot fill the store: {e}")))?;
        appended += batch;
    }
    Ok(store)
}

fn queue_bus(dir: &Path) -> Result<Bus<SqliteQueue, MemoryQuarantine>, Failure> {
    let queue =
        SqliteQueue::open(dir.join("events.db")).map_err(|e| Failure::new(format!("cannot open the queue: {e}")))?;
    Ok(Bus::new(queue, MemoryQuarantine::new(), BusConfig::default()))
}

/// Fails the run unless the queue holds exactly `commands` messages with
/// as many distinct ids: each command sent once.
fn check_queue(dir: &Path, commands: u64) -> Result<(), Failure> {
    let conn = rusqlite::Connection::open(dir.join("events.db")).map_err(|e| Failure::new(e.to_string()))?;
    let (rows, ids): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT json_extract(CAST(body AS TEXT), '$.id')) FROM treaty_queue",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(|e| Failure::new(e.to_string()))?;
    if rows != commands as i64 || ids != rows {
        return Err(Failure::new(format!(
            "{commands} events queued {rows} commands with {ids} ids, not one each"
        )));
    }
    Ok(())
}

/// Events per second through the process manager, until every command is
/// in the queue.
pub(super) async fn process_manager(events: u64) -> Result<f64, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let store = filled(dir.path(), events).await?;
    let processes = SqliteProcessStore::open(dir.path().join("events.db"))
        .map_err(|e| Failure::new(format!("cannot open the process store: {e}")))?;
    let bus = queue_bus(dir.path())?;
    let started = Instant::now();
    let running = ProcessRunner::new(Forward, store.clone(), processes.clone(), bus)
        .start()
        .await
        .map_err(|e| Failure::new(e.to_string()))?;
    if !running.wait_for(events).await {
        return Err(Failure::new(format!(
            "the process manager stopped: {:?}",
            running.shutdown().await
        )));
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let left = processes
            .outbox(Forward::NAME, 1)
            .await
            .map_err(|e| Failure::new(e.to_string()))?;
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            return Err(Failure::new("the outbox was not sent in ten minutes"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    running.shutdown().await.map_err(|e| Failure::new(e.to_string()))?;
    check_queue(dir.path(), events)?;
    Ok(rate)
}

/// Commands per second sent through the bus one after the other, one for
/// each of the same events, read beforehand.
pub(super) async fn bus_alone(events: u64) -> Result<f64, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let store = filled(dir.path(), events).await?;
    let commands: Vec<Increment> = store
        .read_all(1)
        .map_err(|e| Failure::new(e.to_string()))
        .and_then(|event| async move {
            CounterEvent::from_recorded(&event)
                .map(|event| forward(&event))
                .map_err(|e| Failure::new(e.to_string()))
        })
        .try_collect()
        .await?;
    let bus = queue_bus(dir.path())?;
    let started = Instant::now();
    // On a worker thread, as the outbox's sender runs.
    tokio::spawn(async move {
        for command in &commands {
            bus.send(command).await?;
        }
        Ok::<_, treaty::bus::SendError>(())
    })
    .await
    .map_err(|e| Failure::new(e.to_string()))?
    .map_err(|e| Failure::new(format!("cannot send: {e}")))?;
    let rate = events as f64 / started.elapsed().as_secs_f64();
    check_queue(dir.path(), events)?;
    Ok(rate)
}
