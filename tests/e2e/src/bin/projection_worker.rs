//! A process that runs the bank projections until it is killed, for the
//! crash tests in `tests/projection_crash.rs`.
//!
//! `projection_worker EVENTS_DB VIEWS_DB v1|v2` opens both SQLite
//! databases, runs `Balances` (`v1`) or `BalancesV2` (`v2`, another
//! fingerprint, so it rebuilds) with small batches and frequent flushes,
//! prints `live` once caught up, and then keeps following the store.

#[path = "../../tests/bank/mod.rs"]
mod bank;
#[path = "../../tests/projection/mod.rs"]
mod projection;

use std::io::Write;
use std::process::ExitCode;

use treaty::projection::{EngineConfig, ProjectionEngine, SqliteViewStore};
use treaty::store::SqliteStore;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [events, views, version] = args.as_slice() else {
        eprintln!("usage: projection_worker EVENTS_DB VIEWS_DB v1|v2");
        return ExitCode::from(2);
    };
    match run(events, views, version).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("projection_worker: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(events: &str, views: &str, version: &str) -> Result<(), Box<dyn std::error::Error>> {
    let events = SqliteStore::open(events)?;
    let views = SqliteViewStore::open(views)?;
    let mut engine = ProjectionEngine::new(events, views);
    engine.config(EngineConfig {
        cache_views: 50,
        flush_events: 100,
        batch_events: 100,
        // One name for every worker: the one started after a kill takes
        // the projection back at once rather than waiting for the killed
        // one's lease to expire.
        instance: Some("projection_worker".to_string()),
        ..EngineConfig::default()
    });
    match version {
        "v1" => engine.add(projection::Balances),
        "v2" => engine.add(projection::BalancesV2),
        other => return Err(format!("unknown version {other:?}, expected v1 or v2").into()),
    };
    let running = engine.start().await?;
    running.wait_live().await?;
    println!("live");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
