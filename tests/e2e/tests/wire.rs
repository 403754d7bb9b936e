//! The wire format of generated types: JSON round trips, the fixed scalar
//! encodings, wire names, defaults applied to missing fields.

use std::collections::BTreeMap;

use serde_json::json;
use treaty::{Bytes, Contract, Decimal, Timestamp, Uuid};
use treaty_e2e::geo::Point;
use treaty_e2e::shared::Money;
use treaty_e2e::shop::returns::ReturnRequested;
use treaty_e2e::shop::*;

fn roundtrip<T>(value: &T) -> serde_json::Value
where
    T: treaty::serde::Serialize + treaty::serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, value, "the value survives a JSON round trip");
    json
}

fn customer_id() -> CustomerId {
    CustomerId("7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().unwrap())
}

#[test]
fn scalars_use_the_fixed_wire_formats() {
    let value = Scalars {
        flag: true,
        small: -5,
        big: -9_000_000_000,
        count: 7,
        total: u64::MAX,
        ratio: 0.25,
        text: "hi".into(),
        blob: Bytes(vec![0, 1, 2, 255]),
        uuid: "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11".parse().unwrap(),
        at: "2024-05-01T10:00:00Z".parse().unwrap(),
        day: "2024-01-31".parse().unwrap(),
        amount: "10.50".parse().unwrap(),
    };
    assert_eq!(
        roundtrip(&value),
        json!({
            "flag": true, "small": -5, "big": -9_000_000_000i64, "count": 7, "total": u64::MAX,
            "ratio": 0.25, "text": "hi", "blob": "AAEC/w==",
            "uuid": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
            "at": "2024-05-01T10:00:00Z", "day": "2024-01-31", "amount": "10.50",
        })
    );
}

#[test]
fn decimals_accept_numbers_on_input() {
    let mut json = serde_json::to_value(Scalars {
        flag: false,
        small: 0,
        big: 0,
        count: 0,
        total: 0,
        ratio: 0.0,
        text: String::new(),
        blob: Bytes::default(),
        uuid: Uuid::nil(),
        at: Timestamp::UNIX_EPOCH,
        day: "2000-01-01".parse().unwrap(),
        amount: Decimal::ZERO,
    })
    .unwrap();
    json["amount"] = json!(12.5);
    let back: Scalars = serde_json::from_value(json).unwrap();
    assert_eq!(back.amount, "12.5".parse::<Decimal>().unwrap());
}

#[test]
fn invalid_base64_is_a_clear_error() {
    let error = serde_json::from_value::<Scalars>(json!({
        "flag": true, "small": 0, "big": 0, "count": 0, "total": 0, "ratio": 0.0, "text": "",
        "blob": "not base64!", "uuid": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
        "at": "2024-05-01T10:00:00Z", "day": "2024-01-31", "amount": "1",
    }))
    .unwrap_err();
    assert!(error.to_string().contains("invalid base64"), "{error}");
}

#[test]
fn ids_are_their_inner_value_and_parse_from_text() {
    assert_eq!(roundtrip(&customer_id()), json!("7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11"));
    assert_eq!(roundtrip(&Sku("A-1".into())), json!("A-1"));
    assert_eq!(roundtrip(&OrderNumber(42)), json!(42));
    assert_eq!(roundtrip(&Ledger(-3)), json!(-3));
    assert_eq!("42".parse::<OrderNumber>().unwrap(), OrderNumber(42));
    assert_eq!(OrderNumber(42).to_string(), "42");
    assert_eq!(customer_id().to_string(), "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11");
    let error = "x".parse::<OrderNumber>().unwrap_err();
    assert!(error.to_string().starts_with("invalid shop.OrderNumber:"), "{error}");
    assert_ne!(CustomerId::generate(), CustomerId::generate());
}

#[test]
fn enums_are_variant_names_as_written() {
    assert_eq!(roundtrip(&PaymentMethod::Cash), json!("Cash"));
    assert_eq!(roundtrip(&PaymentMethod::BankTransfer), json!("bank_transfer"));
    assert_eq!(PaymentMethod::BankTransfer.to_string(), "bank_transfer");
    assert_eq!(PaymentMethod::ALL.len(), 3);
    assert!(serde_json::from_value::<PaymentMethod>(json!("Cheque")).is_err());
}

#[test]
fn maps_take_string_integer_and_id_keys() {
    let value = Indexes {
        by_name: BTreeMap::from([("a".into(), 1)]),
        by_number: BTreeMap::from([(7, "seven".into())]),
        by_customer: BTreeMap::from([(
            customer_id(),
            Money {
                cents: 5,
                currency: "EUR".into(),
            },
        )]),
        by_sku: BTreeMap::from([(Sku("A-1".into()), vec![None])]),
    };
    assert_eq!(
        roundtrip(&value),
        json!({
            "by_name": {"a": 1},
            "by_number": {"7": "seven"},
            "by_customer": {"7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11": {"cents": 5, "currency": "EUR"}},
            "by_sku": {"A-1": [null]},
        })
    );
}

#[test]
fn recursive_records_nest() {
    let tree = Category {
        name: "root".into(),
        children: vec![Category {
            name: "leaf".into(),
            children: vec![],
        }],
    };
    assert_eq!(
        roundtrip(&tree),
        json!({"name": "root", "children": [{"name": "leaf", "children": []}]})
    );
}

#[test]
fn field_names_on_the_wire_are_as_written() {
    let value = Renamed {
        r#type: "t".into(),
        r#match: 1,
        self_: true,
        camel_case: "c".into(),
        http_status: Some(404),
    };
    assert_eq!(
        roundtrip(&value),
        json!({"type": "t", "match": 1, "self": true, "camelCase": "c", "HTTPStatus": 404})
    );
}

#[test]
fn defaults_fill_missing_fields() {
    let json = json!({"number": 1, "to": {"lat": 1.0, "lon": 2.0}});
    let shipped = OrderShipped::decode(1, json.to_string().as_bytes()).unwrap();
    assert_eq!(
        shipped,
        OrderShipped {
            number: OrderNumber(1),
            to: Point { lat: 1.0, lon: 2.0 },
            carrier: "post".into(),
            weight: "1.50".parse().unwrap(),
            parcels: 1,
            express: false,
        }
    );
    let customer: Customer = serde_json::from_value(json!({"id": customer_id()})).unwrap();
    assert_eq!(customer.email, None);
    assert!(customer.tags.is_empty());
    let renamed: Renamed =
        serde_json::from_value(json!({"type": "t", "match": 1, "self": true, "camelCase": "c"})).unwrap();
    assert_eq!(renamed.http_status, None);
}

#[test]
fn a_missing_required_field_is_an_error_naming_it() {
    let error = OrderShipped::decode(1, br#"{"number": 1}"#).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot read shop.OrderShipped v1: missing field `to` at line 1 column 13"
    );
}

#[test]
fn contracts_know_their_names_and_kinds() {
    assert_eq!(PlaceOrder::NAME, "shop.PlaceOrder");
    assert_eq!(PlaceOrder::KIND, treaty::ContractKind::Command);
    assert_eq!(OrderPlaced::KIND, treaty::ContractKind::Event);
    assert_eq!(ReturnRequested::NAME, "shop.returns.ReturnRequested");
    assert_eq!(OrderPlaced::FINGERPRINT.len(), 32);
    assert_eq!(OrderPlaced::HISTORY[0].fingerprint, OrderPlaced::FINGERPRINT);
}

#[test]
fn aggregate_enums_wrap_their_messages() {
    let command: OrderCommand = PlaceOrder {
        number: OrderNumber(9),
        customer: customer_id(),
        lines: BTreeMap::from([(Sku("A".into()), 2)]),
        changed_by: "ann".into(),
        reason: String::new(),
    }
    .into();
    assert_eq!(command.id(), &OrderNumber(9));
    assert_eq!(command.contract_name(), "shop.PlaceOrder");
    assert_eq!(command.contract_version(), 1);
    let payload = command.encode().unwrap();
    let back = OrderCommand::decode("shop.PlaceOrder", 1, &payload).unwrap();
    assert_eq!(back, command);
    let error = OrderCommand::decode("shop.Nope", 1, &payload).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown contract shop.Nope (version 1); the known contracts are: shop.PlaceOrder"
    );
}

#[test]
fn extra_attributes_from_the_build_configuration_apply() {
    // `#[derive(Default)]` was added to `shop.Sku` in build.rs.
    assert_eq!(Sku::default(), Sku(String::new()));
}

#[test]
fn zero_defaults_of_optional_fields_are_some_and_decimals_keep_their_scale() {
    let read: ZeroDefaults = serde_json::from_value(json!({})).unwrap();
    assert_eq!(read.zero, Some(0));
    assert_eq!(read.empty, Some(String::new()));
    assert_eq!(read.none, None);
    assert_eq!(read.scale.to_string(), "0.00");
    assert_eq!(serde_json::to_value(&read).unwrap()["scale"], json!("0.00"));
}
