//! Schemathesis (from PyPI) generates requests from the served
//! `/openapi.json` (examples from the specs, the schema's boundaries, and
//! random valid and invalid data) and checks every response: never a 5xx,
//! status codes, content types, headers and bodies as the document says.

mod support;

use std::process::Command;

use support::{package_file, program, Server};

#[test]
fn schemathesis_finds_no_server_error_and_no_response_outside_the_schema() {
    let Some(st) = program("st", &[], "pip install schemathesis, as .ci/http.sh does") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A short wait, since generated positions are mostly never reached.
    let server = Server::start(&dir.path().join("factory.db"), &["--view-wait-ms", "100"]);
    let version = Command::new(&st).arg("--version").output().expect("st runs");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let output = Command::new(&st)
        .arg("--no-color")
        .arg("--config-file")
        .arg(package_file("tests/schemathesis.toml"))
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--max-examples", "60", "--seed", "20261202", "--workers", "2"])
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    let generated = report
        .lines()
        .map(str::trim)
        .find(|line| {
            line.contains(" generated") && line.split_whitespace().next().is_some_and(|n| n.parse::<u64>().is_ok())
        })
        .unwrap_or("(no count)")
        .trim()
        .to_string();
    // What CI logs show: the version and how many cases it generated.
    eprintln!("schemathesis: {version}; test cases: {generated}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let count: u64 = generated
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no case count in:\n{report}"));
    assert!(count >= 100, "only {count} cases were generated:\n{report}");
    assert!(generated.contains(&format!("{count} passed")), "{generated}");
}
