//! The one validation of everything an append carries, shared by every
//! backend so that memory, SQLite and PostgreSQL accept and refuse the
//! same appends with the same errors, and by the bus for the envelopes it
//! accepts. Nothing reaches storage before it passed here, so no backend
//! meets a value it cannot store or read back.
//!
//! The rules (docs/limits.md lists them with their errors):
//!
//! - the stream name: [`StreamName`]'s rules;
//! - at least one event, each with an id of its own in the append;
//! - contract names: 1 to [`MAX_CONTRACT_NAME`] bytes of printable text,
//!   without control characters, whitespace or invisible formatting
//!   characters (bidirectional overrides, zero-width characters, the
//!   byte-order mark), so a name printed on a terminal shows what it is;
//! - contract versions: 1 to `u32::MAX`, as the language numbers them;
//! - fingerprints: [`FINGERPRINT_LEN`] lowercase hex digits, as the
//!   language computes them (the first 128 bits of a SHA-256);
//! - header names: 1 to [`MAX_HEADER_NAME`] bytes of HTTP token
//!   characters (letters, digits and ``!#$%&'*+-.^_`|~``); header values
//!   are any text;
//! - the payload plus the metadata as stored (its JSON) within the
//!   store's `max_event_bytes`;
//! - the payload strict JSON: UTF-8 everywhere, inside strings too; no
//!   lone surrogate escapes (`"\ud800"`); numbers that fit an `f64`
//!   (`1e400` does not); arrays and objects nested at most
//!   [`MAX_JSON_DEPTH`] deep. That is exactly what `serde_json` reads back
//!   into a `Value`, which is how `treaty store dump` and decoding read it.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::registry::CompiledContract;
use super::{AppendError, Metadata, NewEvent, StreamName};
use crate::types::Uuid;

/// The longest contract name a store accepts, in bytes.
pub const MAX_CONTRACT_NAME: usize = 256;

/// The length of a fingerprint: 32 lowercase hex digits.
pub const FINGERPRINT_LEN: usize = 32;

/// The longest header name a store accepts, in bytes.
pub const MAX_HEADER_NAME: usize = 256;

/// How deep arrays and objects may nest in a payload: `serde_json` reads
/// no deeper.
pub const MAX_JSON_DEPTH: usize = 127;

/// Checks an append before it touches storage.
pub(crate) fn append(stream: &StreamName, events: &[NewEvent], max_bytes: usize) -> Result<(), AppendError> {
    StreamName::check(stream.as_str())?;
    if events.is_empty() {
        return Err(AppendError::Empty { stream: stream.clone() });
    }
    if events.len() > 1 {
        let mut seen = HashSet::with_capacity(events.len());
        if let Some(repeated) = events.iter().find(|e| !seen.insert(e.id)) {
            return Err(AppendError::DuplicateEventId { id: repeated.id });
        }
    }
    for event in events {
        self::event(event, max_bytes)?;
    }
    Ok(())
}

/// Checks one event.
fn event(event: &NewEvent, max_bytes: usize) -> Result<(), AppendError> {
    contract(
        Some(event.id),
        &event.contract,
        event.contract_version,
        &event.fingerprint,
    )?;
    if let Some(schema) = &event.schema {
        // Recorded once per fingerprint, but read on every check of it.
        if schema.text().len() > max_bytes {
            return Err(AppendError::InvalidContract {
                id: Some(event.id),
                contract: cut(&event.contract),
                version: event.contract_version,
                reason: format!(
                    "its schema is {} bytes, over the store's limit of {max_bytes}",
                    schema.text().len()
                ),
            });
        }
    }
    for name in event.metadata.headers.keys() {
        header_name(name).map_err(|reason| AppendError::InvalidMetadata { id: event.id, reason })?;
    }
    // The payload's length alone may be over the limit already; the
    // metadata is measured without being written out.
    let size = event.payload.len().saturating_add(metadata_size(&event.metadata));
    if size > max_bytes {
        return Err(AppendError::TooLarge {
            id: event.id,
            contract: event.contract.clone(),
            size,
            limit: max_bytes,
        });
    }
    strict_json(&event.payload).map_err(|reason| AppendError::InvalidPayload {
        id: event.id,
        contract: event.contract.clone(),
        reason,
    })
}

/// Checks the contract versions given to `record_contracts`, with the
/// rules of appended events.
pub(crate) fn registry(contracts: &[CompiledContract]) -> Result<(), AppendError> {
    for c in contracts {
        contract(None, &c.name, c.version, &c.fingerprint)?;
    }
    Ok(())
}

/// Checks a contract name, version and fingerprint.
fn contract(id: Option<Uuid>, name: &str, version: u32, fingerprint: &str) -> Result<(), AppendError> {
    let reason = contract_name(name)
        .err()
        .or_else(|| (version == 0).then(|| "contract versions count from 1".to_string()))
        .or_else(|| self::fingerprint(fingerprint).err());
    match reason {
        None => Ok(()),
        Some(reason) => Err(AppendError::InvalidContract {
            id,
            contract: cut(name),
            version,
            reason,
        }),
    }
}

/// Why `name` is not a valid contract name, if it is not.
pub(crate) fn contract_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("the contract name is empty".into())
    } else if name.len() > MAX_CONTRACT_NAME {
        Err(format!("the contract name is longer than {MAX_CONTRACT_NAME} bytes"))
    } else if let Some(c) = name.chars().find(|c| !is_printable(*c)) {
        Err(format!(
            "the contract name contains {:?}; names are printable, without control characters, whitespace or \
             invisible formatting characters",
            c
        ))
    } else {
        Ok(())
    }
}

/// Why `fingerprint` is not a valid fingerprint, if it is not.
pub(crate) fn fingerprint(fingerprint: &str) -> Result<(), String> {
    if fingerprint.len() == FINGERPRINT_LEN && fingerprint.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(format!(
            "the fingerprint {:?} is not {FINGERPRINT_LEN} lowercase hex digits",
            cut(fingerprint)
        ))
    }
}

/// Why `name` is not a valid header name, if it is not.
pub(crate) fn header_name(name: &str) -> Result<(), String> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() {
        Err("a header name is empty".into())
    } else if name.len() > MAX_HEADER_NAME {
        Err(format!(
            "the header name {:?} is longer than {MAX_HEADER_NAME} bytes",
            cut(name)
        ))
    } else if !name.bytes().all(token) {
        Err(format!(
            "the header name {:?} has characters other than letters, digits and !#$%&'*+-.^_`|~",
            cut(name)
        ))
    } else {
        Ok(())
    }
}

/// Whether `c` shows as itself on a terminal: not a control character,
/// whitespace, or an invisible formatting character (bidirectional
/// controls, zero-width characters, the byte-order mark, tags). Contract
/// names hold only such characters; tools that print stored text escape
/// the others (`treaty store`).
pub fn is_printable(c: char) -> bool {
    !(c.is_control()
        || c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        ))
}

/// Text from a store or the wire as messages show it: as it is when it
/// is plain printable text (spaces allowed), else quoted with its control,
/// formatting and other unprintable characters escaped, so it cannot move
/// the cursor, change colours or reorder what a terminal shows.
pub(crate) struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.chars().all(|c| c == ' ' || is_printable(c)) {
            f.write_str(self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// A rejected value as errors show it: at most 80 characters.
fn cut(value: &str) -> String {
    value.chars().take(80).collect()
}

/// How many bytes `metadata` takes as stored (its JSON), counted without
/// writing it out.
pub(crate) fn metadata_size(metadata: &Metadata) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing metadata (strings, ids, a timestamp) cannot fail, and
    // `Count` never does.
    let _ = serde_json::to_writer(&mut count, metadata);
    count.0
}

/// Checks that `json` is strict JSON, as the module documents: what
/// `serde_json` reads back into a `Value`, checked without building one.
pub(crate) fn strict_json(json: &[u8]) -> Result<(), String> {
    // Invalid UTF-8 anywhere, even where `serde_json` would skip it, is
    // found first; the parser then finds the rest.
    std::str::from_utf8(json).map_err(|e| format!("it is not UTF-8: {e}"))?;
    serde_json::from_slice::<Strict>(json)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A JSON value checked the way a `serde_json::Value` is read: every
/// string decoded (escapes and UTF-8 checked), every number converted,
/// nesting limited by the parser's recursion limit.
struct Strict;

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Strict, E> {
        if value.is_finite() {
            Ok(Strict)
        } else {
            Err(E::custom("number out of range"))
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_entry::<Strict, Strict>()?.is_some() {}
        Ok(Strict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `serde_json` reads `json` back into a `Value`.
    fn readable(json: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(json).is_ok()
    }

    #[test]
    fn strict_json_is_what_serde_json_reads_back() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n)).into_bytes();
        let cases: Vec<(Vec<u8>, bool)> = vec![
            (b"{\"a\":1}".to_vec(), true),
            (b" [1, 2.5, -3e10, \"x\", null, true, {}] ".to_vec(), true),
            (b"123456789012345678901234567890".to_vec(), true),
            (b"\"\\ud83d\\ude00\"".to_vec(), true),
            (b"\"\\u0000\"".to_vec(), true),
            (deep(MAX_JSON_DEPTH), true),
            (deep(MAX_JSON_DEPTH + 1), false),
            (b"{\"a\":\"\xff\xfe\"}".to_vec(), false),
            (b"{\"\xc0\x80\":1}".to_vec(), false),
            (b"\"\xed\xa0\x80\"".to_vec(), false),
            (b"1e400".to_vec(), false),
            (b"-1e400".to_vec(), false),
            (b"[1e999]".to_vec(), false),
            (b"{\"a\":\"\\ud800\"}".to_vec(), false),
            (b"{\"\\udc00\":1}".to_vec(), false),
            (b"\"\\ud800\\u0041\"".to_vec(), false),
            (b"\"a\nb\"".to_vec(), false),
            (b"{\"a\":1".to_vec(), false),
            (b"1 2".to_vec(), false),
            (b"".to_vec(), false),
            (b"\xef\xbb\xbf{}".to_vec(), false),
        ];
        for (json, ok) in cases {
            let shown = String::from_utf8_lossy(&json).chars().take(60).collect::<String>();
            assert_eq!(strict_json(&json).is_ok(), ok, "{shown}: {:?}", strict_json(&json));
            assert_eq!(readable(&json), ok, "serde_json disagrees on {shown}");
        }
    }

    #[test]
    fn names_and_fingerprints_follow_the_rules() {
        assert!(contract_name("shop.OrderPlaced").is_ok());
        assert!(contract_name("größe.Ärger").is_ok());
        assert!(contract_name(&"a".repeat(MAX_CONTRACT_NAME)).is_ok());
        for bad in [
            "",
            "a\0b",
            "a\nb",
            "a b",
            "\u{1b}[31mred",
            "a\u{202e}b",
            "a\u{200b}b",
            "\u{85}",
        ] {
            assert!(contract_name(bad).is_err(), "{bad:?}");
        }
        assert!(contract_name(&"a".repeat(MAX_CONTRACT_NAME + 1)).is_err());
        assert!(fingerprint("0123456789abcdef0123456789abcdef").is_ok());
        for bad in [
            "",
            "f1",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcdeg",
        ] {
            assert!(fingerprint(bad).is_err(), "{bad:?}");
        }
        assert!(header_name("x-user_id.v1").is_ok());
        for bad in ["", "a b", "a:b", "a\0", "é", "a\u{1b}"] {
            assert!(header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_is_measured_as_it_is_stored() {
        let mut metadata = Metadata::now();
        metadata.headers.insert("user".into(), "ann\n\u{0}".into());
        assert_eq!(metadata_size(&metadata), serde_json::to_vec(&metadata).unwrap().len());
    }
}
