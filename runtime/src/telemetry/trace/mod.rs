//! Traces: the W3C trace context that travels with commands.
//!
//! Treaty records its work as `tracing` spans (named `treaty.*`, at INFO
//! but for `treaty.bus.send` and `treaty.bus.handle`, at DEBUG;
//! docs/operations.md lists them with their fields). With the feature `otel` and an OpenTelemetry layer
//! in the subscriber (Treaty's own, [`layer`], which
//! [`otlp::layer`](super::otlp::layer) sets up, or tracing-opentelemetry's),
//! those spans become OpenTelemetry spans, and the trace context crosses
//! process boundaries:
//!
//! - [`Bus::send`](crate::bus::Bus::send) writes the context of its
//!   `treaty.bus.send` span (when DEBUG is recorded; else of the span it
//!   is called in, if any) into the envelope's headers
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

    use std::str::FromStr as _;

    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
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
    /// `traceparent` nothing is parsed. A `traceparent` in the form Treaty
    /// and every W3C version 00 sender writes is parsed here by hand
    /// ([`parse_canonical`]); any other text goes to the SDK's
    /// propagator, which decides as it always did what it accepts.
    pub(super) fn extract<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<SpanContext> {
        let traceparent = get(TRACEPARENT)?;
        let span_context = match parse_canonical(traceparent) {
            Some((trace_id, span_id, flags)) => {
                // What the propagator does with the state: a malformed
                // one is no state.
                let state = get(TRACESTATE)
                    .map(|state| TraceState::from_str(state).unwrap_or_default())
                    .unwrap_or_default();
                SpanContext::new(trace_id, span_id, flags, true, state)
            }
            None => {
                let context = TraceContextPropagator::new().extract(&Reader(get, std::marker::PhantomData));
                context.span().span_context().clone()
            }
        };
        span_context.is_valid().then_some(span_context)
    }

    /// The lower-case hex digits, as a `traceparent` has them.
    const HEX: &[u8; 16] = b"0123456789abcdef";

    /// The length of a version 00 `traceparent`:
    /// `00-<32 hex>-<16 hex>-<2 hex>`.
    pub(super) const TRACEPARENT_LEN: usize = 55;

    /// The value of each byte as a lower-case hex digit; [`NOT_HEX`] for
    /// any other byte (upper case included, which the W3C format and the
    /// SDK's propagator refuse).
    const HEX_VALUES: [u8; 256] = {
        let mut values = [NOT_HEX; 256];
        let mut digit = 0;
        while digit < 16 {
            values[HEX[digit] as usize] = digit as u8;
            digit += 1;
        }
        values
    };

    /// In [`HEX_VALUES`], a byte that is no lower-case hex digit.
    const NOT_HEX: u8 = 0xff;

    /// The bytes that `2 * N` lower-case hex digits spell, most
    /// significant first; `None` if any is no such digit.
    fn hex_bytes<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
        let mut bytes = [0_u8; N];
        if digits.len() != 2 * N {
            return None;
        }
        let mut invalid = 0;
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let (high, low) = (HEX_VALUES[usize::from(pair[0])], HEX_VALUES[usize::from(pair[1])]);
            // `NOT_HEX` has its high bits set, which no digit's value has.
            invalid |= high | low;
            *byte = high << 4 | (low & 0xf);
        }
        (invalid & 0xf0 == 0).then_some(bytes)
    }

    /// The ids and the sampled flag of a `traceparent` of exactly the
    /// form a version 00 sender writes (55 characters, `00-`, lower-case
    /// hex digits and dashes where the format puts them), without the
    /// allocation and the generic parsing of the SDK's propagator;
    /// `None` for any other text, which may still be one the propagator
    /// accepts (another version, other lengths, surrounding blanks).
    /// For every text it answers, the propagator reads the same ids and
    /// flag. Never panics, whatever the text.
    pub(super) fn parse_canonical(traceparent: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
        let bytes: &[u8; TRACEPARENT_LEN] = traceparent.as_bytes().try_into().ok()?;
        if bytes[..3] != *b"00-" || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = hex_bytes::<16>(&bytes[3..35])?;
        let span_id = hex_bytes::<8>(&bytes[36..52])?;
        let [flags] = hex_bytes::<1>(&bytes[53..55])?;
        Some((
            TraceId::from_bytes(trace_id),
            SpanId::from_bytes(span_id),
            TraceFlags::new(flags) & TraceFlags::SAMPLED,
        ))
    }

    /// Writes `bytes` as lower-case hex digits into `out`, which has two
    /// bytes for each.
    fn put_hex(out: &mut [u8], bytes: &[u8]) {
        for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
    }

    /// Appends the version 00 `traceparent` of `span_context` to `out`,
    /// as `TraceContextPropagator` writes it (only the sampled flag is
    /// defined, so only it is passed on), digit by digit from a table
    /// rather than through `fmt`.
    pub(super) fn push_traceparent(out: &mut String, span_context: &SpanContext) {
        let mut text = *b"00-................................-................-..";
        put_hex(&mut text[3..35], &span_context.trace_id().to_bytes());
        put_hex(&mut text[36..52], &span_context.span_id().to_bytes());
        put_hex(
            &mut text[53..55],
            &[(span_context.trace_flags() & TraceFlags::SAMPLED).to_u8()],
        );
        // Every byte is ASCII: a dash, a digit or a letter of `HEX`.
        out.push_str(std::str::from_utf8(&text).unwrap_or_default());
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
        match headers.get_mut(TRACEPARENT) {
            // The header a retry or a forward already carries is
            // rewritten in place, in its own string, without a new key.
            Some(value) => {
                value.clear();
                push_traceparent(value, span_context);
            }
            None => {
                let mut traceparent = String::with_capacity(TRACEPARENT_LEN);
                push_traceparent(&mut traceparent, span_context);
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

    /// The hand-written parser reads what the SDK's propagator reads
    /// from every canonical `traceparent`, and leaves every other text to
    /// it: `extract` gives the propagator's answer for each of these, and
    /// none of them panics.
    #[cfg(feature = "otel")]
    #[test]
    fn traceparents_are_read_as_the_propagator_reads_them() {
        use std::collections::HashMap;

        use opentelemetry::propagation::TextMapPropagator as _;
        use opentelemetry::trace::TraceContextExt as _;
        use opentelemetry_sdk::propagation::TraceContextPropagator;

        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let span = "00f067aa0ba902b7";
        let canonical = [
            format!("00-{trace}-{span}-01"),
            format!("00-{trace}-{span}-00"),
            // Flags other than sampled are dropped.
            format!("00-{trace}-{span}-ff"),
            format!("00-{trace}-{span}-02"),
            "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-01".to_string(),
            "00-00000000000000000000000000000001-0000000000000001-01".to_string(),
        ];
        let mut texts: Vec<String> = canonical.to_vec();
        texts.extend(
            [
                // Canonical in form, but invalid ids.
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                // Malformed: the parser refuses them, and so does the propagator.
                "",
                "-",
                "00",
                "00-",
                "00---",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-A1",
                "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
                "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
                "00-4bf92f3577b34da6a3ce929d0e0e47360-0f067aa0ba902b7-01",
                "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-+1",
                "00-ab00000000000000000000000000000000-cd00000000000000-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "0000-00000000000000000000000000000000-0000000000000000-01",
                "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                // Multi-byte characters where the format has digits or
                // dashes: 55 bytes, no character boundary where one is
                // expected.
                "00-4bf92f3577b34da6a3ce929d0e0e47\u{e9}-00f067aa0ba902b7-01",
                "00\u{2014}4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
                "\u{1f600}4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                // Not canonical, left to the propagator (which accepts them).
                " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "02-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-XYZxsf09",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                "00-4bf92f35-00f067aa-01",
            ]
            .map(String::from),
        );
        for text in &texts {
            for state in [None, Some("vendor=1,other=abc"), Some("not a state")] {
                let mut headers = HashMap::new();
                headers.insert(TRACEPARENT.to_string(), text.clone());
                if let Some(state) = state {
                    headers.insert(TRACESTATE.to_string(), state.to_string());
                }
                let expected = TraceContextPropagator::new().extract(&headers);
                let expected = expected.span().span_context().clone();
                let expected = expected.is_valid().then_some(expected);
                let read = otel::extract(|name| headers.get(name).map(String::as_str));
                assert_eq!(read, expected, "{text:?} with state {state:?}");
            }
        }
        for text in &canonical {
            assert!(otel::parse_canonical(text).is_some(), "{text}");
        }
        // What Treaty writes, it reads back as written.
        let context = otel::extract(|name| (name == TRACEPARENT).then_some(canonical[0].as_str())).unwrap();
        let mut written = String::new();
        otel::push_traceparent(&mut written, &context);
        assert_eq!(written, canonical[0]);
    }

    /// A malformed `traceparent` in an envelope's or an event's headers is
    /// ignored, never a panic: the span keeps the parent it has.
    #[cfg(feature = "otel")]
    #[test]
    fn malformed_traceparents_are_ignored() {
        use tracing_subscriber::layer::SubscriberExt as _;

        let (traces, provider) = layer::<tracing_subscriber::Registry>(Export::simple(
            opentelemetry_sdk::trace::InMemorySpanExporter::default(),
        ));
        let subscriber = tracing_subscriber::registry().with(traces);
        tracing::subscriber::with_default(subscriber, || {
            for text in [
                "",
                "00-",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7\u{e9}1",
                "00-00000000000000000000000000000000-0000000000000000-01",
                "\u{0}\u{0}\u{0}",
            ] {
                let headers = BTreeMap::from([(TRACEPARENT.to_string(), text.to_string())]);
                let span = tracing::info_span!("treaty.test");
                assert!(!set_parent_from_headers(&span, &headers), "{text:?}");
                assert!(!link_from_headers(&span, &headers), "{text:?}");
            }
        });
        provider.shutdown().expect("shuts down");
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
