//! The factory's HTTP API through a real client over real connections to
//! `factory serve` processes: every status the API answers, retries with
//! one `Idempotency-Key` (also across a restart on the same SQLite file),
//! `If-Match` races between concurrent clients, and reading one's writes.

mod support;

use reqwest::header::{CONTENT_TYPE, ETAG};
use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use support::Server;

fn factory_id(n: u128) -> String {
    format!("0190a5d4-2c3b-7a10-8000-{n:012x}")
}

async fn post(client: &Client, url: &str, body: Value, headers: &[(&str, &str)]) -> Response {
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("the request is answered")
}

/// Checks a problem answer and returns its body.
async fn problem(response: Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status, "{:?}", response.headers());
    assert_eq!(response.headers()[CONTENT_TYPE], "application/problem+json");
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["type"], format!("urn:treaty:problem:{kind}"), "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    body
}

fn produce() -> Value {
    json!({"employee_name": "Ann", "car_model": "Model T", "price": {"cents": 2500000, "currency": "USD"}})
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_answer_the_new_version_the_events_and_their_positions() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("factory.db"), &[]);
    let client = Client::new();
    let id = factory_id(1);

    let version = client
        .get(server.url(&format!("/factory/factory/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), StatusCode::OK);
    assert_eq!(version.headers()[ETAG], "\"0\"");
    assert_eq!(version.json::<Value>().await.unwrap()["version"], 0);

    let opened = post(
        &client,
        &server.url(&format!("/factory/factory/{id}/open-factory")),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(opened.status(), StatusCode::OK);
    assert_eq!(opened.headers()[ETAG], "\"1\"");
    assert_eq!(opened.headers()["treaty-position"], "1");
    let opened: Value = opened.json().await.unwrap();
    assert_eq!(opened["stream"], format!("factory-{id}"));
    assert_eq!(opened["stream_version"], 1);
    assert_eq!(opened["duplicate"], false);
    assert_eq!(
        opened["events"],
        json!([{
            "contract": "factory.FactoryOpened", "contract_version": 1, "version": 1, "position": 1,
            "payload": {"id": id}, "text": format!("Opened factory {id}"),
        }])
    );

    // The whole command at /commands/{contract}, expecting version 1.
    let mut whole = produce();
    whole["id"] = json!(id);
    let produced = post(
        &client,
        &server.url("/commands/factory.ProduceCar"),
        whole,
        &[("if-match", "\"1\"")],
    )
    .await;
    assert_eq!(produced.status(), StatusCode::OK);
    assert_eq!(produced.headers()[ETAG], "\"2\"");
    let produced: Value = produced.json().await.unwrap();
    let event = &produced["events"][0];
    assert_eq!(event["contract"], "factory.CarProduced");
    assert_eq!(event["contract_version"], 2);
    assert_eq!(
        (event["version"].as_u64(), event["position"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(event["payload"]["color"], "Blue");
    assert_eq!(event["text"], "Employee 'Ann' produced a Blue Model T");
    assert_eq!(produced["position"], 2);

    let version = client
        .get(server.url(&format!("/factory/factory/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(version.headers()[ETAG], "\"2\"");

    let docs = client.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(docs.text().await.unwrap().contains("factory.ProduceCar"));
    let openapi: Value = client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["paths"]["/factory/factory/{id}/produce-car"]["post"].is_object());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_is_a_problem_with_its_status_and_never_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("factory.db"),
        &["--body-limit", "4096", "--view-wait-ms", "150"],
    );
    let client = Client::new();
    let id = factory_id(2);
    let produce_url = server.url(&format!("/factory/factory/{id}/produce-car"));

    // 409: the domain refuses, with the error's text.
    let refused = problem(
        post(&client, &produce_url, produce(), &[]).await,
        StatusCode::CONFLICT,
        "refused",
    )
    .await;
    assert_eq!(refused["detail"], "the factory is closed");

    // 400: every bad field, each with its pointer and expected type.
    let bad = json!({"employee_name": 5, "price": {"cents": "x"}, "unknown": true});
    let body = problem(
        post(&client, &produce_url, bad, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid-body",
    )
    .await;
    assert_eq!(
        body["errors"],
        json!([
            {"pointer": "/employee_name", "expected": "String", "detail": "expected a string, found an integer"},
            {"pointer": "/car_model", "expected": "String", "detail": "the field is missing"},
            {"pointer": "/price/cents", "expected": "i64",
             "detail": "expected a whole number from -9223372036854775808 to 9223372036854775807, found a string"},
            {"pointer": "/price/currency", "expected": "String", "detail": "the field is missing"},
        ])
    );
    // 400: not JSON; the identity in the body of the path route; an id
    // that is not a UUID; a header that is not a version.
    let not_json = client
        .post(&produce_url)
        .header(CONTENT_TYPE, "application/json")
        .body("{\"employee_name\": ")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::BAD_REQUEST, "invalid-body").await;
    let mut with_id = produce();
    with_id["id"] = json!(id);
    let body = problem(
        post(&client, &produce_url, with_id, &[]).await,
        StatusCode::BAD_REQUEST,
        "invalid-body",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/id");
    let bad_id = post(
        &client,
        &server.url("/factory/factory/not-a-uuid/produce-car"),
        produce(),
        &[],
    )
    .await;
    problem(bad_id, StatusCode::BAD_REQUEST, "invalid-path").await;
    let bad_header = post(&client, &produce_url, produce(), &[("if-match", "yesterday")]).await;
    problem(bad_header, StatusCode::BAD_REQUEST, "invalid-header").await;
    let bad_key = post(
        &client,
        &produce_url,
        produce(),
        &[("idempotency-key", &"k".repeat(300))],
    )
    .await;
    problem(bad_key, StatusCode::BAD_REQUEST, "invalid-header").await;

    // 404: unknown routes, commands and views.
    let unknown = client.get(server.url("/factory/factory")).send().await.unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    let unknown = post(
        &client,
        &server.url(&format!("/factory/factory/{id}/fly")),
        json!({}),
        &[],
    )
    .await;
    problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    let unknown = client
        .get(server.url("/views/factory.activity/nobody"))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    // 405: a route that exists, with another method.
    let wrong = client.get(&produce_url).send().await.unwrap();
    problem(wrong, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;

    // 413: over the body limit, declared or streamed.
    let large = json!({"employee_name": "A".repeat(5000), "car_model": "T", "price": null});
    problem(
        post(&client, &produce_url, large, &[]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
    )
    .await;
    let chunks = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let streamed = client
        .post(&produce_url)
        .header(CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    // The rest of the body was not read: the connection is not reused.
    assert_eq!(streamed.headers()[reqwest::header::CONNECTION], "close");
    problem(streamed, StatusCode::PAYLOAD_TOO_LARGE, "body-too-large").await;

    // 415: not JSON, or no content type.
    let text = client
        .post(&produce_url)
        .header(CONTENT_TYPE, "text/plain")
        .body(produce().to_string())
        .send()
        .await
        .unwrap();
    problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;
    let none = client
        .post(&produce_url)
        .body(produce().to_string())
        .send()
        .await
        .unwrap();
    problem(none, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;

    // 412: the stream is not at the expected version; ETag says where it is.
    let open = server.url(&format!("/factory/factory/{id}/open-factory"));
    assert_eq!(post(&client, &open, json!({}), &[]).await.status(), StatusCode::OK);
    let stale = post(&client, &produce_url, produce(), &[("expectedversion", "0")]).await;
    assert_eq!(stale.headers()[ETAG], "\"1\"");
    let body = problem(stale, StatusCode::PRECONDITION_FAILED, "wrong-version").await;
    assert_eq!(body["current_version"], 1);
    let disagreeing = post(
        &client,
        &produce_url,
        produce(),
        &[("if-match", "\"1\""), ("expectedversion", "2")],
    )
    .await;
    problem(disagreeing, StatusCode::PRECONDITION_FAILED, "wrong-version").await;

    // Views: 400 for a position that is no number, 412 for one the
    // projection does not reach within the server's bound.
    let view = server.url(&format!("/views/factory.activity/{id}"));
    let bad = client.get(format!("{view}?min_position=soon")).send().await.unwrap();
    problem(bad, StatusCode::BAD_REQUEST, "invalid-query").await;
    let behind = client.get(format!("{view}?min_position=1000000")).send().await.unwrap();
    assert_eq!(behind.headers()["retry-after"], "1");
    let body = problem(behind, StatusCode::PRECONDITION_FAILED, "projection-behind").await;
    assert!(body["checkpoint"].as_u64().unwrap() < 1_000_000, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_idempotency_key_answers_the_original_outcome_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("factory.db");
    let id = factory_id(3);
    let client = Client::new();
    let server = Server::start(&db, &[]);
    let open = server.url(&format!("/factory/factory/{id}/open-factory"));
    let first = post(&client, &open, json!({}), &[("idempotency-key", "open-3")]).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["duplicate"], false);

    // A retry, even with the precondition the first request had, is the
    // same message: the original events, positions and version.
    let retry = post(
        &client,
        &open,
        json!({}),
        &[("idempotency-key", "open-3"), ("if-match", "\"0\"")],
    )
    .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.headers()[ETAG], "\"1\"");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["events"], first["events"]);
    assert_eq!(retry["message_id"], first["message_id"]);
    // The same key through the whole-command route is the same message too.
    let whole = post(
        &client,
        &server.url("/commands/factory.OpenFactory"),
        json!({"id": id}),
        &[("idempotency-key", "open-3")],
    )
    .await;
    assert_eq!(whole.json::<Value>().await.unwrap()["events"], first["events"]);

    let produce_url = server.url(&format!("/factory/factory/{id}/produce-car"));
    let produced = post(&client, &produce_url, produce(), &[("idempotency-key", "car-1")]).await;
    let produced: Value = produced.json().await.unwrap();
    assert_eq!(produced["stream_version"], 2);

    // Another process on the same file, after a graceful stop.
    let (status, output) = server.stop();
    assert!(status.success(), "{status}: {output:?}");
    assert!(output.iter().any(|line| line == "shutting down"), "{output:?}");
    let server = Server::start(&db, &[]);
    let produce_url = server.url(&format!("/factory/factory/{id}/produce-car"));
    let again = post(&client, &produce_url, produce(), &[("idempotency-key", "car-1")]).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()[ETAG], "\"2\"");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["events"], produced["events"]);
    assert_eq!(again["position"], produced["position"]);
    // Applied once: the stream holds the opening and one car.
    let version = client
        .get(server.url(&format!("/factory/factory/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(version.headers()[ETAG], "\"2\"");
    // A new key is a new command.
    let another = post(&client, &produce_url, produce(), &[("idempotency-key", "car-2")]).await;
    assert_eq!(another.headers()[ETAG], "\"3\"");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_expecting_one_version_see_exactly_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("factory.db"), &[]);
    let client = Client::new();
    let id = factory_id(4);
    let open = post(
        &client,
        &server.url(&format!("/factory/factory/{id}/open-factory")),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(open.status(), StatusCode::OK);
    let url = server.url(&format!("/factory/factory/{id}/produce-car"));
    for round in 0..3u64 {
        let expected = format!("\"{}\"", round + 1);
        let racers = (0..8).map(|_| {
            let (client, url, expected) = (Client::new(), url.clone(), expected.clone());
            tokio::spawn(async move {
                let response = post(&client, &url, produce(), &[("if-match", &expected)]).await;
                let status = response.status();
                let etag = response.headers()[ETAG].to_str().unwrap().to_string();
                (status, etag)
            })
        });
        let results = futures::future::join_all(racers).await;
        let results: Vec<(StatusCode, String)> = results.into_iter().map(Result::unwrap).collect();
        let winners = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        let now = format!("\"{}\"", round + 2);
        for (status, etag) in &results {
            assert!(
                *status == StatusCode::OK || *status == StatusCode::PRECONDITION_FAILED,
                "{results:?}"
            );
            assert_eq!(
                *etag, now,
                "every answer names the version after the winner: {results:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_reads_its_writes_through_min_position() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("factory.db"), &[]);
    let client = Client::new();
    let id = factory_id(5);
    post(
        &client,
        &server.url(&format!("/factory/factory/{id}/open-factory")),
        json!({}),
        &[],
    )
    .await;
    let view = server.url(&format!("/views/factory.activity/{id}"));
    for n in 1..=5u64 {
        let mut car = produce();
        car["employee_name"] = json!(format!("worker {n}"));
        let produced = post(
            &client,
            &server.url(&format!("/factory/factory/{id}/produce-car")),
            car,
            &[],
        )
        .await;
        let position = produced.headers()["treaty-position"].to_str().unwrap().to_string();
        // Asked at once, without polling: the answer already holds the write.
        let read = client
            .get(format!("{view}?min_position={position}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), StatusCode::OK);
        let checkpoint: u64 = read.headers()["treaty-checkpoint"].to_str().unwrap().parse().unwrap();
        assert!(checkpoint >= position.parse().unwrap());
        let etag = read.headers()[ETAG].to_str().unwrap().to_string();
        let activity: Value = read.json().await.unwrap();
        assert_eq!(activity["cars_produced"], n, "{activity}");
        assert_eq!(activity["last_employee"], format!("worker {n}"));
        // Unchanged since: 304 with the same tag.
        let again = client.get(&view).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], etag.as_str());
    }
    let models = client
        .get(server.url("/views/factory.cars_by_model/Model%20T?min_position=6"))
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), StatusCode::OK);
    assert_eq!(models.json::<Value>().await.unwrap()["cars"], 5);
}
