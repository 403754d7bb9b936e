//! `factory produce`: opens a new factory in the SQLite file and produces
//! cars in it through the aggregate, one command after the other: work
//! for `factory relay` to publish.

use std::path::PathBuf;

use treaty::aggregate::Repository;
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::SqliteStore;

use crate::factory::{FactoryId, OpenFactory, ProduceCar};
use crate::{factory, shared, Factory, FactoryCommand};

/// How to call `factory produce`.
pub const USAGE: &str = "usage: factory produce [--db factory.db] [--cars 10]";

/// Reads `--db` and `--cars`.
///
/// # Errors
///
/// A usage message for an unknown option or a bad value.
pub fn parse(mut args: impl Iterator<Item = String>) -> Result<(PathBuf, u64), String> {
    let (mut db, mut cars) = (PathBuf::from("factory.db"), 10);
    while let Some(option) = args.next() {
        let mut value = || args.next().ok_or(format!("{option} needs a value; {USAGE}"));
        match option.as_str() {
            "--db" => db = PathBuf::from(value()?),
            "--cars" => cars = value()?.parse().map_err(|e| format!("--cars: {e}; {USAGE}"))?,
            other => return Err(format!("unknown option {other}; {USAGE}")),
        }
    }
    Ok((db, cars))
}

/// Opens a factory and produces `cars` cars in it.
pub async fn produce(db: PathBuf, cars: u64) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open(&db)?;
    let compiled = CompiledContract::from_info(&[factory::CONTRACTS, shared::CONTRACTS].concat());
    register_contracts(&store, &compiled).await?;
    let repository = Repository::<Factory, _>::new(store);
    let id = FactoryId::generate();
    repository
        .execute(&id, &FactoryCommand::from(OpenFactory { id }))
        .await?;
    for n in 0..cars {
        let produce = ProduceCar {
            id,
            employee_name: "Ann".into(),
            car_model: format!("Model {}", n % 3),
            price: None,
        };
        repository.execute(&id, &FactoryCommand::from(produce)).await?;
    }
    println!("produced {cars} cars in factory {id}");
    Ok(())
}
