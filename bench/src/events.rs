//! The events that the store benchmarks and the store test helpers
//! (`crash-writer`, `contend`) append: small JSON payloads that say which
//! append wrote them, so a checker can tell whether a batch arrived whole.

use serde::{Deserialize, Serialize};
use treaty_runtime::store::{Metadata, NewEvent};
use uuid::Uuid;

/// The contract name every benchmark event carries.
pub const CONTRACT: &str = "bench.Tick";

/// A fixed fingerprint: the benchmark has one contract version, so the
/// store's registry check always passes, as it does for a real service.
pub const FINGERPRINT: &str = "b3c4f1e0a9d8c7b6a5f4e3d2c1b0a9f8";

/// The payload: event `index` of the `size` events appended together as
/// `batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    pub batch: Uuid,
    pub index: u32,
    pub size: u32,
}

/// Event `index` of a batch of `size`, with a new time-ordered id and
/// metadata stamped now, as `NewEvent::from_contract` would make it.
pub fn tick(batch: Uuid, index: u32, size: u32) -> NewEvent {
    let payload = Tick { batch, index, size };
    NewEvent {
        id: Uuid::now_v7(),
        contract: CONTRACT.to_string(),
        contract_version: 1,
        fingerprint: FINGERPRINT.to_string(),
        payload: serde_json::to_vec(&payload).expect("a tick always serialises"),
        metadata: Metadata::now(),
        schema: None,
    }
}

/// A batch of `size` events sharing a new batch id.
pub fn batch(size: u32) -> Vec<NewEvent> {
    let id = Uuid::new_v4();
    (0..size).map(|index| tick(id, index, size)).collect()
}

/// A Tokio runtime for the store work of one command. Store calls run on
/// it; SQLite's blocking work goes to its blocking pool.
pub fn runtime() -> Result<tokio::runtime::Runtime, crate::Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Failure::io("start a Tokio runtime", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_payload_names_its_batch_index_and_size() {
        let batch = Uuid::nil();
        let event = tick(batch, 3, 10);
        let text = String::from_utf8(event.payload).unwrap();
        assert_eq!(
            text,
            r#"{"batch":"00000000-0000-0000-0000-000000000000","index":3,"size":10}"#
        );
    }

    #[test]
    fn a_batch_shares_one_id_and_counts_from_zero() {
        let events = batch(4);
        let ticks: Vec<Tick> = events
            .iter()
            .map(|e| serde_json::from_slice(&e.payload).unwrap())
            .collect();
        assert!(ticks.iter().all(|t| t.batch == ticks[0].batch && t.size == 4));
        assert_eq!(ticks.iter().map(|t| t.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }
}
