//! `factory serve`: the factory's HTTP API. Its commands, views, OpenAPI
//! document and documentation page come from the contracts through
//! `treaty::http`; this file only opens the stores, starts the projection
//! engine, and serves the router, with `GET /metrics` for Prometheus,
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use treaty::aggregate::Repository;
use treaty::http::{Api, HttpConfig};
use treaty::projection::{ProjectionEngine, SqliteViewStore};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::SqliteStore;

use crate::{factory, projections, shared, specs, Factory};

/// The settings of `factory serve`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// The SQLite file holding events and views.
    pub db: PathBuf,
    /// The longest wait of a view read for a position.
    pub view_wait: Duration,
    /// The largest request body.
    pub body_limit: usize,
}

impl Settings {
    /// Reads `--addr`, `--db`, `--view-wait-ms` and `--body-limit`.
    ///
    /// # Errors
    ///
    /// A usage message for an unknown option or a bad value.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
        let mut settings = Settings {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: PathBuf::from("factory.db"),
            view_wait: Duration::from_secs(5),
            body_limit: 64 * 1024,
        };
        while let Some(option) = args.next() {
            let mut value = || args.next().ok_or(format!("{option} needs a value"));
            match option.as_str() {
                "--addr" => settings.addr = value()?.parse().map_err(|e| format!("--addr: {e}"))?,
                "--db" => settings.db = PathBuf::from(value()?),
                "--view-wait-ms" => {
                    settings.view_wait =
                        Duration::from_millis(value()?.parse().map_err(|e| format!("--view-wait-ms: {e}"))?)
                }
                "--body-limit" => settings.body_limit = value()?.parse().map_err(|e| format!("--body-limit: {e}"))?,
                other => return Err(format!("unknown option {other}; {USAGE}")),
            }
        }
        Ok(settings)
    }
}

/// How to call `factory serve`.
pub const USAGE: &str =
    "usage: factory serve [--addr 127.0.0.1:8080] [--db factory.db] [--view-wait-ms 5000] [--body-limit 65536]";

/// Serves the API until Ctrl-C or SIGTERM, then stops taking connections,
/// lets requests in flight finish, and stops the projection engine.
pub async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    // First, so the store, the engine and the API record from the start.
    let metrics = treaty::http::prometheus::install()?;
    let store = SqliteStore::open(&settings.db)?;
    let compiled = CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;
    let views = SqliteViewStore::open(&settings.db)?;
    let mut engine = ProjectionEngine::new(store.clone(), views.clone());
    engine.add(projections::CarsByModel).add(projections::FactoryActivity);
    let running = engine.start().await?;

    let api = Api::new(factory_contracts::CATALOG)?
        .config(HttpConfig {
            body_limit: settings.body_limit,
            view_wait: settings.view_wait,
            title: "Factory API".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            base_path: None,
        })
        .aggregate(Repository::<Factory, _>::new(store.clone()))?
        .views(views)
        .projection::<projections::CarsByModel>()
        .projection::<projections::FactoryActivity>()
        .use_cases(specs::use_cases()?);
    // The API is a router like any other: merged here into the
    // application's own, which could add its own routes and layers.
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|| async { axum::response::Redirect::to("/docs") }),
        )
        .merge(api.router())
        // `GET /metrics` for Prometheus (docs/operations.md).
        .merge(treaty::http::prometheus::router(metrics));

    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    // Tests and scripts read this line to find the port.
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    println!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C: {error}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                eprintln!("cannot listen for SIGTERM: {error}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
