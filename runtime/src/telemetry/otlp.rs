//! Export of Treaty's spans (and the application's) to an OpenTelemetry
//! collector over OTLP (HTTP, protobuf).
//!
//! [`layer`] returns a tracing-subscriber layer to add to the
//! application's own subscriber, and a guard that flushes the spans still
//! buffered when the application ends:
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! let (traces, _flush_on_exit) = treaty_runtime::telemetry::otlp::layer(
//!     treaty_runtime::telemetry::otlp::OtlpConfig::new("factory").endpoint("http://collector:4318/v1/traces"),
//! )?;
//! tracing_subscriber::registry()
//!     .with(traces)
//!     .with(tracing_subscriber::fmt::layer())
//!     .init();
//! # Ok::<(), treaty_runtime::telemetry::otlp::OtlpError>(())
//! ```
//!
//! The exporter sends batches from a thread of its own, so exporting never
//! blocks a command. It speaks plain `http://`; for `https://`, enable a
//! TLS feature of `reqwest` (such as `rustls`) in the application.

use std::time::Duration;

use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::registry::LookupSpan;

use super::trace::{Export, TraceLayer};

/// Where and as whom spans are exported.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    service_name: String,
    endpoint: Option<String>,
    timeout: Duration,
    sample: f64,
}

impl OtlpConfig {
    /// Spans of the service `service_name` (the `service.name` every
    /// backend groups traces by), sent to the endpoint the environment
    /// names (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` added), else
    /// `http://localhost:4318/v1/traces`, with a 10 s timeout per batch.
    pub fn new(service_name: impl Into<String>) -> Self {
        OtlpConfig {
            service_name: service_name.into(),
            endpoint: None,
            timeout: Duration::from_secs(10),
            sample: 1.0,
        }
    }

    /// The full URL of the collector's traces endpoint, such as
    /// `http://collector:4318/v1/traces`, over the environment's.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// How long one export may take before it is given up.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Records and exports this share (0 to 1, clamped) of the traces that
    /// start here, every span of them; a trace whose parent comes from
    /// elsewhere (an envelope's or a request's `traceparent`) is recorded
    /// when the parent was, so a trace is whole or absent across
    /// services (a parent-based sampler over a ratio of trace ids). The
    /// trace context is written into envelopes and events either way. An
    /// unsampled span still costs its `tracing` span and its ids, but its
    /// fields are not recorded (but for the trace's root) and it is not
    /// exported. By default every trace (1.0).
    pub fn sample(mut self, ratio: f64) -> Self {
        self.sample = if ratio.is_nan() { 1.0 } else { ratio.clamp(0.0, 1.0) };
        self
    }
}

/// Why the exporter could not be built (such as an endpoint that is not a
/// URL).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP span exporter: {0}")]
pub struct OtlpError(#[from] opentelemetry_otlp::ExporterBuildError);

/// Keeps the exporter; dropping it (or [`OtlpGuard::shutdown`]) sends the
/// spans still buffered and stops it.
#[derive(Debug)]
pub struct OtlpGuard {
    provider: SdkTracerProvider,
}

impl OtlpGuard {
    /// Sends the spans buffered so far, waiting until they are sent or the
    /// export failed (which is logged by the exporter, never returned).
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }

    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        drop(self);
    }

    /// The tracer provider, for spans created through the OpenTelemetry
    /// API directly: they are sampled and exported with the layer's.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// A layer exporting every span the subscriber records to the OTLP
/// endpoint of `config`, and the guard that keeps the exporter running.
/// Spans it records take part in the trace context propagation of
/// [`trace`](super::trace).
///
/// # Errors
///
/// When the exporter cannot be built.
pub fn layer<S>(config: OtlpConfig) -> Result<(TraceLayer<S>, OtlpGuard), OtlpError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_timeout(config.timeout);
    if let Some(endpoint) = config.endpoint {
        exporter = exporter.with_endpoint(endpoint);
    }
    let export = Export::batch(exporter.build()?)
        .sample(config.sample)
        .resource(Resource::builder().with_service_name(config.service_name).build());
    let (layer, provider) = super::trace::layer(export);
    Ok((layer, OtlpGuard { provider }))
}
