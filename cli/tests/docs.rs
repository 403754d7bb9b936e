//! `treaty docs`: the factory's contracts and use cases as a static site,
//! which headless Chromium renders.

use std::path::Path;
use std::process::Command;

fn treaty() -> Command {
    Command::new(env!("CARGO_BIN_EXE_treaty"))
}

fn factory(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/factory")
        .join(path)
}

/// Debian's Chromium, or `None` with a printed reason (a panic under CI,
/// where `.ci/http.sh` installs it).
fn chromium() -> Option<&'static Path> {
    let path = Path::new("/usr/bin/chromium");
    if path.is_file() {
        Some(path)
    } else if std::env::var_os("CI").is_some() {
        panic!("CI is set but /usr/bin/chromium is missing: .ci/http.sh must install Debian's chromium");
    } else {
        eprintln!("skipped: /usr/bin/chromium is not installed (apt-get install chromium)");
        None
    }
}

#[test]
fn docs_writes_the_page_the_openapi_document_and_the_catalog() {
    let out = tempfile::tempdir().unwrap();
    let status = treaty()
        .arg("docs")
        .arg(factory("contracts"))
        .arg("--specs")
        .arg(factory("use-cases.json"))
        .args(["--title", "Factory <contracts>", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(String::from_utf8_lossy(&status.stdout).contains("4 use cases"));
    let openapi: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("openapi.json")).unwrap()).unwrap();
    assert_eq!(openapi["openapi"], "3.1.0");
    let body =
        &openapi["paths"]["/factory/factory/{id}/produce-car"]["post"]["requestBody"]["content"]["application/json"];
    assert_eq!(
        body["examples"]["an-open-factory-produces-a-car"]["value"]["car_model"],
        "Model T"
    );
    assert!(openapi["components"]["schemas"]["factory.CarProduced.v1"].is_object());
    let catalog = std::fs::read_to_string(out.path().join("catalog.json")).unwrap();
    assert!(catalog.contains("\"factory.PingRequested\""));

    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", out.path().join("index.html").display()))
        .output()
        .unwrap();
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8(dom.stdout).unwrap();
    for expected in [
        "<h1>Factory &lt;contracts&gt;</h1>",
        "Aggregate <code>factory.Factory</code>",
        "factory.PingRequested",
        "Messages outside aggregates",
        "Employee '{employee_name}' produced a {color} {car_model}",
        "v2, v1",
        "An open factory produces a car",
        "Opening an open factory is refused",
        "the factory is already open",
        "POST /factory/factory/{id}/open-factory",
    ] {
        let escaped = expected.replace('\'', "&#39;");
        assert!(
            dom.contains(expected) || dom.contains(&escaped),
            "the rendered page lacks {expected:?}"
        );
    }
}

/// A process manager's specs (billing's collection, `ProcessSpec::use_case`
/// as JSON) render beside the contracts like an aggregate's: the event or
/// the timeout, then the commands the process sends and its other effects.
#[test]
fn docs_renders_a_process_manager_s_use_cases() {
    let billing = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/billing");
    let out = tempfile::tempdir().unwrap();
    let status = treaty()
        .arg("docs")
        .arg(billing.join("treaty"))
        .arg("--specs")
        .arg(billing.join("use-cases.json"))
        .args(["--title", "Billing", "-o"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(String::from_utf8_lossy(&status.stdout).contains("4 use cases"));
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let car = "00000000-0000-0000-0000-00000000ca42";
    for expected in [
        "An invoiced car gets its invoice sent",
        &format!("<span class=\"sentence\">Invoiced car {car} (Tesla)</span>"),
        "<p class=\"label\">Then the process</p>",
        &format!(
            "<li>sends: <span class=\"sentence\">Send invoice {car} for 2500000 USD</span> \
             <small>(<a href=\"#billing.SendInvoice\">SendInvoice</a>)</small></li>"
        ),
        "<li>schedules the timeout payment-due in 30d</li>",
        "<li>cancels the timeout payment-due</li>\n<li>completes</li>",
        // A timeout is no message: a sentence without a link.
        "<li><span class=\"sentence\">the timeout payment-due of 00000000-0000-0000-0000-00000000ca41 is due</span></li>",
        "<p><span class=\"label\">Then</span> the process does nothing.</p>",
    ] {
        assert!(page.contains(expected), "the page lacks {expected:?}");
    }
    // An event is no command: no request body to show.
    assert!(!page.contains("The command as JSON"));
}

#[test]
fn docs_refuses_what_it_cannot_read() {
    let out = tempfile::tempdir().unwrap();
    let missing = treaty()
        .arg("docs")
        .arg(factory("contracts"))
        .arg("--specs")
        .arg(out.path().join("nothing.json"))
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    let bad = out.path().join("bad.json");
    std::fs::write(&bad, "{\"not\": \"a list\"}").unwrap();
    let not_use_cases = treaty()
        .arg("docs")
        .arg(factory("contracts"))
        .arg("--specs")
        .arg(&bad)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(not_use_cases.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_use_cases.stderr).contains("not a JSON list of use cases"));
    let broken = out.path().join("broken.treaty");
    std::fs::write(&broken, "namespace x;\nY!(m: Mony);\n").unwrap();
    let invalid = treaty()
        .arg("docs")
        .arg(&broken)
        .arg("-o")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("unknown-type"));
    assert!(!out.path().join("index.html").exists());
}
