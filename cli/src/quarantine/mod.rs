//! `treaty quarantine`: manage the messages a bus parked because it could
//! not handle them.
//!
//! - `list` shows every parked message, oldest first.
//! - `show ID` prints one with its error and body.
//! - `retry ID` asks for it to be sent again: the next running bus over
//!   the same database picks the request up and sends it.
//! - `discard ID` removes it for good.
//!
//! The quarantine lives in the event store's database. Like `treaty
//! store`, these subcommands run on a current-thread tokio runtime of
//! their own and never create anything (no database, schema, table or
//! index: they run no DDL at all): a database where nothing was ever
//! quarantined is reported as such and left untouched.

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use treaty_runtime::bus::{ParkedMessage, PostgresQuarantine, Quarantine, QuarantineError, SqliteQuarantine};
use treaty_runtime::storage::{Durability, OpenError};
use treaty_runtime::Uuid;

mod render;

use crate::db::{Database, DbArgs, Subject};
use crate::store::{block_on, describe, finish, Failure};

/// How `treaty quarantine` names the database `--db` names.
const DATABASE: Subject = Subject {
    noun: "database",
    creates_none: "quarantine commands never create one",
};

/// What is said when the database has no quarantine table.
const NOTHING_QUARANTINED: &str = "no message has been quarantined in this database";

/// The arguments of `treaty quarantine`.
#[derive(Args)]
pub struct QuarantineArgs {
    #[command(subcommand)]
    command: QuarantineCommand,
}

#[derive(Subcommand)]
enum QuarantineCommand {
    /// List the parked messages, oldest first.
    List(ListArgs),
    /// Show one parked message: its error and its body.
    Show(MessageArgs),
    /// Ask for a parked message to be sent again by the next running bus
    /// (asking twice is the same as asking once).
    Retry(MessageArgs),
    /// Remove a parked message for good.
    Discard(MessageArgs),
}

/// The arguments of `treaty quarantine list`.
#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    db: DbArgs,
    /// How to print the messages.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// The arguments of the subcommands about one message.
#[derive(Args)]
struct MessageArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The message's id, as `list` prints it.
    id: Uuid,
}

/// Output formats of `list`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An aligned table, one row per message, then a summary.
    Human,
    /// One JSON object per line, one line per message.
    Json,
}

/// Runs `treaty quarantine`.
pub fn run(args: QuarantineArgs) -> ExitCode {
    let outcome = match args.command {
        QuarantineCommand::List(args) => block_on(list(args)),
        QuarantineCommand::Show(args) => block_on(show(args)),
        QuarantineCommand::Retry(args) => block_on(retry(args)),
        QuarantineCommand::Discard(args) => block_on(discard(args)),
    };
    finish(outcome)
}

async fn list(args: ListArgs) -> Result<(), Failure> {
    let Some(quarantine) = open(&args.db).await? else {
        // Standard output stays valid JSON lines (none) for scripts.
        match args.format {
            Format::Human => return write(&format!("{NOTHING_QUARANTINED}\n")),
            Format::Json => eprintln!("{NOTHING_QUARANTINED}"),
        }
        return Ok(());
    };
    let parked = quarantine.list().await.map_err(read_failed)?;
    let text = match args.format {
        Format::Human => render::table(&parked),
        Format::Json => parked.iter().map(render::json_line).collect(),
    };
    write(&text)
}

async fn show(args: MessageArgs) -> Result<(), Failure> {
    let quarantine = open_existing(&args.db).await?;
    let parked = quarantine.get(args.id).await.map_err(read_failed)?;
    let parked = parked.ok_or_else(|| not_parked(args.id))?;
    write(&render::details(&parked))
}

async fn retry(args: MessageArgs) -> Result<(), Failure> {
    let quarantine = open_existing(&args.db).await?;
    let id = args.id;
    // Read first only to tell the operator whether this request changed
    // anything; the request itself is idempotent either way.
    let parked = quarantine.get(id).await.map_err(read_failed)?;
    match parked {
        None => Err(not_parked(id)),
        Some(parked) if parked.retry_requested => write(&format!(
            "a retry of message {id} was requested already: the next running bus will send it again\n"
        )),
        Some(_) => {
            if !quarantine.request_retry(id).await.map_err(read_failed)? {
                // A running bus sent it again (or someone discarded it)
                // between the two statements.
                return Err(not_parked(id));
            }
            write(&format!("message {id} will be sent again by the next running bus\n"))
        }
    }
}

async fn discard(args: MessageArgs) -> Result<(), Failure> {
    let quarantine = open_existing(&args.db).await?;
    if !quarantine.remove(args.id).await.map_err(read_failed)? {
        return Err(not_parked(args.id));
    }
    write(&format!("message {} discarded\n", args.id))
}

fn not_parked(id: Uuid) -> Failure {
    Failure::problem(format!("no message {id} in the quarantine"))
}

fn read_failed(error: QuarantineError) -> Failure {
    Failure::problem(describe(&error))
}

/// Writes `text` to standard output; a closed pipe is the reader's choice.
fn write(text: &str) -> Result<(), Failure> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::problem(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// An open quarantine of either backend. `Quarantine` has async methods,
/// so it cannot be a trait object; this enum forwards the calls instead.
enum Parked {
    Sqlite(SqliteQuarantine),
    Postgres(PostgresQuarantine),
}

impl Parked {
    async fn list(&self) -> Result<Vec<ParkedMessage>, QuarantineError> {
        match self {
            Parked::Sqlite(quarantine) => quarantine.list().await,
            Parked::Postgres(quarantine) => quarantine.list().await,
        }
    }

    async fn get(&self, id: Uuid) -> Result<Option<ParkedMessage>, QuarantineError> {
        match self {
            Parked::Sqlite(quarantine) => quarantine.get(id).await,
            Parked::Postgres(quarantine) => quarantine.get(id).await,
        }
    }

    async fn request_retry(&self, id: Uuid) -> Result<bool, QuarantineError> {
        match self {
            Parked::Sqlite(quarantine) => quarantine.request_retry(id).await,
            Parked::Postgres(quarantine) => quarantine.request_retry(id).await,
        }
    }

    async fn remove(&self, id: Uuid) -> Result<bool, QuarantineError> {
        match self {
            Parked::Sqlite(quarantine) => quarantine.remove(id).await,
            Parked::Postgres(quarantine) => quarantine.remove(id).await,
        }
    }
}

/// The quarantine `--db` names, for a subcommand about one message: a
/// database without the table holds no message, which is exit 1 like any
/// message that is not there.
async fn open_existing(db: &DbArgs) -> Result<Parked, Failure> {
    open(db).await?.ok_or_else(|| Failure::problem(NOTHING_QUARANTINED))
}

/// Opens the quarantine in the database `--db` names, or `None` when
/// nothing was ever quarantined there (its table does not exist). Like
/// every `open_existing`, it creates nothing and runs no DDL, so it needs
/// no privilege to.
async fn open(db: &DbArgs) -> Result<Option<Parked>, Failure> {
    let opened = match Database::from_args(db, &DATABASE)? {
        Database::Sqlite(path) => SqliteQuarantine::open_existing(path, Durability::Full).map(Parked::Sqlite),
        Database::Postgres { url, options } => PostgresQuarantine::open_existing(&url, options)
            .await
            .map(Parked::Postgres),
    };
    match opened {
        Ok(quarantine) => Ok(Some(quarantine)),
        Err(OpenError::Missing { found, .. }) if found.is_empty() => Ok(None),
        Err(e) => Err(Failure::usage(describe(&e))),
    }
}
