//! What `changes_before` and `changes_after` share: seeding the store,
//! and the two commands the test in `tests/projection_rebuilds.rs` runs.
//!
//! `changes_{before,after} run DB` starts the engine over the SQLite file
//! DB (appending the events first if it holds none), waits until every
//! projection is live, and prints how each started; `plan DB` prints what
//! a start would do, one projection per line: name, action and the items
//! named as changed, tab-separated. The table `StartPlan` displays goes to
//! stderr.

use std::process::ExitCode;

use treaty::projection::{PlannedAction, SqliteViewStore, ViewReader};
use treaty::store::{
    Durability, EventStore, ExpectedVersion, Metadata, NewEvent, SqliteConfig, SqliteStore, StreamName,
};
use treaty::Contract;

use crate::app;

pub async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [command, db] if command == "run" => run(db).await,
        [command, db] if command == "plan" => plan(db).await,
        _ => Err("usage: changes_before|changes_after run|plan DB".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

type Failure = Box<dyn std::error::Error>;

async fn run(db: &str) -> Result<(), Failure> {
    let events = SqliteStore::open(db)?;
    if events.head().await? == 0 {
        seed(&events).await?;
    }
    let views = SqliteViewStore::open(db)?;
    let running = app::engine(events, views.clone()).start().await?;
    running.wait_live().await?;
    let summary = running.startup().clone();
    running.shutdown().await;
    for (how, names) in [
        ("up_to_date", &summary.up_to_date),
        ("caught_up", &summary.caught_up),
        ("rebuilt", &summary.rebuilt),
    ] {
        for name in names {
            println!("{how}\t{name}");
        }
    }
    for (name, count) in app::counts(&ViewReader::new(views)).await? {
        println!("view\t{name}\t{count}");
    }
    Ok(())
}

async fn plan(db: &str) -> Result<(), Failure> {
    let events = SqliteStore::open_existing(db, SqliteConfig::default())?;
    let views = SqliteViewStore::open_existing(db, Durability::default())?;
    let plan = app::engine(events, views).plan().await?;
    eprintln!("{plan}");
    for projection in &plan.projections {
        let (action, changes) = match &projection.action {
            PlannedAction::UpToDate { .. } => ("up_to_date", Vec::new()),
            PlannedAction::CatchUp { .. } => ("catch_up", Vec::new()),
            PlannedAction::Resume { .. } => ("resume", Vec::new()),
            PlannedAction::Drop { .. } => ("drop", Vec::new()),
            PlannedAction::Rebuild { reason, .. } => (
                "rebuild",
                reason
                    .changes
                    .iter()
                    .flatten()
                    .map(|c| format!("{:?} {}", c.change, c.item))
                    .collect(),
            ),
        };
        let expected = projection.expected.map_or("unknown".to_string(), |e| format!("{e:?}"));
        println!("{}\t{action}\t{expected}\t{}", projection.name, changes.join("|"));
    }
    Ok(())
}

/// Three clicks, and two notes: one at version 2 and one stored by an
/// older build at version 1, which the hand-written upcast reads.
async fn seed(events: &SqliteStore) -> Result<(), Failure> {
    use app::clicks::clicks::{ButtonId, Clicked};
    use app::ledger::ledger::{LedgerId, Noted};
    let button = StreamName::new("button-1")?;
    for _ in 0..3 {
        let clicked = Clicked {
            id: ButtonId("b-1".into()),
        };
        let event = NewEvent::from_contract(&clicked, Metadata::now())?;
        events.append(&button, ExpectedVersion::Any, vec![event]).await?;
    }
    let ledger = StreamName::new("ledger-1")?;
    let noted = Noted {
        id: LedgerId("l-1".into()),
        text: "one two".into(),
        words: 2,
    };
    let current = NewEvent::from_contract(&noted, Metadata::now())?;
    let old = NewEvent {
        id: treaty::Uuid::now_v7(),
        contract: Noted::NAME.into(),
        contract_version: 1,
        fingerprint: Noted::HISTORY[1].fingerprint.into(),
        payload: br#"{"id": "l-1", "text": "three more words"}"#.to_vec(),
        metadata: Metadata::now(),
        schema: None,
    };
    events.append(&ledger, ExpectedVersion::Any, vec![current, old]).await?;
    Ok(())
}
