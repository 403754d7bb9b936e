//! `treaty-bench crash-writer --db PATH`: a writer for crash tests. It
//! appends batches of ten events to 100 streams in turn, for ever, with
//! the exact expected version of each stream, and after every append the
//! store acknowledged prints `acked <stream> <version>` and flushes
//! stdout. A test kills it at random moments and then checks that every
//! acknowledged event survived and that no batch was half written.

use std::io::Write;
use std::path::Path;

use treaty_runtime::store::{EventStore, ExpectedVersion, SqliteStore, StreamName};

use crate::events;
use crate::Failure;

/// How many streams the writer cycles through.
const STREAMS: usize = 100;

/// How many events each append carries.
const BATCH: u32 = 10;

/// Runs until killed, or until the store or stdout fails.
pub fn run(db: &Path) -> Result<(), Failure> {
    events::runtime()?.block_on(write_for_ever(db))
}

async fn write_for_ever(db: &Path) -> Result<(), Failure> {
    // The default configuration is the durable one: an acknowledged
    // append has been committed with `synchronous = FULL`.
    let store = SqliteStore::open(db).map_err(|e| Failure::new(format!("cannot open {}: {e}", db.display())))?;
    let streams: Vec<StreamName> = (0..STREAMS)
        .map(|i| StreamName::new(format!("crash-{i}")).expect("the name is valid"))
        .collect();
    // A restarted writer carries on where the killed one stopped, so it
    // must learn each stream's version from the store, not assume zero.
    let mut versions = Vec::with_capacity(STREAMS);
    for stream in &streams {
        let version = store
            .stream_version(stream)
            .await
            .map_err(|e| Failure::new(format!("cannot read the version of {stream}: {e}")))?;
        versions.push(version.unwrap_or(0));
    }
    let stdout = std::io::stdout();
    loop {
        for (stream, version) in streams.iter().zip(versions.iter_mut()) {
            let appended = store
                .append(stream, ExpectedVersion::Exact(*version), events::batch(BATCH))
                .await
                .map_err(|e| Failure::new(format!("append to {stream} at version {version} failed: {e}")))?;
            *version = appended.stream_version;
            // The line is flushed before the next append starts, so the
            // test never misses an acknowledgement that was given.
            let mut out = stdout.lock();
            writeln!(out, "acked {stream} {}", appended.stream_version)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::io("write to stdout", e))?;
        }
    }
}
