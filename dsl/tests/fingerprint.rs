//! Fingerprints identify what a contract means on the wire. They must
//! ignore everything else (formatting, comments, docs, display templates,
//! field order) and change with anything that changes the wire shape,
//! including a change that reaches a message through the records it uses.
//! Stored events carry these fingerprints, so a drift in either direction
//! breaks running systems.

use expect_test::expect;
use treaty_dsl::{compile, contracts, CanonicalContract, Config, Sources};

const BASE: &str = r#"//! Orders of the shop.
namespace shop;

/// Reusable customer fields.
const customer = customer_name: String;

/// Identifies an order.
id OrderId: Uuid;

/// An amount of money.
record Money(cents: i64, currency: String) display "{cents} {currency}";

/// One line of an order.
record Line(sku: String, price: Money, quantity: u32 = 1);

/// Where an order stands.
enum Status { Open, Closed }

/// An order.
aggregate Order(id: OrderId) {
    /// Place an order.
    PlaceOrder?(customer, lines: [Line], note: String? = none)
        display "Order for {customer_name}";

    /// An order was placed.
    OrderPlaced! v2 (customer, lines: [Line], status: Status = Open, total: Money)
        was v1 (customer, lines: [Line]);
}

/// Checks that the shop answers.
PingRequested?(note: String = "");
"#;

/// Compiles `text` as the only file and returns its canonical contracts.
fn canonical(text: &str) -> Vec<CanonicalContract> {
    let mut sources = Sources::new();
    sources.add("shop.treaty", text);
    let schema = compile(&sources, &Config::default()).unwrap_or_else(|d| panic!("does not compile:\n{}", d.render()));
    contracts(&schema)
}

/// `name vN kind fingerprint`, one line per contract, in a stable order.
fn fingerprints(contracts: &[CanonicalContract]) -> Vec<String> {
    contracts
        .iter()
        .map(|c| format!("{} v{} {} {}", c.name, c.version, c.kind.as_str(), c.fingerprint))
        .collect()
}

/// The contracts (`name vN`) whose fingerprint differs between `before`
/// and `after`, including those only one of them has.
fn changed(before: &str, after: &str) -> Vec<String> {
    let before = canonical(before);
    let after = canonical(after);
    let key = |c: &CanonicalContract| format!("{} v{}", c.name, c.version);
    let mut out: Vec<String> = before
        .iter()
        .filter(|b| !after.iter().any(|a| key(a) == key(b) && a.fingerprint == b.fingerprint))
        .chain(after.iter().filter(|a| !before.iter().any(|b| key(a) == key(b))))
        .map(key)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `BASE` with `from` replaced by `to`, which must occur exactly once so
/// that each test changes exactly what it says.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "`{from}` must occur once in BASE");
    BASE.replace(from, to)
}

#[test]
fn base_compiles_to_every_kind_of_contract() {
    // The other tests compare against these contracts; if one went
    // missing, they would compare nothing.
    let contracts = canonical(BASE);
    let names: Vec<String> = contracts
        .iter()
        .map(|c| format!("{} v{} {}", c.name, c.version, c.kind.as_str()))
        .collect();
    expect![[r#"
        [
            "shop.Line v1 record",
            "shop.Money v1 record",
            "shop.OrderId v1 id",
            "shop.OrderPlaced v1 event",
            "shop.OrderPlaced v2 event",
            "shop.PingRequested v1 command",
            "shop.PlaceOrder v1 command",
            "shop.Status v1 enum",
        ]
    "#]]
    .assert_debug_eq(&names);
}

#[test]
fn formatting_comments_docs_templates_and_order_do_not_matter() {
    // The same contracts: other whitespace and line breaks, comments and
    // docs added, changed or removed, display templates changed or
    // removed, fields and enum variants and declarations reordered, and
    // a fragment written out as the field it stands for.
    let rewritten = r#"namespace   shop ;
// A plain comment.
aggregate Order ( id : OrderId ) {
    /// Record an order, with other words.
    OrderPlaced!v2(total:Money,status:Status=Open,lines:[Line],customer,)
        display "{customer_name} ordered"
        was v1 (lines: [Line], customer_name: String);
    PlaceOrder?(
        note: String? = none, // Why the customer ordered.
        lines: [Line],
        customer_name: String,
    );
}
enum Status {
    /// Still open.
    Closed,
    Open,
}
record Line(quantity: u32 = 1, price: Money, sku: String) display "{sku}";
record Money(currency: String, cents: i64);
id OrderId: Uuid;
const customer = customer_name: String;
PingRequested?(note: String = "") display "ping: {note}";
"#;
    assert_eq!(fingerprints(&canonical(BASE)), fingerprints(&canonical(rewritten)));
}

#[test]
fn splitting_a_namespace_across_files_does_not_matter() {
    // The second file uses the fragment and types the first declares.
    let (head, tail) = BASE.split_at(BASE.find("/// An order.\n").expect("BASE has the aggregate"));
    let mut sources = Sources::new();
    sources.add("a.treaty", head);
    sources.add("b.treaty", format!("namespace shop;\n{tail}"));
    let schema = compile(&sources, &Config::default()).unwrap_or_else(|d| panic!("{}", d.render()));
    assert_eq!(fingerprints(&canonical(BASE)), fingerprints(&contracts(&schema)));
}

#[test]
fn changing_a_field_type_changes_the_message() {
    assert_eq!(
        changed(BASE, &edit("note: String? = none", "note: u32? = none")),
        ["shop.PlaceOrder v1"]
    );
}

#[test]
fn changing_optionality_changes_the_message() {
    assert_eq!(
        changed(BASE, &edit("note: String? = none", "note: String")),
        ["shop.PlaceOrder v1"]
    );
}

#[test]
fn changing_a_default_changes_the_message() {
    assert_eq!(
        changed(BASE, &edit("note: String = \"\"", "note: String = \"hi\"")),
        ["shop.PingRequested v1"]
    );
    // Adding a default changes it too: old data without the field now
    // decodes instead of failing.
    assert_eq!(
        changed(BASE, &edit("lines: [Line], note", "lines: [Line] = [], note")),
        ["shop.PlaceOrder v1"]
    );
}

#[test]
fn changing_a_field_name_changes_the_message() {
    // Only the current version has `total`; the stored v1 shape is intact.
    assert_eq!(
        changed(BASE, &edit("total: Money)", "amount: Money)")),
        ["shop.OrderPlaced v2"]
    );
}

#[test]
fn renaming_a_field_that_keeps_its_wire_name_changes_nothing() {
    // `wire "total"` keeps the name on the wire; only the Rust name moves.
    assert_eq!(
        changed(BASE, &edit("total: Money)", "amount: Money wire \"total\")")),
        Vec::<String>::new()
    );
    // The same for a record field, which reaches every message using it.
    assert_eq!(
        changed(BASE, &edit("quantity: u32 = 1", "count: u32 = 1 wire \"quantity\"")),
        Vec::<String>::new()
    );
}

#[test]
fn changing_a_field_wire_name_changes_the_message() {
    assert_eq!(
        changed(BASE, &edit("total: Money)", "total: Money wire \"Total\")")),
        ["shop.OrderPlaced v2"]
    );
    // In an earlier version too: that is the shape stored data has.
    assert_eq!(
        changed(
            BASE,
            &edit(
                "was v1 (customer, lines: [Line])",
                "was v1 (customer, lines: [Line] wire \"Lines\")"
            )
        ),
        ["shop.OrderPlaced v1"]
    );
}

#[test]
fn a_message_wire_name_is_its_contract_name() {
    // Renaming a message that keeps its wire name changes nothing.
    assert_eq!(
        changed(
            BASE,
            &edit("PingRequested?(", "HealthChecked? wire \"shop.PingRequested\" (")
        ),
        Vec::<String>::new()
    );
    // Another wire name is another contract.
    assert_eq!(
        changed(
            BASE,
            &edit("PingRequested?(", "PingRequested? wire \"Lokad.Shop.Ping\" (")
        ),
        ["Lokad.Shop.Ping v1", "shop.PingRequested v1"]
    );
}

#[test]
fn changing_the_version_changes_the_message() {
    let before = canonical(BASE);
    let after = canonical(&edit("PingRequested?(", "PingRequested? v2 ("));
    let ping = |contracts: &[CanonicalContract], version: u32| {
        contracts
            .iter()
            .find(|c| c.name == "shop.PingRequested" && c.version == version)
            .map(|c| c.fingerprint.clone())
    };
    let v1 = ping(&before, 1).expect("v1 before");
    let v2 = ping(&after, 2).expect("v2 after");
    assert_ne!(v1, v2, "the same fields at another version are another contract");
    assert_eq!(ping(&after, 1), None);
}

#[test]
fn changing_the_kind_changes_the_message() {
    assert_eq!(
        changed(BASE, &edit("PingRequested?(", "PingRequested!(")),
        ["shop.PingRequested v1"]
    );
}

#[test]
fn changing_a_record_changes_every_message_that_uses_it() {
    // `Money` reaches `PlaceOrder` and both versions of `OrderPlaced`
    // through `Line`, and `OrderPlaced` v2 directly.
    assert_eq!(
        changed(BASE, &edit("Money(cents: i64,", "Money(cents: u64,")),
        [
            "shop.Line v1",
            "shop.Money v1",
            "shop.OrderPlaced v1",
            "shop.OrderPlaced v2",
            "shop.PlaceOrder v1"
        ]
    );
}

#[test]
fn changing_an_enum_changes_every_message_that_uses_it() {
    assert_eq!(
        changed(BASE, &edit("{ Open, Closed }", "{ Open, Closed, Cancelled }")),
        ["shop.OrderPlaced v2", "shop.Status v1"]
    );
}

#[test]
fn changing_an_id_changes_every_message_that_carries_it() {
    assert_eq!(
        changed(BASE, &edit("OrderId: Uuid", "OrderId: String")),
        [
            "shop.OrderId v1",
            "shop.OrderPlaced v1",
            "shop.OrderPlaced v2",
            "shop.PlaceOrder v1"
        ]
    );
}

#[test]
fn changing_a_fragment_changes_every_message_that_uses_it() {
    assert_eq!(
        changed(
            BASE,
            &edit(
                "customer = customer_name: String",
                "customer = customer_name: String, vip: bool = false"
            )
        ),
        ["shop.OrderPlaced v1", "shop.OrderPlaced v2", "shop.PlaceOrder v1"]
    );
}

#[test]
fn canonical_form_of_a_message() {
    // The canonical JSON is hashed as compact text with sorted keys; this
    // snapshot makes any drift in its shape, and so in every fingerprint,
    // show up in review.
    let contracts = canonical(BASE);
    let placed = contracts
        .iter()
        .find(|c| c.name == "shop.OrderPlaced" && c.version == 2)
        .expect("OrderPlaced v2");
    let text = format!(
        "{}\n{}",
        placed.fingerprint,
        serde_json::to_string_pretty(&placed.schema).expect("JSON values serialize")
    );
    expect![[r#"
        1af739eb89a5897f3041d6af9e1175f8
        {
          "fields": {
            "customer_name": {
              "type": "String"
            },
            "id": {
              "type": {
                "id": "shop.OrderId",
                "of": "Uuid"
              }
            },
            "lines": {
              "type": {
                "list": {
                  "fields": {
                    "price": {
                      "type": {
                        "fields": {
                          "cents": {
                            "type": "i64"
                          },
                          "currency": {
                            "type": "String"
                          }
                        },
                        "record": "shop.Money"
                      }
                    },
                    "quantity": {
                      "default": 1,
                      "type": "u32"
                    },
                    "sku": {
                      "type": "String"
                    }
                  },
                  "record": "shop.Line"
                }
              }
            },
            "status": {
              "default": "Open",
              "type": {
                "enum": "shop.Status",
                "variants": [
                  "Closed",
                  "Open"
                ]
              }
            },
            "total": {
              "type": {
                "fields": {
                  "cents": {
                    "type": "i64"
                  },
                  "currency": {
                    "type": "String"
                  }
                },
                "record": "shop.Money"
              }
            }
          },
          "kind": "event",
          "name": "shop.OrderPlaced",
          "version": 2
        }"#]]
    .assert_eq(&text);
}
