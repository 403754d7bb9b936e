//! Spans recorded in memory (feature `otel`): the tests of Treaty's traces
//! record what one thread's subscriber sees through an OpenTelemetry
//! layer, and read the finished spans back.

use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{Layer, Registry};

/// Records every span of the thread that called [`record`] until dropped.
pub struct Recording {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    _default: tracing::subscriber::DefaultGuard,
}

/// Makes a subscriber with the layer `layer` builds over an in-memory
/// exporter the default of this thread. `layer` returns the layer and the
/// provider that keeps its export, exporting each span as it ends (such
/// as `treaty::telemetry::trace::layer(Export::simple(exporter))`, the
/// layer Treaty's exporter uses), so a span that ended is in
/// [`Recording::spans`].
pub fn record<L>(layer: impl FnOnce(InMemorySpanExporter) -> (L, SdkTracerProvider)) -> Recording
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let exporter = InMemorySpanExporter::default();
    let (layer, provider) = layer(exporter.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    Recording {
        exporter,
        _provider: provider,
        _default: tracing::subscriber::set_default(subscriber),
    }
}

impl Recording {
    /// The spans that ended so far, oldest first.
    pub fn spans(&self) -> Vec<SpanData> {
        self.exporter
            .get_finished_spans()
            .expect("the in-memory exporter is not shut down")
    }

    /// Forgets the spans recorded so far.
    pub fn reset(&self) {
        self.exporter.reset();
    }
}

/// The attribute `key` of `span`.
pub fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The attribute `key` of `span` as text.
pub fn text(span: &SpanData, key: &str) -> Option<String> {
    attribute(span, key).map(|value| value.as_str().into_owned())
}

/// The attribute `key` of `span` as a number: Treaty's layer (like
/// tracing-opentelemetry)
/// writes unsigned numbers that do not fit an `i64` as text.
pub fn number(span: &SpanData, key: &str) -> Option<i64> {
    match attribute(span, key)? {
        Value::I64(n) => Some(*n),
        Value::String(text) => text.as_str().parse().ok(),
        _ => None,
    }
}
