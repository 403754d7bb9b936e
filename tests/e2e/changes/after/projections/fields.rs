use treaty::projection::{EventContext, Projection};

use crate::app::clicks::clicks::ButtonEvent;
use crate::app::views::Count;

/// A projection with configuration: its fields count.
pub struct Fields {
    pub step: u16,
}

#[treaty::projection]
impl Projection for Fields {
    const NAME: &'static str = "changes.fields";
    type Event = ButtonEvent;
    type View = Count;

    fn keys(&self, _: &ButtonEvent) -> Vec<String> {
        vec!["all".into()]
    }

    fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Count::default).events += u64::from(self.step);
    }
}
