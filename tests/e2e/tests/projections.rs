//! The projection engine over the bank account events.

mod bank;
mod projection;

use bank::*;
use projection::*;
use treaty::aggregate::EventSet;
use treaty::projection::{EngineConfig, Phase, Projection, ProjectionEngine, SqliteViewStore, ViewReader};
use treaty::store::{EventStore, ExpectedVersion, MemoryStore, Metadata, StreamName};

async fn append(store: &impl EventStore, account: &str, events: Vec<AccountEvent>) -> u64 {
    let stream = StreamName::new(format!("account-{account}")).unwrap();
    let events = events
        .iter()
        .map(|e| e.to_new_event(Metadata::now()).unwrap())
        .collect();
    store
        .append(&stream, ExpectedVersion::Any, events)
        .await
        .unwrap()
        .last_position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    append(&events, "a", vec![opened("a", "Ann"), deposited("a", 100)]).await;
    let views = SqliteViewStore::open(dir.path().join("views.db")).unwrap();
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals).config(EngineConfig {
        cache_views: 2,
        ..EngineConfig::default()
    });
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    let last = append(&events, "a", vec![withdrew("a", 30)]).await;
    running.wait_for_position(last).await.unwrap();
    let reader = ViewReader::new(views);
    let balance = reader.get::<Balances>("a").await.unwrap().unwrap();
    assert_eq!(balance.balance, 70);
    assert!(running.status().iter().all(|s| s.phase == Phase::Live));
    running.shutdown().await;
    println!("{}", Balances::FINGERPRINT);
}
