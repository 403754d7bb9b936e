//! The OTLP layer sends the spans it records to the collector it is
//! given: here a one-request HTTP server on a local port that keeps what
//! it received.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;

use tracing_subscriber::layer::SubscriberExt as _;
use treaty_runtime::telemetry::otlp::{layer, OtlpConfig};

/// A request as the collector received it.
struct Request {
    line: String,
    headers: Vec<String>,
    body: Vec<u8>,
}

/// Accepts one request on `listener`, answers 200, and returns it.
fn receive_one(listener: TcpListener) -> Request {
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end().to_string();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
        headers.push(header.to_ascii_lowercase());
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
        .unwrap();
    Request {
        line: line.trim_end().to_string(),
        headers,
        body,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn spans_reach_the_collector_with_the_service_name() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let collector = std::thread::spawn(move || receive_one(listener));

    let (traces, guard) = layer(OtlpConfig::new("otlp-test-service").endpoint(endpoint)).unwrap();
    let subscriber = tracing_subscriber::registry().with(traces);
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("treaty.test.exported", message_id = "m-1");
        outer.in_scope(|| {
            tracing::info_span!("treaty.test.inner").in_scope(|| {});
        });
    });
    // Sends what is buffered now, and waits for the answer.
    guard.flush();
    let request = collector.join().unwrap();
    assert_eq!(request.line, "POST /v1/traces HTTP/1.1");
    assert!(
        request
            .headers
            .iter()
            .any(|h| h == "content-type: application/x-protobuf"),
        "{:?}",
        request.headers
    );
    for expected in [
        &b"treaty.test.exported"[..],
        b"treaty.test.inner",
        b"otlp-test-service",
        b"m-1",
    ] {
        assert!(
            contains(&request.body, expected),
            "{} not in the export",
            String::from_utf8_lossy(expected)
        );
    }
    guard.shutdown();
}

#[test]
fn an_endpoint_that_is_no_url_is_an_error() {
    let refused = layer::<tracing_subscriber::Registry>(OtlpConfig::new("test").endpoint("not a url"));
    assert!(refused.is_err());
}
