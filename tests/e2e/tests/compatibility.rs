//! One rule book for the lint and the generated code: for cases of the
//! lint corpus (`tests/lint/`), compiled before and after their change,
//! `treaty_compat::compare` over the schemas the generated code carries
//! reports the rule ids the lint reports for the case, and what it calls
//! backward compatible is what the generated types read: data written by
//! the old code decodes into the new type as a hand-written model says,
//! while the changes it refuses fail to decode data the old code wrote.

mod lint_corpus;

use lint_corpus::{errors, lint_expectation};
use serde_json::{json, Value};
use treaty::bus::{check_readable, Envelope, WriterSchema};
use treaty::{Contract, ContractInfo, Uuid};
use treaty_compat::{compare, Mode};
use treaty_e2e::lint_cases;

const ORDER: &str = "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11";

fn order() -> Uuid {
    ORDER.parse().expect("a UUID")
}

/// Both sides of a case: its name and the `shop.OrderPlaced` of each.
macro_rules! case {
    ($module:ident) => {
        (
            stringify!($module).replace('_', "-"),
            ContractInfo::of::<lint_cases::$module::before::shop::OrderPlaced>(),
            ContractInfo::of::<lint_cases::$module::after::shop::OrderPlaced>(),
        )
    };
}

fn cases() -> Vec<(String, ContractInfo, ContractInfo)> {
    vec![
        case!(ok_default_added),
        case!(mode_backward_allows_optional),
        case!(integer_widened),
        case!(ok_defaulted_field_removed),
        case!(mode_backward_allows_field_removal),
        case!(field_added_required),
        case!(field_type_changed),
        case!(integer_narrowed),
        case!(enum_variant_removed),
    ]
}

/// The ids of what compares `before` with `after` in `mode`.
fn findings(before: &ContractInfo, after: &ContractInfo, mode: Mode) -> Vec<String> {
    let schema = |info: &ContractInfo| {
        info.schema(1)
            .unwrap_or_else(|e| panic!("{}: {e}", info.name))
            .unwrap_or_else(|| panic!("{} carries no schema", info.name))
    };
    compare(&schema(before), &schema(after), mode)
        .iter()
        .map(|change| change.rule.id().to_string())
        .collect()
}

#[test]
fn the_schemas_generated_code_carries_give_the_lints_findings() {
    for (case, before, after) in cases() {
        let (mode, ids) = lint_expectation(&case);
        assert_eq!(findings(&before, &after, mode), ids, "{case} in mode {mode}");
    }
}

/// The bus asks the same: a message written by the code before each
/// change, with the schema its envelope carries, is readable by the code
/// after it exactly when the lint finds no error in the case's mode, and
/// otherwise refused with the lint's rule ids (`tests/rollout.rs` sends
/// such messages through each transport).
#[test]
fn the_bus_judges_each_case_as_the_lint_does() {
    for (case, before, after) in cases() {
        let (mode, ids) = lint_expectation(&case);
        let schema = before
            .schema(1)
            .expect("readable schemas")
            .expect("generated code carries schemas");
        let envelope = Envelope {
            id: Uuid::now_v7(),
            contract: before.name.to_string(),
            contract_version: 1,
            fingerprint: before.history[0].fingerprint.to_string(),
            payload: b"{}".to_vec(),
            correlation_id: None,
            causation_id: None,
            attempt: 1,
            headers: Default::default(),
            reply_to: None,
            sent_at: treaty::Timestamp::now(),
            schema: Some(WriterSchema::parse(&schema.to_string()).expect("JSON")),
        };
        let errors = errors(ids);
        match check_readable(&[after], &envelope, mode) {
            Ok(()) => assert!(
                errors.is_empty(),
                "{case}: the bus read what the lint refuses ({errors:?})"
            ),
            Err(reason) => {
                assert!(
                    !errors.is_empty(),
                    "{case}: the bus refused what the lint accepts: {reason}"
                );
                for id in &errors {
                    assert!(
                        reason.contains(&format!("[{id}]")),
                        "{case}: {id} missing from {reason}"
                    );
                }
            }
        }
    }
}

/// Writes `value` (JSON) as the old code's event and reads it as the new
/// code's.
fn rewrite<Old: Contract, New: Contract>(value: Value) -> Result<New, treaty::DecodeError> {
    let old = Old::decode(1, value.to_string().as_bytes()).expect("the value is the old code's event");
    New::decode(1, &old.encode().expect("events encode"))
}

fn compatible(case: &str) -> (ContractInfo, ContractInfo) {
    let (_, before, after) = cases().into_iter().find(|(name, _, _)| name == case).expect("a case");
    assert_eq!(
        findings(&before, &after, Mode::Backward),
        Vec::<String>::new(),
        "{case}"
    );
    (before, after)
}

fn breaking(case: &str, rule: &str) {
    let (_, before, after) = cases().into_iter().find(|(name, _, _)| name == case).expect("a case");
    assert_eq!(findings(&before, &after, Mode::Backward), [rule], "{case}");
}

#[test]
fn data_written_before_a_compatible_change_reads_as_the_model_says() {
    use lint_cases::*;

    compatible("ok-default-added");
    let read = rewrite::<ok_default_added::before::shop::OrderPlaced, ok_default_added::after::shop::OrderPlaced>(
        json!({"order": ORDER, "channel": "app"}),
    )
    .expect("reads");
    assert_eq!(read.order.0, order());
    assert_eq!(read.channel, "app");

    compatible("mode-backward-allows-optional");
    use mode_backward_allows_optional::after::shop as optional;
    let read = rewrite::<mode_backward_allows_optional::before::shop::OrderPlaced, optional::OrderPlaced>(json!({
        "order": ORDER, "total": {"cents": 250, "currency": "EUR"}, "method": "Card", "note": null, "count": 3
    }))
    .expect("reads");
    assert_eq!(read.count, Some(3));
    assert_eq!(read.note, None);
    assert_eq!(read.total.cents, 250);
    assert!(matches!(read.method, optional::Method::Card));

    compatible("integer-widened");
    let read = rewrite::<integer_widened::before::shop::OrderPlaced, integer_widened::after::shop::OrderPlaced>(json!({
        "order": ORDER, "total": {"cents": -1, "currency": "USD"}, "method": "Cash", "note": "gift", "count": u32::MAX
    }))
    .expect("reads");
    assert_eq!(read.count, u64::from(u32::MAX));
    assert_eq!(read.note.as_deref(), Some("gift"));

    compatible("ok-defaulted-field-removed");
    let read = rewrite::<
        ok_defaulted_field_removed::before::shop::OrderPlaced,
        ok_defaulted_field_removed::after::shop::OrderPlaced,
    >(json!({"order": ORDER, "count": 2, "channel": "app"}))
    .expect("reads, the removed field ignored");
    assert_eq!((read.order.0, read.count), (order(), 2));

    compatible("mode-backward-allows-field-removal");
    let read = rewrite::<
        mode_backward_allows_field_removal::before::shop::OrderPlaced,
        mode_backward_allows_field_removal::after::shop::OrderPlaced,
    >(json!({
        "order": ORDER, "total": {"cents": 1, "currency": "EUR"}, "method": "Card", "note": null, "count": 9
    }))
    .expect("reads, the removed field ignored");
    assert_eq!(read.total.currency, "EUR");
}

#[test]
fn data_written_before_a_breaking_change_does_not_read() {
    use lint_cases::*;

    breaking("field-added-required", "field-added-required");
    let read = rewrite::<field_added_required::before::shop::OrderPlaced, field_added_required::after::shop::OrderPlaced>(
        json!({"order": ORDER, "total": {"cents": 1, "currency": "EUR"}, "method": "Card", "note": null, "count": 1}),
    );
    assert!(read.is_err(), "the new field is missing");

    breaking("field-type-changed", "field-type-changed");
    let read = rewrite::<field_type_changed::before::shop::OrderPlaced, field_type_changed::after::shop::OrderPlaced>(
        json!({"order": ORDER, "label": "gift"}),
    );
    assert!(read.is_err(), "a string is not a u32");

    breaking("integer-narrowed", "integer-narrowed");
    let read = rewrite::<integer_narrowed::before::shop::OrderPlaced, integer_narrowed::after::shop::OrderPlaced>(
        json!({"order": ORDER, "delta": i64::from(i32::MAX) + 1}),
    );
    assert!(read.is_err(), "the value does not fit");

    breaking("enum-variant-removed", "enum-variant-removed");
    let read = rewrite::<enum_variant_removed::before::shop::OrderPlaced, enum_variant_removed::after::shop::OrderPlaced>(
        json!({"order": ORDER, "total": {"cents": 1, "currency": "EUR"}, "method": "Cash", "note": null, "count": 1}),
    );
    assert!(read.is_err(), "the variant is gone");
}
