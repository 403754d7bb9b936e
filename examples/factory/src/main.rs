//! The factory example: contracts written in `contracts/treaty/*.treaty`,
//! compiled by the `build.rs` of the `factory-contracts` crate
//! (`contracts/`, a crate of its own so that editing this one does not
//! recompile them), used by an aggregate whose commands arrive
//! through the bus and whose events live in the embedded SQLite event
//! store.
//!
//! It shows what the contracts give an application: typed commands and
//! events, a store that refuses code which cannot read it, an aggregate
//! that decides and appends with optimistic concurrency, an event stored
//! at version 1 read back as version 2, and specifications printed as
//! living documentation; and projections folded from the events, started
//! twice to show that only a projection whose code changed is rebuilt, and
//! that the engine's plan says so before it starts.
//!
//! - `cargo run -p factory`: the whole example, in a temporary directory.
//! - `cargo run -p factory -- demo DB`: the same against the SQLite file DB,
//!   which is kept.
//! - `cargo run -p factory -- plan DB`: what starting this build's
//!   projections over DB would do, without doing it (the stores are opened
//!   read-only): what a service prints in CI before a deploy. Run `demo`,
//!   edit `part_count` in `src/projections.rs`, and run `plan` again.
//! - `cargo run -p factory -- serve`: the HTTP API (`serve.rs`); built with
//!   `--features otlp` and run with `OTEL_EXPORTER_OTLP_ENDPOINT` set, it
//!   exports its spans to that collector (docs/operations.md).
//! - `cargo run -p factory -- relay`: publishes `CarProduced` to RabbitMQ
//!   for other services (`relay.rs`), such as `examples/billing`;
//!   `-- produce` opens a factory and produces cars for it to publish
//!   (`produce.rs`).

#![deny(warnings)]

/// The next build of `projections.rs`, with its helper `part_count` edited.
#[path = "projections_edited.rs"]
mod edited;
mod produce;
mod projections;
mod relay;
mod serve;
mod specs;

use futures::TryStreamExt;
use treaty::aggregate::{Aggregate, Repository};
use treaty::bus::{AskError, Bus, BusConfig, InProcessTransport, SqliteQuarantine};
use treaty::projection::{ProjectionEngine, SqliteViewStore, ViewReader};
use treaty::spec::Spec;
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::{
    Direction, Durability, EventStore, ExpectedVersion, Metadata, NewEvent, SqliteConfig, SqliteStore,
};
use treaty::Contract;

use factory_contracts::{factory, shared};

use factory::{
    CarPart, CarProduced, Color, FactoryCommand, FactoryEvent, FactoryId, FactoryOpened, OpenFactory, ProduceCar,
};

/// What the factory needs to know to decide: whether it is open.
#[derive(Debug, Default)]
struct Factory {
    open: bool,
}

/// Why the factory refuses a command.
#[derive(Debug, PartialEq, Eq)]
enum FactoryError {
    AlreadyOpen,
    Closed,
}

impl std::fmt::Display for FactoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FactoryError::AlreadyOpen => "the factory is already open",
            FactoryError::Closed => "the factory is closed",
        })
    }
}

impl std::error::Error for FactoryError {}

impl Aggregate for Factory {
    type Id = FactoryId;
    type Command = FactoryCommand;
    type Event = FactoryEvent;
    type Error = FactoryError;
    const CATEGORY: &'static str = "factory";

    fn decide(&self, command: &FactoryCommand) -> Result<Vec<FactoryEvent>, FactoryError> {
        match command {
            FactoryCommand::OpenFactory(_) if self.open => Err(FactoryError::AlreadyOpen),
            FactoryCommand::OpenFactory(c) => Ok(vec![FactoryOpened::new(c.id).into()]),
            FactoryCommand::ProduceCar(_) if !self.open => Err(FactoryError::Closed),
            // `new` takes the required fields; the rest are set by name, so
            // fields added to the event later as optional or with a
            // default need no change here.
            FactoryCommand::ProduceCar(c) => Ok(vec![CarProduced {
                color: Color::Blue,
                ..CarProduced::new(
                    c.id,
                    c.employee_name.clone(),
                    c.car_model.clone(),
                    vec![CarPart::new("wheel".into(), 4)],
                )
            }
            .into()]),
        }
    }

    fn apply(&mut self, event: &FactoryEvent) {
        if let FactoryEvent::FactoryOpened(_) = event {
            self.open = true;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    // The projection engine reports through `tracing`; `serve` exports its
    // spans too when built with `otlp` and told where (flushed on exit).
    let _traces = init_tracing(command.as_deref() == Some("serve"))?;
    match command.as_deref() {
        // The scripted run: what `cargo run -p factory` shows.
        None => current_thread()?.block_on(scripted()),
        // The scripted run on a database that stays, for `plan` to read.
        Some("demo") => {
            let db = database(args.next())?;
            current_thread()?.block_on(run(&db))
        }
        // What starting this build's projections on a database would do.
        Some("plan") => {
            let db = database(args.next())?;
            current_thread()?.block_on(plan(&db))
        }
        // The HTTP API, until Ctrl-C or SIGTERM.
        Some("serve") => {
            let settings = serve::Settings::parse(args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve::serve(settings))
        }
        // `CarProduced` to RabbitMQ, until Ctrl-C or SIGTERM.
        Some("relay") => {
            let settings = relay::Settings::parse(args)?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(relay::relay(settings))
        }
        // A new factory producing cars, for the relay to publish.
        Some("produce") => {
            let (db, cars) = produce::parse(args)?;
            current_thread()?.block_on(produce::produce(db, cars))
        }
        // The specifications as use cases, for `treaty docs --specs`.
        Some("use-cases") => {
            println!("{}", serde_json::to_string_pretty(&specs::use_cases()?)?);
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown command {other}
{USAGE}
{}
{}
{}",
            serve::USAGE,
            relay::USAGE,
            produce::USAGE
        )
        .into()),
    }
}

/// The span exporter `serve` may run, until dropped (which sends the
/// spans still buffered).
struct Traces {
    #[cfg(feature = "otlp")]
    _exporter: Option<treaty::telemetry::otlp::OtlpGuard>,
}

/// Installs the subscriber: log lines at INFO on standard output, and,
/// for `serve` built with the feature `otlp` when the standard variable
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
/// names a collector, the OTLP layer exporting every span as service
/// `factory`.
#[cfg(feature = "otlp")]
fn init_tracing(serve: bool) -> Result<Traces, Box<dyn std::error::Error>> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let configured = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    let (traces, guard) = if serve && configured {
        let (layer, guard) = treaty::telemetry::otlp::layer(treaty::telemetry::otlp::OtlpConfig::new("factory"))?;
        (Some(layer), Some(guard))
    } else {
        (None, None)
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(traces)
        .with(tracing_subscriber::fmt::layer().with_target(false).without_time())
        .init();
    if guard.is_some() {
        tracing::info!("exporting traces over OTLP as service factory");
    }
    Ok(Traces { _exporter: guard })
}

/// Installs the subscriber: log lines at INFO on standard output.
#[cfg(not(feature = "otlp"))]
fn init_tracing(_serve: bool) -> Result<Traces, Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_target(false)
        .without_time()
        .init();
    Ok(Traces {})
}

/// How to call `factory` for anything but `serve`.
const USAGE: &str = "usage: factory [demo DB | plan DB | use-cases]";

fn current_thread() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// The database path a command was given, or how to give one.
fn database(arg: Option<String>) -> Result<std::path::PathBuf, String> {
    arg.map(std::path::PathBuf::from).ok_or_else(|| {
        format!(
            "the command needs a database path
{USAGE}"
        )
    })
}

async fn scripted() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("treaty-factory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir.join("factory.db")).await;
    std::fs::remove_dir_all(&dir)?;
    result
}

/// Prints what starting this build's projections over `db` would do. Only
/// reads: the stores are opened read-only, as CI would open production's.
async fn plan(db: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let events = SqliteStore::open_existing(db, SqliteConfig::default())?;
    let views = SqliteViewStore::open_existing(db, Durability::default())?;
    let mut engine = ProjectionEngine::new(events, views);
    engine.add(projections::CarsByModel).add(projections::FactoryActivity);
    println!("{}", engine.plan().await?);
    Ok(())
}

async fn run(db: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(db)?;
    println!("store    {}", db.display());

    // Refuse to start if these contracts could not read what is stored.
    let compiled = CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;

    // Commands go through the bus: here the in-process transport, handled
    // by the factory's repository, each exactly once.
    let repository = Repository::<Factory, _>::new(store.clone());
    let quarantine = SqliteQuarantine::open(db)?;
    let bus = Bus::new(InProcessTransport::new(), quarantine, BusConfig::default());
    bus.handle_aggregate(Repository::<Factory, _>::new(store.clone()))?;
    let running_bus = bus.start();

    let id = FactoryId::generate();
    let produce = ProduceCar {
        id,
        employee_name: "Ann".into(),
        car_model: "Model T".into(),
        price: Some(shared::Money {
            cents: 2_500_000,
            currency: "USD".into(),
        }),
    };
    println!("command  {produce}");
    match bus.ask(&produce).await {
        Err(AskError::Refused(error)) => println!("refused  {error}"),
        Err(other) => return Err(other.into()),
        Ok(_) => return Err("a closed factory produced a car".into()),
    }
    // `ask` returns the outcome itself: no view is polled for it.
    let opened = bus.ask(&OpenFactory { id }).await?;
    let event: FactoryOpened = opened.events[0].decode()?;
    println!("event    {event} (stream version {})", opened.stream_version);
    let produced = bus.ask(&produce).await?;
    let car: CarProduced = produced.events[0].decode()?;
    println!("event    {car:?} (stream version {})", produced.stream_version);

    // An event written by an older build, at version 1: it has no `color`,
    // which version 2 added with a default.
    let stream = Factory::stream_name(&id)?;
    let old = NewEvent {
        id: treaty::Uuid::now_v7(),
        contract: CarProduced::NAME.into(),
        contract_version: 1,
        fingerprint: CarProduced::HISTORY[1].fingerprint.into(),
        payload: format!(r#"{{"id": "{id}", "employee_name": "Bob", "car_model": "Model A", "parts": []}}"#)
            .into_bytes(),
        metadata: Metadata::now(),
        schema: None,
    };
    store.append(&stream, ExpectedVersion::Exact(2), vec![old]).await?;
    let loaded = repository.load(&id).await?;
    println!(
        "loaded   {} events, factory open: {}",
        loaded.version, loaded.state.open
    );
    let mut events = store.read_stream(&stream, 3, Direction::Forward);
    while let Some(recorded) = events.try_next().await? {
        let car: CarProduced = recorded.decode()?;
        println!(
            "upcast   {} v{} read as v{}: {} in {:?}",
            recorded.contract,
            recorded.contract_version,
            CarProduced::VERSION,
            car.car_model,
            car.color
        );
    }

    let spec = Spec::<Factory>::debug("a closed factory produces nothing")
        .given(Vec::<FactoryEvent>::new())
        .when(ProduceCar {
            id,
            employee_name: "Ann".into(),
            car_model: "Model T".into(),
            price: None,
        })
        .then_error(|e| *e == FactoryError::Closed);
    spec.check()?;
    println!("spec     {} ... ok", spec.name());

    show_projections(&store, &bus, db, &id).await?;
    running_bus.shutdown().await;
    Ok(())
}

/// Runs the projections over the events above, then "restarts" with the
/// next build, in which the plain helper `part_count` was edited: the plan
/// says that only `CarsByModel`, which calls it, rebuilds, and why; the
/// start does so, while the old generation of its views keeps serving
/// reads.
async fn show_projections(
    store: &SqliteStore,
    bus: &Bus<InProcessTransport, SqliteQuarantine>,
    db: &std::path::Path,
    id: &FactoryId,
) -> Result<(), Box<dyn std::error::Error>> {
    // Views live in the event store's database, next to the events.
    let views = SqliteViewStore::open(db)?;
    let reader = ViewReader::new(views.clone());

    println!("first run:");
    let mut engine = ProjectionEngine::new(store.clone(), views.clone());
    engine.add(projections::CarsByModel).add(projections::FactoryActivity);
    let running = engine.start().await?;
    running.wait_live().await?;
    // Live: a command handled now shows in the views once the engine has
    // applied the store's head.
    let produce = ProduceCar {
        id: *id,
        employee_name: "Cid".into(),
        car_model: "Model T".into(),
        price: None,
    };
    bus.ask(&produce).await?;
    running.wait_for_position(store.head().await?).await?;
    let activity = reader
        .get::<projections::FactoryActivity>(&id.to_string())
        .await?
        .ok_or("no activity view")?;
    println!("view     factory {id}: {activity:?}");
    let models = reader.list::<projections::CarsByModel>(None, 100).await?;
    println!("view     cars by model: {models:?}");
    running.shutdown().await;

    println!("second run, with `part_count` edited; the plan first:");
    let mut engine = ProjectionEngine::new(store.clone(), views.clone());
    engine.add(edited::CarsByModel).add(edited::FactoryActivity);
    println!("{}", engine.plan().await?);
    let running = engine.start().await?;
    running.wait_live().await?;
    let models = reader.list::<edited::CarsByModel>(None, 100).await?;
    println!("view     cars by model: {models:?}");
    running.shutdown().await;
    Ok(())
}
