//! Whether this build may read an integration event another service's
//! build published: the one place the rule lives, so that it can change
//! without touching the inbox.

use crate::contract::ContractInfo;

use super::IntegrationEvent;

/// Checks that `event`'s contract version is one this build reads, as
/// the publisher meant it. Today's rule: the contract is among
/// `contracts`, its version is in that contract's history, and the
/// fingerprint the publisher sent is the one this build has for that
/// version (the two builds agree on what the version means on the
/// wire).
///
/// # Errors
///
/// Why not, naming the event, its stream, contract, version and
/// fingerprint, and what to do.
pub fn check_compatible(contracts: &[ContractInfo], event: &IntegrationEvent) -> Result<(), String> {
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
    let Some(known) = contract.history.iter().find(|v| v.version == event.contract_version) else {
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
    };
    if known.fingerprint != event.fingerprint {
        return Err(format!(
            "{}, but this build knows v{} with fingerprint {}: one side changed the contract without a new \
             version; declare the change as a new version and deploy it on both sides",
            what(),
            event.contract_version,
            known.fingerprint
        ));
    }
    Ok(())
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
        }
    }

    #[test]
    fn every_version_of_the_history_is_read() {
        assert!(check_compatible(CONTRACTS, &event("factory.CarProduced", 2, HISTORY[0].fingerprint)).is_ok());
        assert!(check_compatible(CONTRACTS, &event("factory.CarProduced", 1, HISTORY[1].fingerprint)).is_ok());
    }

    #[test]
    fn an_unknown_fingerprint_version_or_contract_is_refused_with_reasons() {
        let changed = check_compatible(
            CONTRACTS,
            &event("factory.CarProduced", 2, "33333333333333333333333333333333"),
        )
        .unwrap_err();
        assert!(changed.contains("without a new version"), "{changed}");
        assert!(changed.contains("stream factory-1, position 7"), "{changed}");
        let newer = check_compatible(CONTRACTS, &event("factory.CarProduced", 3, HISTORY[0].fingerprint)).unwrap_err();
        assert!(newer.contains("reads factory.CarProduced v1, v2"), "{newer}");
        let other = check_compatible(CONTRACTS, &event("factory.Other", 1, HISTORY[0].fingerprint)).unwrap_err();
        assert!(other.contains("does not handle"), "{other}");
    }
}
