//! `treaty-bench`: Treaty's speed targets, each measured against a
//! baseline run in the same process.
//!
//! Every suite is a subcommand (`treaty-bench codegen`) that returns a
//! [`report::Report`]; the report module alone decides how results look,
//! so a new suite only has to measure.

mod codegen;
mod report;
mod timing;

use std::fmt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use report::Format;

#[derive(Parser)]
#[command(name = "treaty-bench", about = "Measures Treaty against same-run baselines.")]
struct Cli {
    #[command(subcommand)]
    suite: Suite,
    /// Print one JSON object per line instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Suite {
    /// Code generation from 1,000 and 10,000 messages, against prost-build
    /// on the equivalent .proto files (needs protoc).
    Codegen,
}

/// Why a suite could not produce figures. It is reported instead of any
/// figure: a benchmark that half-ran must not print numbers.
#[derive(Debug)]
pub struct Failure(String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure(message.into())
    }

    /// An I/O error while trying to `action` (such as "write out.rs").
    pub fn io(action: impl fmt::Display, error: std::io::Error) -> Failure {
        Failure(format!("cannot {action}: {error}"))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = if cli.json { Format::JsonLines } else { Format::Table };
    let result = match cli.suite {
        Suite::Codegen => codegen::run(),
    };
    match result {
        Ok(report) => {
            report.print(format);
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("treaty-bench: {failure}");
            ExitCode::FAILURE
        }
    }
}
