//! The counter, the smallest aggregate that appends one event per
//! command: what the messaging and HTTP suites send commands to, so both
//! measure the same work.

use treaty::aggregate::Aggregate;

/// The contracts, as text: the HTTP suite builds its catalog from them.
/// `contract!` below must say the same.
pub const CONTRACTS: &str = "
namespace benchcounter;
id CounterId: String;
aggregate Counter(id: CounterId) {
    Increment?(by: u64);
    Incremented!(by: u64) display \"{id} incremented by {by}\";
}
";

treaty::contract! {
    namespace benchcounter;
    id CounterId: String;
    aggregate Counter(id: CounterId) {
        Increment?(by: u64);
        Incremented!(by: u64) display "{id} incremented by {by}";
    }
}

pub use benchcounter::{CounterCommand, CounterEvent, CounterId, Increment, Incremented};

/// A counter's state: its total. Serializable, so the store suite's
/// long-stream case can snapshot it.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    pub total: u64,
}

impl Aggregate for Counter {
    type Id = CounterId;
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Error = std::convert::Infallible;
    const CATEGORY: &'static str = "counter";

    fn decide(&self, command: &CounterCommand) -> Result<Vec<CounterEvent>, Self::Error> {
        let CounterCommand::Increment(increment) = command;
        Ok(vec![Incremented {
            id: increment.id.clone(),
            by: increment.by,
        }
        .into()])
    }

    fn apply(&mut self, event: &CounterEvent) {
        let CounterEvent::Incremented(incremented) = event;
        self.total += incremented.by;
    }
}

/// Counters the commands are spread over.
pub const COUNTERS: u64 = 1_000;
