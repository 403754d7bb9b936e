//! Telemetry: what a running system tells its operators.
//!
//! - [`trace`]: the spans of commands, deliveries, appends and projection
//!   batches, and the W3C trace context (`traceparent`, `tracestate`)
//!   that envelopes and HTTP requests carry between services, so one
//!   trace follows a command across them (feature `otel`).
//! - `otlp` (feature `otlp`): a tracing-subscriber layer exporting those
//!   spans to an OpenTelemetry collector.

pub mod trace;

#[cfg(feature = "otlp")]
pub mod otlp;

/// The OpenTelemetry crates Treaty's spans go through, for a layer or an
/// exporter of one's own: their versions must be these for Treaty's spans
/// to see the layer.
#[cfg(feature = "otel")]
pub use {opentelemetry, opentelemetry_sdk, tracing_opentelemetry};
