//! Headless Chromium loads the served `/docs` page: the rendered DOM holds
//! the factory's contracts and its specifications as use cases.

mod support;

use support::{chromium, dump_dom, Server};

#[test]
fn the_docs_page_renders_the_contracts_and_the_use_cases() {
    let Some(chromium) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("factory.db"), &[]);
    let dom = dump_dom(&chromium, &server.url("/docs"));
    for expected in [
        "<h1>Factory API</h1>",
        // The catalog: namespaces, the aggregate, commands and events with
        // their sentences, fields, routes and version history.
        "Namespace <code>factory</code>",
        "Aggregate <code>factory.Factory</code>",
        "factory.ProduceCar",
        "Employee '{employee_name}' produces a {car_model}",
        "POST /factory/factory/{id}/produce-car",
        "POST /commands/factory.OpenFactory",
        "GET /factory/factory/{id}",
        "factory.CarProduced",
        "Version history: v2, v1",
        "<code>shared.Money?</code>",
        "Namespace <code>shared</code>",
        // The specs as use cases.
        "Use cases",
        "An open factory produces a car",
        "Employee 'Ann' produced a Blue Model T",
        "A closed factory produces nothing",
        "the factory is closed",
        // The problem types.
        "urn:treaty:problem:wrong-version",
    ] {
        let escaped = expected.replace('\'', "&#39;");
        assert!(
            dom.contains(expected) || dom.contains(&escaped),
            "the rendered /docs lacks {expected:?}"
        );
    }
    assert!(dom.contains("href=\"openapi.json\""));
    // Self-contained: no script, nothing fetched from elsewhere.
    assert!(!dom.contains("<script"));
    assert!(!dom.contains("src=\"http"));
}
