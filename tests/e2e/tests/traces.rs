//! One trace follows a command: an HTTP request's `traceparent` parents
//! the command's span, the execution, the decision and the append; a
//! bus's send parents the delivery in another service, over the
//! in-process transport, the SQLite queue (two buses on one file, each
//! recording its spans in a thread of its own, like two processes) and
//! RabbitMQ.
//!
//! Spans are recorded in memory by the OpenTelemetry SDK behind a
//! subscriber that is the default of one thread; every service here runs
//! on a current-thread runtime, so its tasks record into its exporter.
//!
//! Projections: a rebuild is a span with the batches it applies under
//! it, and a live batch links to the traces of the commands whose events
//! it applies.
//!
//! The RabbitMQ case runs when `TREATY_TEST_AMQP` names a broker, and
//! says why it skips otherwise, except under `CI`, where it fails.

mod bank;
mod projection;

use std::future::Future;

use futures::TryStreamExt as _;
use std::time::Duration;

use bank::*;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;
use tracing::Instrument as _;
use treaty::aggregate::Repository;
use treaty::bus::{
    Bus, BusConfig, Envelope, InProcessTransport, MemoryQuarantine, SqliteQueue, SqliteQueueConfig, Transport,
};
use treaty::projection::{ProjectionEngine, SqliteViewStore};
use treaty::store::{EventStore as _, MemoryStore, SqliteStore};
use treaty::telemetry::trace::TRACEPARENT;
use treaty_testing::traces::{number, text, Recording};

/// The bank's contracts as text, for the catalog the HTTP API is built
/// from (the same contracts `bank` compiles inline).
const BANK: &str = r#"
namespace bank;
id AccountId: String;
aggregate Account(id: AccountId) {
    OpenAccount?(owner: String);
    Deposit?(amount: u64);
    Withdraw?(amount: u64);
    AccountOpened!(owner: String);
    Deposited! v2 (amount: u64, memo: String = "") was v1 (amount: u32);
    Withdrew!(amount: u64);
}
"#;

/// Records this thread's spans through the layer Treaty's exporter uses.
fn record() -> Recording {
    treaty_testing::traces::record(|exporter| {
        treaty::telemetry::trace::layer(treaty::telemetry::trace::Export::simple(exporter))
    })
}

/// The one span called `name` among `spans`.
fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "spans called {name}: {spans:#?}");
    found[0]
}

/// The trace ids `span` links to, in order.
fn linked_traces(span: &SpanData) -> Vec<String> {
    span.links
        .iter()
        .map(|link| link.span_context.trace_id().to_string())
        .collect()
}

/// Asserts `child` is `parent`'s child in the same trace.
fn child_of(child: &SpanData, parent: &SpanData) {
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id(),
        "{} in the trace of {}",
        child.name,
        parent.name
    );
    assert_eq!(
        child.parent_span_id,
        parent.span_context.span_id(),
        "{} under {}",
        child.name,
        parent.name
    );
}

/// The spans of a handled command under its delivery (or HTTP) span
/// `top`: the execution with its decision and append, for stream
/// `account-{account}` at `version`.
fn assert_execution(spans: &[SpanData], top: &SpanData, account: &str, version: i64) {
    let execute = one(spans, "treaty.aggregate.execute");
    let decide = one(spans, "treaty.aggregate.decide");
    let append = one(spans, "treaty.store.append");
    let handle = spans.iter().find(|s| s.name == "treaty.bus.handle");
    match handle {
        Some(handle) => {
            child_of(handle, top);
            child_of(execute, handle);
        }
        None => child_of(execute, top),
    }
    child_of(decide, execute);
    child_of(append, execute);
    let stream = format!("account-{account}");
    assert_eq!(text(execute, "stream").as_deref(), Some(stream.as_str()));
    // Recorded once, on the execution: the decision and the append inside
    // it do not repeat it, nor the version and position reached.
    for (span, fields) in [(decide, &["stream"][..]), (append, &["stream", "version", "position"])] {
        for &field in fields {
            assert_eq!(text(span, field), None, "{} {field}", span.name);
            assert_eq!(number(span, field), None, "{} {field}", span.name);
        }
    }
    assert_eq!(text(execute, "outcome").as_deref(), Some("executed"));
    assert_eq!(number(execute, "version"), Some(version));
    assert_eq!(number(execute, "attempts"), Some(1));
    assert!(number(execute, "position").is_some_and(|p| p >= 1), "{execute:#?}");
    assert_eq!(number(decide, "version"), Some(version - 1));
    assert_eq!(number(append, "expected_version"), Some(version - 1));
    assert_eq!(number(append, "events"), Some(1));
}

#[tokio::test]
async fn an_http_request_s_traceparent_parents_the_command_down_to_the_append() {
    let recording = record();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let views = SqliteViewStore::open(dir.path().join("views.db")).unwrap();
    // A projection live before the commands, so each of their events is
    // applied by a live batch.
    let mut engine = ProjectionEngine::new(store.clone(), views.clone());
    engine.add(projection::Balances);
    let projections = engine.start().await.unwrap();
    projections.wait_live().await.unwrap();
    let mut sources = treaty_dsl::Sources::new();
    sources.add("bank.treaty", BANK);
    let catalog = treaty_codegen::Builder::new().catalog(&sources).unwrap();
    let router = treaty::http::Api::from_catalog(catalog)
        .aggregate(Repository::<Account, _>::new(store.clone()))
        .unwrap()
        .views(views)
        .projection::<projection::Balances>()
        .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    let post = |traceparent: &str, account: &str| {
        client
            .post(format!("http://{address}/commands/bank.OpenAccount"))
            .header(TRACEPARENT, traceparent)
            .json(&serde_json::json!({"id": account, "owner": "Ann"}))
            .send()
    };

    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let answer = post(&format!("00-{caller_trace}-{caller_span}-01"), "a").await.unwrap();
    assert_eq!(answer.status(), 200);
    let outcome: serde_json::Value = answer.json().await.unwrap();
    let position = outcome["position"].as_u64().unwrap();
    projections.wait_for_position(position).await.unwrap();
    let spans = recording.spans();
    let command = one(&spans, "treaty.http.command");
    assert_eq!(command.span_context.trace_id().to_string(), caller_trace);
    assert_eq!(command.parent_span_id.to_string(), caller_span);
    assert!(command.parent_span_is_remote);
    assert_eq!(text(command, "contract").as_deref(), Some("bank.OpenAccount"));
    assert_eq!(
        text(command, "message_id"),
        outcome["message_id"].as_str().map(String::from)
    );
    assert_eq!(text(command, "stream").as_deref(), Some("account-a"));
    assert_eq!(number(command, "status"), Some(200));
    assert_eq!(number(command, "position"), outcome["position"].as_i64());
    assert_execution(&spans, command, "a", 1);
    let execute = one(&spans, "treaty.aggregate.execute");
    assert_eq!(text(execute, "message_id"), text(command, "message_id"));

    // The event carries the command's context, as a bus handler's events
    // carry their envelope's, and the live batch applying it links to the
    // command's trace.
    let events: Vec<_> = store.read_all(1).try_collect().await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].metadata.headers.get(TRACEPARENT),
        Some(&format!("00-{caller_trace}-{}-01", command.span_context.span_id()))
    );
    let batch = spans
        .iter()
        .find(|s| {
            s.name == "treaty.projection.batch"
                && text(s, "phase").as_deref() == Some("live")
                && number(s, "last_position") == Some(position as i64)
        })
        .expect("the live batch of the command's event");
    assert_ne!(batch.span_context.trace_id().to_string(), caller_trace);
    let linked: Vec<_> = batch
        .links
        .links
        .iter()
        .map(|link| (link.span_context.trace_id(), link.span_context.span_id()))
        .collect();
    assert_eq!(
        linked,
        [(command.span_context.trace_id(), command.span_context.span_id())]
    );

    // Reading the view is a span of its own, in the reader's trace.
    recording.reset();
    let reader_trace = "0af7651916cd43dd8448eb211c80319c";
    let reader_span = "b7ad6b7169203331";
    let answer = client
        .get(format!(
            "http://{address}/views/bank.balances/a?min_position={position}"
        ))
        .header(TRACEPARENT, format!("00-{reader_trace}-{reader_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let spans = recording.spans();
    let view = one(&spans, "treaty.http.view");
    assert_eq!(view.span_context.trace_id().to_string(), reader_trace);
    assert_eq!(view.parent_span_id.to_string(), reader_span);
    assert_eq!(text(view, "projection").as_deref(), Some("bank.balances"));
    assert_eq!(text(view, "key").as_deref(), Some("a"));
    assert_eq!(number(view, "min_position"), Some(position as i64));
    assert_eq!(number(view, "checkpoint"), Some(position as i64));
    assert!(number(view, "generation").is_some(), "{view:#?}");
    assert_eq!(number(view, "status"), Some(200));
    // A view that is not there is a span too, with its status.
    let answer = client
        .get(format!("http://{address}/views/bank.balances/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let spans = recording.spans();
    let missing = spans
        .iter()
        .find(|s| s.name == "treaty.http.view" && text(s, "key").as_deref() == Some("nobody"))
        .expect("the span of the missing view");
    assert_eq!(number(missing, "status"), Some(404));

    // A malformed traceparent is no error: the command starts a trace of
    // its own.
    recording.reset();
    let answer = post("00-not-a-trace-01", "b").await.unwrap();
    assert_eq!(answer.status(), 200);
    let spans = recording.spans();
    let command = one(&spans, "treaty.http.command");
    assert_eq!(command.parent_span_id, SpanId::INVALID);
    assert_ne!(command.span_context.trace_id(), TraceId::INVALID);
    assert_ne!(command.span_context.trace_id().to_string(), caller_trace);
    assert_execution(&spans, command, "b", 1);
    server.abort();
    projections.shutdown().await;
}

fn bus_config() -> BusConfig {
    BusConfig {
        ask_timeout: Duration::from_secs(30),
        quarantine_poll: Duration::from_millis(20),
        ..BusConfig::default()
    }
}

/// Asks `bus` to open account `account` inside a span of the client's,
/// and returns the client's spans: the root and the send.
async fn ask_traced<T: Transport>(bus: &Bus<T, MemoryQuarantine>, account: &str) {
    let span = tracing::info_span!("test.client");
    async {
        let envelope = Envelope::command(&OpenAccount {
            id: id(account),
            owner: "Ann".into(),
        })
        .unwrap();
        let handled = bus.ask_envelope(envelope, Duration::from_secs(30)).await.unwrap();
        assert_eq!(handled.stream_version, 1);
    }
    .instrument(span)
    .await;
}

/// The client's and the handling service's spans of one command: the
/// client's send is the parent of the service's delivery, in one trace.
fn assert_one_trace(client: &[SpanData], service: &[SpanData], account: &str) {
    let root = one(client, "test.client");
    let send = one(client, "treaty.bus.send");
    child_of(send, root);
    assert_eq!(text(send, "contract").as_deref(), Some("bank.OpenAccount"));
    let deliver = one(service, "treaty.bus.deliver");
    child_of(deliver, send);
    assert!(deliver.parent_span_is_remote);
    assert_eq!(text(deliver, "message_id"), text(send, "message_id"));
    assert_eq!(text(deliver, "outcome").as_deref(), Some("handled"));
    assert_execution(service, deliver, account, 1);
    let execute = one(service, "treaty.aggregate.execute");
    // The delivery around the execution has the message's ids, so the
    // execution does not repeat them (the handler correlates the events
    // with the message, which causes them).
    assert!(text(deliver, "message_id").is_some());
    for id in ["message_id", "causation_id", "correlation_id"] {
        assert_eq!(text(execute, id), None, "{id}");
    }
}

#[tokio::test]
async fn a_send_parents_its_delivery_over_the_in_process_transport() {
    let recording = record();
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), bus_config());
    bus.handle_aggregate(Repository::<Account, _>::new(MemoryStore::new()))
        .unwrap();
    let running = bus.start();
    ask_traced(&bus, "a").await;
    // Shutting down waits for the delivery to be settled, its span closed.
    running.shutdown().await;
    let spans = recording.spans();
    assert_one_trace(&spans, &spans, "a");
}

/// A service in a thread of its own, with its own runtime and its own
/// span recording: a bus over the transport `connect` makes, handling
/// accounts, until told to stop. Joining it returns its spans.
struct Service {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<Vec<SpanData>>,
}

impl Service {
    fn start<T, F, Fut>(connect: F) -> Service
    where
        T: Transport,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let recording = record();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let bus = Bus::new(connect().await, MemoryQuarantine::new(), bus_config());
                bus.handle_aggregate(Repository::<Account, _>::new(MemoryStore::new()))
                    .unwrap();
                let running = bus.start();
                let _ = stopped.await;
                running.shutdown().await;
            });
            recording.spans()
        });
        Service { stop, thread }
    }

    fn stop(self) -> Vec<SpanData> {
        let _ = self.stop.send(());
        self.thread.join().expect("the service thread ends")
    }
}

fn polling() -> SqliteQueueConfig {
    SqliteQueueConfig {
        poll_interval: Duration::from_millis(20),
        ..SqliteQueueConfig::default()
    }
}

#[tokio::test]
async fn a_send_parents_its_delivery_in_another_service_over_the_sqlite_queue() {
    let recording = record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let client_queue = SqliteQueue::open_with(&path, polling()).unwrap();
    let service_path = path.clone();
    let service = Service::start(move || async move { SqliteQueue::open_with(service_path, polling()).unwrap() });
    let client = Bus::new(client_queue.clone(), MemoryQuarantine::new(), bus_config());
    ask_traced(&client, "a").await;
    let service_spans = service.stop();
    client_queue.close();
    let client_spans = recording.spans();
    // Nothing of the service was recorded by the client, nor the other
    // way round: only the queue's rows carried the context.
    assert!(client_spans.iter().all(|s| s.name != "treaty.bus.deliver"));
    assert!(service_spans.iter().all(|s| s.name != "treaty.bus.send"));
    assert_one_trace(&client_spans, &service_spans, "a");
}

#[cfg(feature = "amqp")]
#[tokio::test]
async fn a_send_parents_its_delivery_in_another_service_over_rabbitmq() {
    use treaty::bus::{AmqpConfig, AmqpTransport};
    use treaty_testing::{server_url, AmqpBrokerLock, AsyncCleanup};

    let Some(url) = server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let _broker = AmqpBrokerLock::shared();
    let recording = record();
    let config = AmqpConfig {
        queue: format!("treaty.test.{}", treaty::Uuid::new_v4().simple()),
        ..AmqpConfig::default()
    };
    let client_transport = AmqpTransport::connect(&url, config.clone()).await.unwrap();
    let cleanup = {
        let transport = client_transport.clone();
        AsyncCleanup::new("the AMQP topology", move || async move {
            transport.delete_topology().await.map_err(|error| error.to_string())
        })
    };
    let service_url = url.clone();
    let service = Service::start(move || async move { AmqpTransport::connect(&service_url, config).await.unwrap() });
    let client = Bus::new(client_transport.clone(), MemoryQuarantine::new(), bus_config());
    ask_traced(&client, "a").await;
    let service_spans = service.stop();
    let client_spans = recording.spans();
    assert!(client_spans.iter().all(|s| s.name != "treaty.bus.deliver"));
    assert!(service_spans.iter().all(|s| s.name != "treaty.bus.send"));
    assert_one_trace(&client_spans, &service_spans, "a");
    cleanup.run().await;
    client_transport.close().await;
}

#[tokio::test]
async fn projection_batches_are_spans_and_live_ones_link_to_their_commands() {
    let recording = record();
    let dir = tempfile::tempdir().unwrap();
    let events = MemoryStore::new();
    let views = SqliteViewStore::open(dir.path().join("views.db")).unwrap();
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), bus_config());
    bus.handle_aggregate(Repository::<Account, _>::new(events.clone()))
        .unwrap();
    let running_bus = bus.start();
    // History: the projection is built from it at its first start.
    ask_traced(&bus, "a").await;
    let mut engine = ProjectionEngine::new(events.clone(), views.clone());
    engine.add(projection::Balances);
    let running = engine.start().await.unwrap();
    running.wait_live().await.unwrap();
    // Live: a command in a trace of its own.
    let live = tracing::info_span!("test.live");
    async {
        bus.ask(&Deposit { id: id("a"), amount: 5 }).await.unwrap();
    }
    .instrument(live.clone())
    .await;
    let live_trace = treaty::telemetry::trace::trace_id(&live).expect("the live span is recorded");
    drop(live);
    running.wait_for_position(2).await.unwrap();
    running.shutdown().await;
    running_bus.shutdown().await;

    let spans = recording.spans();
    let rebuild = one(&spans, "treaty.projection.rebuild");
    assert_eq!(text(rebuild, "projection").as_deref(), Some("bank.balances"));
    assert_eq!(number(rebuild, "head"), Some(1));
    assert_eq!(number(rebuild, "position"), Some(1));
    let batches: Vec<&SpanData> = spans.iter().filter(|s| s.name == "treaty.projection.batch").collect();
    let rebuilt: Vec<_> = batches
        .iter()
        .filter(|b| text(b, "phase").as_deref() == Some("rebuild"))
        .collect();
    assert_eq!(rebuilt.len(), 1, "{batches:#?}");
    child_of(rebuilt[0], rebuild);
    assert_eq!(
        (
            number(rebuilt[0], "first_position"),
            number(rebuilt[0], "last_position")
        ),
        (Some(1), Some(1))
    );
    let applied_live: Vec<_> = batches
        .iter()
        .filter(|b| text(b, "phase").as_deref() == Some("live"))
        .collect();
    assert_eq!(applied_live.len(), 1, "{batches:#?}");
    let batch = applied_live[0];
    assert_eq!(number(batch, "last_position"), Some(2));
    // Its own trace, linked to the command's.
    assert_eq!(batch.parent_span_id, SpanId::INVALID);
    assert_eq!(linked_traces(batch), [live_trace]);
}

/// Opens account `account` through the bus from a `test.client` span,
/// with the welcome process manager running, and waits until it sent the
/// welcome gift and the bonus: the spans recorded, the client's trace and
/// the store (with the directory holding its file).
async fn open_with_welcome(account: &str) -> (Vec<SpanData>, String, SqliteStore, tempfile::TempDir) {
    use treaty::process::{ProcessRunner, SqliteProcessStore};

    let recording = record();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.db");
    let events = SqliteStore::open(&file).unwrap();
    let processes = SqliteProcessStore::open(&file).unwrap();
    let bus = Bus::new(InProcessTransport::new(), MemoryQuarantine::new(), bus_config());
    bus.handle_aggregate(Repository::<Account, _>::new(events.clone()))
        .unwrap();
    let running_bus = bus.start();
    let welcome = ProcessRunner::new(bank::welcome::Welcome, events.clone(), processes, bus.clone())
        .start()
        .await
        .unwrap();
    let client = tracing::info_span!("test.client");
    async {
        bus.ask(&OpenAccount {
            id: id(account),
            owner: "Ann".into(),
        })
        .await
        .unwrap();
    }
    .instrument(client.clone())
    .await;
    let client_trace = treaty::telemetry::trace::trace_id(&client).expect("the client span is recorded");
    drop(client);
    assert!(welcome.wait_for(1).await);
    // The welcome gift and the bonus: the store's head reaches 3.
    tokio::time::timeout(Duration::from_secs(30), async {
        while events.head().await.unwrap() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the process's two deposits are handled");
    welcome.shutdown().await.unwrap();
    running_bus.shutdown().await;
    (recording.spans(), client_trace, events, dir)
}

/// A process manager's batch is a span of its own, linked to the trace of
/// the command whose event it handles; the commands it sends from its
/// outbox are each sent in a span.
#[tokio::test]
async fn a_process_manager_batch_is_a_span_linked_to_its_command() {
    let (spans, client_trace, _events, _dir) = open_with_welcome("p").await;
    // The batch of the account's opening (the deposits' events come in
    // later batches, which the process skips).
    let opening: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "treaty.process.batch" && number(s, "first_position") == Some(1))
        .collect();
    assert_eq!(opening.len(), 1, "{spans:#?}");
    let batch = opening[0];
    assert_eq!(text(batch, "manager").as_deref(), Some("welcome"));
    assert_eq!(
        batch.parent_span_id,
        SpanId::INVALID,
        "a batch starts a trace of its own"
    );
    assert_eq!(
        linked_traces(batch),
        [client_trace],
        "linked to the opening command's trace"
    );
    let sends = spans.iter().filter(|s| s.name == "treaty.bus.send").count();
    assert!(sends >= 3, "the client's send and the outbox's two: {sends}");
}

/// The commands a process manager sends from its outbox continue the
/// trace of the event that caused them: each is sent in a
/// `treaty.process.send` span whose parent is the context in the event's
/// metadata (here the handling of the client's command), with the bus's
/// send inside it and the command's delivery under that, so one trace
/// leads from the client's command through the process to its deposits.
#[tokio::test]
async fn a_process_manager_s_commands_continue_the_trace_of_their_cause() {
    let (spans, client_trace, events, _dir) = open_with_welcome("t").await;
    let opening = events.read_all(1).try_collect::<Vec<_>>().await.unwrap().remove(0);
    let traceparent = opening
        .metadata
        .headers
        .get(TRACEPARENT)
        .expect("the opening carries a traceparent");
    let sends: Vec<&SpanData> = spans.iter().filter(|s| s.name == "treaty.process.send").collect();
    assert_eq!(sends.len(), 2, "one per deposit: {spans:#?}");
    for send in sends {
        assert_eq!(text(send, "manager").as_deref(), Some("welcome"));
        assert_eq!(text(send, "contract").as_deref(), Some("bank.Deposit"));
        assert_eq!(
            send.span_context.trace_id().to_string(),
            client_trace,
            "in the client's trace"
        );
        // Under the span that appended the opening: the context its
        // metadata carries.
        assert_eq!(
            traceparent.split('-').nth(2),
            Some(send.parent_span_id.to_string().as_str()),
            "the cause's span parents the process's send"
        );
        let message_id = text(send, "message_id");
        let bus_send = spans
            .iter()
            .find(|s| s.name == "treaty.bus.send" && text(s, "message_id") == message_id)
            .expect("the bus's send of the deposit");
        child_of(bus_send, send);
        let deliver = spans
            .iter()
            .find(|s| s.name == "treaty.bus.deliver" && text(s, "message_id") == message_id)
            .expect("the deposit's delivery");
        child_of(deliver, bus_send);
    }
}
