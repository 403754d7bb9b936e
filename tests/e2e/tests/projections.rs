//! The projection engine over the bank account events: live processing
//! against full rebuilds, generations and their swap, removed projections,
//! and failures that stop one projection but not the others.

mod bank;
mod projection;

use std::collections::BTreeMap;
use std::time::Duration;

use bank::*;
use projection::*;
use proptest::prelude::*;
use treaty::aggregate::EventSet;
use treaty::projection::{
    Change, EngineConfig, EngineError, EventContext, GenerationStatus, Phase, PlannedAction, Projection,
    ProjectionEngine, SqliteViewStore, StartPlan, ViewReader, ViewStore,
};
use treaty::store::{EventStore, ExpectedVersion, MemoryStore, Metadata, NewEvent, StreamName};

/// Appends `events` to their accounts' streams one by one and returns
/// them with their positions.
async fn append_all(store: &impl EventStore, events: &[AccountEvent]) -> Vec<(u64, AccountEvent)> {
    let mut recorded = Vec::new();
    for event in events {
        let stream = StreamName::new(format!("account-{}", event.id())).unwrap();
        let new = event.to_new_event(Metadata::now()).unwrap();
        let result = store.append(&stream, ExpectedVersion::Any, vec![new]).await.unwrap();
        recorded.push((result.last_position, event.clone()));
    }
    recorded
}

async fn all_views<P: Projection>(views: &impl ViewStore) -> BTreeMap<String, P::View> {
    let reader = ViewReader::new(views.clone());
    let mut all = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = reader.list::<P>(after.as_deref(), 3).await.unwrap();
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        all.extend(page);
    }
    all
}

/// A small cache, batches and flush interval, so a few events exercise
/// eviction, reloading and many flushes.
fn tight() -> EngineConfig {
    EngineConfig {
        cache_views: 2,
        flush_events: 5,
        batch_events: 3,
        ..EngineConfig::default()
    }
}

fn view_store(dir: &tempfile::TempDir, name: &str) -> SqliteViewStore {
    SqliteViewStore::open(dir.path().join(name)).unwrap()
}

fn account_event() -> impl Strategy<Value = AccountEvent> {
    let account = prop::sample::select(vec!["a", "b", "c", "d", "e"]);
    (account, 0..3u8, 1..500u64).prop_map(|(account, kind, amount)| match kind {
        0 => opened(account, &format!("owner of {account}")),
        1 => deposited(account, amount),
        _ => withdrew(account, amount),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Views folded live, while events arrive in bursts, equal the views
    /// of a rebuild from the first event, and both equal the model.
    #[test]
    fn live_processing_equals_a_full_rebuild(
        bursts in prop::collection::vec(prop::collection::vec(account_event(), 0..12), 1..5)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let events = MemoryStore::new();
            let live_views = view_store(&dir, "live.db");
            let mut engine = ProjectionEngine::new(events.clone(), live_views.clone());
            engine.add(Balances).add(BankTotals).config(tight());
            let running = engine.start().await.unwrap();
            let mut recorded = Vec::new();
            for burst in &bursts {
                recorded.extend(append_all(&events, burst).await);
            }
            running.wait_for_position(events.head().await.unwrap()).await.unwrap();
            running.shutdown().await;
            let live = all_views::<Balances>(&live_views).await;
            let live_totals = all_views::<BankTotals>(&live_views).await;

            let rebuilt_views = view_store(&dir, "rebuilt.db");
            let mut engine = ProjectionEngine::new(events.clone(), rebuilt_views.clone());
            engine.add(Balances).add(BankTotals).config(tight());
            let running = engine.start().await.unwrap();
            running.wait_live().await.unwrap();
            running.shutdown().await;
            let rebuilt = all_views::<Balances>(&rebuilt_views).await;

            assert_eq!(live, rebuilt);
            assert_eq!(live, expected_balances(&recorded));
            assert_eq!(live_totals, all_views::<BankTotals>(&rebuilt_views).await);
            let counted = live_totals.get("all").map_or(0, |t| t.events);
            assert_eq!(counted, recorded.len() as u64);
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_projection_continues_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    append_all(&events, &[opened("a", "Ann"), deposited("a", 100)]).await;

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().rebuilt, ["bank.balances", "bank.totals"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;

    // Unchanged and current: nothing to do.
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().up_to_date, ["bank.balances", "bank.totals"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;

    // Events appended while stopped are caught up, not rebuilt.
    let more = append_all(&events, &[withdrew("a", 30)]).await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().caught_up, ["bank.balances", "bank.totals"]);
    running.wait_for_position(more[0].0).await.unwrap();
    let status = running.status();
    assert!(status.iter().all(|s| s.generation == 1 && s.checkpoint == 3));
    running.shutdown().await;

    let balance = ViewReader::new(views.clone())
        .get::<Balances>("a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((balance.balance, balance.events), (70, 3));
    let generations = views.generations().await.unwrap();
    assert_eq!(generations.len(), 2);
    assert!(generations
        .iter()
        .all(|g| g.status == GenerationStatus::Live && g.checkpoint == 3));
}

/// Only the openings of accounts.
#[treaty::event_set]
enum Opening {
    AccountOpened(AccountOpened),
}

/// Who owns each account: a projection that never reads a `Deposited`.
struct Owners;

#[treaty::projection]
impl Projection for Owners {
    const NAME: &'static str = "bank.owners";
    type Event = Opening;
    type View = Balance;

    fn keys(&self, event: &Opening) -> Vec<String> {
        let Opening::AccountOpened(opened) = event;
        vec![opened.id.to_string()]
    }

    fn apply(&self, view: &mut Option<Balance>, event: &Opening, _: &EventContext<'_>) {
        let Opening::AccountOpened(opened) = event;
        view.get_or_insert_with(Balance::default).owner = opened.owner.clone();
    }
}

/// `Balances` that is slow to rebuild, so a test can read while it does.
struct SlowBalances;

#[treaty::projection(uses = [signed_amount])]
impl Projection for SlowBalances {
    const NAME: &'static str = "bank.balances";
    type Event = AccountEvent;
    type View = Balance;

    fn keys(&self, event: &AccountEvent) -> Vec<String> {
        vec![event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Balance>, event: &AccountEvent, context: &EventContext<'_>) {
        std::thread::sleep(Duration::from_millis(3));
        let view = view.get_or_insert_with(Balance::default);
        view.owner = "rebuilt".to_string();
        view.balance += signed_amount(event);
        view.events += 1;
        view.last_position = context.position;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_see_the_old_generation_until_the_new_one_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    let mut history = vec![opened("a", "Ann")];
    history.extend((1..=80).map(|i| deposited("a", i)));
    append_all(&events, &history).await;

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    running.shutdown().await;
    let reader = ViewReader::new(views.clone());
    let old = reader.get::<Balances>("a").await.unwrap().unwrap();
    assert_eq!((old.owner.as_str(), old.events), ("Ann", 81));

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(SlowBalances).add(BankTotals).config(tight());
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().rebuilt, ["bank.balances"]);
    assert_eq!(running.startup().up_to_date, ["bank.totals"]);

    // The unchanged projection keeps processing new events meanwhile.
    let during = append_all(&events, &[deposited("b", 5)]).await;
    let mut reads_during_rebuild = 0;
    let mut totals_moved_during_rebuild = false;
    // Every read sees either the complete old view or the complete new one
    // (the status may lag the swap by a moment, so it cannot tell which).
    let new = Balance {
        owner: "rebuilt".into(),
        balance: 3240,
        events: 81,
        last_position: 81,
    };
    loop {
        let view = reader.get::<Balances>("a").await.unwrap().unwrap();
        assert!(view == old || view == new, "a reader saw a half-built view: {view:?}");
        let status = running.status();
        let (slow, totals) = (&status[0], &status[1]);
        if slow.phase == Phase::Rebuilding {
            assert_eq!(slow.generation, 2);
            reads_during_rebuild += usize::from(view == old);
            totals_moved_during_rebuild |= totals.checkpoint >= during[0].0;
        } else if slow.phase == Phase::Live {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(reads_during_rebuild > 3, "the rebuild was too fast to observe");
    assert!(
        totals_moved_during_rebuild,
        "the unchanged projection did not follow new events during the rebuild"
    );
    running.wait_for_position(during[0].0).await.unwrap();
    running.shutdown().await;

    let new = reader.get::<Balances>("a").await.unwrap().unwrap();
    assert_eq!((new.owner.as_str(), new.balance, new.events), ("rebuilt", 3240, 81));
    let generations = views.generations().await.unwrap();
    let balances: Vec<_> = generations.iter().filter(|g| g.projection == "bank.balances").collect();
    assert_eq!(balances.len(), 1, "the old generation is dropped: {generations:?}");
    assert_eq!(
        (balances[0].generation, balances[0].status),
        (2, GenerationStatus::Live)
    );
}

/// What each projection's plan says, as `(name, action)`.
fn actions(plan: &StartPlan) -> Vec<(String, String)> {
    plan.projections
        .iter()
        .map(|p| {
            let action = match &p.action {
                PlannedAction::UpToDate { .. } => "up to date".to_string(),
                PlannedAction::CatchUp { from, .. } => format!("catch up {} from {from}", p.events),
                PlannedAction::Rebuild { reason, .. } => format!("rebuild {}: {reason}", p.events),
                PlannedAction::Resume { at, .. } => format!("resume at {at}"),
                PlannedAction::Drop { generations } => format!("drop {generations:?}"),
            };
            (p.name.clone(), action)
        })
        .collect()
}

fn expect(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(n, a)| (n.to_string(), a.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_says_what_each_start_does() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    append_all(&events, &[opened("a", "Ann"), deposited("a", 100)]).await;

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let plan = engine.plan().await.unwrap();
    assert_eq!(
        actions(&plan),
        expect(&[
            ("bank.balances", "rebuild 2: new projection"),
            ("bank.totals", "rebuild 2: new projection")
        ])
    );
    // Nothing measured yet, so no time is expected.
    assert_eq!((plan.head, plan.events(), plan.expected()), (2, 4, None));
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().rebuilt, ["bank.balances", "bank.totals"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;
    // Planning changed nothing: the views hold what the start built.
    let generations = views.generations().await.unwrap();
    assert_eq!(generations.len(), 2);
    for generation in &generations {
        assert_eq!(generation.status, GenerationStatus::Live);
        // The start recorded what the code reaches and how fast it read.
        let code = generation.code.as_ref().unwrap();
        assert!(code.contains_key("contract bank.Deposited"), "{code:?}");
        assert!(code.contains_key("view type"));
        assert!(generation.events_per_second.is_some());
    }
    let balances = generations.iter().find(|g| g.projection == "bank.balances").unwrap();
    assert!(balances.code.as_ref().unwrap().contains_key("fn signed_amount"));

    // Caught up from where each stopped, with a time from the rate of the
    // first start; a projection no longer in the code is dropped.
    append_all(&events, &[withdrew("a", 30)]).await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances);
    let plan = engine.plan().await.unwrap();
    assert_eq!(
        actions(&plan),
        expect(&[("bank.balances", "catch up 1 from 2"), ("bank.totals", "drop [1]")])
    );
    assert!(plan.expected().is_some());
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().caught_up, ["bank.balances"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;
    let names: Vec<_> = views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.projection)
        .collect();
    assert_eq!(names, ["bank.balances"]);

    // Other code under the same name: a rebuild, naming what differs.
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(BalancesV2);
    let plan = engine.plan().await.unwrap();
    let [(name, action)] = &actions(&plan)[..] else {
        panic!("{plan}")
    };
    assert_eq!(name, "bank.balances");
    assert!(action.starts_with("rebuild 3: now reaches: "), "{action}");
    // Another impl, of another type, with `version = 2`: the data names
    // every item (the text only the first few).
    let PlannedAction::Rebuild { reason, .. } = &plan.projections[0].action else {
        panic!("{plan}")
    };
    let changes: Vec<(Change, &str)> = reason
        .changes
        .as_ref()
        .unwrap()
        .iter()
        .map(|c| (c.change, c.item.as_str()))
        .collect();
    for expected in [
        (Change::Added, "struct BalancesV2"),
        (Change::Added, "version"),
        (Change::Removed, "struct Balances"),
    ] {
        assert!(changes.contains(&expected), "{changes:?}");
    }
    assert!(
        !changes.iter().any(|(_, item)| item.contains("signed_amount")),
        "{changes:?}"
    );
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().rebuilt, ["bank.balances"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(BalancesV2);
    assert_eq!(
        actions(&engine.plan().await.unwrap()),
        expect(&[("bank.balances", "up to date")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_of_removed_projections_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    append_all(&events, &[opened("a", "Ann"), deposited("a", 7)]).await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals);
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    running.shutdown().await;
    let reader = ViewReader::new(views.clone());
    assert!(reader.get::<BankTotals>("all").await.unwrap().is_some());

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances);
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    running.shutdown().await;
    assert!(reader.get::<BankTotals>("all").await.unwrap().is_none());
    let names: Vec<_> = views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.projection)
        .collect();
    assert_eq!(names, ["bank.balances"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_code_cannot_read_stops_that_projection_only() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    append_all(&events, &[opened("a", "Ann")]).await;
    // A `Deposited` at a version this build does not know.
    let stream = StreamName::new("account-a").unwrap();
    let future = NewEvent {
        id: treaty::Uuid::now_v7(),
        contract: "bank.Deposited".into(),
        contract_version: 9,
        fingerprint: "0".repeat(32),
        payload: br#"{"id": "a", "amount": 1}"#.to_vec(),
        metadata: Metadata::now(),
        schema: None,
    };
    events
        .append(&stream, ExpectedVersion::Any, vec![future])
        .await
        .unwrap();

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(Owners);
    let running = engine.start().await.unwrap();
    let error = running.wait_live().await.unwrap_err();
    let EngineError::Stopped { projection, reason } = &error else {
        panic!("unexpected error {error}")
    };
    assert_eq!(projection, "bank.balances");
    assert!(
        reason.contains("position 2 (stream account-a, version 2, bank.Deposited v9)"),
        "{reason}"
    );
    assert!(reason.contains("stopped at checkpoint 0"), "{reason}");
    // `Owners` does not consume `Deposited`: it goes live all the same.
    let status = running.status();
    assert!(matches!(status[0].phase, Phase::Failed(_)), "{status:?}");
    let mut owners = running.status();
    while owners[1].phase != Phase::Live {
        tokio::time::sleep(Duration::from_millis(5)).await;
        owners = running.status();
    }
    let owner = ViewReader::new(views.clone())
        .get::<Owners>("a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owner.owner, "Ann");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projections_with_one_name_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = ProjectionEngine::new(MemoryStore::new(), view_store(&dir, "views.db"));
    engine.add(Balances).add(BalancesV2);
    let error = engine.start().await.err().unwrap();
    assert_eq!(
        error.to_string(),
        "two projections are named \"bank.balances\"; give each projection its own `NAME`"
    );
}

#[test]
fn fingerprints_are_constants_of_the_build() {
    const BALANCES: treaty::projection::Fingerprint = Balances::FINGERPRINT;
    assert_eq!(BALANCES, Balances::FINGERPRINT);
    assert_ne!(Balances::FINGERPRINT, BalancesV2::FINGERPRINT, "version = 2 counts");
    assert_ne!(Balances::FINGERPRINT, SlowBalances::FINGERPRINT, "the body counts");
    assert_eq!(AccountEvent::CONTRACTS.len(), 3);
}

/// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`:
/// skipped with a reason locally, a failure under CI.
#[cfg(feature = "postgres")]
fn postgres_url() -> Option<String> {
    treaty_testing::server_url("TREATY_TEST_POSTGRES")
}

/// Events and views in one PostgreSQL schema: a build, live processing, a
/// rebuild under a new fingerprint, and the swap.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_run_beside_a_postgres_event_store() {
    use treaty::projection::PostgresViewStore;
    use treaty::store::{PostgresConfig, PostgresOptions, PostgresStore};

    let Some(url) = postgres_url() else { return };
    let options = PostgresOptions {
        schema: format!("test_projections_{}", treaty::Uuid::now_v7().simple()),
        ..PostgresOptions::default()
    };
    let config = PostgresConfig {
        connection: options.clone(),
        ..PostgresConfig::default()
    };
    let events = PostgresStore::open_with(&url, config).await.unwrap();
    let views = PostgresViewStore::open_with(&url, options).await.unwrap();
    let mut history = vec![opened("a", "Ann"), opened("b", "Bob")];
    history.extend((1..=30).map(|i| deposited(if i % 2 == 0 { "a" } else { "b" }, i)));
    let mut recorded = append_all(&events, &history).await;

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).add(BankTotals).config(tight());
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    recorded.extend(append_all(&events, &[withdrew("a", 10)]).await);
    running.wait_for_position(recorded.last().unwrap().0).await.unwrap();
    running.shutdown().await;
    assert_eq!(all_views::<Balances>(&views).await, expected_balances(&recorded));

    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(BalancesV2).add(BankTotals).config(tight());
    let running = engine.start().await.unwrap();
    assert_eq!(running.startup().rebuilt, ["bank.balances"]);
    running.wait_live().await.unwrap();
    running.shutdown().await;
    assert_eq!(all_views::<BalancesV2>(&views).await, expected_balances(&recorded));
    let balances: Vec<_> = views
        .generations()
        .await
        .unwrap()
        .into_iter()
        .filter(|g| g.projection == "bank.balances")
        .map(|g| (g.generation, g.status))
        .collect();
    assert_eq!(balances, [(2, GenerationStatus::Live)]);
    let totals = ViewReader::new(views).get::<BankTotals>("all").await.unwrap().unwrap();
    assert_eq!(totals.events, recorded.len() as u64);
}

/// Live events that exactly fill a batch and are followed by silence are
/// flushed anyway: the engine flushes whenever nothing more is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_followed_by_silence_becomes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Balances).config(EngineConfig {
        batch_events: 2,
        ..EngineConfig::default()
    });
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    let stream = StreamName::new("account-a").unwrap();
    let both = [opened("a", "Ann"), deposited("a", 5)]
        .iter()
        .map(|e| e.to_new_event(Metadata::now()).unwrap())
        .collect();
    let appended = events.append(&stream, ExpectedVersion::NoStream, both).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        running.wait_for_position(appended.last_position),
    )
    .await
    .expect("the batch was never flushed")
    .unwrap();
    let balance = ViewReader::new(views).get::<Balances>("a").await.unwrap().unwrap();
    assert_eq!(balance.balance, 5);
    running.shutdown().await;
}

/// Names every event's account twice: the view must count it once.
struct Twice;

#[treaty::projection]
impl Projection for Twice {
    const NAME: &'static str = "bank.twice";
    type Event = AccountEvent;
    type View = Totals;

    fn keys(&self, event: &AccountEvent) -> Vec<String> {
        vec![event.id().to_string(), event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Totals>, _: &AccountEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Totals::default).events += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_named_twice_updates_its_view_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = view_store(&dir, "views.db");
    append_all(&events, &[opened("a", "Ann"), deposited("a", 1)]).await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(Twice);
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    running.shutdown().await;
    let view = ViewReader::new(views).get::<Twice>("a").await.unwrap().unwrap();
    assert_eq!(view.events, 2);
}
