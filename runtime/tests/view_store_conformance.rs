//! The view store conformance suite: the same tests, with the same
//! assertions, run against every view store backend. A backend is added
//! with one line at the bottom of this file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use treaty_runtime::projection::{
    Generation, GenerationDetails, GenerationStatus, Lease, SqliteViewStore, ViewChange, ViewError, ViewStore,
};
use treaty_runtime::Timestamp;

const P: &str = "orders.by_customer";
const Q: &str = "orders.by_day";
const FINGERPRINT: &str = "0123456789abcdef0123456789abcdef";

fn put(key: &str, json: &str) -> ViewChange {
    ViewChange {
        key: key.to_string(),
        value: Some(json.as_bytes().to_vec()),
    }
}

fn delete(key: &str) -> ViewChange {
    ViewChange {
        key: key.to_string(),
        value: None,
    }
}

fn keys(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// Views as text, sorted by key: `load` returns them in any order.
fn sorted(views: Vec<(String, Vec<u8>)>) -> Vec<(String, String)> {
    let mut views: Vec<(String, String)> = views
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
        .collect();
    views.sort();
    views
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

async fn get(store: &impl ViewStore, projection: &str, key: &str) -> Option<String> {
    store
        .get(projection, key)
        .await
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap())
}

async fn list(store: &impl ViewStore, projection: &str, after: Option<&str>, limit: usize) -> Vec<(String, String)> {
    store
        .list(projection, after, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v).unwrap()))
        .collect()
}

/// The recorded generation, if any.
async fn generation(store: &impl ViewStore, projection: &str, generation: u64) -> Option<Generation> {
    store
        .generations()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.projection == projection && g.generation == generation)
}

/// Builds a generation holding `changes` and makes it live.
async fn live(store: &impl ViewStore, projection: &str, number: u64, changes: Vec<ViewChange>) {
    store.begin_generation(projection, number, FINGERPRINT).await.unwrap();
    store.commit(projection, number, 0, 1, changes).await.unwrap();
    store.promote(projection, number).await.unwrap();
}

pub async fn begin_generation_records_an_empty_building_generation(store: impl ViewStore) {
    let before = Timestamp::now().as_millisecond();
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!(recorded.fingerprint, FINGERPRINT);
    assert_eq!(recorded.checkpoint, 0);
    assert_eq!(recorded.status, GenerationStatus::Building);
    let at = recorded.updated_at.as_millisecond();
    assert!(
        at >= before - 1000 && at <= Timestamp::now().as_millisecond() + 1000,
        "{at}"
    );
    assert!(store.load(P, 1, keys(&["a"])).await.unwrap().is_empty());

    // The same number again is refused, whatever the fingerprint.
    for fingerprint in [FINGERPRINT, "ffffffffffffffffffffffffffffffff"] {
        let again = store.begin_generation(P, 1, fingerprint).await;
        assert!(
            matches!(&again, Err(ViewError::WrongGeneration { projection, generation: 1, .. }) if projection == P),
            "{again:?}"
        );
    }
    assert_eq!(
        store.begin_generation(P, 1, FINGERPRINT).await.unwrap_err().to_string(),
        "projection orders.by_customer generation 1 exists already"
    );
    assert_eq!(generation(&store, P, 1).await.unwrap().fingerprint, FINGERPRINT);

    // Another number, or the same number of another projection, is new.
    store.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    store.begin_generation(Q, 1, FINGERPRINT).await.unwrap();
    assert_eq!(store.generations().await.unwrap().len(), 3);
}

pub async fn commit_moves_the_checkpoint_and_writes_and_deletes(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store
        .commit(
            P,
            1,
            0,
            5,
            vec![put("a", r#"{"n":1}"#), put("b", r#"{"n":2}"#), put("c", r#"{"n":3}"#)],
        )
        .await
        .unwrap();
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 5);
    assert_eq!(
        sorted(store.load(P, 1, keys(&["a", "b", "c"])).await.unwrap()),
        pairs(&[("a", r#"{"n":1}"#), ("b", r#"{"n":2}"#), ("c", r#"{"n":3}"#)])
    );

    // Overwrite one, delete one, delete one that never existed.
    store
        .commit(P, 1, 5, 9, vec![put("a", r#"{"n":10}"#), delete("b"), delete("never")])
        .await
        .unwrap();
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 9);
    assert_eq!(
        sorted(store.load(P, 1, keys(&["a", "b", "c", "never"])).await.unwrap()),
        pairs(&[("a", r#"{"n":10}"#), ("c", r#"{"n":3}"#)])
    );

    // A commit without changes still moves the checkpoint.
    store.commit(P, 1, 9, 12, Vec::new()).await.unwrap();
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 12);
    assert_eq!(store.load(P, 1, keys(&["a", "c"])).await.unwrap().len(), 2);
}

pub async fn a_commit_from_a_moved_checkpoint_writes_nothing(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store.commit(P, 1, 0, 5, vec![put("a", "1")]).await.unwrap();
    let moved = store
        .commit(P, 1, 3, 8, vec![put("a", "2"), put("b", "2"), delete("a")])
        .await;
    assert!(
        matches!(
            &moved,
            Err(ViewError::CheckpointMoved { projection, generation: 1, expected: 3, found: Some(5) }) if projection == P
        ),
        "{moved:?}"
    );
    assert_eq!(
        moved.unwrap_err().to_string(),
        "projection orders.by_customer generation 1 is at checkpoint 5, not 3: another engine is writing these \
         views without holding the projection's lease, or the generation was dropped"
    );
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 5);
    assert_eq!(
        sorted(store.load(P, 1, keys(&["a", "b"])).await.unwrap()),
        pairs(&[("a", "1")])
    );
    // The writer that is at the checkpoint carries on.
    store.commit(P, 1, 5, 6, vec![put("b", "3")]).await.unwrap();
    assert_eq!(store.load(P, 1, keys(&["a", "b"])).await.unwrap().len(), 2);
}

pub async fn a_commit_to_a_dropped_generation_finds_it_gone(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store.commit(P, 1, 0, 5, vec![put("a", "1")]).await.unwrap();
    store.drop_generation(P, 1).await.unwrap();
    let gone = store.commit(P, 1, 5, 6, vec![put("b", "2")]).await;
    assert!(
        matches!(
            &gone,
            Err(ViewError::CheckpointMoved {
                generation: 1,
                expected: 5,
                found: None,
                ..
            })
        ),
        "{gone:?}"
    );
    assert!(gone
        .unwrap_err()
        .to_string()
        .contains("is at checkpoint none (it no longer exists), not 5"));
    // A generation that never existed is gone too.
    let never = store.commit(Q, 7, 0, 1, vec![put("a", "1")]).await;
    assert!(
        matches!(
            &never,
            Err(ViewError::CheckpointMoved {
                generation: 7,
                expected: 0,
                found: None,
                ..
            })
        ),
        "{never:?}"
    );
    assert!(store.load(P, 1, keys(&["a", "b"])).await.unwrap().is_empty());
    assert!(store.load(Q, 7, keys(&["a"])).await.unwrap().is_empty());
    assert!(store.generations().await.unwrap().is_empty());
}

pub async fn later_changes_of_a_key_win_within_a_commit(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store.commit(P, 1, 0, 1, vec![put("c", "old")]).await.unwrap();
    store
        .commit(
            P,
            1,
            1,
            2,
            vec![
                put("a", "1"),
                put("a", "2"),
                put("b", "1"),
                delete("b"),
                delete("c"),
                put("c", "new"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        sorted(store.load(P, 1, keys(&["a", "b", "c"])).await.unwrap()),
        pairs(&[("a", "2"), ("c", "new")])
    );
}

pub async fn load_sees_only_existing_keys_of_its_generation(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store
        .commit(P, 1, 0, 1, vec![put("a", "p1a"), put("b", "p1b")])
        .await
        .unwrap();
    store.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    store.commit(P, 2, 0, 1, vec![put("a", "p2a")]).await.unwrap();
    store.begin_generation(Q, 1, FINGERPRINT).await.unwrap();
    store
        .commit(Q, 1, 0, 1, vec![put("b", "q1b"), put("c", "q1c")])
        .await
        .unwrap();

    let wanted = keys(&["a", "b", "c", "missing"]);
    assert_eq!(
        sorted(store.load(P, 1, wanted.clone()).await.unwrap()),
        pairs(&[("a", "p1a"), ("b", "p1b")])
    );
    assert_eq!(
        sorted(store.load(P, 2, wanted.clone()).await.unwrap()),
        pairs(&[("a", "p2a")])
    );
    assert_eq!(
        sorted(store.load(Q, 1, wanted.clone()).await.unwrap()),
        pairs(&[("b", "q1b"), ("c", "q1c")])
    );
    assert!(store.load(Q, 2, wanted).await.unwrap().is_empty());
    assert!(store.load(P, 1, Vec::new()).await.unwrap().is_empty());
    // A key asked for twice is still one view.
    assert_eq!(
        sorted(store.load(P, 1, keys(&["a", "a"])).await.unwrap()),
        pairs(&[("a", "p1a")])
    );
    // Building generations are loadable: the engine builds them this way.
    assert_eq!(
        generation(&store, P, 1).await.unwrap().status,
        GenerationStatus::Building
    );
}

pub async fn large_batches_commit_and_load_in_one_call(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    let all: Vec<String> = (0..2500).map(|i| format!("key-{i:05}")).collect();
    let changes = all.iter().map(|k| put(k, &format!("{{\"k\":\"{k}\"}}"))).collect();
    store.commit(P, 1, 0, 2500, changes).await.unwrap();
    let loaded = store.load(P, 1, all.clone()).await.unwrap();
    assert_eq!(loaded.len(), 2500);
    for (key, value) in &loaded {
        assert_eq!(value, format!("{{\"k\":\"{key}\"}}").as_bytes());
    }
    // Delete every other one in one commit.
    let deletes = all.iter().step_by(2).map(|k| delete(k)).collect();
    store.commit(P, 1, 2500, 2501, deletes).await.unwrap();
    assert_eq!(store.load(P, 1, all).await.unwrap().len(), 1250);
}

pub async fn reads_see_only_the_live_generation(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    store
        .commit(P, 1, 0, 3, vec![put("a", "g1a"), put("b", "g1b")])
        .await
        .unwrap();
    // Building: invisible.
    assert_eq!(get(&store, P, "a").await, None);
    assert!(list(&store, P, None, 10).await.is_empty());

    assert_eq!(store.promote(P, 1).await.unwrap(), None, "nothing was live before");
    assert_eq!(get(&store, P, "a").await.as_deref(), Some("g1a"));
    assert_eq!(list(&store, P, None, 10).await, pairs(&[("a", "g1a"), ("b", "g1b")]));

    // A rebuild in progress is invisible; the live generation keeps
    // serving reads and following events.
    store.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    store
        .commit(P, 2, 0, 2, vec![put("a", "g2a"), put("c", "g2c")])
        .await
        .unwrap();
    store.commit(P, 1, 3, 4, vec![put("b", "g1b'")]).await.unwrap();
    assert_eq!(get(&store, P, "c").await, None);
    assert_eq!(list(&store, P, None, 10).await, pairs(&[("a", "g1a"), ("b", "g1b'")]));
    let statuses = |generations: Vec<Generation>| -> Vec<(String, u64, GenerationStatus)> {
        let mut statuses: Vec<_> = generations
            .into_iter()
            .map(|g| (g.projection, g.generation, g.status))
            .collect();
        statuses.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        statuses
    };
    assert_eq!(
        statuses(store.generations().await.unwrap()),
        [
            (P.to_string(), 1, GenerationStatus::Live),
            (P.to_string(), 2, GenerationStatus::Building)
        ]
    );

    // Promotion retires the old generation and switches reads.
    assert_eq!(store.promote(P, 2).await.unwrap(), Some(1));
    assert_eq!(
        statuses(store.generations().await.unwrap()),
        [
            (P.to_string(), 1, GenerationStatus::Retired),
            (P.to_string(), 2, GenerationStatus::Live)
        ]
    );
    assert_eq!(get(&store, P, "a").await.as_deref(), Some("g2a"));
    assert_eq!(get(&store, P, "b").await, None);
    assert_eq!(list(&store, P, None, 10).await, pairs(&[("a", "g2a"), ("c", "g2c")]));
    // The retired generation's views stay loadable until dropped.
    assert_eq!(store.load(P, 1, keys(&["b"])).await.unwrap().len(), 1);
    // Other projections are unaffected.
    assert_eq!(get(&store, Q, "a").await, None);
    assert!(list(&store, Q, None, 10).await.is_empty());
}

pub async fn promotion_switches_reads_atomically(store: impl ViewStore) {
    let old: Vec<ViewChange> = (0..50).map(|i| put(&format!("k{i:02}"), "old")).collect();
    live(&store, P, 1, old).await;
    store.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    let new: Vec<ViewChange> = (0..50).map(|i| put(&format!("k{i:02}"), "new")).collect();
    store.commit(P, 2, 0, 1, new).await.unwrap();

    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                // Every read sees one generation whole: never a missing
                // view, never a page mixing both.
                let one = get(&store, P, "k07").await;
                let page = list(&store, P, None, 100).await;
                assert!(one.is_some(), "a read between the generations found nothing");
                assert_eq!(page.len(), 50);
                let first = &page[0].1;
                assert!(page.iter().all(|(_, v)| v == first), "a page mixed generations");
                if one.as_deref() == Some("new") && first == "new" {
                    return;
                }
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    assert_eq!(store.promote(P, 2).await.unwrap(), Some(1));
    tokio::time::timeout(std::time::Duration::from_secs(30), reader)
        .await
        .expect("the reader saw the promotion")
        .unwrap();
}

pub async fn promote_requires_a_building_generation(store: impl ViewStore) {
    let is_wrong = |result: Result<Option<u64>, ViewError>, wanted: u64| {
        assert!(
            matches!(&result, Err(ViewError::WrongGeneration { generation, .. }) if *generation == wanted),
            "{result:?}"
        );
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("projection {P} generation {wanted} is not being built")
        );
    };
    is_wrong(store.promote(P, 1).await, 1);
    live(&store, P, 1, vec![put("a", "1")]).await;
    is_wrong(store.promote(P, 1).await, 1);
    live(&store, P, 2, vec![put("a", "2")]).await;
    is_wrong(store.promote(P, 1).await, 1);
    is_wrong(store.promote(P, 2).await, 2);
    // A failed promotion changed nothing.
    assert_eq!(
        generation(&store, P, 1).await.unwrap().status,
        GenerationStatus::Retired
    );
    assert_eq!(generation(&store, P, 2).await.unwrap().status, GenerationStatus::Live);
    assert_eq!(get(&store, P, "a").await.as_deref(), Some("2"));
}

pub async fn drop_generation_removes_views_and_record_and_is_idempotent(store: impl ViewStore) {
    live(&store, P, 1, vec![put("a", "1"), put("b", "1")]).await;
    store.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    store.commit(P, 2, 0, 1, vec![put("a", "2")]).await.unwrap();
    live(&store, Q, 1, vec![put("a", "q")]).await;

    store.drop_generation(P, 1).await.unwrap();
    assert_eq!(generation(&store, P, 1).await, None);
    assert!(store.load(P, 1, keys(&["a", "b"])).await.unwrap().is_empty());
    assert_eq!(get(&store, P, "a").await, None, "no live generation is left");
    // Again, and one that never existed: not errors.
    store.drop_generation(P, 1).await.unwrap();
    store.drop_generation(P, 99).await.unwrap();
    store.drop_generation("never.existed", 1).await.unwrap();
    // The others are untouched.
    assert_eq!(
        sorted(store.load(P, 2, keys(&["a"])).await.unwrap()),
        pairs(&[("a", "2")])
    );
    assert_eq!(get(&store, Q, "a").await.as_deref(), Some("q"));
    assert_eq!(store.generations().await.unwrap().len(), 2);
    // The number can be used again, and starts empty.
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    assert!(store.load(P, 1, keys(&["a", "b"])).await.unwrap().is_empty());
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 0);
}

pub async fn list_pages_in_key_order(store: impl ViewStore) {
    // Byte order of UTF-8, which is code point order: upper case before
    // lower case, digits compared as text, accents after ASCII.
    let mut all = vec![
        "b", "a", "B", "ab", "a b", "é", "z", "10", "9", "Z", "e", "ä", "~", "a-b", "a_b", "日本", "🦀",
    ];
    let changes = all.iter().map(|k| put(k, &format!("\"{k}\""))).collect();
    live(&store, P, 1, changes).await;
    all.sort_unstable();
    let expected: Vec<(String, String)> = all.iter().map(|k| (k.to_string(), format!("\"{k}\""))).collect();

    assert_eq!(list(&store, P, None, 100).await, expected);
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = list(&store, P, after.as_deref(), 3).await;
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().0.clone());
        paged.extend(page);
    }
    assert_eq!(paged, expected);

    assert!(list(&store, P, None, 0).await.is_empty());
    assert_eq!(list(&store, P, None, 2).await, expected[..2]);
    // `after` need not be a stored key.
    assert_eq!(
        list(&store, P, Some("aa"), 2).await,
        pairs(&[("ab", "\"ab\""), ("b", "\"b\"")])
    );
    assert!(list(&store, P, Some("🦀"), 10).await.is_empty());
    assert!(list(&store, Q, None, 10).await.is_empty());
}

pub async fn unicode_and_quotes_round_trip_byte_exactly(store: impl ViewStore) {
    let views = [
        ("O'Brien", r#"{"name":"O'Brien"}"#),
        ("say \"hi\"", r#"{"said":"\"hi\"","n":1.50}"#),
        ("日本語のキー", r#"{"city":"東京","emoji":"🦀"}"#),
        ("back\\slash; DROP TABLE x; --", r#"{"path":"C:\\temp","pct":"100%_"}"#),
        (
            "tab\tand\nnewline",
            "{ \"spaced\" :  [1 ,2] ,\n \"escaped\":\"\\u00e9\\n\" }",
        ),
        ("", r#"{"empty_key":true}"#),
    ];
    let changes = views.iter().map(|(k, v)| put(k, v)).collect();
    live(&store, P, 1, changes).await;
    for (key, value) in views {
        assert_eq!(get(&store, P, key).await.as_deref(), Some(value), "{key:?}");
    }
    let all: Vec<String> = views.iter().map(|(k, _)| k.to_string()).collect();
    let mut expected = pairs(&views);
    expected.sort();
    assert_eq!(sorted(store.load(P, 1, all).await.unwrap()), expected);
    assert_eq!(list(&store, P, None, 100).await, expected);
}

pub async fn generations_lists_every_generation_with_its_status(store: impl ViewStore) {
    assert!(store.generations().await.unwrap().is_empty());
    live(&store, P, 1, vec![put("a", "1")]).await;
    live(&store, P, 2, vec![put("a", "2")]).await;
    store
        .begin_generation(P, 3, "33333333333333333333333333333333")
        .await
        .unwrap();
    store.commit(P, 3, 0, 42, Vec::new()).await.unwrap();
    live(&store, Q, 5, Vec::new()).await;

    let mut found: Vec<(String, u64, String, u64, GenerationStatus)> = store
        .generations()
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.projection, g.generation, g.fingerprint, g.checkpoint, g.status))
        .collect();
    found.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    assert_eq!(
        found,
        [
            (P.to_string(), 1, FINGERPRINT.to_string(), 1, GenerationStatus::Retired),
            (P.to_string(), 2, FINGERPRINT.to_string(), 1, GenerationStatus::Live),
            (
                P.to_string(),
                3,
                "33333333333333333333333333333333".to_string(),
                42,
                GenerationStatus::Building
            ),
            (Q.to_string(), 5, FINGERPRINT.to_string(), 1, GenerationStatus::Live),
        ]
    );
}

const LONG: Duration = Duration::from_secs(600);

fn holder_and_token(lease: &Option<Lease>) -> Option<(&str, u64)> {
    lease.as_ref().map(|lease| (lease.holder.as_str(), lease.token))
}

pub async fn leases_give_a_projection_to_one_holder_at_a_time(store: impl ViewStore) {
    assert!(store.leases().await.unwrap().is_empty());
    let before = Timestamp::now();
    let a = store.acquire(P, "a", LONG).await.unwrap();
    assert_eq!(holder_and_token(&a), Some(("a", 1)));
    let a = a.unwrap();
    assert_eq!(a.projection, P);
    assert!(a.expires_at > before, "{a:?}");
    assert_eq!(holder_and_token(&store.acquire(P, "b", LONG).await.unwrap()), None);
    // Each projection has its own lease.
    assert_eq!(
        holder_and_token(&store.acquire(Q, "b", LONG).await.unwrap()),
        Some(("b", 1))
    );
    // The same name takes it back at once (a restarted instance), with
    // the next token: its earlier self is fenced out.
    let again = store.acquire(P, "a", LONG).await.unwrap().unwrap();
    assert_eq!(again.token, 2);
    assert_eq!(store.renew(&a, LONG).await.unwrap(), None);
    let renewed = store.renew(&again, LONG).await.unwrap().unwrap();
    assert_eq!((renewed.token, renewed.holder.as_str()), (2, "a"));
    assert!(renewed.expires_at >= again.expires_at);
    // A stale release changes nothing; a real one frees it at once.
    store.release(&a).await.unwrap();
    assert_eq!(holder_and_token(&store.acquire(P, "b", LONG).await.unwrap()), None);
    store.release(&renewed).await.unwrap();
    let b = store.acquire(P, "b", LONG).await.unwrap().unwrap();
    assert_eq!(b.token, 3);
    let listed: Vec<_> = store
        .leases()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.projection, l.holder, l.token))
        .collect();
    assert_eq!(
        listed,
        [(P.to_string(), "b".to_string(), 3), (Q.to_string(), "b".to_string(), 1)]
    );
}

/// A holder paused past its lease, then woken: another instance took the
/// projection over, and every write of the paused one is refused.
pub async fn a_holder_that_lost_its_lease_writes_nothing(store: impl ViewStore) {
    let short = Duration::from_millis(300);
    let a = store.acquire(P, "a", short).await.unwrap().unwrap();
    let by_a = store.fenced(&a);
    by_a.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    by_a.commit(P, 1, 0, 1, vec![put("x", "1")]).await.unwrap();
    by_a.begin_generation(P, 2, FINGERPRINT).await.unwrap();
    assert!(store.acquire(P, "b", LONG).await.unwrap().is_none());
    tokio::time::sleep(short + Duration::from_millis(200)).await;
    let b = store.acquire(P, "b", LONG).await.unwrap().unwrap();
    assert_eq!(b.token, 2);

    let refused = by_a.commit(P, 1, 1, 2, vec![put("x", "2")]).await;
    assert!(
        matches!(
            &refused,
            Err(ViewError::LeaseLost { projection, token: 1, current: Some(2), holder: Some(holder) })
                if projection == P && holder == "b"
        ),
        "{refused:?}"
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "projection orders.by_customer: the lease with token 1 was taken over (b holds token 2); this \
         instance stopped writing it and writes nothing"
    );
    assert_eq!(
        sorted(store.load(P, 1, keys(&["x"])).await.unwrap()),
        pairs(&[("x", "1")])
    );
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 1);
    let lost = |r: &Result<_, ViewError>| matches!(r, Err(ViewError::LeaseLost { .. }));
    assert!(lost(&by_a.promote(P, 2).await.map(|_| ())));
    assert!(lost(&by_a.drop_generation(P, 2).await));
    assert!(lost(&by_a.begin_generation(P, 3, FINGERPRINT).await));
    assert_eq!(store.renew(&a, LONG).await.unwrap(), None);
    assert_eq!(
        generation(&store, P, 2).await.unwrap().status,
        GenerationStatus::Building
    );
    assert!(generation(&store, P, 3).await.is_none());
    // A handle fenced on P does not check the leases of other projections.
    by_a.begin_generation(Q, 1, FINGERPRINT).await.unwrap();

    let by_b = store.fenced(&b);
    by_b.commit(P, 1, 1, 2, vec![put("x", "2")]).await.unwrap();
    by_b.promote(P, 1).await.unwrap();
    assert_eq!(get(&store, P, "x").await.as_deref(), Some("2"));
}

pub async fn racing_takeovers_of_an_expired_lease_have_one_winner(store: impl ViewStore) {
    let first = store
        .acquire(P, "first", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.acquire(P, &format!("racer-{i}"), LONG).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        winners.extend(racer.await.unwrap());
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(winners[0].token, first.token + 1);
}

pub async fn concurrent_commits_from_one_checkpoint_have_one_winner(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    let writers: Vec<_> = (1..=8u64)
        .map(|to| {
            let store = store.clone();
            tokio::spawn(async move {
                let changes = vec![put("shared", &to.to_string()), put(&format!("only-{to}"), "1")];
                (to, store.commit(P, 1, 0, to, changes).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for writer in writers {
        match writer.await.unwrap() {
            (to, Ok(())) => winners.push(to),
            (_, Err(ViewError::CheckpointMoved { found, .. })) => losers.push(found),
            (_, Err(other)) => panic!("{other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let winner = winners[0];
    assert!(losers.iter().all(|found| *found == Some(winner)), "{losers:?}");
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, winner);
    let all: Vec<String> = std::iter::once("shared".to_string())
        .chain((1..=8).map(|i| format!("only-{i}")))
        .collect();
    assert_eq!(
        sorted(store.load(P, 1, all).await.unwrap()),
        [
            ("only-".to_string() + &winner.to_string(), "1".to_string()),
            ("shared".to_string(), winner.to_string())
        ]
    );
}

fn items(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub async fn describe_records_item_lists_and_rates(store: impl ViewStore) {
    store.begin_generation(P, 1, FINGERPRINT).await.unwrap();
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!((recorded.code, recorded.events_per_second), (None, None));
    let code = items(&[
        ("fn pricing::line_total", "3f2a"),
        ("crate serde 1.0.219", "\"quoted\" é"),
    ]);
    let details = GenerationDetails {
        code: Some(code.clone()),
        events_per_second: None,
    };
    store.describe(P, 1, details).await.unwrap();
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!(
        (recorded.code.as_ref(), recorded.events_per_second),
        (Some(&code), None)
    );
    // `None` keeps what is stored.
    let details = GenerationDetails {
        code: None,
        events_per_second: Some(250_000),
    };
    store.describe(P, 1, details).await.unwrap();
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!(
        (recorded.code.as_ref(), recorded.events_per_second),
        (Some(&code), Some(250_000))
    );
    // Describing leaves views and checkpoint alone, and a generation that
    // does not exist is no error.
    store.commit(P, 1, 0, 7, vec![put("a", "1")]).await.unwrap();
    store.describe(P, 1, GenerationDetails::default()).await.unwrap();
    store.describe(P, 9, GenerationDetails::default()).await.unwrap();
    assert_eq!(generation(&store, P, 1).await.unwrap().checkpoint, 7);
    assert_eq!(generation(&store, P, 9).await, None);
}

/// A store written by the first layout (no item lists, no rates) is read
/// as it is, and migrated by the next open.
pub async fn a_store_of_the_first_layout_is_read_and_migrated(store: impl ViewStore, raw: Raw) {
    live(&store, P, 1, vec![put("a", "1")]).await;
    raw.drop_added_columns().await;
    // Nor had it leases.
    assert!(store.leases().await.unwrap().is_empty());
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!(
        (recorded.checkpoint, recorded.code, recorded.events_per_second),
        (1, None, None)
    );
    assert_eq!(get(&store, P, "a").await.as_deref(), Some("1"));
    raw.reopen_and_describe(P, 1).await;
    let recorded = generation(&store, P, 1).await.unwrap();
    assert_eq!(recorded.events_per_second, Some(42));
    assert_eq!(recorded.code, Some(items(&[("fn f", "1")])));
    assert!(store.acquire(P, "a", LONG).await.unwrap().is_some());
}

pub async fn an_unknown_status_is_an_invalid_row(store: impl ViewStore, raw: Raw) {
    live(&store, P, 1, vec![put("a", "1")]).await;
    raw.insert_generation(Q, 1, "paused").await;
    let invalid = store.generations().await;
    let Err(ViewError::InvalidRow { reason, .. }) = &invalid else {
        panic!("{invalid:?}")
    };
    assert!(reason.contains("unknown status \"paused\""), "{reason}");
    assert!(invalid.unwrap_err().to_string().starts_with("the view store at "));
    // Reads of other projections do not look at that row.
    assert_eq!(get(&store, P, "a").await.as_deref(), Some("1"));
}

/// Direct access to a backend's tables, to plant rows the store itself
/// never writes.
pub enum Raw {
    /// The SQLite database file.
    Sqlite(PathBuf),
    /// The PostgreSQL server and the test's schema.
    #[cfg(feature = "postgres")]
    Postgres { url: String, schema: String },
}

impl Raw {
    /// Turns the tables back into the first layout's, without leases.
    async fn drop_added_columns(&self) {
        let statements = [
            "ALTER TABLE {table} DROP COLUMN code",
            "ALTER TABLE {table} DROP COLUMN events_per_second",
        ];
        match self {
            Raw::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                for statement in statements {
                    conn.execute_batch(&statement.replace("{table}", "treaty_projections"))
                        .unwrap();
                }
                conn.execute_batch("DROP TABLE treaty_view_leases").unwrap();
            }
            #[cfg(feature = "postgres")]
            Raw::Postgres { url, schema } => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(connection);
                for statement in statements {
                    let table = format!("{schema}.treaty_projections");
                    client
                        .batch_execute(&statement.replace("{table}", &table))
                        .await
                        .unwrap();
                }
                client
                    .batch_execute(&format!("DROP TABLE {schema}.treaty_view_leases"))
                    .await
                    .unwrap();
            }
        }
    }

    /// Opens the store again, which migrates it, and describes a
    /// generation through the new store.
    async fn reopen_and_describe(&self, projection: &str, generation: u64) {
        let details = GenerationDetails {
            code: Some(items(&[("fn f", "1")])),
            events_per_second: Some(42),
        };
        match self {
            Raw::Sqlite(path) => {
                let store = SqliteViewStore::open(path).unwrap();
                store.describe(projection, generation, details).await.unwrap();
            }
            #[cfg(feature = "postgres")]
            Raw::Postgres { url, schema } => {
                let options = treaty_runtime::storage::PostgresOptions {
                    schema: schema.clone(),
                    pool_size: 1,
                };
                let store = treaty_runtime::projection::PostgresViewStore::open_with(url, options)
                    .await
                    .unwrap();
                store.describe(projection, generation, details).await.unwrap();
            }
        }
    }

    async fn insert_generation(&self, projection: &str, generation: i64, status: &str) {
        let now = Timestamp::now().as_millisecond();
        match self {
            Raw::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.execute(
                    "INSERT INTO treaty_projections (name, generation, fingerprint, checkpoint, status, updated_at) \
                     VALUES (?1, ?2, ?3, 0, ?4, ?5)",
                    rusqlite::params![projection, generation, FINGERPRINT, status, now],
                )
                .unwrap();
            }
            #[cfg(feature = "postgres")]
            Raw::Postgres { url, schema } => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(connection);
                client
                    .execute(
                        &format!(
                            "INSERT INTO {schema}.treaty_projections \
                             (name, generation, fingerprint, checkpoint, status, updated_at) \
                             VALUES ($1, $2, $3, 0, $4, $5)"
                        ),
                        &[&projection, &generation, &FINGERPRINT, &status, &now],
                    )
                    .await
                    .unwrap();
            }
        }
    }
}

/// A fresh, empty store, and raw access to its tables.
pub struct Fresh<S> {
    store: S,
    raw: Raw,
}

/// Declares every conformance test for one backend. `$make` is an async
/// block that returns a fresh, empty store, or `None` to skip.
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        conformance!(@cases $backend, $make;
            begin_generation_records_an_empty_building_generation,
            commit_moves_the_checkpoint_and_writes_and_deletes,
            a_commit_from_a_moved_checkpoint_writes_nothing,
            a_commit_to_a_dropped_generation_finds_it_gone,
            later_changes_of_a_key_win_within_a_commit,
            load_sees_only_existing_keys_of_its_generation,
            large_batches_commit_and_load_in_one_call,
            reads_see_only_the_live_generation,
            promotion_switches_reads_atomically,
            promote_requires_a_building_generation,
            drop_generation_removes_views_and_record_and_is_idempotent,
            list_pages_in_key_order,
            unicode_and_quotes_round_trip_byte_exactly,
            generations_lists_every_generation_with_its_status,
            concurrent_commits_from_one_checkpoint_have_one_winner,
            describe_records_item_lists_and_rates,
            leases_give_a_projection_to_one_holder_at_a_time,
            a_holder_that_lost_its_lease_writes_nothing,
            racing_takeovers_of_an_expired_lease_have_one_winner;
            raw: an_unknown_status_is_an_invalid_row,
            a_store_of_the_first_layout_is_read_and_migrated
        );
    };
    (@cases $backend:ident, $make:expr; $($case:ident),*; raw: $($raw_case:ident),*) => {
        mod $backend {
            use super::*;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(fresh) = ($make) else { return };
                    super::$case(fresh.store).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw_case() {
                    let Some(fresh) = ($make) else { return };
                    super::$raw_case(fresh.store, fresh.raw).await;
                }
            )*
        }
    };
}

/// A SQLite view store in a directory of its own.
pub fn fresh_sqlite() -> Option<Fresh<SqliteViewStore>> {
    // The directory is leaked on purpose: it must outlive the store, and
    // the OS cleans the temp dir.
    let path = tempfile::tempdir().unwrap().keep().join("views.db");
    Some(Fresh {
        store: SqliteViewStore::open(&path).unwrap(),
        raw: Raw::Sqlite(path),
    })
}

conformance!(sqlite, fresh_sqlite());

/// What only the SQLite backend has: opening a file as it is.
mod sqlite_only {
    use treaty_runtime::storage::{Component, Durability, OpenError};

    use super::*;

    /// The names of the tables in the SQLite file at `path`, and its
    /// journal mode, read through a read-only connection.
    fn file_state(path: &std::path::Path) -> (Vec<String>, String) {
        let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut statement = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        let tables = statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mode = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        (tables, mode)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_an_existing_view_store_names_its_missing_tables_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join("absent.db");
        let error = SqliteViewStore::open_existing(&absent, Durability::Full).unwrap_err();
        assert!(matches!(error, OpenError::Storage { .. }), "{error}");
        assert!(!absent.exists(), "opening created the file");

        // A file in a rollback journal, as `open_with` (WAL) never leaves it.
        let path = dir.path().join("views.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE other (x INTEGER)")
            .unwrap();
        let before = file_state(&path);
        let error = SqliteViewStore::open_existing(&path, Durability::Full).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "no Treaty view store at {}: its `treaty_projections` and `treaty_views` tables are missing \
                 (opening an existing view store creates nothing)",
                path.display()
            )
        );
        assert!(
            matches!(&error, OpenError::Missing { component: Component::ViewStore, found, .. } if found.is_empty()),
            "{error:?}"
        );
        assert_eq!(file_state(&path), before);

        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "CREATE TABLE treaty_projections (name TEXT NOT NULL, generation INTEGER NOT NULL, \
             fingerprint TEXT NOT NULL, checkpoint INTEGER NOT NULL, status TEXT NOT NULL, \
             updated_at INTEGER NOT NULL, PRIMARY KEY (name, generation))",
        )
        .unwrap();
        let error = SqliteViewStore::open_existing(&path, Durability::Full).unwrap_err();
        assert!(
            matches!(&error, OpenError::Missing { missing, found, .. }
                if missing == &["treaty_views"] && found == &["treaty_projections"]),
            "{error:?}"
        );
        raw.execute_batch(
            "CREATE TABLE treaty_views (projection TEXT NOT NULL, generation INTEGER NOT NULL, \
             key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (projection, generation, key)) WITHOUT ROWID",
        )
        .unwrap();
        drop(raw);
        let before = file_state(&path);
        let store = SqliteViewStore::open_existing(&path, Durability::Full).unwrap();
        live(&store, P, 1, vec![put("a", "1")]).await;
        assert_eq!(get(&store, P, "a").await.as_deref(), Some("1"));
        assert_eq!(
            file_state(&path),
            before,
            "opening changed the file's tables or journal mode"
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres_backend {
    use treaty_runtime::projection::PostgresViewStore;
    use treaty_runtime::storage::PostgresOptions;
    use treaty_runtime::store::PostgresConfig;
    use treaty_runtime::Uuid;

    use super::*;

    /// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`.
    /// Locally the tests skip without one; under `CI=true` a missing
    /// server is a failure, because `.ci/run` must have started one.
    pub fn postgres_url() -> Option<String> {
        treaty_testing::server_url("TREATY_TEST_POSTGRES")
    }

    fn fresh_schema() -> String {
        format!("test_views_{}", Uuid::now_v7().simple())
    }

    /// A PostgreSQL view store in a schema of its own, so tests start
    /// empty and run in parallel.
    pub async fn fresh_postgres() -> Option<Fresh<PostgresViewStore>> {
        let url = postgres_url()?;
        let schema = fresh_schema();
        let options = PostgresOptions {
            schema: schema.clone(),
            pool_size: 4,
        };
        Some(Fresh {
            store: PostgresViewStore::open_with(&url, options).await.unwrap(),
            raw: Raw::Postgres { url, schema },
        })
    }

    conformance!(postgres, fresh_postgres().await);

    /// What only the PostgreSQL backend has: opening from many processes.
    /// (The schema-name and password checks every PostgreSQL backend
    /// shares are tested in `runtime/src/storage/postgres.rs`.)
    mod postgres_only {
        use super::*;

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_opens_of_one_schema_all_succeed() {
            let Some(url) = postgres_url() else { return };
            let schema = fresh_schema();
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    let (url, schema) = (url.clone(), schema.clone());
                    tokio::spawn(async move {
                        let options = PostgresOptions { schema, pool_size: 2 };
                        PostgresViewStore::open_with(&url, options).await
                    })
                })
                .collect();
            let mut stores = Vec::new();
            for open in opens {
                stores.push(open.await.unwrap().unwrap());
            }
            // They share the tables.
            live(&stores[0], P, 1, vec![put("a", "1")]).await;
            assert_eq!(get(&stores[5], P, "a").await.as_deref(), Some("1"));
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn opening_an_existing_view_store_names_its_missing_tables_and_creates_nothing() {
            use treaty_runtime::storage::{Component, OpenError};

            let Some(url) = postgres_url() else { return };
            let schema = fresh_schema();
            let options = PostgresOptions {
                schema: schema.clone(),
                pool_size: 2,
            };
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let tables = || async {
                client
                    .query(
                        "SELECT tablename::TEXT FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY tablename",
                        &[&schema],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|row| row.get(0))
                    .collect::<Vec<String>>()
            };
            let error = PostgresViewStore::open_existing(&url, options.clone())
                .await
                .unwrap_err();
            assert!(
                matches!(&error, OpenError::Missing { component: Component::ViewStore, missing, found, .. }
                    if missing == &["treaty_projections", "treaty_views"] && found.is_empty()),
                "{error:?}"
            );
            assert!(error.to_string().starts_with("no Treaty view store at "), "{error}");
            assert!(tables().await.is_empty(), "opening created a table");

            let created = PostgresViewStore::open_with(&url, options.clone()).await.unwrap();
            live(&created, P, 1, vec![put("a", "1")]).await;
            let existing = PostgresViewStore::open_existing(&url, options.clone()).await.unwrap();
            assert_eq!(get(&existing, P, "a").await.as_deref(), Some("1"));

            client
                .batch_execute(&format!("DROP TABLE {schema}.treaty_views"))
                .await
                .unwrap();
            let error = PostgresViewStore::open_existing(&url, options).await.unwrap_err();
            assert!(
                matches!(&error, OpenError::Missing { missing, found, .. }
                    if missing == &["treaty_views"] && found == &["treaty_projections"]),
                "{error:?}"
            );
            assert_eq!(tables().await, ["treaty_projections", "treaty_view_leases"]);
            client
                .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
                .await
                .unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn views_sit_beside_the_event_store_in_one_schema() {
            let Some(url) = postgres_url() else { return };
            let options = PostgresOptions {
                schema: fresh_schema(),
                pool_size: 2,
            };
            let config = PostgresConfig {
                connection: options.clone(),
                ..PostgresConfig::default()
            };
            let (events, views) = tokio::join!(
                treaty_runtime::store::PostgresStore::open_with(&url, config),
                PostgresViewStore::open_with(&url, options)
            );
            events.unwrap();
            live(&views.unwrap(), P, 1, vec![put("a", "1")]).await;
        }
    }
}
