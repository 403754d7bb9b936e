//! Contracts written inline with `treaty::contract!` (in src/lib.rs, next
//! to the build.rs contracts they import `shared.Money` from): every
//! version of their history decodes to the current type, through a
//! hand-written upcast (v1 to v2) and a derived one (v2 to v3).
#![deny(warnings)]

use serde_json::json;
use treaty::Contract;
use treaty_e2e::billing::{InvoiceEvent, InvoiceId, InvoiceIssued};
use treaty_e2e::shared::Money;

const ID: &str = "0190f1c2-3d4e-7f00-8a1b-2c3d4e5f6a7b";

fn invoice_id() -> InvoiceId {
    InvoiceId(ID.parse().unwrap())
}

fn euros(cents: i64) -> Money {
    Money {
        cents,
        currency: "EUR".into(),
    }
}

/// The `terms` default, written in the contract with Rust escapes
/// (`\"` and `\u{e9}`) that the macro carries over.
const TERMS: &str = "net \"30\" café";

#[test]
fn v1_upcasts_through_the_hand_written_and_the_derived_step() {
    let v1 = json!({"id": ID, "amount_cents": 1999, "currency": "EUR", "lines": 3});
    let decoded = InvoiceIssued::decode(1, v1.to_string().as_bytes()).unwrap();
    assert_eq!(
        decoded,
        InvoiceIssued {
            id: invoice_id(),
            total: euros(1999),
            due_days: 14,
            lines: 3,
            reference: None,
            terms: TERMS.into(),
        }
    );
}

#[test]
fn v2_upcasts_with_its_own_default_and_a_widened_integer() {
    let v2 = json!({"id": ID, "total": {"cents": 500, "currency": "EUR"}, "lines": u32::MAX});
    let decoded = InvoiceIssued::decode(2, v2.to_string().as_bytes()).unwrap();
    assert_eq!(
        decoded,
        InvoiceIssued {
            id: invoice_id(),
            total: euros(500),
            due_days: -1,
            lines: u64::from(u32::MAX),
            reference: None,
            terms: TERMS.into(),
        }
    );
}

#[test]
fn the_aggregate_decoder_reads_every_version_by_contract_name() {
    let v1 = json!({"id": ID, "amount_cents": 7, "currency": "EUR", "lines": 1});
    let event = InvoiceEvent::decode("billing.InvoiceIssued", 1, v1.to_string().as_bytes()).unwrap();
    assert_eq!(event.contract_version(), 3);
    assert_eq!(event.id(), &invoice_id());
    let current = event.encode().unwrap();
    let again = InvoiceEvent::decode("billing.InvoiceIssued", 3, &current).unwrap();
    assert_eq!(again, event);
}

#[test]
fn the_history_lists_three_versions_with_distinct_fingerprints() {
    let versions: Vec<u32> = InvoiceIssued::HISTORY.iter().map(|v| v.version).collect();
    assert_eq!(versions, [3, 2, 1]);
    let mut fingerprints: Vec<&str> = InvoiceIssued::HISTORY.iter().map(|v| v.fingerprint).collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), 3);
    assert_eq!(InvoiceIssued::NAME, "billing.InvoiceIssued");
}

#[test]
fn the_display_template_survives_the_macro() {
    let event = InvoiceIssued {
        id: invoice_id(),
        total: euros(1999),
        due_days: 30,
        lines: 2,
        reference: Some("PO-7".into()),
        terms: String::new(),
    };
    assert_eq!(event.to_string(), format!("invoice {ID} for 1999 EUR, {{2 lines}}"));
}
