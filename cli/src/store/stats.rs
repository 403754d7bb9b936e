//! `treaty store stats`: how many events of each contract version and of
//! each stream prefix a store holds.
//!
//! Both come from one pass over every event that keeps only the counts;
//! the contract versions are listed as the schema registry holds them:
//! every fingerprint (writer schema) of each version with its first
//! position and when it was first seen, including those no event uses
//! yet.

use std::collections::BTreeMap;
use std::io::Write as _;

use clap::Args;
use futures::StreamExt;
use serde_json::json;
use treaty_runtime::store::registry::StoredContract;
use treaty_runtime::store::ReadError;

use super::backend::{self, Store};
use super::Failure;
use crate::db::DbArgs;

/// The arguments of `treaty store stats`.
#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    json: bool,
}

/// What `stats` reports.
struct Stats {
    /// The position of the last event when the scan started.
    head: u64,
    /// How many events the scan read: every event up to `head`.
    events: u64,
    /// The registry, sorted by contract, version and first use, each
    /// fingerprint with how many events up to `head` use it.
    contracts: Vec<(StoredContract, u64)>,
    /// Events per stream prefix.
    prefixes: BTreeMap<String, u64>,
    /// Why each row that could not be read could not, with its position.
    unreadable: Vec<String>,
}

/// Runs `treaty store stats`. Rows that cannot be read are reported on
/// standard error and left out of the counts, which are printed all the
/// same; the command then exits 1.
pub async fn run(args: StatsArgs) -> Result<(), Failure> {
    let store = backend::open(&args.db).await?;
    let stats = collect(&store).await?;
    let text = if args.json {
        format!("{:#}\n", to_json(&stats))
    } else {
        tables(&stats)
    };
    // A closed pipe is the reader's choice; anything else is reported.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(Failure::problem(format!("cannot write to standard output: {e}")))
        }
        _ => {}
    }
    for reason in &stats.unreadable {
        eprintln!("error: {}", crate::table::printable(reason));
    }
    match stats.unreadable.len() {
        0 => Ok(()),
        n => Err(Failure::problem(format!(
            "{n} stored event{} could not be read (reported above) and {} not counted",
            crate::plural(n),
            if n == 1 { "is" } else { "are" }
        ))),
    }
}

async fn collect(store: &Store) -> Result<Stats, Failure> {
    let read = |e: ReadError| Failure::problem(super::describe(&e));
    // The head is read first and the scan stops there, so the prefix
    // counts add up to the total even while other processes append.
    let head = store.head().await.map_err(read)?;
    let mut prefixes: BTreeMap<String, u64> = BTreeMap::new();
    // Per contract, version and fingerprint: how many events, and the
    // position of the first, for a fingerprint the registry lacks.
    let mut versions: BTreeMap<String, BTreeMap<(u32, String), Counted>> = BTreeMap::new();
    let mut events = 0;
    let mut unreadable = Vec::new();
    let mut all = store.read_all(1);
    while let Some(event) = all.next().await {
        let event = match event {
            Ok(event) => event,
            Err(ReadError::Corrupt { position, .. }) if position > head => break,
            Err(e @ ReadError::Corrupt { .. }) => {
                unreadable.push(e.to_string());
                continue;
            }
            Err(e) => return Err(read(e)),
        };
        if event.position > head {
            break;
        }
        *count_of(&mut prefixes, prefix(event.stream.as_str())) += 1;
        count_of(&mut versions, &event.contract)
            .entry((event.contract_version, event.fingerprint))
            .or_insert((0, event.position))
            .0 += 1;
        events += 1;
    }
    let mut contracts: Vec<(StoredContract, u64)> = store
        .contracts()
        .await
        .map_err(read)?
        .into_iter()
        .map(|c| {
            let events = versions
                .get_mut(&c.name)
                .and_then(|v| v.remove(&(c.version, c.fingerprint.clone())))
                .map_or(0, |(events, _)| events);
            (c, events)
        })
        .collect();
    // Every backend registers a version before storing its first event, so
    // this finds nothing; if a store ever lacked a row, its events would
    // still be counted, and the counts still add up to the total.
    for (name, left) in versions {
        for ((version, fingerprint), (events, first_position)) in left {
            let unregistered = StoredContract {
                name: name.clone(),
                version,
                fingerprint,
                schema: None,
                schema_format: treaty_runtime::store::registry::SCHEMA_FORMAT,
                first_position: Some(first_position),
                first_seen: None,
            };
            contracts.push((unregistered, events));
        }
    }
    contracts.sort_by(|(a, _), (b, _)| {
        (&a.name, a.version, a.first_position.is_none(), a.first_position).cmp(&(
            &b.name,
            b.version,
            b.first_position.is_none(),
            b.first_position,
        ))
    });
    Ok(Stats {
        head,
        events,
        contracts,
        prefixes,
        unreadable,
    })
}

/// How many events use a writer schema, and the position of the first.
type Counted = (u64, u64);

/// The part of a stream name before the first `-` (`order-42` is in
/// `order`); a name without `-` is its own prefix.
fn prefix(stream: &str) -> &str {
    stream.split_once('-').map_or(stream, |(prefix, _)| prefix)
}

/// The entry of `key`, allocating the key only when it is new.
fn count_of<'a, V: Default>(map: &'a mut BTreeMap<String, V>, key: &str) -> &'a mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above")
}

fn to_json(stats: &Stats) -> serde_json::Value {
    let contracts: Vec<serde_json::Value> = stats
        .contracts
        .iter()
        .map(|(c, events)| {
            json!({
                "name": c.name,
                "version": c.version,
                "fingerprint": c.fingerprint,
                "schema": c.schema.is_some(),
                "first_position": c.first_position,
                "first_seen": c.first_seen.map(|t| t.to_string()),
                "events": events,
            })
        })
        .collect();
    let streams: Vec<serde_json::Value> = stats
        .prefixes
        .iter()
        .map(|(prefix, events)| json!({"prefix": prefix, "events": events}))
        .collect();
    json!({
        "head": stats.head,
        "total": stats.events,
        "contracts": contracts,
        "streams": streams,
    })
}

fn tables(stats: &Stats) -> String {
    let contracts: Vec<[String; 6]> = stats
        .contracts
        .iter()
        .map(|(c, events)| {
            [
                c.name.clone(),
                format!("v{}", c.version),
                c.fingerprint.clone(),
                c.first_position.map_or("-".to_string(), |p| p.to_string()),
                first_seen(c),
                events.to_string(),
            ]
        })
        .collect();
    let streams: Vec<[String; 2]> = stats
        .prefixes
        .iter()
        .map(|(prefix, events)| [prefix.clone(), events.to_string()])
        .collect();
    let mut out = table(
        [
            "contract",
            "version",
            "fingerprint",
            "first position",
            "first seen",
            "events",
        ],
        &contracts,
    );
    out.push('\n');
    out.push_str(&table(["stream prefix", "events"], &streams));
    out.push('\n');
    out.push_str(&format!(
        "{} event{}, head position {}\n",
        stats.events,
        crate::plural(stats.events as usize),
        stats.head
    ));
    out
}

/// When the registry first saw a writer schema, to the second; `-` for
/// rows recorded before the store kept the time.
pub(super) fn first_seen(c: &StoredContract) -> String {
    c.first_seen
        .map_or("-".to_string(), |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A table with a header, the first column left-aligned and the others
/// (numbers) right-aligned.
fn table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut right = [true; N];
    right[0] = false;
    crate::table::table(header, right, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_name_before_the_first_dash() {
        assert_eq!(prefix("order-42"), "order");
        assert_eq!(prefix("order-42-x"), "order");
        assert_eq!(prefix("audit"), "audit");
        assert_eq!(prefix("-x"), "");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = [
            ["shop.OrderPlaced".to_string(), "v1".to_string(), "7".to_string()],
            ["shop.X".to_string(), "v12".to_string(), "1200".to_string()],
        ];
        assert_eq!(
            table(["contract", "version", "events"], &rows),
            "contract          version  events\n\
             shop.OrderPlaced       v1       7\n\
             shop.X                v12    1200\n"
        );
    }
}
