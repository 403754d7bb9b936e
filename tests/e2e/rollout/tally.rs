// The tally aggregate, the same code in every build of `tests/rollout.rs`
// and the `rollout_*` workers: included after each build's contracts.

/// A tally: the sum of what was added.
#[derive(Debug, Clone, Default, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Tally {
    pub total: u64,
}

/// A tally refuses nothing.
#[derive(Debug)]
pub enum Never {}

impl std::fmt::Display for Never {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for Never {}

impl treaty::aggregate::Aggregate for Tally {
    type Id = TallyId;
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = Never;
    const CATEGORY: &'static str = "tally";

    // `u64::from`: the amount is a u32 in some builds, a u64 in others.
    #[allow(clippy::useless_conversion)]
    fn decide(&self, command: &TallyCommand) -> Result<Vec<TallyEvent>, Never> {
        match command {
            TallyCommand::Add(c) => Ok(vec![Added {
                id: c.id.clone(),
                amount: u64::from(c.amount),
                build: BUILD.to_string(),
            }
            .into()]),
        }
    }

    fn apply(&mut self, event: &TallyEvent) {
        match event {
            TallyEvent::Added(e) => self.total += e.amount,
        }
    }
}
