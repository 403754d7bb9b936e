//! An integration event as it travels: the stored event's payload as the
//! message body, and everything else in headers of text, so any AMQP
//! client can read them.

use std::collections::BTreeMap;

use crate::bus::{Envelope, WriterSchema};
use crate::contract::{decode_as, Contract, DecodeError};
use crate::store::{validate, Metadata, RecordedEvent, StreamName};
use crate::types::{Timestamp, Uuid};

/// The headers an integration event carries.
pub mod header {
    /// The event's id in the publisher's store: what inboxes deduplicate on.
    pub const EVENT_ID: &str = "treaty-event-id";
    /// The contract name, such as `factory.CarProduced`.
    pub const CONTRACT: &str = "treaty-contract";
    /// The contract version of the payload.
    pub const CONTRACT_VERSION: &str = "treaty-contract-version";
    /// The fingerprint of that contract version in the publisher's build.
    pub const FINGERPRINT: &str = "treaty-fingerprint";
    /// The canonical schema the event was written with, as the
    /// publisher's store recorded it, when it did: what an inbox whose
    /// build knows the version under another fingerprint judges.
    pub const SCHEMA: &str = "treaty-schema";
    /// The stream the event belongs to in the publisher's store.
    pub const STREAM: &str = "treaty-stream";
    /// Its version in that stream.
    pub const STREAM_VERSION: &str = "treaty-stream-version";
    /// Its position in the publisher's store.
    pub const POSITION: &str = "treaty-position";
    /// When the event was recorded (RFC 3339).
    pub const TIMESTAMP: &str = "treaty-timestamp";
    /// The conversation it belongs to, when it has one.
    pub const CORRELATION_ID: &str = "treaty-correlation-id";
    /// The message that caused it, when known.
    pub const CAUSATION_ID: &str = "treaty-causation-id";
    /// The prefix of the event's own metadata headers (such as
    /// `traceparent`): `treaty-h-traceparent`.
    pub const METADATA_PREFIX: &str = "treaty-h-";
}

/// An event received from another service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationEvent {
    /// Its id in the publisher's store, the same for every delivery.
    pub id: Uuid,
    /// The contract name.
    pub contract: String,
    /// The contract version of the payload.
    pub contract_version: u32,
    /// The fingerprint of that version in the publisher's build.
    pub fingerprint: String,
    /// Its stream in the publisher's store.
    pub stream: StreamName,
    /// Its version in that stream.
    pub stream_version: u64,
    /// Its position in the publisher's store.
    pub position: u64,
    /// The JSON payload.
    pub payload: Vec<u8>,
    /// The publisher's metadata.
    pub metadata: Metadata,
    /// The canonical schema it was written with, when the publisher
    /// sent it ([`header::SCHEMA`]).
    pub schema: Option<WriterSchema>,
}

impl IntegrationEvent {
    /// Reads the payload as contract `C`, upcasting earlier versions.
    ///
    /// # Errors
    ///
    /// When the event is of another contract, or its version cannot be
    /// read by `C`.
    pub fn decode<C: Contract>(&self) -> Result<C, DecodeError> {
        decode_as::<C>(&self.contract, self.contract_version, &self.payload)
    }

    /// Whether the event is of contract `C`.
    pub fn is<C: Contract>(&self) -> bool {
        self.contract == C::NAME
    }

    /// The metadata of what handling the event appends: now, caused by
    /// this event, in its conversation (this event's own when it has
    /// none), with its headers (so a trace goes on).
    pub fn caused_metadata(&self) -> Metadata {
        Metadata {
            timestamp: Timestamp::now(),
            correlation_id: self.metadata.correlation_id.or(Some(self.id)),
            causation_id: Some(self.id),
            headers: self.metadata.headers.clone(),
        }
    }

    /// The headers that carry `event`, written with `schema`, in order.
    pub(crate) fn headers_of(event: &RecordedEvent, schema: Option<&WriterSchema>) -> Vec<(String, String)> {
        let mut headers = vec![
            (header::EVENT_ID.to_string(), event.id.to_string()),
            (header::CONTRACT.to_string(), event.contract.clone()),
            (header::CONTRACT_VERSION.to_string(), event.contract_version.to_string()),
            (header::FINGERPRINT.to_string(), event.fingerprint.clone()),
            (header::STREAM.to_string(), event.stream.to_string()),
            (header::STREAM_VERSION.to_string(), event.version.to_string()),
            (header::POSITION.to_string(), event.position.to_string()),
            (header::TIMESTAMP.to_string(), event.metadata.timestamp.to_string()),
        ];
        if let Some(id) = event.metadata.correlation_id {
            headers.push((header::CORRELATION_ID.to_string(), id.to_string()));
        }
        if let Some(id) = event.metadata.causation_id {
            headers.push((header::CAUSATION_ID.to_string(), id.to_string()));
        }
        for (name, value) in &event.metadata.headers {
            headers.push((format!("{}{name}", header::METADATA_PREFIX), value.clone()));
        }
        if let Some(schema) = schema {
            headers.push((header::SCHEMA.to_string(), schema.text().to_string()));
        }
        headers
    }

    /// Reads an event from the text headers and body of a delivery, held
    /// to the event store's rules (docs/limits.md), since its handler's
    /// events go to a store.
    ///
    /// # Errors
    ///
    /// What is missing or wrong, naming the header.
    pub(crate) fn from_wire(headers: &BTreeMap<String, String>, payload: Vec<u8>) -> Result<Self, String> {
        let get = |name: &str| {
            headers
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| format!("the message has no {name} header; it was not published by a Treaty relay"))
        };
        let number = |name: &str| -> Result<u64, String> {
            let text = get(name)?;
            text.parse()
                .map_err(|_| format!("header {name} is {text:?}, not a whole number"))
        };
        let uuid = |name: &str, text: &str| -> Result<Uuid, String> {
            Uuid::parse_str(text).map_err(|e| format!("header {name} is {text:?}, not a UUID: {e}"))
        };
        let id = uuid(header::EVENT_ID, get(header::EVENT_ID)?)?;
        let contract = get(header::CONTRACT)?.to_string();
        validate::contract_name(&contract).map_err(|e| format!("header {}: {e}", header::CONTRACT))?;
        let contract_version = u32::try_from(number(header::CONTRACT_VERSION)?)
            .ok()
            .filter(|version| *version > 0)
            .ok_or_else(|| format!("header {} is not a version from 1", header::CONTRACT_VERSION))?;
        let fingerprint = get(header::FINGERPRINT)?.to_string();
        validate::fingerprint(&fingerprint).map_err(|e| format!("header {}: {e}", header::FINGERPRINT))?;
        let stream = StreamName::new(get(header::STREAM)?).map_err(|e| format!("header {}: {e}", header::STREAM))?;
        let stream_version = number(header::STREAM_VERSION)?;
        let position = number(header::POSITION)?;
        let timestamp = get(header::TIMESTAMP)?;
        let timestamp: Timestamp = timestamp
            .parse()
            .map_err(|e| format!("header {} is {timestamp:?}, not a time: {e}", header::TIMESTAMP))?;
        let optional_uuid = |name: &str| headers.get(name).map(|text| uuid(name, text)).transpose();
        let correlation_id = optional_uuid(header::CORRELATION_ID)?;
        let causation_id = optional_uuid(header::CAUSATION_ID)?;
        let schema = headers
            .get(header::SCHEMA)
            .map(|text| WriterSchema::parse(text).map_err(|e| format!("header {} is not JSON: {e}", header::SCHEMA)))
            .transpose()?;
        let mut own = BTreeMap::new();
        for (name, value) in headers {
            if let Some(name) = name.strip_prefix(header::METADATA_PREFIX) {
                validate::header_name(name).map_err(|e| format!("header {}{name}: {e}", header::METADATA_PREFIX))?;
                own.insert(name.to_string(), value.clone());
            }
        }
        validate::strict_json(&payload)
            .map_err(|e| format!("the body of event {id} ({contract} v{contract_version}) is not JSON: {e}"))?;
        Ok(IntegrationEvent {
            id,
            contract,
            contract_version,
            fingerprint,
            stream,
            stream_version,
            position,
            payload,
            metadata: Metadata {
                timestamp,
                correlation_id,
                causation_id,
                headers: own,
            },
            schema,
        })
    }

    /// The event as an envelope, which is how a quarantine keeps it:
    /// `treaty quarantine show` then prints its contract and payload.
    pub(crate) fn to_parked_body(&self) -> Vec<u8> {
        let mut headers = self.metadata.headers.clone();
        headers.insert(header::STREAM.to_string(), self.stream.to_string());
        headers.insert(header::POSITION.to_string(), self.position.to_string());
        Envelope {
            id: self.id,
            contract: self.contract.clone(),
            contract_version: self.contract_version,
            fingerprint: self.fingerprint.clone(),
            payload: self.payload.clone(),
            correlation_id: self.metadata.correlation_id,
            causation_id: self.metadata.causation_id,
            attempt: 1,
            headers,
            reply_to: None,
            sent_at: self.metadata.timestamp,
            schema: self.schema.clone(),
        }
        .to_json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded() -> RecordedEvent {
        let mut metadata = Metadata::now();
        metadata.correlation_id = Some(Uuid::now_v7());
        metadata.headers.insert("traceparent".into(), "00-abc-def-01".into());
        RecordedEvent {
            id: Uuid::now_v7(),
            stream: StreamName::new("factory-1").unwrap(),
            version: 3,
            position: 42,
            contract: "factory.CarProduced".into(),
            contract_version: 2,
            fingerprint: "0123456789abcdef0123456789abcdef".into(),
            payload: br#"{"id":"x"}"#.to_vec(),
            metadata,
        }
    }

    #[test]
    fn an_event_survives_the_headers() {
        let event = recorded();
        let schema =
            WriterSchema::parse(r#"{"fields":{},"kind":"event","name":"factory.CarProduced","version":2}"#).unwrap();
        let headers = IntegrationEvent::headers_of(&event, Some(&schema))
            .into_iter()
            .collect();
        let read = IntegrationEvent::from_wire(&headers, event.payload.clone()).unwrap();
        assert_eq!(read.schema, Some(schema));
        assert_eq!(read.id, event.id);
        assert_eq!(read.contract, event.contract);
        assert_eq!(read.contract_version, 2);
        assert_eq!(read.fingerprint, event.fingerprint);
        assert_eq!(read.stream, event.stream);
        assert_eq!((read.stream_version, read.position), (3, 42));
        assert_eq!(read.metadata, event.metadata);
        assert_eq!(read.payload, event.payload);
    }

    #[test]
    fn bad_headers_are_named() {
        let event = recorded();
        let mut headers: BTreeMap<String, String> = IntegrationEvent::headers_of(&event, None).into_iter().collect();
        headers.insert(header::CONTRACT_VERSION.into(), "0".into());
        let error = IntegrationEvent::from_wire(&headers, event.payload.clone()).unwrap_err();
        assert!(error.contains(header::CONTRACT_VERSION), "{error}");
        headers.remove(header::FINGERPRINT);
        headers.insert(header::CONTRACT_VERSION.into(), "2".into());
        let error = IntegrationEvent::from_wire(&headers, event.payload.clone()).unwrap_err();
        assert!(error.contains("no treaty-fingerprint header"), "{error}");
        let headers: BTreeMap<String, String> = IntegrationEvent::headers_of(&event, None).into_iter().collect();
        let error = IntegrationEvent::from_wire(&headers, b"{not json".to_vec()).unwrap_err();
        assert!(error.contains("not JSON"), "{error}");
        let mut headers = headers;
        headers.insert(header::SCHEMA.into(), "{not json".into());
        let error = IntegrationEvent::from_wire(&headers, event.payload.clone()).unwrap_err();
        assert!(error.contains("header treaty-schema is not JSON"), "{error}");
    }
}
