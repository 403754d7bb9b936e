//! The constructors of generated types: `new` takes the required fields in
//! declaration order (an aggregate's identity first, a fragment's fields
//! where it is used) and is exactly what a payload holding only those
//! fields reads as; a type without required fields is also `Default`.
//! `tests/ui/construction/` checks that code built on `new` survives
//! fields added in place.

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde_json::json;
use treaty::serde::de::DeserializeOwned;
use treaty::{Contract, Decimal};
use treaty_e2e::geo::Point;
use treaty_e2e::shared::Money;
use treaty_e2e::shop::*;

/// `built` equals the current version of `T` read from `payload`.
fn reads_as<T: Contract + PartialEq + Debug>(payload: serde_json::Value, built: T) {
    let bytes = serde_json::to_vec(&payload).unwrap();
    let decoded = T::decode(T::VERSION, &bytes).unwrap_or_else(|e| panic!("{payload} does not read: {e}"));
    assert_eq!(decoded, built, "{payload}");
}

/// `built` equals the record read from `payload`.
fn record_reads_as<T: DeserializeOwned + PartialEq + Debug>(payload: serde_json::Value, built: T) {
    let decoded: T = serde_json::from_value(payload.clone()).unwrap_or_else(|e| panic!("{payload} does not read: {e}"));
    assert_eq!(decoded, built, "{payload}");
}

fn customer() -> CustomerId {
    CustomerId("7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().unwrap())
}

#[test]
fn the_identity_comes_first_and_fragment_fields_where_they_are_used() {
    let lines = BTreeMap::from([(Sku("A-1".into()), 2)]);
    let placed = OrderPlaced::new(
        OrderNumber(7),
        customer(),
        lines.clone(),
        Money::new(990, "EUR".into()),
        3,
        "ada".into(),
    );
    assert_eq!(placed.number, OrderNumber(7));
    assert_eq!(placed.priority, 3);
    assert_eq!(placed.changed_by, "ada");
    assert_eq!(placed.method, PaymentMethod::Card, "the contract's default");
    assert_eq!(placed.note, None);
    assert_eq!(placed.reason, "", "the fragment's default");
    reads_as(
        json!({
            "number": 7,
            "customer": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
            "lines": {"A-1": 2},
            "total": {"cents": 990, "currency": "EUR"},
            "priority": 3,
            "changed_by": "ada",
        }),
        placed,
    );
    reads_as(
        json!({"number": 7, "customer": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11", "lines": {"A-1": 2}, "changed_by": "ada"}),
        PlaceOrder::new(OrderNumber(7), customer(), lines, "ada".into()),
    );
}

#[test]
fn defaults_of_every_kind_and_extern_types() {
    let shipped = OrderShipped::new(OrderNumber(1), Point { lat: 1.5, lon: -2.0 });
    assert_eq!(shipped.carrier, "post");
    assert_eq!(shipped.weight, Decimal::new(150, 2), "the written scale is kept");
    assert_eq!(shipped.parcels, 1);
    assert!(!shipped.express);
    reads_as(json!({"number": 1, "to": {"lat": 1.5, "lon": -2.0}}), shipped);

    use treaty_e2e::golden::defaults::defaults::{Configured, Level};
    let configured = Configured::new();
    assert_eq!(configured, Configured::default());
    assert!(configured.on && !configured.off);
    assert_eq!((configured.small, configured.big), (-5, u64::MAX));
    assert_eq!(configured.price, Decimal::new(-1250, 2));
    assert_eq!(configured.name, "tab\there \"quoted\"");
    assert_eq!(configured.level, Level::High);
    assert_eq!((configured.maybe, configured.some), (None, Some(7)));
    reads_as(json!({}), configured);
}

#[test]
fn records_and_keyword_names() {
    let money = Money::new(5, "EUR".into());
    assert_eq!((money.cents, money.currency.as_str()), (5, "EUR"));
    record_reads_as(json!({"cents": 5, "currency": "EUR"}), money);

    let customer = Customer::new(customer());
    assert_eq!((customer.email, customer.tags, customer.born), (None, Vec::new(), None));

    let zero = ZeroDefaults::default();
    assert_eq!(zero, ZeroDefaults::new());
    assert_eq!((zero.zero, zero.empty.as_deref()), (Some(0), Some("")));
    record_reads_as(json!({}), zero);

    // `type`, `match`, `self` and `camelCase` are `r#type`, `r#match`,
    // `self_` and `camel_case`, in that order.
    let renamed = Renamed::new("t".into(), 1, true, "c".into());
    assert_eq!(
        (renamed.r#type.as_str(), renamed.r#match, renamed.self_),
        ("t", 1, true)
    );
    assert_eq!((renamed.camel_case.as_str(), renamed.http_status), ("c", None));
    reads_as(
        json!({"type": "t", "match": 1, "self": true, "camelCase": "c"}),
        renamed,
    );
}

#[test]
fn wire_names_name_the_payload_not_the_arguments() {
    use treaty_e2e::golden::wire::lokad::security::{SecurityId, SecurityPasswordAdded};
    let id = SecurityId(treaty::Uuid::nil());
    let added = SecurityPasswordAdded::new(id, "ada".into(), "Ada".into(), 3);
    assert_eq!(
        (added.location.is_none(), added.locked, added.max_attempts),
        (true, false, 5)
    );
    reads_as(
        json!({"Id": "00000000-0000-0000-0000-000000000000", "Login": "ada", "DisplayName": "Ada", "Tries": 3}),
        added,
    );
}
