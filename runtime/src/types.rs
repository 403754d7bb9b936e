//! The scalar types contracts use, with their wire formats.
//!
//! `Uuid` (hyphenated string), `Timestamp` (RFC 3339, from jiff), `Date`
//! (ISO 8601, from jiff) and `Decimal` (a string; numbers accepted on
//! input, from rust_decimal) are re-exported well-kept crates. `Bytes` is
//! Treaty's own, because the wire format (base64) is Treaty's choice.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use jiff::civil::Date;
pub use jiff::Timestamp;
pub use rust_decimal::Decimal;
pub use uuid::Uuid;

/// Binary data, base64 (standard alphabet, padded) on the wire.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Bytes({})",
            base64::engine::general_purpose::STANDARD.encode(&self.0)
        )
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Self {
        Bytes(bytes.to_vec())
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64 in Bytes field: {e}")))
    }
}

/// An id could not be parsed from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {id}: {reason}")]
pub struct ParseIdError {
    /// The id type, such as `factory.FactoryId`.
    pub id: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl ParseIdError {
    /// Wraps the inner type's parse error.
    pub fn new(id: &'static str, reason: impl fmt::Display) -> Self {
        ParseIdError {
            id,
            reason: reason.to_string(),
        }
    }
}

/// Shows an optional value in a display template: the value, or `none`.
#[doc(hidden)]
pub struct DisplayOptional<'a, T>(pub &'a Option<T>);

impl<T: fmt::Display> fmt::Display for DisplayOptional<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => value.fmt(f),
            None => f.write_str("none"),
        }
    }
}
