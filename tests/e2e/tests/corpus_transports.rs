//! Each case of the lint corpus (`tests/lint/`) that the end-to-end crate
//! compiles through build.rs, sent over every transport: a message
//! written by the code before the change, with the schema its envelope
//! carries, goes through the in-process transport, the SQLite queue and
//! RabbitMQ to a handler with the code after it. It is read, as a value
//! written by hand in the new shape says, exactly when the lint finds no
//! error in the case's mode, and is otherwise quarantined with the rule
//! ids the lint reports (`expected.txt`).

mod lint_corpus;
mod transports;

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use lint_corpus::{errors, lint_expectation};
use serde_json::{json, Value};
use treaty::bus::{
    check_readable, Bus, BusConfig, Envelope, HandleError, Handled, Handler, InProcessTransport, MemoryQuarantine,
    Quarantine, Transport, WriterSchema,
};
use treaty::{CompatibilityMode, Contract, ContractInfo, Uuid};
use treaty_e2e::lint_cases;

const ORDER: &str = "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11";

/// A handler with the code after a change: judges each message as every
/// Treaty handler does, decodes it, and keeps what it read as JSON.
struct Reader<New> {
    mode: CompatibilityMode,
    read: Arc<Mutex<Vec<Value>>>,
    new: PhantomData<fn() -> New>,
}

impl<New: Contract + Send + 'static> Handler for Reader<New> {
    fn contracts(&self) -> Vec<&'static str> {
        vec![New::NAME]
    }

    fn handle<'a>(&'a self, envelope: &'a Envelope) -> BoxFuture<'a, Result<Handled, HandleError>> {
        Box::pin(async move {
            check_readable(&[ContractInfo::of::<New>()], envelope, self.mode).map_err(HandleError::Permanent)?;
            let value = New::decode(envelope.contract_version, &envelope.payload)
                .map_err(|e| HandleError::Permanent(e.to_string()))?;
            let json = serde_json::to_value(&value).map_err(|e| HandleError::Permanent(e.to_string()))?;
            self.read.lock().expect("not poisoned").push(json);
            Ok(Handled::default())
        })
    }
}

/// Sends `written` (JSON the old code reads) as the old code's message
/// through `transport` to a [`Reader`] of the new code, in the case's
/// mode, and checks the outcome against the lint: read as `model` (JSON
/// of the new shape, decoded by the new code itself) when the lint finds
/// no error, parked with each of its rule ids otherwise.
async fn one_case<Old: Contract, New: Contract + Send + 'static, T: Transport>(
    case: &str,
    transport: T,
    written: Value,
    model: Value,
) {
    let (mode, ids) = lint_expectation(case);
    let errors = errors(ids);
    let old = Old::decode(1, written.to_string().as_bytes()).unwrap_or_else(|e| panic!("{case}: {e}"));
    let envelope = Envelope {
        id: Uuid::now_v7(),
        contract: Old::NAME.to_string(),
        contract_version: Old::VERSION,
        fingerprint: Old::FINGERPRINT.to_string(),
        payload: old.encode().expect("the old code encodes"),
        correlation_id: None,
        causation_id: None,
        attempt: 1,
        headers: Default::default(),
        reply_to: None,
        sent_at: treaty::Timestamp::now(),
        schema: WriterSchema::of::<Old>(),
    };
    assert!(envelope.schema.is_some(), "{case}: generated code carries its schema");
    assert_ne!(Old::FINGERPRINT, New::FINGERPRINT, "{case}: changed in place");

    let read = Arc::new(Mutex::new(Vec::new()));
    let quarantine = MemoryQuarantine::new();
    let bus = Bus::new(transport, quarantine.clone(), BusConfig::default());
    bus.register(Reader::<New> {
        mode,
        read: read.clone(),
        new: PhantomData,
    })
    .expect("one handler");
    let running = bus.start();
    bus.send_envelope(&envelope).await.expect("the transport takes it");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (read, parked) = loop {
        let parked = quarantine.list().await.expect("the quarantine lists");
        let read = read.lock().expect("not poisoned").clone();
        if !read.is_empty() || !parked.is_empty() {
            break (read, parked);
        }
        assert!(Instant::now() < deadline, "{case}: not settled after a minute");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    running.shutdown().await;

    if errors.is_empty() {
        assert!(
            parked.is_empty(),
            "{case}: the bus parked what the lint accepts: {parked:?}"
        );
        let expected = serde_json::to_value(New::decode(1, model.to_string().as_bytes()).expect("the model is new"))
            .expect("JSON");
        assert_eq!(read, [expected], "{case}: read as the model says");
    } else {
        assert!(
            read.is_empty(),
            "{case}: the bus read what the lint refuses ({errors:?}): {read:?}"
        );
        let reason = &parked[0].error;
        for id in &errors {
            assert!(
                reason.contains(&format!("[{id}]")),
                "{case}: {id} missing from {reason}"
            );
        }
        assert!(reason.contains(&format!("mode {mode}")), "{case}: {reason}");
    }
}

/// Every compiled case of the corpus through transports made by
/// `transport`.
async fn every_case<T: Transport, F: std::future::Future<Output = T>>(transport: impl Fn() -> F) {
    use lint_cases::*;
    macro_rules! case {
        ($module:ident, $written:expr, $model:expr) => {
            one_case::<$module::before::shop::OrderPlaced, $module::after::shop::OrderPlaced, T>(
                &stringify!($module).replace('_', "-"),
                transport().await,
                $written,
                $model,
            )
            .await
        };
    }
    let money = json!({"cents": 250, "currency": "EUR"});
    let full = json!({"order": ORDER, "total": money, "method": "Cash", "note": "gift", "count": 3});

    case!(
        ok_default_added,
        json!({"order": ORDER, "channel": "app"}),
        json!({"order": ORDER, "channel": "app"})
    );
    case!(mode_backward_allows_optional, full.clone(), full.clone());
    // Linted in mode full, where the old code could not read a wider
    // count: refused.
    case!(integer_widened, full.clone(), full.clone());
    case!(
        ok_defaulted_field_removed,
        json!({"order": ORDER, "count": 2, "channel": "app"}),
        json!({"order": ORDER, "count": 2})
    );
    case!(
        mode_backward_allows_field_removal,
        full.clone(),
        json!({"order": ORDER, "total": money, "method": "Cash", "note": "gift"})
    );
    case!(field_added_required, full.clone(), Value::Null);
    case!(
        field_type_changed,
        json!({"order": ORDER, "label": "gift"}),
        Value::Null
    );
    case!(integer_narrowed, json!({"order": ORDER, "delta": 7}), Value::Null);
    case!(enum_variant_removed, full.clone(), Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process() {
    every_case(|| async { InProcessTransport::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_queue() {
    let queues = transports::SqliteQueues::new();
    every_case(|| queues.queue()).await;
}

#[cfg(feature = "amqp")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq() {
    let Some(url) = treaty_testing::server_url("TREATY_TEST_AMQP") else {
        return;
    };
    let brokers = transports::Brokers::new(url);
    every_case(|| brokers.transport()).await;
    brokers.delete_all().await;
}
