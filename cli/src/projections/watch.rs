//! `treaty projections status --watch`: a live view of a running system
//! for the operator who has no dashboard yet. Every interval it reads the
//! event store's head, each projection's checkpoint and the quarantine,
//! and redraws the screen in place: the head and how fast it moves, each
//! generation being served or built with its lag and how fast it moves,
//! and how many messages are parked.
//!
//! Like the rest of `treaty projections`, it only reads: every component
//! is opened with `open_existing`, and one that does not exist yet (no
//! projection has run, nothing was ever quarantined) is looked for again
//! at the next refresh.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use treaty_runtime::bus::{PostgresQuarantine, Quarantine, SqliteQuarantine};
use treaty_runtime::projection::{Generation, GenerationStatus};
use treaty_runtime::storage::{Durability, OpenError};

use super::status::{generations, leases_table, short_fingerprint, status_word, write, Stored, NO_PROJECTIONS};
use crate::db::{Database, DbArgs, Subject};
use crate::store::{backend, describe, Failure};

/// Clears the terminal and puts the cursor at the top left: each refresh
/// draws over the last.
pub const CLEAR: &str = "\x1b[H\x1b[2J";

/// How `--quarantine` names its database.
const QUARANTINE: Subject = Subject {
    noun: "quarantine",
    creates_none: "projections status never creates one",
};

/// What the watch reads, and how often.
pub struct Watch<'a> {
    pub db: &'a DbArgs,
    pub views: &'a str,
    pub quarantine: &'a str,
    pub interval: Duration,
    /// Refreshes before it ends by itself; `None`: until Ctrl-C.
    pub iterations: Option<u64>,
}

/// One reading of the system.
struct Reading {
    at: Instant,
    head: u64,
    /// `None` when no projection has run against the view store.
    generations: Option<Vec<Generation>>,
    /// The projections' leases, when several instances run them.
    leases: Vec<treaty_runtime::projection::Lease>,
    /// Parked messages and how many of them an operator asked to retry;
    /// `None` when nothing was ever quarantined there.
    parked: Option<(usize, usize)>,
}

/// Runs the watch until `iterations` refreshes were drawn or Ctrl-C.
pub async fn run(watch: Watch<'_>) -> Result<(), Failure> {
    // Listening before the first frame: a Ctrl-C from then on ends the
    // watch cleanly, never the process by the signal's default action.
    let mut interrupt = Interrupt::listen()?;
    let store = backend::open(watch.db).await?;
    let mut previous: Option<Reading> = None;
    let mut refresh = 0u64;
    loop {
        // The head is read after the checkpoints, so no lag is negative.
        let (generations, leases) = match generations(watch.views, watch.db.schema.as_deref()).await? {
            Some(Stored { generations, leases }) => (Some(generations), leases),
            None => (None, Vec::new()),
        };
        let parked = parked(watch.quarantine, watch.db.schema.as_deref()).await?;
        let head = store.head().await.map_err(|e| Failure::problem(describe(&e)))?;
        let reading = Reading {
            at: Instant::now(),
            head,
            generations,
            leases,
            parked,
        };
        refresh += 1;
        write(&format!(
            "{CLEAR}{}",
            frame(&reading, previous.as_ref(), watch.interval, refresh)
        ))?;
        previous = Some(reading);
        if watch.iterations.is_some_and(|n| refresh >= n) {
            return Ok(());
        }
        tokio::select! {
            () = interrupt.received() => {
                // The prompt comes back below the last frame.
                return write("\n");
            }
            () = tokio::time::sleep(watch.interval) => {}
        }
    }
}

/// Ctrl-C (SIGINT), listened for from its creation on.
struct Interrupt {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupt {
    fn listen() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| Failure::problem(format!("cannot listen for Ctrl-C: {e}")))?;
            Ok(Interrupt { signal })
        }
        #[cfg(not(unix))]
        {
            Ok(Interrupt {})
        }
    }

    /// Waits for the next Ctrl-C.
    async fn received(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The quarantine's parked messages and retry requests, or `None` when it
/// has no table.
async fn parked(location: &str, schema: Option<&str>) -> Result<Option<(usize, usize)>, Failure> {
    let listed = match Database::locate(location, schema, &QUARANTINE)? {
        Database::Sqlite(path) => match SqliteQuarantine::open_existing(path, Durability::Full) {
            Ok(quarantine) => Ok(quarantine.list().await),
            Err(e) => Err(e),
        },
        Database::Postgres { url, options } => match PostgresQuarantine::open_existing(&url, options).await {
            Ok(quarantine) => Ok(quarantine.list().await),
            Err(e) => Err(e),
        },
    };
    match listed {
        Ok(Ok(parked)) => Ok(Some((
            parked.len(),
            parked.iter().filter(|p| p.retry_requested).count(),
        ))),
        Ok(Err(e)) => Err(Failure::problem(describe(&e))),
        Err(OpenError::Missing { found, .. }) if found.is_empty() => Ok(None),
        Err(e) => Err(Failure::usage(describe(&e))),
    }
}

/// Events per second between two readings, if there was an earlier one
/// and time passed.
fn rate(now: u64, then: Option<u64>, seconds: f64) -> Option<f64> {
    let then = then?;
    (seconds > 0.0).then(|| now.saturating_sub(then) as f64 / seconds)
}

fn per_second(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".to_string(), |r| format!("{r:.1}"))
}

/// One screen: the head, the quarantine, and a row per generation that is
/// served or being built.
fn frame(reading: &Reading, previous: Option<&Reading>, interval: Duration, refresh: u64) -> String {
    let seconds = previous.map_or(0.0, |p| reading.at.duration_since(p.at).as_secs_f64());
    let mut out = format!(
        "treaty projections status --watch: refresh {refresh}, every {:?}; Ctrl-C ends\n\n",
        interval
    );
    let head_rate = rate(reading.head, previous.map(|p| p.head), seconds);
    out.push_str(&format!("event store head position {}", reading.head));
    if let Some(rate) = head_rate {
        out.push_str(&format!(", {rate:.1} events/s appended"));
    }
    out.push('\n');
    out.push_str(&match reading.parked {
        None => "quarantine: nothing ever quarantined\n".to_string(),
        Some((parked, retrying)) => format!(
            "quarantine: {parked} message{} parked, {retrying} asked to retry\n",
            crate::plural(parked)
        ),
    });
    out.push('\n');
    let Some(generations) = &reading.generations else {
        out.push_str(NO_PROJECTIONS);
        out.push('\n');
        return out;
    };
    let before: HashMap<(&str, u64), u64> = previous
        .and_then(|p| p.generations.as_ref())
        .map(|g| {
            g.iter()
                .map(|g| ((g.projection.as_str(), g.generation), g.checkpoint))
                .collect()
        })
        .unwrap_or_default();
    let mut shown: Vec<&Generation> = generations
        .iter()
        .filter(|g| g.status != GenerationStatus::Retired)
        .collect();
    shown.sort_by(|a, b| (&a.projection, a.generation).cmp(&(&b.projection, b.generation)));
    const HEADER: [&str; 7] = [
        "projection",
        "generation",
        "status",
        "fingerprint",
        "checkpoint",
        "lag",
        "events/s",
    ];
    const RIGHT: [bool; 7] = [false, true, false, false, true, true, true];
    let rows: Vec<[String; 7]> = shown
        .iter()
        .map(|g| {
            let moved = rate(
                g.checkpoint,
                before.get(&(g.projection.as_str(), g.generation)).copied(),
                seconds,
            );
            [
                g.projection.clone(),
                g.generation.to_string(),
                status_word(g.status).to_string(),
                short_fingerprint(&g.fingerprint),
                g.checkpoint.to_string(),
                reading.head.saturating_sub(g.checkpoint).to_string(),
                per_second(moved),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("no generation is live or being built\n");
    } else {
        out.push_str(&crate::table::table(HEADER, RIGHT, &rows));
    }
    out.push_str(&leases_table(&reading.leases, treaty_runtime::Timestamp::now()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projections::status::tests::generation;

    #[test]
    fn a_frame_shows_rates_between_readings_and_hides_retired_generations() {
        let start = Instant::now();
        let first = Reading {
            at: start,
            head: 10,
            generations: Some(vec![
                generation("orders", 1, GenerationStatus::Retired, 3),
                generation("orders", 2, GenerationStatus::Live, 8),
            ]),
            leases: Vec::new(),
            parked: None,
        };
        let second = Reading {
            at: start + Duration::from_secs(2),
            head: 30,
            generations: Some(vec![
                generation("orders", 2, GenerationStatus::Live, 28),
                generation("stock", 1, GenerationStatus::Building, 5),
            ]),
            leases: Vec::new(),
            parked: Some((1, 1)),
        };
        assert_eq!(
            frame(&second, Some(&first), Duration::from_secs(2), 2),
            "treaty projections status --watch: refresh 2, every 2s; Ctrl-C ends

event store head position 30, 10.0 events/s appended
quarantine: 1 message parked, 1 asked to retry

projection  generation  status      fingerprint  checkpoint  lag  events/s
orders               2  live        01234567..           28    2      10.0
stock                1  rebuilding  01234567..            5   25         -
"
        );
        let empty = Reading {
            at: start,
            head: 0,
            generations: None,
            leases: Vec::new(),
            parked: Some((0, 0)),
        };
        assert_eq!(
            frame(&empty, None, Duration::from_millis(500), 1),
            "treaty projections status --watch: refresh 1, every 500ms; Ctrl-C ends

event store head position 0
quarantine: 0 messages parked, 0 asked to retry

no projections have run against this database
"
        );
    }
}
