//! The bus suite's `relay_rabbitmq_events`: integration events from one
//! store to another service's inbox over RabbitMQ, against raw lapin
//! publishing and consuming the same payloads with confirms and acks.
//!
//! - Treaty: `events` `Incremented` events stored beforehand in a durable
//!   SQLite store over 1,000 streams, whose registry holds their writer
//!   schema (sent with each event as `treaty-schema`); a [`Relay`] publishes them from
//!   position 1 (batches of its default 256, checkpoint saved after each
//!   is confirmed, the next published meanwhile), and an [`Inbox`] with its
//!   default prefetch, lanes and batch hands the events each lane holds to
//!   a handler that appends their copies, with ids derived from the
//!   events', to another durable SQLite store, one append per stream of
//!   the batch: the inbox's effect and its deduplication in one append.
//!   Timed from the relay's start until the last copy is stored.
//! - Raw lapin: the same payloads from memory, published persistent to a
//!   topic exchange in batches of 256 on a confirm channel (each batch's
//!   confirms awaited), into a durable quorum queue (the inbox's kind),
//!   consumed with the inbox's prefetch and acknowledged one by one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::{join_all, BoxFuture};
use futures::StreamExt;
use treaty::bus::{HandleError, MemoryQuarantine};
use treaty::relay::{
    Inbox, InboxConfig, IntegrationEvent, IntegrationHandler, Relay, RelayConfig, SqliteRelayCheckpoints,
};
use treaty::store::registry::{register_contracts, CompiledContract};
use treaty::store::{
    message_event_id, AppendError, EventStore, ExpectedVersion, Metadata, NewEvent, SqliteStore, StreamName,
};
use treaty::{Contract, ContractInfo, Uuid};

use crate::counter::{CounterId, Incremented, COUNTERS};
use crate::Failure;

/// Events per append when filling the source store.
const PER_APPEND: u64 = 20;

/// Appends each integration event to the inbox's store, with an id
/// derived from the event's: a repeat is recognized and changes nothing.
/// A batch makes one append per stream, all at once, so they share the
/// store's group commits.
struct Record {
    store: SqliteStore,
}

impl Record {
    /// The copy of `event` this handler appends.
    fn copy(event: &IntegrationEvent) -> NewEvent {
        NewEvent {
            id: message_event_id(event.id, 0),
            contract: event.contract.clone(),
            contract_version: event.contract_version,
            fingerprint: event.fingerprint.clone(),
            payload: event.payload.clone(),
            metadata: event.caused_metadata(),
            schema: event.schema.clone(),
        }
    }

    /// Appends the copies of `events`, all of one stream, in one append;
    /// one result per event.
    async fn append_stream(&self, events: &[&IntegrationEvent]) -> Vec<Result<(), HandleError>> {
        let stream = match StreamName::new(format!("received-{}", events[0].stream)) {
            Ok(stream) => stream,
            Err(e) => {
                return events
                    .iter()
                    .map(|_| Err(HandleError::Permanent(e.to_string())))
                    .collect()
            }
        };
        let copies = events.iter().map(|event| Self::copy(event)).collect();
        match self.store.append(&stream, ExpectedVersion::Any, copies).await {
            Ok(_) => events.iter().map(|_| Ok(())).collect(),
            // Some were appended before, in another batch: an append is
            // recognized as a repeat only whole, so each goes alone, in
            // order, and stops at the first failure.
            Err(AppendError::IdConflict { .. }) if events.len() > 1 => {
                let mut results = Vec::with_capacity(events.len());
                for event in events {
                    let result = self
                        .store
                        .append(&stream, ExpectedVersion::Any, vec![Self::copy(event)])
                        .await
                        .map(|_| ())
                        .map_err(|e| HandleError::Transient(e.to_string()));
                    let failed = result.is_err();
                    results.push(result);
                    if failed {
                        break;
                    }
                }
                results
            }
            Err(e) => events
                .iter()
                .map(|_| Err(HandleError::Transient(e.to_string())))
                .collect(),
        }
    }
}

impl IntegrationHandler for Record {
    fn contracts(&self) -> Vec<ContractInfo> {
        vec![ContractInfo::of::<Incremented>()]
    }

    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(async move {
            self.append_stream(&[event])
                .await
                .pop()
                .unwrap_or_else(|| Err(HandleError::Transient("nothing appended".into())))
        })
    }

    fn handle_batch<'a>(&'a self, events: &'a [IntegrationEvent]) -> BoxFuture<'a, Vec<Result<(), HandleError>>> {
        Box::pin(async move {
            // Each stream's events in the order they came, streams in the
            // order of their first event.
            let mut streams: Vec<Vec<usize>> = Vec::new();
            let mut index: HashMap<&str, usize> = HashMap::new();
            for (i, event) in events.iter().enumerate() {
                let at = *index.entry(event.stream.as_str()).or_insert_with(|| {
                    streams.push(Vec::new());
                    streams.len() - 1
                });
                streams[at].push(i);
            }
            let appended = join_all(streams.iter().map(|indices| async move {
                let of_stream: Vec<&IntegrationEvent> = indices.iter().map(|&i| &events[i]).collect();
                self.append_stream(&of_stream).await
            }))
            .await;
            let mut results: Vec<Option<Result<(), HandleError>>> = events.iter().map(|_| None).collect();
            for (indices, outcomes) in streams.iter().zip(appended) {
                for (&i, outcome) in indices.iter().zip(outcomes) {
                    results[i] = Some(outcome);
                }
            }
            // Without a result, an event's stream stopped at an earlier
            // failure: it fails too, without effect, and is retried after.
            results
                .into_iter()
                .zip(events)
                .map(|(result, event)| {
                    result.unwrap_or_else(|| {
                        Err(HandleError::Transient(format!(
                            "not appended: an earlier event of stream {} failed",
                            event.stream
                        )))
                    })
                })
                .collect()
        })
    }
}

fn failed(what: &'static str) -> impl Fn(String) -> Failure {
    move |e| Failure::new(format!("{what}: {e}"))
}

/// The source store, filled with `events` events, and their payloads.
async fn source(dir: &std::path::Path, events: u64) -> Result<(SqliteStore, Vec<Vec<u8>>), Failure> {
    let store =
        SqliteStore::open(dir.join("source.db")).map_err(|e| failed("cannot open the source")(e.to_string()))?;
    // Registered as a service registers its contracts at start, so the
    // store records the writer schema and the relay sends it with each
    // event (`treaty-schema`), as it would in production.
    register_contracts(&store, &CompiledContract::all_versions::<Incremented>())
        .await
        .map_err(|e| failed("cannot register the contracts")(e.to_string()))?;
    let mut payloads = Vec::new();
    let mut n = 0;
    while n < events {
        let counter = n / PER_APPEND % COUNTERS;
        let stream = StreamName::new(format!("counter-c{counter}")).map_err(|e| failed("stream")(e.to_string()))?;
        let batch: Vec<NewEvent> = (n..(n + PER_APPEND).min(events))
            .map(|i| {
                let event = Incremented {
                    id: CounterId(format!("c{counter}")),
                    by: i,
                };
                NewEvent::from_contract(&event, Metadata::now())
            })
            .collect::<Result<_, _>>()
            .map_err(|e| failed("encode")(e.to_string()))?;
        payloads.extend(batch.iter().map(|e| e.payload.clone()));
        n += batch.len() as u64;
        store
            .append(&stream, ExpectedVersion::Any, batch)
            .await
            .map_err(|e| failed("cannot fill the source")(e.to_string()))?;
    }
    Ok((store, payloads))
}

/// Events per second from a store through a relay and an inbox into
/// another store; also returns the payloads, for the baseline.
pub async fn treaty_relay(url: &str, events: u64) -> Result<(f64, Vec<Vec<u8>>), Failure> {
    let dir = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
    let (source, payloads) = source(dir.path(), events).await?;
    let target =
        SqliteStore::open(dir.path().join("target.db")).map_err(|e| failed("cannot open the target")(e.to_string()))?;
    let id = Uuid::now_v7().simple();
    let prefix = format!("bench.relay.{id}.");
    let queue = format!("bench.relay.{id}.inbox");
    let inbox = Inbox::new(
        url,
        Record { store: target.clone() },
        MemoryQuarantine::new(),
        InboxConfig {
            exchange_prefix: prefix.clone(),
            ..InboxConfig::new(queue.clone())
        },
    )
    .start()
    .await
    .map_err(|e| failed("cannot start the inbox")(e.to_string()))?;
    let checkpoints = SqliteRelayCheckpoints::open(dir.path().join("source.db"))
        .map_err(|e| failed("cannot open the checkpoints")(e.to_string()))?;
    let config = RelayConfig {
        exchange_prefix: prefix.clone(),
        ..RelayConfig::new("bench", &[ContractInfo::of::<Incremented>()])
    };
    let started = Instant::now();
    let relay = Relay::new(source, checkpoints, url, config)
        .map_err(|e| failed("cannot start the relay")(e.to_string()))?
        .start();
    let deadline = started + Duration::from_secs(600);
    // When the relay's checkpoint reached the end: shows which side of
    // the broker the time went to.
    let mut relayed = None;
    loop {
        if relayed.is_none() && relay.published() >= events {
            relayed = Some(started.elapsed());
        }
        let head = target.head().await.map_err(|e| failed("target")(e.to_string()))?;
        if head >= events {
            break;
        }
        if Instant::now() > deadline {
            return Err(Failure::new(format!(
                "the inbox stored {head} of {events} events in ten minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    if let Some(relayed) = relayed {
        eprintln!(
            "bus: relay: every event confirmed after {:.2} s, every event stored after {:.2} s",
            relayed.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    relay.shutdown().await;
    inbox.shutdown().await;
    let head = target.head().await.map_err(|e| failed("target")(e.to_string()))?;
    if head != events {
        return Err(Failure::new(format!(
            "{events} events relayed stored {head}, not one each"
        )));
    }
    delete(url, &queue, &format!("{prefix}{}", namespace()))
        .await
        .map_err(failed("cannot delete the relay's queue"))?;
    Ok((rate, payloads))
}

fn namespace() -> &'static str {
    Incremented::NAME
        .rsplit_once('.')
        .map_or(Incremented::NAME, |(namespace, _)| namespace)
}

async fn delete(url: &str, queue: &str, exchange: &str) -> Result<(), String> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .map_err(|e| e.to_string())?;
    let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let _ = connection.close(200, "done".into()).await;
    Ok(())
}

/// The same payloads with raw lapin: published in confirmed batches of
/// the relay's size through a topic exchange into a quorum queue,
/// consumed with the inbox's prefetch and acknowledged one by one.
pub async fn lapin_relay(url: &str, payloads: &[Vec<u8>]) -> Result<f64, Failure> {
    use lapin::options::{BasicAckOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions};
    use lapin::types::FieldTable;
    use lapin::{BasicProperties, ExchangeKind};

    let lapin_failed = crate::bus::raw::failed;
    let id = Uuid::now_v7().simple();
    let (exchange, queue) = (format!("bench.lapin.{id}.events"), format!("bench.lapin.{id}.inbox"));
    let batch = RelayConfig::new("bench", &[]).batch;
    let prefetch = InboxConfig::new("bench").prefetch;
    let (connection, publisher) = crate::bus::raw::publisher(url).await?;
    publisher
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(lapin_failed)?;
    crate::bus::raw::quorum_queue(&publisher, &queue).await?;
    publisher
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            Incremented::NAME.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(lapin_failed)?;
    let mut consumer = crate::bus::raw::consumer(&connection, &queue, prefetch).await?;
    let started = Instant::now();
    let publishing = {
        let (channel, exchange, payloads) = (publisher.clone(), exchange.clone(), payloads.to_vec());
        tokio::spawn(async move {
            for chunk in payloads.chunks(batch) {
                let mut confirms = Vec::with_capacity(chunk.len());
                for payload in chunk {
                    confirms.push(
                        channel
                            .basic_publish(
                                exchange.as_str().into(),
                                Incremented::NAME.into(),
                                BasicPublishOptions::default(),
                                payload,
                                BasicProperties::default()
                                    .with_content_type("application/json".into())
                                    .with_delivery_mode(2),
                            )
                            .await?,
                    );
                }
                for confirm in confirms {
                    confirm.await?;
                }
            }
            Ok::<_, lapin::Error>(())
        })
    };
    let mut acknowledged = 0;
    while acknowledged < payloads.len() {
        let delivery = consumer
            .next()
            .await
            .ok_or_else(|| Failure::new("the raw consumer stopped"))?
            .map_err(lapin_failed)?;
        delivery.ack(BasicAckOptions::default()).await.map_err(lapin_failed)?;
        acknowledged += 1;
    }
    publishing
        .await
        .map_err(|e| Failure::new(e.to_string()))?
        .map_err(lapin_failed)?;
    let rate = payloads.len() as f64 / started.elapsed().as_secs_f64();
    let _ = connection.close(0, "done".into()).await;
    delete(url, &queue, &exchange)
        .await
        .map_err(failed("cannot delete the raw queue"))?;
    Ok(rate)
}
