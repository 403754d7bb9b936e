//! Whether this build may read an integration event another service's
//! build published: the one place the rule lives, so that it can change
//! without touching the inbox.

use crate::bus::{check_writer, Written};
use crate::contract::ContractInfo;
use crate::CompatibilityMode as Mode;

use super::IntegrationEvent;

/// Checks that this build reads `event`'s contract version as the
/// publisher wrote it: the contract is among `contracts`, its version is
/// in that contract's history, and either the fingerprint the publisher
/// sent is this build's for that version, or the schema it sent with it
/// (the `treaty-schema` header) is one this build reads by the rule book
/// of `treaty lint` in `mode` (the bus's check, docs/messaging.md
/// "Compatible changes between builds").
///
/// # Errors
///
/// Why not, naming the event, its stream, contract, version and
/// fingerprint, each rule broken, and what to do.
pub fn check_compatible(contracts: &[ContractInfo], event: &IntegrationEvent, mode: Mode) -> Result<(), String> {
    let what = || {
        format!(
            "integration event {} (stream {}, position {}) is {} v{} with fingerprint {}",
            event.id, event.stream, event.position, event.contract, event.contract_version, event.fingerprint
        )
    };
    let Some(contract) = contracts.iter().find(|c| c.name == event.contract) else {
        let known: Vec<&str> = contracts.iter().map(|c| c.name).collect();
        return Err(format!(
            "{}, which this inbox does not handle (it handles {}); unbind the contract from its queue or add a \
             handler for it",
            what(),
            known.join(", ")
        ));
    };
    if !contract.history.iter().any(|v| v.version == event.contract_version) {
        let mut versions: Vec<String> = contract.history.iter().map(|v| format!("v{}", v.version)).collect();
        versions.reverse();
        return Err(format!(
            "{}, but this build reads {} {}: the publisher runs a build whose contract has a version this one \
             lacks; deploy a build whose contract knows v{}",
            what(),
            event.contract,
            versions.join(", "),
            event.contract_version
        ));
    }
    let written = Written {
        contract: &event.contract,
        version: event.contract_version,
        fingerprint: &event.fingerprint,
        schema: event.schema.as_ref(),
    };
    check_writer(contracts, &written, mode).map_err(|rest| {
        format!(
            "integration event {} (stream {}, position {}) is {} v{} {rest}",
            event.id, event.stream, event.position, event.contract, event.contract_version
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{ContractKind, ContractVersion};
    use crate::store::{Metadata, StreamName};
    use crate::types::Uuid;

    const HISTORY: &[ContractVersion] = &[
        ContractVersion {
            version: 2,
            fingerprint: "22222222222222222222222222222222",
        },
        ContractVersion {
            version: 1,
            fingerprint: "11111111111111111111111111111111",
        },
    ];
    const CONTRACTS: &[ContractInfo] = &[ContractInfo {
        name: "factory.CarProduced",
        kind: ContractKind::Event,
        history: HISTORY,
        schemas: "",
    }];

    fn event(contract: &str, version: u32, fingerprint: &str) -> IntegrationEvent {
        IntegrationEvent {
            id: Uuid::now_v7(),
            contract: contract.into(),
            contract_version: version,
            fingerprint: fingerprint.into(),
            stream: StreamName::new("factory-1").unwrap(),
            stream_version: 1,
            position: 7,
            payload: b"{}".to_vec(),
            metadata: Metadata::now(),
            schema: None,
        }
    }

    #[test]
    fn every_version_of_the_history_is_read() {
        assert!(check_compatible(
            CONTRACTS,
            &event("factory.CarProduced", 2, HISTORY[0].fingerprint),
            Mode::Backward
        )
        .is_ok());
        assert!(check_compatible(
            CONTRACTS,
            &event("factory.CarProduced", 1, HISTORY[1].fingerprint),
            Mode::Backward
        )
        .is_ok());
    }

    #[test]
    fn an_unknown_fingerprint_version_or_contract_is_refused_with_reasons() {
        let changed = check_compatible(
            CONTRACTS,
            &event("factory.CarProduced", 2, "33333333333333333333333333333333"),
            Mode::Backward,
        )
        .unwrap_err();
        assert!(changed.contains("carries no schema"), "{changed}");
        assert!(changed.contains("stream factory-1, position 7"), "{changed}");
        let newer = check_compatible(
            CONTRACTS,
            &event("factory.CarProduced", 3, HISTORY[0].fingerprint),
            Mode::Backward,
        )
        .unwrap_err();
        assert!(newer.contains("reads factory.CarProduced v1, v2"), "{newer}");
        let other = check_compatible(
            CONTRACTS,
            &event("factory.Other", 1, HISTORY[0].fingerprint),
            Mode::Backward,
        )
        .unwrap_err();
        assert!(other.contains("does not handle"), "{other}");
    }
}
