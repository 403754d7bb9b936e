use treaty::projection::{EventContext, Projection};

use crate::app::clicks::clicks::ButtonEvent;
use crate::app::views::Count;

pub struct Commented;

#[treaty::projection]
impl Projection for Commented {
    const NAME: &'static str = "changes.comment";
    type Event = ButtonEvent;
    type View = Count;

    fn keys(&self, _: &ButtonEvent) -> Vec<String> {
        vec!["all".into()]
    }

    /// Counts every click once.
    fn apply(&self, view: &mut Option<Count>, _: &ButtonEvent, _: &EventContext<'_>) {
        // One per event, whatever the button.
        view.get_or_insert_with(Count::default).events += 1; /* always one */
    }
}
