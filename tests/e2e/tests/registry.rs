//! The store's schema registry applies the lint's rule book: a store
//! written with contracts A, then started with B (A changed in place),
//! starts when the change is compatible and is refused with the rule ids
//! the lint reports when it is not.
//!
//! - The cases of `tests/lint/` that build.rs compiles into Rust (before
//!   and after, `lint_cases`) go through generated code end to end: their
//!   `CONTRACTS`' packed schemas are registered, an event the old code
//!   wrote is appended, the new code registers, and, when it starts, the
//!   stored event decodes into the new type; on every backend. The same
//!   without any registration: the store judges the new code's first
//!   append by the schema its event carries, with the same rule ids.
//! - Every case of the corpus is run through the store's check with its
//!   contracts compiled by the language, in the case's mode: every event
//!   version changed in place is refused exactly when the lint reports a
//!   breaking finding for it, with the lint's rule ids.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use serde_json::{json, Value};
use treaty::store::registry::{self, CompiledContract, ContractProblem, Mode, RegisterError};
use treaty::store::*;
use treaty::ContractInfo;
use treaty_e2e::lint_cases;

const ORDER: &str = "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11";

/// The rule ids of a refused registration, sorted; `Ok` when it started.
fn refused_with(result: Result<(), RegisterError>) -> Result<(), Vec<String>> {
    match result {
        Ok(()) => Ok(()),
        Err(RegisterError::Mismatch(report)) => Err(report
            .problems
            .iter()
            .map(|p| match p.rule_id() {
                Some(id) => id.to_string(),
                None => panic!("not a finding of the rule book: {p}"),
            })
            .collect()),
        Err(e) => panic!("{e}"),
    }
}

/// Writes `old` (the old code's event) with A registered, registers B
/// and, when it starts, reads the stored event back as the new code.
async fn start_after<Old: treaty::Event, New: treaty::Event>(
    store: impl EventStore,
    old: Value,
) -> Result<New, Vec<String>> {
    let a = CompiledContract::from_info(&[ContractInfo::of::<Old>()]);
    let b = CompiledContract::from_info(&[ContractInfo::of::<New>()]);
    assert!(
        a.iter().chain(&b).all(|c| c.schema.is_some()),
        "generated code carries the schemas"
    );
    registry::register_contracts(&store, &a).await.unwrap();
    let event = Old::decode(1, old.to_string().as_bytes()).expect("the old code's event");
    let stream = StreamName::new("order-1").unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![NewEvent::from_contract(&event, Metadata::now()).unwrap()],
        )
        .await
        .unwrap();
    refused_with(registry::register_contracts(&store, &b).await)?;
    // Started: the new code appends with its own fingerprint, and reads
    // every stored event.
    let stored: Vec<RecordedEvent> = store
        .read_stream(&stream, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap();
    let read = New::decode(stored[0].contract_version, &stored[0].payload).expect("a stored event decodes");
    let appended = NewEvent::from_contract(&read, Metadata::now()).unwrap();
    store
        .append(&stream, ExpectedVersion::Exact(1), vec![appended])
        .await
        .unwrap();
    let fingerprints: BTreeSet<String> = store
        .contracts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.fingerprint)
        .collect();
    assert!(fingerprints.contains(Old::FINGERPRINT) && fingerprints.contains(New::FINGERPRINT));
    Ok(read)
}

/// Writes `old` (the old code's event), then appends the new code's
/// event, `new` or the old event read by the new code, with no build
/// registering anything: the store judges the new schema at the append.
/// Then reads every stored event as the new code.
async fn append_after<Old: treaty::Event, New: treaty::Event>(
    store: impl EventStore,
    old: Value,
    new: Option<Value>,
) -> Result<New, Vec<String>> {
    let stream = StreamName::new("order-1").unwrap();
    let event = Old::decode(1, old.to_string().as_bytes()).expect("the old code's event");
    let written = NewEvent::from_contract(&event, Metadata::now()).unwrap();
    store
        .append(&stream, ExpectedVersion::Any, vec![written.clone()])
        .await
        .unwrap();
    let new = match new {
        Some(new) => New::decode(1, new.to_string().as_bytes()).expect("the new code's event"),
        None => New::decode(1, &written.payload).expect("the new code reads the old event"),
    };
    let appended = NewEvent::from_contract(&new, Metadata::now()).unwrap();
    match store.append(&stream, ExpectedVersion::Exact(1), vec![appended]).await {
        Ok(_) => {}
        Err(AppendError::IncompatibleSchema { problems, .. }) => {
            assert_eq!(store.head().await.unwrap(), 1, "nothing was written");
            return Err(problems
                .iter()
                .map(|p| {
                    p.rule_id()
                        .unwrap_or_else(|| panic!("not a finding of the rule book: {p}"))
                        .to_string()
                })
                .collect());
        }
        Err(e) => panic!("{e}"),
    }
    let stored: Vec<RecordedEvent> = store
        .read_stream(&stream, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        stored.iter().map(|e| e.fingerprint.as_str()).collect::<Vec<_>>(),
        [Old::FINGERPRINT, New::FINGERPRINT]
    );
    let rows = store.contracts().await.unwrap();
    assert!(
        rows.iter().all(|r| r.schema.is_some()),
        "each schema is recorded: {rows:?}"
    );
    for e in &stored[1..] {
        New::decode(e.contract_version, &e.payload).expect("the new event decodes");
    }
    Ok(New::decode(stored[0].contract_version, &stored[0].payload).expect("a stored event decodes"))
}

/// Runs a case on every backend: memory, SQLite and, when
/// `TREATY_TEST_POSTGRES` names a server, PostgreSQL.
macro_rules! on_every_backend {
    ($case:ident, $old:expr, |$read:ident| $check:expr) => {{
        use lint_cases::$case::{after, before};
        let dir = tempfile::tempdir().unwrap();
        let mut results = vec![
            start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(MemoryStore::new(), $old).await,
            start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(
                SqliteStore::open(dir.path().join("events.db")).unwrap(),
                $old,
            )
            .await,
        ];
        if let Some(store) = postgres().await {
            results.push(start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(store, $old).await);
        }
        results.push(
            append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(MemoryStore::new(), $old, None).await,
        );
        results.push(
            append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(
                SqliteStore::open(dir.path().join("appended.db")).unwrap(),
                $old,
                None,
            )
            .await,
        );
        if let Some(store) = postgres().await {
            results.push(append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(store, $old, None).await);
        }
        for result in results {
            match result {
                Ok($read) => $check,
                Err(ids) => assert_eq!(ids, Vec::<String>::new(), "{} is refused", stringify!($case)),
            }
        }
    }};
}

#[cfg(feature = "postgres")]
type Postgres = PostgresStore;
/// Built without PostgreSQL, [`postgres`] gives no store; any store type
/// fits the `None`.
#[cfg(not(feature = "postgres"))]
type Postgres = MemoryStore;

/// A PostgreSQL store in a schema of its own, when a server is given.
async fn postgres() -> Option<Postgres> {
    #[cfg(feature = "postgres")]
    {
        let url = treaty_testing::server_url("TREATY_TEST_POSTGRES")?;
        let config = PostgresConfig {
            connection: PostgresOptions {
                schema: format!("e2e_{}", treaty::Uuid::now_v7().simple()),
                ..PostgresOptions::default()
            },
            ..PostgresConfig::default()
        };
        Some(PostgresStore::open_with(&url, config).await.unwrap())
    }
    #[cfg(not(feature = "postgres"))]
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compatible_changes_in_place_start_and_read_the_stored_events() {
    on_every_backend!(ok_default_added, json!({"order": ORDER, "channel": "app"}), |read| {
        assert_eq!(read.channel, "app")
    });
    on_every_backend!(
        mode_backward_allows_optional,
        json!({"order": ORDER, "total": {"cents": 250, "currency": "EUR"}, "method": "Card", "note": null, "count": 3}),
        |read| assert_eq!((read.count, read.total.cents), (Some(3), 250))
    );
    on_every_backend!(
        integer_widened,
        json!({"order": ORDER, "total": {"cents": -1, "currency": "USD"}, "method": "Cash", "note": "gift", "count": u32::MAX}),
        |read| assert_eq!(read.count, u64::from(u32::MAX))
    );
    on_every_backend!(
        ok_defaulted_field_removed,
        json!({"order": ORDER, "count": 2, "channel": "app"}),
        |read| assert_eq!(read.count, 2)
    );
    on_every_backend!(
        mode_backward_allows_field_removal,
        json!({"order": ORDER, "total": {"cents": 1, "currency": "EUR"}, "method": "Card", "note": null, "count": 9}),
        |read| assert_eq!(read.total.currency, "EUR")
    );
}

/// Runs a breaking case on the SQLite store and returns the rule ids.
/// Runs a breaking case on every backend, registering the new code and
/// appending its event `$new` without registering, and returns the rule
/// ids, the same from each.
macro_rules! refused {
    ($case:ident, $old:expr, $new:expr) => {{
        use lint_cases::$case::{after, before};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
        let refused = start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(store, $old).await;
        let mut others = vec![
            start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(MemoryStore::new(), $old).await,
            append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(MemoryStore::new(), $old, Some($new))
                .await,
            append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(
                SqliteStore::open(dir.path().join("appended.db")).unwrap(),
                $old,
                Some($new),
            )
            .await,
        ];
        if let Some(store) = postgres().await {
            others.push(start_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(store, $old).await);
        }
        if let Some(store) = postgres().await {
            others.push(
                append_after::<before::shop::OrderPlaced, after::shop::OrderPlaced>(store, $old, Some($new)).await,
            );
        }
        for other in &others {
            assert_eq!(refused.as_ref().err(), other.as_ref().err());
        }
        refused.err().expect("refused")
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaking_changes_in_place_are_refused_with_the_lints_rule_ids() {
    let old =
        json!({"order": ORDER, "total": {"cents": 1, "currency": "EUR"}, "method": "Cash", "note": null, "count": 1});
    let with = |key: &str, value: Value| {
        let mut new = old.clone();
        new[key] = value;
        new
    };
    assert_eq!(
        refused!(field_added_required, old.clone(), with("channel", json!("app"))),
        ["field-added-required"]
    );
    assert_eq!(
        refused!(
            field_type_changed,
            json!({"order": ORDER, "label": "gift"}),
            json!({"order": ORDER, "label": 7})
        ),
        ["field-type-changed"]
    );
    assert_eq!(
        refused!(
            integer_narrowed,
            json!({"order": ORDER, "delta": 1}),
            json!({"order": ORDER, "delta": 1})
        ),
        ["integer-narrowed"]
    );
    assert_eq!(
        refused!(enum_variant_removed, old.clone(), with("method", json!("Card"))),
        ["enum-variant-removed"]
    );
}

// Every case of the corpus, through the language.

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../lint")
}

fn compile(dir: &Path) -> Vec<treaty_dsl::CanonicalContract> {
    let mut sources = treaty_dsl::Sources::new();
    sources.load(&[dir]).unwrap();
    let schema = treaty_dsl::compile(&sources, &treaty_dsl::Config::default())
        .unwrap_or_else(|d| panic!("{}: {d}", dir.display()));
    treaty_dsl::contracts(&schema)
}

/// The events of `contracts` as the store registers them.
fn events(contracts: &[treaty_dsl::CanonicalContract]) -> Vec<CompiledContract> {
    contracts
        .iter()
        .filter(|c| c.kind == treaty_dsl::ContractKind::Event)
        .map(|c| CompiledContract {
            name: c.name.clone(),
            version: c.version,
            fingerprint: c.fingerprint.clone(),
            schema: Some(c.schema.to_string()),
        })
        .collect()
}

/// The case's mode (`after/treaty.toml`, else full, as the lint's) and
/// its breaking findings: rule ids by contract and version.
fn lint_expectation(case: &Path) -> (Mode, BTreeMap<(String, u32), BTreeSet<String>>) {
    let config = std::fs::read_to_string(case.join("after/treaty.toml")).unwrap_or_default();
    let mode = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("mode = "))
        .map_or(Mode::Full, |name| registry::parse_mode(name.trim_matches('"')).unwrap());
    let expected = std::fs::read_to_string(case.join("expected.txt")).unwrap();
    let mut breaking: BTreeMap<(String, u32), BTreeSet<String>> = BTreeMap::new();
    for line in expected.lines() {
        // error[rule] contract vN ...
        let Some(rest) = line.strip_prefix("error[") else {
            continue;
        };
        let (rule, rest) = rest.split_once("] ").unwrap();
        let mut words = rest.split_whitespace();
        let contract = words.next().unwrap().to_string();
        let Some(version) = words
            .next()
            .and_then(|v| v.strip_prefix('v'))
            .and_then(|v| v.parse().ok())
        else {
            continue;
        };
        breaking
            .entry((contract, version))
            .or_default()
            .insert(rule.to_string());
    }
    (mode, breaking)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_corpus_case_starts_or_is_refused_as_the_lint_says() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.txt").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() > 50, "the corpus is there");
    let mut compared = 0;
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let a = events(&compile(&case.join("before")));
        let b = events(&compile(&case.join("after")));
        let (mode, lint) = lint_expectation(&case);
        // The event versions B changed in place: what the store compares.
        let changed: BTreeSet<(String, u32)> = b
            .iter()
            .filter(|nb| {
                a.iter()
                    .any(|na| (&na.name, na.version) == (&nb.name, nb.version) && na.fingerprint != nb.fingerprint)
            })
            .map(|c| (c.name.clone(), c.version))
            .collect();
        let store = MemoryStore::new().with_compatibility(mode);
        registry::register_contracts(&store, &a).await.unwrap();
        // One stored event of every version A has.
        let stream = StreamName::new("case").unwrap();
        for c in &a {
            let event = NewEvent {
                id: treaty::Uuid::now_v7(),
                contract: c.name.clone(),
                contract_version: c.version,
                fingerprint: c.fingerprint.clone(),
                payload: b"{}".to_vec(),
                metadata: Metadata::now(),
                schema: None,
            };
            store.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap();
        }
        // B keeps every version A stored, as the store asks; what it
        // dropped or renamed is the lint's and the history's business.
        let kept: Vec<CompiledContract> = a
            .iter()
            .filter(|c| !b.iter().any(|nb| (&nb.name, nb.version) == (&c.name, c.version)))
            .cloned()
            .chain(b.iter().cloned())
            .collect();
        let found: BTreeMap<(String, u32), BTreeSet<String>> = match registry::register_contracts(&store, &kept).await {
            Ok(()) => BTreeMap::new(),
            Err(RegisterError::Mismatch(report)) => {
                let mut found: BTreeMap<(String, u32), BTreeSet<String>> = BTreeMap::new();
                for problem in &report.problems {
                    let ContractProblem::Incompatible {
                        contract,
                        version,
                        finding,
                        ..
                    } = problem
                    else {
                        panic!("{name}: {problem}");
                    };
                    found
                        .entry((contract.clone(), *version))
                        .or_default()
                        .insert(finding.rule.id().to_string());
                }
                found
            }
            Err(e) => panic!("{name}: {e}"),
        };
        // The lint's breaking findings on the versions changed in place.
        let expected: BTreeMap<(String, u32), BTreeSet<String>> =
            lint.into_iter().filter(|(key, _)| changed.contains(key)).collect();
        // Every version the lint reports is refused, and the store
        // reports, per contract, the lint's rule ids. The lint reports a
        // change seen from several versions once, on the newest; the store
        // refuses each stored version it reaches.
        for key in expected.keys() {
            assert!(
                found.contains_key(key),
                "{name} (mode {mode}): the lint reports {key:?}, the store started; it found {found:?}"
            );
        }
        let per_contract = |by_version: &BTreeMap<(String, u32), BTreeSet<String>>| {
            let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for ((contract, _), ids) in by_version {
                out.entry(contract.clone()).or_default().extend(ids.iter().cloned());
            }
            out
        };
        assert_eq!(
            per_contract(&found),
            per_contract(&expected),
            "{name} (mode {mode}): the store found {found:?}, the lint {expected:?}"
        );
        compared += changed.len();
    }
    assert!(compared > 30, "{compared} versions changed in place were compared");
}
