//! `treaty store dump`: every event as one JSON line, in position order.
//!
//! Events are written as they are read, page by page, through one locked
//! and buffered standard output, so dumping a store of any size takes the
//! memory of one page. A reader that goes away (`| head`) ends the dump
//! quietly: that is what it asked for. A stored row that cannot be read is
//! reported on standard error with its position and why, and the dump
//! goes on with the rows after it; it then exits 1.

use std::io::{self, BufWriter, Write};

use clap::Args;
use futures::StreamExt;
use treaty_runtime::store::{EventStream, ReadError, RecordedEvent, StreamName};

use super::backend;
use super::Failure;
use crate::db::DbArgs;

/// The arguments of `treaty store dump`.
#[derive(Args)]
pub struct DumpArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Start at this global position.
    #[arg(long, value_name = "POSITION", default_value_t = 1)]
    from: u64,
    /// Only the events of this stream (still in position order).
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
}

/// Why writing stopped.
enum Stop {
    /// The reader closed the pipe.
    Closed,
    /// Anything else: exit 1 with this message.
    Failed(Failure),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::Closed
        } else {
            Stop::Failed(Failure::problem(format!("cannot write to standard output: {e}")))
        }
    }
}

/// Runs `treaty store dump`.
pub async fn run(args: DumpArgs) -> Result<(), Failure> {
    // The stream name is checked before the store is opened: a usage error
    // should not wait for a database.
    let stream = args
        .stream
        .map(StreamName::new)
        .transpose()
        .map_err(|e| Failure::usage(e.to_string()))?;
    let store = backend::open(&args.db).await?;
    let events = match &stream {
        Some(stream) => store.read_stream(stream),
        None => store.read_all(args.from),
    };
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let written = write_events(events, args.from, &mut out).await;
    // Whatever was read before a failure must reach the reader before the
    // error does.
    let flushed = out.flush().map_err(Stop::from);
    match written.and_then(|unreadable| flushed.map(|()| unreadable)) {
        Ok(0) | Err(Stop::Closed) => Ok(()),
        Ok(unreadable) => Err(Failure::problem(format!(
            "{unreadable} stored event{} could not be read (reported above); every other event was printed",
            crate::plural(unreadable as usize)
        ))),
        Err(Stop::Failed(failure)) => Err(failure),
    }
}

/// Says on standard error that the row at a position cannot be read,
/// after what was printed before it.
fn report(out: &mut impl Write, message: &str) -> Result<(), Stop> {
    out.flush()?;
    eprintln!("error: {}", crate::table::printable(message));
    Ok(())
}

/// Writes every event at or after position `from`, one line each, and
/// reports the rows that cannot be read; returns how many there were.
async fn write_events(mut events: EventStream, from: u64, out: &mut impl Write) -> Result<u64, Stop> {
    let mut line = Vec::with_capacity(1024);
    let mut unreadable = 0;
    while let Some(event) = events.next().await {
        // `read_stream` starts at a version, not a position, so a stream
        // dump skips the events before `from` here.
        let event = match event {
            Ok(event) if event.position < from => continue,
            Ok(event) => event,
            Err(ReadError::Corrupt { position, .. }) if position < from => continue,
            Err(e @ ReadError::Corrupt { .. }) => {
                report(out, &e.to_string())?;
                unreadable += 1;
                continue;
            }
            Err(e) => return Err(Stop::Failed(Failure::problem(super::describe(&e)))),
        };
        line.clear();
        match event_line(&event, &mut line) {
            Ok(()) => out.write_all(&line)?,
            Err(message) => {
                report(out, &message)?;
                unreadable += 1;
            }
        }
    }
    Ok(unreadable)
}

/// The JSON line of one event, with the payload as JSON rather than as a
/// string. The line is built whole before anything is written, so a
/// payload that turns out not to be JSON leaves no half line behind, and
/// is reported as the message returned.
fn event_line(event: &RecordedEvent, line: &mut Vec<u8>) -> Result<(), String> {
    let corrupt = |reason: String| format!("event at position {} cannot be read: {reason}", event.position);
    serde_json::from_slice::<serde_json::Value>(&event.payload)
        .map_err(|e| corrupt(format!("the payload is not JSON: {e}")))?;
    let metadata = serde_json::to_string(&event.metadata).map_err(|e| corrupt(format!("metadata: {e}")))?;
    let text = |s: &str| serde_json::Value::from(s).to_string();
    line.extend_from_slice(
        format!(
            "{{\"position\":{},\"stream\":{},\"version\":{},\"contract\":{},\"contract_version\":{},\
             \"fingerprint\":{},\"id\":{},\"payload\":",
            event.position,
            text(event.stream.as_str()),
            event.version,
            text(&event.contract),
            event.contract_version,
            text(&event.fingerprint),
            text(&event.id.to_string()),
        )
        .as_bytes(),
    );
    push_compact_json(&event.payload, line);
    line.extend_from_slice(b",\"metadata\":");
    line.extend_from_slice(metadata.as_bytes());
    line.extend_from_slice(b"}\n");
    Ok(())
}

/// Appends valid JSON without the whitespace between its tokens, so a
/// pretty-printed payload still fits on one line. The text is otherwise
/// copied byte for byte: parsing and printing it again could change how
/// large or precise numbers are written.
fn push_compact_json(json: &[u8], out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
        } else if matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::push_compact_json;

    fn compact(json: &str) -> String {
        let mut out = Vec::new();
        push_compact_json(json.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn compacting_drops_whitespace_between_tokens_only() {
        assert_eq!(
            compact("{\n  \"a b\": [1, 2.50],\n  \"c\": \"x \\\" y\\\\\", \"d\": 123456789012345678901234\n}\n"),
            "{\"a b\":[1,2.50],\"c\":\"x \\\" y\\\\\",\"d\":123456789012345678901234}"
        );
    }
}
