//! Projections over the bank account events, shared by the projection
//! tests: `Balances` (one view per account) and `Totals` (one view for the
//! whole bank, through a helper).

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use treaty::projection::{EventContext, Projection};

use crate::bank::{AccountEvent, AccountOpened, Deposited, Withdrew};

/// An account as the balance screen shows it.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Balance {
    pub owner: String,
    pub balance: i64,
    /// How many events the view has seen: an event applied twice or
    /// missed shows here even when amounts cancel out.
    pub events: u64,
    /// The position of the last event applied.
    pub last_position: u64,
}

/// Money in and out of the whole bank.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Totals {
    pub deposited: u64,
    pub withdrawn: u64,
    pub events: u64,
}

/// The signed effect of an event on a balance. Marked and named in `uses`
/// as earlier versions required: no longer needed (the analysis finds it),
/// still accepted.
#[treaty::projection_helper]
pub fn signed_amount(event: &AccountEvent) -> i64 {
    match event {
        AccountEvent::AccountOpened(_) => 0,
        AccountEvent::Deposited(Deposited { amount, .. }) => *amount as i64,
        AccountEvent::Withdrew(Withdrew { amount, .. }) => -(*amount as i64),
    }
}

/// One view per account.
pub struct Balances;

#[treaty::projection(uses = [signed_amount])]
impl Projection for Balances {
    const NAME: &'static str = "bank.balances";
    type Event = AccountEvent;
    type View = Balance;

    fn keys(&self, event: &AccountEvent) -> Vec<String> {
        vec![event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Balance>, event: &AccountEvent, context: &EventContext<'_>) {
        let view = view.get_or_insert_with(Balance::default);
        if let AccountEvent::AccountOpened(AccountOpened { owner, .. }) = event {
            view.owner = owner.clone();
        }
        view.balance += signed_amount(event);
        view.events += 1;
        view.last_position = context.position;
    }
}

/// One view for the whole bank.
pub struct BankTotals;

#[treaty::projection]
impl Projection for BankTotals {
    const NAME: &'static str = "bank.totals";
    type Event = AccountEvent;
    type View = Totals;

    fn keys(&self, _: &AccountEvent) -> Vec<String> {
        vec!["all".to_string()]
    }

    fn apply(&self, view: &mut Option<Totals>, event: &AccountEvent, _: &EventContext<'_>) {
        let view = view.get_or_insert_with(Totals::default);
        match event {
            AccountEvent::AccountOpened(_) => {}
            AccountEvent::Deposited(d) => view.deposited += d.amount,
            AccountEvent::Withdrew(w) => view.withdrawn += w.amount,
        }
        view.events += 1;
    }
}

/// `Balances` under a new fingerprint (`version = 2`) with the same views:
/// the engine rebuilds it, and the result must equal what it replaces.
pub struct BalancesV2;

#[treaty::projection(uses = [signed_amount], version = 2)]
impl Projection for BalancesV2 {
    const NAME: &'static str = "bank.balances";
    type Event = AccountEvent;
    type View = Balance;

    fn keys(&self, event: &AccountEvent) -> Vec<String> {
        vec![event.id().to_string()]
    }

    fn apply(&self, view: &mut Option<Balance>, event: &AccountEvent, context: &EventContext<'_>) {
        let view = view.get_or_insert_with(Balance::default);
        if let AccountEvent::AccountOpened(AccountOpened { owner, .. }) = event {
            view.owner = owner.clone();
        }
        view.balance += signed_amount(event);
        view.events += 1;
        view.last_position = context.position;
    }
}

/// The views `Balances` must hold after `events`, folded in memory.
pub fn expected_balances(events: &[(u64, AccountEvent)]) -> std::collections::BTreeMap<String, Balance> {
    let mut views = std::collections::BTreeMap::new();
    for (position, event) in events {
        let view: &mut Balance = views.entry(event.id().to_string()).or_default();
        if let AccountEvent::AccountOpened(AccountOpened { owner, .. }) = event {
            view.owner = owner.clone();
        }
        view.balance += signed_amount(event);
        view.events += 1;
        view.last_position = *position;
    }
    views
}
