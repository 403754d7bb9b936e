//! Large event stores written once and cached under `target/bench-data/`.
//!
//! Appending millions of events through the store would take many
//! minutes, so a generated store is written with raw rusqlite bulk inserts
//! into tables the store itself created. A cached file's name carries a
//! key computed from the store's layout (`PRAGMA user_version` and the
//! schema text) and from the version of the generator that wrote its
//! rows, so a change to either makes the next run build a new file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use treaty_runtime::store::Metadata;
use uuid::Uuid;

use super::raw_sqlite;
use super::{failed, scratch};
use crate::timing::timed;
use crate::Failure;

/// Rows per transaction while building.
const BUILD_TRANSACTION: u64 = 1_000_000;

/// One generated event, as the row the store would write for it; its
/// position is its index plus one.
pub struct GeneratedEvent {
    pub id: Uuid,
    pub stream: String,
    pub version: u64,
    pub contract: &'static str,
    pub contract_version: u32,
    pub fingerprint: &'static str,
    pub payload: String,
}

/// A key for the store's on-disk layout and the rows' generator: the
/// layout version the store writes and a hash of its schema as SQLite
/// records it, from a store created for the purpose, plus
/// `generator_version`, which each generator bumps when its rows change.
pub fn layout_key(data: &Path, generator_version: u32) -> Result<String, Failure> {
    let dir = scratch(data)?;
    let path = dir.path().join("layout.db");
    raw_sqlite::create_store_file(&path)?;
    let conn = Connection::open(&path).map_err(failed("open the layout probe"))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(failed("read the layout version"))?;
    let mut statement = conn
        .prepare("SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name")
        .map_err(failed("read the schema"))?;
    let schema: Vec<String> = statement
        .query_map([], |r| {
            Ok(format!(
                "{}|{}|{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .and_then(Iterator::collect)
        .map_err(failed("read the schema"))?;
    Ok(format!(
        "layout{version}-gen{generator_version}-{:016x}",
        fnv1a(schema.join("\n").as_bytes())
    ))
}

/// FNV-1a, 64 bits: a stable hash with no dependency, enough to tell
/// schemas apart.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `data/<name>.db`, built by `build` when it is not there yet. `suite`
/// prefixes the progress messages.
pub fn cached_file(
    suite: &str,
    data: &Path,
    name: &str,
    build: impl FnOnce(&Path) -> Result<(), Failure>,
) -> Result<PathBuf, Failure> {
    let path = data.join(format!("{name}.db"));
    if path.exists() {
        eprintln!("{suite}: reusing {}", path.display());
        return Ok(path);
    }
    // Built under another name and renamed when complete, so an
    // interrupted build is never mistaken for a cached store.
    let partial = data.join(format!("{name}.partial"));
    remove_with_journals(&partial)?;
    eprintln!("{suite}: building {} (once; it is cached)", path.display());
    let (built, took) = timed(|| build(&partial));
    built?;
    std::fs::rename(&partial, &path).map_err(|e| Failure::io(format!("rename {}", partial.display()), e))?;
    eprintln!("{suite}: built {} in {:.1} s", path.display(), took.as_secs_f64());
    Ok(path)
}

/// Writes `events` events into a new store file at `path`: the store
/// creates its tables, then rusqlite fills them with the rows `event`
/// makes for each index (position `index + 1`), all with the same
/// metadata, stamped now, in large transactions without a journal or
/// fsync (a crash leaves only the `.partial` file, which the next build
/// deletes). The registry gets each contract version's first position,
/// as the store's appends would have set it.
pub fn bulk_build(
    suite: &str,
    path: &Path,
    events: u64,
    mut event: impl FnMut(u64) -> GeneratedEvent,
) -> Result<(), Failure> {
    raw_sqlite::create_store_file(path)?;
    let mut conn = Connection::open(path).map_err(failed("open the new store file"))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(failed("set a busy timeout"))?;
    set_journal_mode(&conn, "off")?;
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(failed("turn synchronous off"))?;
    // A 256 MiB page cache keeps the indexes' right edges in memory.
    conn.pragma_update(None, "cache_size", -262_144)
        .map_err(failed("enlarge the page cache"))?;
    let metadata = serde_json::to_string(&Metadata::now()).expect("metadata always serialises");
    let insert_error = |e| failed("insert generated events")(e);
    let mut registry: BTreeMap<(&'static str, u32, &'static str), i64> = BTreeMap::new();
    let mut next = 0;
    while next < events {
        let end = (next + BUILD_TRANSACTION).min(events);
        let tx = conn.transaction().map_err(insert_error)?;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO events (position, id, stream, version, contract, contract_version, fingerprint, \
                     payload, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(insert_error)?;
            for index in next..end {
                let row = event(index);
                registry
                    .entry((row.contract, row.contract_version, row.fingerprint))
                    .or_insert((index + 1) as i64);
                insert
                    .execute(params![
                        (index + 1) as i64,
                        row.id.as_bytes().as_slice(),
                        row.stream,
                        row.version as i64,
                        row.contract,
                        row.contract_version,
                        row.fingerprint,
                        row.payload,
                        metadata,
                    ])
                    .map_err(insert_error)?;
            }
        }
        tx.commit().map_err(insert_error)?;
        next = end;
        if events >= BUILD_TRANSACTION {
            eprintln!("{suite}:   {next} of {events} events written");
        }
    }
    for ((name, version, fingerprint), first_position) in registry {
        conn.execute(
            "INSERT INTO contracts (name, version, fingerprint, first_position) VALUES (?1, ?2, ?3, ?4)",
            params![name, version, fingerprint, first_position],
        )
        .map_err(insert_error)?;
    }
    set_journal_mode(&conn, "wal")
}

/// Switches the journal mode. Leaving WAL needs the only connection to the
/// file, and the writer thread of the store that created the tables may
/// still be closing its own, so a refusal is retried for a while.
fn set_journal_mode(conn: &Connection, mode: &str) -> Result<(), Failure> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = conn.pragma_update_and_check(None, "journal_mode", mode, |r| r.get::<_, String>(0));
        match answer {
            Ok(now) if now.eq_ignore_ascii_case(mode) => return Ok(()),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(now) => return Err(Failure::new(format!("the journal mode stayed {now}, not {mode}"))),
            Err(e) => return Err(failed(format!("set the journal mode to {mode}"))(e)),
        }
    }
}

/// Removes a database file and its journals, if they exist.
pub fn remove_with_journals(path: &Path) -> Result<(), Failure> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failure::io(format!("remove {}", file.display()), e)),
        }
    }
    Ok(())
}

/// The bytes of the database file and its write-ahead log.
pub fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// [`file_bytes`] for people.
pub fn size_on_disk(path: &Path) -> String {
    let bytes = file_bytes(path);
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / f64::from(1 << 30))
    } else if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_key_is_stable_and_names_the_layout_and_generator_versions() {
        let dir = tempfile::tempdir().unwrap();
        let key = layout_key(dir.path(), 7).unwrap();
        assert_eq!(key, layout_key(dir.path(), 7).unwrap());
        assert_ne!(key, layout_key(dir.path(), 8).unwrap());
        let path = dir.path().join("probe.db");
        raw_sqlite::create_store_file(&path).unwrap();
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert!(key.starts_with(&format!("layout{version}-gen7-")), "{key}");
    }

    #[test]
    fn a_cached_file_is_built_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut builds = 0;
        for _ in 0..2 {
            let path = cached_file("test", dir.path(), "one", |partial| {
                builds += 1;
                std::fs::write(partial, "x").map_err(|e| Failure::io("write", e))
            })
            .unwrap();
            assert_eq!(path, dir.path().join("one.db"));
        }
        assert_eq!(builds, 1);
        assert!(!dir.path().join("one.partial").exists());
    }
}
