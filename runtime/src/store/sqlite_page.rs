//! A page of the SQLite store's rows, read on the blocking pool and turned
//! into events by whoever takes them.
//!
//! Reads run on Tokio's blocking pool while the caller works through the
//! page before, so an event built there would be allocated on one thread
//! and freed on another. glibc's allocator serves such a pair from its
//! shared arena instead of the threads' caches, which cost a tenth of a
//! full read's time. So the reading thread does the checking and decoding
//! that allocates nothing (ids, numbers, stream names) and packs the rows'
//! text into one buffer; each event's strings are allocated when the
//! caller takes the event, on the thread that will also free them. That
//! includes the metadata, decoded from its JSON then: its headers are
//! strings in a map, and every event a traced command appended has one
//! (the `traceparent` of its trace), which decoded here was such a pair
//! for every event an aggregate's load read back.

use rusqlite::Row;

use super::paging::{Page, RowKey};
use super::{Metadata, ReadError, RecordedEvent, StreamName};
use crate::types::Uuid;

/// One page: the text of every row in one buffer, and per row what was
/// decoded from it or why it could not be read.
pub(crate) struct SqlitePage {
    text: String,
    rows: Vec<Result<PackedRow, ReadError>>,
    /// Where the last row sits, read or not.
    last: Option<RowKey>,
    /// Why SQLite stopped giving rows, delivered after them.
    failure: Option<ReadError>,
    /// Whether the events' metadata keeps its headers (not in a replay).
    headers: bool,
}

/// A row whose columns are checked, with its text columns in the page's
/// buffer.
struct PackedRow {
    position: u64,
    version: u64,
    id: Uuid,
    contract_version: u32,
    /// Where the stream, contract, fingerprint, payload and metadata (its
    /// JSON, decoded when the event is taken) end in the buffer; each
    /// starts where the one before ended, and the first where the row
    /// starts.
    start: usize,
    ends: [usize; 5],
}

impl SqlitePage {
    /// An empty page with room for `rows` rows.
    pub(crate) fn with_capacity(rows: usize) -> SqlitePage {
        SqlitePage {
            // Events are a few hundred bytes of text; the buffer grows for
            // larger ones.
            text: String::with_capacity(rows * 256),
            rows: Vec::with_capacity(rows),
            last: None,
            failure: None,
            headers: true,
        }
    }

    /// The page's events will come without their metadata's headers, as
    /// [`EventStore::replay_stream`](super::EventStore::replay_stream)
    /// allows.
    pub(crate) fn without_headers(mut self) -> SqlitePage {
        self.headers = false;
        self
    }

    /// Reads a row of the store's columns (`position, id, stream, version,
    /// contract, contract_version, fingerprint, payload, metadata`),
    /// checking every column. A row that fails a check is kept as an
    /// error naming its position, and left untouched in the file; the rows
    /// after it are read as usual.
    ///
    /// # Errors
    ///
    /// When SQLite fails to give a column; the page then ends with
    /// [`SqlitePage::fail`].
    pub(crate) fn push(&mut self, row: &Row<'_>) -> rusqlite::Result<()> {
        let start = self.text.len();
        let packed = self.pack(row)?;
        if packed.is_err() {
            self.text.truncate(start);
        }
        self.rows.push(packed);
        Ok(())
    }

    /// Ends the page with an error, delivered after the rows before it;
    /// it ends the read.
    pub(crate) fn fail(&mut self, error: ReadError) {
        self.failure = Some(error);
    }

    /// The row checked and packed: the outer error is SQLite's, the inner
    /// one a corrupt row.
    fn pack(&mut self, row: &Row<'_>) -> rusqlite::Result<Result<PackedRow, ReadError>> {
        // The integer primary key is always an integer.
        let position = row.get::<_, i64>(0)? as u64;
        let corrupt = |reason: String| ReadError::Corrupt { position, reason };
        let in_column = |name: &str, e: &dyn std::fmt::Display| corrupt(format!("{name}: {e}"));
        let id = row.get_ref(1)?;
        // Columns of another type than the layout's are damage to report,
        // not a failure of SQLite.
        let version = row.get_ref(3)?.as_i64();
        let contract_version = row.get_ref(5)?.as_i64();
        self.last = Some(RowKey {
            position,
            version: version.as_ref().ok().and_then(|v| u64::try_from(*v).ok()),
        });
        let version = match version {
            Ok(version) => version,
            Err(e) => return Ok(Err(in_column("version", &e))),
        };
        let contract_version = match contract_version {
            Ok(contract_version) => contract_version,
            Err(e) => return Ok(Err(in_column("contract version", &e))),
        };
        let start = self.text.len();
        let mut ends = [0; 5];
        for (end, (column, name)) in ends.iter_mut().zip([
            (2, "stream"),
            (4, "contract"),
            (6, "fingerprint"),
            (7, "payload"),
            (8, "metadata"),
        ]) {
            match row.get_ref(column)?.as_str() {
                Ok(text) => self.text.push_str(text),
                Err(e) => return Ok(Err(in_column(name, &e))),
            }
            *end = self.text.len();
        }
        let checked = (|| {
            let id = id
                .as_blob()
                .map_err(|e| in_column("event id", &e))
                .and_then(|bytes| Uuid::from_slice(bytes).map_err(|e| in_column("event id", &e)))?;
            StreamName::check(&self.text[start..ends[0]]).map_err(|e| corrupt(e.to_string()))?;
            let version = u64::try_from(version).map_err(|_| corrupt(format!("negative version {version}")))?;
            let contract_version = u32::try_from(contract_version)
                .map_err(|_| corrupt(format!("contract version {contract_version} out of range")))?;
            Ok(PackedRow {
                position,
                version,
                id,
                contract_version,
                start,
                ends,
            })
        })();
        Ok(checked)
    }
}

impl Page for SqlitePage {
    type Events = SqliteEvents;

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn last(&self) -> Option<RowKey> {
        match self.failure {
            Some(_) => None,
            None => self.last,
        }
    }

    fn into_events(self) -> SqliteEvents {
        SqliteEvents {
            text: self.text,
            rows: self.rows.into_iter(),
            failure: self.failure,
            headers: self.headers,
        }
    }
}

/// The events of a [`SqlitePage`], each built when it is taken.
pub(crate) struct SqliteEvents {
    text: String,
    rows: std::vec::IntoIter<Result<PackedRow, ReadError>>,
    failure: Option<ReadError>,
    headers: bool,
}

impl Iterator for SqliteEvents {
    type Item = Result<RecordedEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.rows.next() {
            Some(Ok(row)) => row,
            Some(Err(e)) => return Some(Err(e)),
            None => return self.failure.take().map(Err),
        };
        let [stream, contract, fingerprint, payload, metadata] = row.ends;
        let metadata = match Metadata::from_stored_json(&self.text[payload..metadata], self.headers) {
            Ok(metadata) => metadata,
            Err(e) => {
                return Some(Err(ReadError::Corrupt {
                    position: row.position,
                    reason: format!("metadata: {e}"),
                }))
            }
        };
        Some(Ok(RecordedEvent {
            id: row.id,
            stream: StreamName::checked(self.text[row.start..stream].to_string()),
            version: row.version,
            position: row.position,
            contract: self.text[stream..contract].to_string(),
            contract_version: row.contract_version,
            fingerprint: self.text[contract..fingerprint].to_string(),
            payload: self.text.as_bytes()[fingerprint..payload].to_vec(),
            metadata,
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.rows.size_hint();
        let failure = usize::from(self.failure.is_some());
        (low + failure, high.map(|high| high + failure))
    }
}
