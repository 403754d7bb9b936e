//! `treaty store check`: whether contract files can read every event in a
//! store, answered the way a service answers it before it starts
//! (`register_contracts`: the same rule book, the same mode, the same
//! findings with their rule ids), but without writing anything. It lists
//! the writer schemas the store holds first: every fingerprint of each
//! contract version, with its first position and when it was first seen.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use treaty_dsl::ContractKind;
use treaty_runtime::store::registry::{self, CompiledContract, Mode, RegisterError, StoredContract};

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
    /// The compatibility mode: backward (this code reads every stored
    /// shape), forward or full [default: the store's, backward].
    #[arg(long, value_name = "MODE", value_parser = registry::parse_mode)]
    mode: Option<Mode>,
}

/// Runs `treaty store check`.
pub async fn run(args: CheckArgs) -> Result<(), Failure> {
    // The contracts are compiled first: when they have errors there is
    // nothing to compare, and no reason to connect.
    let compiled = compile(&args.contracts, &args.extern_types)?;
    let store = backend::open(&args.db).await?;
    let stored = store
        .contracts()
        .await
        .map_err(|e| Failure::problem(super::describe(&e)))?;
    print!("{}", listing(&stored));
    let mode = args.mode.unwrap_or(Mode::Backward);
    match store.check_contracts_in(&compiled, mode).await {
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

/// The writer schemas of the registry, one line each.
pub(super) fn listing(stored: &[StoredContract]) -> String {
    let mut out = format!(
        "the store holds {} writer schema{}:\n",
        stored.len(),
        crate::plural(stored.len())
    );
    for c in stored {
        let used = c.first_position.map_or("registered, no event yet".to_string(), |p| {
            format!("first at position {p}")
        });
        let schema = if c.schema.is_some() {
            ""
        } else {
            ", schema not recorded"
        };
        out.push_str(&crate::table::printable(&format!(
            "  {} v{} {} ({used}, first seen {}{schema})",
            c.name,
            c.version,
            c.fingerprint,
            super::stats::first_seen(c)
        )));
        out.push('\n');
    }
    out
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
