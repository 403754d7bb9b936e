//! `GET /metrics`: the runtime's metrics in Prometheus's text format
//! (feature `prometheus`).
//!
//! ```ignore
//! // Once, at start: the process's recorder, with the runtime's metrics described.
//! let metrics = treaty::http::prometheus::install()?;
//! let app = axum::Router::new()
//!     .merge(api.router())
//!     .merge(treaty::http::prometheus::router(metrics));
//! ```
//!
//! The router is one route like any other: merge it, nest it, put it
//! behind a layer that checks who scrapes, or serve it on a port of its
//! own. `docs/operations.md` lists the metrics and the scrape
//! configuration.

use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
pub use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use treaty_runtime::metrics::{describe, LATENCY_BUCKETS};

/// The media type of Prometheus's text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the recorder drains histogram samples when nothing scrapes,
/// so memory stays bounded.
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs a Prometheus recorder as the process's metrics recorder, with
/// the runtime's latency buckets for every `_seconds` histogram and every
/// metric of [`treaty_runtime::metrics::ALL`] described; returns the
/// handle [`router`] renders. A thread of its own runs the recorder's
/// upkeep.
///
/// # Errors
///
/// When the process has a recorder already (a process has one).
pub fn install() -> Result<PrometheusHandle, BuildError> {
    install_with(PrometheusBuilder::new())
}

/// [`install`] with a builder of the caller's: global labels, idle
/// timeouts, other buckets (buckets the builder sets for a metric's full
/// name or prefix take precedence over the runtime's, which match by
/// suffix).
///
/// # Errors
///
/// As [`install`].
pub fn install_with(builder: PrometheusBuilder) -> Result<PrometheusHandle, BuildError> {
    let handle = builder
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install_recorder()?;
    describe();
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("treaty-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        });
    if let Err(error) = spawned {
        // Rendering drains histograms too: a scraped process is fine.
        tracing::warn!("metrics: cannot start the upkeep thread: {error}; histograms are drained only when scraped");
    }
    Ok(handle)
}

/// A router with `GET /metrics`, rendering `handle` for each scrape.
pub fn router<S>(handle: PrometheusHandle) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response() }
        }),
    )
}
