//! Rules every backend applies to appends, so they behave the same.

use super::{AppendError, AppendResult, NewEvent, StreamName};

/// The largest event (payload plus metadata) a store accepts by default.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// Checks an append before it touches storage: everything it carries,
/// by the rules of [`super::validate`], with payload plus metadata within
/// `max_bytes`.
pub(crate) fn validate_append(stream: &StreamName, events: &[NewEvent], max_bytes: usize) -> Result<(), AppendError> {
    super::validate::append(stream, events, max_bytes)
}

/// Where an event id is stored.
pub(crate) struct StoredId {
    pub id: crate::types::Uuid,
    pub stream: StreamName,
    pub version: u64,
    pub position: u64,
}

/// Given where each event of an append is already stored (`None`: not
/// stored), decides whether the append is new (`Ok(None)`), an exact
/// retry (`Ok(Some(original result))`), or a conflict.
pub(crate) fn judge_retry(
    stream: &StreamName,
    stored: &[Option<StoredId>],
) -> Result<Option<AppendResult>, AppendError> {
    if stored.iter().all(Option::is_none) {
        return Ok(None);
    }
    let conflict = |s: &StoredId| AppendError::IdConflict {
        id: s.id,
        stored_in: s.stream.clone(),
        version: s.version,
    };
    let Some(Some(first)) = stored.first() else {
        let s = stored.iter().flatten().next().expect("some id is stored");
        return Err(conflict(s));
    };
    for (i, entry) in stored.iter().enumerate() {
        match entry {
            Some(s) if s.stream == *stream && s.version == first.version + i as u64 => {}
            Some(s) => return Err(conflict(s)),
            None => return Err(conflict(first)),
        }
    }
    let last = stored.last().and_then(Option::as_ref).expect("all are stored");
    Ok(Some(AppendResult {
        stream_version: last.version,
        first_position: first.position,
        last_position: last.position,
    }))
}

/// The contract versions an append uses, each with the index in the
/// append of its first event, sorted, so backends lock registry rows in
/// one order and cannot deadlock.
pub(crate) fn first_uses(events: &[NewEvent]) -> std::collections::BTreeMap<(&str, u32, &str), usize> {
    let mut first = std::collections::BTreeMap::new();
    for (index, e) in events.iter().enumerate() {
        first
            .entry((e.contract.as_str(), e.contract_version, e.fingerprint.as_str()))
            .or_insert(index);
    }
    first
}
