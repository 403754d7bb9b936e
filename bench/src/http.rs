//! The HTTP suite: commands through the routes `treaty::http` builds from
//! the contracts, against a hand-written axum handler calling the same
//! repository, in the same run.
//!
//! - `http_commands`: commands per second over keep-alive connections
//!   (`CONNECTIONS` clients, each sending its next command when the last
//!   one is answered), each appending one event to a durable SQLite store;
//!   the baseline is a handler that takes typed JSON and executes the
//!   command through the same kind of repository, exactly once by message
//!   id as the generated route does. Each runs three times, alternating,
//!   and its best run counts.
//! - `http_commands_p50`, `http_commands_p99`: the latency percentiles of
//!   both, in milliseconds, from the runs that counted.
//! - `http_cpu_per_command`: the process's CPU time per command (client,
//!   server and store together), which a busy machine disturbs less than
//!   the rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Json, Path};
use axum::http::StatusCode;
use axum::routing::post;
use treaty::aggregate::Repository;
use treaty::http::{Api, HttpConfig};
use treaty::store::{EventStore, Metadata, SqliteStore};
use treaty::Uuid;

use crate::counter::{Counter, CounterId, Increment, CONTRACTS, COUNTERS};
use crate::report::{Report, Row, Target};
use crate::timing::load_average;
use crate::Failure;

/// Keep-alive connections sending commands at once.
const CONNECTIONS: usize = 16;

/// What one run measured.
struct Run {
    rate: f64,
    p50: Duration,
    p99: Duration,
    /// The process's CPU time (client and server) per command: steadier
    /// than the rate on a busy machine, where the rate follows the load.
    cpu_per_command: Option<Duration>,
}

pub(crate) use crate::timing::cpu_time;

/// Runs the suite with `commands` commands per run.
pub fn run(commands: u64) -> Result<Report, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::io("start the runtime", e))?;
    let mut report = Report::new();
    runtime.block_on(async {
        // Each is run three times, alternating, and its best run counts,
        // so neither gains from the machine warming up or a noisy moment.
        eprintln!("http: starting; load average {}", load_average());
        let mut best: [Option<Run>; 2] = [None, None];
        for round in 1..=3 {
            for (slot, server) in [Server::HandWritten, Server::Generated].into_iter().enumerate() {
                let run = measure(commands, server).await?;
                eprintln!("http: {server:?}, run {round}: {:.0} commands/s", run.rate);
                if best[slot].as_ref().is_none_or(|b| run.rate > b.rate) {
                    best[slot] = Some(run);
                }
            }
        }
        let [Some(baseline), Some(generated)] = best else {
            unreachable!("both ran three times");
        };
        eprintln!("http: done; load average {}", load_average());
        let name = format!("hand-written axum handler, same repository, {commands} commands");
        report.push(
            Row::new("http", "http_commands", generated.rate, "commands/s")
                .relative_to(&name, baseline.rate)
                .target(Target::AtLeast(0.8)),
        );
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        report.push(Row::new("http", "http_commands_p50", ms(generated.p50), "ms").against(&name, ms(baseline.p50)));
        report.push(Row::new("http", "http_commands_p99", ms(generated.p99), "ms").against(&name, ms(baseline.p99)));
        match (generated.cpu_per_command, baseline.cpu_per_command) {
            (Some(treaty), Some(hand)) => {
                let us = |d: Duration| d.as_secs_f64() * 1e6;
                report.push(Row::new("http", "http_cpu_per_command", us(treaty), "us").against(&name, us(hand)));
            }
            _ => report.skip("http", "http_cpu_per_command", "no /proc/self/stat on this system"),
        }
        Ok::<_, Failure>(())
    })?;
    Ok(report)
}

#[derive(Debug, Clone, Copy)]
enum Server {
    Generated,
    HandWritten,
}

/// Serves `server` on a fresh store, sends `commands` commands over
/// `CONNECTIONS` keep-alive connections, and checks every one was stored.
async fn measure(commands: u64, server: Server) -> Result<Run, Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let store = SqliteStore::open(dir.path().join("events.db"))
        .map_err(|e| Failure::new(format!("cannot open the store: {e}")))?;
    let repository = Repository::<Counter, _>::new(store.clone());
    let (router, path): (axum::Router, fn(u64) -> String) = match server {
        Server::Generated => {
            let mut sources = treaty_dsl::Sources::new();
            sources.add("bench.treaty", CONTRACTS);
            let catalog = treaty_codegen::Builder::new()
                .catalog(&sources)
                .map_err(|e| Failure::new(format!("the contracts do not compile: {e}")))?;
            let api = Api::from_catalog(catalog)
                .config(HttpConfig::default())
                .aggregate(repository)
                .map_err(|e| Failure::new(format!("cannot mount the counter: {e}")))?;
            (api.router(), |i| {
                format!("/benchcounter/counter/c{}/increment", i % COUNTERS)
            })
        }
        Server::HandWritten => (hand_written(repository), |i| {
            format!("/counter/c{}/increment", i % COUNTERS)
        }),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::io("listen", e))?;
    let address = listener.local_addr().map_err(|e| Failure::io("read the address", e))?;
    let serving = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .map_err(|e| Failure::new(format!("cannot build the client: {e}")))?;
    let base = format!("http://{address}");
    // Connections open before the clock starts.
    let warm: Vec<_> = (0..CONNECTIONS)
        .map(|_| client.get(format!("{base}/openapi.json")).send())
        .collect();
    futures::future::join_all(warm).await;
    let cpu_before = cpu_time();
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONNECTIONS as u64)
        .map(|task| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = task;
                while i < commands {
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}{}", path(i)))
                        .header("content-type", "application/json")
                        .body(r#"{"by":1}"#)
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = response.status();
                    response.bytes().await.map_err(|e| e.to_string())?;
                    if status != StatusCode::OK {
                        return Err(format!("command {i} answered {status}"));
                    }
                    latencies.push(sent.elapsed());
                    i += CONNECTIONS as u64;
                }
                Ok::<_, String>(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(commands as usize);
    for task in tasks {
        latencies.extend(
            task.await
                .map_err(|e| Failure::new(e.to_string()))?
                .map_err(|e| Failure::new(format!("{server:?}: {e}")))?,
        );
    }
    let rate = commands as f64 / started.elapsed().as_secs_f64();
    let cpu_per_command = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before) / commands as u32);
    serving.abort();
    let head = store.head().await.map_err(|e| Failure::new(e.to_string()))?;
    if head != commands {
        return Err(Failure::new(format!(
            "{server:?}: {commands} commands stored {head} events, not one each"
        )));
    }
    latencies.sort_unstable();
    let percentile = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Ok(Run {
        rate,
        p50: percentile(0.50),
        p99: percentile(0.99),
        cpu_per_command,
    })
}

/// What an application would write by hand: typed JSON in, the command
/// executed once by message id, the new version out.
fn hand_written(repository: Repository<Counter, SqliteStore>) -> axum::Router {
    #[derive(serde::Deserialize)]
    struct Body {
        by: u64,
    }
    let repository = Arc::new(repository);
    axum::Router::new().route(
        "/counter/{id}/increment",
        post(move |Path(id): Path<String>, Json(body): Json<Body>| {
            let repository = repository.clone();
            async move {
                let id = CounterId(id);
                let command = Increment {
                    id: id.clone(),
                    by: body.by,
                };
                match repository
                    .execute_message(&id, &command.into(), Uuid::now_v7(), Metadata::now())
                    .await
                {
                    Ok(_) => Ok(Json(serde_json::json!({"ok": true}))),
                    Err(error) => Err((StatusCode::INTERNAL_SERVER_ERROR, error.to_string())),
                }
            }
        }),
    )
}
