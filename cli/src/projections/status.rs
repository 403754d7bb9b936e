//! `treaty projections status`: every generation of every projection in a
//! view store, with its checkpoint and how far it lags behind the head of
//! the event store.
//!
//! When several instances run the projections, a second table says
//! which instance holds each projection's lease, with its fencing token
//! and when the lease expires.
//!
//! The view store is opened with `open_existing`, which creates nothing:
//! a database in which no projection has run is reported as such and left
//! untouched.

use std::io::Write as _;

use clap::{Args, ValueEnum};
use treaty_runtime::projection::{Generation, GenerationStatus, Lease, PostgresViewStore, SqliteViewStore, ViewStore};
use treaty_runtime::storage::{Durability, OpenError};
use treaty_runtime::Timestamp;

use crate::db::{Database, DbArgs, Subject};
use crate::store::{backend, describe, Failure};

/// How `treaty projections status` names the database `--views` names.
const VIEW_STORE: Subject = Subject {
    noun: "view store",
    creates_none: "projections status never creates one",
};

/// What is printed when the view store has no projection tables.
pub(super) const NO_PROJECTIONS: &str = "no projections have run against this database";

/// The arguments of `treaty projections status`.
#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The view store: a SQLite file (which must exist), or a `postgres://`
    /// URL, whose tables are in the --schema schema [default: the --db database].
    #[arg(long, value_name = "PATH_OR_URL")]
    views: Option<String>,
    /// How to print the generations.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Keep watching: redraw, every --interval, the live and building
    /// generations with their lag and rate, the event store's head and the
    /// quarantine's size, until Ctrl-C.
    #[arg(long)]
    watch: bool,
    /// Seconds between refreshes of --watch (fractions allowed).
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, requires = "watch", value_parser = interval)]
    interval: f64,
    /// End --watch after this many refreshes instead of at Ctrl-C.
    #[arg(long, value_name = "N", requires = "watch", value_parser = clap::value_parser!(u64).range(1..))]
    iterations: Option<u64>,
    /// The quarantine --watch counts: a SQLite file or a `postgres://` URL
    /// [default: the --db database].
    #[arg(long, value_name = "PATH_OR_URL", requires = "watch")]
    quarantine: Option<String>,
}

/// Parses --interval: a positive number of seconds, at most a day.
fn interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => Ok(seconds),
        _ => Err("expected a number of seconds above 0 and at most 86400, such as 2 or 0.5".to_string()),
    }
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// An aligned table, one row per generation.
    Human,
    /// One JSON object per line, one line per generation.
    Json,
}

/// Runs `treaty projections status`.
pub async fn run(args: StatusArgs) -> Result<(), Failure> {
    let location = args.views.as_deref().unwrap_or(&args.db.db);
    if args.watch {
        if args.format == Format::Json {
            return Err(Failure::usage("--watch draws a table; leave out --format json"));
        }
        return super::watch::run(super::watch::Watch {
            db: &args.db,
            views: location,
            quarantine: args.quarantine.as_deref().unwrap_or(&args.db.db),
            interval: std::time::Duration::from_secs_f64(args.interval),
            iterations: args.iterations,
        })
        .await;
    }
    let store = backend::open(&args.db).await?;
    let Some(Stored {
        mut generations,
        leases,
    }) = generations(location, args.db.schema.as_deref()).await?
    else {
        // Standard output stays valid JSON lines (none) for scripts.
        match args.format {
            Format::Human => return write(&format!("{NO_PROJECTIONS}\n")),
            Format::Json => eprintln!("{NO_PROJECTIONS}"),
        }
        return Ok(());
    };
    // The head is read after the checkpoints, so no checkpoint of this
    // event store is past it: a lag is never negative, only larger by
    // the events appended in between.
    let head = store.head().await.map_err(|e| Failure::problem(describe(&e)))?;
    generations.sort_by(|a, b| (&a.projection, a.generation).cmp(&(&b.projection, b.generation)));
    let now = Timestamp::now();
    let text = match args.format {
        Format::Human => table(&generations, head, now) + &leases_table(&leases, now),
        Format::Json => generations.iter().map(|g| json_line(g, &leases, head)).collect(),
    };
    write(&text)
}

/// Writes `text` to standard output; a closed pipe is the reader's choice.
pub(super) fn write(text: &str) -> Result<(), Failure> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::problem(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// What a view store records about its projections.
pub(super) struct Stored {
    pub generations: Vec<Generation>,
    /// The lease of each projection some instance ever held.
    pub leases: Vec<Lease>,
}

/// Every generation and lease in the view store at `location`, or `None`
/// when no projection has run there (none of the view store's tables
/// exist).
pub(super) async fn generations(location: &str, schema: Option<&str>) -> Result<Option<Stored>, Failure> {
    let opened = match Database::locate(location, schema, &VIEW_STORE)? {
        Database::Sqlite(path) => SqliteViewStore::open_existing(path, Durability::Full).map(Views::Sqlite),
        Database::Postgres { url, options } => PostgresViewStore::open_existing(&url, options)
            .await
            .map(Views::Postgres),
    };
    let views = match opened {
        Ok(views) => views,
        Err(OpenError::Missing { found, .. }) if found.is_empty() => return Ok(None),
        Err(e) => return Err(Failure::usage(describe(&e))),
    };
    let stored = match views {
        Views::Sqlite(views) => read(&views).await,
        Views::Postgres(views) => read(&views).await,
    };
    stored.map(Some).map_err(|e| Failure::problem(describe(&e)))
}

async fn read(views: &impl ViewStore) -> Result<Stored, treaty_runtime::projection::ViewError> {
    Ok(Stored {
        generations: views.generations().await?,
        leases: views.leases().await?,
    })
}

/// Who holds a lease, in the words of the tables: the holder and token,
/// and how long it has left or since when it expired.
pub(super) fn lease_words(lease: &Lease, now: Timestamp) -> [String; 3] {
    let left = lease.expires_at.duration_since(now).as_secs_f64();
    let state = if lease.expires_at.as_millisecond() == 0 {
        "released".to_string()
    } else if left > 0.0 {
        format!("expires in {left:.1}s")
    } else {
        format!("expired {:.0}s ago: the next instance to try takes it", -left)
    };
    [lease.holder.clone(), lease.token.to_string(), state]
}

/// The table of leases under the generations, empty when no instance ever
/// took one (a view store of a layout from before leases).
pub(super) fn leases_table(leases: &[Lease], now: Timestamp) -> String {
    if leases.is_empty() {
        return String::new();
    }
    const HEADER: [&str; 4] = ["projection", "held by", "token", "lease"];
    const RIGHT: [bool; 4] = [false, false, true, false];
    let rows: Vec<[String; 4]> = leases
        .iter()
        .map(|lease| {
            let [holder, token, state] = lease_words(lease, now);
            [lease.projection.clone(), holder, token, state]
        })
        .collect();
    format!("\n{}", crate::table::table(HEADER, RIGHT, &rows))
}

/// A view store of either backend.
enum Views {
    Sqlite(SqliteViewStore),
    Postgres(PostgresViewStore),
}

/// What a generation is doing, in the words of the table.
pub(super) fn status_word(status: GenerationStatus) -> &'static str {
    match status {
        GenerationStatus::Live => "live",
        GenerationStatus::Building => "rebuilding",
        GenerationStatus::Retired => "retired",
    }
}

/// The first 8 hex digits of a fingerprint, enough to tell generations
/// apart at a glance.
pub(super) fn short_fingerprint(fingerprint: &str) -> String {
    match fingerprint.char_indices().nth(8) {
        Some((end, _)) => format!("{}..", &fingerprint[..end]),
        None => fingerprint.to_string(),
    }
}

/// The remark after a generation's numbers: whether it is being rebuilt
/// and when it last moved, or a checkpoint no event explains.
fn remark(generation: &Generation, head: u64, now: Timestamp) -> String {
    if generation.checkpoint > head {
        return format!("checkpoint past the event store head {head}: were these views built from another store?");
    }
    if generation.status == GenerationStatus::Building {
        // A clock set back shows 0s rather than a time in the future.
        let seconds = now.duration_since(generation.updated_at).as_secs().max(0);
        return format!("rebuild running: last progress {seconds}s ago");
    }
    String::new()
}

/// The human output: one row per generation, then a summary line.
fn table(generations: &[Generation], head: u64, now: Timestamp) -> String {
    const HEADER: [&str; 7] = [
        "projection",
        "generation",
        "status",
        "fingerprint",
        "checkpoint",
        "lag",
        "",
    ];
    const RIGHT: [bool; 7] = [false, true, false, false, true, true, false];
    let rows: Vec<[String; 7]> = generations
        .iter()
        .map(|g| {
            [
                g.projection.clone(),
                g.generation.to_string(),
                status_word(g.status).to_string(),
                short_fingerprint(&g.fingerprint),
                g.checkpoint.to_string(),
                head.saturating_sub(g.checkpoint).to_string(),
                remark(g, head, now),
            ]
        })
        .collect();
    let mut out = crate::table::table(HEADER, RIGHT, &rows);
    let mut projections: Vec<&str> = generations.iter().map(|g| g.projection.as_str()).collect();
    projections.dedup();
    out.push('\n');
    out.push_str(&format!(
        "{} generation{} of {} projection{}, event store head position {head}\n",
        generations.len(),
        crate::plural(generations.len()),
        projections.len(),
        crate::plural(projections.len()),
    ));
    out
}

/// The JSON line of one generation, fields in a fixed order. A live or
/// building generation carries its projection's lease (`null`s when none
/// was ever taken): `holder`, `token` and `lease_expires_at`.
fn json_line(generation: &Generation, leases: &[Lease], head: u64) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let lease = leases
        .iter()
        .find(|l| l.projection == generation.projection)
        .filter(|_| generation.status != GenerationStatus::Retired);
    let (holder, token, expires) = match lease {
        Some(lease) => (
            text(&lease.holder),
            lease.token.to_string(),
            text(&lease.expires_at.to_string()),
        ),
        None => ("null".to_string(), "null".to_string(), "null".to_string()),
    };
    format!(
        "{{\"projection\":{},\"generation\":{},\"status\":{},\"fingerprint\":{},\"checkpoint\":{},\
         \"head\":{head},\"lag\":{},\"updated_at\":{},\"holder\":{holder},\"token\":{token},\
         \"lease_expires_at\":{expires}}}\n",
        text(&generation.projection),
        generation.generation,
        text(generation.status.as_str()),
        text(&generation.fingerprint),
        generation.checkpoint,
        head.saturating_sub(generation.checkpoint),
        text(&generation.updated_at.to_string()),
    )
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A generation as a view store would list it.
    pub(in crate::projections) fn generation(
        projection: &str,
        number: u64,
        status: GenerationStatus,
        checkpoint: u64,
    ) -> Generation {
        Generation {
            projection: projection.to_string(),
            generation: number,
            fingerprint: "0123456789abcdef0123456789abcdef".to_string(),
            checkpoint,
            status,
            updated_at: "2024-05-01T12:00:00Z".parse().unwrap(),
            code: None,
            events_per_second: None,
        }
    }

    #[test]
    fn fingerprints_are_shortened_to_eight_digits() {
        assert_eq!(short_fingerprint("0123456789abcdef"), "01234567..");
        assert_eq!(short_fingerprint("01234567"), "01234567");
        assert_eq!(short_fingerprint("abc"), "abc");
    }

    #[test]
    fn the_table_says_how_long_ago_a_rebuild_moved() {
        let now: Timestamp = "2024-05-01T12:01:30Z".parse().unwrap();
        let generations = [
            generation("orders", 1, GenerationStatus::Live, 9),
            generation("orders", 2, GenerationStatus::Building, 4),
            generation("stock", 1, GenerationStatus::Live, 12),
        ];
        assert_eq!(
            table(&generations, 10, now),
            "projection  generation  status      fingerprint  checkpoint  lag
orders               1  live        01234567..            9    1
orders               2  rebuilding  01234567..            4    6  rebuild running: last progress 90s ago
stock                1  live        01234567..           12    0  \
             checkpoint past the event store head 10: were these views built from another store?

3 generations of 2 projections, event store head position 10
"
        );
    }

    #[test]
    fn json_lines_keep_their_field_order() {
        let line = json_line(&generation("orders", 2, GenerationStatus::Building, 4), &[], 10);
        assert_eq!(
            line,
            "{\"projection\":\"orders\",\"generation\":2,\"status\":\"building\",\
             \"fingerprint\":\"0123456789abcdef0123456789abcdef\",\"checkpoint\":4,\"head\":10,\"lag\":6,\
             \"updated_at\":\"2024-05-01T12:00:00Z\",\"holder\":null,\"token\":null,\"lease_expires_at\":null}\n"
        );
        let lease = lease("orders", "web-1", 7, "2024-05-01T12:00:05Z");
        let line = json_line(
            &generation("orders", 2, GenerationStatus::Live, 4),
            std::slice::from_ref(&lease),
            10,
        );
        assert!(
            line.ends_with("\"holder\":\"web-1\",\"token\":7,\"lease_expires_at\":\"2024-05-01T12:00:05Z\"}\n"),
            "{line}"
        );
        let retired = json_line(&generation("orders", 1, GenerationStatus::Retired, 4), &[lease], 10);
        assert!(retired.contains("\"holder\":null"), "{retired}");
    }

    fn lease(projection: &str, holder: &str, token: u64, expires_at: &str) -> Lease {
        Lease {
            projection: projection.to_string(),
            holder: holder.to_string(),
            token,
            expires_at: expires_at.parse().unwrap(),
        }
    }

    #[test]
    fn the_lease_table_names_each_holder() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let leases = [
            lease("orders", "web-1", 7, "2024-05-01T12:00:04.5Z"),
            lease("stock", "web-2", 3, "2024-05-01T11:59:48Z"),
            lease("users", "web-2", 2, "1970-01-01T00:00:00Z"),
        ];
        assert_eq!(
            leases_table(&leases, now),
            "
projection  held by  token  lease
orders      web-1        7  expires in 4.5s
stock       web-2        3  expired 12s ago: the next instance to try takes it
users       web-2        2  released
"
        );
        assert_eq!(leases_table(&[], now), "");
    }
}
