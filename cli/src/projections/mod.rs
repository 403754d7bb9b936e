//! `treaty projections`: inspect projections without running them.
//!
//! - `status` lists every generation of every projection in a view store,
//!   with how far it lags behind the event store; with `--watch`, a live
//!   view of lag and rate, the store's head and the quarantine, redrawn
//!   in place (`watch.rs`).
//!
//! Like `treaty store`, these subcommands run on a current-thread tokio
//! runtime of their own and never create a store or a table.

use std::process::ExitCode;

use clap::{Args, Subcommand};

mod status;
mod watch;

use crate::store::{block_on, finish};

/// The arguments of `treaty projections`.
#[derive(Args)]
pub struct ProjectionsArgs {
    #[command(subcommand)]
    command: ProjectionsCommand,
}

#[derive(Subcommand)]
enum ProjectionsCommand {
    /// Show every generation of every projection: its status, checkpoint
    /// and lag behind the event store, and whether a rebuild is running.
    Status(status::StatusArgs),
}

/// Runs `treaty projections`.
pub fn run(args: ProjectionsArgs) -> ExitCode {
    let outcome = match args.command {
        ProjectionsCommand::Status(args) => block_on(status::run(args)),
    };
    finish(outcome)
}
