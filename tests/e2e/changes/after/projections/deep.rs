use treaty::projection::{EventContext, Projection};

use crate::app::clicks::clicks::ButtonEvent;
use crate::app::pricing;
use crate::app::views::Count;

pub struct Deep;

#[treaty::projection]
impl Projection for Deep {
    const NAME: &'static str = "changes.deep";
    type Event = ButtonEvent;
    type View = Count;

    fn keys(&self, _: &ButtonEvent) -> Vec<String> {
        vec!["all".into()]
    }

    fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Count::default).events += pricing::total(1);
    }
}
