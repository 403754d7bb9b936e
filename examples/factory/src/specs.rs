//! The factory's specifications: given these events, when this command,
//! then these events or this refusal. They run as tests, and the HTTP API
//! serves them as use cases: examples in its OpenAPI document and the
//! use-case section of `/docs`.

use treaty::spec::{Spec, UseCase};

use crate::factory::{CarPart, CarProduced, Color, FactoryId, FactoryOpened, OpenFactory, ProduceCar};
use crate::Factory;

/// The factory every spec is about.
fn factory() -> FactoryId {
    FactoryId::from(treaty::Uuid::from_u128(0x0190_a5d4_2c3b_7a10_8000_0000_0000_0001))
}

fn produce(model: &str) -> ProduceCar {
    ProduceCar {
        id: factory(),
        employee_name: "Ann".into(),
        car_model: model.into(),
        price: Some(crate::shared::Money {
            cents: 2_500_000,
            currency: "USD".into(),
        }),
    }
}

/// Every spec of the factory.
pub(crate) fn specs() -> Vec<Spec<Factory>> {
    vec![
        Spec::<Factory>::new("Opening a factory")
            .when(OpenFactory { id: factory() })
            .then([FactoryOpened { id: factory() }]),
        Spec::<Factory>::new("Opening an open factory is refused")
            .given([FactoryOpened { id: factory() }])
            .when(OpenFactory { id: factory() })
            .then_error_text("the factory is already open"),
        Spec::<Factory>::new("An open factory produces a car")
            .given([FactoryOpened { id: factory() }])
            .when(produce("Model T"))
            .then([CarProduced {
                id: factory(),
                employee_name: "Ann".into(),
                car_model: "Model T".into(),
                parts: vec![CarPart {
                    name: "wheel".into(),
                    quantity: 4,
                }],
                color: Color::Blue,
            }]),
        Spec::<Factory>::new("A closed factory produces nothing")
            .when(produce("Model T"))
            .then_error_text("the factory is closed"),
    ]
}

/// The specs as use cases.
///
/// # Errors
///
/// The first spec that fails: documentation never describes behaviour
/// the code does not have.
pub(crate) fn use_cases() -> Result<Vec<UseCase>, treaty::spec::SpecFailure> {
    specs().iter().map(Spec::use_case).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_passes_and_becomes_a_use_case() {
        for spec in specs() {
            spec.verify();
        }
        let use_cases = use_cases().unwrap();
        assert_eq!(use_cases.len(), 4);
        assert_eq!(
            use_cases[0].when.text,
            "Open factory 0190a5d4-2c3b-7a10-8000-000000000001"
        );
        assert_eq!(use_cases[2].when.payload["car_model"], "Model T");
        let json = serde_json::to_string(&use_cases).unwrap();
        assert!(json.contains(r#""outcome":"refused""#), "{json}");
        assert!(json.contains("produced a Blue Model T"), "{json}");
    }
}
