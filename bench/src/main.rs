//! `treaty-bench`: Treaty's speed targets, each measured against a
//! baseline run in the same process.
//!
//! Every suite is a subcommand (`treaty-bench codegen`) that returns a
//! [`report::Report`]; the report module alone decides how results look,
//! so a new suite only has to measure. Four more subcommands are not
//! suites but processes: those that the store's crash and concurrency
//! tests start, kill and check (`crash-writer`, `contend`), and the one
//! rebuild that the projections suite runs in a process of its own
//! (`projection-rebuild`, hidden), and each side of the telemetry suite
//! (`telemetry-side`, hidden).

mod bus;
mod codegen;
mod compile;
mod contend;
mod counter;
mod crash_writer;
mod decode;
mod diagnostics;
mod events;
mod http;
mod projections;
mod relay;
mod report;
mod store;
mod telemetry;
mod timing;

use std::fmt;
use std::path::PathBuf;
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
    /// How long the generated code of 1,000 messages takes to compile, in
    /// debug and release, against prost-build's code for the same messages
    /// (needs protoc); and its size after macro expansion.
    Compile {
        /// Timed rebuilds of each crate in each profile; the fastest counts.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// Decoding the payload of each of 1,000 messages through
    /// `Contract::decode`, against serde_json into plain structs of the same
    /// shape (built in the compile suite's workspace; needs protoc).
    Decode {
        /// Timed samples of each side; the fastest counts.
        #[arg(long, default_value_t = 15)]
        samples: usize,
        /// Passes over every payload in one sample.
        #[arg(long, default_value_t = 50)]
        rounds: usize,
    },
    /// The event store: SQLite appends, group commit, reads and open time
    /// against raw rusqlite, and PostgreSQL appends against raw
    /// tokio-postgres when a server is given.
    Store {
        /// The PostgreSQL server for the PostgreSQL case
        /// (`postgres://user:password@host/database`); defaults to
        /// TREATY_TEST_POSTGRES. Without either the case is skipped.
        #[arg(long)]
        postgres: Option<String>,
        /// Run only this case, such as `sqlite_read_all_decode`.
        #[arg(long)]
        case: Option<String>,
    },
    /// Projection rebuilds: the projection engine against a naive rebuild
    /// that folds every view in memory and writes them at the end, over
    /// the same generated account events; speed and peak memory.
    Projections {
        /// Events in the large store: the speed and memory comparisons
        /// with the naive rebuild use it.
        #[arg(long, default_value_t = 10_000_000)]
        events_large: u64,
        /// Events in the small store, against which the engine's memory on
        /// the large one is compared.
        #[arg(long, default_value_t = 1_000_000)]
        events_small: u64,
        /// Rebuilds of each kind on each store; the best rate and the
        /// highest peak memory are reported.
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Error reporting: parsing, validating and rendering files with
    /// thousands of errors, against a tenth of each file scaled ten times.
    Diagnostics {
        /// Run only this case, such as `diagnostics_16000_errors`.
        #[arg(long)]
        case: Option<String>,
        /// Timed runs of each side; the best is reported.
        #[arg(long, default_value_t = 3)]
        repetitions: usize,
    },
    /// Messaging: commands handled end to end through the bus, against
    /// the repository without it.
    Bus {
        /// Commands per case.
        #[arg(long, default_value_t = 20_000)]
        commands: u64,
        /// The RabbitMQ broker for the RabbitMQ case
        /// (`amqp://user:password@host:5672/%2f`); defaults to
        /// TREATY_TEST_AMQP. Without either the case is skipped.
        #[arg(long)]
        amqp: Option<String>,
        /// Run only this case, such as `process_manager_events`.
        #[arg(long)]
        case: Option<String>,
    },
    /// HTTP: commands through the routes built from the contracts, against
    /// a hand-written axum handler calling the same repository.
    Http {
        /// Commands per run.
        #[arg(long, default_value_t = 10_000)]
        commands: u64,
    },
    /// Telemetry's cost: the in-process bus and SQLite appends with the
    /// Prometheus recorder installed and a tracing subscriber recording
    /// at INFO, against neither, each side in a child process of its own.
    Telemetry {
        /// Bus commands per side.
        #[arg(long, default_value_t = 50_000)]
        commands: u64,
        /// Appends per side.
        #[arg(long, default_value_t = 50_000)]
        appends: u64,
        /// Rounds of the five sides, in a rotating order; each side's
        /// median counts. Seven by default: on 2 cores one run of the bus
        /// case moves by up to a third from the next, more than
        /// telemetry, and a median of seven stands three such runs.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        /// Also count the instructions of the bus case, this many
        /// commands per side (20000 takes about a minute and a half a
        /// side), under Valgrind's callgrind, which must be installed.
        #[arg(long)]
        instructions: Option<u64>,
    },
    /// Not a suite: one side of the telemetry suite's span-cost cases,
    /// alone, for a profiler; prints its CPU time and spans per command.
    #[command(hide = true)]
    TelemetrySpanSide {
        /// One of the sides (`off`, `on`, `default layer`, `Treaty's
        /// layer`, `Treaty's layer, 1 trace in 10`).
        #[arg(long)]
        side: String,
    },
    /// Not a suite: one side of the telemetry suite, in a process of its
    /// own since a recorder and a subscriber are installed for good.
    #[command(hide = true)]
    TelemetrySide {
        /// Install the recorder and the subscriber.
        #[arg(long)]
        on: bool,
        /// With `--on`: the subscriber has no `fmt` layer (spans are
        /// recorded, not formatted).
        #[arg(long, requires = "on", conflicts_with = "traces")]
        unformatted: bool,
        /// With `--on`: the subscriber also has an OpenTelemetry layer.
        #[arg(long)]
        traces: bool,
        /// With `--traces`: the share of traces exported (else every one).
        #[arg(long)]
        sample: Option<f64>,
        #[arg(long)]
        commands: u64,
        #[arg(long)]
        appends: u64,
    },
    /// Not a suite: one projection rebuild, run by the projections suite in
    /// a process of its own so that its peak memory is its own; prints one
    /// result line.
    #[command(hide = true)]
    ProjectionRebuild {
        #[arg(long, value_enum)]
        mode: projections::rebuild::Mode,
        /// The event store to rebuild from.
        #[arg(long)]
        events_db: PathBuf,
        /// A new database for the views.
        #[arg(long)]
        views_db: PathBuf,
    },
    /// Not a suite: appends batches of 10 events to 100 SQLite streams for
    /// ever, printing `acked <stream> <version>` after each append, for
    /// crash tests that kill it.
    CrashWriter {
        /// The SQLite store file.
        #[arg(long)]
        db: PathBuf,
    },
    /// Not a suite: another process's append in
    /// `aggregate_command_long_stream`: one increment of its counter in the
    /// SQLite store at `--db`.
    #[command(hide = true)]
    AppendCounter {
        #[arg(long)]
        db: PathBuf,
    },
    /// Not a suite: `aggregate_command_long_stream` on a short stream,
    /// checking only that no append made by another process is missed.
    #[command(hide = true)]
    AggregateCheck {
        /// Where the stores are made.
        #[arg(long)]
        data: PathBuf,
    },
    /// Not a suite: one process of `postgres_append_single_processes_4x16`:
    /// connects, prints `ready`, waits for a line on stdin, appends single
    /// events from `--tasks` writers, prints `done`.
    #[command(hide = true)]
    StoreAppendWorker {
        #[arg(long)]
        db: String,
        #[arg(long)]
        schema: String,
        #[arg(long, value_enum)]
        side: store::postgres_concurrent::Side,
        #[arg(long)]
        worker: usize,
        #[arg(long)]
        tasks: usize,
        #[arg(long)]
        appends: usize,
    },
    /// Not a suite: appends single events to one PostgreSQL stream with
    /// exact expected versions, retrying lost races, printing `won
    /// <version>` per success, for tests that run several at once.
    Contend {
        /// The PostgreSQL server (`postgres://user:password@host/database`).
        #[arg(long)]
        db: String,
        /// The schema holding the store's tables.
        #[arg(long)]
        schema: String,
        /// The stream to append to.
        #[arg(long)]
        stream: String,
        /// How many appends to win.
        #[arg(long)]
        appends: u64,
        /// Print `ready` when connected and wait for a line on stdin before
        /// starting, so several processes start racing together.
        #[arg(long)]
        wait_for_go: bool,
    },
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
        Suite::Compile { runs } => compile::run(runs),
        Suite::Decode { samples, rounds } => decode::run(samples, rounds),
        Suite::Store { postgres, case } => {
            let postgres = postgres.or_else(|| std::env::var("TREATY_TEST_POSTGRES").ok());
            store::run(postgres, case.as_deref())
        }
        Suite::Projections {
            events_large,
            events_small,
            runs,
        } => projections::run(projections::Sizes {
            large: events_large,
            small: events_small,
            runs,
        }),
        Suite::Diagnostics { case, repetitions } => diagnostics::run(case.as_deref(), repetitions),
        Suite::Bus { commands, amqp, case } => bus::run(
            commands,
            amqp.or_else(|| std::env::var("TREATY_TEST_AMQP").ok()),
            case.as_deref(),
        ),
        Suite::Http { commands } => http::run(commands),
        Suite::Telemetry {
            commands,
            appends,
            rounds,
            instructions,
        } => telemetry::run(commands, appends, rounds, instructions),
        Suite::TelemetrySpanSide { side } => {
            return exit_code(telemetry::span_side(&side).map(|(cpu, spans)| {
                println!("{side}: {cpu:.1} µs CPU per command, {spans:.1} spans exported each");
            }));
        }
        Suite::TelemetrySide {
            on,
            unformatted,
            traces,
            sample,
            commands,
            appends,
        } => {
            let side = match (on, traces, sample) {
                (false, _, _) => telemetry::Side::Off,
                (true, false, _) if unformatted => telemetry::Side::OnUnformatted,
                (true, false, _) => telemetry::Side::On,
                (true, true, None) => telemetry::Side::Traces,
                (true, true, Some(share)) if share == telemetry::SAMPLED => telemetry::Side::TracesSampled,
                (true, true, Some(share)) => {
                    eprintln!(
                        "treaty-bench: telemetry-side samples {} of the traces, not {share}",
                        telemetry::SAMPLED
                    );
                    return ExitCode::from(2);
                }
            };
            return exit_code(telemetry::side(side, commands, appends));
        }
        Suite::ProjectionRebuild {
            mode,
            events_db,
            views_db,
        } => return exit_code(projections::rebuild::child(mode, &events_db, &views_db)),
        Suite::CrashWriter { db } => return exit_code(crash_writer::run(&db)),
        Suite::AppendCounter { db } => return exit_code(store::aggregate::append_counter(&db)),
        Suite::AggregateCheck { data } => return exit_code(store::aggregate::check(&data)),
        Suite::StoreAppendWorker {
            db,
            schema,
            side,
            worker,
            tasks,
            appends,
        } => {
            let job = store::postgres_concurrent::Worker {
                url: db,
                schema,
                side,
                worker,
                tasks,
                appends,
            };
            return exit_code(store::postgres_concurrent::worker(&job));
        }
        Suite::Contend {
            db,
            schema,
            stream,
            appends,
            wait_for_go,
        } => {
            let contest = contend::Contest {
                url: db,
                schema,
                stream,
                appends,
                wait_for_go,
            };
            return exit_code(contend::run(&contest));
        }
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

/// The exit code of a subcommand that prints its own output.
fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("treaty-bench: {failure}");
            ExitCode::FAILURE
        }
    }
}
