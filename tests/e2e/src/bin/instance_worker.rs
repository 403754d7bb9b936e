//! One instance of a service running the bank projections, for
//! `tests/projection_instances.rs`: several of them run against one view
//! store, and the test kills them at random.
//!
//! `instance_worker sqlite EVENTS_DB VIEWS_DB INSTANCE LEASE_MS v1|v2 LOG`
//! or `instance_worker postgres URL SCHEMA INSTANCE LEASE_MS v1|v2 LOG`
//! runs `Balances` (`v1`) or `BalancesV2` (`v2`, another fingerprint, so
//! it rebuilds) and `BankTotals` under the instance name `INSTANCE`, with
//! a lease of `LEASE_MS` milliseconds (renewed every quarter of it, tried
//! every fifth), until it is killed. It appends a line to `LOG` for every
//! write the view store accepted or refused through a lease:
//! `commit PROJECTION GENERATION TOKEN FROM TO`, `promote PROJECTION
//! GENERATION TOKEN`, `refused PROJECTION TOKEN` (a write fenced out),
//! `failed PROJECTION TOKEN` (a write under a lease that failed otherwise)
//! `lost PROJECTION TOKEN` (a renewal that found the lease taken over)
//! and `standby PROJECTION INSTANCE` (the engine stopped working on the
//! projection and stands by).

#[path = "../../tests/bank/mod.rs"]
mod bank;
#[path = "../../tests/projection/mod.rs"]
mod projection;

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use treaty::projection::{
    EngineConfig, Generation, GenerationDetails, Lease, Phase, ProjectionEngine, SqliteViewStore, ViewChange,
    ViewError, ViewStore,
};
use treaty::store::{EventStore, SqliteStore};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, events, views, instance, lease_ms, version, log] = args.as_slice() else {
        eprintln!("usage: instance_worker sqlite|postgres EVENTS VIEWS INSTANCE LEASE_MS v1|v2 LOG");
        return ExitCode::from(2);
    };
    let outcome = async {
        let lease: u64 = lease_ms.parse()?;
        let log = Arc::new(Mutex::new(File::options().create(true).append(true).open(log)?));
        let settings = Settings {
            instance: instance.clone(),
            lease: Duration::from_millis(lease),
            version: version.clone(),
            log,
        };
        match backend.as_str() {
            "sqlite" => run(SqliteStore::open(events)?, SqliteViewStore::open(views)?, settings).await,
            #[cfg(feature = "postgres")]
            "postgres" => {
                use treaty::projection::PostgresViewStore;
                use treaty::store::{PostgresConfig, PostgresOptions, PostgresStore};
                let options = PostgresOptions {
                    schema: views.clone(),
                    pool_size: 4,
                };
                let config = PostgresConfig {
                    connection: options.clone(),
                    ..PostgresConfig::default()
                };
                let store = PostgresStore::open_with(events, config).await?;
                run(store, PostgresViewStore::open_with(events, options).await?, settings).await
            }
            other => Err(format!("unknown backend {other:?}").into()),
        }
    };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("instance_worker: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    instance: String,
    lease: Duration,
    version: String,
    log: Arc<Mutex<File>>,
}

async fn run<S: EventStore + Clone, V: ViewStore>(
    events: S,
    views: V,
    settings: Settings,
) -> Result<(), Box<dyn std::error::Error>> {
    let views_log = settings.log.clone();
    let instance = settings.instance.clone();
    let views = Recorded {
        inner: views,
        token: None,
        log: settings.log,
    };
    let mut engine = ProjectionEngine::new(events, views);
    engine.config(EngineConfig {
        cache_views: 50,
        flush_events: 100,
        batch_events: 100,
        instance: Some(settings.instance),
        lease_ttl: settings.lease,
        lease_renew: settings.lease / 4,
        lease_retry: settings.lease / 5,
        ..EngineConfig::default()
    });
    match settings.version.as_str() {
        "v1" => engine.add(projection::Balances),
        "v2" => engine.add(projection::BalancesV2),
        other => return Err(format!("unknown version {other:?}, expected v1 or v2").into()),
    };
    engine.add(projection::BankTotals);
    let running = engine.start().await?;
    running.wait_live().await?;
    println!("started");
    std::io::stdout().flush()?;
    // Runs until killed; a projection that fails ends the process. Each
    // time a projection goes back to standing by, it says so in the log.
    let mut standing_by = std::collections::HashSet::new();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        for status in running.status() {
            match status.phase {
                Phase::Failed(reason) => {
                    return Err(format!("projection {} failed: {reason}", status.name).into());
                }
                Phase::Standby => {
                    if standing_by.insert(status.name) {
                        log_line(&views_log, format!("standby {} {instance}", status.name));
                    }
                }
                _ => {
                    standing_by.remove(status.name);
                }
            }
        }
    }
}

/// A view store that logs the writes made under a lease.
#[derive(Clone)]
struct Recorded<V> {
    inner: V,
    token: Option<u64>,
    log: Arc<Mutex<File>>,
}

fn log_line(log: &Mutex<File>, line: String) {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(log, "{line}");
}

impl<V> Recorded<V> {
    fn line(&self, line: String) {
        log_line(&self.log, line);
    }

    /// Logs a write refused by the fence, or failed otherwise (such as a
    /// session the server ended while this process was paused inside its
    /// transaction), and passes the outcome on.
    fn refused<T>(&self, projection: &str, outcome: Result<T, ViewError>) -> Result<T, ViewError> {
        match (&outcome, self.token) {
            (Err(ViewError::LeaseLost { token, .. }), _) => self.line(format!("refused {projection} {token}")),
            (Err(_), Some(token)) => self.line(format!("failed {projection} {token}")),
            _ => {}
        }
        outcome
    }
}

impl<V: ViewStore> ViewStore for Recorded<V> {
    async fn generations(&self) -> Result<Vec<Generation>, ViewError> {
        self.inner.generations().await
    }

    async fn begin_generation(&self, projection: &str, generation: u64, fingerprint: &str) -> Result<(), ViewError> {
        let outcome = self.inner.begin_generation(projection, generation, fingerprint).await;
        self.refused(projection, outcome)
    }

    async fn describe(&self, projection: &str, generation: u64, details: GenerationDetails) -> Result<(), ViewError> {
        self.inner.describe(projection, generation, details).await
    }

    async fn load(
        &self,
        projection: &str,
        generation: u64,
        keys: Vec<String>,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        self.inner.load(projection, generation, keys).await
    }

    async fn commit(
        &self,
        projection: &str,
        generation: u64,
        from: u64,
        to: u64,
        changes: Vec<ViewChange>,
    ) -> Result<(), ViewError> {
        let outcome = self.inner.commit(projection, generation, from, to, changes).await;
        if outcome.is_ok() {
            let token = self.token.unwrap_or(0);
            self.line(format!("commit {projection} {generation} {token} {from} {to}"));
        }
        self.refused(projection, outcome)
    }

    async fn promote(&self, projection: &str, generation: u64) -> Result<Option<u64>, ViewError> {
        let outcome = self.inner.promote(projection, generation).await;
        if outcome.is_ok() {
            let token = self.token.unwrap_or(0);
            self.line(format!("promote {projection} {generation} {token}"));
        }
        self.refused(projection, outcome)
    }

    async fn drop_generation(&self, projection: &str, generation: u64) -> Result<(), ViewError> {
        let outcome = self.inner.drop_generation(projection, generation).await;
        self.refused(projection, outcome)
    }

    async fn acquire(&self, projection: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        self.inner.acquire(projection, holder, ttl).await
    }

    async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, ViewError> {
        let renewed = self.inner.renew(lease, ttl).await;
        if let Ok(None) = renewed {
            self.line(format!("lost {} {}", lease.projection, lease.token));
        }
        renewed
    }

    async fn release(&self, lease: &Lease) -> Result<(), ViewError> {
        self.inner.release(lease).await
    }

    async fn leases(&self) -> Result<Vec<Lease>, ViewError> {
        self.inner.leases().await
    }

    fn fenced(&self, lease: &Lease) -> Self {
        Recorded {
            inner: self.inner.fenced(lease),
            token: Some(lease.token),
            log: self.log.clone(),
        }
    }

    async fn get(&self, projection: &str, key: &str) -> Result<Option<Vec<u8>>, ViewError> {
        self.inner.get(projection, key).await
    }

    async fn list(
        &self,
        projection: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, ViewError> {
        self.inner.list(projection, after, limit).await
    }
}
