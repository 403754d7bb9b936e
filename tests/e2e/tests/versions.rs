//! Reading every version of a message's history: derived upcasts,
//! hand-written upcasts, and versions the code does not know.

use std::collections::BTreeMap;

use serde_json::json;
use treaty::Contract;
use treaty_e2e::shared::Money;
use treaty_e2e::shop::*;

fn v1_json() -> serde_json::Value {
    json!({
        "number": 5,
        "customer": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
        "lines": {"A-1": 2},
        "total": {"cents": 1999, "currency": "EUR"},
        "legacy_flag": true,
        "priority": 3,
    })
}

fn expected_current(changed_by: &str, reason: &str, note: Option<&str>) -> OrderPlaced {
    OrderPlaced {
        number: OrderNumber(5),
        customer: CustomerId("7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().unwrap()),
        lines: BTreeMap::from([(Sku("A-1".into()), 2)]),
        total: Money {
            cents: 1999,
            currency: "EUR".into(),
        },
        method: PaymentMethod::Card,
        note: note.map(str::to_string),
        priority: 3,
        changed_by: changed_by.into(),
        reason: reason.into(),
    }
}

#[test]
fn v1_upcasts_through_the_hand_written_and_derived_steps() {
    let decoded = OrderPlaced::decode(1, v1_json().to_string().as_bytes()).unwrap();
    assert_eq!(
        decoded,
        expected_current("migration", "imported from the legacy system", None)
    );
}

#[test]
fn v2_upcasts_with_a_default_and_a_widened_integer() {
    let v2 = json!({
        "number": 5,
        "customer": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
        "lines": {"A-1": 2},
        "total": {"cents": 1999, "currency": "EUR"},
        "note": "leave at the door",
        "priority": 3,
        "changed_by": "bob",
    });
    let decoded = OrderPlaced::decode(2, v2.to_string().as_bytes()).unwrap();
    assert_eq!(decoded, expected_current("bob", "", Some("leave at the door")));
}

#[test]
fn the_current_version_decodes_directly() {
    let current = expected_current("ann", "why", None);
    let payload = current.encode().unwrap();
    assert_eq!(OrderPlaced::decode(3, &payload).unwrap(), current);
}

#[test]
fn an_old_shape_rejects_data_that_does_not_fit_it() {
    // Version 1 had a u32 priority; a value past u32 is not version 1 data.
    let mut v1 = v1_json();
    v1["priority"] = json!(u64::MAX);
    let error = OrderPlaced::decode(1, v1.to_string().as_bytes()).unwrap_err();
    assert!(
        error.to_string().starts_with("cannot read shop.OrderPlaced v1:"),
        "{error}"
    );
}

#[test]
fn an_unknown_version_is_an_error_not_a_panic() {
    let error = OrderPlaced::decode(4, b"{}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "contract shop.OrderPlaced has no version 4; this build reads versions v1, v2, v3: \
         the data was written by a newer build; deploy a build whose contracts know this version"
    );
    let error = OrderPlaced::decode(0, b"{}").unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("restore this version's shape to the contract's history with `was vN (...)`"),
        "{error}"
    );
}

#[test]
fn history_lists_every_version_newest_first_with_distinct_fingerprints() {
    let versions: Vec<u32> = OrderPlaced::HISTORY.iter().map(|v| v.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    let mut fingerprints: Vec<&str> = OrderPlaced::HISTORY.iter().map(|v| v.fingerprint).collect();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 3);
    assert_eq!(OrderPlaced::VERSION, 3);
}

#[test]
fn malformed_json_is_an_error_with_its_position() {
    let error = OrderPlaced::decode(3, b"{\"number\": ").unwrap_err();
    assert!(error.to_string().contains("line 1 column 11"), "{error}");
}
