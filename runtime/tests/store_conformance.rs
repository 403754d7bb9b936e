//! The conformance suite: the same tests, with the same assertions, run
//! against every event store backend. A backend is added with one line at
//! the bottom of this file.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use treaty_runtime::store::*;
use treaty_runtime::Uuid;

fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

fn event(n: u64) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        contract: "test.Happened".into(),
        contract_version: 1,
        fingerprint: "f".repeat(32),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
        metadata: Metadata::now(),
        schema: None,
    }
}

fn events(range: std::ops::Range<u64>) -> Vec<NewEvent> {
    range.map(event).collect()
}

async fn collect(stream: EventStream) -> Vec<RecordedEvent> {
    stream.try_collect().await.unwrap()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|e| e.version).collect()
}

pub async fn first_append_creates_the_stream_at_version_one(store: impl EventStore) {
    let s = stream("order-1");
    assert_eq!(store.stream_version(&s).await.unwrap(), None);
    let result = store.append(&s, ExpectedVersion::NoStream, events(0..3)).await.unwrap();
    assert_eq!(
        result,
        AppendResult {
            stream_version: 3,
            first_position: 1,
            last_position: 3
        }
    );
    assert_eq!(store.stream_version(&s).await.unwrap(), Some(3));
    assert_eq!(store.head().await.unwrap(), 3);
    let read = collect(store.read_stream(&s, 1, Direction::Forward)).await;
    assert_eq!(versions(&read), [1, 2, 3]);
    assert_eq!(read[2].payload, b"{\"n\":2}");
    assert_eq!(read[0].stream, s);
}

pub async fn events_are_located_by_id(store: impl EventStore) {
    store
        .append(&stream("order-a"), ExpectedVersion::Any, events(0..2))
        .await
        .unwrap();
    let appended = events(0..3);
    let ids: Vec<_> = appended.iter().map(|e| e.id).collect();
    store
        .append(&stream("order-b"), ExpectedVersion::Any, appended)
        .await
        .unwrap();
    let found = store.locate(ids[1]).await.unwrap().unwrap();
    assert_eq!(
        found,
        EventLocation {
            stream: stream("order-b"),
            version: 2,
            position: 4
        }
    );
    assert_eq!(store.locate(Uuid::now_v7()).await.unwrap(), None);
}

pub async fn expected_versions_are_enforced(store: impl EventStore) {
    let s = stream("order-2");
    let wrong = store.append(&s, ExpectedVersion::StreamExists, events(0..1)).await;
    assert!(
        matches!(wrong, Err(AppendError::WrongExpectedVersion { actual: None, .. })),
        "{wrong:?}"
    );
    let wrong = store.append(&s, ExpectedVersion::Exact(1), events(0..1)).await;
    assert!(
        matches!(wrong, Err(AppendError::WrongExpectedVersion { .. })),
        "{wrong:?}"
    );
    store.append(&s, ExpectedVersion::Exact(0), events(0..1)).await.unwrap();
    let wrong = store
        .append(&s, ExpectedVersion::NoStream, events(0..1))
        .await
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "stream order-2 was expected at no stream but is at version 1"
    );
    store
        .append(&s, ExpectedVersion::StreamExists, events(0..1))
        .await
        .unwrap();
    store.append(&s, ExpectedVersion::Exact(2), events(0..1)).await.unwrap();
    let wrong = store
        .append(&s, ExpectedVersion::Exact(2), events(0..1))
        .await
        .unwrap_err();
    assert_eq!(
        wrong.to_string(),
        "stream order-2 was expected at version 2 but is at version 3"
    );
    store.append(&s, ExpectedVersion::Any, events(0..2)).await.unwrap();
    assert_eq!(store.stream_version(&s).await.unwrap(), Some(5));
}

pub async fn retrying_an_append_returns_the_original_result(store: impl EventStore) {
    let s = stream("order-3");
    let batch = events(0..3);
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    store
        .append(&stream("other"), ExpectedVersion::Any, events(0..1))
        .await
        .unwrap();
    // The retry carries the original expectation, which no longer holds:
    // it is still recognised as a retry.
    let retry = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    assert_eq!(retry, first);
    assert_eq!(store.head().await.unwrap(), 4);
    assert_eq!(collect(store.read_stream(&s, 1, Direction::Forward)).await.len(), 3);

    // Part of a stored batch, or a stored id in another stream, is not a
    // retry.
    let partial = store
        .append(&s, ExpectedVersion::Any, vec![batch[1].clone(), event(9)])
        .await;
    assert!(matches!(partial, Err(AppendError::IdConflict { .. })), "{partial:?}");
    let elsewhere = store
        .append(&stream("order-4"), ExpectedVersion::Any, batch.clone())
        .await;
    assert!(
        matches!(elsewhere, Err(AppendError::IdConflict { .. })),
        "{elsewhere:?}"
    );
    let late_duplicate = store
        .append(&s, ExpectedVersion::Any, vec![event(7), batch[0].clone()])
        .await;
    assert!(
        matches!(late_duplicate, Err(AppendError::IdConflict { .. })),
        "{late_duplicate:?}"
    );
    assert_eq!(store.head().await.unwrap(), 4, "failed appends wrote nothing");
}

pub async fn streams_read_forward_and_backward_from_a_version(store: impl EventStore) {
    let s = stream("order-5");
    store.append(&s, ExpectedVersion::NoStream, events(0..5)).await.unwrap();
    store
        .append(&stream("noise"), ExpectedVersion::Any, events(0..2))
        .await
        .unwrap();
    assert_eq!(
        versions(&collect(store.read_stream(&s, 3, Direction::Forward)).await),
        [3, 4, 5]
    );
    assert_eq!(
        versions(&collect(store.read_stream(&s, 3, Direction::Backward)).await),
        [3, 2, 1]
    );
    assert_eq!(
        versions(&collect(store.read_stream(&s, u64::MAX, Direction::Backward)).await),
        [5, 4, 3, 2, 1]
    );
    assert!(collect(store.read_stream(&s, 6, Direction::Forward)).await.is_empty());
    assert!(collect(store.read_stream(&stream("none"), 1, Direction::Forward))
        .await
        .is_empty());
}

pub async fn reads_page_through_long_histories(store: impl EventStore) {
    let s = stream("long");
    for chunk in 0..5 {
        store
            .append(&s, ExpectedVersion::Any, events(chunk * 300..(chunk + 1) * 300))
            .await
            .unwrap();
    }
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len(), 1500);
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=1500).collect::<Vec<_>>());
    assert_eq!(collect(store.read_all(1001)).await.len(), 500);
    let backward = collect(store.read_stream(&s, u64::MAX, Direction::Backward)).await;
    assert_eq!(backward.len(), 1500);
    assert_eq!(backward[0].version, 1500);
    assert_eq!(backward[1499].version, 1);
}

pub async fn read_all_interleaves_streams_in_append_order(store: impl EventStore) {
    for i in 0..6 {
        let s = stream(&format!("s-{}", i % 3));
        store.append(&s, ExpectedVersion::Any, events(i..i + 1)).await.unwrap();
    }
    let all = collect(store.read_all(0)).await;
    let streams: Vec<&str> = all.iter().map(|e| e.stream.as_str()).collect();
    assert_eq!(streams, ["s-0", "s-1", "s-2", "s-0", "s-1", "s-2"]);
    assert_eq!(versions(&all), [1, 1, 1, 2, 2, 2]);
}

pub async fn subscriptions_catch_up_then_follow_live_appends(store: impl EventStore) {
    let s = stream("live");
    store.append(&s, ExpectedVersion::Any, events(0..3)).await.unwrap();
    let mut subscription = store.subscribe(2);
    let caught_up: Vec<u64> = (&mut subscription).take(2).map(|e| e.unwrap().position).collect().await;
    assert_eq!(caught_up, [2, 3]);
    let waiting = tokio::spawn(async move {
        let next: Vec<u64> = subscription.take(4).map(|e| e.unwrap().position).collect().await;
        next
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    store.append(&s, ExpectedVersion::Any, events(3..4)).await.unwrap();
    store.append(&s, ExpectedVersion::Any, events(4..7)).await.unwrap();
    let live = tokio::time::timeout(std::time::Duration::from_secs(10), waiting)
        .await
        .expect("live events arrive")
        .unwrap();
    assert_eq!(live, [4, 5, 6, 7]);
}

pub async fn metadata_is_kept(store: impl EventStore) {
    let mut e = event(1);
    e.metadata.correlation_id = Some(Uuid::now_v7());
    e.metadata.causation_id = Some(Uuid::now_v7());
    e.metadata.headers.insert("user".into(), "ann".into());
    let sent = e.clone();
    store
        .append(&stream("meta"), ExpectedVersion::Any, vec![e])
        .await
        .unwrap();
    let read = collect(store.read_all(1)).await;
    assert_eq!(read[0].metadata, sent.metadata);
    assert_eq!(read[0].id, sent.id);
    assert_eq!(read[0].contract, "test.Happened");
    assert_eq!(read[0].contract_version, 1);
    assert_eq!(read[0].fingerprint, sent.fingerprint);
}

/// What a replay gives: the events a forward read gives, every field
/// alike but the metadata's headers, which a backend may leave out (the
/// SQLite and PostgreSQL stores do; `sqlite_store.rs` checks SQLite's).
pub async fn a_replay_reads_the_stream_forward_but_perhaps_its_headers(store: impl EventStore) {
    let s = stream("replayed");
    let traced: Vec<NewEvent> = events(0..4)
        .into_iter()
        .map(|mut e| {
            e.metadata.correlation_id = Some(Uuid::now_v7());
            e.metadata.causation_id = Some(Uuid::now_v7());
            e.metadata.headers.insert(
                "traceparent".into(),
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            );
            e
        })
        .collect();
    store.append(&s, ExpectedVersion::NoStream, traced).await.unwrap();
    store
        .append(&stream("other"), ExpectedVersion::Any, events(0..2))
        .await
        .unwrap();
    let read = collect(store.read_stream(&s, 2, Direction::Forward)).await;
    let replayed = collect(store.replay_stream(&s, 2)).await;
    assert_eq!(versions(&replayed), [2, 3, 4]);
    for (mut replayed, mut read) in replayed.into_iter().zip(read) {
        assert!(
            replayed.metadata.headers.is_empty() || replayed.metadata.headers == read.metadata.headers,
            "{:?}",
            replayed.metadata.headers
        );
        replayed.metadata.headers.clear();
        read.metadata.headers.clear();
        assert_eq!(replayed, read);
    }
    assert!(collect(store.replay_stream(&s, 5)).await.is_empty());
    assert!(collect(store.replay_stream(&stream("none"), 1)).await.is_empty());
}

pub async fn bad_appends_are_rejected_with_clear_errors(store: impl EventStore) {
    let s = stream("bad");
    let empty = store.append(&s, ExpectedVersion::Any, vec![]).await.unwrap_err();
    assert_eq!(empty.to_string(), "an append to bad must carry at least one event");
    let mut big = event(0);
    big.payload = format!("\"{}\"", "x".repeat(DEFAULT_MAX_EVENT_BYTES)).into_bytes();
    let too_large = store.append(&s, ExpectedVersion::Any, vec![big]).await.unwrap_err();
    assert!(matches!(too_large, AppendError::TooLarge { .. }), "{too_large}");
    let mut not_json = event(0);
    not_json.payload = b"{not json".to_vec();
    let invalid = store
        .append(&s, ExpectedVersion::Any, vec![not_json])
        .await
        .unwrap_err();
    assert!(invalid.to_string().contains("payload that is not JSON"), "{invalid}");
    assert_eq!(store.head().await.unwrap(), 0, "nothing was written");
    assert!(StreamName::new("").is_err());
    assert!(StreamName::new("$system").is_err());
    assert!(StreamName::new("a\nb").is_err());
    assert!(StreamName::new("x".repeat(MAX_STREAM_NAME + 1)).is_err());
}

pub async fn concurrent_appenders_get_exactly_one_winner_per_version(store: impl EventStore + Clone) {
    let s = stream("contended");
    for round in 0..10u64 {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                let s = s.clone();
                tokio::spawn(async move { store.append(&s, ExpectedVersion::Exact(round), events(0..1)).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(result) => {
                    winners += 1;
                    assert_eq!(result.stream_version, round + 1);
                }
                Err(AppendError::WrongExpectedVersion { .. }) => {}
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
    let all = collect(store.read_stream(&s, 1, Direction::Forward)).await;
    assert_eq!(versions(&all), (1..=10).collect::<Vec<_>>());
    let ids: BTreeSet<Uuid> = all.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 10);
}

pub async fn concurrent_appends_to_many_streams_leave_no_gaps(store: impl EventStore + Clone) {
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let s = stream(&format!("many-{i}"));
                for n in 0..10u64 {
                    store
                        .append(&s, ExpectedVersion::Exact(n * 2), events(0..2))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let all = collect(store.read_all(1)).await;
    let positions: Vec<u64> = all.iter().map(|e| e.position).collect();
    assert_eq!(positions, (1..=640).collect::<Vec<_>>());
    for i in 0..32 {
        let s = stream(&format!("many-{i}"));
        let read = collect(store.read_stream(&s, 1, Direction::Forward)).await;
        assert_eq!(versions(&read), (1..=20).collect::<Vec<_>>());
    }
}

/// Retries of committed appends, sent at the same time as new appends
/// (which group commit may write together): each retry answers with its
/// original result, whatever its expectation, and the new appends commit.
pub async fn retries_sent_among_new_appends_get_their_original_results(store: impl EventStore + Clone) {
    let mut originals = Vec::new();
    for i in 0..12u64 {
        let s = stream(&format!("retried-{i}"));
        let batch = vec![event(100 + i)];
        let result = store
            .append(&s, ExpectedVersion::NoStream, batch.clone())
            .await
            .unwrap();
        originals.push((s, batch, result));
    }
    let head = store.head().await.unwrap();
    for round in 0..3u64 {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (s, batch, result)) in originals.iter().cloned().enumerate() {
            let store = store.clone();
            // Alternately the original expectation, which no longer
            // holds, and no expectation, which only the stored ids stop.
            let expected = if i % 2 == 0 {
                ExpectedVersion::NoStream
            } else {
                ExpectedVersion::Any
            };
            tasks.spawn(async move { (Some(result), store.append(&s, expected, batch).await) });
        }
        for i in 0..12u64 {
            let store = store.clone();
            let s = stream(&format!("fresh-{round}-{i}"));
            tasks.spawn(async move { (None, store.append(&s, ExpectedVersion::NoStream, events(0..1)).await) });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined.unwrap() {
                (Some(original), retried) => assert_eq!(retried.unwrap(), original),
                (None, fresh) => assert_eq!(fresh.unwrap().stream_version, 1),
            }
        }
    }
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len() as u64, 12 + 36, "each retry wrote nothing");
    assert!(store.head().await.unwrap() > head);
}

/// Appends to streams shared by many writers, each writer taking them in
/// its own order: no append fails (groups of appends lock several streams
/// at once, always in one order), and every stream's versions are gap-free.
pub async fn writers_sharing_streams_in_any_order_all_get_through(store: impl EventStore + Clone) {
    const STREAMS: u64 = 5;
    let tasks: Vec<_> = (0..16u64)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..10u64 {
                    let s = stream(&format!("shared-{}", (writer * 7 + n * (writer % 3 + 1)) % STREAMS));
                    store.append(&s, ExpectedVersion::Any, events(0..1)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut total = 0;
    for i in 0..STREAMS {
        let read = collect(store.read_stream(&stream(&format!("shared-{i}")), 1, Direction::Forward)).await;
        assert_eq!(versions(&read), (1..=read.len() as u64).collect::<Vec<_>>());
        total += read.len();
    }
    assert_eq!(total, 160);
    let all = collect(store.read_all(1)).await;
    assert_eq!(all.len(), 160);
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
}

/// A valid fingerprint (32 lowercase hex digits) standing for `tag`: the
/// tag's bytes in hex, padded with zeros.
fn fp(tag: &str) -> String {
    let hex: String = tag.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<32}")
}

fn compiled(name: &str, version: u32, tag: &str) -> registry::CompiledContract {
    shaped(name, version, tag, "{}")
}

/// A compiled event whose canonical schema has the fields `fields` (JSON).
fn shaped(name: &str, version: u32, tag: &str, fields: &str) -> registry::CompiledContract {
    registry::CompiledContract {
        name: name.into(),
        version,
        fingerprint: fp(tag),
        schema: Some(format!(
            "{{\"fields\":{fields},\"kind\":\"event\",\"name\":\"{name}\",\"version\":{version}}}"
        )),
    }
}

fn of_contract(name: &str, version: u32, tag: &str) -> NewEvent {
    NewEvent {
        contract: name.into(),
        contract_version: version,
        fingerprint: fp(tag),
        ..event(0)
    }
}

/// Appends `events` to `s` whatever its version.
async fn append_any(
    store: &impl EventStore,
    s: &StreamName,
    events: Vec<NewEvent>,
) -> Result<AppendResult, AppendError> {
    store.append(s, ExpectedVersion::Any, events).await
}

pub async fn the_registry_records_first_uses_and_refuses_changed_ones(store: impl EventStore) {
    let s = stream("registry");
    append_any(
        &store,
        &s,
        vec![
            of_contract("a.Opened", 1, "f1"),
            of_contract("a.Opened", 1, "f1"),
            of_contract("a.Closed", 2, "c2"),
        ],
    )
    .await
    .unwrap();
    let changed = append_any(
        &store,
        &s,
        vec![of_contract("a.New", 1, "n1"), of_contract("a.Opened", 1, "XX")],
    )
    .await
    .unwrap_err();
    assert_eq!(
        changed.to_string(),
        format!(
            "a.Opened v1 is stored with fingerprint {}, but this event has {}, a schema the store's registry does not \
             know: the contract changed in place; start the build that writes it with `register_contracts`, which \
             records the change when it is compatible with the stored schemas, or declare it as a new version with \
             `was` history",
            fp("f1"),
            fp("XX")
        )
    );
    assert_eq!(store.head().await.unwrap(), 3, "the refused append wrote nothing");
    // Two fingerprints of one new version in one append: the second is
    // refused against the first.
    let twice = append_any(
        &store,
        &s,
        vec![of_contract("b.Twice", 1, "t1"), of_contract("b.Twice", 1, "t2")],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&twice, AppendError::FingerprintMismatch { stored, appended, .. } if *stored == fp("t1") && *appended == fp("t2")),
        "{twice}"
    );
    // A version registered by a build but not used yet gets its first
    // position when an event first uses it; versions in use keep theirs.
    store
        .record_contracts(vec![compiled("a.Later", 1, "l1")])
        .await
        .unwrap();
    append_any(
        &store,
        &s,
        vec![
            of_contract("a.Opened", 1, "f1"),
            of_contract("a.Opened", 2, "f2"),
            of_contract("a.Later", 1, "l1"),
        ],
    )
    .await
    .unwrap();
    // A version in use is still checked on later appends.
    let changed_again = append_any(&store, &s, vec![of_contract("a.Opened", 1, "YY")])
        .await
        .unwrap_err();
    assert!(
        matches!(&changed_again, AppendError::FingerprintMismatch { stored, .. } if *stored == fp("f1")),
        "{changed_again}"
    );
    assert_eq!(store.head().await.unwrap(), 6, "the refused appends wrote nothing");
    let seen: Vec<(String, u32, String, Option<u64>)> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.version, c.fingerprint, c.first_position))
        .collect();
    assert_eq!(
        seen,
        [
            ("a.Closed".into(), 2, fp("c2"), Some(3)),
            ("a.Later".into(), 1, fp("l1"), Some(6)),
            ("a.Opened".into(), 1, fp("f1"), Some(1)),
            ("a.Opened".into(), 2, fp("f2"), Some(5)),
        ]
    );
}

pub async fn registering_contracts_refuses_code_that_cannot_read_the_store(store: impl EventStore) {
    let s = stream("registry");
    store
        .append(
            &s,
            ExpectedVersion::Any,
            vec![
                of_contract("a.Opened", 1, "f1"),
                of_contract("a.Closed", 1, "c1"),
                of_contract("a.Gone", 1, "g1"),
            ],
        )
        .await
        .unwrap();
    let good = [
        compiled("a.Opened", 2, "f2"),
        compiled("a.Opened", 1, "f1"),
        compiled("a.Closed", 1, "c1"),
        compiled("a.Gone", 1, "g1"),
    ];
    registry::register_contracts(&store, &good).await.unwrap();
    let schemas: Vec<Option<String>> = store.contracts().await.unwrap().into_iter().map(|c| c.schema).collect();
    assert!(schemas.iter().all(Option::is_some), "{schemas:?}");

    // A required field added in place: the rule book's
    // `field-added-required`, as the lint reports it.
    let bad = [
        shaped("a.Opened", 1, "changed", r#"{"total":{"type":"u64"}}"#),
        compiled("a.Closed", 2, "c2"),
    ];
    let error = registry::register_contracts(&store, &bad).await.unwrap_err();
    let registry::RegisterError::Mismatch(report) = &error else {
        panic!("{error}")
    };
    assert_eq!(report.problems.len(), 3, "{error}");
    assert_eq!(
        error.to_string(),
        format!("the compiled contracts cannot read this store (3 problems, mode backward):\n  \
         - a.Closed v1: stored events use it (the first at position 2), but this build reads only v2; add `was v1 (...)` to the contract's history\n  \
         - a.Gone v1: stored events (the first at position 3) use a contract this build does not have; add the contract back (it can be kept with its history and no longer be emitted)\n  \
         - error[field-added-required]: event `a.Opened` v1: required field `total` of type `u64` was added without a default (stored schema {}, this build {}); help: {}\n",
        fp("f1"),
        fp("changed"),
        treaty_compat::Rule::FieldAddedRequired.help()
    ));
    assert_eq!(report.problems[2].rule_id(), Some("field-added-required"));
    // A refused registration records nothing.
    let fingerprints: Vec<String> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.fingerprint)
        .collect();
    assert!(!fingerprints.contains(&fp("changed")));
}

pub async fn a_compatible_change_in_place_is_recorded_next_to_the_stored_schema(store: impl EventStore) {
    let s = stream("placed");
    let a = shaped("shop.Placed", 1, "a", r#"{"total":{"type":"u64"}}"#);
    registry::register_contracts(&store, std::slice::from_ref(&a))
        .await
        .unwrap();
    append_any(
        &store,
        &s,
        vec![of_contract("shop.Placed", 1, "a"), of_contract("shop.Placed", 1, "a")],
    )
    .await
    .unwrap();
    // A field with a default added in place (docs/lint.md, "Add
    // information"): compatible, so it starts and its fingerprint is
    // recorded next to the stored one.
    let b = shaped(
        "shop.Placed",
        1,
        "b",
        r#"{"total":{"type":"u64"},"channel":{"type":"String","default":"web"}}"#,
    );
    registry::register_contracts(&store, std::slice::from_ref(&b))
        .await
        .unwrap();
    append_any(&store, &s, vec![of_contract("shop.Placed", 1, "b")])
        .await
        .unwrap();
    // The old build still writes its shape, which the registry knows.
    append_any(&store, &s, vec![of_contract("shop.Placed", 1, "a")])
        .await
        .unwrap();
    let seen: Vec<(String, u32, String, Option<u64>, bool, bool)> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| {
            (
                c.name,
                c.version,
                c.fingerprint,
                c.first_position,
                c.schema.is_some(),
                c.first_seen.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("shop.Placed".into(), 1, fp("a"), Some(1), true, true),
            ("shop.Placed".into(), 1, fp("b"), Some(3), true, true),
        ]
    );
    // Every event is read back as written, each with its fingerprint.
    let fingerprints: Vec<String> = collect(store.read_all(1))
        .await
        .into_iter()
        .map(|e| e.fingerprint)
        .collect();
    assert_eq!(fingerprints, [fp("a"), fp("a"), fp("b"), fp("a")]);

    // An incompatible change is refused against every stored schema, with
    // the lint's rule id, and nothing is recorded.
    let c = shaped("shop.Placed", 1, "c", r#"{"total":{"type":"u32"}}"#);
    let error = registry::register_contracts(&store, std::slice::from_ref(&c))
        .await
        .unwrap_err();
    let registry::RegisterError::Mismatch(report) = &error else {
        panic!("{error}")
    };
    let found: Vec<(Option<&str>, String)> = report
        .problems
        .iter()
        .map(|p| match p {
            registry::ContractProblem::Incompatible { stored, finding, .. } => {
                (p.rule_id(), format!("{stored} {}", finding.path))
            }
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            (Some("integer-narrowed"), format!("{} total", fp("a"))),
            (Some("integer-narrowed"), format!("{} total", fp("b"))),
        ],
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("error[integer-narrowed]: event `shop.Placed` v1: `total` was narrowed from `u64` to `u32`"),
        "{error}"
    );
    assert_eq!(
        store.contracts().await.unwrap().len(),
        2,
        "the refused schema is not recorded"
    );
    // Its events are refused too: the store does not know the schema.
    let unknown = append_any(&store, &s, vec![of_contract("shop.Placed", 1, "c")])
        .await
        .unwrap_err();
    assert!(
        matches!(&unknown, AppendError::FingerprintMismatch { stored, appended, .. } if *stored == fp("a") && *appended == fp("c")),
        "{unknown}"
    );
    assert_eq!(store.head().await.unwrap(), 4);
    // In mode full, the old readers must read the new shape as well: a
    // removed required field is refused there, accepted in backward.
    let d = shaped(
        "shop.Placed",
        1,
        "d",
        r#"{"channel":{"type":"String","default":"web"}}"#,
    );
    let full = registry::register_contracts_in(&store, std::slice::from_ref(&d), registry::Mode::Full)
        .await
        .unwrap_err();
    assert!(full.to_string().contains("error[field-removed]"), "{full}");
    registry::register_contracts_in(&store, std::slice::from_ref(&d), registry::Mode::Backward)
        .await
        .unwrap();
    assert_eq!(store.contracts().await.unwrap().len(), 3);
}

/// An event of `name` v`version` that carries its canonical schema, with
/// the fields `fields` (JSON), and that schema's fingerprint, as
/// `NewEvent::from_contract` makes one from generated code.
fn written(name: &str, version: u32, fields: &str) -> NewEvent {
    let text = format!("{{\"fields\":{fields},\"kind\":\"event\",\"name\":\"{name}\",\"version\":{version}}}");
    NewEvent {
        contract: name.into(),
        contract_version: version,
        fingerprint: treaty_compat::fingerprint(&text),
        schema: Some(treaty_runtime::WriterSchema::parse(&text).unwrap()),
        ..event(0)
    }
}

const TOTAL: &str = r#"{"total":{"type":"u64"}}"#;
const WITH_CHANNEL: &str = r#"{"channel":{"default":"web","type":"String"},"total":{"type":"u64"}}"#;
const NARROWED: &str = r#"{"total":{"type":"u32"}}"#;

pub async fn appends_judge_a_changed_schema_by_the_rule_book(store: impl EventStore) {
    let s = stream("judged");
    // No build registered anything: the first append records the schema
    // its event carries.
    append_any(&store, &s, vec![written("shop.Placed", 1, TOTAL)])
        .await
        .unwrap();
    let rows = store.contracts().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].schema.as_deref(),
        written("shop.Placed", 1, TOTAL).schema.as_ref().map(|s| s.text())
    );
    assert_eq!(rows[0].first_position, Some(1));

    // A field with a default added in place, appended by a build that
    // never went through `register_contracts`: compatible in the store's
    // mode (backward), so it is recorded next to the first and stored.
    append_any(&store, &s, vec![written("shop.Placed", 1, WITH_CHANNEL)])
        .await
        .unwrap();
    let rows: Vec<(String, Option<u64>, bool)> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.fingerprint, c.first_position, c.schema.is_some()))
        .collect();
    assert_eq!(
        rows,
        [
            (written("shop.Placed", 1, TOTAL).fingerprint, Some(1), true),
            (written("shop.Placed", 1, WITH_CHANNEL).fingerprint, Some(2), true),
        ]
    );

    // A narrowed integer breaks readers of both stored schemas: refused
    // with the lint's rule against each, and nothing is written.
    let narrowed = written("shop.Placed", 1, NARROWED);
    let id = narrowed.id;
    let error = append_any(&store, &s, vec![narrowed]).await.unwrap_err();
    let AppendError::IncompatibleSchema {
        id: refused,
        mode,
        problems,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!((*refused, *mode), (id, "backward"));
    let rules: Vec<Option<&str>> = problems.iter().map(|p| p.rule_id()).collect();
    assert_eq!(rules, [Some("integer-narrowed"), Some("integer-narrowed")], "{error}");
    let text = error.to_string();
    assert!(
        text.contains("error[integer-narrowed]: event `shop.Placed` v1: `total` was narrowed from `u64` to `u32`"),
        "{text}"
    );
    assert!(text.contains("nothing was written"), "{text}");
    // With a compatible event in the same append, the whole append is
    // refused.
    let both = vec![written("shop.Placed", 1, TOTAL), written("shop.Placed", 1, NARROWED)];
    let error = append_any(&store, &s, both).await.unwrap_err();
    assert!(matches!(error, AppendError::IncompatibleSchema { .. }), "{error}");

    // Without its schema, the change cannot be checked.
    let mut bare = written("shop.Placed", 1, NARROWED);
    bare.schema = None;
    let error = append_any(&store, &s, vec![bare]).await.unwrap_err();
    assert!(matches!(error, AppendError::FingerprintMismatch { .. }), "{error}");

    // A schema that is not the one its fingerprint hashes, one that
    // describes another contract, and one that is not a message schema
    // are refused, naming the event, and never recorded.
    let mut forged = written("shop.Placed", 1, NARROWED);
    forged.fingerprint = written("shop.Placed", 1, r#"{"other":{"type":"u64"}}"#).fingerprint;
    let error = append_any(&store, &s, vec![forged]).await.unwrap_err();
    assert!(
        matches!(&error, AppendError::InvalidContract { .. })
            && error
                .to_string()
                .contains("its schema does not hash to its fingerprint"),
        "{error}"
    );
    let mut elsewhere = written("shop.Other", 1, TOTAL);
    elsewhere.contract = "shop.Placed".into();
    let error = append_any(&store, &s, vec![elsewhere]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("its schema describes shop.Other v1, not the event's contract"),
        "{error}"
    );
    let text = "[1,2,3]";
    let not_a_message = NewEvent {
        contract: "shop.Fresh".into(),
        fingerprint: treaty_compat::fingerprint(text),
        schema: Some(treaty_runtime::WriterSchema::parse(text).unwrap()),
        ..event(0)
    };
    let error = append_any(&store, &s, vec![not_a_message]).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("its schema cannot be recorded (not a canonical message schema"),
        "{error}"
    );

    assert_eq!(store.head().await.unwrap(), 2, "the refused appends wrote nothing");
    assert_eq!(store.contracts().await.unwrap().len(), 2, "nor recorded a schema");
    // Both recorded shapes are still written.
    append_any(
        &store,
        &s,
        vec![
            written("shop.Placed", 1, TOTAL),
            written("shop.Placed", 1, WITH_CHANNEL),
        ],
    )
    .await
    .unwrap();
    // A build started after the change reads both stored schemas.
    registry::register_contracts(
        &store,
        &[registry::CompiledContract {
            name: "shop.Placed".into(),
            version: 1,
            fingerprint: written("shop.Placed", 1, WITH_CHANNEL).fingerprint,
            schema: written("shop.Placed", 1, WITH_CHANNEL)
                .schema
                .map(|s| s.text().to_string()),
        }],
    )
    .await
    .unwrap();
}

/// The registry rows as every backend must agree on them.
async fn registry_rows(store: &impl EventStore) -> Vec<(String, u32, String)> {
    let rows = store.contracts().await.unwrap();
    rows.into_iter().map(|c| (c.name, c.version, c.fingerprint)).collect()
}

pub async fn an_append_that_writes_nothing_records_nothing(store: impl EventStore) {
    // PostgreSQL used to record a fingerprint it had judged compatible
    // before making the append, and the schemas of a retry's events after
    // answering it, so a refused append or a retry could leave a
    // fingerprint in its registry that the other backends never recorded,
    // and later appends were judged against it there only (found by
    // `treaty-fuzz store-append`).
    let s = stream("kept");
    let first = written("shop.Placed", 1, TOTAL);
    let original = append_any(&store, &s, vec![first.clone()]).await.unwrap();
    let before = registry_rows(&store).await;
    assert_eq!(before.len(), 1);

    // A retry of that append whose event now carries a changed schema is
    // answered with the original result; nothing is written or recorded.
    let retry = NewEvent {
        id: first.id,
        ..written("shop.Placed", 1, WITH_CHANNEL)
    };
    assert_eq!(append_any(&store, &s, vec![retry]).await.unwrap(), original);
    assert_eq!(registry_rows(&store).await, before, "a retry recorded a fingerprint");

    // A compatible change appended with an incompatible one: the append
    // is refused, and the compatible one is not recorded either. It is
    // picked to sort before the incompatible one, as backends judge
    // fingerprints in byte order, so that it is judged, and found
    // compatible, first.
    let narrowed = written("shop.Placed", 1, NARROWED);
    let compatible = ["web", "app", "api", "b2b", "pos", "fax", "tel", "kiosk"]
        .iter()
        .map(|channel| {
            written(
                "shop.Placed",
                1,
                &format!(r#"{{"channel":{{"default":"{channel}","type":"String"}},"total":{{"type":"u64"}}}}"#),
            )
        })
        .find(|e| e.fingerprint < narrowed.fingerprint)
        .expect("a compatible change whose fingerprint sorts first");
    let error = append_any(&store, &s, vec![compatible.clone(), narrowed.clone()])
        .await
        .unwrap_err();
    assert!(matches!(error, AppendError::IncompatibleSchema { .. }), "{error}");
    assert_eq!(
        registry_rows(&store).await,
        before,
        "a refused append recorded a fingerprint"
    );

    // A compatible change in an append with a wrong expected version.
    let error = store
        .append(&s, ExpectedVersion::Exact(9), vec![compatible.clone()])
        .await
        .unwrap_err();
    assert!(matches!(error, AppendError::WrongExpectedVersion { .. }), "{error}");
    assert_eq!(registry_rows(&store).await, before);

    // Appended alone, the compatible change is recorded, and judged with
    // the narrowed one after it.
    append_any(&store, &s, vec![compatible.clone()]).await.unwrap();
    let mut after = before.clone();
    after.push(("shop.Placed".into(), 1, compatible.fingerprint.clone()));
    assert_eq!(registry_rows(&store).await, after);
    let error = append_any(&store, &s, vec![narrowed]).await.unwrap_err();
    let AppendError::IncompatibleSchema { problems, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(problems.len(), 2, "judged against both stored schemas: {error}");
    assert_eq!(store.head().await.unwrap(), 2);
}

pub async fn an_unreadable_stored_schema_is_reported_and_kept(store: impl EventStore) {
    let s = stream("corrupt");
    // A schema that is not JSON, as a damaged row or another tool may
    // have left it: `record_contracts` records without checking.
    let mut damaged = compiled("shop.Placed", 1, "a");
    damaged.schema = Some("{\"fields\": {".into());
    store.record_contracts(vec![damaged]).await.unwrap();
    append_any(&store, &s, vec![of_contract("shop.Placed", 1, "a")])
        .await
        .unwrap();
    let error = registry::register_contracts(&store, &[compiled("shop.Placed", 1, "b")])
        .await
        .unwrap_err();
    let registry::RegisterError::Mismatch(report) = &error else {
        panic!("{error}")
    };
    assert!(
        matches!(&report.problems[..], [registry::ContractProblem::UnreadableSchema { contract, version: 1, fingerprint, .. }]
            if contract == "shop.Placed" && *fingerprint == fp("a")),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        text.contains("shop.Placed v1: the stored schema with fingerprint"),
        "{text}"
    );
    assert!(text.contains("its schema is corrupt (not JSON"), "{text}");
    // Nothing lost: the row and its event are as they were, and this
    // build (same fingerprint) still starts.
    let rows = store.contracts().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].schema.as_deref(), Some("{\"fields\": {"));
    assert_eq!(rows[0].first_position, Some(1));
    registry::register_contracts(&store, &[compiled("shop.Placed", 1, "a")])
        .await
        .unwrap();
    assert_eq!(store.head().await.unwrap(), 1);
}

// Hostile input: every backend accepts and refuses the same values, with
// the same errors, and keeps working after a refusal (docs/limits.md).

/// An event of `event(0)` with its payload replaced.
fn with_payload(payload: &[u8]) -> NewEvent {
    NewEvent {
        payload: payload.to_vec(),
        ..event(0)
    }
}

/// Arrays nested `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// Appends `bad` alone and returns its error, after checking that nothing
/// was written and that the error says a retry cannot help.
async fn refused(store: &impl EventStore, bad: NewEvent) -> AppendError {
    let head = store.head().await.unwrap();
    let error = append_any(store, &stream("hostile"), vec![bad])
        .await
        .expect_err("refused");
    assert!(!error.is_retryable(), "{error}");
    assert_eq!(store.head().await.unwrap(), head, "{error}: nothing was written");
    error
}

/// A good append right after, read back: the store still works.
async fn still_works(store: &impl EventStore) {
    let good = event(1);
    let id = good.id;
    let result = append_any(store, &stream("after"), vec![good]).await.unwrap();
    let read = collect(store.read_all(result.first_position)).await;
    assert_eq!(read.last().map(|e| e.id), Some(id));
}

pub async fn the_largest_contract_versions_are_stored_and_read_back(store: impl EventStore) {
    let s = stream("versions");
    let versions = [u32::MAX, 1 << 31, i32::MAX as u32, 1];
    let appended: Vec<NewEvent> = versions
        .iter()
        .map(|v| of_contract("big.Versioned", *v, "big"))
        .collect();
    append_any(&store, &s, appended).await.unwrap();
    let read = collect(store.read_all(1)).await;
    assert_eq!(read.iter().map(|e| e.contract_version).collect::<Vec<_>>(), versions);
    let by_stream = collect(store.read_stream(&s, 1, Direction::Forward)).await;
    assert_eq!(by_stream.len(), 4);
    let subscribed: Vec<u32> = store
        .subscribe(1)
        .take(4)
        .map(|e| e.unwrap().contract_version)
        .collect()
        .await;
    assert_eq!(subscribed, versions);
    let mut registered: Vec<u32> = store.contracts().await.unwrap().iter().map(|c| c.version).collect();
    registered.sort_unstable();
    assert_eq!(registered, [1, i32::MAX as u32, 1 << 31, u32::MAX]);
    // Recorded and appended again, the versions keep their value.
    store
        .record_contracts(vec![compiled("big.Recorded", u32::MAX, "rec")])
        .await
        .unwrap();
    append_any(&store, &s, vec![of_contract("big.Versioned", u32::MAX, "big")])
        .await
        .unwrap();
    let seen: Vec<(String, u32)> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.version == u32::MAX)
        .map(|c| (c.name, c.version))
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(collect(store.read_all(1)).await.len(), 5);
}

pub async fn payloads_that_are_not_strict_json_are_refused_alike(store: impl EventStore) {
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("invalid UTF-8 in a string", b"{\"a\":\"\xff\xfe\"}".to_vec()),
        ("an overlong encoding in a key", b"{\"\xc0\x80\":1}".to_vec()),
        ("an encoded surrogate", b"\"\xed\xa0\x80\"".to_vec()),
        ("a number beyond f64", b"1e400".to_vec()),
        ("a negative number beyond f64", b"[-1e400]".to_vec()),
        ("a lone surrogate escape", b"{\"a\":\"\\ud800\"}".to_vec()),
        ("a lone trailing surrogate in a key", b"{\"\\udc00\":1}".to_vec()),
        ("nesting past the limit", nested(MAX_JSON_DEPTH + 1)),
        ("a raw control character", b"\"a\x01b\"".to_vec()),
        ("no JSON", b"".to_vec()),
        ("two values", b"1 2".to_vec()),
    ];
    for (what, payload) in bad {
        let error = refused(&store, with_payload(&payload)).await;
        assert!(matches!(error, AppendError::InvalidPayload { .. }), "{what}: {error}");
        still_works(&store).await;
    }
    // What strict JSON allows is stored and read back byte for byte.
    let good: Vec<Vec<u8>> = vec![
        nested(MAX_JSON_DEPTH),
        b"{\"a\":\"\\u0000\\ud83d\\ude00\",\"b\":123456789012345678901234567890,\"c\":-0.0}".to_vec(),
        "{\"ключ\":\"значение 😀\"}".as_bytes().to_vec(),
        b" [1, 2.5e300] \n".to_vec(),
    ];
    let head = store.head().await.unwrap();
    for payload in &good {
        append_any(&store, &stream("good"), vec![with_payload(payload)])
            .await
            .unwrap();
    }
    let read = collect(store.read_all(head + 1)).await;
    let payloads: Vec<Vec<u8>> = read.into_iter().map(|e| e.payload).collect();
    assert_eq!(payloads, good);
}

pub async fn a_refused_append_fails_alone_and_the_others_of_its_group_commit(store: impl EventStore + Clone) {
    // Appends sent together: on SQLite they share group commits.
    let tasks: Vec<_> = (0..40u64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let payload: &[u8] = match i % 4 {
                    0 => b"{\"a\":\"\xff\xfe\"}",
                    1 => b"{\"a\":\"\\ud800\"}",
                    _ => b"{\"ok\":true}",
                };
                let s = stream(&format!("group-{i}"));
                (
                    i,
                    store
                        .append(&s, ExpectedVersion::NoStream, vec![with_payload(payload)])
                        .await,
                )
            })
        })
        .collect();
    let mut committed = 0;
    for task in tasks {
        let (i, result) = task.await.unwrap();
        match (i % 4, result) {
            (0 | 1, Err(AppendError::InvalidPayload { .. })) => {}
            (2 | 3, Ok(_)) => committed += 1,
            (_, other) => panic!("append {i}: {other:?}"),
        }
    }
    assert_eq!(committed, 20);
    assert_eq!(collect(store.read_all(1)).await.len(), 20);
    still_works(&store).await;
}

pub async fn names_fingerprints_and_headers_are_validated_alike(store: impl EventStore) {
    let long_name = "n".repeat(MAX_CONTRACT_NAME + 1);
    for name in [
        "",
        "a\0b",
        "a\nb",
        "shop.\u{1b}[2JPlaced",
        "a b",
        "a\u{202e}b",
        "a\u{200b}b",
        "\u{85}",
        long_name.as_str(),
    ] {
        let error = refused(&store, of_contract(name, 1, "f")).await;
        assert!(
            matches!(error, AppendError::InvalidContract { .. }),
            "{name:?}: {error}"
        );
        assert!(!error.to_string().contains('\u{1b}'), "{error}");
        let record = store.record_contracts(vec![compiled(name, 1, "f")]).await.unwrap_err();
        assert!(
            matches!(record, AppendError::InvalidContract { .. }),
            "{name:?}: {record}"
        );
    }
    let zero = refused(&store, of_contract("a.Zero", 0, "f")).await;
    assert!(matches!(zero, AppendError::InvalidContract { .. }), "{zero}");
    let long_fingerprint = "a".repeat(FINGERPRINT_LEN + 1);
    for fingerprint in [
        "",
        "f1",
        "0123456789ABCDEF0123456789ABCDEF",
        "x".repeat(32).as_str(),
        long_fingerprint.as_str(),
    ] {
        let bad = NewEvent {
            fingerprint: fingerprint.into(),
            ..event(0)
        };
        let error = refused(&store, bad).await;
        assert!(
            matches!(error, AppendError::InvalidContract { .. }),
            "{fingerprint:?}: {error}"
        );
    }
    let long_header = "h".repeat(MAX_HEADER_NAME + 1);
    for name in ["", "a b", "a\0", "a:b", "\u{1b}[31m", "é", long_header.as_str()] {
        let mut bad = event(0);
        bad.metadata.headers.insert(name.into(), "v".into());
        let error = refused(&store, bad).await;
        assert!(
            matches!(error, AppendError::InvalidMetadata { .. }),
            "{name:?}: {error}"
        );
    }
    still_works(&store).await;
    // Header values are any text, and read back as they were.
    let mut good = of_contract("größe.Ärger", 7, "utf");
    good.metadata
        .headers
        .insert("x-note".into(), "nul \0, escape \u{1b}[2J, line\nend, \u{202e}".into());
    let sent = good.metadata.clone();
    let result = append_any(&store, &stream("headers"), vec![good]).await.unwrap();
    let read = collect(store.read_all(result.first_position)).await;
    assert_eq!(read[0].metadata, sent);
    assert_eq!(read[0].contract, "größe.Ärger");
}

pub async fn metadata_counts_toward_the_size_limit(store: impl EventStore) {
    // The store under test accepts 1 KiB.
    let mut huge = event(0);
    huge.metadata.headers.insert("big".into(), "x".repeat(20 << 20));
    let error = refused(&store, huge).await;
    assert!(
        matches!(error, AppendError::TooLarge { size, limit: 1024, .. } if size > 20 << 20),
        "{error}"
    );
    // Small payload, metadata over the limit together.
    let mut together = with_payload(format!("\"{}\"", "p".repeat(600)).as_bytes());
    together.metadata.headers.insert("h".into(), "v".repeat(400));
    let error = refused(&store, together).await;
    assert!(matches!(error, AppendError::TooLarge { .. }), "{error}");
    let mut fits = with_payload(format!("\"{}\"", "p".repeat(300)).as_bytes());
    fits.metadata.headers.insert("h".into(), "v".repeat(300));
    append_any(&store, &stream("fits"), vec![fits]).await.unwrap();
}

pub async fn a_batch_repeating_an_id_is_refused_alike(store: impl EventStore) {
    let s = stream("repeats");
    let first = event(1);
    let second = event(2);
    for batch in [
        vec![first.clone(), first.clone()],
        vec![first.clone(), second.clone(), first.clone()],
        vec![second.clone(), first.clone(), first.clone()],
    ] {
        let error = store.append(&s, ExpectedVersion::NoStream, batch).await.unwrap_err();
        assert!(
            matches!(error, AppendError::DuplicateEventId { id } if id == first.id),
            "{error}"
        );
        assert!(!error.is_retryable());
    }
    assert_eq!(store.head().await.unwrap(), 0);
    assert_eq!(store.stream_version(&s).await.unwrap(), None);
    store
        .append(&s, ExpectedVersion::NoStream, vec![first, second])
        .await
        .unwrap();
}

pub async fn stored_ids_are_reported_before_versions_and_fingerprints(store: impl EventStore) {
    // SQLite used to look up only the first id before checking the
    // version and the registry, and so answered these with other errors
    // than the memory store (which `treaty-fuzz store-append`, comparing
    // the backends' answers, is there to catch).
    let stored = event(1);
    append_any(
        &store,
        &stream("first"),
        vec![stored.clone(), of_contract("a.Opened", 1, "f1")],
    )
    .await
    .unwrap();
    let s = stream("second");
    let wrong_version = store
        .append(&s, ExpectedVersion::Exact(7), vec![event(2), stored.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong_version, AppendError::IdConflict { id, .. } if *id == stored.id),
        "{wrong_version}"
    );
    let changed_fingerprint = append_any(&store, &s, vec![of_contract("a.Opened", 1, "XX"), stored.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(&changed_fingerprint, AppendError::IdConflict { id, .. } if *id == stored.id),
        "{changed_fingerprint}"
    );
    assert_eq!(store.head().await.unwrap(), 2);
}

/// Declares every conformance test for one backend. `$make` is an async
/// block that returns a fresh, empty store; `$limited` a function of a
/// size limit that returns a fresh store accepting events of at most that
/// many bytes (payload plus metadata).
macro_rules! conformance {
    ($backend:ident, $make:expr, $limited:expr) => {
        mod $backend {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn first_append_creates_the_stream_at_version_one() {
                let Some(store) = ($make) else { return };
                super::first_append_creates_the_stream_at_version_one(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn events_are_located_by_id() {
                let Some(store) = ($make) else { return };
                super::events_are_located_by_id(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expected_versions_are_enforced() {
                let Some(store) = ($make) else { return };
                super::expected_versions_are_enforced(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retrying_an_append_returns_the_original_result() {
                let Some(store) = ($make) else { return };
                super::retrying_an_append_returns_the_original_result(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn streams_read_forward_and_backward_from_a_version() {
                let Some(store) = ($make) else { return };
                super::streams_read_forward_and_backward_from_a_version(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reads_page_through_long_histories() {
                let Some(store) = ($make) else { return };
                super::reads_page_through_long_histories(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn read_all_interleaves_streams_in_append_order() {
                let Some(store) = ($make) else { return };
                super::read_all_interleaves_streams_in_append_order(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn subscriptions_catch_up_then_follow_live_appends() {
                let Some(store) = ($make) else { return };
                super::subscriptions_catch_up_then_follow_live_appends(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn metadata_is_kept() {
                let Some(store) = ($make) else { return };
                super::metadata_is_kept(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_replay_reads_the_stream_forward_but_perhaps_its_headers() {
                let Some(store) = ($make) else { return };
                super::a_replay_reads_the_stream_forward_but_perhaps_its_headers(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn bad_appends_are_rejected_with_clear_errors() {
                let Some(store) = ($make) else { return };
                super::bad_appends_are_rejected_with_clear_errors(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appenders_get_exactly_one_winner_per_version() {
                let Some(store) = ($make) else { return };
                super::concurrent_appenders_get_exactly_one_winner_per_version(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_registry_records_first_uses_and_refuses_changed_ones() {
                let Some(store) = ($make) else { return };
                super::the_registry_records_first_uses_and_refuses_changed_ones(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_compatible_change_in_place_is_recorded_next_to_the_stored_schema() {
                let Some(store) = ($make) else { return };
                super::a_compatible_change_in_place_is_recorded_next_to_the_stored_schema(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn appends_judge_a_changed_schema_by_the_rule_book() {
                let Some(store) = ($make) else { return };
                super::appends_judge_a_changed_schema_by_the_rule_book(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_append_that_writes_nothing_records_nothing() {
                let Some(store) = ($make) else { return };
                super::an_append_that_writes_nothing_records_nothing(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_unreadable_stored_schema_is_reported_and_kept() {
                let Some(store) = ($make) else { return };
                super::an_unreadable_stored_schema_is_reported_and_kept(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn registering_contracts_refuses_code_that_cannot_read_the_store() {
                let Some(store) = ($make) else { return };
                super::registering_contracts_refuses_code_that_cannot_read_the_store(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_to_many_streams_leave_no_gaps() {
                let Some(store) = ($make) else { return };
                super::concurrent_appends_to_many_streams_leave_no_gaps(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_largest_contract_versions_are_stored_and_read_back() {
                let Some(store) = ($make) else { return };
                super::the_largest_contract_versions_are_stored_and_read_back(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn payloads_that_are_not_strict_json_are_refused_alike() {
                let Some(store) = ($make) else { return };
                super::payloads_that_are_not_strict_json_are_refused_alike(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_refused_append_fails_alone_and_the_others_of_its_group_commit() {
                let Some(store) = ($make) else { return };
                super::a_refused_append_fails_alone_and_the_others_of_its_group_commit(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retries_sent_among_new_appends_get_their_original_results() {
                let Some(store) = ($make) else { return };
                super::retries_sent_among_new_appends_get_their_original_results(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn writers_sharing_streams_in_any_order_all_get_through() {
                let Some(store) = ($make) else { return };
                super::writers_sharing_streams_in_any_order_all_get_through(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn names_fingerprints_and_headers_are_validated_alike() {
                let Some(store) = ($make) else { return };
                super::names_fingerprints_and_headers_are_validated_alike(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn metadata_counts_toward_the_size_limit() {
                let Some(store) = ($limited)(1024).await else {
                    return;
                };
                super::metadata_counts_toward_the_size_limit(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn stored_ids_are_reported_before_versions_and_fingerprints() {
                let Some(store) = ($make) else { return };
                super::stored_ids_are_reported_before_versions_and_fingerprints(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_batch_repeating_an_id_is_refused_alike() {
                let Some(store) = ($make) else { return };
                super::a_batch_repeating_an_id_is_refused_alike(store).await;
            }
        }
    };
}

/// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`.
/// Locally the tests skip without one; under `CI=true` a missing server
/// is a failure, because `.ci/run` must have started one.
#[cfg(feature = "postgres")]
pub fn postgres_url() -> Option<String> {
    treaty_testing::server_url("TREATY_TEST_POSTGRES")
}

/// The settings of a store in `schema`.
#[cfg(feature = "postgres")]
fn in_schema(schema: String) -> PostgresConfig {
    PostgresConfig {
        connection: PostgresOptions {
            schema,
            ..PostgresOptions::default()
        },
        ..PostgresConfig::default()
    }
}

/// A PostgreSQL store in a schema of its own, so tests start empty and
/// run in parallel.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres() -> Option<PostgresStore> {
    limited_postgres(DEFAULT_MAX_EVENT_BYTES).await
}

/// [`fresh_postgres`] accepting events of at most `limit` bytes.
#[cfg(feature = "postgres")]
pub async fn limited_postgres(limit: usize) -> Option<PostgresStore> {
    let url = postgres_url()?;
    let config = PostgresConfig {
        max_event_bytes: limit,
        ..in_schema(format!("test_{}", Uuid::now_v7().simple()))
    };
    Some(PostgresStore::open_with(&url, config).await.unwrap())
}

/// A SQLite store in a file of its own accepting events of at most
/// `limit` bytes.
fn limited_sqlite(limit: usize) -> Option<SqliteStore> {
    // The directory is leaked on purpose: it must outlive the store, and
    // the OS cleans the temp dir.
    let dir = tempfile::tempdir().unwrap().keep();
    let config = SqliteConfig {
        max_event_bytes: limit,
        ..SqliteConfig::default()
    };
    Some(SqliteStore::open_with(dir.join("events.db"), config).unwrap())
}

conformance!(memory, Some(MemoryStore::new()), |limit| async move {
    Some(MemoryStore::with_max_event_bytes(limit))
});
conformance!(sqlite, limited_sqlite(DEFAULT_MAX_EVENT_BYTES), |limit| async move {
    limited_sqlite(limit)
});
#[cfg(feature = "postgres")]
conformance!(postgres, fresh_postgres().await, limited_postgres);

/// What only the PostgreSQL backend has: a registry shared by processes
/// that each remember which versions they have appended, and tables
/// made by an earlier layout.
#[cfg(feature = "postgres")]
mod postgres_only {
    use super::*;
    use treaty_runtime::storage::{Component, OpenError};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_sharing_a_registry_each_check_fingerprints() {
        let Some(url) = postgres_url() else { return };
        let config = in_schema(format!("test_{}", Uuid::now_v7().simple()));
        // Two handles of their own, as two processes would open them.
        let first = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let second = PostgresStore::open_with(&url, config).await.unwrap();
        let s = stream("shared");
        append_any(&first, &s, vec![of_contract("a.Opened", 1, "f1")])
            .await
            .unwrap();
        // The second has not appended a.Opened v1: it registers, and
        // finds the first's fingerprint.
        let changed = append_any(&second, &s, vec![of_contract("a.Opened", 1, "XX")])
            .await
            .unwrap_err();
        assert!(
            matches!(&changed, AppendError::FingerprintMismatch { stored, .. } if *stored == fp("f1")),
            "{changed}"
        );
        append_any(&second, &s, vec![of_contract("a.Opened", 1, "f1")])
            .await
            .unwrap();
        // Once both have appended it, both still refuse a changed one.
        for store in [&first, &second] {
            let changed = append_any(store, &s, vec![of_contract("a.Opened", 1, "YY")])
                .await
                .unwrap_err();
            assert!(matches!(changed, AppendError::FingerprintMismatch { .. }), "{changed}");
        }
        let seen: Vec<(String, Option<u64>)> = second
            .contracts()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.fingerprint, c.first_position))
            .collect();
        assert_eq!(seen, [(fp("f1"), Some(1))]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn processes_changing_one_version_at_once_are_judged_against_each_other() {
        let Some(url) = postgres_url() else { return };
        let config = in_schema(format!("test_{}", Uuid::now_v7().simple()));
        let first = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let second = PostgresStore::open_with(&url, config).await.unwrap();
        // Each change adds a field with a default, so each can read what
        // the stored schema wrote; but one's `channel` is text and the
        // other's a number, so neither can read what the other writes.
        // Whichever is judged second must be judged against the first.
        for round in 0..30 {
            let name = format!("shop.Placed{round}");
            let s = stream(&format!("shop-{round}"));
            append_any(&first, &s, vec![written(&name, 1, TOTAL)]).await.unwrap();
            let text = written(
                &name,
                1,
                r#"{"channel":{"default":"web","type":"String"},"total":{"type":"u64"}}"#,
            );
            let number = written(
                &name,
                1,
                r#"{"channel":{"default":1,"type":"u32"},"total":{"type":"u64"}}"#,
            );
            let (a, b) = tokio::join!(
                append_any(&first, &s, vec![text.clone()]),
                append_any(&second, &s, vec![number.clone()])
            );
            let refused = match (&a, &b) {
                (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
                _ => panic!("round {round}: exactly one change can be stored: {a:?}, {b:?}"),
            };
            assert!(matches!(refused, AppendError::IncompatibleSchema { .. }), "{refused}");
            let recorded = first
                .contracts()
                .await
                .unwrap()
                .into_iter()
                .filter(|c| c.name == name)
                .count();
            assert_eq!(recorded, 2, "round {round}: the stored schema and the change admitted");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_names_postgres_would_not_take_are_refused_up_front() {
        let Some(url) = postgres_url() else { return };
        for (schema, reason) in [
            ("select", "is an SQL keyword"),
            ("user", "is an SQL keyword"),
            ("1abc", "must start with a letter or `_`"),
        ] {
            let config = in_schema(schema.into());
            let refused = PostgresStore::open_with(&url, config).await.err().expect("refused");
            let message = refused.to_string();
            assert!(message.contains(reason), "{schema}: {message}");
            assert!(!message.contains("db error"), "{message}");
            assert!(!refused.is_retryable(), "{message}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_say_whether_a_retry_can_pass() {
        let Some(url) = postgres_url() else { return };
        // Nothing listens on port 1: the server may come up later.
        let unreachable = PostgresStore::open("postgres://treaty@127.0.0.1:1/treaty")
            .await
            .err()
            .expect("refused");
        assert!(unreachable.is_retryable(), "{unreachable}");
        // A schema that is not a plain name stays one.
        let config = in_schema("select".into());
        let refused = PostgresStore::open_with(&url, config).await.err().expect("refused");
        assert!(!refused.is_retryable(), "{refused}");
        // A refused append is never retryable.
        let store = fresh_postgres().await.unwrap();
        let error = store
            .append(&stream("r"), ExpectedVersion::Exact(3), events(0..1))
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{error}");
    }

    /// The URL with an application name, so a test can find its own
    /// connections among those of the tests running beside it.
    fn named(url: &str, name: &str) -> String {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}application_name={name}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn appends_and_reads_get_past_pooled_connections_the_server_closed() {
        let Some(url) = postgres_url() else { return };
        let name = format!("treaty_kill_{}", Uuid::now_v7().simple());
        let config = PostgresConfig {
            connection: PostgresOptions {
                schema: format!("test_{}", Uuid::now_v7().simple()),
                pool_size: 4,
            },
            ..PostgresConfig::default()
        };
        let store = PostgresStore::open_with(&named(&url, &name), config).await.unwrap();
        let (killer, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        let kill = || async {
            killer
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        };
        let s = stream("survivor");
        // Several connections in the pool, so each kill closes several.
        let warm: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .append(&stream(&format!("warm-{i}")), ExpectedVersion::Any, events(0..1))
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in warm {
            task.await.unwrap();
        }
        let mut killed = 0;
        for round in 0..5u64 {
            killed += kill().await;
            // No retry here: the store retries a connection it finds closed.
            store
                .append(&s, ExpectedVersion::Exact(round), events(round..round + 1))
                .await
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            killed += kill().await;
            assert_eq!(store.head().await.unwrap(), 4 + round + 1);
        }
        assert!(killed >= 5, "the test closed {killed} connections");
        kill().await;
        assert_eq!(collect(store.read_all(1)).await.len(), 9);
        kill().await;
        assert_eq!(store.stream_version(&s).await.unwrap(), Some(5));
        drop(killer);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_row_is_reported_and_the_rows_after_it_are_read() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let config = in_schema(schema.clone());
        let store = PostgresStore::open_with(&url, config).await.unwrap();
        let s = stream("damaged");
        store.append(&s, ExpectedVersion::Any, events(0..3)).await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!(
                "UPDATE {schema}.events SET metadata = '{{broken' WHERE position = 2"
            ))
            .await
            .unwrap();
        for read in [store.read_all(1), store.read_stream(&s, 1, Direction::Forward)] {
            let items: Vec<Result<RecordedEvent, ReadError>> = read.collect().await;
            assert_eq!(items.len(), 3);
            assert_eq!(items[0].as_ref().unwrap().position, 1);
            assert!(
                matches!(&items[1], Err(ReadError::Corrupt { position: 2, reason }) if reason.starts_with("metadata:")),
                "{:?}",
                items[1]
            );
            assert_eq!(items[2].as_ref().unwrap().position, 3);
        }
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_layout_2_store_gets_its_wrapped_versions_back() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let fingerprint = fp("big");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        // The tables as layout 2 made them, with the event an earlier build
        // stored at version 3000000000, wrapped to a negative INTEGER.
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.events (
                     position BIGINT PRIMARY KEY, id UUID NOT NULL UNIQUE, stream TEXT NOT NULL,
                     version BIGINT NOT NULL, contract TEXT NOT NULL, contract_version INTEGER NOT NULL,
                     fingerprint TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL,
                     UNIQUE (stream, version));
                 CREATE TABLE {schema}.head (
                     singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), position BIGINT NOT NULL);
                 INSERT INTO {schema}.head VALUES (TRUE, 2);
                 CREATE TABLE {schema}.contracts (
                     name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, schema TEXT,
                     first_position BIGINT, PRIMARY KEY (name, version));
                 INSERT INTO {schema}.events VALUES
                     (1, gen_random_uuid(), 'big-1', 1, 'big.Versioned', -1294967296, '{fingerprint}', '{{}}',
                      '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}'),
                     (2, gen_random_uuid(), 'big-1', 2, 'big.Versioned', 7, '{fingerprint}', '{{}}',
                      '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}');
                 INSERT INTO {schema}.contracts VALUES
                     ('big.Versioned', -1294967296, '{fingerprint}', NULL, 1),
                     ('big.Versioned', 7, '{fingerprint}', NULL, 2);
                 CREATE FUNCTION {schema}.append(
                     TEXT, INTEGER, BIGINT, BOOLEAN, UUID[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[])
                     RETURNS INTEGER LANGUAGE sql AS 'SELECT 1';"
            ))
            .await
            .unwrap();
        let config = in_schema(schema.clone());
        let refused = PostgresStore::open_existing(&url, config.clone())
            .await
            .err()
            .expect("older");
        assert!(
            matches!(
                refused,
                OpenError::OlderSchema {
                    found: 2,
                    current: 5,
                    ..
                }
            ),
            "{refused}"
        );
        let store = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let versions: Vec<u32> = collect(store.read_all(1))
            .await
            .iter()
            .map(|e| e.contract_version)
            .collect();
        assert_eq!(versions, [3_000_000_000, 7]);
        let registered: Vec<u32> = store.contracts().await.unwrap().iter().map(|c| c.version).collect();
        assert_eq!(registered, [7, 3_000_000_000]);
        store
            .append(
                &stream("big-1"),
                ExpectedVersion::Exact(2),
                vec![of_contract("big.Versioned", u32::MAX, "big")],
            )
            .await
            .unwrap();
        drop(store);
        let store = PostgresStore::open_existing(&url, config).await.unwrap();
        assert_eq!(collect(store.read_all(3)).await[0].contract_version, u32::MAX);
        let functions: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = $1 AND p.proname = 'append'",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(functions, 1);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_layout_3_store_moves_from_its_head_row_to_a_sequence() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let fingerprint = fp("l3");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        // The tables as layout 3 made them: positions from a head row.
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.events (
                     position BIGINT PRIMARY KEY, id UUID NOT NULL UNIQUE, stream TEXT NOT NULL,
                     version BIGINT NOT NULL, contract TEXT NOT NULL, contract_version BIGINT NOT NULL,
                     fingerprint TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL,
                     UNIQUE (stream, version));
                 CREATE TABLE {schema}.head (
                     singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), position BIGINT NOT NULL);
                 INSERT INTO {schema}.head VALUES (TRUE, 2);
                 CREATE TABLE {schema}.contracts (
                     name TEXT NOT NULL, version BIGINT NOT NULL, fingerprint TEXT NOT NULL, schema TEXT,
                     first_position BIGINT, PRIMARY KEY (name, version));
                 INSERT INTO {schema}.events VALUES
                     (1, gen_random_uuid(), 'l3-1', 1, 'l3.Happened', 1, '{fingerprint}', '{{}}',
                      '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}'),
                     (2, gen_random_uuid(), 'l3-1', 2, 'l3.Happened', 1, '{fingerprint}', '{{}}',
                      '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}');
                 INSERT INTO {schema}.contracts VALUES ('l3.Happened', 1, '{fingerprint}', NULL, 1);
                 CREATE FUNCTION {schema}.append(
                     TEXT, INTEGER, BIGINT, BOOLEAN, UUID[], TEXT[], BIGINT[], TEXT[], TEXT[], TEXT[])
                     RETURNS TABLE (status TEXT, stream_version BIGINT, first_position BIGINT, last_position BIGINT)
                     LANGUAGE sql AS 'SELECT NULL::TEXT, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT';"
            ))
            .await
            .unwrap();
        let config = in_schema(schema.clone());
        let refused = PostgresStore::open_existing(&url, config.clone())
            .await
            .err()
            .expect("older");
        assert!(
            matches!(
                refused,
                OpenError::OlderSchema {
                    found: 3,
                    current: 5,
                    ..
                }
            ),
            "{refused}"
        );
        let store = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        assert_eq!(store.head().await.unwrap(), 2);
        assert_eq!(
            collect(store.read_all(1))
                .await
                .iter()
                .map(|e| (e.position, e.version))
                .collect::<Vec<_>>(),
            [(1, 1), (2, 2)]
        );
        let appended = store
            .append(
                &stream("l3-1"),
                ExpectedVersion::Exact(2),
                vec![of_contract("l3.Happened", 1, "l3")],
            )
            .await
            .unwrap();
        assert_eq!((appended.first_position, appended.stream_version), (3, 3));
        drop(store);
        let tables: Vec<String> = client
            .query(
                "SELECT tablename::TEXT FROM pg_catalog.pg_tables WHERE schemaname = $1 ORDER BY 1",
                &[&schema],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(tables, ["contracts", "events"], "the head table is gone");
        let store = PostgresStore::open_existing(&url, config).await.unwrap();
        assert_eq!(collect(store.read_all(1)).await.len(), 3);
        drop(store);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_layout_1_registry_gets_first_positions_from_its_events() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let (p1, s1, p2) = (fp("p1"), fp("s1"), fp("p2"));
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        // The tables as the first layout made them, with its counts.
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.events (
                     position BIGINT PRIMARY KEY, id UUID NOT NULL UNIQUE, stream TEXT NOT NULL,
                     version BIGINT NOT NULL, contract TEXT NOT NULL, contract_version INTEGER NOT NULL,
                     fingerprint TEXT NOT NULL, payload TEXT NOT NULL, metadata TEXT NOT NULL,
                     UNIQUE (stream, version));
                 CREATE TABLE {schema}.head (
                     singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton), position BIGINT NOT NULL);
                 INSERT INTO {schema}.head VALUES (TRUE, 3);
                 CREATE TABLE {schema}.contracts (
                     name TEXT NOT NULL, version INTEGER NOT NULL, fingerprint TEXT NOT NULL, schema TEXT,
                     events BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (name, version));
                 INSERT INTO {schema}.events VALUES
                     (1, gen_random_uuid(), 'order-1', 1, 'shop.Placed', 1, '{p1}', '{{}}', '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}'),
                     (2, gen_random_uuid(), 'order-1', 2, 'shop.Shipped', 1, '{s1}', '{{}}', '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}'),
                     (3, gen_random_uuid(), 'order-2', 1, 'shop.Placed', 1, '{p1}', '{{}}', '{{\"timestamp\":\"2025-01-01T00:00:00Z\"}}');
                 INSERT INTO {schema}.contracts VALUES
                     ('shop.Placed', 1, '{p1}', NULL, 2), ('shop.Shipped', 1, '{s1}', NULL, 1),
                     ('shop.Placed', 2, '{p2}', '{{}}', 0);
                 CREATE FUNCTION {schema}.append(
                     TEXT, INTEGER, BIGINT, UUID[], TEXT[], INTEGER[], TEXT[], TEXT[], TEXT[])
                     RETURNS INTEGER LANGUAGE sql AS 'SELECT 1';"
            ))
            .await
            .unwrap();
        let config = in_schema(schema.clone());
        // Opened without changing anything, the old tables are refused.
        let refused = PostgresStore::open_existing(&url, config.clone())
            .await
            .err()
            .expect("older");
        assert!(
            matches!(
                refused,
                OpenError::OlderSchema {
                    found: 1,
                    current: 5,
                    ..
                }
            ),
            "{refused}"
        );
        let store = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let seen = |contracts: Vec<registry::StoredContract>| -> Vec<(String, u32, Option<u64>)> {
            contracts
                .into_iter()
                .map(|c| (c.name, c.version, c.first_position))
                .collect()
        };
        assert_eq!(
            seen(store.contracts().await.unwrap()),
            [
                ("shop.Placed".into(), 1, Some(1)),
                ("shop.Placed".into(), 2, None),
                ("shop.Shipped".into(), 1, Some(2)),
            ]
        );
        // The migrated tables take appends, and the next open leaves them
        // as they are.
        let s = stream("order");
        store
            .append(&s, ExpectedVersion::NoStream, vec![of_contract("shop.Placed", 2, "p2")])
            .await
            .unwrap();
        drop(store);
        // Moved, they open without changes too, and take appends.
        let store = PostgresStore::open_existing(&url, config.clone()).await.unwrap();
        assert_eq!(
            seen(store.contracts().await.unwrap())[1],
            ("shop.Placed".into(), 2, Some(4))
        );
        store
            .append(&s, ExpectedVersion::Exact(1), vec![of_contract("shop.Placed", 2, "p2")])
            .await
            .unwrap();
        assert_eq!(store.head().await.unwrap(), 5);
        // The first layout's append function is gone; only this build's is
        // left.
        let functions: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = $1 AND p.proname = 'append'",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(functions, 1);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_layout_4_registry_becomes_a_schema_registry_with_every_row_kept() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let config = in_schema(schema.clone());
        let store = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let a = shaped("shop.Placed", 1, "a", r#"{"total":{"type":"u64"}}"#);
        registry::register_contracts(&store, &[a.clone(), compiled("shop.Placed", 2, "p2")])
            .await
            .unwrap();
        let s = stream("order");
        append_any(
            &store,
            &s,
            vec![of_contract("shop.Placed", 1, "a"), of_contract("shop.Shipped", 1, "s1")],
        )
        .await
        .unwrap();
        drop(store);
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        // Back to layout 4's registry: one row per version, no format, no
        // time.
        client
            .batch_execute(&format!(
                "ALTER TABLE {schema}.contracts DROP COLUMN schema_format, DROP COLUMN first_seen;
                 ALTER TABLE {schema}.contracts DROP CONSTRAINT contracts_pkey;
                 ALTER TABLE {schema}.contracts ADD PRIMARY KEY (name, version);"
            ))
            .await
            .unwrap();
        let refused = PostgresStore::open_existing(&url, config.clone())
            .await
            .err()
            .expect("older");
        assert!(
            matches!(
                refused,
                OpenError::OlderSchema {
                    found: 4,
                    current: 5,
                    ..
                }
            ),
            "{refused}"
        );
        let store = PostgresStore::open_with(&url, config.clone()).await.unwrap();
        let seen = |rows: Vec<registry::StoredContract>| -> Vec<(String, u32, String, bool, Option<u64>, bool)> {
            rows.into_iter()
                .map(|c| {
                    (
                        c.name,
                        c.version,
                        c.fingerprint,
                        c.schema.is_some(),
                        c.first_position,
                        c.first_seen.is_some(),
                    )
                })
                .collect()
        };
        assert_eq!(
            seen(store.contracts().await.unwrap()),
            [
                ("shop.Placed".into(), 1, fp("a"), true, Some(1), false),
                ("shop.Placed".into(), 2, fp("p2"), true, None, false),
                ("shop.Shipped".into(), 1, fp("s1"), false, Some(2), false),
            ]
        );
        // The moved registry takes a compatible change in place.
        let b = shaped(
            "shop.Placed",
            1,
            "b",
            r#"{"total":{"type":"u64"},"note":{"type":"String","default":""}}"#,
        );
        registry::register_contracts(&store, &[b, compiled("shop.Shipped", 1, "s1")])
            .await
            .unwrap();
        append_any(&store, &s, vec![of_contract("shop.Placed", 1, "b")])
            .await
            .unwrap();
        let rows = seen(store.contracts().await.unwrap());
        assert_eq!(rows[1], ("shop.Placed".into(), 1, fp("b"), true, Some(3), true));
        // A schema a newer Treaty wrote is not compared, and kept.
        client
            .batch_execute(&format!(
                "UPDATE {schema}.contracts SET schema_format = 7 WHERE fingerprint = '{}'",
                fp("a")
            ))
            .await
            .unwrap();
        let newer = registry::register_contracts(&store, &[compiled("shop.Placed", 1, "c")])
            .await
            .unwrap_err();
        assert!(
            newer.to_string().contains(&format!(
                "shop.Placed v1: the stored schema with fingerprint {} cannot be read: its schema was written by a \
                 newer Treaty (schema format 7",
                fp("a")
            )),
            "{newer}"
        );
        assert_eq!(store.contracts().await.unwrap().len(), 4);
        drop(store);
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        drop(client);
        connection.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_an_existing_store_names_its_missing_tables_and_creates_nothing() {
        let Some(url) = postgres_url() else { return };
        let schema = format!("test_{}", Uuid::now_v7().simple());
        let missing = |error: OpenError| match error {
            OpenError::Missing {
                component: Component::EventStore,
                location,
                missing,
                found,
            } => {
                assert!(location.ends_with(&format!("(schema {schema})")), "{location}");
                (missing, found)
            }
            other => panic!("{other}"),
        };
        let refused = PostgresStore::open_existing(&url, in_schema(schema.clone()))
            .await
            .err()
            .expect("no store");
        assert!(
            refused
                .to_string()
                .contains("its `events` and `contracts` tables are missing"),
            "{refused}"
        );
        assert_eq!(missing(refused), (vec!["events", "contracts"], vec![]));
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        let connection = tokio::spawn(connection);
        let schemas: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = $1",
                &[&schema],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(schemas, 0, "opening created the schema");

        drop(PostgresStore::open_with(&url, in_schema(schema.clone())).await.unwrap());
        client
            .batch_execute(&format!("DROP TABLE {schema}.contracts"))
            .await
            .unwrap();
        let refused = PostgresStore::open_existing(&url, in_schema(schema.clone()))
            .await
            .err()
            .expect("no registry");
        assert_eq!(missing(refused), (vec!["contracts"], vec!["events"]));
        client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
        drop(client);
        connection.await.unwrap().unwrap();
    }
}

/// A store's mode decides what an append may change in place: a removed
/// field is a change the new code reads (backward) but the old code
/// does not (full). `backward` and `full` are empty stores in each mode.
async fn appends_judge_in_the_store_s_mode(backward: impl EventStore, full: impl EventStore) {
    let s = stream("moded");
    let removed = r#"{"channel":{"default":"web","type":"String"}}"#;
    append_any(&backward, &s, vec![written("shop.Placed", 1, WITH_CHANNEL)])
        .await
        .unwrap();
    append_any(&full, &s, vec![written("shop.Placed", 1, WITH_CHANNEL)])
        .await
        .unwrap();
    backward
        .append(&s, ExpectedVersion::Any, vec![written("shop.Placed", 1, removed)])
        .await
        .unwrap();
    let error = full
        .append(&s, ExpectedVersion::Any, vec![written("shop.Placed", 1, removed)])
        .await
        .unwrap_err();
    let AppendError::IncompatibleSchema { mode, problems, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(*mode, "full");
    assert_eq!(
        problems.iter().map(|p| p.rule_id()).collect::<Vec<_>>(),
        [Some("field-removed")],
        "{error}"
    );
    assert_eq!(full.head().await.unwrap(), 1);
}

#[tokio::test]
async fn memory_appends_judge_in_the_store_s_mode() {
    appends_judge_in_the_store_s_mode(
        MemoryStore::new(),
        MemoryStore::new().with_compatibility(registry::Mode::Full),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_appends_judge_in_the_store_s_mode() {
    let dir = tempfile::tempdir().unwrap();
    let open = |name: &str, compatibility| {
        SqliteStore::open_with(
            dir.path().join(name),
            SqliteConfig {
                compatibility,
                ..SqliteConfig::default()
            },
        )
        .unwrap()
    };
    appends_judge_in_the_store_s_mode(
        open("backward.db", registry::Mode::Backward),
        open("full.db", registry::Mode::Full),
    )
    .await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_appends_judge_in_the_store_s_mode() {
    let Some(url) = postgres_url() else { return };
    let open = |compatibility| {
        let url = url.clone();
        async move {
            let config = PostgresConfig {
                compatibility,
                ..in_schema(format!("test_{}", Uuid::now_v7().simple()))
            };
            PostgresStore::open_with(&url, config).await.unwrap()
        }
    };
    appends_judge_in_the_store_s_mode(open(registry::Mode::Backward).await, open(registry::Mode::Full).await).await;
}

/// Whether a replay of an event appended with a header gives it back.
async fn a_replay_keeps_headers(store: impl EventStore) -> bool {
    let s = stream("replay-headers");
    let mut e = event(1);
    e.metadata.headers.insert("user".into(), "ann".into());
    store.append(&s, ExpectedVersion::NoStream, vec![e]).await.unwrap();
    let replayed = collect(store.replay_stream(&s, 1)).await;
    assert_eq!(versions(&replayed), [1]);
    !replayed[0].metadata.headers.is_empty()
}

/// The SQLite and PostgreSQL stores leave the headers out of a replay,
/// as `EventStore::replay_stream` allows; the in-memory store, whose
/// events are already decoded, keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_leave_headers_out_but_in_memory() {
    assert!(a_replay_keeps_headers(MemoryStore::new()).await);
    let dir = tempfile::tempdir().unwrap();
    assert!(!a_replay_keeps_headers(SqliteStore::open(dir.path().join("events.db")).unwrap()).await);
    #[cfg(feature = "postgres")]
    if let Some(store) = fresh_postgres().await {
        assert!(!a_replay_keeps_headers(store).await);
    }
}
