//! Treaty over HTTP: an axum [`Router`] built from the contract catalog.
//!
//! ```ignore
//! let api = treaty::http::Api::new(treaty::include_catalog!())?
//!     .aggregate(Repository::<Factory, _>::new(store.clone()))?
//!     .views(SqliteViewStore::open("app.db")?)
//!     .projection::<FactoryActivity>()
//!     .use_cases(specs);
//! let app = axum::Router::new().merge(api.router()); // or .nest("/api", ...)
//! ```
//!
//! Every command of a mounted aggregate gets `POST
//! /{namespace}/{aggregate}/{id}/{command}` (the command's JSON without
//! its identity) and `POST /commands/{contract}` (the whole JSON); the
//! stream's version is `GET /{namespace}/{aggregate}/{id}`; views are
//! `GET /views/{projection}/{key}`; the OpenAPI 3.1 document is `GET
//! /openapi.json` and the documentation page `GET /docs`. Route names come
//! from [`treaty_catalog::routes`].
//!
//! - **Concurrency**: `If-Match: "<version>"` (or `ExpectedVersion:
//!   <version>`) executes the command only if the stream is at that
//!   version; otherwise 412 with the current version in `ETag`. Success
//!   answers the new version in `ETag`.
//! - **Exactly once**: `Idempotency-Key` becomes the message id (a UUID
//!   derived from the key, the contract and the aggregate id), and the
//!   repository recognizes a message whose events are stored, so a retry
//!   answers the original outcome and never applies twice, also after a
//!   restart.
//! - **Read your writes**: the outcome lists each appended event's global
//!   position; `GET /views/...?min_position=P` waits, up to
//!   [`HttpConfig::view_wait`], until the projection has applied `P`.
//! - **Errors** are RFC 9457 problem details; a body that does not match
//!   the contract is 400 with every bad field's JSON pointer and expected
//!   type. Bad input never produces a 5xx.
//!
//! `docs/http.md` documents the routes, headers, statuses and problem
//! types. With the feature `prometheus`, [`prometheus::router`] is `GET
//! /metrics` (`docs/operations.md`).

mod problem;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod request;
mod target;
mod views;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tracing::Instrument as _;
use treaty_catalog::routes::{self, Surface};
use treaty_catalog::{Aggregate as CatalogAggregate, Catalog, Message};
use treaty_runtime::aggregate::{Aggregate, Repository, SnapshotStore};
use treaty_runtime::bus::{CommandSet, Handled};
use treaty_runtime::projection::{Projection, ViewStore};
use treaty_runtime::store::EventStore;
use treaty_runtime::telemetry::trace;
use treaty_runtime::Uuid;

pub use problem::{Problem, PROBLEM_JSON};
pub use treaty_catalog;

use request::{check_content_type, expected_version, id_text, idempotency_key, message_id, path_id, read_body};
use target::{Execute, Failure, RepositoryTarget, Target};
use views::ViewSource;

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The largest request body accepted, in bytes; larger ones get 413.
    /// Default 1 MiB.
    pub body_limit: usize,
    /// How long a view read with `min_position` waits for the projection
    /// before answering 412. Default 5 seconds.
    pub view_wait: Duration,
    /// The title of the OpenAPI document and the documentation page.
    pub title: String,
    /// The service's version, for the OpenAPI document.
    pub version: String,
    /// Where the router is nested (`/api`), for the OpenAPI document's
    /// server; `None` when it is merged at the root.
    pub base_path: Option<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 1024 * 1024,
            view_wait: Duration::from_secs(5),
            title: "Treaty API".into(),
            version: "1".into(),
            base_path: None,
        }
    }
}

/// Why an API could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(String);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApiError {}

/// The HTTP API of some contracts: which aggregates are mounted, which
/// views are served, and the use cases that document them. [`Api::router`]
/// turns it into an axum [`Router`].
pub struct Api {
    catalog: Arc<Catalog>,
    config: HttpConfig,
    targets: Vec<(String, Arc<dyn Target>)>,
    views: Option<Arc<dyn ViewSource>>,
    projections: Vec<String>,
    use_cases: Vec<treaty_catalog::UseCase>,
}

impl Api {
    /// An API over the catalog JSON that `treaty::include_catalog!()`
    /// gives, with nothing mounted yet.
    ///
    /// # Errors
    ///
    /// When the text is not a catalog of this format.
    pub fn new(catalog: &str) -> Result<Api, ApiError> {
        Ok(Api::from_catalog(
            Catalog::from_json(catalog).map_err(|e| ApiError(e.to_string()))?,
        ))
    }

    /// An API over a catalog.
    pub fn from_catalog(catalog: Catalog) -> Api {
        Api {
            catalog: Arc::new(catalog),
            config: HttpConfig::default(),
            targets: Vec::new(),
            views: None,
            projections: Vec::new(),
            use_cases: Vec::new(),
        }
    }

    /// With these settings.
    pub fn config(mut self, config: HttpConfig) -> Api {
        self.config = config;
        self
    }

    /// Routes every command of `A` to `repository`: `POST
    /// /{namespace}/{aggregate}/{id}/{command}`, `POST /commands/{contract}`
    /// and `GET /{namespace}/{aggregate}/{id}`.
    ///
    /// # Errors
    ///
    /// When the catalog has no aggregate with `A`'s commands, when it
    /// describes them at another version or fingerprint than this build
    /// compiled (it is another build's catalog), or when the aggregate is
    /// mounted already.
    pub fn aggregate<A, S, N>(mut self, repository: Repository<A, S, N>) -> Result<Api, ApiError>
    where
        A: Aggregate,
        A::Command: CommandSet<Id = A::Id>,
        S: EventStore,
        N: SnapshotStore,
    {
        let contracts = <A::Command as CommandSet>::CONTRACTS;
        let first = contracts
            .first()
            .ok_or_else(|| ApiError("the aggregate has no commands".into()))?;
        let aggregate = self
            .catalog
            .aggregates()
            .find(|a| a.commands.iter().any(|c| c == first.name))
            .ok_or_else(|| ApiError(format!("the catalog has no aggregate with command {}", first.name)))?;
        for contract in contracts {
            let message = self
                .catalog
                .message(contract.name)
                .filter(|m| m.aggregate.as_deref() == Some(aggregate.name.as_str()))
                .ok_or_else(|| {
                    ApiError(format!(
                        "the catalog has no command {} of {}: it is not this build's catalog",
                        contract.name, aggregate.name
                    ))
                })?;
            let current = contract.history.first();
            if current.map(|v| (v.version, v.fingerprint)) != Some((message.version, message.fingerprint.as_str())) {
                return Err(ApiError(format!(
                    "the catalog describes {} v{} with fingerprint {}, but this build compiled {}: \
                     include the catalog of the same build (treaty::include_catalog!())",
                    contract.name,
                    message.version,
                    message.fingerprint,
                    current.map_or("nothing".into(), |v| format!(
                        "v{} with fingerprint {}",
                        v.version, v.fingerprint
                    ))
                )));
            }
        }
        if self.targets.iter().any(|(name, _)| *name == aggregate.name) {
            return Err(ApiError(format!("aggregate {} is mounted already", aggregate.name)));
        }
        let name = aggregate.name.clone();
        self.targets.push((name, Arc::new(RepositoryTarget { repository })));
        Ok(self)
    }

    /// Serves views from `store` for the projections named with
    /// [`Api::projection`].
    pub fn views<V: ViewStore>(mut self, store: V) -> Api {
        self.views = Some(Arc::new(store));
        self
    }

    /// Serves the views of projection `P` at `GET /views/{P::NAME}/{key}`
    /// (with the store given to [`Api::views`]).
    pub fn projection<P: Projection>(self) -> Api {
        self.projection_named(P::NAME)
    }

    /// Serves the views of the projection called `name`.
    pub fn projection_named(mut self, name: &str) -> Api {
        if !self.projections.iter().any(|p| p == name) {
            self.projections.push(name.to_string());
        }
        self
    }

    /// Documents the API with these use cases (from
    /// `treaty::spec::Spec::use_case`): examples in the OpenAPI document,
    /// and the use-case section of the page.
    pub fn use_cases(mut self, use_cases: impl IntoIterator<Item = treaty_runtime::spec::UseCase>) -> Api {
        for use_case in use_cases {
            // The runtime writes the format the catalog crate reads.
            if let Ok(converted) = serde_json::to_value(&use_case).and_then(serde_json::from_value) {
                self.use_cases.push(converted);
            }
        }
        self
    }

    fn surface(&self) -> Surface {
        Surface {
            aggregates: self.targets.iter().map(|(name, _)| name.clone()).collect(),
            projections: if self.views.is_some() {
                self.projections.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// The OpenAPI 3.1 document served at `/openapi.json`.
    pub fn openapi(&self) -> Value {
        treaty_catalog::openapi::document(
            &self.catalog,
            &self.surface(),
            &self.use_cases,
            &treaty_catalog::openapi::Info {
                title: self.config.title.clone(),
                version: self.config.version.clone(),
                base_path: self.config.base_path.clone(),
            },
        )
    }

    /// The documentation page served at `/docs`.
    pub fn docs_page(&self) -> String {
        let surface = self.surface();
        treaty_catalog::html::page(
            &self.catalog,
            &self.use_cases,
            &treaty_catalog::html::Page {
                title: &self.config.title,
                surface: Some(&surface),
                openapi_href: Some("openapi.json"),
            },
        )
    }

    /// The router: merge it into an application's own, or nest it under a
    /// prefix (and say so in [`HttpConfig::base_path`]).
    pub fn router(self) -> Router {
        let openapi = Bytes::from(self.openapi().to_string());
        let page = Bytes::from(self.docs_page());
        let shared = Arc::new(Shared {
            catalog: self.catalog.clone(),
            body_limit: self.config.body_limit,
        });
        let mut router = Router::new()
            .route(
                routes::OPENAPI,
                get(move || {
                    let openapi = openapi.clone();
                    async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }
                }),
            )
            .route(
                routes::DOCS,
                get(move || {
                    let page = page.clone();
                    async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }
                }),
            );
        let targets: HashMap<String, Arc<dyn Target>> = self.targets.into_iter().collect();
        for aggregate in self.catalog.aggregates() {
            let Some(target) = targets.get(&aggregate.name) else {
                continue;
            };
            let stream_route = Arc::new(StreamRoute {
                aggregate: aggregate.clone(),
                target: target.clone(),
                shared: shared.clone(),
            });
            router = router.route(
                &routes::stream_path(aggregate, "{id}"),
                get(move |id: Result<Path<String>, _>| {
                    let route = stream_route.clone();
                    async move { route.version(id).await }
                }),
            );
            for command in aggregate.commands.iter().filter_map(|c| self.catalog.message(c)) {
                let route = Arc::new(CommandRoute {
                    aggregate: aggregate.clone(),
                    command: command.clone(),
                    target: target.clone(),
                    shared: shared.clone(),
                });
                let by_id = route.clone();
                router = router
                    .route(
                        &routes::command_path(aggregate, command, "{id}"),
                        post(move |id: Result<Path<String>, _>, headers: HeaderMap, body: Body| {
                            let route = by_id.clone();
                            async move { route.handle(Some(id), headers, body).await }
                        }),
                    )
                    .route(
                        &routes::contract_path(command),
                        post(move |headers: HeaderMap, body: Body| {
                            let route = route.clone();
                            async move { route.handle(None, headers, body).await }
                        }),
                    );
            }
        }
        if let Some(source) = self.views {
            for projection in self.projections {
                let source = source.clone();
                let wait = self.config.view_wait;
                let name: Arc<str> = projection.as_str().into();
                router = router.route(
                    &routes::view_path(&projection, "{key}"),
                    get(
                        move |key: Result<Path<String>, _>,
                              query: Result<Query<views::ViewQuery>, _>,
                              headers: HeaderMap| {
                            let source = source.clone();
                            let name = name.clone();
                            async move { views::read(source, &name, wait, key, query, headers).await }
                        },
                    ),
                );
            }
        }
        router
            .fallback(|| async { Problem::new("not-found", "no route matches this path") })
            .method_not_allowed_fallback(|| async {
                Problem::new("method-not-allowed", "this route does not take this method")
            })
    }
}

struct Shared {
    catalog: Arc<Catalog>,
    body_limit: usize,
}

struct StreamRoute {
    aggregate: CatalogAggregate,
    target: Arc<dyn Target>,
    shared: Arc<Shared>,
}

impl StreamRoute {
    async fn version(&self, id: Result<Path<String>, axum::extract::rejection::PathRejection>) -> Response {
        let id = match path_id(&self.shared.catalog, &self.aggregate, id) {
            Ok((text, _)) => text,
            Err(problem) => return problem.into_response(),
        };
        let stream = match self.target.stream(&id) {
            Ok(stream) => stream,
            Err(failure) => return failure_problem(failure).into_response(),
        };
        match self.target.stream_version(&stream).await {
            Ok(version) => {
                let mut response =
                    axum::Json(json!({"stream": stream.to_string(), "version": version})).into_response();
                response.headers_mut().insert(header::ETAG, etag(version));
                response
            }
            Err(failure) => failure_problem(failure).into_response(),
        }
    }
}

struct CommandRoute {
    aggregate: CatalogAggregate,
    command: Message,
    target: Arc<dyn Target>,
    shared: Arc<Shared>,
}

impl CommandRoute {
    /// Handles a command: from the path's id and the body without it, or
    /// (`id` is `None`) from the whole body.
    async fn handle(
        &self,
        id: Option<Result<Path<String>, axum::extract::rejection::PathRejection>>,
        headers: HeaderMap,
        body: Body,
    ) -> Response {
        let span = tracing::info_span!(
            "treaty.http.command",
            otel.kind = "server",
            contract = %self.command.name,
            message_id = tracing::field::Empty,
            stream = tracing::field::Empty,
            version = tracing::field::Empty,
            position = tracing::field::Empty,
            status = tracing::field::Empty,
        );
        // The caller's trace, if its `traceparent` is well formed.
        trace::set_parent(&span, |name| headers.get(name).and_then(|v| v.to_str().ok()));
        let response = match self.execute(id, headers, body).instrument(span.clone()).await {
            Ok(response) | Err(response) => response,
        };
        span.record("status", response.status().as_u16());
        response
    }

    async fn execute(
        &self,
        id: Option<Result<Path<String>, axum::extract::rejection::PathRejection>>,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response, Response> {
        let catalog = &self.shared.catalog;
        let identity = &self.aggregate.identity;
        check_content_type(&headers).map_err(IntoResponse::into_response)?;
        let bytes = read_body(&headers, body, self.shared.body_limit)
            .await
            .map_err(IntoResponse::into_response)?;
        let expected = expected_version(&headers).map_err(IntoResponse::into_response)?;
        let key = idempotency_key(&headers).map_err(IntoResponse::into_response)?;
        let path_id = match id {
            Some(id) => Some(path_id(catalog, &self.aggregate, id).map_err(IntoResponse::into_response)?),
            None => None,
        };
        let mut document: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::new("invalid-body", format!("the body is not JSON: {e}"))
                .with_errors(vec![treaty_catalog::FieldError {
                    pointer: String::new(),
                    expected: format!("the JSON of {}", self.command.name),
                    detail: e.to_string(),
                }])
                .into_response()
        })?;
        let mut errors = Vec::new();
        if path_id.is_some() {
            if let Some(object) = document.as_object() {
                if object.contains_key(&identity.name) {
                    let mut pointer = String::new();
                    treaty_catalog_push(&mut pointer, &identity.name);
                    errors.push(treaty_catalog::FieldError {
                        pointer,
                        expected: "nothing: the identity comes from the path".into(),
                        detail: format!(
                            "leave `{}` out of the body; the path's id is the aggregate's identity",
                            identity.name
                        ),
                    });
                }
            }
        }
        let skip = path_id.is_some().then_some(identity.name.as_str());
        catalog.normalize_integers(&self.command.fields, &mut document);
        errors.extend(catalog.check(&self.command.fields, &document, skip));
        if !errors.is_empty() {
            let count = errors.len();
            return Err(Problem::new(
                "invalid-body",
                format!(
                    "the body does not match {} v{}: {count} field{} wrong",
                    self.command.name,
                    self.command.version,
                    if count == 1 { " is" } else { "s are" }
                ),
            )
            .with_errors(errors)
            .into_response());
        }
        let id_text = match path_id {
            Some((text, value)) => {
                if let Value::Object(object) = &mut document {
                    object.insert(identity.name.clone(), value);
                }
                text
            }
            None => {
                let value = document.get(&identity.name).cloned().unwrap_or(Value::Null);
                id_text(catalog, &identity.ty, &value).ok_or_else(|| {
                    Problem::new("invalid-body", "the identity is not a value of its type").into_response()
                })?
            }
        };
        let message = match &key {
            Some(key) => message_id(&self.command.name, &id_text, key),
            None => Uuid::now_v7(),
        };
        tracing::Span::current().record("message_id", tracing::field::display(message));
        let payload = serde_json::to_vec(&document).expect("a JSON value serialises");
        // The command's trace context goes into its events' metadata, as a
        // bus handler's events carry their envelope's: live projection
        // batches link to it.
        let mut trace_headers = std::collections::BTreeMap::new();
        trace::inject(&tracing::Span::current(), &mut trace_headers);
        let outcome = self
            .target
            .execute(Execute {
                contract: self.command.name.clone(),
                version: self.command.version,
                payload,
                message,
                expected,
                headers: trace_headers,
            })
            .await;
        match outcome {
            Ok(accepted) => Ok(self.accepted(accepted, message)),
            Err(failure) => Err(failure_problem(failure).into_response()),
        }
    }

    fn accepted(&self, accepted: Handled, message: Uuid) -> Response {
        let catalog = &self.shared.catalog;
        let position = accepted.events.last().map(|e| e.position);
        let events: Vec<EventOut<'_>> = accepted
            .events
            .iter()
            .map(|event| {
                // Sentences show the current version; a retry may answer
                // events stored at an older one.
                let text = catalog
                    .message(&event.contract)
                    .filter(|m| m.version == event.contract_version && m.display.is_some())
                    .and_then(|_| serde_json::from_slice::<Value>(&event.payload).ok())
                    .and_then(|payload| catalog.display(&event.contract, &payload));
                EventOut {
                    contract: &event.contract,
                    contract_version: event.contract_version,
                    version: event.version,
                    position: event.position,
                    // Stored and encoded payloads are JSON, written as is.
                    payload: std::str::from_utf8(&event.payload)
                        .ok()
                        .and_then(|text| serde_json::from_str::<&RawValue>(text).ok()),
                    text,
                }
            })
            .collect();
        let body = CommandOutcome {
            stream: accepted.stream.as_deref().unwrap_or_default(),
            stream_version: accepted.stream_version,
            position,
            duplicate: accepted.duplicate,
            message_id: message,
            events,
        };
        let span = tracing::Span::current();
        span.record("stream", body.stream);
        span.record("version", body.stream_version);
        if let Some(position) = position {
            span.record("position", position);
        }
        let mut response = axum::Json(body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag(accepted.stream_version));
        if let Some(position) = position {
            headers.insert("treaty-position", HeaderValue::from(position));
        }
        response
    }
}

/// The body of an accepted command, as the OpenAPI document's
/// `CommandOutcome` describes it.
#[derive(serde::Serialize)]
struct CommandOutcome<'a> {
    stream: &'a str,
    stream_version: u64,
    position: Option<u64>,
    duplicate: bool,
    message_id: Uuid,
    events: Vec<EventOut<'a>>,
}

/// One event of a [`CommandOutcome`].
#[derive(serde::Serialize)]
struct EventOut<'a> {
    contract: &'a str,
    contract_version: u32,
    version: u64,
    position: u64,
    payload: Option<&'a RawValue>,
    text: Option<String>,
}

fn treaty_catalog_push(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits and quotes are a valid header value")
}

fn failure_problem(failure: Failure) -> Problem {
    match failure {
        Failure::Refused(error) => Problem::new("refused", error),
        Failure::WrongVersion { actual } => Problem::new(
            "wrong-version",
            format!("the stream is at version {actual}, not the one the request expects"),
        )
        .with_member("current_version", json!(actual))
        .with_header(header::ETAG, format!("\"{actual}\"")),
        Failure::Contention(detail) => Problem::new("contention", detail).with_header(header::RETRY_AFTER, "1".into()),
        Failure::Invalid(detail) => Problem::new("invalid-body", detail),
        Failure::TooLarge(detail) => Problem::new("body-too-large", detail),
        Failure::Unavailable(detail) => {
            tracing::warn!("http: {detail}");
            Problem::new("unavailable", detail).with_header(header::RETRY_AFTER, "1".into())
        }
        Failure::Internal(detail) => {
            tracing::error!("http: {detail}");
            Problem::new("unavailable", detail)
        }
    }
}
