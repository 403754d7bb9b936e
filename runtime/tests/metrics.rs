//! What the runtime records through the `metrics` facade, read back from a
//! recorder that keeps it: the SQLite store's appends, events, latency and
//! registry refusals, and the bus's outcomes, retries, quarantine, in
//! flight and handler latency per contract.
//!
//! A process has one global recorder and reading it resets it, so this
//! file holds one test, which checks each part after driving it.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use treaty_runtime::bus::{
    AskError, Bus, BusConfig, Envelope, HandleError, Handled, Handler, InProcessTransport, MemoryQuarantine,
    Quarantine, RetryPolicy,
};
use treaty_runtime::metrics;
use treaty_runtime::store::*;
use treaty_runtime::{Timestamp, Uuid};

/// Each series of a snapshot by its name and sorted labels
/// (`name{a=1,b=2}`).
fn read(snapshotter: &Snapshotter) -> BTreeMap<String, DebugValue> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
            labels.sort();
            (format!("{}{{{}}}", key.name(), labels.join(",")), value)
        })
        .collect()
}

fn counter(series: &BTreeMap<String, DebugValue>, key: &str) -> u64 {
    match series.get(key) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{key} is {other:?}, not a counter; all series: {series:#?}"),
    }
}

fn gauge(series: &BTreeMap<String, DebugValue>, key: &str) -> f64 {
    match series.get(key) {
        Some(DebugValue::Gauge(n)) => n.into_inner(),
        other => panic!("{key} is {other:?}, not a gauge; all series: {series:#?}"),
    }
}

fn samples(series: &BTreeMap<String, DebugValue>, key: &str) -> Vec<f64> {
    match series.get(key) {
        Some(DebugValue::Histogram(values)) => values.iter().map(|v| v.into_inner()).collect(),
        other => panic!("{key} is {other:?}, not a histogram; all series: {series:#?}"),
    }
}

fn event(fingerprint: char) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        contract: "test.Happened".into(),
        contract_version: 1,
        fingerprint: fingerprint.to_string().repeat(32),
        payload: b"{}".to_vec(),
        metadata: Metadata::now(),
        schema: None,
    }
}

/// Handles `metrics.Ok`, refuses `metrics.Refused`, fails
/// `metrics.Flaky` on its first attempt and `metrics.Broken` always.
struct TestHandler;

impl Handler for TestHandler {
    fn contracts(&self) -> Vec<&'static str> {
        vec!["metrics.Ok", "metrics.Refused", "metrics.Flaky", "metrics.Broken"]
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            match envelope.contract.as_str() {
                "metrics.Refused" => Err(HandleError::Refused("not today".into())),
                "metrics.Flaky" if envelope.attempt == 1 => Err(HandleError::Transient("try again".into())),
                "metrics.Broken" => Err(HandleError::Permanent("broken".into())),
                _ => Ok(Handled::default()),
            }
        })
    }
}

fn envelope(contract: &str) -> Envelope {
    Envelope {
        id: Uuid::now_v7(),
        contract: contract.to_string(),
        contract_version: 1,
        fingerprint: "00112233445566778899aabbccddeeff".to_string(),
        payload: b"{}".to_vec(),
        correlation_id: None,
        causation_id: None,
        attempt: 1,
        headers: Default::default(),
        reply_to: None,
        sent_at: Timestamp::now(),
        schema: None,
    }
}

const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_and_the_bus_record_their_metrics_with_bounded_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this process");
    metrics::describe();

    // The SQLite store: two appends (three events), a conflict, an event
    // the registry refuses, and an append that is refused before it is
    // written.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let stream = StreamName::new("order-1").unwrap();
    store
        .append(&stream, ExpectedVersion::NoStream, vec![event('a'), event('a')])
        .await
        .unwrap();
    store
        .append(&stream, ExpectedVersion::Exact(2), vec![event('a')])
        .await
        .unwrap();
    let conflict = store.append(&stream, ExpectedVersion::NoStream, vec![event('a')]).await;
    assert!(
        matches!(conflict, Err(AppendError::WrongExpectedVersion { .. })),
        "{conflict:?}"
    );
    let mismatch = store.append(&stream, ExpectedVersion::Any, vec![event('b')]).await;
    assert!(
        matches!(mismatch, Err(AppendError::FingerprintMismatch { .. })),
        "{mismatch:?}"
    );
    let empty = store.append(&stream, ExpectedVersion::Any, vec![]).await;
    assert!(matches!(empty, Err(AppendError::Empty { .. })), "{empty:?}");

    let series = read(&snapshotter);
    assert_eq!(
        counter(&series, "treaty_store_appends_total{backend=sqlite,outcome=ok}"),
        2
    );
    assert_eq!(
        counter(&series, "treaty_store_appends_total{backend=sqlite,outcome=conflict}"),
        1
    );
    assert_eq!(
        counter(&series, "treaty_store_appends_total{backend=sqlite,outcome=refused}"),
        2
    );
    assert_eq!(
        counter(&series, "treaty_store_events_appended_total{backend=sqlite}"),
        3
    );
    assert_eq!(counter(&series, "treaty_registry_refusals_total{operation=append}"), 1);
    let latencies = samples(&series, "treaty_store_append_duration_seconds{backend=sqlite}");
    assert_eq!(latencies.len(), 5);
    assert!(latencies.iter().all(|s| *s >= 0.0), "{latencies:?}");
    assert!(
        series.keys().all(|key| !key.contains("order-1")),
        "a stream name is never a label: {series:#?}"
    );

    // The in-process bus.
    let config = BusConfig {
        retry: RetryPolicy {
            max_attempts: 3,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        },
        ask_timeout: PATIENCE,
        ..BusConfig::default()
    };
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), config);
    bus.register(TestHandler).unwrap();
    let running = bus.start();
    for _ in 0..3 {
        bus.ask_envelope(envelope("metrics.Ok"), PATIENCE).await.unwrap();
    }
    let refused = bus.ask_envelope(envelope("metrics.Refused"), PATIENCE).await;
    assert!(matches!(refused, Err(AskError::Refused(_))), "{refused:?}");
    bus.ask_envelope(envelope("metrics.Flaky"), PATIENCE).await.unwrap();
    let broken = bus.ask_envelope(envelope("metrics.Broken"), PATIENCE).await;
    assert!(matches!(broken, Err(AskError::Quarantined(_))), "{broken:?}");
    // A contract nobody handles, with a name of the sender's choosing.
    let stranger = envelope("someone.Elses-7f3a");
    let quarantined = bus.ask_envelope(stranger, PATIENCE).await;
    assert!(matches!(quarantined, Err(AskError::Quarantined(_))), "{quarantined:?}");
    assert_eq!(bus.quarantine().list().await.unwrap().len(), 2);
    running.shutdown().await;

    let series = read(&snapshotter);
    let handled = |contract: &str, outcome: &str| {
        counter(
            &series,
            &format!("treaty_bus_messages_handled_total{{contract={contract},outcome={outcome}}}"),
        )
    };
    assert_eq!(handled("metrics.Ok", "handled"), 3);
    assert_eq!(handled("metrics.Flaky", "handled"), 1);
    assert_eq!(handled("metrics.Refused", "refused"), 1);
    assert_eq!(
        counter(&series, "treaty_bus_messages_retried_total{contract=metrics.Flaky}"),
        1
    );
    assert_eq!(
        counter(
            &series,
            "treaty_bus_messages_quarantined_total{contract=metrics.Broken}"
        ),
        1
    );
    assert_eq!(
        counter(&series, "treaty_bus_messages_quarantined_total{contract=unknown}"),
        1
    );
    assert!(
        series.keys().all(|key| !key.contains("someone.Elses")),
        "a contract without a handler is not a label: {series:#?}"
    );
    for (contract, attempts) in [
        ("metrics.Ok", 3),
        ("metrics.Flaky", 2),
        ("metrics.Refused", 1),
        ("metrics.Broken", 1),
    ] {
        let in_flight = format!("treaty_bus_messages_in_flight{{contract={contract}}}");
        // Up once and down once per attempt: the gauge's value is the sum
        // of those changes since the last reading.
        assert_eq!(gauge(&series, &in_flight), 0.0, "{contract}");
        let durations = samples(
            &series,
            &format!("treaty_bus_handler_duration_seconds{{contract={contract}}}"),
        );
        assert_eq!(durations.len(), attempts, "{contract}");
    }
}

#[test]
fn every_metric_is_documented_in_operations_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/operations.md")).unwrap();
    for metric in metrics::ALL {
        assert!(
            doc.contains(&format!("`{}`", metric.name)),
            "docs/operations.md does not list {}",
            metric.name
        );
    }
}

/// Every string under a key named `key`, anywhere in `value`.
fn strings_under<'a>(value: &'a serde_json::Value, key: &str, found: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == key => found.push(s),
                    _ => strings_under(v, key, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| strings_under(v, key, found)),
        _ => {}
    }
}

/// The metric a series name of a PromQL expression belongs to: a
/// histogram's `_bucket`, `_sum` and `_count` series belong to it.
fn metric_of(series: &str) -> Option<&'static metrics::Metric> {
    metrics::ALL.iter().find(|m| {
        m.name == series
            || (m.kind == metrics::Kind::Histogram
                && ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| series.strip_suffix(suffix) == Some(m.name)))
    })
}

#[test]
fn the_grafana_dashboard_queries_only_metrics_the_runtime_defines_and_shows_each() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/treaty.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let inputs = dashboard["__inputs"]
        .as_array()
        .expect("an importable dashboard has __inputs");
    assert!(inputs
        .iter()
        .any(|i| i["name"] == "DS_PROMETHEUS" && i["pluginId"] == "prometheus"));
    let mut uids = Vec::new();
    strings_under(&dashboard, "uid", &mut uids);
    assert!(
        uids.iter()
            .filter(|uid| **uid != "treaty")
            .all(|uid| *uid == "${DS_PROMETHEUS}"),
        "{uids:?}"
    );

    let mut expressions = Vec::new();
    strings_under(&dashboard["panels"], "expr", &mut expressions);
    strings_under(&dashboard["templating"], "definition", &mut expressions);
    assert!(expressions.len() >= 10, "{expressions:?}");
    let mut shown = std::collections::BTreeSet::new();
    for expression in &expressions {
        let names: Vec<&str> = expression
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("treaty_"))
            .collect();
        assert!(!names.is_empty(), "{expression} names no Treaty metric");
        for name in names {
            let metric =
                metric_of(name).unwrap_or_else(|| panic!("{expression}: the runtime defines no metric {name}"));
            if metric.kind == metrics::Kind::Histogram {
                assert!(
                    name != metric.name,
                    "{expression}: a histogram is queried by its _bucket, _sum or _count series"
                );
            }
            shown.insert(metric.name);
        }
    }
    for metric in metrics::ALL {
        assert!(
            shown.contains(metric.name),
            "no panel of the dashboard shows {}",
            metric.name
        );
    }
}
