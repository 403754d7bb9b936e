//! `factory relay`: publishes the factory's `CarProduced` events to
//! RabbitMQ for other services (such as `examples/billing`), from the
//! relay's checkpoint in the factory's SQLite file, until Ctrl-C or
//! SIGTERM. A relay killed at any point resumes from its checkpoint when
//! started again; what it publishes twice, inboxes absorb.

use std::path::PathBuf;

use treaty::relay::{Relay, RelayConfig, SqliteRelayCheckpoints, DEFAULT_EXCHANGE_PREFIX};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::SqliteStore;
use treaty::ContractInfo;

use crate::factory::CarProduced;
use crate::{factory, serve, shared};

/// The settings of `factory relay`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The factory's SQLite file, which also holds the checkpoint.
    pub db: PathBuf,
    /// The broker.
    pub amqp: String,
    /// Exchanges are `{prefix}factory`.
    pub exchange_prefix: String,
    /// The relay's name, the key of its checkpoint.
    pub name: String,
}

/// How to call `factory relay`.
pub const USAGE: &str = "usage: factory relay [--db factory.db] [--amqp amqp://guest:guest@127.0.0.1:5672/%2f] \
                         [--exchange-prefix treaty.events.] [--name factory]";

impl Settings {
    /// Reads `--db`, `--amqp`, `--exchange-prefix` and `--name`.
    ///
    /// # Errors
    ///
    /// A usage message for an unknown option or a missing value.
    pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Settings, String> {
        let mut settings = Settings {
            db: PathBuf::from("factory.db"),
            amqp: "amqp://guest:guest@127.0.0.1:5672/%2f".to_string(),
            exchange_prefix: DEFAULT_EXCHANGE_PREFIX.to_string(),
            name: "factory".to_string(),
        };
        while let Some(option) = args.next() {
            let mut value = || args.next().ok_or(format!("{option} needs a value; {USAGE}"));
            match option.as_str() {
                "--db" => settings.db = PathBuf::from(value()?),
                "--amqp" => settings.amqp = value()?,
                "--exchange-prefix" => settings.exchange_prefix = value()?,
                "--name" => settings.name = value()?,
                other => return Err(format!("unknown option {other}; {USAGE}")),
            }
        }
        Ok(settings)
    }
}

/// Relays until Ctrl-C or SIGTERM.
pub async fn relay(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&settings.db)?;
    let compiled = CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;
    let checkpoints = SqliteRelayCheckpoints::open(&settings.db)?;
    let config = RelayConfig {
        exchange_prefix: settings.exchange_prefix.clone(),
        ..RelayConfig::new(settings.name.clone(), &[ContractInfo::of::<CarProduced>()])
    };
    let running = Relay::new(store, checkpoints, settings.amqp.clone(), config)?.start();
    // Tests and scripts read this line to know the relay runs.
    println!(
        "relaying factory.CarProduced from {} to exchange {}factory",
        settings.db.display(),
        settings.exchange_prefix
    );
    serve::shutdown_signal().await;
    println!("shutting down at position {}", running.published());
    running.shutdown().await;
    Ok(())
}
