//! `treaty store`: inspect an event store without writing to it.
//!
//! - `dump` prints every event as one JSON line, streaming.
//! - `stats` counts events per contract version and per stream prefix.
//! - `check` tells whether contract files can read every stored event.
//!
//! The store API is async, so these subcommands run on a current-thread
//! tokio runtime of their own; the rest of the CLI stays synchronous.

use std::future::Future;
use std::process::ExitCode;

use clap::{Args, Subcommand};

pub(crate) mod backend;
mod check;
mod dump;
mod stats;

use crate::{INVALID, USAGE};

/// The arguments of `treaty store`.
#[derive(Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Print every event as one JSON line, in position order.
    Dump(dump::DumpArgs),
    /// Count events per contract version and per stream prefix.
    Stats(stats::StatsArgs),
    /// Check that contract files can read every event in the store:
    /// exit 0 when they can, 1 when not, 2 on usage errors.
    Check(check::CheckArgs),
}

/// Why a subcommand stopped early: the exit code, and what to say on
/// standard error unless it has been said already.
pub struct Failure {
    code: ExitCode,
    message: Option<String>,
}

impl Failure {
    /// A usage error, such as a store that cannot be opened: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: ExitCode::from(USAGE),
            message: Some(message.into()),
        }
    }

    /// A problem found in the store, or a failure to read it: exit 1.
    pub fn problem(message: impl Into<String>) -> Self {
        Failure {
            code: ExitCode::from(INVALID),
            message: Some(message.into()),
        }
    }

    /// What to say on standard error, unless it has been said already.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// A failure whose explanation has been printed already.
    pub fn reported(code: ExitCode) -> Self {
        Failure { code, message: None }
    }
}

/// An error with its causes, `outer: inner: innermost`. Database drivers
/// put the useful part (which password failed, which host refused) in
/// the causes; a cause whose text the message ends with already is not
/// repeated.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Runs `treaty store`.
pub fn run(args: StoreArgs) -> ExitCode {
    let outcome = match args.command {
        StoreCommand::Dump(args) => block_on(dump::run(args)),
        StoreCommand::Stats(args) => block_on(stats::run(args)),
        StoreCommand::Check(args) => block_on(check::run(args)),
    };
    finish(outcome)
}

/// The exit code of a subcommand's outcome, after saying on standard
/// error why it failed.
pub(crate) fn finish(outcome: Result<(), Failure>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if let Some(message) = failure.message {
                eprintln!("error: {message}");
            }
            failure.code
        }
    }
}

/// Runs `work` on a current-thread runtime: the commands read one thing
/// at a time, so more threads would only cost start-up time.
pub(crate) fn block_on(work: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::problem(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(work)
}
