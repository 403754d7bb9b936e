//! Use cases: given/when/then specifications as data, the way
//! `treaty::spec::Spec::use_case` (an aggregate's) and
//! `treaty::process::spec::ProcessSpec::use_case` (a process manager's)
//! write them. They become examples in the OpenAPI document (an
//! aggregate's) and the use-case section of the documentation page.

use serde::{Deserialize, Serialize};

/// One passing specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UseCase {
    /// The spec's name.
    pub name: String,
    /// The events that happened before, oldest first.
    pub given: Vec<UseCaseMessage>,
    /// The command; for a process manager, the event, or the timeout
    /// that came due (a message with an empty `contract`, version 0, a
    /// `null` payload and a text naming the timeout and the instance).
    pub when: UseCaseMessage,
    /// What the command did, or how the process manager reacted.
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

/// What the command of a use case did, or how a process manager
/// reacted to its event.
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
    /// A process manager reacted to the event (or timeout): it sends
    /// these commands and has these other effects (nothing at all: it
    /// ignored the event).
    Reacted {
        /// The commands it sends, in order.
        commands: Vec<UseCaseMessage>,
        /// Its other effects as sentences, in the spec's order: timeouts
        /// scheduled and cancelled, completion.
        effects: Vec<String>,
    },
}

impl UseCaseMessage {
    /// Whether this is a process manager's timeout rather than a message
    /// (its `contract` is empty).
    pub fn is_timeout(&self) -> bool {
        self.contract.is_empty()
    }
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
