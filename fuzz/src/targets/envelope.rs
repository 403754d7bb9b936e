//! `envelope`: arbitrary bytes fed to the bus's decoding of what arrives
//! from a transport (`Envelope::from_json`, `Reply::from_json`).
//!
//! Invariants: nothing panics; what decodes encodes again (`to_json`,
//! which the bus calls to requeue a message) and decodes to the same
//! value; an envelope that decodes holds only what the event store accepts
//! (its contract name, fingerprint, header names and payload pass the
//! store's rules, which `from_json` applies).

use treaty_runtime::bus::{Envelope, Reply};

use crate::engine::Target;

pub fn target() -> Box<dyn Target> {
    Box::new(EnvelopeTarget)
}

struct EnvelopeTarget;

const ENVELOPE: &str = r#"{"id":"0196f1c3-0b2c-7e88-9f10-2a3b4c5d6e04","contract":"factory.ProduceCar","contract_version":2,"fingerprint":"390dfe61243eb19a2aa2ff230bf78b15","payload":{"model":"Roadster","wheels":[1,2,3,4]},"correlation_id":"0196f1c3-0b2c-7e88-9f10-2a3b4c5d6e05","attempt":1,"headers":{"user":"ann"},"reply_to":"replies-1","sent_at":"2025-05-20T09:13:00Z"}"#;

const REPLY: &str = r#"{"message_id":"0196f1c3-0b2c-7e88-9f10-2a3b4c5d6e04","outcome":{"handled":{"stream":"factory-1","stream_version":3,"events":[{"contract":"factory.CarProduced","contract_version":2,"payload":{"id":"x"}}],"duplicate":false}}}"#;

impl Target for EnvelopeTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut seeds = vec![
            ENVELOPE.as_bytes().to_vec(),
            REPLY.as_bytes().to_vec(),
            br#"{"message_id":"0196f1c3-0b2c-7e88-9f10-2a3b4c5d6e04","outcome":{"refused":{"error":"no"}}}"#.to_vec(),
            b"".to_vec(),
            b"null".to_vec(),
        ];
        // The envelope with hostile values in each place.
        for (from, to) in [
            (r#""model":"Roadster""#, r#""model":"\ud800""#),
            (r#""model":"Roadster""#, "\"model\":\"\u{ff}\""),
            (r#"[1,2,3,4]"#, "1e400"),
            (r#"[1,2,3,4]"#, &format!("{}{}", "[".repeat(200), "]".repeat(200))),
            ("factory.ProduceCar", "factory.\\u0000Produce"),
            ("factory.ProduceCar", "\\u001b[2J"),
            ("390dfe61243eb19a2aa2ff230bf78b15", "f1"),
            (r#""user":"ann""#, r#""a b":"ann""#),
            (r#""contract_version":2"#, r#""contract_version":0"#),
            (r#""contract_version":2"#, r#""contract_version":4294967296"#),
            (r#""attempt":1"#, r#""attempt":-1"#),
            ("2025-05-20T09:13:00Z", "9999-99-99T00:00:00Z"),
        ] {
            seeds.push(ENVELOPE.replace(from, to).into_bytes());
        }
        let mut invalid = ENVELOPE.as_bytes().to_vec();
        let at = ENVELOPE.find("Roadster").expect("in the envelope");
        invalid.splice(at..at, [0xff, 0xfe]);
        seeds.push(invalid);
        seeds
    }

    fn run(&mut self, input: &[u8]) -> Result<bool, String> {
        let mut accepted = false;
        if let Ok(envelope) = Envelope::from_json(input) {
            accepted = true;
            let json = envelope.to_json();
            match Envelope::from_json(&json) {
                Ok(again) if again == envelope => {}
                Ok(again) => {
                    return Err(format!(
                        "the envelope changed on a round trip: {envelope:?} became {again:?}"
                    ))
                }
                Err(e) => return Err(format!("an envelope's own JSON does not decode: {e}")),
            }
            if serde_json::from_slice::<serde_json::Value>(&envelope.payload).is_err() {
                return Err("an accepted envelope's payload does not read back as JSON".into());
            }
        }
        if let Ok(reply) = Reply::from_json(input) {
            accepted = true;
            let json = reply.to_json();
            match Reply::from_json(&json) {
                Ok(again) if again == reply => {}
                Ok(again) => return Err(format!("the reply changed on a round trip: {reply:?} became {again:?}")),
                Err(e) => return Err(format!("a reply's own JSON does not decode: {e}")),
            }
        }
        Ok(accepted)
    }
}
