//! Many writers on one PostgreSQL server, each appending single events to
//! its own stream with exact expected versions:
//!
//! - `postgres_append_single_concurrent_16`: 16 Tokio tasks on one
//!   `PostgresStore`, against 16 tokio-postgres connections each running
//!   one autocommit single-row `INSERT` per event into a table of the same
//!   shape (made with `LIKE <store>.events INCLUDING ALL`, positions from
//!   a sequence).
//! - `postgres_append_single_processes_4x16`: the same in 4 processes of
//!   16 tasks (or connections) each, started together
//!   (`treaty-bench store-append-worker`, a hidden subcommand).
//!
//! Each run gets fresh schemas, dropped at the end.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};
use treaty_runtime::store::{EventStore, ExpectedVersion, PostgresConfig, PostgresOptions, PostgresStore, StreamName};
use uuid::Uuid;

use super::{failed, rate, REPETITIONS, SUITE};
use crate::events;
use crate::report::{Report, Row, Target};
use crate::Failure;

pub const CASE_16: &str = "postgres_append_single_concurrent_16";
pub const CASE_4X16: &str = "postgres_append_single_processes_4x16";

/// Writers per process.
const TASKS: usize = 16;

/// Processes in the multi-process case.
const PROCESSES: usize = 4;

/// Single-event appends per writer per run: 16,000 events per run of the
/// one-process case, 16,000 of the four-process case.
const APPENDS: usize = 1_000;
const APPENDS_4X16: usize = 250;

const TARGET_16: f64 = 0.8;
const TARGET_4X16: f64 = 0.7;

/// Which side a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Treaty,
    Raw,
}

/// `postgres_append_single_concurrent_16`.
pub async fn concurrent_16(url: &str, report: &mut Report) -> Result<(), Failure> {
    eprintln!("store: {CASE_16}: {TASKS} tasks, {APPENDS} single-event appends each");
    let schemas = Schemas::connect(url).await?;
    let measured = async {
        let mut treaty = Duration::MAX;
        let mut raw = Duration::MAX;
        for run in 0..=REPETITIONS {
            let (store_schema, raw_schema) = schemas.pair(run).await?;
            let store_time = run_side(url, &store_schema, Side::Treaty, 0, TASKS, APPENDS).await?;
            let raw_time = run_side(url, &raw_schema, Side::Raw, 0, TASKS, APPENDS).await?;
            if run > 0 {
                treaty = treaty.min(store_time);
                raw = raw.min(raw_time);
            }
        }
        Ok::<_, Failure>((treaty, raw))
    }
    .await;
    schemas.drop_all().await?;
    let (treaty, raw) = measured?;
    let events = TASKS * APPENDS;
    report.push(
        Row::new(SUITE, CASE_16, rate(events, treaty), "events/s")
            .relative_to("tokio-postgres", rate(events, raw))
            .target(Target::AtLeast(TARGET_16)),
    );
    Ok(())
}

/// `postgres_append_single_processes_4x16`.
pub async fn processes_4x16(url: &str, report: &mut Report) -> Result<(), Failure> {
    eprintln!("store: {CASE_4X16}: {PROCESSES} processes of {TASKS} tasks, {APPENDS_4X16} single-event appends each");
    let schemas = Schemas::connect(url).await?;
    let measured = async {
        let mut treaty = Duration::MAX;
        let mut raw = Duration::MAX;
        for run in 0..=REPETITIONS {
            let (store_schema, raw_schema) = schemas.pair(run).await?;
            let store_time = in_processes(url, &store_schema, Side::Treaty)?;
            let raw_time = in_processes(url, &raw_schema, Side::Raw)?;
            if run > 0 {
                treaty = treaty.min(store_time);
                raw = raw.min(raw_time);
            }
        }
        Ok::<_, Failure>((treaty, raw))
    }
    .await;
    schemas.drop_all().await?;
    let (treaty, raw) = measured?;
    let events = PROCESSES * TASKS * APPENDS_4X16;
    report.push(
        Row::new(SUITE, CASE_4X16, rate(events, treaty), "events/s")
            .relative_to("tokio-postgres", rate(events, raw))
            .target(Target::AtLeast(TARGET_4X16)),
    );
    Ok(())
}

/// The schemas of one case's runs, made on a connection of the parent
/// and all dropped at the end, whether the runs succeeded or not.
struct Schemas {
    url: String,
    client: Client,
    connection: tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    run_id: String,
    made: std::sync::Mutex<Vec<String>>,
}

impl Schemas {
    async fn connect(url: &str) -> Result<Schemas, Failure> {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(failed("connect to PostgreSQL"))?;
        Ok(Schemas {
            url: url.to_string(),
            client,
            connection: tokio::spawn(connection),
            run_id: Uuid::now_v7().simple().to_string(),
            made: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// A fresh store schema and a raw schema whose events table has the
    /// store's shape, with positions from a sequence.
    async fn pair(&self, run: usize) -> Result<(String, String), Failure> {
        let store_schema = format!("bench_{}_{run}_store", self.run_id);
        let raw_schema = format!("bench_{}_{run}_raw", self.run_id);
        {
            let mut made = self.made.lock().expect("not poisoned");
            made.push(store_schema.clone());
            made.push(raw_schema.clone());
        }
        drop(open_store(&self.url, &store_schema, false).await?);
        self.client
            .batch_execute(&format!(
                "CREATE SCHEMA {raw_schema};
                 CREATE TABLE {raw_schema}.events (LIKE {store_schema}.events INCLUDING ALL);
                 CREATE SEQUENCE {raw_schema}.positions;
                 ALTER TABLE {raw_schema}.events ALTER COLUMN position SET DEFAULT nextval('{raw_schema}.positions');"
            ))
            .await
            .map_err(failed("create the raw table"))?;
        Ok((store_schema, raw_schema))
    }

    async fn drop_all(self) -> Result<(), Failure> {
        let made = self.made.lock().expect("not poisoned").clone();
        for schema in made {
            self.client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .map_err(failed(format!("drop the schema {schema}")))?;
        }
        drop(self.client);
        let _ = self.connection.await;
        Ok(())
    }
}

async fn open_store(url: &str, schema: &str, existing: bool) -> Result<PostgresStore, Failure> {
    let config = PostgresConfig {
        connection: PostgresOptions {
            schema: schema.to_string(),
            pool_size: TASKS,
        },
        ..PostgresConfig::default()
    };
    if existing {
        PostgresStore::open_existing(url, config).await
    } else {
        PostgresStore::open_with(url, config).await
    }
    .map_err(failed("open the PostgreSQL store"))
}

/// `tasks` writers of one side, each appending `appends` single events to
/// its own stream; the time from the first append to the last.
async fn run_side(
    url: &str,
    schema: &str,
    side: Side,
    worker: usize,
    tasks: usize,
    appends: usize,
) -> Result<Duration, Failure> {
    let prepared = Prepared::new(url, schema, side, worker, tasks).await?;
    prepared.run(appends).await
}

/// One side's writers, connected and ready to start.
enum Prepared {
    Treaty {
        store: PostgresStore,
        streams: Vec<StreamName>,
    },
    Raw {
        clients: Vec<(Client, tokio_postgres::Statement, String)>,
    },
}

impl Prepared {
    async fn new(url: &str, schema: &str, side: Side, worker: usize, tasks: usize) -> Result<Prepared, Failure> {
        let names: Vec<String> = (0..tasks).map(|task| format!("w{worker}-t{task}")).collect();
        Ok(match side {
            Side::Treaty => Prepared::Treaty {
                store: open_store(url, schema, true).await?,
                streams: names
                    .iter()
                    .map(|n| StreamName::new(n.as_str()).expect("the name is valid"))
                    .collect(),
            },
            Side::Raw => {
                let mut clients = Vec::with_capacity(tasks);
                for name in names {
                    let (client, connection) = tokio_postgres::connect(url, NoTls)
                        .await
                        .map_err(failed("connect to PostgreSQL"))?;
                    tokio::spawn(connection);
                    let insert = client
                        .prepare(&format!(
                            "INSERT INTO {schema}.events
                                 (id, stream, version, contract, contract_version, fingerprint, payload, metadata)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                        ))
                        .await
                        .map_err(failed("prepare the raw insert"))?;
                    clients.push((client, insert, name));
                }
                Prepared::Raw { clients }
            }
        })
    }

    async fn run(self, appends: usize) -> Result<Duration, Failure> {
        let start = Instant::now();
        let mut writers = tokio::task::JoinSet::new();
        match self {
            Prepared::Treaty { store, streams } => {
                for stream in streams {
                    let store = store.clone();
                    writers.spawn(async move {
                        for version in 0..appends as u64 {
                            store
                                .append(&stream, ExpectedVersion::Exact(version), events::batch(1))
                                .await
                                .map_err(failed("append to PostgreSQL"))?;
                        }
                        Ok::<_, Failure>(())
                    });
                }
            }
            Prepared::Raw { clients } => {
                for (client, insert, stream) in clients {
                    writers.spawn(async move {
                        for version in 1..=appends as i64 {
                            let event = events::batch(1).pop().expect("one event");
                            let payload = std::str::from_utf8(&event.payload).expect("the payloads are JSON text");
                            let metadata = serde_json::to_string(&event.metadata).expect("metadata serialises");
                            client
                                .execute(
                                    &insert,
                                    &[
                                        &event.id,
                                        &stream,
                                        &version,
                                        &event.contract,
                                        &i64::from(event.contract_version),
                                        &event.fingerprint,
                                        &payload,
                                        &metadata,
                                    ],
                                )
                                .await
                                .map_err(failed("insert a raw row into PostgreSQL"))?;
                        }
                        Ok::<_, Failure>(())
                    });
                }
            }
        }
        while let Some(done) = writers.join_next().await {
            done.map_err(failed("run a writer"))??;
        }
        Ok(start.elapsed())
    }
}

/// Runs one side in `PROCESSES` worker processes started together; the
/// time from the start signal until the last one is done.
fn in_processes(url: &str, schema: &str, side: Side) -> Result<Duration, Failure> {
    let exe = std::env::current_exe().map_err(|e| Failure::io("find the treaty-bench executable", e))?;
    let side_name = match side {
        Side::Treaty => "treaty",
        Side::Raw => "raw",
    };
    let mut workers: Vec<(Child, BufReader<std::process::ChildStdout>)> = Vec::new();
    for worker in 0..PROCESSES {
        let mut child = Command::new(&exe)
            .args([
                "store-append-worker",
                "--db",
                url,
                "--schema",
                schema,
                "--side",
                side_name,
            ])
            .args(["--worker", &worker.to_string(), "--tasks", &TASKS.to_string()])
            .args(["--appends", &APPENDS_4X16.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Failure::io("start a store-append-worker", e))?;
        let out = BufReader::new(child.stdout.take().expect("piped"));
        workers.push((child, out));
    }
    for (_, out) in &mut workers {
        expect(out, "ready")?;
    }
    let start = Instant::now();
    for (child, _) in &mut workers {
        let stdin = child.stdin.as_mut().expect("piped");
        writeln!(stdin, "go")
            .and_then(|()| stdin.flush())
            .map_err(|e| Failure::io("start a worker", e))?;
    }
    for (_, out) in &mut workers {
        expect(out, "done")?;
    }
    let elapsed = start.elapsed();
    for (mut child, _) in workers {
        let status = child.wait().map_err(|e| Failure::io("wait for a worker", e))?;
        if !status.success() {
            return Err(Failure::new(format!("a store-append-worker failed: {status}")));
        }
    }
    Ok(elapsed)
}

fn expect(out: &mut impl BufRead, word: &str) -> Result<(), Failure> {
    let mut line = String::new();
    out.read_line(&mut line)
        .map_err(|e| Failure::io("read from a worker", e))?;
    if line.trim() == word {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "a store-append-worker said {:?} instead of {word:?} (see its errors above)",
            line.trim()
        )))
    }
}

/// What `treaty-bench store-append-worker` was asked to do.
pub struct Worker {
    pub url: String,
    pub schema: String,
    pub side: Side,
    pub worker: usize,
    pub tasks: usize,
    pub appends: usize,
}

/// The worker process: connects, prints `ready`, waits for a line on
/// stdin, appends, prints `done`.
pub fn worker(job: &Worker) -> Result<(), Failure> {
    events::runtime()?.block_on(async {
        let prepared = Prepared::new(&job.url, &job.schema, job.side, job.worker, job.tasks).await?;
        let stdout = std::io::stdout();
        writeln!(stdout.lock(), "ready").map_err(|e| Failure::io("write to stdout", e))?;
        let mut go = String::new();
        std::io::stdin()
            .read_line(&mut go)
            .map_err(|e| Failure::io("read the start signal", e))?;
        prepared.run(job.appends).await?;
        writeln!(stdout.lock(), "done").map_err(|e| Failure::io("write to stdout", e))?;
        Ok(())
    })
}
