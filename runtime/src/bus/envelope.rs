//! What travels between a sender and a handler: envelopes around
//! commands, and the replies of `ask`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::WriterSchema;
use crate::aggregate::{Aggregate, EventSet, MessageExecution};
use crate::contract::{decode_as, Command, Contract, DecodeError, EncodeError};
use crate::store::StreamName;
use crate::types::{Timestamp, Uuid};

/// A command on its way to a handler.
///
/// On the wire it is one JSON object whose `payload` is the command's own
/// JSON at `contract_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The message's id, the same for every delivery of it: what
    /// deduplication is keyed on.
    pub id: Uuid,
    /// The contract name, such as `factory.ProduceCar`.
    pub contract: String,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The fingerprint of that contract version.
    pub fingerprint: String,
    /// The command's JSON.
    #[serde(with = "raw_json")]
    pub payload: Vec<u8>,
    /// The conversation the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Which delivery attempt this is, from 1.
    pub attempt: u32,
    /// Anything else the sender wants to pass on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Where the outcome goes when the sender asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// When the sender sent it.
    pub sent_at: Timestamp,
    /// The canonical schema the payload was written with, so that a
    /// receiver whose build knows the version under another fingerprint
    /// can check it with the compatibility rules instead of refusing it
    /// (docs/messaging.md, "Compatible changes between builds").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<WriterSchema>,
}

impl Envelope {
    /// An envelope around `command`, with a new time-ordered id, as the
    /// first attempt.
    ///
    /// # Errors
    ///
    /// When the command cannot be encoded.
    pub fn command<C: Command>(command: &C) -> Result<Self, EncodeError> {
        Ok(Envelope {
            id: Uuid::now_v7(),
            contract: C::NAME.to_string(),
            contract_version: C::VERSION,
            fingerprint: C::FINGERPRINT.to_string(),
            payload: command.encode()?,
            correlation_id: None,
            causation_id: None,
            attempt: 1,
            headers: BTreeMap::new(),
            reply_to: None,
            sent_at: Timestamp::now(),
            schema: WriterSchema::of::<C>(),
        })
    }

    /// Reads the payload as contract `C`, upcasting earlier versions.
    ///
    /// # Errors
    ///
    /// When the envelope holds another contract, or a version or payload
    /// `C` cannot read.
    pub fn decode<C: Contract>(&self) -> Result<C, DecodeError> {
        decode_as::<C>(&self.contract, self.contract_version, &self.payload)
    }

    /// The envelope as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes: its payload was checked to be JSON")
    }

    /// Reads an envelope from JSON.
    ///
    /// The envelope is held to the rules of the event store (docs/limits.md),
    /// which is where its handler's events, and its headers with them, go:
    /// a printable contract name, a version from 1, a fingerprint of 32
    /// lowercase hex digits, header names of token characters, and a
    /// payload of strict JSON. A message that breaks them is refused here,
    /// whole, and quarantined by the bus as malformed, instead of failing
    /// later where its text would be stored or printed.
    ///
    /// # Errors
    ///
    /// When the bytes are not an envelope, or the envelope breaks those
    /// rules.
    pub fn from_json(json: &[u8]) -> Result<Self, MalformedMessage> {
        let envelope: Envelope = serde_json::from_slice(json).map_err(|e| MalformedMessage {
            reason: format!("the message is not a Treaty envelope: {e}"),
        })?;
        envelope.check().map_err(|problem| MalformedMessage {
            reason: format!("the message is not a valid Treaty envelope: {problem}"),
        })?;
        Ok(envelope)
    }

    /// Which rule of [`Envelope::from_json`] the envelope breaks, if any.
    fn check(&self) -> Result<(), String> {
        use crate::store::validate;
        validate::contract_name(&self.contract)?;
        if self.contract_version == 0 {
            return Err("contract versions count from 1".into());
        }
        validate::fingerprint(&self.fingerprint)?;
        for name in self.headers.keys() {
            validate::header_name(name)?;
        }
        validate::strict_json(&self.payload).map_err(|e| format!("the payload is not JSON: {e}"))
    }
}

/// Bytes received that are not an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MalformedMessage {
    /// What is wrong with them.
    pub reason: String,
}

/// What handling a command did, as the sender of an `ask` receives it.
///
/// Externally tagged on the wire (`{"handled": {...}}`): serde buffers
/// internally tagged enums, and the events' raw JSON payloads cannot be
/// read back from such a buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The command was accepted.
    Handled(Handled),
    /// The handler refused the command with a domain error; nothing was
    /// recorded.
    Refused {
        /// The domain error's text.
        error: String,
        /// The domain error as JSON, when the aggregate encodes its
        /// errors (absent from replies of builds before it did).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<serde_json::Value>,
    },
    /// The message could not be handled and was parked in the quarantine.
    Quarantined {
        /// Why.
        error: String,
    },
}

/// An accepted command's effect.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Handled {
    /// The stream the events went to, if the handler wrote to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// The stream's version after the command.
    pub stream_version: u64,
    /// The events the command produced, with their stream versions and
    /// global positions: a reader that needs to see this command's effect
    /// waits until its view has passed the last position.
    pub events: Vec<ProducedEvent>,
    /// Whether this delivery found the message handled already: its
    /// events are the ones recorded the first time (empty when the
    /// handler could not read them back).
    pub duplicate: bool,
}

impl Handled {
    /// What a message's execution on an aggregate did to `stream`, as the
    /// bus and the HTTP API report it: the events decided now with the
    /// versions and positions the append gave them, or, for a message
    /// handled before, the events recorded then (`duplicate`).
    ///
    /// # Errors
    ///
    /// When an event decided now cannot be encoded.
    pub fn from_execution<A: Aggregate>(
        execution: MessageExecution<A>,
        stream: &StreamName,
    ) -> Result<Handled, EncodeError> {
        match execution {
            MessageExecution::Executed(executed) => {
                let (first_version, first_position) = executed.appended.map_or((0, 0), |a| {
                    (a.stream_version + 1 - executed.events.len() as u64, a.first_position)
                });
                let events = executed
                    .events
                    .iter()
                    .enumerate()
                    .map(|(index, event)| {
                        Ok(ProducedEvent {
                            contract: event.contract_name().to_string(),
                            contract_version: event.contract_version(),
                            // One append's events take consecutive
                            // versions and positions.
                            version: first_version + index as u64,
                            position: first_position + index as u64,
                            payload: event.encode()?,
                        })
                    })
                    .collect::<Result<_, EncodeError>>()?;
                Ok(Handled {
                    stream: Some(stream.to_string()),
                    stream_version: executed.stream_version,
                    events,
                    duplicate: false,
                })
            }
            MessageExecution::AlreadyHandled { stream, events } => Ok(Handled {
                stream: Some(stream.to_string()),
                stream_version: events.last().map_or(0, |e| e.version),
                events: events
                    .into_iter()
                    .map(|e| ProducedEvent {
                        contract: e.contract,
                        contract_version: e.contract_version,
                        version: e.version,
                        position: e.position,
                        payload: e.payload,
                    })
                    .collect(),
                duplicate: true,
            }),
        }
    }

    /// The global position of the last event the command appended, `None`
    /// when it appended none (or the handler did not say where).
    pub fn last_position(&self) -> Option<u64> {
        self.events.iter().map(|e| e.position).filter(|p| *p > 0).max()
    }
}

/// An event produced by a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProducedEvent {
    /// The contract name.
    pub contract: String,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The event's version in its stream; 0 when the handler did not say
    /// (a handler of an older build).
    #[serde(default)]
    pub version: u64,
    /// The event's global position in the store; 0 when the handler did
    /// not say.
    #[serde(default)]
    pub position: u64,
    /// The event's JSON.
    #[serde(with = "raw_json")]
    pub payload: Vec<u8>,
}

impl ProducedEvent {
    /// Reads the event as contract `C`.
    ///
    /// # Errors
    ///
    /// When it is another contract, or `C` cannot read it.
    pub fn decode<C: Contract>(&self) -> Result<C, DecodeError> {
        decode_as::<C>(&self.contract, self.contract_version, &self.payload)
    }
}

/// The outcome of one message, sent back to the bus that asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The message it answers.
    pub message_id: Uuid,
    /// What happened.
    pub outcome: Outcome,
}

impl Reply {
    /// The reply as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a reply always serializes: its payloads were checked to be JSON")
    }

    /// Reads a reply from JSON.
    ///
    /// # Errors
    ///
    /// When the bytes are not a reply.
    pub fn from_json(json: &[u8]) -> Result<Self, MalformedMessage> {
        serde_json::from_slice(json).map_err(|e| MalformedMessage {
            reason: format!("the reply is not a Treaty reply: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip_with_their_events_as_json() {
        let reply = Reply {
            message_id: Uuid::now_v7(),
            outcome: Outcome::Handled(Handled {
                stream: Some("account-a".into()),
                stream_version: 2,
                events: vec![ProducedEvent {
                    contract: "bank.Deposited".into(),
                    contract_version: 2,
                    version: 2,
                    position: 7,
                    payload: br#"{"id":"a","amount":5}"#.to_vec(),
                }],
                duplicate: false,
            }),
        };
        let json = String::from_utf8(reply.to_json()).unwrap();
        assert!(json.contains(r#""payload":{"id":"a","amount":5}"#), "{json}");
        assert_eq!(Reply::from_json(json.as_bytes()).unwrap(), reply);
        // Replies of handlers that did not say where the events went.
        let older = json.replace(r#""version":2,"position":7,"#, "");
        let Outcome::Handled(handled) = Reply::from_json(older.as_bytes()).unwrap().outcome else {
            panic!("{older}");
        };
        assert_eq!((handled.events[0].version, handled.events[0].position), (0, 0));
        assert_eq!(handled.last_position(), None);
        let refused = Reply {
            message_id: reply.message_id,
            outcome: Outcome::Refused {
                error: "no".into(),
                value: None,
            },
        };
        assert_eq!(Reply::from_json(&refused.to_json()).unwrap(), refused);
        let typed = Reply {
            message_id: reply.message_id,
            outcome: Outcome::Refused {
                error: "no".into(),
                value: Some(serde_json::json!({"TooLow": {"balance": 3}})),
            },
        };
        assert_eq!(Reply::from_json(&typed.to_json()).unwrap(), typed);
    }

    const ENVELOPE: &str = r#"{"id":"0196f1c3-0b2c-7e88-9f10-2a3b4c5d6e04","contract":"factory.ProduceCar","contract_version":2,"fingerprint":"390dfe61243eb19a2aa2ff230bf78b15","payload":{"model":"Roadster"},"attempt":1,"headers":{"user":"ann"},"sent_at":"2025-05-20T09:13:00Z"}"#;

    #[test]
    fn envelopes_are_held_to_the_rules_of_the_store() {
        let envelope = Envelope::from_json(ENVELOPE.as_bytes()).unwrap();
        assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), envelope);
        for (from, to, reason) in [
            (
                "factory.ProduceCar",
                "factory.\\u0000Produce",
                "the contract name contains",
            ),
            ("factory.ProduceCar", "\\u001b[2J", "the contract name contains"),
            ("390dfe61243eb19a2aa2ff230bf78b15", "f1", "lowercase hex digits"),
            (r#""user":"ann""#, r#""a b":"ann""#, "the header name"),
            (r#""contract_version":2"#, r#""contract_version":0"#, "count from 1"),
            (
                r#""model":"Roadster""#,
                r#""model":"\ud800""#,
                "the payload is not JSON",
            ),
            (r#""model":"Roadster""#, r#""model":1e400"#, "the payload is not JSON"),
        ] {
            let hostile = ENVELOPE.replace(from, to);
            let refused = Envelope::from_json(hostile.as_bytes()).expect_err(&hostile);
            assert!(refused.reason.contains(reason), "{hostile}: {}", refused.reason);
            assert!(
                !refused.reason.contains('\0') && !refused.reason.contains('\u{1b}'),
                "{}",
                refused.reason
            );
        }
        // Invalid UTF-8 inside a string is not an envelope either.
        let mut invalid = ENVELOPE.as_bytes().to_vec();
        let at = ENVELOPE.find("Roadster").unwrap();
        invalid.splice(at..at, [0xff, 0xfe]);
        assert!(Envelope::from_json(&invalid).is_err());
    }
}

/// Serializes JSON bytes as the JSON they hold, not as a string or array.
mod raw_json {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(json: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        let text = std::str::from_utf8(json).map_err(S::Error::custom)?;
        let raw: &RawValue = serde_json::from_str(text).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer).map_err(D::Error::custom)?;
        Ok(raw.get().as_bytes().to_vec())
    }
}
