//! Group commit: concurrent appends of one process, to different streams,
//! sent to the server together as one call in one transaction.
//!
//! Each append on its own is one round trip and one commit (with its
//! fsync), and on a busy server the work around a single-row insert (the
//! function call, the expected-version check, the locks) costs as much
//! again as the insert. Appends that arrive while a group is being
//! written wait in a queue; a task takes them out as the next group and
//! calls `append_group` once for it: the statement, the commit and the
//! function's fixed cost are shared by the group.
//!
//! A group holds appends to distinct streams only, so each append's
//! expected version is checked against the stream as it was before the
//! group, and one append's wrong expected version leaves the others of
//! its group to go through. Only appends whose contract versions this
//! store has registered already are grouped (the registry, with its
//! locks and its refusals, stays on the single path), and a failure of
//! the group as a whole (an id stored already, which is what a retried
//! append looks like, or a lost connection) writes nothing, being one
//! transaction, and sends each of its appends back to the single path,
//! which tells retries, conflicts and failures apart as it always has.
//!
//! Stream locks are taken in the order of their keys, by every group, and
//! a single append takes one: appends cannot deadlock.

use std::collections::VecDeque;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::Tables;
use crate::store::{AppendError, AppendResult, ExpectedVersion, NewEvent, StreamName};

/// Appends in one group at most.
const MAX_APPENDS: usize = 64;

/// The most events of an append that is grouped. A larger append is
/// written on its own: its call and commit are shared by its events
/// already, and the single append's function inserts them for less.
pub(super) const MAX_GROUPED_APPEND: usize = 10;

/// Groups being written at once. One: the appends that arrive while it is
/// written make the next group, so groups grow with the load. Measured
/// with 16 writers on two cores, two or more groups at once made each
/// smaller and the rate lower (docs/benchmarks.md).
const IN_FLIGHT: usize = 1;

/// An append waiting for its group, owning what its call needs.
pub(super) struct Request {
    pub stream: StreamName,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    /// Each event's metadata as JSON.
    pub metadata: Vec<String>,
    pub reply: oneshot::Sender<Reply>,
}

/// What became of a grouped append, with its events given back for the
/// single path.
pub(super) struct Reply {
    pub events: Vec<NewEvent>,
    pub outcome: Outcome,
}

pub(super) enum Outcome {
    /// Appended, committed with its group.
    Appended(AppendResult),
    /// The stream was not at the expected version: the stream's version.
    /// Nothing of this append was written; a retry of an append that went
    /// through looks the same, and the caller tells them apart.
    WrongVersion(Option<u64>),
    /// The group failed as a whole and wrote nothing: the append is to be
    /// made on its own.
    Alone,
}

/// The sender side of the queue of a store's appends.
#[derive(Clone)]
pub(super) struct Grouper {
    queue: mpsc::UnboundedSender<Request>,
}

impl Grouper {
    /// Starts the task that writes groups; it ends when every `Grouper`
    /// (every clone of the store) is gone.
    pub fn start(pool: Pool, tables: Arc<Tables>) -> Grouper {
        let (queue, requests) = mpsc::unbounded_channel();
        tokio::spawn(run(requests, pool, tables));
        Grouper { queue }
    }

    /// Queues `request`; gives it back when the task is gone (its runtime
    /// shut down), for the single path.
    pub fn send(&self, request: Request) -> Result<(), Request> {
        self.queue.send(request).map_err(|e| e.0)
    }
}

async fn run(mut requests: mpsc::UnboundedReceiver<Request>, pool: Pool, tables: Arc<Tables>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut waiting: VecDeque<Request> = VecDeque::new();
    loop {
        // A slot first: while the group in flight is written, appends
        // gather in the channel and make the next group.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        if waiting.is_empty() {
            match requests.recv().await {
                Some(request) => waiting.push_back(request),
                None => return,
            }
        }
        // The callers a finished group has just answered are about to
        // send their next appends: letting them run first makes this
        // group theirs too, instead of a group of one.
        tokio::task::yield_now().await;
        while let Ok(request) = requests.try_recv() {
            waiting.push_back(request);
        }
        let group = take_group(&mut waiting);
        let pool = pool.clone();
        let tables = tables.clone();
        tokio::spawn(async move {
            write(&pool, &tables, group).await;
            drop(slot);
        });
    }
}

/// The oldest waiting appends, to distinct streams, within the limits; an
/// append to a stream already in the group waits for the next, keeping
/// its place.
fn take_group(waiting: &mut VecDeque<Request>) -> Vec<Request> {
    let mut group: Vec<Request> = Vec::new();
    let mut kept = VecDeque::new();
    while let Some(request) = waiting.pop_front() {
        if group.len() == MAX_APPENDS {
            waiting.push_front(request);
            break;
        }
        if group.iter().any(|r| r.stream == request.stream) {
            kept.push_back(request);
            continue;
        }
        group.push(request);
    }
    while let Some(request) = kept.pop_back() {
        waiting.push_front(request);
    }
    group
}

/// Writes one group and answers each of its appends.
async fn write(pool: &Pool, tables: &Tables, group: Vec<Request>) {
    let outcomes = match call(pool, tables, &group).await {
        Ok(outcomes) if outcomes.len() == group.len() => outcomes,
        _ => group.iter().map(|_| Outcome::Alone).collect(),
    };
    for (request, outcome) in group.into_iter().zip(outcomes) {
        // A caller that stopped waiting has no use for the answer; its
        // append is written or not, as a dropped call's would be.
        let _ = request.reply.send(Reply {
            events: request.events,
            outcome,
        });
    }
}

/// The arrays of a group's call: one entry per append, then one per event
/// with the append it belongs to and its place in it.
async fn call(pool: &Pool, tables: &Tables, group: &[Request]) -> Result<Vec<Outcome>, AppendError> {
    let events = group.iter().map(|r| r.events.len()).sum();
    let mut streams = Vec::with_capacity(group.len());
    let mut kinds = Vec::with_capacity(group.len());
    let mut exacts = Vec::with_capacity(group.len());
    let mut counts = Vec::with_capacity(group.len());
    let mut owners = Vec::with_capacity(events);
    let mut places = Vec::with_capacity(events);
    let mut ids = Vec::with_capacity(events);
    let mut contracts = Vec::with_capacity(events);
    let mut contract_versions = Vec::with_capacity(events);
    let mut fingerprints = Vec::with_capacity(events);
    let mut payloads = Vec::with_capacity(events);
    let mut metadata = Vec::with_capacity(events);
    for (append, request) in (1i32..).zip(group) {
        let (kind, exact) = super::expectation(request.expected);
        streams.push(request.stream.as_str());
        kinds.push(kind);
        exacts.push(exact);
        counts.push(request.events.len() as i32);
        for ((place, event), json) in (1i32..).zip(&request.events).zip(&request.metadata) {
            owners.push(append);
            places.push(place);
            ids.push(event.id);
            contracts.push(event.contract.as_str());
            contract_versions.push(i64::from(event.contract_version));
            fingerprints.push(event.fingerprint.as_str());
            payloads.push(super::payload_text(event)?);
            metadata.push(json.as_str());
        }
    }
    let client = pool.get().await.map_err(super::append_error)?;
    let prepared = client
        .prepare_cached(&tables.append_group)
        .await
        .map_err(super::append_error)?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 12] = [
        &streams,
        &kinds,
        &exacts,
        &counts,
        &owners,
        &places,
        &ids,
        &contracts,
        &contract_versions,
        &fingerprints,
        &payloads,
        &metadata,
    ];
    let rows = client.query(&prepared, &params).await.map_err(super::append_error)?;
    rows.iter()
        .map(|row| {
            let status: &str = row.try_get(0).map_err(super::append_error)?;
            let version: Option<i64> = row.try_get(1).map_err(super::append_error)?;
            Ok(match status {
                "ok" => Outcome::Appended(AppendResult {
                    stream_version: version.unwrap_or(0) as u64,
                    first_position: row.try_get::<_, i64>(2).map_err(super::append_error)? as u64,
                    last_position: row.try_get::<_, i64>(3).map_err(super::append_error)? as u64,
                }),
                _ => Outcome::WrongVersion(version.map(|v| v as u64)),
            })
        })
        .collect()
}

/// The server-side append of a group, in the statement's transaction.
///
/// The streams' locks first, in the order of their keys (the single
/// append's lock, `append_function`), then each append's expected version
/// against its stream, then, for the appends that pass, the shared lock
/// keyed by the sequence's last value and the positions, taken together
/// in the order of the appends, as `append_function` takes them. Appends
/// that fail their check write nothing and answer `wrong_version`; a
/// raised error (a stored id) fails the group. One row per append, in
/// the order given.
pub(super) fn group_function(tables: &Tables, schema: &str) -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION {schema}.append_group(
                 p_streams TEXT[], p_kinds INTEGER[], p_exacts BIGINT[], p_counts INTEGER[],
                 p_owners INTEGER[], p_places INTEGER[], p_ids UUID[], p_contracts TEXT[],
                 p_contract_versions BIGINT[], p_fingerprints TEXT[], p_payloads TEXT[], p_metadata TEXT[])
             RETURNS TABLE (status TEXT, stream_version BIGINT, first_position BIGINT, last_position BIGINT)
             LANGUAGE plpgsql
             SET plan_cache_mode = force_generic_plan
             AS $treaty$
             #variable_conflict use_column
             DECLARE
                 v_appends INTEGER := cardinality(p_streams);
                 v_cur BIGINT[] := '{{}}';
                 v_ok BOOLEAN[] := '{{}}';
                 v_first INTEGER[] := '{{}}';
                 v_taken INTEGER := 0;
                 v_version BIGINT;
                 v_seen BIGINT;
                 v_positions BIGINT[];
                 v_key INTEGER;
             BEGIN
                 FOR v_key IN SELECT DISTINCT hashtext(s) FROM unnest(p_streams) AS s ORDER BY 1 LOOP
                     PERFORM pg_advisory_xact_lock({stream_key}, v_key);
                 END LOOP;
                 -- Every stream's version in one statement.
                 SELECT array_agg(m.v ORDER BY g.a) INTO v_cur
                 FROM generate_series(1, v_appends) AS g(a)
                 LEFT JOIN LATERAL (SELECT MAX(version) AS v FROM {events} WHERE stream = p_streams[g.a]) AS m ON TRUE;
                 FOR a IN 1 .. v_appends LOOP
                     v_version := v_cur[a];
                     v_ok[a] := NOT ((p_kinds[a] = 1 AND v_version IS NOT NULL)
                                     OR (p_kinds[a] = 2 AND v_version IS NULL)
                                     OR (p_kinds[a] = 3 AND COALESCE(v_version, 0) <> p_exacts[a]));
                     IF v_ok[a] THEN
                         v_first[a] := v_taken + 1;
                         v_taken := v_taken + p_counts[a];
                     END IF;
                 END LOOP;
                 IF v_taken > 0 THEN
                     v_seen := COALESCE(pg_sequence_last_value('{schema}.positions'), 0) % 4294967296;
                     PERFORM pg_advisory_xact_lock_shared({key},
                         (CASE WHEN v_seen >= 2147483648 THEN v_seen - 4294967296 ELSE v_seen END)::INTEGER);
                     v_positions := ARRAY(SELECT nextval('{schema}.positions') FROM generate_series(1, v_taken) ORDER BY 1);
                     INSERT INTO {events}
                         (position, id, stream, version, contract, contract_version, fingerprint, payload, metadata)
                     SELECT v_positions[v_first[t.o] + t.p - 1], t.id, p_streams[t.o], COALESCE(v_cur[t.o], 0) + t.p,
                            t.c, t.cv, t.f, t.pl, t.m
                     FROM unnest(p_owners, p_places, p_ids, p_contracts, p_contract_versions, p_fingerprints,
                                 p_payloads, p_metadata) AS t(o, p, id, c, cv, f, pl, m)
                     WHERE v_ok[t.o];
                 END IF;
                 RETURN QUERY
                     SELECT CASE WHEN v_ok[g.a] THEN 'ok' ELSE 'wrong_version' END,
                            CASE WHEN v_ok[g.a] THEN COALESCE(v_cur[g.a], 0) + p_counts[g.a] ELSE v_cur[g.a] END,
                            CASE WHEN v_ok[g.a] THEN v_positions[v_first[g.a]] END,
                            CASE WHEN v_ok[g.a] THEN v_positions[v_first[g.a] + p_counts[g.a] - 1] END
                     FROM generate_series(1, v_appends) AS g(a)
                     ORDER BY g.a;
             END
             $treaty$;"#,
        events = tables.events,
        key = tables.append_key,
        stream_key = tables.stream_key(),
    )
}
