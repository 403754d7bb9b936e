//! `factory serve` built with the feature `otlp` exports its spans to the
//! collector `OTEL_EXPORTER_OTLP_ENDPOINT` names: here a local HTTP server
//! that keeps every request it receives. The spans still buffered are
//! sent when the server stops, so the test needs no waiting.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode};
use serde_json::json;
use support::Server;

/// A request the collector received: its request line and body.
type Received = (String, Vec<u8>);

/// Answers every request on `listener` with 200 and keeps it.
fn collector(listener: TcpListener) -> Arc<Mutex<Vec<Received>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let kept = kept.clone();
            std::thread::spawn(move || serve_connection(stream, &kept));
        }
    });
    received
}

/// Reads requests from one connection until the client closes it.
fn serve_connection(stream: TcpStream, kept: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        kept.lock().unwrap().push((line.trim_end().to_string(), body));
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(answer).is_err() {
            return;
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_its_spans_to_the_collector_the_environment_names() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = collector(listener);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        &dir.path().join("factory.db"),
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    let client = Client::new();
    let url = server.url("/factory/factory/0190a5d4-2c3b-7a10-8000-000000000001/open-factory");
    let answer = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .body(json!({}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let (status, output) = server.stop();
    assert!(status.success(), "{output:?}");
    assert!(
        output.iter().any(|line| line.contains("exporting traces over OTLP")),
        "{output:?}"
    );

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "the collector received nothing");
    assert!(
        received.iter().all(|(line, _)| line == "POST /v1/traces HTTP/1.1"),
        "{:?}",
        received.iter().map(|(line, _)| line).collect::<Vec<_>>()
    );
    let bodies: Vec<u8> = received.iter().flat_map(|(_, body)| body.clone()).collect();
    // Protobuf keeps strings as they are: the service's name, the spans'
    // names, and the caller's trace id in its 16 bytes.
    assert!(contains(&bodies, b"factory"));
    for name in [
        "treaty.http.command",
        "treaty.aggregate.execute",
        "treaty.aggregate.decide",
        "treaty.store.append",
        "treaty.projection.batch",
    ] {
        assert!(contains(&bodies, name.as_bytes()), "no span {name} was exported");
    }
    let trace_id: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&"4bf92f3577b34da6a3ce929d0e0e4736"[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert!(contains(&bodies, &trace_id), "the caller's trace was not exported");
}
