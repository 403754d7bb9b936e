use treaty::projection::{EventContext, Projection};

use crate::app::ledger::ledger::LedgerEvent;
use crate::app::views::Count;

/// Counts the words noted, which the upcast fills in for version 1.
pub struct Upcast;

#[treaty::projection]
impl Projection for Upcast {
    const NAME: &'static str = "changes.upcast";
    type Event = LedgerEvent;
    type View = Count;

    fn keys(&self, _: &LedgerEvent) -> Vec<String> {
        vec!["all".into()]
    }

    fn apply(&self, view: &mut Option<Count>, event: &LedgerEvent, _: &EventContext<'_>) {
        let LedgerEvent::Noted(note) = event;
        view.get_or_insert_with(Count::default).events += u64::from(note.words);
    }
}
