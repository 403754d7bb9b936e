//! `display "..."` templates become `Display` impls.

use std::collections::BTreeMap;

use treaty_e2e::shared::Money;
use treaty_e2e::shop::returns::ReturnRequested;
use treaty_e2e::shop::*;

#[test]
fn templates_fill_in_fields_including_the_aggregate_id_and_fragments() {
    let command = PlaceOrder {
        number: OrderNumber(12),
        customer: CustomerId("7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().unwrap()),
        lines: BTreeMap::new(),
        changed_by: "ann".into(),
        reason: String::new(),
    };
    assert_eq!(
        command.to_string(),
        "place order 12 for 7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11"
    );
    assert_eq!(OrderCommand::from(command.clone()).to_string(), command.to_string());
}

#[test]
fn records_with_templates_display_inside_messages() {
    let total = Money {
        cents: 1999,
        currency: "EUR".into(),
    };
    assert_eq!(total.to_string(), "1999 EUR");
}

#[test]
fn optional_fields_show_their_value_or_none() {
    let mut event = ReturnRequested {
        customer: CustomerId(treaty::Uuid::nil()),
        number: OrderNumber(3),
        method: PaymentMethod::Cash,
        reason: None,
    };
    assert_eq!(event.to_string(), "return for order 3, reason: none");
    event.reason = Some("broken".into());
    assert_eq!(event.to_string(), "return for order 3, reason: broken");
}

#[test]
fn keyword_fields_and_escaped_braces() {
    let event = Renamed {
        r#type: "kind".into(),
        r#match: 0,
        self_: false,
        camel_case: "camel".into(),
        http_status: None,
    };
    assert_eq!(event.to_string(), "kind camel {literal}");
}
