//! The `treaty` command: check and generate contracts.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use treaty_codegen::{Builder, Error};
use treaty_dsl::Sources;

mod baseline;
mod db;
mod docs;
mod fmt;
mod import_ddd;
mod lint;
mod lock;
mod lsp;
mod projections;
mod quarantine;
mod store;
mod table;

/// Treaty: explicit contracts for message-driven systems.
#[derive(Parser)]
#[command(name = "treaty", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate contracts: exit 0 when valid, 1 when not, 2 on usage errors.
    Check {
        /// Contract files, or directories searched for `*.treaty`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Map a contract type to a Rust type: `shared.Money=::money::Money`.
        #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
        extern_types: Vec<String>,
    },
    /// Print (or write) the Rust that build.rs would generate.
    Generate {
        /// Contract files, or directories searched for `*.treaty`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write to this file instead of standard output (only when changed).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Map a contract type to a Rust type: `shared.Money=::money::Money`.
        #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
        extern_types: Vec<String>,
    },
    /// Write the documentation a service serves at /docs and
    /// /openapi.json as static files: index.html, openapi.json and
    /// catalog.json.
    Docs(docs::DocsArgs),
    /// Rewrite contract files in the one canonical layout, keeping their
    /// comments and meaning; with --check, list the files that are not in
    /// it and exit 1.
    Fmt(fmt::FmtArgs),
    /// Turn Lokad Code DSL files (.ddd) into .treaty files, keeping every
    /// message, field, fragment and template; what needs a person becomes
    /// a placeholder marked TODO(import-ddd) and a note on stderr.
    ImportDdd(import_ddd::ImportDddArgs),
    /// Run the language server over stdin and stdout (for editors):
    /// diagnostics, hover, go to definition, completion, formatting.
    Lsp(lsp::LspArgs),
    /// Write treaty.lock: the canonical schema of every contract version.
    Lock(lock::LockArgs),
    /// Report breaking changes against a lock, a directory or a git revision:
    /// exit 0 when nothing breaks, 1 when something does, 2 on usage errors.
    Lint(lint::LintArgs),
    /// Inspect an event store, changing none of its data: dump, stats, check.
    Store(store::StoreArgs),
    /// Inspect projections and their views, changing nothing: status.
    Projections(projections::ProjectionsArgs),
    /// Manage the messages a bus parked because it could not handle them:
    /// list, show, retry, discard.
    Quarantine(quarantine::QuarantineArgs),
}

/// Exit codes shared by every subcommand.
const INVALID: u8 = 1;
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check { paths, extern_types } => check(&paths, &extern_types),
        Command::Generate {
            paths,
            output,
            extern_types,
        } => generate(&paths, output, &extern_types),
        Command::Docs(args) => docs::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::ImportDdd(args) => import_ddd::run(args),
        Command::Lsp(args) => lsp::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Store(args) => store::run(args),
        Command::Projections(args) => projections::run(args),
        Command::Quarantine(args) => quarantine::run(args),
    }
}

fn load(paths: &[PathBuf]) -> Result<Sources, ExitCode> {
    let mut sources = Sources::new();
    match sources.load(paths) {
        Ok(_) => Ok(sources),
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(USAGE))
        }
    }
}

fn check(paths: &[PathBuf], extern_types: &[String]) -> ExitCode {
    let sources = match load(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let builder = match builder(extern_types) {
        Ok(b) => b,
        Err(code) => return code,
    };
    match builder.schema(&sources) {
        Ok(schema) => {
            let messages = schema.messages().count();
            println!(
                "ok: {} file{}, {} namespace{}, {messages} message{}",
                sources.len(),
                plural(sources.len()),
                schema.namespaces.len(),
                plural(schema.namespaces.len()),
                plural(messages)
            );
            ExitCode::SUCCESS
        }
        Err(Error::Contracts(diagnostics)) => {
            report(&diagnostics);
            ExitCode::from(INVALID)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// A builder with the `--extern NAME=RUST_TYPE` mappings.
fn builder(extern_types: &[String]) -> Result<Builder, ExitCode> {
    let mut builder = Builder::new();
    for mapping in extern_types {
        let Some((name, rust)) = mapping.split_once('=') else {
            eprintln!("error: --extern takes NAME=RUST_TYPE, such as shared.Money=::money::Money");
            return Err(ExitCode::from(USAGE));
        };
        builder.extern_type(name, rust);
    }
    Ok(builder)
}

fn generate(paths: &[PathBuf], output: Option<PathBuf>, extern_types: &[String]) -> ExitCode {
    let sources = match load(paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let builder = match builder(extern_types) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let code = match builder.generate(&sources) {
        Ok(code) => code,
        Err(Error::Contracts(diagnostics)) => {
            report(&diagnostics);
            return ExitCode::from(INVALID);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    match output {
        None => {
            let _ = std::io::stdout().write_all(code.as_bytes());
            ExitCode::SUCCESS
        }
        Some(path) => match treaty_codegen::write_if_changed(&path, code.as_bytes()) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(INVALID)
            }
        },
    }
}

/// Contracts loaded and validated, with the builder that validated them.
struct Compiled {
    sources: Sources,
    builder: Builder,
    schema: treaty_dsl::Schema,
}

/// Loads and validates the contracts a command works from. Contracts that
/// do not compile are reported and, since the command cannot do its job,
/// are a usage error (exit 2).
fn valid_schema(paths: &[PathBuf], extern_types: &[String]) -> Result<Compiled, ExitCode> {
    let sources = load(paths)?;
    let builder = builder(extern_types)?;
    match builder.schema(&sources) {
        Ok(schema) => Ok(Compiled {
            sources,
            builder,
            schema,
        }),
        Err(Error::Contracts(diagnostics)) => {
            report(&diagnostics);
            Err(ExitCode::from(USAGE))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(USAGE))
        }
    }
}

/// Prints diagnostics to stderr, in colour on a terminal.
fn report(diagnostics: &treaty_dsl::Diagnostics) {
    use treaty_dsl::diagnostic::termcolor::{ColorChoice, StandardStream};
    let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    diagnostics.emit(&mut StandardStream::stderr(choice));
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
