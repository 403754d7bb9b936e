//! `treaty import-ddd`, run as users run it, on the Lokad-style files
//! under `tests/ddd`, which together use the whole of Lokad's grammar.

mod common;

use std::path::{Path, PathBuf};

use common::{stderr, treaty};
use treaty_dsl::schema::Segment;
use treaty_dsl::{compile, Config, Sources};

fn ddd(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/ddd")
        .join(name)
        .display()
        .to_string()
}

/// Imports both sample files into a new directory; returns it and stderr.
fn import_samples() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("contracts");
    let output = treaty(
        dir.path(),
        &[
            "import-ddd",
            &ddd("security.ddd"),
            &ddd("billing.ddd"),
            "-o",
            "contracts",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (dir, out, stderr(&output))
}

#[test]
fn the_output_passes_check_and_is_formatted() {
    let (dir, out, _) = import_samples();
    assert!(out.join("security.treaty").is_file());
    assert!(out.join("billing.treaty").is_file());
    let output = treaty(dir.path(), &["check", "contracts"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Already in `treaty fmt`'s layout, so formatting changes nothing.
    let output = treaty(dir.path(), &["fmt", "--check", "contracts"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Every message of the samples under its contract name on the wire
/// (Lokad.CQRS's `DataContract` namespace and class name), with its
/// fields' wire names (aggregate identity first, fragments expanded) as
/// Lokad's C# properties had them, and its template, if any.
const EXPECTED: &[(&str, &[&str], Option<&str>)] = &[
    (
        "Sample.Billing/AddLines",
        &["Id", "Quantities", "Descriptions", "Discount", "Rate", "Urgent"],
        None,
    ),
    (
        "Sample.Billing/InvoiceCreated",
        &["Id", "CustomerId", "IssuedAt", "Total", "BillTo"],
        Some("Invoice for {customer_id} issued {issued_at} over total"),
    ),
    (
        "Sample.Billing/CreateInvoice",
        &["Id", "CustomerId", "IssuedAt", "Total", "BillTo"],
        None,
    ),
    (
        "Sample.Billing/InvoicePaid",
        &[
            "Id", "Count", "Ratio", "Priority", "Sequence", "Total", "Flag", "PaidAt", "Receipts", "Method",
        ],
        Some("Paid with Method {count} times at {paid_at}"),
    ),
    (
        "Sample.Billing/LinesAdded",
        &[
            "Id",
            "Quantities",
            "Descriptions",
            "Discount",
            "Rate",
            "Urgent",
            "Delay",
            "Scan",
        ],
        None,
    ),
    ("Sample.Billing/Ping", &[], None),
    ("Sample.Billing/Pong", &["At"], None),
    ("Sample.Billing/ReportReady", &["Url", "Format"], None),
    ("Sample.Billing/RequestReport", &["Query"], None),
    (
        "Sample.Security/AddSecurityIdentity",
        &["Id", "DisplayName", "Identity"],
        None,
    ),
    (
        "Sample.Security/AddSecurityPassword",
        &["Id", "DisplayName", "Login", "Password"],
        None,
    ),
    ("Sample.Security/CreateSecurityAggregate", &["Id"], None),
    ("Sample.Security/RemoveSecurityItem", &["Id", "UserId"], None),
    ("Sample.Security/SecurityAggregateCreated", &["Id"], None),
    (
        "Sample.Security/SecurityIdentityAdded",
        &["Id", "UserId", "DisplayName", "Identity", "Token"],
        Some("Added identity '{identity}' userId; unknown stays text"),
    ),
    (
        "Sample.Security/SecurityItemDisplayNameUpdated",
        &["Id", "UserId", "DisplayName"],
        None,
    ),
    (
        "Sample.Security/SecurityItemRemoved",
        &["Id", "UserId", "Lookup", "Type"],
        Some("Removed {type} {lookup}"),
    ),
    (
        "Sample.Security/SecurityPasswordAdded",
        &["Id", "UserId", "DisplayName", "Login", "PasswordHash", "Token"],
        Some("Added login '{display_name}' userId with {login}, token {token}"),
    ),
    (
        "Sample.Security/UpdateSecurityItemDisplayName",
        &["Id", "UserId", "DisplayName"],
        None,
    ),
];

#[test]
fn every_message_field_and_template_is_kept() {
    let (_dir, out, _) = import_samples();
    let mut sources = Sources::new();
    sources.load(&[out]).unwrap();
    let schema = compile(&sources, &Config::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    let mut actual: Vec<(String, Vec<String>, Option<String>)> = schema
        .messages()
        .map(|m| {
            let template = m.display.as_ref().map(|segments| {
                segments
                    .iter()
                    .map(|s| match s {
                        Segment::Text(t) => t.clone(),
                        Segment::Field(f) => format!("{{{f}}}"),
                    })
                    .collect::<String>()
            });
            let fields = m.current.fields.iter().map(|f| f.wire.clone()).collect();
            (m.wire.clone(), fields, template)
        })
        .collect();
    actual.sort();
    let mut expected: Vec<(String, Vec<String>, Option<String>)> = EXPECTED
        .iter()
        .map(|(n, f, t)| {
            (
                n.to_string(),
                f.iter().map(|f| f.to_string()).collect(),
                t.map(String::from),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(actual, expected);
    // The plain contracts are records, and the fragments are declared.
    let security = std::fs::read_to_string(sources_dir(&sources, "security.treaty")).unwrap();
    for fragment in [
        "const name = display_name: String wire \"DisplayName\";",
        "const login = login: String wire \"Login\";",
        "const token = token: String wire \"Token\";",
    ] {
        assert!(security.contains(fragment), "{fragment} in\n{security}");
    }
    let billing = std::fs::read_to_string(sources_dir(&sources, "billing.treaty")).unwrap();
    assert!(
        billing.contains("record Money(amount: Decimal wire \"Amount\", currency: String wire \"Currency\");"),
        "{billing}"
    );
    assert!(
        billing.contains(
            "record Address(street: String wire \"Street\", city: String wire \"City\", zip: String? wire \"Zip\");"
        ),
        "{billing}"
    );
    assert!(
        billing.contains("aggregate Invoice(id: InvoiceId wire \"Id\") {"),
        "{billing}"
    );
    // Comments inside a declaration go above it; those at the end stay.
    assert!(
        billing.contains("    // per line\n    AddLines? wire \"Sample.Billing/AddLines\" ("),
        "{billing}"
    );
    assert!(
        billing.contains("record Audited(who: String wire \"Who\");\n// The end of the billing contracts.\n"),
        "{billing}"
    );
}

fn sources_dir(sources: &Sources, file: &str) -> String {
    sources
        .iter()
        .map(|(_, f)| f.name.clone())
        .find(|n| n.ends_with(file))
        .unwrap_or_else(|| panic!("{file} was not written"))
}

#[test]
fn placeholders_are_declared_marked_and_reported() {
    let (_dir, out, stderr) = import_samples();
    let security = std::fs::read_to_string(out.join("security.treaty")).unwrap();
    let billing = std::fs::read_to_string(out.join("billing.treaty")).unwrap();
    for (text, declaration) in [
        (&security, "id SecurityId: Uuid;"),
        (&security, "record UserId();"),
        (&billing, "id InvoiceId: Uuid;"),
        (&billing, "record PaymentMethod();"),
        (&billing, "record ReportFormat();"),
        (&billing, "record Audited(who: String wire \"Who\");"),
    ] {
        let at = text
            .find(declaration)
            .unwrap_or_else(|| panic!("{declaration} in\n{text}"));
        let line_before = text[..at].trim_end().lines().last().unwrap_or("");
        assert!(line_before.contains("TODO(import-ddd)"), "{declaration}: {line_before}");
    }
    for note in [
        "security.ddd:13:20: note: `SecurityId` is defined in C#",
        "security.ddd:23:28: note: `UserId` is defined in C#",
        "billing.ddd:17:132: note: `PaymentMethod` is defined in C#",
        "billing.ddd:31:1: note: `Audited$`: unknown marker `$`",
        "billing.ddd:16:100: note: `TimeSpan` has no counterpart",
        "note: `SecurityIdentityAdded`: the placeholder `{unknown}` names no field",
    ] {
        assert!(stderr.contains(note), "{note} in\n{stderr}");
    }
    assert!(stderr.contains("12 notes above need a person"), "{stderr}");
    // Lokad's markers and namespaces are kept as comments.
    assert!(security.contains("// Lokad: extern \"Sample.Security\""), "{security}");
    assert!(
        security.contains("implement `ISecurityEvent<SecurityId>`"),
        "{security}"
    );
}

#[test]
fn errors_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let output = treaty(dir.path(), &["import-ddd", "missing.ddd", "-o", "out"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read missing.ddd"),
        "{}",
        stderr(&output)
    );

    std::fs::write(dir.path().join("latin1.ddd"), b"namespace A;\nCaf\xe9?()\n").unwrap();
    let output = treaty(dir.path(), &["import-ddd", "latin1.ddd", "-o", "out"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("latin1.ddd:2:4: the file is not valid UTF-8; save it as UTF-8"),
        "{}",
        stderr(&output)
    );

    std::fs::write(dir.path().join("a.ddd"), "namespace A;\nPing?()\n").unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    std::fs::write(dir.path().join("out/a.treaty"), "kept").unwrap();
    let output = treaty(dir.path(), &["import-ddd", "a.ddd", "-o", "out"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("exists; delete it or choose another -o"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/a.treaty")).unwrap(),
        "kept"
    );
}

#[test]
fn a_file_without_namespace_gets_a_placeholder_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bare.ddd"), "Ping?(int count)\n").unwrap();
    let output = treaty(dir.path(), &["import-ddd", "bare.ddd", "-o", "out"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("bare.ddd:1:1: note: no namespace"),
        "{}",
        stderr(&output)
    );
    let text = std::fs::read_to_string(dir.path().join("out/bare.treaty")).unwrap();
    assert!(
        text.contains("namespace imported;\nPing? wire \"Ping\" (count: i32 wire \"Count\");"),
        "{text}"
    );
}
