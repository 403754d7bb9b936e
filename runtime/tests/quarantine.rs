//! The quarantine conformance suite: the same tests, with the same
//! assertions, run against every `Quarantine` backend. A backend is added
//! with one line at the bottom of this file.

use std::path::PathBuf;

use treaty_runtime::bus::{MemoryQuarantine, ParkedMessage, Quarantine, QuarantineError, SqliteQuarantine};
use treaty_runtime::storage::{Component, Durability, OpenError};
use treaty_runtime::{Timestamp, Uuid};

/// 2024-05-01T12:00:00Z, in milliseconds: backends keep milliseconds.
const NOON: i64 = 1_714_564_800_000;

fn at(millis_after_noon: i64) -> Timestamp {
    Timestamp::from_millisecond(NOON + millis_after_noon).unwrap()
}

/// A message parked `parked_after` ms after noon.
fn message(contract: &str, parked_after: i64) -> ParkedMessage {
    ParkedMessage {
        id: Uuid::now_v7(),
        contract: Some(contract.to_string()),
        body: format!(r#"{{"contract":"{contract}"}}"#).into_bytes(),
        error: format!("{contract} failed"),
        attempts: 5,
        first_seen: at(parked_after - 1500),
        parked_at: at(parked_after),
        retry_requested: false,
    }
}

fn ids(messages: &[ParkedMessage]) -> Vec<Uuid> {
    messages.iter().map(|m| m.id).collect()
}

pub async fn parked_messages_are_listed_oldest_first_and_found_by_id(quarantine: impl Quarantine) {
    assert!(quarantine.list().await.unwrap().is_empty());
    // Parked in another order than their times.
    let (late, early, middle) = (
        message("a.Late", 3000),
        message("a.Early", 1000),
        message("a.Middle", 2000),
    );
    for parked in [&late, &early, &middle] {
        quarantine.park(parked.clone()).await.unwrap();
    }
    let listed = quarantine.list().await.unwrap();
    assert_eq!(listed, vec![early.clone(), middle.clone(), late.clone()]);
    assert_eq!(quarantine.get(middle.id).await.unwrap(), Some(middle));
    assert!(quarantine.retries().await.unwrap().is_empty());
}

pub async fn unknown_ids_are_not_found(quarantine: impl Quarantine) {
    quarantine.park(message("a.Parked", 0)).await.unwrap();
    let unknown = Uuid::now_v7();
    assert_eq!(quarantine.get(unknown).await.unwrap(), None);
    assert!(!quarantine.request_retry(unknown).await.unwrap());
    assert!(!quarantine.remove(unknown).await.unwrap());
    assert_eq!(quarantine.list().await.unwrap().len(), 1);
    assert!(quarantine.retries().await.unwrap().is_empty());
}

pub async fn parking_a_parked_message_again_replaces_it(quarantine: impl Quarantine) {
    let first = message("a.Again", 1000);
    quarantine.park(first.clone()).await.unwrap();
    quarantine.request_retry(first.id).await.unwrap();
    // Sent again, failed again: a new parking of the same message.
    let again = ParkedMessage {
        body: br#"{"attempt":2}"#.to_vec(),
        error: "failed again".to_string(),
        attempts: 9,
        parked_at: at(5000),
        retry_requested: false,
        ..first.clone()
    };
    quarantine.park(again.clone()).await.unwrap();
    assert_eq!(quarantine.list().await.unwrap(), vec![again.clone()]);
    assert_eq!(quarantine.get(first.id).await.unwrap(), Some(again));
    assert!(quarantine.retries().await.unwrap().is_empty());
}

pub async fn a_retry_request_is_idempotent_and_listed_until_removed(quarantine: impl Quarantine) {
    let (one, two, other) = (message("a.One", 1000), message("a.Two", 2000), message("a.Other", 3000));
    for parked in [&one, &two, &other] {
        quarantine.park(parked.clone()).await.unwrap();
    }
    for _ in 0..2 {
        assert!(quarantine.request_retry(two.id).await.unwrap());
        assert!(quarantine.request_retry(one.id).await.unwrap());
    }
    let mut retries = ids(&quarantine.retries().await.unwrap());
    retries.sort();
    let mut expected = vec![one.id, two.id];
    expected.sort();
    assert_eq!(retries, expected);
    let requested = quarantine.get(two.id).await.unwrap().unwrap();
    assert_eq!(
        requested,
        ParkedMessage {
            retry_requested: true,
            ..two.clone()
        }
    );
    assert!(!quarantine.get(other.id).await.unwrap().unwrap().retry_requested);

    // The bus removes what it sent again.
    assert!(quarantine.remove(two.id).await.unwrap());
    assert_eq!(ids(&quarantine.retries().await.unwrap()), vec![one.id]);
    assert_eq!(ids(&quarantine.list().await.unwrap()), vec![one.id, other.id]);
}

pub async fn removing_is_idempotent(quarantine: impl Quarantine) {
    let parked = message("a.Gone", 0);
    quarantine.park(parked.clone()).await.unwrap();
    assert!(quarantine.remove(parked.id).await.unwrap());
    assert!(!quarantine.remove(parked.id).await.unwrap());
    assert_eq!(quarantine.get(parked.id).await.unwrap(), None);
    assert!(quarantine.list().await.unwrap().is_empty());
    assert!(!quarantine.request_retry(parked.id).await.unwrap());
}

pub async fn bodies_and_texts_round_trip_exactly(quarantine: impl Quarantine) {
    // Bytes that were not an envelope, not even UTF-8, with no contract.
    let garbage = ParkedMessage {
        id: Uuid::now_v7(),
        contract: None,
        body: vec![0, 0xff, 0xfe, b'\'', b'"', b'\\', 0x80],
        error: "the message is not a Treaty envelope: expected value at line 1 column 1".to_string(),
        attempts: 1,
        first_seen: at(0),
        parked_at: at(1),
        retry_requested: false,
    };
    let unicode = ParkedMessage {
        contract: Some("fabrik.Größe".to_string()),
        body: "{\"name\":\"Zoë \\\"the\\\" 🚗\"}".as_bytes().to_vec(),
        error: "first line\nsecond line: 'quoted' \"double\" ✓\n".to_string(),
        attempts: u32::MAX,
        first_seen: Timestamp::from_millisecond(0).unwrap(),
        parked_at: at(2),
        ..message("ignored", 0)
    };
    for parked in [&garbage, &unicode] {
        quarantine.park(parked.clone()).await.unwrap();
    }
    assert_eq!(quarantine.get(garbage.id).await.unwrap(), Some(garbage.clone()));
    assert_eq!(quarantine.get(unicode.id).await.unwrap(), Some(unicode.clone()));
    assert_eq!(quarantine.list().await.unwrap(), vec![garbage, unicode]);
}

pub async fn many_parks_at_once_all_land(quarantine: impl Quarantine) {
    let messages: Vec<ParkedMessage> = (0..32).map(|n| message("a.Burst", n)).collect();
    let parks = messages.iter().map(|m| {
        let quarantine = quarantine.clone();
        let m = m.clone();
        tokio::spawn(async move { quarantine.park(m).await })
    });
    for park in parks.collect::<Vec<_>>() {
        park.await.unwrap().unwrap();
    }
    assert_eq!(quarantine.list().await.unwrap(), messages);
}

pub async fn a_requested_retry_is_claimed_once(quarantine: impl Quarantine) {
    let (requested, not_requested) = (message("a.Requested", 1000), message("a.NotRequested", 2000));
    for parked in [&requested, &not_requested] {
        quarantine.park(parked.clone()).await.unwrap();
    }
    assert_eq!(quarantine.claim_retry(not_requested.id).await.unwrap(), None);
    assert_eq!(quarantine.claim_retry(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        quarantine.claim_retry(requested.id).await.unwrap(),
        None,
        "no retry requested yet"
    );
    assert!(quarantine.request_retry(requested.id).await.unwrap());

    // The message as stored, its request taken.
    let claimed = quarantine.claim_retry(requested.id).await.unwrap();
    assert_eq!(claimed, Some(requested.clone()));
    assert_eq!(
        quarantine.claim_retry(requested.id).await.unwrap(),
        None,
        "claimed already"
    );
    assert!(quarantine.retries().await.unwrap().is_empty());
    // Still parked until it is removed, and the request can be made again.
    assert_eq!(quarantine.get(requested.id).await.unwrap(), Some(requested.clone()));
    assert!(quarantine.request_retry(requested.id).await.unwrap());
    assert_eq!(
        quarantine.claim_retry(requested.id).await.unwrap(),
        Some(requested.clone())
    );
    assert_eq!(quarantine.get(not_requested.id).await.unwrap(), Some(not_requested));
}

pub async fn concurrent_claims_of_one_retry_have_one_winner(quarantine: impl Quarantine) {
    const MESSAGES: usize = 8;
    const CLAIMS: usize = 6;
    let messages: Vec<ParkedMessage> = (0..MESSAGES as i64).map(|n| message("a.Contended", n)).collect();
    for parked in &messages {
        quarantine.park(parked.clone()).await.unwrap();
        quarantine.request_retry(parked.id).await.unwrap();
    }
    // Every claim of every message at once, interleaved.
    let claims: Vec<_> = (0..CLAIMS)
        .flat_map(|_| messages.iter().map(|m| m.id))
        .map(|id| {
            let quarantine = quarantine.clone();
            tokio::spawn(async move { (id, quarantine.claim_retry(id).await.unwrap()) })
        })
        .collect();
    let mut winners = std::collections::HashMap::new();
    for claim in claims {
        let (id, claimed) = claim.await.unwrap();
        if let Some(claimed) = claimed {
            assert_eq!(claimed.id, id);
            *winners.entry(id).or_insert(0) += 1;
        }
    }
    for parked in &messages {
        assert_eq!(winners.get(&parked.id), Some(&1), "claims of {} that won", parked.id);
    }
    assert!(quarantine.retries().await.unwrap().is_empty());
    assert_eq!(quarantine.list().await.unwrap().len(), MESSAGES);
}

pub async fn a_sent_message_is_removed_only_if_it_was_not_parked_again(quarantine: impl Quarantine) {
    // Parked at a time finer than backends keep: the parking time the
    // claim returns is the one stored, and removing with it matches.
    let first = ParkedMessage {
        parked_at: at(1000).checked_add(jiff::SignedDuration::from_nanos(123_456)).unwrap(),
        ..message("a.Resent", 1000)
    };
    quarantine.park(first.clone()).await.unwrap();
    quarantine.request_retry(first.id).await.unwrap();
    let claimed = quarantine.claim_retry(first.id).await.unwrap().unwrap();

    // Sent again, it failed at once and was parked anew before the bus
    // that sent it removed it.
    let again = ParkedMessage {
        error: "failed again".to_string(),
        attempts: 1,
        parked_at: at(4000),
        ..first.clone()
    };
    quarantine.park(again.clone()).await.unwrap();
    assert!(!quarantine
        .remove_if_parked_at(first.id, claimed.parked_at)
        .await
        .unwrap());
    assert!(!quarantine.remove_if_parked_at(first.id, first.parked_at).await.unwrap());
    assert_eq!(
        quarantine.get(first.id).await.unwrap(),
        Some(again.clone()),
        "the new parking stays"
    );
    // An operator can retry the new parking, which the bus then removes.
    quarantine.request_retry(again.id).await.unwrap();
    let claimed = quarantine.claim_retry(again.id).await.unwrap().unwrap();
    assert_eq!(claimed.parked_at, again.parked_at);
    assert!(quarantine
        .remove_if_parked_at(again.id, claimed.parked_at)
        .await
        .unwrap());
    assert_eq!(quarantine.get(again.id).await.unwrap(), None);
    assert!(!quarantine
        .remove_if_parked_at(again.id, claimed.parked_at)
        .await
        .unwrap());
    assert!(!quarantine
        .remove_if_parked_at(Uuid::now_v7(), claimed.parked_at)
        .await
        .unwrap());
}

pub async fn a_claimed_message_is_removed_with_the_parking_time_claimed(quarantine: impl Quarantine) {
    // Sub-millisecond parking times, such as `Timestamp::now()` gives.
    let parked = ParkedMessage {
        parked_at: at(2000).checked_add(jiff::SignedDuration::from_nanos(999_999)).unwrap(),
        ..message("a.Fine", 2000)
    };
    let other = message("a.Other", 3000);
    for message in [&parked, &other] {
        quarantine.park(message.clone()).await.unwrap();
    }
    quarantine.request_retry(parked.id).await.unwrap();
    let claimed = quarantine.claim_retry(parked.id).await.unwrap().unwrap();
    assert_eq!(quarantine.get(parked.id).await.unwrap(), Some(claimed.clone()));
    // A different parking time of the same message removes nothing.
    let earlier = claimed
        .parked_at
        .checked_sub(jiff::SignedDuration::from_millis(1))
        .unwrap();
    assert!(!quarantine.remove_if_parked_at(parked.id, earlier).await.unwrap());
    assert!(!quarantine
        .remove_if_parked_at(parked.id, other.parked_at)
        .await
        .unwrap());
    assert!(quarantine
        .remove_if_parked_at(parked.id, claimed.parked_at)
        .await
        .unwrap());
    assert_eq!(ids(&quarantine.list().await.unwrap()), vec![other.id]);
}

/// Declares every conformance test for one backend. `$make` is an async
/// block that returns a fresh, empty quarantine, or `None` to skip.
macro_rules! conformance {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            conformance!(@cases $make;
                parked_messages_are_listed_oldest_first_and_found_by_id,
                unknown_ids_are_not_found,
                parking_a_parked_message_again_replaces_it,
                a_retry_request_is_idempotent_and_listed_until_removed,
                removing_is_idempotent,
                bodies_and_texts_round_trip_exactly,
                many_parks_at_once_all_land,
                a_requested_retry_is_claimed_once,
                concurrent_claims_of_one_retry_have_one_winner,
                a_sent_message_is_removed_only_if_it_was_not_parked_again,
                a_claimed_message_is_removed_with_the_parking_time_claimed
            );
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(quarantine) = ($make) else { return };
                super::$case(quarantine).await;
            }
        )*
    };
}

/// A database file in a directory of its own. The directory is leaked on
/// purpose: it must outlive the quarantine, and the OS cleans the temp dir.
fn fresh_path() -> PathBuf {
    tempfile::tempdir().unwrap().keep().join("events.db")
}

conformance!(memory, Some(MemoryQuarantine::new()));
conformance!(sqlite, Some(SqliteQuarantine::open(fresh_path()).unwrap()));

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parked_messages_survive_reopening() {
        let path = fresh_path();
        let parked = message("a.Kept", 0);
        {
            let quarantine = SqliteQuarantine::open(&path).unwrap();
            quarantine.park(parked.clone()).await.unwrap();
            quarantine.request_retry(parked.id).await.unwrap();
        }
        let quarantine = SqliteQuarantine::open(&path).unwrap();
        assert_eq!(ids(&quarantine.retries().await.unwrap()), vec![parked.id]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn claims_from_two_processes_have_one_winner() {
        // Two opens of one file, each with its own connection, like the
        // buses of two processes.
        let path = fresh_path();
        let (a, b) = (
            SqliteQuarantine::open(&path).unwrap(),
            SqliteQuarantine::open(&path).unwrap(),
        );
        for round in 0..20 {
            let parked = message("a.Shared", round);
            a.park(parked.clone()).await.unwrap();
            b.request_retry(parked.id).await.unwrap();
            let (from_a, from_b) = tokio::join!(
                tokio::spawn({
                    let a = a.clone();
                    async move { a.claim_retry(parked.id).await.unwrap() }
                }),
                tokio::spawn({
                    let b = b.clone();
                    async move { b.claim_retry(parked.id).await.unwrap() }
                })
            );
            let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
            assert!(
                from_a.is_some() != from_b.is_some(),
                "round {round}: {from_a:?} and {from_b:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_only_an_existing_quarantine_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.db");
        assert!(SqliteQuarantine::open_existing(&missing, Durability::Full).is_err());
        assert!(!missing.exists(), "opening created the file");

        let path = dir.path().join("events.db");
        let _store = treaty_runtime::store::SqliteStore::open(&path).unwrap();
        let tables = || -> Vec<String> {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let mut names = conn
                .prepare("SELECT name FROM sqlite_master ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<Vec<String>, _>>()
                .unwrap();
            names.sort();
            names
        };
        let before = tables();
        let refused = SqliteQuarantine::open_existing(&path, Durability::Full).unwrap_err();
        let OpenError::Missing {
            component,
            missing,
            found,
            ..
        } = &refused
        else {
            panic!("{refused}");
        };
        assert_eq!(
            (*component, missing.as_slice(), found.as_slice()),
            (Component::Quarantine, &["treaty_quarantine"][..], &[][..])
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "no Treaty quarantine at {}: its `treaty_quarantine` table is missing \
                 (opening an existing quarantine creates nothing)",
                path.display()
            )
        );
        assert_eq!(tables(), before);

        let parked = message("a.Existing", 0);
        SqliteQuarantine::open(&path)
            .unwrap()
            .park(parked.clone())
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP INDEX treaty_quarantine_parked").unwrap();
        let before = tables();
        let existing = SqliteQuarantine::open_existing(&path, Durability::Full).unwrap();
        assert_eq!(existing.list().await.unwrap(), vec![parked.clone()]);
        assert!(existing.remove(parked.id).await.unwrap());
        assert_eq!(tables(), before, "opening created the missing index");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn it_shares_the_file_with_the_event_store() {
        let path = fresh_path();
        let _store = treaty_runtime::store::SqliteStore::open(&path).unwrap();
        let quarantine = SqliteQuarantine::open(&path).unwrap();
        quarantine.park(message("a.Beside", 0)).await.unwrap();
        assert_eq!(quarantine.list().await.unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invalid_row_is_reported_with_its_database() {
        let path = fresh_path();
        let quarantine = SqliteQuarantine::open(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO treaty_quarantine (message_id, body, error, attempts, first_seen, parked_at) \
             VALUES (x'0102', x'', 'e', 1, 0, 0)",
            [],
        )
        .unwrap();
        let error = quarantine.list().await.unwrap_err();
        assert!(matches!(error, QuarantineError::InvalidRow { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            format!(
                "the quarantine at {} holds an invalid row: a message id of 2 bytes, not 16",
                path.display()
            )
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn opening_a_directory_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let error = SqliteQuarantine::open(dir.path()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!("cannot open the quarantine at {}: ", dir.path().display())),
            "{message}"
        );
    }
}

#[cfg(feature = "postgres")]
mod postgres_backend {
    use treaty_runtime::bus::PostgresQuarantine;
    use treaty_runtime::storage::PostgresOptions;
    use treaty_runtime::store::PostgresConfig;

    use super::*;

    /// The PostgreSQL server to test against, from `TREATY_TEST_POSTGRES`.
    /// Locally the tests skip without one; under `CI=true` a missing
    /// server is a failure, because `.ci/run` must have started one.
    pub fn postgres_url() -> Option<String> {
        match std::env::var("TREATY_TEST_POSTGRES") {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("CI is set but TREATY_TEST_POSTGRES is not: .ci/run must start PostgreSQL and set it")
            }
            Err(_) => {
                eprintln!(
                    "skipped: set TREATY_TEST_POSTGRES=postgres://user:password@host/db to run the PostgreSQL tests"
                );
                None
            }
        }
    }

    fn fresh_schema() -> String {
        format!("test_quarantine_{}", Uuid::now_v7().simple())
    }

    /// A PostgreSQL quarantine in a schema of its own, so tests start
    /// empty and run in parallel.
    pub async fn fresh_postgres() -> Option<PostgresQuarantine> {
        let url = postgres_url()?;
        let options = PostgresOptions {
            schema: fresh_schema(),
            pool_size: 4,
        };
        Some(PostgresQuarantine::open_with(&url, options).await.unwrap())
    }

    conformance!(postgres, fresh_postgres().await);

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
                        PostgresQuarantine::open_with(&url, options).await
                    })
                })
                .collect();
            let mut opened = Vec::new();
            for open in opens {
                opened.push(open.await.unwrap().unwrap());
            }
            // They share the table.
            let parked = message("a.Shared", 0);
            opened[0].park(parked.clone()).await.unwrap();
            assert_eq!(opened[5].get(parked.id).await.unwrap(), Some(parked));
        }

        /// The names of the tables and indexes in `schema`.
        async fn objects(url: &str, schema: &str) -> Vec<String> {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client
                .query(
                    "SELECT c.relname FROM pg_catalog.pg_class c \
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 ORDER BY c.relname",
                    &[&schema],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect()
        }

        async fn execute(url: &str, sql: &str) {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn opening_only_an_existing_quarantine_creates_nothing() {
            let Some(url) = postgres_url() else { return };
            let schema = fresh_schema();
            let options = PostgresOptions {
                schema: schema.clone(),
                pool_size: 2,
            };
            // Neither the schema nor the table exists: nothing is created.
            let refused = PostgresQuarantine::open_existing(&url, options.clone())
                .await
                .unwrap_err();
            let OpenError::Missing {
                component,
                location,
                missing,
                found,
            } = &refused
            else {
                panic!("{refused}");
            };
            assert_eq!(
                (*component, missing.as_slice(), found.as_slice()),
                (Component::Quarantine, &["treaty_quarantine"][..], &[][..])
            );
            assert!(location.ends_with(&format!("(schema {schema})")), "{location}");
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let schemas = client
                .query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", &[&schema])
                .await
                .unwrap();
            assert!(schemas.is_empty(), "opening created the schema");

            let parked = message("a.Existing", 0);
            let created = PostgresQuarantine::open_with(&url, options.clone()).await.unwrap();
            created.park(parked.clone()).await.unwrap();
            execute(&url, &format!("DROP INDEX {schema}.treaty_quarantine_parked")).await;
            let before = objects(&url, &schema).await;
            let existing = PostgresQuarantine::open_existing(&url, options).await.unwrap();
            assert_eq!(existing.list().await.unwrap(), vec![parked.clone()]);
            assert!(existing.request_retry(parked.id).await.unwrap());
            assert!(existing.claim_retry(parked.id).await.unwrap().is_some());
            assert_eq!(
                objects(&url, &schema).await,
                before,
                "opening created the missing index"
            );
            execute(&url, &format!("DROP SCHEMA {schema} CASCADE")).await;

            let refused = PostgresQuarantine::open_existing(
                &url,
                PostgresOptions {
                    schema: "quarantine; DROP TABLE x".into(),
                    ..PostgresOptions::default()
                },
            )
            .await
            .unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains("must be lower-case letters, digits and `_`"),
                "{refused}"
            );
            let unreachable = PostgresQuarantine::open_existing(
                "postgres://someone:hunter2@127.0.0.1:1/events",
                PostgresOptions::default(),
            )
            .await
            .unwrap_err()
            .to_string();
            assert!(
                unreachable
                    .contains("cannot open the quarantine at postgres://someone@127.0.0.1:1/events (schema treaty)"),
                "{unreachable}"
            );
            assert!(!unreachable.contains("hunter2"), "{unreachable}");
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn it_sits_beside_the_event_store_in_one_schema() {
            let Some(url) = postgres_url() else { return };
            let options = PostgresOptions {
                schema: fresh_schema(),
                pool_size: 2,
            };
            let config = PostgresConfig {
                connection: options.clone(),
                ..PostgresConfig::default()
            };
            let (events, quarantine) = tokio::join!(
                treaty_runtime::store::PostgresStore::open_with(&url, config),
                PostgresQuarantine::open_with(&url, options)
            );
            events.unwrap();
            let quarantine = quarantine.unwrap();
            quarantine.park(message("a.Beside", 0)).await.unwrap();
            assert_eq!(quarantine.list().await.unwrap().len(), 1);
        }
    }
}
