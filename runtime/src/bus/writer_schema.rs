//! The schema a message was written with, carried in a command's
//! envelope or an integration event's `treaty-schema` header, and whether
//! this build reads it: the compatibility rule book (`treaty_compat`, the
//! lint's rules) applied to the bus and the inbox.
//!
//! Two builds of a service that deploy a compatible change in place (a
//! field with a default added to `v1`, say) send the same contract
//! version under two fingerprints. A receiver that only compared
//! fingerprints would park every message of the other build. So every
//! envelope carries its writer's canonical schema, and a receiver that
//! does not know the fingerprint checks the schema against its own with
//! the rules of the lint: readable in the handler's mode, it is decoded
//! (defaults filled, optional fields left empty); not readable, it is
//! quarantined with every finding, named as the lint names them. The
//! schema travels in every message because the transports share nothing
//! else: over RabbitMQ, two services may have nothing in common but the
//! broker.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use treaty_compat::{breaking, Mode};

use super::Envelope;
use crate::contract::{ContractInfo, ContractKind, WriterSchema};

/// Whether this build reads `envelope` as its writer meant it, by the
/// compatibility rules in `mode`: `Ok` when the envelope's contract
/// version has this build's fingerprint in `contracts`, or when the
/// schema the envelope carries hashes to its fingerprint and has no
/// breaking change against this build's schema (the rules of
/// `treaty lint`); a contract or version `contracts` lacks is `Ok` too,
/// left to the decoder. [`AggregateHandler`](super::AggregateHandler)
/// calls it before decoding; a hand-written [`Handler`](super::Handler)
/// should too.
///
/// # Errors
///
/// Why not, naming the message, both fingerprints and every rule
/// broken with its field path and help: a reason to quarantine the
/// message as a permanent failure.
pub fn check_readable(contracts: &[ContractInfo], envelope: &Envelope, mode: Mode) -> Result<(), String> {
    let written = Written {
        contract: &envelope.contract,
        version: envelope.contract_version,
        fingerprint: &envelope.fingerprint,
        schema: envelope.schema.as_ref(),
    };
    check_writer(contracts, &written, mode).map_err(|rest| {
        format!(
            "message {} is {} v{} {rest}",
            envelope.id, envelope.contract, envelope.contract_version
        )
    })
}

/// A message as its writer described it.
pub(crate) struct Written<'a> {
    /// The contract name.
    pub contract: &'a str,
    /// The contract version.
    pub version: u32,
    /// The writer's fingerprint of that version.
    pub fingerprint: &'a str,
    /// The writer's schema of that version, when it sent one.
    pub schema: Option<&'a WriterSchema>,
}

/// Whether this build reads `written` by the rule book in `mode`: `Ok`
/// when it knows the fingerprint, or the writer's schema is compatible
/// with its own; otherwise the reason, as the rest of a sentence that
/// starts with the message ("... is `contract` v1 written with ...").
/// A contract or version this build lacks is `Ok`: that is for the
/// caller's own checks or the decoder to report.
///
/// Verdicts are remembered per contract version, reader and writer
/// schema and mode,
/// so the rules run once per schema a process meets, not once per
/// message.
pub(crate) fn check_writer(contracts: &[ContractInfo], written: &Written<'_>, mode: Mode) -> Result<(), String> {
    let Some(contract) = contracts.iter().find(|c| c.name == written.contract) else {
        return Ok(());
    };
    let Some(known) = contract.history.iter().find(|v| v.version == written.version) else {
        return Ok(());
    };
    if known.fingerprint == written.fingerprint {
        return Ok(());
    }
    let what = || {
        format!(
            "written with fingerprint {}, and this build knows v{} as {}",
            written.fingerprint, written.version, known.fingerprint
        )
    };
    let Some(schema) = written.schema else {
        return Err(format!(
            "{}; the message carries no schema to check it against (its writer's contract is hand-written, or \
             its Treaty predates sending schemas), so it may mean something else: declare the change as a new \
             version",
            what()
        ));
    };
    // The reader's fingerprint too: one process may hold several builds'
    // contracts (tests do), each judging the same writer differently.
    let key = (
        contract.name,
        known.version,
        known.fingerprint,
        written.fingerprint.to_string(),
        mode,
    );
    // A verdict holds for the schema it was given: another text under the
    // same fingerprint (a forged or mangled one) is judged afresh, which
    // refuses it.
    if let Some((judged, verdict)) = verdicts().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if judged == schema {
            return verdict.clone().map_err(|findings| format!("{}{findings}", what()));
        }
    }
    let verdict = judge(contract, known.version, written, schema, mode);
    let mut cache = verdicts().lock().unwrap_or_else(|e| e.into_inner());
    // Schemas a process meets are few; a sender making up new ones for
    // every message must not make the cache grow without bound.
    if cache.len() >= MAX_VERDICTS {
        cache.clear();
    }
    cache.insert(key, (schema.clone(), verdict.clone()));
    verdict.map_err(|findings| format!("{}{findings}", what()))
}

/// How many verdicts a process remembers at most.
const MAX_VERDICTS: usize = 1024;

type Verdicts = HashMap<(&'static str, u32, &'static str, String, Mode), (WriterSchema, Result<(), String>)>;

fn verdicts() -> &'static Mutex<Verdicts> {
    static VERDICTS: OnceLock<Mutex<Verdicts>> = OnceLock::new();
    VERDICTS.get_or_init(Default::default)
}

/// The rule book's answer for a writer schema this process has not met:
/// `Err` holds the rest of the sentence that [`check_readable`] starts.
fn judge(
    contract: &ContractInfo,
    version: u32,
    written: &Written<'_>,
    schema: &WriterSchema,
    mode: Mode,
) -> Result<(), String> {
    if !schema.has_fingerprint(written.fingerprint) {
        return Err(
            "; the schema the message carries does not have that fingerprint, so neither can be trusted: the \
             sender must send its schema as canonical text, as Treaty's envelopes do"
                .to_string(),
        );
    }
    let writer: serde_json::Value = serde_json::from_str(schema.text())
        .map_err(|e| format!("; the schema the message carries is not JSON ({e})"))?;
    let reader = match contract.schema(version) {
        Ok(Some(reader)) => reader,
        Ok(None) => {
            return Err(format!(
                "; this build carries no schema of v{version} to check the message's against: regenerate the \
                 contracts with this Treaty's codegen"
            ))
        }
        Err(e) => return Err(format!("; this build's schemas cannot be read: {e}")),
    };
    let findings = breaking(&writer, &reader, mode);
    let noun = match contract.kind {
        ContractKind::Command => "command",
        _ => "event",
    };
    if findings.is_empty() {
        return Ok(());
    }
    let described: Vec<String> = findings
        .iter()
        .map(|change| {
            format!(
                "[{}] {} (help: {})",
                change.rule.id(),
                change.message(noun, contract.name, version),
                change.rule.help()
            )
        })
        .collect();
    Err(format!(
        "; by the rules of mode {mode} this build cannot read it: {}",
        described.join("; ")
    ))
}
