//! `treaty-bench contend --db URL --schema S --stream NAME --appends N`:
//! one of several processes racing to append to the same PostgreSQL
//! stream. Each append reads the stream's version and appends one event
//! expecting exactly that version; when another process got there first
//! the store answers with a wrong expected version and the process reads
//! again and retries. Every success prints `won <version>`, so a test can
//! check that each version was won by exactly one process.

use std::io::Write;

use treaty_runtime::store::{
    AppendError, EventStore, ExpectedVersion, PostgresConfig, PostgresOptions, PostgresStore, StreamName,
};

use crate::events;
use crate::Failure;

/// What to race on and how many appends to win.
pub struct Contest {
    pub url: String,
    pub schema: String,
    pub stream: String,
    pub appends: u64,
    /// Print `ready` once the store is open, then wait for a line on stdin
    /// before appending, so a test can start every process's race at the
    /// same moment instead of whenever each process has started up.
    pub wait_for_go: bool,
}

/// Appends until `appends` appends have succeeded.
pub fn run(contest: &Contest) -> Result<(), Failure> {
    events::runtime()?.block_on(contend(contest))
}

async fn contend(contest: &Contest) -> Result<(), Failure> {
    let stream = StreamName::new(contest.stream.as_str()).map_err(|e| Failure::new(e.to_string()))?;
    let config = PostgresConfig {
        connection: PostgresOptions {
            schema: contest.schema.clone(),
            ..PostgresOptions::default()
        },
        ..PostgresConfig::default()
    };
    let store = PostgresStore::open_with(&contest.url, config)
        .await
        .map_err(|e| Failure::new(format!("cannot open the PostgreSQL store: {e}")))?;
    let stdout = std::io::stdout();
    if contest.wait_for_go {
        let mut out = stdout.lock();
        writeln!(out, "ready")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::io("write to stdout", e))?;
        drop(out);
        let mut go = String::new();
        std::io::stdin()
            .read_line(&mut go)
            .map_err(|e| Failure::io("read the start signal from stdin", e))?;
    }
    let mut won = 0;
    let mut lost = 0u64;
    while won < contest.appends {
        let version = store
            .stream_version(&stream)
            .await
            .map_err(|e| Failure::new(format!("cannot read the version of {stream}: {e}")))?
            .unwrap_or(0);
        match store
            .append(&stream, ExpectedVersion::Exact(version), events::batch(1))
            .await
        {
            Ok(appended) => {
                won += 1;
                let mut out = stdout.lock();
                writeln!(out, "won {}", appended.stream_version)
                    .and_then(|()| out.flush())
                    .map_err(|e| Failure::io("write to stdout", e))?;
            }
            // Another process appended between the read and the append:
            // the expected outcome of a race, so read again and retry.
            Err(AppendError::WrongExpectedVersion { .. }) => lost += 1,
            Err(e) => {
                return Err(Failure::new(format!(
                    "append to {stream} at version {version} failed: {e}"
                )))
            }
        }
    }
    eprintln!("contend: won {won} appends, lost {lost} races");
    Ok(())
}
