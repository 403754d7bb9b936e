//! Read models of the factory, folded from its events by the projection
//! engine.
//!
//! Nothing here is marked for the fingerprints: the analysis build.rs runs
//! finds that `CarsByModel` calls the plain helper `part_count`, so editing
//! `part_count` rebuilds `CarsByModel` and nothing else.
//! `projections_edited.rs` is this file after such an edit, which `main`
//! starts on a second run.

use treaty::projection::{EventContext, Projection};

use crate::factory::{CarProduced, FactoryEvent};

/// How many cars of a model were produced, and with how many parts.
#[treaty::view]
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ModelCount {
    pub cars: u64,
    pub parts: u64,
}

/// What a factory has done.
#[treaty::view]
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Activity {
    pub open: bool,
    pub cars_produced: u64,
    pub last_employee: Option<String>,
}

/// The parts that went into a car.
pub fn part_count(car: &CarProduced) -> u64 {
    car.parts.iter().map(|part| u64::from(part.quantity)).sum()
}

/// Cars per model, keyed by model name.
pub struct CarsByModel;

#[treaty::projection]
impl Projection for CarsByModel {
    const NAME: &'static str = "factory.cars_by_model";
    type Event = FactoryEvent;
    type View = ModelCount;

    fn keys(&self, event: &FactoryEvent) -> Vec<String> {
        match event {
            FactoryEvent::CarProduced(car) => vec![car.car_model.clone()],
            FactoryEvent::FactoryOpened(_) => Vec::new(),
        }
    }

    fn apply(&self, view: &mut Option<ModelCount>, event: &FactoryEvent, _: &EventContext<'_>) {
        if let FactoryEvent::CarProduced(car) = event {
            let view = view.get_or_insert_with(ModelCount::default);
            view.cars += 1;
            view.parts += part_count(car);
        }
    }
}

/// Activity per factory, keyed by factory id.
pub struct FactoryActivity;

#[treaty::projection]
impl Projection for FactoryActivity {
    const NAME: &'static str = "factory.activity";
    type Event = FactoryEvent;
    type View = Activity;

    fn keys(&self, event: &FactoryEvent) -> Vec<String> {
        vec![event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Activity>, event: &FactoryEvent, _: &EventContext<'_>) {
        let view = view.get_or_insert_with(Activity::default);
        match event {
            FactoryEvent::FactoryOpened(_) => view.open = true,
            FactoryEvent::CarProduced(car) => {
                view.cars_produced += 1;
                view.last_employee = Some(car.employee_name.clone());
            }
        }
    }
}
