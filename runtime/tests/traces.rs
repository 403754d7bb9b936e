//! Traces across the bus: the W3C trace context a send writes into the
//! envelope's headers parents the delivery's span, in every attempt and
//! after the quarantine; malformed contexts are ignored; and without an
//! OpenTelemetry layer the headers pass through untouched. With the
//! feature `amqp` and a broker (`TREATY_TEST_AMQP`), an integration
//! event's stored trace context crosses a relay and an inbox.
//!
//! Spans are recorded by an in-memory exporter behind a subscriber that
//! is the default of the test's thread (`treaty_testing::traces`); the tests run on a current-thread
//! runtime, so the bus's tasks record into it too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use tracing::Instrument as _;
use treaty_runtime::bus::{
    AskError, Bus, BusConfig, Envelope, HandleError, Handled, Handler, InProcessTransport, MemoryQuarantine,
    Quarantine, RetryPolicy, Transport,
};
use treaty_runtime::telemetry::trace::{self, TRACEPARENT, TRACESTATE};
use treaty_runtime::{Timestamp, Uuid};
use treaty_testing::traces::{text, Recording};

/// Records this thread's spans through the layer Treaty's exporter uses.
fn record() -> Recording {
    treaty_testing::traces::record(|exporter| trace::layer(trace::Export::simple(exporter)))
}

/// Records this thread's spans at INFO, as a service does: without the
/// DEBUG spans (`treaty.bus.send`, `treaty.bus.handle`).
fn record_at_info() -> Recording {
    use tracing_subscriber::Layer as _;
    treaty_testing::traces::record(|exporter| {
        let (layer, provider) = trace::layer(trace::Export::simple(exporter));
        (
            layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO),
            provider,
        )
    })
}

const PATIENCE: Duration = Duration::from_secs(10);

/// The finished spans called `name` whose `message_id` is `id`.
fn spans_of<'a>(spans: &'a [SpanData], name: &str, id: Uuid) -> Vec<&'a SpanData> {
    spans
        .iter()
        .filter(|s| s.name == name && text(s, "message_id") == Some(id.to_string()))
        .collect()
}

/// Handles `test.Ok`; fails `test.Flaky` transiently until `fixed`.
/// Remembers the headers of every delivery.
#[derive(Default)]
struct State {
    fixed: AtomicBool,
    flaky_handled: AtomicU32,
    headers: Mutex<Vec<Seen>>,
}

/// A delivery as the handler saw it: contract, attempt and headers.
type Seen = (String, u32, BTreeMap<String, String>);

struct TestHandler(Arc<State>);

impl Handler for TestHandler {
    fn contracts(&self) -> Vec<&'static str> {
        vec!["test.Ok", "test.Flaky"]
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            self.0.headers.lock().unwrap().push((
                envelope.contract.clone(),
                envelope.attempt,
                envelope.headers.clone(),
            ));
            if envelope.contract == "test.Flaky" {
                if !self.0.fixed.load(Ordering::SeqCst) {
                    return Err(HandleError::Transient("the flaky handler is down".into()));
                }
                self.0.flaky_handled.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Handled::default())
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
        correlation_id: Some(Uuid::now_v7()),
        causation_id: None,
        attempt: 1,
        headers: BTreeMap::from([("user".to_string(), "ann".to_string())]),
        reply_to: None,
        sent_at: Timestamp::now(),
        schema: None,
    }
}

fn bus(state: &Arc<State>) -> Bus<InProcessTransport, MemoryQuarantine> {
    let bus = Bus::new(
        InProcessTransport::new(),
        MemoryQuarantine::new(),
        BusConfig {
            retry: RetryPolicy {
                max_attempts: 2,
                first_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
            ask_timeout: PATIENCE,
            quarantine_poll: Duration::from_millis(10),
            ..BusConfig::default()
        },
    );
    bus.register(TestHandler(state.clone())).unwrap();
    bus
}

/// Waits until `done` holds, failing after [`PATIENCE`].
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_send_parents_every_delivery_of_its_message_through_retries_and_the_quarantine() {
    let recording = record();
    let state = Arc::new(State::default());
    let bus = bus(&state);
    let running = bus.start();

    let ok = envelope("test.Ok");
    let flaky = envelope("test.Flaky");
    let request = tracing::info_span!("test.request");
    async {
        bus.ask_envelope(ok.clone(), PATIENCE).await.unwrap();
        let refused = bus.ask_envelope(flaky.clone(), PATIENCE).await.unwrap_err();
        assert!(matches!(refused, AskError::Quarantined(_)), "{refused}");
    }
    .instrument(request.clone())
    .await;
    drop(request);

    // The parked body keeps the context the send wrote, and the other
    // headers, as they were.
    let parked = bus.quarantine().get(flaky.id).await.unwrap().unwrap();
    let parked = Envelope::from_json(&parked.body).unwrap();
    assert_eq!(parked.headers.get("user").map(String::as_str), Some("ann"));
    let traceparent = parked
        .headers
        .get(TRACEPARENT)
        .cloned()
        .expect("the send wrote a traceparent");

    // Sent again from the quarantine, it joins the same trace.
    state.fixed.store(true, Ordering::SeqCst);
    assert!(bus.quarantine().request_retry(flaky.id).await.unwrap());
    eventually("the retried message is handled", || {
        state.flaky_handled.load(Ordering::SeqCst) == 1
    })
    .await;
    running.shutdown().await;

    let spans = recording.spans();
    let root = spans
        .iter()
        .find(|s| s.name == "test.request")
        .expect("the request span");
    let trace_id = root.span_context.trace_id();
    assert_ne!(trace_id, TraceId::INVALID);
    for message in [&ok, &flaky] {
        let sends = spans_of(&spans, "treaty.bus.send", message.id);
        assert_eq!(sends.len(), 1, "{}", message.contract);
        let send = sends[0];
        assert_eq!(send.span_context.trace_id(), trace_id);
        assert_eq!(send.parent_span_id, root.span_context.span_id());
        let deliveries = spans_of(&spans, "treaty.bus.deliver", message.id);
        let expected = if message.contract == "test.Flaky" { 3 } else { 1 };
        assert_eq!(deliveries.len(), expected, "{}: {deliveries:#?}", message.contract);
        for delivery in &deliveries {
            assert_eq!(delivery.span_context.trace_id(), trace_id);
            assert_eq!(delivery.parent_span_id, send.span_context.span_id());
            assert!(delivery.parent_span_is_remote);
            // The handler's span is the delivery's child.
            let handles: Vec<_> = spans
                .iter()
                .filter(|s| s.name == "treaty.bus.handle" && s.parent_span_id == delivery.span_context.span_id())
                .collect();
            assert_eq!(handles.len(), 1);
            assert_eq!(handles[0].span_context.trace_id(), trace_id);
            assert_eq!(
                text(delivery, "correlation_id"),
                message.correlation_id.map(|id| id.to_string())
            );
        }
        if message.contract == "test.Flaky" {
            assert_eq!(
                traceparent,
                format!("00-{}-{}-01", send.span_context.trace_id(), send.span_context.span_id())
            );
            let outcomes: Vec<_> = deliveries.iter().map(|d| text(d, "outcome")).collect();
            assert_eq!(
                outcomes,
                [Some("retry".into()), Some("quarantined".into()), Some("handled".into())]
            );
        }
    }
    // Every delivery's handler saw the same context.
    let seen = state.headers.lock().unwrap();
    let flaky_headers: Vec<_> = seen.iter().filter(|(c, ..)| c == "test.Flaky").collect();
    assert_eq!(flaky_headers.len(), 3);
    for (_, _, headers) in flaky_headers {
        assert_eq!(headers.get(TRACEPARENT), Some(&traceparent));
    }
}

/// A sender that is not a Treaty bus: the envelope's bytes put on the
/// transport as they are.
/// At INFO a send makes no span of its own: the envelope carries the
/// context of the span it is sent in, which parents the delivery, and a
/// send made in no span writes nothing, so its delivery starts a trace.
#[tokio::test]
async fn at_info_a_send_carries_the_context_of_the_span_it_is_made_in() {
    let recording = record_at_info();
    let state = Arc::new(State::default());
    let bus = bus(&state);
    let running = bus.start();

    let inside = envelope("test.Ok");
    bus.send_envelope(&inside)
        .instrument(tracing::info_span!("test.request"))
        .await
        .unwrap();
    let outside = envelope("test.Ok");
    bus.send_envelope(&outside).await.unwrap();
    eventually("both messages are handled", || state.headers.lock().unwrap().len() == 2).await;
    running.shutdown().await;

    let spans = recording.spans();
    for debug in ["treaty.bus.send", "treaty.bus.handle"] {
        assert!(spans.iter().all(|s| s.name != debug), "{debug} at INFO: {spans:#?}");
    }
    let request = spans
        .iter()
        .find(|s| s.name == "test.request")
        .expect("the request span");
    let delivered = spans_of(&spans, "treaty.bus.deliver", inside.id);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].span_context.trace_id(), request.span_context.trace_id());
    assert_eq!(delivered[0].parent_span_id, request.span_context.span_id());
    assert!(delivered[0].parent_span_is_remote);
    let delivered = spans_of(&spans, "treaty.bus.deliver", outside.id);
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].parent_span_id, SpanId::INVALID, "a trace of its own");
    assert_ne!(delivered[0].span_context.trace_id(), request.span_context.trace_id());

    let seen = state.headers.lock().unwrap();
    let written: Vec<_> = seen
        .iter()
        .filter_map(|(_, _, headers)| headers.get(TRACEPARENT))
        .collect();
    assert_eq!(
        written,
        [&format!(
            "00-{}-{}-01",
            request.span_context.trace_id(),
            request.span_context.span_id()
        )],
        "only the send made in a span wrote a context, the span's"
    );
    assert!(seen.iter().all(|(_, _, headers)| headers["user"] == "ann"));
}

async fn send_raw(bus: &Bus<InProcessTransport, MemoryQuarantine>, envelope: &Envelope) {
    bus.transport()
        .send(envelope.id, envelope.to_json(), Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_delivery_joins_a_foreign_trace_and_ignores_a_malformed_one() {
    let recording = record();
    let state = Arc::new(State::default());
    let bus = bus(&state);
    let running = bus.start();

    let foreign_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let foreign_span = "00f067aa0ba902b7";
    let mut joined = envelope("test.Ok");
    joined
        .headers
        .insert(TRACEPARENT.into(), format!("00-{foreign_trace}-{foreign_span}-01"));
    joined.headers.insert(TRACESTATE.into(), "vendor=opaque".into());
    send_raw(&bus, &joined).await;
    let malformed: Vec<Envelope> = [
        "garbage",
        "00-zz-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    ]
    .into_iter()
    .map(|bad| {
        let mut envelope = envelope("test.Ok");
        envelope.headers.insert(TRACEPARENT.into(), bad.into());
        envelope
    })
    .collect();
    for envelope in &malformed {
        send_raw(&bus, envelope).await;
    }
    eventually("every message is handled", || state.headers.lock().unwrap().len() == 4).await;
    running.shutdown().await;

    let spans = recording.spans();
    let joined_span = spans_of(&spans, "treaty.bus.deliver", joined.id);
    assert_eq!(joined_span.len(), 1);
    assert_eq!(joined_span[0].span_context.trace_id().to_string(), foreign_trace);
    assert_eq!(joined_span[0].parent_span_id.to_string(), foreign_span);
    assert_eq!(joined_span[0].span_context.trace_state().header(), "vendor=opaque");
    for envelope in &malformed {
        let delivered = spans_of(&spans, "treaty.bus.deliver", envelope.id);
        assert_eq!(delivered.len(), 1, "{:?}", envelope.headers);
        // A trace of its own, and the message handled all the same.
        assert_eq!(delivered[0].parent_span_id, SpanId::INVALID, "{:?}", envelope.headers);
        assert_ne!(delivered[0].span_context.trace_id().to_string(), foreign_trace);
        assert_eq!(text(delivered[0], "outcome"), Some("handled".to_string()));
    }
    // The headers reached the handler as they were sent.
    let seen = state.headers.lock().unwrap();
    for envelope in malformed.iter().chain([&joined]) {
        assert!(seen.iter().any(|(_, _, headers)| headers == &envelope.headers));
    }
}

#[test]
fn parents_are_taken_only_from_well_formed_contexts() {
    let _recording = record();
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let span = tracing::info_span!("test.good");
    assert!(trace::set_parent(&span, |name| (name == TRACEPARENT).then_some(good)));
    assert_eq!(
        trace::trace_id(&span).as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    for bad in [
        "",
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}\u{1f600}-00f067aa0ba902b7-01",
    ] {
        let span = tracing::info_span!("test.bad");
        let headers = BTreeMap::from([(TRACEPARENT.to_string(), bad.to_string())]);
        assert!(!trace::set_parent_from_headers(&span, &headers), "{bad:?}");
        assert!(!trace::link_from_headers(&span, &headers), "{bad:?}");
        // The span starts a trace of its own.
        assert_ne!(
            trace::trace_id(&span).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
    }
    // A send writes the span's context, replacing an older one, and drops
    // a state it does not have.
    let span = tracing::info_span!("test.send");
    let mut headers = BTreeMap::from([
        (TRACEPARENT.to_string(), good.to_string()),
        (TRACESTATE.to_string(), "old=1".to_string()),
        ("user".to_string(), "ann".to_string()),
    ]);
    assert!(trace::inject(&span, &mut headers));
    let id = trace::trace_id(&span).unwrap();
    assert!(headers[TRACEPARENT].starts_with(&format!("00-{id}-")), "{headers:?}");
    assert_ne!(headers[TRACEPARENT], good);
    assert_eq!(headers.get(TRACESTATE), None);
    assert_eq!(headers["user"], "ann");
}

/// Without a layer recording spans, nothing is written: an envelope keeps
/// the context its sender gave it through every retry and into the
/// quarantine.
#[tokio::test]
async fn without_a_layer_the_context_passes_through_retries_and_the_quarantine() {
    let state = Arc::new(State::default());
    let bus = bus(&state);
    let running = bus.start();
    let mut flaky = envelope("test.Flaky");
    flaky.headers.insert(
        TRACEPARENT.into(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
    );
    flaky.headers.insert(TRACESTATE.into(), "vendor=opaque".into());
    let refused = bus.ask_envelope(flaky.clone(), PATIENCE).await.unwrap_err();
    assert!(matches!(refused, AskError::Quarantined(_)), "{refused}");
    let parked = bus.quarantine().get(flaky.id).await.unwrap().unwrap();
    assert_eq!(Envelope::from_json(&parked.body).unwrap().headers, flaky.headers);
    state.fixed.store(true, Ordering::SeqCst);
    assert!(bus.quarantine().request_retry(flaky.id).await.unwrap());
    eventually("the retried message is handled", || {
        state.flaky_handled.load(Ordering::SeqCst) == 1
    })
    .await;
    running.shutdown().await;
    let seen = state.headers.lock().unwrap();
    let attempts: Vec<_> = seen.iter().map(|(_, attempt, _)| *attempt).collect();
    assert_eq!(attempts, [1, 2, 1]);
    for (_, _, headers) in seen.iter() {
        assert_eq!(headers, &flaky.headers);
    }
}

/// The relay and the inbox: an event's stored trace context travels in
/// its headers, the relay's batch span links to it, and the inbox's
/// span continues it (`--features otel,amqp`, with a broker).
#[cfg(feature = "amqp")]
mod relay {
    use std::collections::BTreeMap;

    use futures::future::BoxFuture;
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    use treaty_runtime::bus::{HandleError, MemoryQuarantine};
    use treaty_runtime::relay::{
        Inbox, InboxConfig, IntegrationEvent, IntegrationHandler, Relay, RelayConfig, SqliteRelayCheckpoints,
    };
    use treaty_runtime::store::{EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName};
    use treaty_runtime::telemetry::trace::TRACEPARENT;
    use treaty_runtime::{ContractInfo, ContractKind, ContractVersion, Uuid};
    use treaty_testing::traces::{number, text};
    use treaty_testing::{server_url, AmqpBrokerLock};

    use super::{eventually, record};

    const FINGERPRINT: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const HAPPENED: ContractInfo = ContractInfo {
        name: "test.Happened",
        kind: ContractKind::Event,
        history: &[ContractVersion {
            version: 1,
            fingerprint: FINGERPRINT,
        }],
        schemas: "",
    };

    /// Remembers the ids of the events it handles.
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<Uuid>>>);

    impl IntegrationHandler for Seen {
        fn contracts(&self) -> Vec<ContractInfo> {
            vec![HAPPENED]
        }

        fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
            self.0.lock().unwrap().push(event.id);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn the_inbox_continues_the_trace_an_event_was_stored_in() {
        let Some(url) = server_url("TREATY_TEST_AMQP") else {
            return;
        };
        let _broker = AmqpBrokerLock::shared();
        let recording = record();
        let id = Uuid::new_v4().simple();
        let (prefix, queue) = (format!("treaty.test.{id}."), format!("treaty.test.{id}.inbox"));
        let dir = tempfile::tempdir().unwrap();
        let source = SqliteStore::open(dir.path().join("source.db")).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let inbox = Inbox::new(
            url.clone(),
            Seen(seen.clone()),
            MemoryQuarantine::new(),
            InboxConfig {
                exchange_prefix: prefix.clone(),
                ..InboxConfig::new(queue.clone())
            },
        )
        .start()
        .await
        .unwrap();

        // An event appended by a command that ran in a foreign trace.
        let foreign_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let foreign_span = "00f067aa0ba902b7";
        let mut metadata = Metadata::now();
        metadata.headers = BTreeMap::from([(TRACEPARENT.to_string(), format!("00-{foreign_trace}-{foreign_span}-01"))]);
        let event = NewEvent {
            id: Uuid::now_v7(),
            contract: HAPPENED.name.into(),
            contract_version: 1,
            fingerprint: FINGERPRINT.into(),
            payload: b"{}".to_vec(),
            metadata,
            schema: None,
        };
        let event_id = event.id;
        source
            .append(&StreamName::new("thing-1").unwrap(), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
        let relay = Relay::new(
            source.clone(),
            SqliteRelayCheckpoints::open(dir.path().join("source.db")).unwrap(),
            url.clone(),
            RelayConfig {
                exchange_prefix: prefix.clone(),
                ..RelayConfig::new("traced", &[HAPPENED])
            },
        )
        .unwrap()
        .start();
        eventually("the event is handled", || !seen.lock().unwrap().is_empty()).await;
        relay.shutdown().await;
        inbox.shutdown().await;

        let spans = recording.spans();
        let relayed: Vec<_> = spans.iter().filter(|s| s.name == "treaty.relay.batch").collect();
        assert_eq!(relayed.len(), 1, "{spans:#?}");
        assert_eq!(text(relayed[0], "relay").as_deref(), Some("traced"));
        assert_eq!(number(relayed[0], "events"), Some(1));
        assert_eq!(number(relayed[0], "from_position"), Some(1));
        assert_eq!(number(relayed[0], "to_position"), Some(1));
        let linked: Vec<String> = relayed[0]
            .links
            .iter()
            .map(|link| link.span_context.trace_id().to_string())
            .collect();
        assert_eq!(linked, vec![foreign_trace.to_string()]);

        let handled: Vec<_> = spans.iter().filter(|s| s.name == "treaty.inbox.batch").collect();
        assert_eq!(handled.len(), 1, "{spans:#?}");
        assert_eq!(text(handled[0], "event_id"), Some(event_id.to_string()));
        assert_eq!(text(handled[0], "stream").as_deref(), Some("thing-1"));
        assert_eq!(text(handled[0], "contract").as_deref(), Some(HAPPENED.name));
        assert_eq!(number(handled[0], "events"), Some(1));
        assert_eq!(handled[0].span_context.trace_id().to_string(), foreign_trace);
        assert_eq!(handled[0].parent_span_id.to_string(), foreign_span);

        let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .unwrap();
        channel
            .exchange_delete(
                format!("{prefix}test").as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await
            .unwrap();
        let _ = connection.close(200, "done".into()).await;
    }
}
