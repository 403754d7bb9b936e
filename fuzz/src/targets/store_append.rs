//! `store-append`: arbitrary values in every field of an append (stream,
//! expected version, event ids, contract names, versions, fingerprints,
//! header names and values, payload bytes, writer schemas: canonical ones
//! whose fields the input picks, hashed or not to the event's
//! fingerprint, and arbitrary text), sent to the memory and SQLite
//! stores, and to PostgreSQL when `TREATY_TEST_POSTGRES` names a server.
//!
//! A schema reaches the registry's rule book when its fingerprint is new
//! for a stored version: the rules run on what the input wrote.
//!
//! Invariants: nothing panics; every backend gives the same answer (the
//! same result, or the same error with the same text); an accepted append
//! reads back through `read_all` exactly as it was sent; no append fails
//! with a storage error (validation must refuse whatever a backend cannot
//! store); and the stores keep working: a good append after refused ones
//! succeeds, and every backend holds the same events and the same
//! registry rows.

use futures::StreamExt;
use treaty_runtime::store::{
    AppendError, AppendResult, EventStore, ExpectedVersion, MemoryStore, Metadata, NewEvent, PostgresConfig,
    PostgresOptions, PostgresStore, RecordedEvent, SqliteConfig, SqliteStore, StreamName,
};
use treaty_runtime::{Timestamp, Uuid, WriterSchema};

use crate::engine::{Reader, Target, Writer};

/// The size limit of the stores under test: small, so the fuzzer reaches
/// it.
const LIMIT: usize = 4096;

const CONTRACT: &str = "fuzz.Happened";
const FINGERPRINT: &str = "0123456789abcdef0123456789abcdef";

/// Field flags of an event.
const SAME_ID_AS_BEFORE: u8 = 1;
const STORED_ID: u8 = 2;
const OWN_CONTRACT: u8 = 4;
const OWN_FINGERPRINT: u8 = 8;
const OWN_VERSION: u8 = 16;
/// The event carries a writer schema (read after its metadata).
const WITH_SCHEMA: u8 = 32;

pub fn target() -> Box<dyn Target> {
    Box::new(StoreAppend::new())
}

/// The stores, each fed every input.
enum Store {
    Memory(MemoryStore),
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, AppendError> {
        match self {
            Store::Memory(store) => store.append(stream, expected, events).await,
            Store::Sqlite(store) => store.append(stream, expected, events).await,
            Store::Postgres(store) => store.append(stream, expected, events).await,
        }
    }

    /// `count` events from `position` on.
    async fn read(&self, position: u64, count: usize) -> Result<Vec<RecordedEvent>, String> {
        let events = match self {
            Store::Memory(store) => store.read_all(position),
            Store::Sqlite(store) => store.read_all(position),
            Store::Postgres(store) => store.read_all(position),
        };
        let read: Vec<_> = events.take(count).collect().await;
        read.into_iter()
            .map(|e| e.map_err(|e| format!("{}: reading from {position}: {e}", self.name())))
            .collect()
    }

    /// The registry as the stores can agree on it: each row's contract,
    /// version, fingerprint and schema, in the registry's order. First
    /// positions and times are each store's own.
    async fn registry(&self) -> Result<Vec<(String, u32, String, Option<String>)>, String> {
        match self {
            Store::Memory(store) => store.contracts().await,
            Store::Sqlite(store) => store.contracts().await,
            Store::Postgres(store) => store.contracts().await,
        }
        .map(|rows| {
            rows.into_iter()
                .map(|row| (row.name, row.version, row.fingerprint, row.schema))
                .collect()
        })
        .map_err(|e| format!("{}: contracts: {e}", self.name()))
    }

    async fn head(&self) -> Result<u64, String> {
        match self {
            Store::Memory(store) => store.head().await,
            Store::Sqlite(store) => store.head().await,
            Store::Postgres(store) => store.head().await,
        }
        .map_err(|e| format!("{}: head: {e}", self.name()))
    }
}

struct StoreAppend {
    runtime: tokio::runtime::Runtime,
    stores: Vec<Store>,
    /// The ids of accepted events, for appends that reuse them.
    stored: Vec<Uuid>,
    /// Inputs run since the last check that the stores still work.
    unchecked: u32,
    /// Per store, in `stores`' order: the last position counted and how
    /// many events were read up to it. Events are counted by reading them,
    /// not from `head`, because positions may have holes (PostgreSQL's
    /// come from a sequence, and a refused append can use some up).
    counted: Vec<(u64, usize)>,
    /// The PostgreSQL schema to drop at the end.
    schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl StoreAppend {
    fn new() -> StoreAppend {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        // In memory when the machine has it: the fuzzer measures the
        // store's checks, not the disk.
        let dir = tempfile::Builder::new()
            .tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .expect("a temporary directory");
        let sqlite = SqliteConfig {
            max_event_bytes: LIMIT,
            ..SqliteConfig::default()
        };
        let mut stores = vec![
            Store::Memory(MemoryStore::with_max_event_bytes(LIMIT)),
            Store::Sqlite(SqliteStore::open_with(dir.path().join("events.db"), sqlite).expect("a SQLite store")),
        ];
        let mut schema = None;
        if let Ok(url) = std::env::var("TREATY_TEST_POSTGRES") {
            let name = format!("fuzz_{}", Uuid::now_v7().simple());
            let config = PostgresConfig {
                connection: PostgresOptions {
                    schema: name.clone(),
                    ..PostgresOptions::default()
                },
                max_event_bytes: LIMIT,
                ..PostgresConfig::default()
            };
            let store = runtime
                .block_on(PostgresStore::open_with(&url, config))
                .expect("a PostgreSQL store");
            stores.push(Store::Postgres(store));
            schema = Some((url, name));
        }
        let names: Vec<&str> = stores.iter().map(Store::name).collect();
        println!("fuzz store-append: backends {}", names.join(", "));
        StoreAppend {
            runtime,
            stores,
            stored: Vec::new(),
            unchecked: 0,
            counted: Vec::new(),
            schema,
            _dir: dir,
        }
    }

    /// The append an input describes: `None` when its stream name is not
    /// valid, which `StreamName::new` refuses before any store sees it.
    fn decode(&self, input: &[u8]) -> Option<(StreamName, ExpectedVersion, Vec<NewEvent>)> {
        let mut r = Reader::new(input);
        let stream = StreamName::new(r.text()).ok()?;
        let expected = match r.u8() % 4 {
            0 => ExpectedVersion::Any,
            1 => ExpectedVersion::NoStream,
            2 => ExpectedVersion::StreamExists,
            _ => ExpectedVersion::Exact(u64::from(r.u8())),
        };
        let count = 1 + r.u8() as usize % 3;
        let mut events: Vec<NewEvent> = Vec::with_capacity(count);
        for _ in 0..count {
            let flags = r.u8();
            let id = if flags & SAME_ID_AS_BEFORE != 0 && !events.is_empty() {
                events[events.len() - 1].id
            } else if flags & STORED_ID != 0 && !self.stored.is_empty() {
                self.stored[r.u8() as usize % self.stored.len()]
            } else {
                Uuid::now_v7()
            };
            let contract = if flags & OWN_CONTRACT != 0 {
                r.text()
            } else {
                CONTRACT.into()
            };
            let fingerprint = if flags & OWN_FINGERPRINT != 0 {
                r.text()
            } else {
                FINGERPRINT.into()
            };
            let contract_version = if flags & OWN_VERSION != 0 { r.u32() } else { 1 };
            let payload = r.long().to_vec();
            let mut metadata = Metadata {
                timestamp: Timestamp::from_second(i64::from(r.u32())).unwrap_or_else(|_| Timestamp::now()),
                correlation_id: None,
                causation_id: None,
                headers: Default::default(),
            };
            for _ in 0..r.u8() % 3 {
                let name = r.text();
                let value = match r.u8() {
                    // A long value, to reach the size limit.
                    255 => "v".repeat(usize::from(r.u16())),
                    _ => r.text(),
                };
                metadata.headers.insert(name, value);
            }
            let mut event = NewEvent {
                id,
                contract,
                contract_version,
                fingerprint,
                payload,
                metadata,
                schema: None,
            };
            if flags & WITH_SCHEMA != 0 {
                writer_schema(&mut r, &mut event, flags & OWN_FINGERPRINT == 0);
            }
            events.push(event);
        }
        Some((stream, expected, events))
    }

    /// Appends to every store, checks they agree and that an accepted
    /// append reads back as sent.
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<bool, String> {
        let mut answers = Vec::with_capacity(self.stores.len());
        for store in &self.stores {
            let head = store.head().await?;
            let answer = store.append(stream, expected, events.to_vec()).await;
            if let Err(e @ (AppendError::Storage(_) | AppendError::Unavailable(_))) = &answer {
                return Err(format!(
                    "{}: the backend failed on an append validation let through: {e}",
                    store.name()
                ));
            }
            if let Ok(result) = &answer {
                if result.first_position > head {
                    // New events: they read back exactly as sent.
                    let read = store.read(result.first_position, events.len()).await?;
                    same_events(store.name(), events, &read, stream)?;
                } else {
                    // A retry: the original result, nothing written.
                    if store.head().await? != head {
                        return Err(format!("{}: a retry wrote events", store.name()));
                    }
                }
            }
            // Positions are each store's own (PostgreSQL's may skip the
            // ones a refused append used up), so the stores are compared
            // on everything else.
            let comparable = match &answer {
                Ok(result) => format!(
                    "Ok(stream_version: {}, positions in order: {})",
                    result.stream_version,
                    result.first_position <= result.last_position
                ),
                Err(e) => format!("{:?}", e),
            };
            answers.push((store.name(), comparable));
        }
        let (first, expected_answer) = &answers[0];
        for (name, answer) in &answers[1..] {
            if answer != expected_answer {
                return Err(format!(
                    "the backends disagree:\n  {first}: {expected_answer}\n  {name}: {answer}"
                ));
            }
        }
        Ok(expected_answer.starts_with("Ok"))
    }

    /// A good append succeeds on every store, and they hold the same
    /// number of events.
    async fn still_working(&self, counted: &mut Vec<(u64, usize)>) -> Result<(), String> {
        let canary = StreamName::new("canary").expect("a valid name");
        let event = NewEvent {
            id: Uuid::now_v7(),
            contract: CONTRACT.into(),
            contract_version: 1,
            fingerprint: FINGERPRINT.into(),
            payload: b"{\"canary\":true}".to_vec(),
            metadata: Metadata::now(),
            schema: None,
        };
        let mut counts = Vec::new();
        counted.resize(self.stores.len(), (0, 0));
        for (store, (last, count)) in self.stores.iter().zip(counted.iter_mut()) {
            store
                .append(&canary, ExpectedVersion::Any, vec![event.clone()])
                .await
                .map_err(|e| format!("{}: a good append after the others failed: {e}", store.name()))?;
            let new = store.read(*last + 1, usize::MAX).await?;
            *count += new.len();
            *last = new.last().map_or(*last, |e| e.position);
            counts.push((store.name(), *count));
        }
        if counts.iter().any(|(_, count)| *count != counts[0].1) {
            return Err(format!("the stores hold different numbers of events: {counts:?}"));
        }
        self.same_registries().await
    }

    /// Every store's registry holds the same rows: an append refused in
    /// one backend registers nothing there that another keeps out.
    async fn same_registries(&self) -> Result<(), String> {
        let first = self.stores[0].registry().await?;
        for store in &self.stores[1..] {
            let registry = store.registry().await?;
            if registry != first {
                let only = |a: &[(String, u32, String, Option<String>)],
                            b: &[(String, u32, String, Option<String>)]| {
                    a.iter().filter(|row| !b.contains(row)).cloned().collect::<Vec<_>>()
                };
                return Err(format!(
                    "the registries differ:\n  only in {}: {:?}\n  only in {}: {:?}",
                    self.stores[0].name(),
                    only(&first, &registry),
                    store.name(),
                    only(&registry, &first)
                ));
            }
        }
        Ok(())
    }
}

/// Whether `read` are `sent`, as appended to `stream`.
fn same_events(store: &str, sent: &[NewEvent], read: &[RecordedEvent], stream: &StreamName) -> Result<(), String> {
    if read.len() != sent.len() {
        return Err(format!(
            "{store}: appended {} events, read back {}",
            sent.len(),
            read.len()
        ));
    }
    for (sent, read) in sent.iter().zip(read) {
        let same = read.id == sent.id
            && read.stream == *stream
            && read.contract == sent.contract
            && read.contract_version == sent.contract_version
            && read.fingerprint == sent.fingerprint
            && read.payload == sent.payload
            && read.metadata == sent.metadata;
        if !same {
            return Err(format!("{store}: read back {read:?}\n  appended {sent:?}"));
        }
    }
    Ok(())
}

impl Target for StoreAppend {
    fn seeds(&self) -> Vec<Vec<u8>> {
        let mut seeds = Vec::new();
        // One event with the default contract and `payload`.
        let simple = |stream: &[u8], payload: &[u8]| {
            let mut w = Writer::default();
            w.short(stream).u8(0).u8(0).u8(0).long(payload).u32(1_700_000_000).u8(0);
            w.0
        };
        for payload in [
            &b"{\"n\":1}"[..],
            b"{\"a\":\"\xff\xfe\"}",
            b"{\"\xc0\x80\":1}",
            b"1e400",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\\ud83d\\ude00\\u0000\"}",
            b"123456789012345678901234567890",
            b"not json",
        ] {
            seeds.push(simple(b"order-1", payload));
        }
        for depth in [127, 128] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            seeds.push(simple(b"deep-1", nested.as_bytes()));
        }
        for stream in [&b"a\0b"[..], b"$all", b"\x1b[2J", b""] {
            seeds.push(simple(stream, b"{}"));
        }
        // Contract names, fingerprints and versions of their own.
        for (contract, fingerprint, version) in [
            (&b"a\0b"[..], FINGERPRINT.as_bytes(), 1u32),
            (b"shop.\x1b[2JPlaced", FINGERPRINT.as_bytes(), 1),
            (b"a b", FINGERPRINT.as_bytes(), 1),
            (b"a\xe2\x80\xaeb", FINGERPRINT.as_bytes(), 1),
            (b"fuzz.Big", FINGERPRINT.as_bytes(), u32::MAX),
            (b"fuzz.Big", FINGERPRINT.as_bytes(), 1 << 31),
            (b"fuzz.Zero", FINGERPRINT.as_bytes(), 0),
            (b"fuzz.Short", b"f1", 1),
            (b"fuzz.Upper", b"0123456789ABCDEF0123456789ABCDEF", 1),
            (CONTRACT.as_bytes(), b"fedcba9876543210fedcba9876543210", 1),
        ] {
            let mut w = Writer::default();
            w.short(b"names-1").u8(0).u8(0);
            w.u8(OWN_CONTRACT | OWN_FINGERPRINT | OWN_VERSION)
                .short(contract)
                .short(fingerprint)
                .u32(version)
                .long(b"{}")
                .u32(0)
                .u8(0);
            seeds.push(w.0);
        }
        // Headers: names, values, and metadata over the limit.
        for (name, value) in [
            (&b"user"[..], &b"ann"[..]),
            (b"a b", b"v"),
            (b"", b"v"),
            (b"x\0", b"v"),
            (b"note", b"nul \0 escape \x1b[31m"),
        ] {
            let mut w = Writer::default();
            w.short(b"headers-1")
                .u8(0)
                .u8(0)
                .u8(0)
                .long(b"{}")
                .u32(0)
                .u8(1)
                .short(name)
                .u8(1)
                .short(value);
            seeds.push(w.0);
        }
        let mut w = Writer::default();
        w.short(b"headers-2")
            .u8(0)
            .u8(0)
            .u8(0)
            .long(b"{}")
            .u32(0)
            .u8(1)
            .short(b"big")
            .u8(255);
        w.0.extend_from_slice(&5000u16.to_le_bytes());
        seeds.push(w.0);
        // A batch repeating an id; a batch reusing a stored id; expected
        // versions.
        let mut w = Writer::default();
        w.short(b"repeat-1").u8(1).u8(1);
        w.u8(0).long(b"{}").u32(0).u8(0);
        w.u8(SAME_ID_AS_BEFORE).long(b"{}").u32(0).u8(0);
        seeds.push(w.0);
        let mut w = Writer::default();
        w.short(b"order-1")
            .u8(0)
            .u8(0)
            .u8(STORED_ID)
            .u8(0)
            .long(b"{}")
            .u32(0)
            .u8(0);
        seeds.push(w.0);
        for expected in [1u8, 2, 3] {
            let mut w = Writer::default();
            w.short(b"order-1")
                .u8(expected)
                .u8(1)
                .u8(0)
                .u8(0)
                .long(b"{\"x\":[]}")
                .u32(0)
                .u8(0);
            seeds.push(w.0);
        }
        // Writer schemas: a shape, then the same version with a field
        // added with a default, widened, changed to a string (refused by
        // the rules), with no fields; a schema not hashed to its
        // fingerprint; arbitrary text.
        let schema = |w: &mut Writer, specs: &[u8]| {
            w.u8(WITH_SCHEMA | OWN_CONTRACT)
                .short(b"fuzz.Shaped")
                .long(b"{}")
                .u32(0)
                .u8(0)
                .u8(specs.len() as u8);
            for spec in specs {
                w.u8(*spec);
            }
        };
        for specs in [&[0u8][..], &[0, 3], &[4], &[12], &[]] {
            let mut w = Writer::default();
            w.short(b"schema-1").u8(0).u8(0);
            schema(&mut w, specs);
            seeds.push(w.0);
        }
        let mut w = Writer::default();
        w.short(b"schema-2").u8(0).u8(0);
        w.u8(WITH_SCHEMA | OWN_CONTRACT | OWN_FINGERPRINT)
            .short(b"fuzz.Shaped")
            .short(FINGERPRINT.as_bytes())
            .long(b"{}")
            .u32(0)
            .u8(0)
            .u8(1)
            .u8(0);
        seeds.push(w.0);
        let mut w = Writer::default();
        w.short(b"schema-3").u8(0).u8(0);
        w.u8(WITH_SCHEMA)
            .long(b"{}")
            .u32(0)
            .u8(0)
            .u8(255)
            .short(b"[1,{\"fields\":2}]");
        seeds.push(w.0);
        seeds
    }

    fn run(&mut self, input: &[u8]) -> Result<bool, String> {
        let Some((stream, expected, events)) = self.decode(input) else {
            return Ok(false);
        };
        let accepted = self.runtime.block_on(self.append(&stream, expected, &events))?;
        if accepted {
            self.stored.extend(events.iter().map(|e| e.id));
            if self.stored.len() > 1024 {
                self.stored.drain(..512);
            }
        }
        self.unchecked += 1;
        if !accepted || self.unchecked >= 16 {
            self.unchecked = 0;
            let mut counted = std::mem::take(&mut self.counted);
            let checked = self.runtime.block_on(self.still_working(&mut counted));
            self.counted = counted;
            checked?;
        }
        Ok(accepted)
    }
}

impl Drop for StoreAppend {
    fn drop(&mut self) {
        let Some((url, schema)) = self.schema.take() else {
            return;
        };
        self.stores.clear();
        self.runtime.block_on(async {
            if let Ok((client, connection)) = tokio_postgres_connect(&url).await {
                let driver = tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
                drop(client);
                let _ = driver.await;
            }
        });
    }
}

async fn tokio_postgres_connect(
    url: &str,
) -> Result<
    (
        tokio_postgres::Client,
        tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
    ),
    tokio_postgres::Error,
> {
    tokio_postgres::connect(url, tokio_postgres::NoTls).await
}

/// Field names and types the schemas the input writes choose from: few,
/// so that two schemas of one version often share fields and the rules
/// compare them.
const FIELD_NAMES: [&str; 4] = ["count", "note", "total", "channel"];
const FIELD_TYPES: [&str; 6] = ["u32", "u64", "i32", "String", "String?", "bool"];

/// A field type of [`FIELD_TYPES`] as canonical schemas write it.
fn field_type(index: u8) -> serde_json::Value {
    match FIELD_TYPES[usize::from(index) % FIELD_TYPES.len()] {
        "String?" => serde_json::json!({"optional": "String"}),
        plain => plain.into(),
    }
}

/// Gives `event` a writer schema read from `r`: a canonical message schema
/// of its contract and version with fields the input picks (some with a
/// default), hashed to the event's fingerprint when `hashed`; or, when
/// the input asks, arbitrary text.
fn writer_schema(r: &mut Reader<'_>, event: &mut NewEvent, hashed: bool) {
    let kind = r.u8();
    let text = if kind == 255 {
        r.text()
    } else {
        let mut fields = serde_json::Map::new();
        for _ in 0..kind % 4 {
            let spec = r.u8();
            let mut field = serde_json::Map::new();
            field.insert("type".into(), field_type(spec >> 2));
            if spec & 2 != 0 {
                field.insert("default".into(), serde_json::Value::from(u32::from(spec)));
            }
            fields.insert(FIELD_NAMES[usize::from(spec) % FIELD_NAMES.len()].into(), field.into());
        }
        let mut schema = serde_json::Map::new();
        schema.insert("fields".into(), fields.into());
        schema.insert("kind".into(), "event".into());
        schema.insert("name".into(), event.contract.clone().into());
        schema.insert("version".into(), event.contract_version.into());
        serde_json::Value::Object(schema).to_string()
    };
    if hashed {
        event.fingerprint = treaty_compat::fingerprint(&text);
    }
    event.schema = WriterSchema::parse(&text).ok();
}
