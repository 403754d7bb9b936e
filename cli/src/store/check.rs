//! `treaty store check`: whether contract files can read every event in a
//! store, answered the way a service answers it before it starts, but
//! without writing anything.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use treaty_dsl::ContractKind;
use treaty_runtime::store::registry::{CompiledContract, RegisterError};

use super::backend;
use super::Failure;
use crate::db::DbArgs;

/// The arguments of `treaty store check`.
#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Contract files, or directories searched for `*.treaty`.
    #[arg(long, value_name = "PATHS", required = true, num_args = 1..)]
    contracts: Vec<PathBuf>,
    /// A contract type mapped to Rust by the build: `shared.Money=::money::Money`.
    #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
    extern_types: Vec<String>,
}

/// Runs `treaty store check`.
pub async fn run(args: CheckArgs) -> Result<(), Failure> {
    // The contracts are compiled first: when they have errors there is
    // nothing to compare, and no reason to connect.
    let compiled = compile(&args.contracts, &args.extern_types)?;
    let store = backend::open(&args.db).await?;
    match store.check_contracts(&compiled).await {
        Ok(()) => {
            println!(
                "ok: the contracts can read every event in the store ({} event version{})",
                compiled.len(),
                crate::plural(compiled.len())
            );
            Ok(())
        }
        Err(RegisterError::Mismatch(report)) => {
            eprint!("{report}");
            Err(Failure::reported(ExitCode::from(crate::INVALID)))
        }
        Err(e) => Err(Failure::problem(super::describe(&e))),
    }
}

/// Every event version of the contract files, as generated code would
/// register them (`CompiledContract::from_info`): the same fingerprints,
/// with the canonical schema text. Commands are never stored.
fn compile(paths: &[PathBuf], extern_types: &[String]) -> Result<Vec<CompiledContract>, Failure> {
    let schema = crate::valid_schema(paths, extern_types)
        .map_err(Failure::reported)?
        .schema;
    Ok(treaty_dsl::contracts(&schema)
        .into_iter()
        .filter(|c| c.kind == ContractKind::Event)
        .map(|c| CompiledContract {
            schema: Some(c.schema.to_string()),
            name: c.name,
            version: c.version,
            fingerprint: c.fingerprint,
        })
        .collect())
}
