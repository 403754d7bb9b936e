//! Generated contracts in the event store: typed appends, typed reads
//! with upcasts, and the registry check against compiled contracts.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use treaty::store::registry::{self, CompiledContract};
use treaty::store::*;
use treaty::Contract;
use treaty_e2e::shared::Money;
use treaty_e2e::shop::*;

fn placed() -> OrderPlaced {
    OrderPlaced {
        number: OrderNumber(1),
        customer: CustomerId(treaty::Uuid::nil()),
        lines: BTreeMap::from([(Sku("A".into()), 1)]),
        total: Money {
            cents: 100,
            currency: "EUR".into(),
        },
        method: PaymentMethod::Cash,
        note: None,
        priority: 1,
        changed_by: "ann".into(),
        reason: String::new(),
    }
}

#[tokio::test]
async fn typed_events_round_trip_and_old_versions_upcast_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db")).unwrap();
    let stream = StreamName::for_aggregate("order", OrderNumber(1)).unwrap();
    assert_eq!(stream.as_str(), "order-1");

    // Written by an older build, at version 1.
    let v1 = NewEvent {
        id: treaty::Uuid::now_v7(),
        contract: OrderPlaced::NAME.into(),
        contract_version: 1,
        fingerprint: OrderPlaced::HISTORY[2].fingerprint.into(),
        payload: br#"{"number": 1, "customer": "00000000-0000-0000-0000-000000000000",
                      "lines": {"A": 1}, "total": {"cents": 100, "currency": "EUR"},
                      "legacy_flag": false, "priority": 1}"#
            .to_vec(),
        metadata: Metadata::now(),
        schema: None,
    };
    let current = NewEvent::from_contract(&placed(), Metadata::now()).unwrap();
    assert_eq!(current.contract_version, 3);
    store
        .append(&stream, ExpectedVersion::NoStream, vec![v1, current])
        .await
        .unwrap();

    let read: Vec<RecordedEvent> = store
        .read_stream(&stream, 1, Direction::Forward)
        .try_collect()
        .await
        .unwrap();
    let old: OrderPlaced = read[0].decode().unwrap();
    assert_eq!(
        old.changed_by, "migration",
        "upcast through the hand-written v1 -> v2 step"
    );
    assert_eq!(old.method, PaymentMethod::Card, "v2 -> v3 default");
    assert_eq!(read[1].decode::<OrderPlaced>().unwrap(), placed());
    assert!(read[1].is::<OrderPlaced>());
    let wrong = read[1].decode::<OrderShipped>().unwrap_err();
    assert!(
        wrong.to_string().starts_with("unknown contract shop.OrderPlaced"),
        "{wrong}"
    );
    let via_enum = OrderEvent::decode(&read[0].contract, read[0].contract_version, &read[0].payload).unwrap();
    assert_eq!(via_enum.id(), &OrderNumber(1));

    // The compiled contracts can read everything stored.
    let names: Vec<&str> = CONTRACTS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "shop.PlaceOrder",
            "shop.OrderPlaced",
            "shop.OrderShipped",
            "shop.Renamed"
        ]
    );
    registry::register_contracts(&store, &CompiledContract::from_info(CONTRACTS))
        .await
        .unwrap();
    // Commands are never stored, so the registry does not record them.
    let registered = store.contracts().await.unwrap();
    assert!(registered.iter().all(|c| c.name != "shop.PlaceOrder"), "{registered:?}");
    assert!(registered.iter().any(|c| c.name == "shop.OrderShipped"));
    let compiled = CompiledContract::all_versions::<OrderPlaced>();
    // A build that dropped v1 from the history cannot.
    let without_v1: Vec<CompiledContract> = compiled.into_iter().filter(|c| c.version != 1).collect();
    let error = registry::check_contracts(&store, &without_v1).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("shop.OrderPlaced v1: stored events use it (the first at position 1)"),
        "{error}"
    );
}
