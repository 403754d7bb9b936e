//! Reading views over HTTP: the view's JSON with the projection's
//! checkpoint as its entity tag, conditional reads, and waiting until the
//! projection has applied a position a command returned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::json;
use tracing::field::Empty;
use tracing::Instrument as _;
use treaty_runtime::projection::{GenerationStatus, ViewError, ViewStore};
use treaty_runtime::telemetry::trace;

use crate::problem::Problem;

/// A view store behind an object-safe trait.
pub trait ViewSource: Send + Sync + 'static {
    /// The raw JSON of a view of the projection's live generation.
    fn get<'a>(&'a self, projection: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ViewError>>;

    /// The live generation and its checkpoint, `None` when the projection
    /// has none.
    fn live<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<(u64, u64)>, ViewError>>;
}

impl<V: ViewStore> ViewSource for V {
    fn get<'a>(&'a self, projection: &'a str, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ViewError>> {
        Box::pin(ViewStore::get(self, projection, key))
    }

    fn live<'a>(&'a self, projection: &'a str) -> BoxFuture<'a, Result<Option<(u64, u64)>, ViewError>> {
        Box::pin(async move {
            Ok(self
                .generations()
                .await?
                .into_iter()
                .find(|g| g.projection == projection && g.status == GenerationStatus::Live)
                .map(|g| (g.generation, g.checkpoint)))
        })
    }
}

/// The query of a view read.
#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    min_position: Option<String>,
}

/// Serves `GET /views/{projection}/{key}`, in a `treaty.http.view` span
/// that is a child of the request's `traceparent`.
pub async fn read(
    source: Arc<dyn ViewSource>,
    projection: &str,
    wait: Duration,
    key: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<Query<ViewQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let span = tracing::info_span!(
        "treaty.http.view",
        otel.kind = "server",
        projection,
        key = Empty,
        min_position = Empty,
        generation = Empty,
        checkpoint = Empty,
        status = Empty,
    );
    trace::set_parent(&span, |name| headers.get(name).and_then(|v| v.to_str().ok()));
    let response = serve(source, projection, wait, key, query, headers, &span)
        .instrument(span.clone())
        .await;
    span.record("status", response.status().as_u16());
    response
}

async fn serve(
    source: Arc<dyn ViewSource>,
    projection: &str,
    wait: Duration,
    key: Result<Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<Query<ViewQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    span: &tracing::Span,
) -> Response {
    let Ok(Path(key)) = key else {
        return Problem::new("invalid-path", "the view key is not valid percent-encoded UTF-8").into_response();
    };
    span.record("key", key.as_str());
    let min_position = match query {
        Ok(Query(ViewQuery { min_position: None })) => None,
        Ok(Query(ViewQuery {
            min_position: Some(text),
        })) => match text.parse::<u64>() {
            Ok(position) if position <= i64::MAX as u64 => Some(position),
            _ => {
                return Problem::new(
                    "invalid-query",
                    format!(
                        "min_position must be a whole number from 0 to {}, not {text:?}",
                        i64::MAX
                    ),
                )
                .into_response()
            }
        },
        Err(rejection) => return Problem::new("invalid-query", rejection.body_text()).into_response(),
    };
    if let Some(position) = min_position {
        span.record("min_position", position);
    }
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    let (generation, checkpoint) = loop {
        let live = match source.live(projection).await {
            Ok(live) => live,
            Err(error) => return unavailable(projection, &error),
        };
        match (live, min_position) {
            (Some(live), None) => break live,
            (Some(live), Some(position)) if live.1 >= position => break live,
            (None, None) => {
                return Problem::new(
                    "not-found",
                    format!("projection {projection} has no live generation yet: its engine has not built it"),
                )
                .into_response()
            }
            (live, Some(position)) if started.elapsed() >= wait => {
                let checkpoint = live.map_or(0, |(_, c)| c);
                return Problem::new(
                    "projection-behind",
                    format!(
                        "projection {projection} is at position {checkpoint}, and did not reach {position} within {wait:?}; try again"
                    ),
                )
                .with_member("checkpoint", json!(checkpoint))
                .with_header(header::RETRY_AFTER, "1".into())
                .into_response();
            }
            _ => {
                let left = wait.saturating_sub(started.elapsed());
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    };
    span.record("generation", generation);
    span.record("checkpoint", checkpoint);
    let etag = format!("\"{generation}.{checkpoint}\"");
    if let Some(condition) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let matches = condition
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag);
        if matches {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(value) = HeaderValue::from_str(&etag) {
                response.headers_mut().insert(header::ETAG, value);
            }
            return response;
        }
    }
    let view = match source.get(projection, &key).await {
        Ok(Some(view)) => view,
        Ok(None) => {
            return Problem::new("not-found", format!("projection {projection} has no view {key:?}")).into_response()
        }
        Err(error) => return unavailable(projection, &error),
    };
    let mut response = (StatusCode::OK, view).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert("treaty-checkpoint", HeaderValue::from(checkpoint));
    response
}

fn unavailable(projection: &str, error: &ViewError) -> Response {
    tracing::warn!("http: reading views of {projection} failed: {error}");
    Problem::new("unavailable", format!("reading views of {projection} failed: {error}"))
        .with_header(header::RETRY_AFTER, "1".into())
        .into_response()
}
