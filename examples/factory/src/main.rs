//! The factory example: contracts written in `contracts/*.treaty`,
//! compiled by `build.rs`, used here as ordinary Rust types.
//!
//! It shows what the contracts give an application: typed commands and
//! events, their JSON on the wire, sentences from `display` templates, and
//! an event stored at version 1 read back as version 2.

#![deny(warnings)]

use treaty::Contract;

treaty::include_contracts!();

use factory::{CarPart, CarProduced, FactoryEvent, FactoryId, ProduceCar};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let id = FactoryId::generate();

    let command = ProduceCar {
        id,
        employee_name: "Ann".into(),
        car_model: "Model T".into(),
        price: Some(shared::Money {
            cents: 2_500_000,
            currency: "USD".into(),
        }),
    };
    println!("command  {}: {command}", ProduceCar::NAME);
    println!("         {}", String::from_utf8(command.encode()?)?);

    // An event written by an older build of this service, at version 1:
    // it has no `color`, which version 2 added with a default.
    let stored_v1 = format!(
        r#"{{"id": "{id}", "employee_name": "Ann", "car_model": "Model T",
            "parts": [{{"name": "wheel", "quantity": 4}}]}}"#
    );
    let event = FactoryEvent::decode(CarProduced::NAME, 1, stored_v1.as_bytes())?;
    let FactoryEvent::CarProduced(produced) = &event else {
        return Err("expected a CarProduced event".into());
    };
    println!(
        "event    {} v1 read as v{}: {} {:?} with {} part(s)",
        CarProduced::NAME,
        CarProduced::VERSION,
        produced.car_model,
        produced.color,
        produced.parts.len()
    );
    assert_eq!(
        produced.parts,
        vec![CarPart {
            name: "wheel".into(),
            quantity: 4
        }]
    );

    let unknown = CarProduced::decode(3, stored_v1.as_bytes());
    if let Err(error) = unknown {
        println!("refused  {error}");
    }
    println!("history  {:?}", CarProduced::HISTORY);
    Ok(())
}
