//! Data stored by a Lokad.CQRS system reads as it is: its contract names
//! and PascalCase field names are the wire names of the contracts
//! `treaty import-ddd` writes (`tests/e2e/build.rs` imports Lokad's
//! sample and compiles it) and of the `wire` golden fixture.

use serde_json::json;
use treaty::Contract;
use treaty_e2e::golden::wire::lokad::security as golden;
use treaty_e2e::lokad::sample::security::*;

const ID: &str = "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11";

#[test]
fn imported_contracts_carry_lokads_contract_names() {
    assert_eq!(SecurityPasswordAdded::NAME, "Sample.Security/SecurityPasswordAdded");
    assert_eq!(AddSecurityPassword::NAME, "Sample.Security/AddSecurityPassword");
}

#[test]
fn json_stored_by_lokad_decodes_into_the_imported_types() {
    let stored = json!({
        "Id": ID,
        "UserId": {},
        "DisplayName": "Ada",
        "Login": "ada",
        "PasswordHash": "x1",
        "Token": "t",
    });
    let payload = serde_json::to_vec(&stored).unwrap();
    let event = SecurityPasswordAdded::decode(1, &payload).unwrap();
    assert_eq!(event.id, SecurityId(ID.parse().unwrap()));
    assert_eq!(event.display_name, "Ada");
    assert_eq!(event.login, "ada");
    assert_eq!(event.password_hash, "x1");
    assert_eq!(event.token, "t");
    // Written back, it is what Lokad stored.
    assert_eq!(serde_json::to_value(&event).unwrap(), stored);
    // The aggregate's event set knows it by Lokad's contract name.
    let decoded = SecurityEvent::decode("Sample.Security/SecurityPasswordAdded", 1, &payload).unwrap();
    assert!(matches!(decoded, SecurityEvent::SecurityPasswordAdded(_)));
    // The Rust names are not wire names.
    let snake =
        json!({"id": ID, "user_id": {}, "display_name": "Ada", "login": "ada", "password_hash": "x1", "token": "t"});
    assert!(SecurityPasswordAdded::decode(1, &serde_json::to_vec(&snake).unwrap()).is_err());
}

#[test]
fn earlier_versions_upcast_by_wire_name() {
    // v1 called the count `tries` (a u32); v2 calls it `attempts` (a
    // u64). Both are `Tries` on the wire, so the upcast widens it.
    let stored = json!({"Id": ID, "Login": "ada", "DisplayName": "Ada", "Tries": 3});
    let event = golden::SecurityPasswordAdded::decode(1, &serde_json::to_vec(&stored).unwrap()).unwrap();
    assert_eq!(event.attempts, 3);
    assert_eq!(event.max_attempts, 5);
    assert_eq!(event.location, None);
    assert_eq!(
        golden::SecurityPasswordAdded::NAME,
        "Sample.Security/SecurityPasswordAdded"
    );
    let current = json!({
        "Id": ID, "Login": "ada", "DisplayName": "Ada", "Tries": 4,
        "Location": {"Country": "FR", "City": null}, "Locked": true,
    });
    let event = golden::SecurityPasswordAdded::decode(2, &serde_json::to_vec(&current).unwrap()).unwrap();
    assert_eq!(event.attempts, 4);
    assert!(event.locked);
    assert_eq!(event.location.as_ref().map(|l| l.country.as_str()), Some("FR"));
    assert_eq!(event.to_string(), "Added login 'ada' (Ada)");
}
