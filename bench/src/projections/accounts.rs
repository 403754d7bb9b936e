//! What the `projections` suite rebuilds: bank account events declared
//! with `treaty::contract!`, the `Balances` projection over them, and the
//! generator that writes the events of many accounts into a store.

use serde::{Deserialize, Serialize};
use treaty::projection::{EventContext, Projection};
use uuid::Uuid;

use crate::store::cache::{fnv1a, GeneratedEvent};

treaty::contract! {
    //! Bank accounts, for the projection benchmark.
    namespace bench;

    /// Identifies an account.
    id AccountId: String;

    aggregate Account(id: AccountId) {
        /// The account was opened.
        Opened!(owner: String);
        /// Money was put in.
        Deposited!(amount: u64);
        /// Money was taken out.
        Withdrew!(amount: u64);
    }
}

pub use bench::*;

/// An account's balance, as a balance screen shows it.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub owner: String,
    pub balance: i64,
    /// How many events the view has seen.
    pub events: u64,
}

/// One view per account, under the account's id.
pub struct Balances;

#[treaty::projection]
impl Projection for Balances {
    const NAME: &'static str = "bench.balances";
    type Event = AccountEvent;
    type View = Balance;

    fn keys(&self, event: &AccountEvent) -> Vec<String> {
        vec![event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Balance>, event: &AccountEvent, _: &EventContext<'_>) {
        let view = view.get_or_insert_with(Balance::default);
        match event {
            AccountEvent::Opened(opened) => view.owner.clone_from(&opened.owner),
            AccountEvent::Deposited(deposited) => view.balance += deposited.amount as i64,
            AccountEvent::Withdrew(withdrew) => view.balance -= withdrew.amount as i64,
        }
        view.events += 1;
    }
}

/// A summary of a whole set of views that does not depend on the order
/// they are visited in, so two rebuilds can be compared without holding
/// either in memory: how many views, the sums of their balances and
/// event counts, and the sum of a hash of each view with its key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub views: u64,
    pub balance: i64,
    pub events: u64,
    pub hash: u64,
}

impl Checksum {
    pub fn add(&mut self, key: &str, view: &Balance) {
        self.views += 1;
        self.balance = self.balance.wrapping_add(view.balance);
        self.events += view.events;
        let text = format!("{key}\u{0}{}\u{0}{}\u{0}{}", view.owner, view.balance, view.events);
        self.hash = self.hash.wrapping_add(fnv1a(text.as_bytes()));
    }
}

/// Bump when the generated events change, so cached files are rebuilt.
pub const GENERATOR_VERSION: u32 = 1;

/// Accounts receiving events at any one time. Each event goes to one of
/// them at random, so an account's events lie within a few thousand
/// positions of each other, interleaved with those of the others.
const ACTIVE_ACCOUNTS: usize = 1_000;

/// An account receives between these many events (10 on average), then
/// makes room for a new one.
const EVENTS_PER_ACCOUNT: (u64, u64) = (5, 15);

/// The generator's seed: every run writes the same events.
const SEED: u64 = 0x5eed_ba1a_4ce5;

/// A deterministic stream of account events: about 10 per account, each
/// account's close together in position, about 1,000 accounts
/// interleaved at any moment, so 10 million events touch about a million
/// accounts.
pub struct Generator {
    random: SplitMix64,
    active: Vec<Active>,
    next_account: u64,
}

struct Active {
    id: String,
    stream: String,
    events: u64,
    version: u64,
    balance: u64,
}

impl Default for Generator {
    fn default() -> Self {
        Generator::new()
    }
}

impl Generator {
    pub fn new() -> Generator {
        let mut generator = Generator {
            random: SplitMix64(SEED),
            active: Vec::with_capacity(ACTIVE_ACCOUNTS),
            next_account: 0,
        };
        for _ in 0..ACTIVE_ACCOUNTS {
            let account = generator.new_account();
            generator.active.push(account);
        }
        generator
    }

    fn new_account(&mut self) -> Active {
        let number = self.next_account;
        self.next_account += 1;
        let id = format!("acc-{number:08}");
        let (least, most) = EVENTS_PER_ACCOUNT;
        Active {
            stream: format!("account-{id}"),
            id,
            events: least + self.random.below(most - least + 1),
            version: 0,
            balance: 0,
        }
    }

    /// The next event: its stream, its version in the stream and the
    /// event.
    pub fn next_event(&mut self) -> (String, u64, AccountEvent) {
        let slot = self.random.below(ACTIVE_ACCOUNTS as u64) as usize;
        let choice = self.random.below(3);
        let amount = 1 + self.random.below(1_000);
        let account = &mut self.active[slot];
        account.version += 1;
        let id = AccountId(account.id.clone());
        let event: AccountEvent = if account.version == 1 {
            Opened {
                id,
                owner: format!("Owner of {}", account.id),
            }
            .into()
        } else if choice == 0 && account.balance > 0 {
            // Never more than the balance, as a real account decides.
            let amount = amount.min(account.balance);
            account.balance -= amount;
            Withdrew { id, amount }.into()
        } else {
            account.balance += amount;
            Deposited { id, amount }.into()
        };
        let (stream, version) = (account.stream.clone(), account.version);
        if account.version == account.events {
            self.active[slot] = self.new_account();
        }
        (stream, version, event)
    }

    /// The next event as the row the store would write for it.
    pub fn next_row(&mut self) -> GeneratedEvent {
        let (stream, version, event) = self.next_event();
        let payload = event.encode().expect("generated events always encode");
        GeneratedEvent {
            id: Uuid::now_v7(),
            stream,
            version,
            contract: event.contract_name(),
            contract_version: event.contract_version(),
            fingerprint: event.contract_fingerprint(),
            payload: String::from_utf8(payload).expect("JSON is UTF-8"),
        }
    }
}

/// SplitMix64: a small, fast, seedable generator, so the benchmark needs
/// no random-number crate and writes the same events on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (the tiny bias of a modulo does not matter
    /// here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn generated_payloads_decode_as_the_generated_contracts() {
        let mut generator = Generator::new();
        for _ in 0..5_000 {
            let row = generator.next_row();
            assert!(row.payload.starts_with(r#"{"id":"acc-"#), "{}", row.payload);
            let event = AccountEvent::decode(row.contract, row.contract_version, row.payload.as_bytes()).unwrap();
            assert_eq!(row.stream, format!("account-{}", event.id()));
            assert_eq!(row.fingerprint, event.contract_fingerprint());
        }
    }

    #[test]
    fn accounts_have_about_ten_events_each_close_together() {
        let mut generator = Generator::new();
        let mut streams: HashMap<String, (u64, u64, u64)> = HashMap::new();
        let total = 200_000u64;
        for position in 1..=total {
            let (stream, version, event) = generator.next_event();
            let entry = streams.entry(stream).or_insert((0, position, position));
            // Versions count up from 1 without gaps, and each stream opens.
            assert_eq!(version, entry.0 + 1);
            assert_eq!(version == 1, matches!(event, AccountEvent::Opened(_)));
            entry.0 = version;
            entry.2 = position;
        }
        let accounts = streams.len() as u64;
        assert!((total / 12..total / 8).contains(&accounts), "{accounts} accounts");
        let finished: Vec<_> = streams.values().filter(|(_, _, last)| *last < total - 50_000).collect();
        let mean_span = finished.iter().map(|(_, first, last)| last - first).sum::<u64>() / finished.len() as u64;
        assert!(mean_span < 20_000, "an account's events span {mean_span} positions");
    }

    #[test]
    fn the_generator_is_deterministic() {
        let (mut a, mut b) = (Generator::new(), Generator::new());
        for _ in 0..1_000 {
            let (left, right) = (a.next_event(), b.next_event());
            assert_eq!((left.0, left.1), (right.0, right.1));
            assert_eq!(left.2.encode().unwrap(), right.2.encode().unwrap());
        }
    }

    #[test]
    fn the_checksum_ignores_order_but_not_content() {
        let view = |balance| Balance {
            owner: "o".into(),
            balance,
            events: 1,
        };
        let (mut forward, mut backward, mut other) = (Checksum::default(), Checksum::default(), Checksum::default());
        forward.add("a", &view(1));
        forward.add("b", &view(2));
        backward.add("b", &view(2));
        backward.add("a", &view(1));
        other.add("a", &view(2));
        other.add("b", &view(1));
        assert_eq!(forward, backward);
        assert_ne!(forward, other);
    }
}
