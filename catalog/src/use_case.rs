//! Use cases: given/when/then specifications as data, the way
//! `treaty::spec::Spec::use_case` writes them. They become examples in the
//! OpenAPI document and the use-case section of the documentation page.

use serde::{Deserialize, Serialize};

/// One passing specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UseCase {
    /// The spec's name.
    pub name: String,
    /// The events that happened before, oldest first.
    pub given: Vec<UseCaseMessage>,
    /// The command.
    pub when: UseCaseMessage,
    /// What the command did.
    pub then: UseCaseOutcome,
}

/// A message in a use case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UseCaseMessage {
    /// The contract name.
    pub contract: String,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The message's JSON.
    pub payload: serde_json::Value,
    /// Its sentence.
    pub text: String,
}

/// What the command of a use case did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UseCaseOutcome {
    /// It was accepted and produced these events (none: nothing happened).
    Accepted {
        /// The events.
        events: Vec<UseCaseMessage>,
    },
    /// It was refused with this domain error.
    Refused {
        /// The error's text.
        error: String,
    },
}

impl UseCase {
    /// Reads a list of use cases from JSON (`[{...}, ...]`).
    ///
    /// # Errors
    ///
    /// When the text is not such a list.
    pub fn list_from_json(json: &str) -> Result<Vec<UseCase>, serde_json::Error> {
        serde_json::from_str(json)
    }
}
