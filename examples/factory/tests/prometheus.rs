//! A real Prometheus scrapes `factory serve`: the scrape configuration of
//! `docs/operations.md` pointed at the server, commands driven over HTTP,
//! then Prometheus's HTTP API asked until the series arrive, with the
//! values the commands imply. Skipped with a printed reason without
//! Debian's `prometheus`, except under CI (`.ci/prometheus.sh` installs it).

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use support::{package_file, program, Server};

/// How long the test waits for Prometheus to start and for a series to
/// reach its value; scrapes are 1 s apart.
const PATIENCE: Duration = Duration::from_secs(90);

/// The address in the documented scrape configuration, replaced by the
/// test server's.
const DOCUMENTED_TARGET: &str = "127.0.0.1:8080";

/// A Prometheus process, killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Prometheus {
    fn start(binary: &Path, dir: &Path, config: &str) -> Prometheus {
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = dir.join("prometheus.log");
        let output = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(output)
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until Prometheus answers that it is ready.
    async fn ready(&mut self, client: &Client) {
        let started = Instant::now();
        loop {
            if let Ok(answer) = client.get(format!("{}/-/ready", self.base)).send().await {
                if answer.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited with {status}:\n{}", self.log());
            }
            assert!(
                started.elapsed() < PATIENCE,
                "prometheus was not ready within {PATIENCE:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The result of an instant query: each series's labels and value.
    async fn query(&self, client: &Client, query: &str) -> Vec<(Value, f64)> {
        let answer: Value = client
            .get(format!("{}/api/v1/query?query={}", self.base, percent_encoded(query)))
            .send()
            .await
            .expect("prometheus answers")
            .json()
            .await
            .expect("a JSON answer");
        assert_eq!(answer["status"], "success", "{query}: {answer}");
        answer["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{query}: no result in {answer}"))
            .iter()
            .map(|series| {
                let value = series["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("{query}: a sample without a number: {series}"));
                (series["metric"].clone(), value)
            })
            .collect()
    }

    /// Queries until `done` holds for the result; returns it, or fails
    /// with the last result after [`PATIENCE`].
    async fn until(&self, client: &Client, query: &str, done: impl Fn(&[(Value, f64)]) -> bool) -> Vec<(Value, f64)> {
        let started = Instant::now();
        loop {
            let result = self.query(client, query).await;
            if done(&result) {
                return result;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{query} did not reach the expected value within {PATIENCE:?}; last result {result:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The YAML block of `docs/operations.md` that follows the line
/// `<!-- scrape-config -->`.
fn documented_scrape_config() -> String {
    let doc = std::fs::read_to_string(package_file("../../docs/operations.md")).unwrap();
    let (_, after) = doc
        .split_once("<!-- scrape-config -->")
        .expect("docs/operations.md marks its scrape configuration with <!-- scrape-config -->");
    let block = after
        .trim_start()
        .strip_prefix("```yaml\n")
        .expect("a ```yaml block follows the marker");
    let (yaml, _) = block.split_once("```").expect("the block ends");
    yaml.to_string()
}

fn factory_id(n: u128) -> String {
    format!("0190a5d4-2c3b-7a10-8000-{n:012x}")
}

async fn command(client: &Client, url: String, body: Value) {
    let answer = client
        .post(&url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the command is answered");
    assert_eq!(answer.status(), StatusCode::OK, "{url}: {:?}", answer.text().await);
}

/// The one value of a query whose result is one series.
fn single(result: &[(Value, f64)]) -> Option<f64> {
    match result {
        [(_, value)] => Some(*value),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_documented_configuration_and_gets_the_runtime_metrics() {
    let Some(binary) = program(
        "prometheus",
        &["/usr/bin/prometheus"],
        "apt-get install prometheus, as .ci/prometheus.sh does",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("factory.db"), &[]);
    let client = Client::new();

    // The endpoint itself, in Prometheus's text format.
    let metrics = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    // The documented configuration, pointed at this server and scraping
    // every second.
    let documented = documented_scrape_config();
    assert!(documented.contains(DOCUMENTED_TARGET), "{documented}");
    assert!(documented.contains("scrape_interval: 15s"), "{documented}");
    let target = server.base.strip_prefix("http://").unwrap();
    let config = documented
        .replace(DOCUMENTED_TARGET, target)
        .replace("scrape_interval: 15s", "scrape_interval: 1s");
    let mut prometheus = Prometheus::start(&binary, dir.path(), &config);
    prometheus.ready(&client).await;

    // Five commands, each appending one event: three factories opened, and
    // two cars produced in the first.
    let mut commands = 0;
    for n in 1..=3 {
        let url = server.url(&format!("/factory/factory/{}/open-factory", factory_id(n)));
        command(&client, url, json!({})).await;
        commands += 1;
    }
    for _ in 0..2 {
        let url = server.url(&format!("/factory/factory/{}/produce-car", factory_id(1)));
        let body =
            json!({"employee_name": "Ann", "car_model": "Model T", "price": {"cents": 2500000, "currency": "USD"}});
        command(&client, url, body).await;
        commands += 1;
    }
    let commands = f64::from(commands);

    prometheus
        .until(&client, r#"up{job="treaty"}"#, |r| single(r) == Some(1.0))
        .await;
    prometheus
        .until(
            &client,
            r#"treaty_store_appends_total{job="treaty",backend="sqlite",outcome="ok"}"#,
            |r| single(r) == Some(commands),
        )
        .await;
    prometheus
        .until(
            &client,
            r#"treaty_store_events_appended_total{job="treaty",backend="sqlite"}"#,
            |r| single(r) == Some(commands),
        )
        .await;
    // The latency histogram: one observation per append, in buckets.
    prometheus
        .until(
            &client,
            r#"treaty_store_append_duration_seconds_count{job="treaty",backend="sqlite"}"#,
            |r| single(r) == Some(commands),
        )
        .await;
    let buckets = prometheus
        .query(
            &client,
            r#"treaty_store_append_duration_seconds_bucket{job="treaty",backend="sqlite",le="+Inf"}"#,
        )
        .await;
    assert_eq!(single(&buckets), Some(commands), "{buckets:?}");
    let sum = prometheus
        .query(
            &client,
            r#"treaty_store_append_duration_seconds_sum{job="treaty",backend="sqlite"}"#,
        )
        .await;
    assert!(single(&sum).is_some_and(|s| s > 0.0), "{sum:?}");
    // No append was refused, so no refusal series is recorded.
    let refusals = prometheus.query(&client, "treaty_registry_refusals_total").await;
    assert!(refusals.is_empty(), "{refusals:?}");

    // Both projections caught up with the five events, with no lag left.
    let checkpoints = prometheus
        .until(&client, r#"treaty_projection_checkpoint_position{job="treaty"}"#, |r| {
            r.len() == 2 && r.iter().all(|(_, v)| *v == commands)
        })
        .await;
    let mut projections: Vec<String> = checkpoints
        .iter()
        .map(|(labels, _)| labels["projection"].as_str().unwrap().to_string())
        .collect();
    projections.sort();
    assert_eq!(projections, ["factory.activity", "factory.cars_by_model"]);
    prometheus
        .until(&client, r#"treaty_projection_lag_events{job="treaty"}"#, |r| {
            r.len() == 2 && r.iter().all(|(_, v)| *v == 0.0)
        })
        .await;
    // Each started on a new generation, built and promoted.
    prometheus
        .until(
            &client,
            r#"treaty_projection_rebuild_progress_ratio{job="treaty"}"#,
            |r| r.len() == 2 && r.iter().all(|(_, v)| *v == 1.0),
        )
        .await;
    let lag = prometheus
        .query(&client, r#"treaty_projection_lag_seconds{job="treaty"}"#)
        .await;
    assert!(lag.len() == 2 && lag.iter().all(|(_, v)| *v >= 0.0), "{lag:?}");
    let applied = prometheus
        .query(
            &client,
            r#"sum by (projection) (treaty_projection_events_applied_total{job="treaty"})"#,
        )
        .await;
    assert!(
        applied.len() == 2 && applied.iter().all(|(_, v)| *v == commands),
        "{applied:?}"
    );

    // Every query of the Grafana dashboard is one this Prometheus accepts
    // (with Grafana's variables filled in as Grafana does), and those over
    // the appends have data.
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(package_file("../../docs/grafana/treaty.json")).unwrap())
            .unwrap();
    let mut expressions = Vec::new();
    expressions_of(&dashboard["panels"], &mut expressions);
    assert!(expressions.len() >= 10, "{expressions:?}");
    for expression in expressions {
        let query = expression
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$job", "treaty");
        if query.contains("treaty_store_appends_total") {
            // A rate needs two scrapes of the series.
            prometheus.until(&client, &query, |r| !r.is_empty()).await;
        } else {
            prometheus.query(&client, &query).await;
        }
    }
}

/// `text` as a URL query value: every byte but the unreserved ones
/// percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every `expr` of the panels' queries.
fn expressions_of(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(expr) if key == "expr" => found.push(expr.clone()),
                    _ => expressions_of(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| expressions_of(item, found)),
        _ => {}
    }
}
