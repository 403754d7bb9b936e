use treaty::projection::{EventContext, Projection};

use crate::app::clicks::clicks::ButtonEvent;
use crate::app::views::Count;

pub struct Untouched;

#[treaty::projection]
impl Projection for Untouched {
    const NAME: &'static str = "changes.untouched";
    type Event = ButtonEvent;
    type View = Count;

    fn keys(&self, _: &ButtonEvent) -> Vec<String> {
        vec!["all".into()]
    }

    fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Count::default).events += 1;
    }
}

/// In the same file as the projection, but not called by it.
pub fn unrelated_in_the_same_file() -> u64 {
    2
}
