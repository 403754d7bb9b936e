//! Traces: the W3C trace context that travels with commands.
//!
//! Treaty records its work as `tracing` spans (named `treaty.*`, at INFO
//! but for `treaty.bus.handle`, at DEBUG; docs/operations.md lists them
//! with their fields). With the feature `otel` and an OpenTelemetry layer
//! in the subscriber (Treaty's own, [`layer`], which
//! [`otlp::layer`](super::otlp::layer) sets up, or tracing-opentelemetry's),
//! those spans become OpenTelemetry spans, and the trace context crosses
//! process boundaries:
//!
//! - [`Bus::send`](crate::bus::Bus::send) writes the context of its
//!   `treaty.bus.send` span into the envelope's headers
//!   ([`TRACEPARENT`], [`TRACESTATE`]); the bus that delivers it makes its
//!   `treaty.bus.deliver` span a child of that context, over every
//!   transport, for every attempt, and for a message sent again from the
//!   quarantine.
//! - A process manager's command carries the trace context of the event
//!   that caused it (from the event's metadata), and its outbox sends it
//!   in a `treaty.process.send` span that is a child of that context.
//! - `treaty-http` makes a command's `treaty.http.command` span (and a
//!   view read's `treaty.http.view`) a child of the request's
//!   `traceparent` header, and writes the command span's context into the
//!   metadata of the events the command appends, as a bus handler's
//!   events carry their envelope's headers.
//!
//! A missing or malformed `traceparent` is ignored: the span starts a
//! trace of its own. Without the feature, or without the layer, nothing is
//! written and headers pass through untouched, so an envelope keeps the
//! context its sender gave it through retries and the quarantine.

use std::collections::BTreeMap;

/// The header of the W3C trace context that names the trace and the
/// parent span: `00-<trace id>-<span id>-<flags>`.
pub const TRACEPARENT: &str = "traceparent";

/// The header of the W3C trace context with vendor-specific state.
pub const TRACESTATE: &str = "tracestate";

/// Writes the trace context of `span` into `headers` ([`TRACEPARENT`] and,
/// when there is state, [`TRACESTATE`]), replacing the ones there.
/// Returns whether it wrote anything: `false` (and `headers` untouched)
/// without the feature `otel`, without an OpenTelemetry layer, or when the
/// span is disabled.
pub fn inject(span: &tracing::Span, headers: &mut BTreeMap<String, String>) -> bool {
    #[cfg(feature = "otel")]
    {
        otel::inject(span, headers)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, headers);
        false
    }
}

/// `headers` with the trace context of `span` written in, as
/// [`inject`] writes it, or `None` (and nothing copied) when there is
/// nothing to write.
pub fn injected(span: &tracing::Span, headers: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    #[cfg(feature = "otel")]
    {
        // The headers are copied only when there is a context to write.
        let context = otel::context(span)?;
        let mut headers = headers.clone();
        otel::write(&context, &mut headers);
        Some(headers)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, headers);
        None
    }
}

/// Makes `span` a child of the trace context that `get` reads (`get` is
/// asked for [`TRACEPARENT`] and [`TRACESTATE`]), and returns whether it
/// did. A missing or malformed `traceparent` is ignored: the span keeps
/// the parent it has. Call it before the span is first entered.
pub fn set_parent<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    #[cfg(feature = "otel")]
    {
        otel::set_parent(span, get)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, get);
        false
    }
}

/// [`set_parent`] from headers such as an envelope's or an event's.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &BTreeMap<String, String>) -> bool {
    set_parent(span, |name| headers.get(name).map(String::as_str))
}

/// Links `span` to the trace context in `headers`, if there is a valid
/// one: for work that follows from a command without being part of it,
/// such as a projection batch applying the command's events. Returns
/// whether it linked.
pub fn link_from_headers(span: &tracing::Span, headers: &BTreeMap<String, String>) -> bool {
    #[cfg(feature = "otel")]
    {
        otel::link(span, |name| headers.get(name).map(String::as_str))
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (span, headers);
        false
    }
}

/// Links `span` to the trace context in each of `headers`, up to
/// `at_most` links: for a batch of work that follows from several
/// commands, such as a projection or process manager batch applying
/// their events. Returns how many it linked.
pub fn link_each<'a>(
    span: &tracing::Span,
    headers: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
    at_most: usize,
) -> usize {
    if span.is_disabled() {
        return 0;
    }
    let mut linked = 0;
    for headers in headers {
        if linked == at_most {
            break;
        }
        if link_from_headers(span, headers) {
            linked += 1;
        }
    }
    linked
}

#[cfg(feature = "otel")]
mod layer;

#[cfg(feature = "otel")]
pub use layer::{layer, Export, TraceLayer};

/// The sampler [`layer`] samples with (`Export::sample`,
/// `OtlpConfig::sample`), for a provider of one's own: a share `ratio` (0
/// to 1) of the traces that start in this process are recorded, and a
/// span whose parent came in a `traceparent` is recorded when its parent
/// was, so that a trace is whole or absent across services. With 1.0 it
/// is the SDK's default, parent-based always-on.
#[cfg(feature = "otel")]
pub fn sampler(ratio: f64) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler;
    let root = if ratio >= 1.0 || ratio.is_nan() {
        Sampler::AlwaysOn
    } else {
        Sampler::TraceIdRatioBased(ratio.max(0.0))
    };
    Sampler::ParentBased(Box::new(root))
}

/// The trace id of `span` as 32 hex digits, when it belongs to an
/// OpenTelemetry trace: for logs and answers that point into the trace.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    #[cfg(feature = "otel")]
    {
        otel::trace_id(span)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = span;
        None
    }
}

#[cfg(feature = "otel")]
mod otel {
    use std::collections::BTreeMap;

    use std::fmt::Write as _;

    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::layer::{Access, SpanRecord, Whose};
    use super::{TRACEPARENT, TRACESTATE};

    /// Reads the two headers through the caller's getter, copying nothing.
    struct Reader<'a, F>(F, std::marker::PhantomData<&'a str>);

    impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Reader<'a, F> {
        fn get(&self, key: &str) -> Option<&str> {
            (self.0)(key)
        }

        fn keys(&self) -> Vec<&str> {
            [TRACEPARENT, TRACESTATE]
                .into_iter()
                .filter(|name| (self.0)(name).is_some())
                .collect()
        }
    }

    /// Runs `f` on the record Treaty's layer keeps of `span` (`whose`
    /// says which); `None` when the subscriber has no such layer or there
    /// is no such record.
    fn with_record<R>(span: &tracing::Span, whose: Whose, f: impl FnOnce(&mut SpanRecord) -> R) -> Option<R> {
        let mut f = Some(f);
        let mut out = None;
        span.with_subscriber(|(id, dispatch)| {
            if let Some(access) = dispatch.downcast_ref::<Access>() {
                (access.0)(dispatch, id, whose, &mut |record| {
                    if let Some(f) = f.take() {
                        out = Some(f(record));
                    }
                });
            }
        });
        out
    }

    /// The valid remote span context `get` holds, if any. Without a
    /// `traceparent` nothing is parsed.
    fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<SpanContext> {
        get(TRACEPARENT)?;
        let context = TraceContextPropagator::new().extract(&Reader(get, std::marker::PhantomData));
        let span_context = context.span().span_context().clone();
        span_context.is_valid().then_some(span_context)
    }

    /// The span context of `span`, when a layer records it: Treaty's, or
    /// tracing-opentelemetry's for a subscriber set up with that crate's
    /// layer.
    pub(super) fn context(span: &tracing::Span) -> Option<SpanContext> {
        if span.is_disabled() {
            return None;
        }
        if let Some(context) = with_record(span, Whose::Nearest, |record| record.span_context()) {
            return Some(context);
        }
        let context = span.context();
        let span_context = context.span().span_context().clone();
        span_context.is_valid().then_some(span_context)
    }

    /// Writes `span_context` into `headers`: what `TraceContextPropagator`
    /// writes, formatted here into a string of the header's exact length
    /// (every send pays for it), and without the empty `tracestate` the
    /// propagator writes when there is no state.
    pub(super) fn write(span_context: &SpanContext, headers: &mut BTreeMap<String, String>) {
        // Version 00: `00-<32 hex>-<16 hex>-<2 hex>`, 55 characters; only
        // the sampled flag is defined, so only it is passed on.
        let mut traceparent = String::with_capacity(55);
        let _ = write!(
            traceparent,
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags() & TraceFlags::SAMPLED
        );
        match headers.get_mut(TRACEPARENT) {
            // The header a retry or a forward already carries is
            // rewritten in place, without a new key.
            Some(value) => *value = traceparent,
            None => {
                headers.insert(TRACEPARENT.to_string(), traceparent);
            }
        }
        let state = span_context.trace_state().header();
        if state.is_empty() {
            headers.remove(TRACESTATE);
        } else {
            headers.insert(TRACESTATE.to_string(), state);
        }
    }

    pub(super) fn inject(span: &tracing::Span, headers: &mut BTreeMap<String, String>) -> bool {
        match context(span) {
            Some(context) => {
                write(&context, headers);
                true
            }
            None => false,
        }
    }

    pub(super) fn set_parent<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        if span.is_disabled() {
            return false;
        }
        let Some(parent) = extract(get) else {
            return false;
        };
        if with_record(span, Whose::Own, |record| record.set_remote_parent(&parent)).is_some() {
            return true;
        }
        let parent = opentelemetry::Context::new().with_remote_span_context(parent);
        span.set_parent(parent).is_ok()
    }

    pub(super) fn link<'a>(span: &tracing::Span, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        if span.is_disabled() {
            return false;
        }
        let Some(linked) = extract(get) else {
            return false;
        };
        let mut linked = Some(linked);
        if with_record(span, Whose::Own, |record| {
            record.add_link(linked.take().expect("taken once"))
        })
        .is_none()
        {
            span.add_link(linked.take().expect("not taken: no record"));
        }
        true
    }

    pub(super) fn trace_id(span: &tracing::Span) -> Option<String> {
        if span.is_disabled() {
            return None;
        }
        if let Some(id) = with_record(span, Whose::Nearest, |record| record.trace_id.to_string()) {
            return Some(id);
        }
        let context = span.context();
        let span_context = context.span().span_context().clone();
        span_context.is_valid().then(|| span_context.trace_id().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sampling decides where a trace starts, and a span with a parent
    /// from a `traceparent` follows the parent's decision either way, so
    /// a trace is whole or absent across services.
    #[cfg(feature = "otel")]
    #[test]
    fn the_sampler_follows_the_parent_and_samples_roots_by_ratio() {
        use opentelemetry::trace::{
            SpanContext, SpanId, SpanKind, TraceContextExt as _, TraceFlags, TraceId, TraceState,
        };
        use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample as _};

        let decide = |sampler: &opentelemetry_sdk::trace::Sampler, parent: Option<TraceFlags>, trace: u128| {
            let parent = parent.map(|flags| {
                opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
                    TraceId::from(trace),
                    SpanId::from(1),
                    flags,
                    true,
                    TraceState::default(),
                ))
            });
            sampler
                .should_sample(
                    parent.as_ref(),
                    TraceId::from(trace),
                    "s",
                    &SpanKind::Internal,
                    &[],
                    &[],
                )
                .decision
        };
        let never = sampler(0.0);
        let always = sampler(1.0);
        for trace in [1_u128, u128::MAX / 3, u128::MAX] {
            assert_eq!(decide(&never, None, trace), SamplingDecision::Drop);
            assert_eq!(decide(&always, None, trace), SamplingDecision::RecordAndSample);
            assert_eq!(
                decide(&never, Some(TraceFlags::SAMPLED), trace),
                SamplingDecision::RecordAndSample
            );
            assert_eq!(
                decide(&always, Some(TraceFlags::default()), trace),
                SamplingDecision::Drop
            );
        }
        // About a tenth of the roots, by trace id.
        let tenth = sampler(0.1);
        let sampled = (0..10_000_u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
            .filter(|trace| decide(&tenth, None, *trace) == SamplingDecision::RecordAndSample)
            .count();
        assert!((700..1300).contains(&sampled), "{sampled} of 10000 sampled");
    }

    /// The header Treaty writes is the one the SDK's propagator writes,
    /// with and without state, sampled or not; an empty state writes no
    /// `tracestate`, and a stale one is removed.
    #[cfg(feature = "otel")]
    #[test]
    fn the_written_context_is_the_propagator_s() {
        use std::collections::HashMap;
        use std::str::FromStr as _;

        use opentelemetry::propagation::TextMapPropagator as _;
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
        use opentelemetry_sdk::propagation::TraceContextPropagator;

        for (flags, state) in [
            (TraceFlags::SAMPLED, ""),
            (TraceFlags::default(), ""),
            (TraceFlags::SAMPLED, "vendor=1,other=abc"),
        ] {
            let span_context = SpanContext::new(
                TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c),
                SpanId::from(0x00f0_67aa_0ba9_02b7),
                flags,
                true,
                TraceState::from_str(state).unwrap(),
            );
            let context = opentelemetry::Context::new().with_remote_span_context(span_context.clone());
            let mut expected = HashMap::new();
            TraceContextPropagator::new().inject_context(&context, &mut expected);
            let mut headers = BTreeMap::from([
                ("user".to_string(), "ann".to_string()),
                (TRACEPARENT.to_string(), "00-stale".to_string()),
                (TRACESTATE.to_string(), "stale=1".to_string()),
            ]);
            otel::write(&span_context, &mut headers);
            assert_eq!(headers.get(TRACEPARENT), expected.get(TRACEPARENT), "{state:?}");
            assert_eq!(headers[TRACEPARENT].len(), 55);
            let state_written = expected.get(TRACESTATE).filter(|s| !s.is_empty());
            assert_eq!(headers.get(TRACESTATE), state_written, "{state:?}");
            assert_eq!(headers.get("user").map(String::as_str), Some("ann"));
        }
    }

    #[test]
    fn without_a_layer_headers_pass_through_untouched() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut headers = BTreeMap::from([
            (TRACEPARENT.to_string(), traceparent.to_string()),
            (TRACESTATE.to_string(), "vendor=1".to_string()),
        ]);
        let before = headers.clone();
        let span = tracing::info_span!("treaty.test");
        assert!(!inject(&span, &mut headers));
        assert_eq!(injected(&span, &headers), None);
        assert_eq!(headers, before);
        // No layer records the span, so there is nothing to parent.
        assert!(!set_parent_from_headers(&span, &headers));
        assert_eq!(trace_id(&span), None);
    }
}
