//! A refused command's domain error, as the bus carries it to whoever
//! asked: its text, and its JSON when the aggregate sends it
//! ([`Aggregate::refusal`](super::Aggregate::refusal) returning
//! [`Refusal::of`]), which [`Refusal::downcast`] reads back as the typed
//! error.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A domain error that refused a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The error's text (its `Display`).
    message: String,
    /// The error as JSON, when the handler sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
}

/// Why [`Refusal::downcast`] has no typed error to return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DowncastError {
    /// The handler sent the text only: its aggregate's `Aggregate::refusal`
    /// is the default.
    #[error(
        "the refusal carries its text only ({message:?}): make the refusing aggregate's `Aggregate::refusal` \
         return `Refusal::of(error)`"
    )]
    TextOnly {
        /// The refusal's text.
        message: String,
    },
    /// The JSON sent is not a value of the type asked for.
    #[error("the refusal's error is not a {type_name}: {source}")]
    OtherType {
        /// The type asked for.
        type_name: &'static str,
        /// What the JSON reader said.
        source: serde_json::Error,
    },
}

impl Refusal {
    /// A refusal with only a text.
    pub fn new(message: impl Into<String>) -> Self {
        Refusal {
            message: message.into(),
            error: None,
        }
    }

    /// A refusal with the error's text and its JSON; for an error whose
    /// `Serialize` fails (only a hand-written one can), the text only.
    pub fn of<E: std::fmt::Display + Serialize>(error: &E) -> Self {
        Refusal {
            message: error.to_string(),
            error: serde_json::to_value(error).ok(),
        }
    }

    /// A refusal with its text and the error as JSON.
    pub fn with_error(message: impl Into<String>, error: serde_json::Value) -> Self {
        Refusal {
            message: message.into(),
            error: Some(error),
        }
    }

    /// The error's text.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as JSON, if the handler sent it.
    pub fn error_json(&self) -> Option<&serde_json::Value> {
        self.error.as_ref()
    }

    /// The typed domain error, such as `refusal.downcast::<AccountError>()`.
    ///
    /// # Errors
    ///
    /// [`DowncastError::TextOnly`] when the handler sent only the text,
    /// [`DowncastError::OtherType`] when the JSON is not an `E`.
    pub fn downcast<E: DeserializeOwned>(&self) -> Result<E, DowncastError> {
        let Some(error) = &self.error else {
            return Err(DowncastError::TextOnly {
                message: self.message.clone(),
            });
        };
        E::deserialize(error).map_err(|source| DowncastError::OtherType {
            type_name: std::any::type_name::<E>(),
            source,
        })
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for Refusal {
    fn from(message: String) -> Self {
        Refusal::new(message)
    }
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Self {
        Refusal::new(message)
    }
}

impl PartialEq<&str> for Refusal {
    fn eq(&self, other: &&str) -> bool {
        self.message == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Problem {
        TooLow { balance: u64 },
    }

    #[test]
    fn a_refusal_reads_back_as_its_type_or_says_why_not() {
        let typed = Refusal::with_error("too low", serde_json::to_value(Problem::TooLow { balance: 3 }).unwrap());
        assert_eq!(typed.downcast::<Problem>().unwrap(), Problem::TooLow { balance: 3 });
        assert!(matches!(typed.downcast::<u32>(), Err(DowncastError::OtherType { .. })));
        let text = Refusal::new("too low");
        let error = text.downcast::<Problem>().unwrap_err().to_string();
        assert!(error.contains("Refusal::of") && error.contains("too low"), "{error}");
        assert_eq!(text.to_string(), "too low");
    }
}
