// One build of the tally service as a process, for
// `tests/rollout_processes.rs`: the same code compiled against the
// contracts of `old.rs` (`rollout_old`) and `new.rs` (`rollout_new`).
//
// `rollout_X EVENTS_DB serve` handles tallies from the SQLite queue in
// the file (the event store, the queue and the quarantine share it),
// prints `running`, and works until killed.
// `rollout_X EVENTS_DB send PREFIX COUNT` sends `Add` to the tallies
// `PREFIX-0` .. `PREFIX-{COUNT-1}`, adding `i + 1` to the `i`th, and exits.

use std::process::ExitCode;

use treaty::aggregate::Repository;
use treaty::bus::{Bus, BusConfig, SqliteQuarantine};
use treaty::store::Durability;
use treaty_e2e::worker;

use crate::tally::{Add, Tally, TallyId};

pub async fn main(name: &str) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [events, "serve"] => serve(events).await,
        [events, "send", prefix, count] => match count.parse() {
            Ok(count) => send(events, prefix, count).await,
            Err(e) => Err(format!("COUNT {count}: {e}").into()),
        },
        _ => {
            eprintln!("usage: {name} EVENTS_DB serve | {name} EVENTS_DB send PREFIX COUNT");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error}");
            ExitCode::FAILURE
        }
    }
}

fn bus(events: &str) -> Result<Bus<treaty::bus::SqliteQueue, SqliteQuarantine>, Box<dyn std::error::Error>> {
    let (store, queue) = worker::open(events)?;
    let bus = Bus::new(
        queue,
        SqliteQuarantine::open_with(events, Durability::Normal)?,
        BusConfig::default(),
    );
    bus.handle_aggregate(Repository::<Tally, _>::new(store))?;
    Ok(bus)
}

async fn serve(events: &str) -> worker::Result {
    let bus = bus(events)?;
    let _running = bus.start();
    worker::running().await
}

async fn send(events: &str, prefix: &str, count: u32) -> worker::Result {
    let bus = bus(events)?;
    for i in 0..count {
        bus.send(&Add::new(TallyId(format!("{prefix}-{i}")), i + 1)).await?;
    }
    Ok(())
}
