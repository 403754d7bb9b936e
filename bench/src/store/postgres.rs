//! `postgres_append_batch_100`: appends of 100 events through
//! `PostgresStore`, against raw tokio-postgres multi-row inserts of the
//! same rows into an identical table.

use std::time::{Duration, Instant};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};
use treaty_runtime::store::{
    EventStore, ExpectedVersion, NewEvent, PostgresConfig, PostgresOptions, PostgresStore, StreamName,
};
use uuid::Uuid;

use super::{failed, rate, REPETITIONS, SUITE};
use crate::events;
use crate::report::{Report, Row, Target};
use crate::Failure;

pub const CASE: &str = "postgres_append_batch_100";

/// Events per append.
const BATCH: u32 = 100;

/// Appends per run: 20,000 events.
const BATCHES: usize = 200;

/// Streams appended to in turn.
const STREAMS: usize = 10;

/// The store's target: at least 0.8 of the raw insert rate.
const TARGET: f64 = 0.8;

const COLUMNS: &str = "position, id, stream, version, contract, contract_version, fingerprint, payload, metadata";

pub async fn batches(url: &str, report: &mut Report) -> Result<(), Failure> {
    eprintln!("store: {CASE}: {BATCHES} appends of {BATCH} events to {STREAMS} streams");
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(failed("connect to PostgreSQL"))?;
    let connection = tokio::spawn(connection);
    // Every run gets schemas of its own, so each starts from empty tables;
    // all are dropped at the end, whether the runs succeeded or not.
    let run_id = Uuid::now_v7().simple().to_string();
    let mut schemas = Vec::new();
    let measured = measure(url, &client, &run_id, &mut schemas).await;
    for schema in &schemas {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .map_err(failed(format!("drop the schema {schema}")))?;
    }
    drop(client);
    let _ = connection.await;
    let (treaty, raw) = measured?;
    let events = BATCHES * BATCH as usize;
    let row = Row::new(SUITE, CASE, rate(events, treaty), "events/s")
        .relative_to("tokio-postgres", rate(events, raw))
        .target(Target::AtLeast(TARGET));
    report.push(row);
    Ok(())
}

/// The best time of each side over the runs after the warm-up.
async fn measure(
    url: &str,
    client: &Client,
    run_id: &str,
    schemas: &mut Vec<String>,
) -> Result<(Duration, Duration), Failure> {
    let mut treaty = Duration::MAX;
    let mut raw = Duration::MAX;
    for run in 0..=REPETITIONS {
        let store_schema = format!("bench_{run_id}_{run}_store");
        let raw_schema = format!("bench_{run_id}_{run}_raw");
        schemas.push(store_schema.clone());
        let treaty_time = store_batches(url, &store_schema).await?;
        schemas.push(raw_schema.clone());
        // `LIKE ... INCLUDING ALL` copies the store's table as it is:
        // columns, types, primary key and unique constraints.
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {raw_schema};
                 CREATE TABLE {raw_schema}.events (LIKE {store_schema}.events INCLUDING ALL);"
            ))
            .await
            .map_err(failed("create the raw table"))?;
        let raw_time = raw_batches(client, &raw_schema).await?;
        if run > 0 {
            treaty = treaty.min(treaty_time);
            raw = raw.min(raw_time);
        }
    }
    Ok((treaty, raw))
}

fn streams() -> Vec<StreamName> {
    (0..STREAMS)
        .map(|i| StreamName::new(format!("batch-{i}")).expect("the name is valid"))
        .collect()
}

async fn store_batches(url: &str, schema: &str) -> Result<Duration, Failure> {
    let config = PostgresConfig {
        connection: PostgresOptions {
            schema: schema.to_string(),
            ..PostgresOptions::default()
        },
        ..PostgresConfig::default()
    };
    let store = PostgresStore::open_with(url, config)
        .await
        .map_err(failed("open the PostgreSQL store"))?;
    let streams = streams();
    let batches: Vec<Vec<NewEvent>> = (0..BATCHES).map(|_| events::batch(BATCH)).collect();
    let mut versions = [0; STREAMS];
    let start = Instant::now();
    for (i, batch) in batches.into_iter().enumerate() {
        let at = i % STREAMS;
        versions[at] = store
            .append(&streams[at], ExpectedVersion::Exact(versions[at]), batch)
            .await
            .map_err(failed("append a batch to PostgreSQL"))?
            .stream_version;
    }
    Ok(start.elapsed())
}

/// One `INSERT ... VALUES (...), (...), ...` per batch, committed on its
/// own: the least a client can do to store a batch atomically.
async fn raw_batches(client: &Client, schema: &str) -> Result<Duration, Failure> {
    let placeholders: Vec<String> = (0..BATCH as usize)
        .map(|row| {
            let first = row * 9;
            let row: Vec<String> = (1..=9).map(|column| format!("${}", first + column)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    let insert = client
        .prepare(&format!(
            "INSERT INTO {schema}.events ({COLUMNS}) VALUES {}",
            placeholders.join(", ")
        ))
        .await
        .map_err(failed("prepare the raw insert"))?;
    let streams = streams();
    let batches: Vec<Vec<NewEvent>> = (0..BATCHES).map(|_| events::batch(BATCH)).collect();
    let mut versions = [0i64; STREAMS];
    let mut next_position = 1i64;
    let start = Instant::now();
    for (i, batch) in batches.iter().enumerate() {
        let at = i % STREAMS;
        let rows: Vec<RawRow> = batch
            .iter()
            .enumerate()
            .map(|(offset, event)| RawRow {
                position: next_position + offset as i64,
                version: versions[at] + 1 + offset as i64,
                contract_version: i64::from(event.contract_version),
                payload: std::str::from_utf8(&event.payload).expect("the payloads are JSON text"),
                metadata: serde_json::to_string(&event.metadata).expect("metadata always serialises"),
                event,
                stream: streams[at].as_str(),
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flat_map(RawRow::params).collect();
        client
            .execute(&insert, &params)
            .await
            .map_err(failed("insert a raw batch into PostgreSQL"))?;
        next_position += batch.len() as i64;
        versions[at] += batch.len() as i64;
    }
    Ok(start.elapsed())
}

/// One row's values, converted as the store converts them.
struct RawRow<'a> {
    position: i64,
    event: &'a NewEvent,
    stream: &'a str,
    version: i64,
    contract_version: i64,
    payload: &'a str,
    metadata: String,
}

impl RawRow<'_> {
    fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.position,
            &self.event.id,
            &self.stream,
            &self.version,
            &self.event.contract,
            &self.contract_version,
            &self.event.fingerprint,
            &self.payload,
            &self.metadata,
        ]
    }
}
