//! The welcome process: every account opened gets a welcome gift of 100
//! and a first-day bonus of 1, as two deposits, and then the process ends.

use treaty::process::{Effects, ProcessManager};

use super::{AccountEvent, Deposit};

/// The process manager.
pub struct Welcome;

impl ProcessManager for Welcome {
    const NAME: &'static str = "welcome";
    type Event = AccountEvent;
    type State = ();

    fn correlate(&self, event: &AccountEvent) -> Option<String> {
        match event {
            AccountEvent::AccountOpened(opened) => Some(opened.id.0.clone()),
            _ => None,
        }
    }

    fn handle(&self, _: &mut (), event: &AccountEvent, effects: &mut Effects) {
        if let AccountEvent::AccountOpened(opened) = event {
            effects
                .send(&Deposit {
                    id: opened.id.clone(),
                    amount: 100,
                })
                .send(&Deposit {
                    id: opened.id.clone(),
                    amount: 1,
                })
                .complete();
        }
    }
}
