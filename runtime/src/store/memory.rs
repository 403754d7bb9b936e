//! An in-memory event store, for tests and examples. It keeps everything
//! in memory by design; use [`super::SqliteStore`] for anything real.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::paging::{self, EventPage, PAGE_SIZE};
use super::registry::{admit_first_uses, registry_order, CompiledContract, Mode, StoredContract, SCHEMA_FORMAT};
use super::rules::{self, StoredId};
use super::{
    AppendError, AppendResult, Direction, EventLocation, EventStore, EventStream, ExpectedVersion, NewEvent, ReadError,
    RecordedEvent, StreamName,
};
use crate::types::Uuid;

/// An event store in memory. Clones share the same events.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<RwLock<State>>,
    head: Arc<watch::Sender<u64>>,
    max_event_bytes: usize,
    compatibility: Mode,
}

#[derive(Default)]
struct State {
    /// Every event; the one at index `i` has position `i + 1`.
    events: Vec<RecordedEvent>,
    /// The positions of each stream's events, in version order.
    streams: HashMap<StreamName, Vec<u64>>,
    /// Event id to position.
    ids: HashMap<Uuid, u64>,
    /// The schema registry, by name, version and fingerprint.
    contracts: BTreeMap<(String, u32, String), StoredContract>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::with_max_event_bytes(rules::DEFAULT_MAX_EVENT_BYTES)
    }

    /// An empty store that accepts events of at most `max_event_bytes`
    /// (payload plus metadata), as `SqliteConfig::max_event_bytes` and
    /// `PostgresConfig::max_event_bytes` set it for the other backends.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        MemoryStore {
            inner: Arc::new(RwLock::new(State::default())),
            head: Arc::new(watch::channel(0).0),
            max_event_bytes,
            compatibility: Mode::Backward,
        }
    }

    /// This store with `mode` as its compatibility mode
    /// ([`EventStore::compatibility`]).
    pub fn with_compatibility(self, mode: Mode) -> Self {
        MemoryStore {
            compatibility: mode,
            ..self
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half
        // written: appends check everything before they change anything.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        rules::validate_append(stream, &events, self.max_event_bytes)?;
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if let Some(result) = retried(&state, stream, &events)? {
            return Ok(result);
        }
        let actual = state.streams.get(stream).map(|s| s.len() as u64);
        if !expected.admits(actual) {
            return Err(AppendError::WrongExpectedVersion {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        // Versions are checked in sorted order, so two fingerprints of one
        // new version in the same append are caught as well: the second is
        // judged against the first, as the other backends do.
        let uses = rules::first_uses(&events);
        let unstored: Vec<(&str, u32, usize)> = uses
            .iter()
            .filter(|((contract, version, fingerprint), _)| {
                !state
                    .contracts
                    .contains_key(&(contract.to_string(), *version, fingerprint.to_string()))
            })
            .map(|(&(contract, version, _), &index)| (contract, version, index))
            .collect();
        let mut new_rows: Vec<StoredContract> = Vec::new();
        for of_one_version in unstored.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (contract, version, _) = of_one_version[0];
            let stored: Vec<StoredContract> = state
                .contracts
                .range((contract.to_string(), version, String::new())..)
                .take_while(|((c, v, _), _)| c == contract && *v == version)
                .map(|(_, row)| row.clone())
                .collect();
            let first_uses = of_one_version.iter().map(|&(_, _, index)| &events[index]);
            for row in admit_first_uses(stored, first_uses, self.compatibility)? {
                new_rows.push(StoredContract {
                    name: row.name,
                    version,
                    fingerprint: row.fingerprint,
                    schema: row.schema,
                    schema_format: SCHEMA_FORMAT,
                    first_position: None,
                    first_seen: Some(jiff::Timestamp::now()),
                });
            }
        }
        let first_position = state.events.len() as u64 + 1;
        for row in new_rows {
            state
                .contracts
                .insert((row.name.clone(), row.version, row.fingerprint.clone()), row);
        }
        for ((contract, version, fingerprint), index) in uses {
            if let Some(entry) = state
                .contracts
                .get_mut(&(contract.to_string(), version, fingerprint.to_string()))
            {
                entry.first_position.get_or_insert(first_position + index as u64);
            }
        }
        let mut version = actual.unwrap_or(0);
        for event in events {
            version += 1;
            let position = state.events.len() as u64 + 1;
            state.ids.insert(event.id, position);
            state.streams.entry(stream.clone()).or_default().push(position);
            state.events.push(RecordedEvent {
                id: event.id,
                stream: stream.clone(),
                version,
                position,
                contract: event.contract,
                contract_version: event.contract_version,
                fingerprint: event.fingerprint,
                payload: event.payload,
                metadata: event.metadata,
            });
        }
        let last_position = state.events.len() as u64;
        drop(state);
        self.head.send_replace(last_position);
        Ok(AppendResult {
            stream_version: version,
            first_position,
            last_position,
        })
    }

    async fn stream_version(&self, stream: &StreamName) -> Result<Option<u64>, ReadError> {
        Ok(self.read().streams.get(stream).map(|s| s.len() as u64))
    }

    async fn locate(&self, id: Uuid) -> Result<Option<EventLocation>, ReadError> {
        let state = self.read();
        Ok(state.ids.get(&id).map(|position| {
            let event = &state.events[(*position - 1) as usize];
            EventLocation {
                stream: event.stream.clone(),
                version: event.version,
                position: event.position,
            }
        }))
    }

    async fn head(&self) -> Result<u64, ReadError> {
        Ok(self.read().events.len() as u64)
    }

    fn read_stream(&self, stream: &StreamName, from: u64, direction: Direction) -> EventStream {
        let store = self.clone();
        let stream = stream.clone();
        let fetch = move |at: u64| {
            let page = store.stream_page(&stream, at, direction);
            async move { Ok(page) }
        };
        paging::stream_pages(from, direction, fetch)
    }

    fn read_all(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::paged(
            from.max(1),
            move |at| {
                let page = store.all_page(at);
                async move { Ok(page) }
            },
            paging::after_position,
        )
    }

    async fn contracts(&self) -> Result<Vec<StoredContract>, ReadError> {
        let mut contracts: Vec<StoredContract> = self.read().contracts.values().cloned().collect();
        contracts.sort_by(|a, b| registry_order(a).cmp(&registry_order(b)));
        Ok(contracts)
    }

    async fn record_contracts(&self, contracts: Vec<CompiledContract>) -> Result<(), AppendError> {
        super::validate::registry(&contracts)?;
        let mut state = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for c in contracts {
            let entry = state
                .contracts
                .entry((c.name.clone(), c.version, c.fingerprint.clone()))
                .or_insert_with(|| StoredContract {
                    name: c.name,
                    version: c.version,
                    fingerprint: c.fingerprint.clone(),
                    schema: None,
                    schema_format: SCHEMA_FORMAT,
                    first_position: None,
                    first_seen: Some(jiff::Timestamp::now()),
                });
            if entry.schema.is_none() {
                entry.schema = c.schema;
            }
        }
        Ok(())
    }

    fn compatibility(&self) -> Mode {
        self.compatibility
    }

    fn subscribe(&self, from: u64) -> EventStream {
        let store = self.clone();
        paging::subscription(
            from,
            move |at| {
                let page = store.all_page(at);
                async move { Ok(page) }
            },
            self.head.subscribe(),
            None,
        )
    }
}

impl MemoryStore {
    fn all_page(&self, from: u64) -> EventPage {
        let state = self.read();
        let start = (from.max(1) - 1) as usize;
        state
            .events
            .iter()
            .skip(start)
            .take(PAGE_SIZE)
            .cloned()
            .map(Ok)
            .collect()
    }

    fn stream_page(&self, stream: &StreamName, at: u64, direction: Direction) -> EventPage {
        let state = self.read();
        let Some(positions) = state.streams.get(stream) else {
            return Vec::new();
        };
        let pick = |p: &u64| Ok(state.events[(*p - 1) as usize].clone());
        match direction {
            Direction::Forward => {
                let start = (at.max(1) - 1) as usize;
                positions.iter().skip(start).take(PAGE_SIZE).map(pick).collect()
            }
            Direction::Backward => {
                let end = (at.min(positions.len() as u64)) as usize;
                positions[..end].iter().rev().take(PAGE_SIZE).map(pick).collect()
            }
        }
    }
}

/// The original result when `events` were all appended to `stream` before,
/// in this order; an error when some ids are stored but not like that.
fn retried(state: &State, stream: &StreamName, events: &[NewEvent]) -> Result<Option<AppendResult>, AppendError> {
    let stored: Vec<Option<StoredId>> = events
        .iter()
        .map(|e| {
            state.ids.get(&e.id).map(|p| {
                let event = &state.events[(*p - 1) as usize];
                StoredId {
                    id: event.id,
                    stream: event.stream.clone(),
                    version: event.version,
                    position: event.position,
                }
            })
        })
        .collect();
    rules::judge_retry(stream, &stored)
}
