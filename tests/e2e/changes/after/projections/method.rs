use treaty::projection::{EventContext, Projection};

use crate::app::clicks::clicks::ButtonEvent;
use crate::app::views::Counter;

pub struct ViewMethod;

#[treaty::projection]
impl Projection for ViewMethod {
    const NAME: &'static str = "changes.view_method";
    type Event = ButtonEvent;
    type View = Counter;

    fn keys(&self, _: &ButtonEvent) -> Vec<String> {
        vec!["all".into()]
    }

    fn apply(&self, view: &mut Option<Counter>, _: &ButtonEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Counter::default).bump();
    }
}
