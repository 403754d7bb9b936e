//! Treaty's OpenTelemetry layer: `tracing` spans recorded as
//! OpenTelemetry spans, with as little work per span as the trace needs.
//!
//! tracing-opentelemetry builds an SDK span for every `tracing` span (a
//! span builder, a shared lock around it, an OpenTelemetry context for its
//! parent and one for itself, the SDK span with its own lock) and records
//! every field of a span that will not be exported. Profiles of the bus
//! (docs/benchmarks.md, "Telemetry") put that at 3 to 4 µs per span, most
//! of what traces cost a command. This layer keeps one plain record per
//! span in the span's extensions (ids, start time, fields) and, when a
//! sampled span closes, hands its `SpanData` to the span processor
//! itself, the same processor the tracer provider it returns uses. A span
//! of an unsampled trace records its ids and nothing else, but for a
//! root, whose fields are kept until a `traceparent` may make it part of
//! a sampled trace ([`set_parent`](super::set_parent) is called after a
//! span starts and before it is entered).

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, Key, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, IdGenerator, RandomIdGenerator, Sampler, SamplingDecision, SdkTracerProvider, ShouldSample,
    SimpleSpanProcessor, SpanData, SpanEvents, SpanExporter, SpanLinks, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event as TracingEvent, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where [`layer`]'s spans go, and which of them: the span processor
/// (batching or not, and its exporter), the share of traces recorded, and
/// the resource (the service) they are exported as.
pub struct Export {
    processor: Box<dyn SpanProcessor>,
    sample: f64,
    resource: Option<Resource>,
}

impl fmt::Debug for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export")
            .field("processor", &self.processor)
            .field("sample", &self.sample)
            .finish_non_exhaustive()
    }
}

impl Export {
    /// Spans handed, in batches and from a thread of the processor's own,
    /// to `exporter`: what a service runs, so that exporting never holds
    /// up a command.
    ///
    /// # Examples
    ///
    /// ```
    /// use treaty_runtime::telemetry::opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use treaty_runtime::telemetry::trace::Export;
    ///
    /// let export = Export::batch(InMemorySpanExporter::default()).sample(0.1);
    /// # let _ = export;
    /// ```
    pub fn batch(exporter: impl SpanExporter + 'static) -> Self {
        Export::processor(BatchSpanProcessor::builder(exporter).build())
    }

    /// Spans exported one by one as they end, on the thread that ends
    /// them: for tests, which read a span as soon as it ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use treaty_runtime::telemetry::opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use treaty_runtime::telemetry::trace::Export;
    ///
    /// let export = Export::simple(InMemorySpanExporter::default());
    /// # let _ = export;
    /// ```
    pub fn simple(exporter: impl SpanExporter + 'static) -> Self {
        Export::processor(SimpleSpanProcessor::new(exporter))
    }

    /// Spans handed to a processor of one's own.
    pub fn processor(processor: impl SpanProcessor + 'static) -> Self {
        Export {
            processor: Box::new(processor),
            sample: 1.0,
            resource: None,
        }
    }

    /// Records this share (0 to 1, clamped) of the traces that start
    /// here; a trace whose parent comes from elsewhere (a `traceparent`)
    /// is recorded when its parent was. The sampling of
    /// [`sampler`](super::sampler), which the returned provider uses. By
    /// default every trace.
    ///
    /// # Examples
    ///
    /// ```
    /// use treaty_runtime::telemetry::opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use treaty_runtime::telemetry::trace::Export;
    ///
    /// // One trace in ten.
    /// let export = Export::batch(InMemorySpanExporter::default()).sample(0.1);
    /// # let _ = export;
    /// ```
    pub fn sample(mut self, ratio: f64) -> Self {
        self.sample = if ratio.is_nan() { 1.0 } else { ratio.clamp(0.0, 1.0) };
        self
    }

    /// The resource spans are exported as, such as the service's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use treaty_runtime::telemetry::opentelemetry_sdk::trace::InMemorySpanExporter;
    /// use treaty_runtime::telemetry::opentelemetry_sdk::Resource;
    /// use treaty_runtime::telemetry::trace::Export;
    ///
    /// let export = Export::batch(InMemorySpanExporter::default())
    ///     .resource(Resource::builder().with_service_name("factory").build());
    /// # let _ = export;
    /// ```
    pub fn resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }
}

/// Treaty's layer over `export`, and a tracer provider that shares its
/// span processor: flushing or shutting the provider down flushes or
/// stops the layer's export too, and spans made through the OpenTelemetry
/// API with the provider's tracers go the same way, sampled alike.
///
/// The layer records each span's fields, its kind (`otel.kind`), name
/// (`otel.name`, else the span's) and status (`otel.status_code`,
/// `otel.status_message`, or an `ERROR` event inside it), its events, its
/// links ([`link_from_headers`](super::link_from_headers)) and its
/// target, and leaves out what costs on every span without telling an
/// operator much: the source location, the thread, and the busy and idle
/// times. Spans find their parents through `tracing` (the explicit
/// parent, else the current span), never through
/// `opentelemetry::Context::current()`, which this layer does not set.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use treaty_runtime::telemetry::opentelemetry_sdk::trace::InMemorySpanExporter;
/// use treaty_runtime::telemetry::trace::{layer, Export};
///
/// let exporter = InMemorySpanExporter::default();
/// let (traces, provider) = layer(Export::simple(exporter.clone()));
/// let subscriber = tracing_subscriber::registry().with(traces);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("work", item = 7).in_scope(|| {});
/// });
/// let spans = exporter.get_finished_spans().unwrap();
/// assert_eq!(spans[0].name, "work");
/// provider.shutdown().unwrap();
/// ```
pub fn layer<S>(export: Export) -> (TraceLayer<S>, SdkTracerProvider)
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let mut processor = export.processor;
    let resource = export.resource.unwrap_or_else(|| Resource::builder().build());
    processor.set_resource(&resource);
    let processor: Arc<dyn SpanProcessor> = Arc::from(processor);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(Shared(processor.clone()))
        .with_sampler(super::sampler(export.sample))
        .with_resource(resource)
        .build();
    let root_sampler = (export.sample < 1.0).then(|| Sampler::TraceIdRatioBased(export.sample));
    let layer = TraceLayer {
        processor,
        root_sampler,
        ids: RandomIdGenerator::default(),
        scope: InstrumentationScope::builder("treaty").build(),
        access: Access(access::<S>),
        _subscriber: PhantomData,
    };
    (layer, provider)
}

/// The layer [`layer`] returns.
pub struct TraceLayer<S> {
    processor: Arc<dyn SpanProcessor>,
    /// How a trace that starts here is sampled; `None`: every one.
    root_sampler: Option<Sampler>,
    ids: RandomIdGenerator,
    scope: InstrumentationScope,
    access: Access,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> fmt::Debug for TraceLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceLayer").finish_non_exhaustive()
    }
}

/// The provider's processor: the layer's, shared.
#[derive(Debug)]
struct Shared(Arc<dyn SpanProcessor>);

impl SpanProcessor for Shared {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    // `set_resource` is left as the no-op default: [`layer`] gave the
    // processor its resource before sharing it.
}

/// What the layer keeps of one span, in the span's extensions.
#[derive(Debug)]
pub(super) struct SpanRecord {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) parent_span_id: SpanId,
    pub(super) parent_is_remote: bool,
    /// Only the sampled flag is used.
    pub(super) flags: TraceFlags,
    pub(super) trace_state: TraceState,
    name: Cow<'static, str>,
    kind: SpanKind,
    status: Status,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    events: Vec<Event>,
    links: Vec<Link>,
}

impl SpanRecord {
    /// The span's context, as it travels in a `traceparent`.
    pub(super) fn span_context(&self) -> SpanContext {
        SpanContext::new(self.trace_id, self.span_id, self.flags, false, self.trace_state.clone())
    }

    /// Makes the span a child of `remote`, following its sampling
    /// decision (parent-based sampling).
    pub(super) fn set_remote_parent(&mut self, remote: &SpanContext) {
        self.trace_id = remote.trace_id();
        self.parent_span_id = remote.span_id();
        self.parent_is_remote = true;
        self.flags = remote.trace_flags() & TraceFlags::SAMPLED;
        self.trace_state = remote.trace_state().clone();
    }

    /// Links the span to `context`.
    pub(super) fn add_link(&mut self, context: SpanContext) {
        self.links.push(Link::with_context(context));
    }

    fn sampled(&self) -> bool {
        self.flags.is_sampled()
    }
}

/// How the trace module reaches the record of a span through the
/// dispatcher, whatever the subscriber's type: the layer hands out this
/// function for its subscriber type through `downcast_raw`. With
/// [`Whose::Nearest`], a span without a record (of an unsampled trace)
/// answers with its nearest ancestor's.
#[derive(Clone, Copy)]
pub(super) struct Access(pub(super) AccessFn);

/// The function behind [`Access`]: runs the callback on the record.
pub(super) type AccessFn = fn(&Dispatch, &Id, Whose, &mut dyn FnMut(&mut SpanRecord));

/// Which record [`Access`] reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whose {
    /// The span's own: to change the span.
    Own,
    /// The span's, else its nearest ancestor's: to read the trace context.
    Nearest,
}

fn access<S>(dispatch: &Dispatch, id: &Id, whose: Whose, f: &mut dyn FnMut(&mut SpanRecord))
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    // The layer hands out this function only from inside a subscriber of
    // type `S`, so the downcast cannot fail; if it somehow did, the span
    // is left alone.
    let Some(subscriber) = dispatch.downcast_ref::<S>() else {
        return;
    };
    // Up the tree by `parent`, not `scope`, which would look the span
    // itself up a second time.
    let mut next = subscriber.span(id);
    while let Some(span) = next {
        if let Some(record) = span.extensions_mut().get_mut::<SpanRecord>() {
            f(record);
            return;
        }
        if whose == Whose::Own {
            return;
        }
        next = span.parent();
    }
}

impl<S> TraceLayer<S> {
    fn sample_root(&self, trace_id: TraceId, name: &str) -> TraceFlags {
        let sampled = match &self.root_sampler {
            None => true,
            Some(sampler) => {
                sampler
                    .should_sample(None, trace_id, name, &SpanKind::Internal, &[], &[])
                    .decision
                    == SamplingDecision::RecordAndSample
            }
        };
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        }
    }
}

impl<S> Layer<S> for TraceLayer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = if let Some(parent) = attrs.parent() {
            ctx.span(parent)
        } else if attrs.is_contextual() {
            ctx.lookup_current()
        } else {
            None
        };
        // The nearest ancestor with a record: spans of unsampled traces
        // keep none (below).
        // (Up the tree by `parent`, not `scope`, which would look the
        // parent up a second time.)
        let mut inherited = None;
        let mut next = parent;
        while let Some(ancestor) = next {
            if let Some(record) = ancestor.extensions().get::<SpanRecord>() {
                inherited = Some((
                    record.trace_id,
                    record.span_id,
                    record.flags,
                    record.trace_state.clone(),
                ));
                break;
            }
            next = ancestor.parent();
        }
        let metadata = attrs.metadata();
        let (trace_id, parent_span_id, flags, trace_state) = match inherited {
            // A span of a trace that is not exported, under a span that
            // has a record: it keeps nothing, and whoever asks for its
            // context (to write a `traceparent`) gets that span's, which
            // carries the trace and the decision not to sample it.
            Some((_, _, flags, _)) if !flags.is_sampled() => return,
            Some(inherited) => inherited,
            None => {
                let trace_id = self.ids.new_trace_id();
                let flags = self.sample_root(trace_id, metadata.name());
                (trace_id, SpanId::INVALID, flags, TraceState::default())
            }
        };
        let mut record = SpanRecord {
            trace_id,
            span_id: self.ids.new_span_id(),
            parent_span_id,
            parent_is_remote: false,
            flags,
            trace_state,
            name: Cow::Borrowed(metadata.name()),
            kind: SpanKind::Internal,
            status: Status::Unset,
            start: SystemTime::now(),
            attributes: Vec::with_capacity(attrs.fields().len() + 1),
            events: Vec::new(),
            links: Vec::new(),
        };
        // A root's fields are kept even when its trace is not sampled
        // here: a `traceparent` may yet make it part of a sampled trace.
        attrs.record(&mut Fields(&mut SpanFields {
            record: &mut record,
            fresh: true,
        }));
        record.attributes.push(KeyValue::new("target", metadata.target()));
        span.extensions_mut().insert(record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(record) = extensions.get_mut::<SpanRecord>() {
            values.record(&mut Fields(&mut SpanFields { record, fresh: false }));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let (Some(span), Some(follows)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some(context) = follows.extensions().get::<SpanRecord>().map(SpanRecord::span_context) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(record) = extensions.get_mut::<SpanRecord>() {
            record.add_link(context);
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else { return };
        let mut extensions = span.extensions_mut();
        let Some(record) = extensions.get_mut::<SpanRecord>() else {
            return;
        };
        let metadata = event.metadata();
        let mut fields = EventFields {
            name: None,
            attributes: Vec::with_capacity(event.fields().count() + 1),
        };
        event.record(&mut Fields(&mut fields));
        fields
            .attributes
            .push(KeyValue::new("level", metadata.level().as_str()));
        fields.attributes.push(KeyValue::new("target", metadata.target()));
        let name = fields.name.unwrap_or_else(|| Cow::Borrowed(metadata.name()));
        if *metadata.level() == Level::ERROR && record.status == Status::Unset {
            record.status = Status::error(name.clone());
        }
        record
            .events
            .push(Event::new(name, SystemTime::now(), fields.attributes, 0));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(record) = span.extensions_mut().remove::<SpanRecord>() else {
            return;
        };
        if !record.sampled() {
            return;
        }
        let span_context = record.span_context();
        // Both are non-exhaustive, so they are filled in place.
        let mut events = SpanEvents::default();
        events.events = record.events;
        let mut links = SpanLinks::default();
        links.links = record.links;
        self.processor.on_end(SpanData {
            span_context,
            parent_span_id: record.parent_span_id,
            parent_span_is_remote: record.parent_is_remote,
            span_kind: record.kind,
            name: record.name,
            start_time: record.start,
            end_time: SystemTime::now(),
            attributes: record.attributes,
            dropped_attributes_count: 0,
            events,
            links,
            status: record.status,
            instrumentation_scope: self.scope.clone(),
        });
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<Access>() {
            Some(&self.access as *const Access as *const ())
        } else {
            None
        }
    }
}

/// A span's fields as attributes, but for the `otel.*` fields that set
/// its name, kind and status.
struct SpanFields<'a> {
    record: &'a mut SpanRecord,
    /// The span's fields at its start, each given once: no attribute to
    /// replace, so none is looked for.
    fresh: bool,
}

impl SpanFields<'_> {
    fn set(&mut self, field: &Field, value: Value) {
        let attributes = &mut self.record.attributes;
        let existing = if self.fresh {
            None
        } else {
            attributes.iter_mut().find(|kv| kv.key.as_str() == field.name())
        };
        match existing {
            Some(existing) => existing.value = value,
            None => attributes.push(KeyValue::new(Key::from_static_str(field.name()), value)),
        }
    }

    fn set_text(&mut self, field: &Field, text: Cow<'_, str>) {
        match field.name() {
            "otel.name" => self.record.name = Cow::Owned(text.into_owned()),
            "otel.kind" => {
                if let Some(kind) = span_kind(&text) {
                    self.record.kind = kind;
                }
            }
            "otel.status_code" => {
                if text.eq_ignore_ascii_case("ok") {
                    self.record.status = Status::Ok;
                } else if text.eq_ignore_ascii_case("error") && !matches!(self.record.status, Status::Error { .. }) {
                    // An error's message, if one was set, is kept.
                    self.record.status = Status::error("");
                }
            }
            "otel.status_message" => self.record.status = Status::error(text.into_owned()),
            _ => self.set(field, Value::from(text.into_owned())),
        }
    }
}

/// The kind `text` names, in any case; read without a copy of it.
fn span_kind(text: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

impl FieldSink for SpanFields<'_> {
    fn value(&mut self, field: &Field, value: Value) {
        self.set(field, value);
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        self.set_text(field, text);
    }
}

/// Where [`Fields`] puts what it reads: numbers and flags as values,
/// everything else as text, borrowed when the field gave a `&str`, so
/// that text the sink does not keep (`otel.kind`) is never copied.
trait FieldSink {
    fn value(&mut self, field: &Field, value: Value);
    fn text(&mut self, field: &Field, text: Cow<'_, str>);
}

/// A `tracing` visitor turning fields into OpenTelemetry values for a
/// [`FieldSink`].
struct Fields<'a, T>(&'a mut T);

impl<T: FieldSink> Visit for Fields<'_, T> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.value(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.value(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        // OpenTelemetry has no unsigned integers: one that does not fit
        // an `i64` is written as text, as tracing-opentelemetry does.
        match i64::try_from(value) {
            Ok(value) => self.0.value(field, Value::I64(value)),
            Err(_) => self.0.text(field, Cow::Owned(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.value(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.text(field, Cow::Borrowed(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.text(field, Cow::Owned(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.text(field, Cow::Owned(format!("{value:?}")));
    }
}

/// An event's fields: its `message` as the event's name, the rest as
/// attributes.
struct EventFields {
    name: Option<Cow<'static, str>>,
    attributes: Vec<KeyValue>,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: Value) {
        self.attributes
            .push(KeyValue::new(Key::from_static_str(field.name()), value));
    }
}

impl FieldSink for EventFields {
    fn value(&mut self, field: &Field, value: Value) {
        self.push(field, value);
    }

    fn text(&mut self, field: &Field, text: Cow<'_, str>) {
        if field.name() == "message" {
            self.name = Some(Cow::Owned(text.into_owned()));
        } else {
            self.push(field, Value::from(text.into_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opentelemetry::trace::{SpanKind, Status};
    use opentelemetry::Value;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::{layer, Export};
    use crate::telemetry::trace::{inject, set_parent_from_headers, trace_id, TRACEPARENT};

    /// Runs `work` with Treaty's layer over `export`'s settings and an
    /// in-memory exporter as this thread's subscriber; returns the
    /// exported spans.
    fn exported(sample: f64, work: impl FnOnce()) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let (traces, provider): (_, SdkTracerProvider) = layer(Export::simple(exporter.clone()).sample(sample));
        let subscriber = tracing_subscriber::registry().with(traces);
        tracing::subscriber::with_default(subscriber, work);
        let spans = exporter.get_finished_spans().expect("not shut down");
        provider.shutdown().expect("shuts down");
        spans
    }

    fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
        spans.iter().find(|span| span.name == name).unwrap_or_else(|| {
            panic!(
                "no span {name} among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    }

    fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn spans_keep_their_tree_fields_kind_and_status() {
        let spans = exported(1.0, || {
            let outer = tracing::info_span!("outer", otel.kind = "consumer", stream = "order-1", big = u64::MAX);
            outer.in_scope(|| {
                let inner = tracing::info_span!("inner", version = tracing::field::Empty);
                inner.record("version", 7_u64);
                inner.in_scope(|| tracing::error!(reason = "disk full", "cannot append"));
            });
        });
        assert_eq!(spans.len(), 2);
        let (outer, inner) = (named(&spans, "outer"), named(&spans, "inner"));
        assert_eq!(outer.span_kind, SpanKind::Consumer);
        assert_eq!(attribute(outer, "stream"), Some(&Value::from("order-1")));
        // No unsigned numbers in OpenTelemetry: too big for an i64, text.
        assert_eq!(attribute(outer, "big"), Some(&Value::from(u64::MAX.to_string())));
        assert_eq!(attribute(outer, "otel.kind"), None);
        assert_eq!(inner.span_context.trace_id(), outer.span_context.trace_id());
        assert_eq!(inner.parent_span_id, outer.span_context.span_id());
        assert!(!inner.parent_span_is_remote);
        assert_eq!(attribute(inner, "version"), Some(&Value::I64(7)));
        assert_eq!(inner.status, Status::error("cannot append"));
        assert_eq!(inner.events.len(), 1);
        assert_eq!(inner.events[0].name, "cannot append");
        assert!(inner.events[0]
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "reason" && kv.value == Value::from("disk full")));
        assert!(inner.end_time >= inner.start_time);
    }

    /// A trace that is not sampled exports nothing, and still carries its
    /// trace id and its decision to the next service, from any span of it.
    #[test]
    fn an_unsampled_trace_exports_nothing_and_propagates_its_context() {
        let mut written = BTreeMap::new();
        let mut id = None;
        let spans = exported(0.0, || {
            let root = tracing::info_span!("root");
            root.in_scope(|| {
                let child = tracing::info_span!("child");
                assert!(inject(&child, &mut written));
                id = trace_id(&child);
                assert_eq!(id, trace_id(&root));
            });
        });
        assert!(spans.is_empty(), "{spans:?}");
        let traceparent = &written[TRACEPARENT];
        let id = id.expect("a trace id");
        assert!(traceparent.starts_with(&format!("00-{id}-")), "{traceparent}");
        assert!(traceparent.ends_with("-00"), "{traceparent}");
    }

    /// Parent-based sampling: a span given a sampled remote parent is
    /// exported with its fields and children even where no trace that
    /// starts here is; an unsampled remote parent drops a trace that
    /// would have been exported.
    #[test]
    fn a_remote_parent_decides_the_sampling() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let parent = "00f067aa0ba902b7";
        let headers = |flags: &str| BTreeMap::from([(TRACEPARENT.to_string(), format!("00-{trace}-{parent}-{flags}"))]);
        let spans = exported(0.0, || {
            let delivery = tracing::info_span!("deliver", message_id = "m-1");
            assert!(set_parent_from_headers(&delivery, &headers("01")));
            delivery.in_scope(|| tracing::info_span!("handle").in_scope(|| {}));
        });
        assert_eq!(spans.len(), 2);
        let delivery = named(&spans, "deliver");
        assert_eq!(delivery.span_context.trace_id().to_string(), trace);
        assert_eq!(delivery.parent_span_id.to_string(), parent);
        assert!(delivery.parent_span_is_remote);
        assert_eq!(attribute(delivery, "message_id"), Some(&Value::from("m-1")));
        assert_eq!(named(&spans, "handle").parent_span_id, delivery.span_context.span_id());

        let spans = exported(1.0, || {
            let delivery = tracing::info_span!("deliver");
            assert!(set_parent_from_headers(&delivery, &headers("00")));
            delivery.in_scope(|| tracing::info_span!("handle").in_scope(|| {}));
        });
        assert!(spans.is_empty(), "{spans:?}");
    }

    /// The provider the layer returns exports through the same processor:
    /// spans made with the OpenTelemetry API reach the same exporter.
    #[test]
    fn the_provider_shares_the_layer_s_export() {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};

        let exporter = InMemorySpanExporter::default();
        let (traces, provider) = layer::<tracing_subscriber::Registry>(Export::simple(exporter.clone()));
        drop(traces);
        provider.tracer("own").in_span("direct", |_| {});
        let spans = exporter.get_finished_spans().expect("not shut down");
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "direct");
    }
}
