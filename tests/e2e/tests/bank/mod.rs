//! The bank account aggregate shared by the repository and specification
//! tests.
//!
//! The contracts are written inline with `contract!`, so these tests also
//! show that an aggregate declared in a macro gets everything the
//! repository needs: the generated `AccountEvent` implements `EventSet`.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

use std::fmt;

treaty::contract! {
    //! A bank account.
    namespace bank;

    /// Identifies an account.
    id AccountId: String;

    aggregate Account(id: AccountId) {
        /// Open an account for its owner.
        OpenAccount?(owner: String) display "open account {id} for {owner}";
        /// Put money in.
        Deposit?(amount: u64) display "deposit {amount} to account {id}";
        /// Take money out; refused when the balance is too low.
        Withdraw?(amount: u64) display "withdraw {amount} from account {id}";

        /// The account was opened.
        AccountOpened!(owner: String) display "account {id} opened for {owner}";
        /// Money was put in. Version 1 held the amount in a `u32` and had
        /// no memo; both upcast to version 2 by derived rules.
        Deposited! v2 (amount: u64, memo: String = "") display "{amount} deposited to account {id}"
            was v1 (amount: u32);
        /// Money was taken out.
        Withdrew!(amount: u64) display "{amount} withdrawn from account {id}";
    }
}

pub use bank::*;

/// The state of an account: what `decide` needs and nothing more.
#[derive(Debug, Clone, Default, PartialEq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Account {
    pub owner: Option<String>,
    pub balance: u64,
}

/// Why an account refuses a command. Serializable, so that the bus sends
/// it typed to whoever asked (`Aggregate::refusal`).
#[derive(Debug, Clone, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub enum AccountError {
    AlreadyOpen,
    NotOpen,
    InsufficientFunds { balance: u64, requested: u64 },
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::AlreadyOpen => f.write_str("the account is already open"),
            AccountError::NotOpen => f.write_str("the account is not open"),
            AccountError::InsufficientFunds { balance, requested } => {
                write!(f, "insufficient funds: balance {balance}, requested {requested}")
            }
        }
    }
}

impl std::error::Error for AccountError {}

impl treaty::aggregate::Aggregate for Account {
    type Id = AccountId;
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    const CATEGORY: &'static str = "account";

    fn refusal(error: &AccountError) -> treaty::bus::Refusal {
        treaty::bus::Refusal::of(error)
    }

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        let open = self.owner.is_some();
        match command {
            AccountCommand::OpenAccount(_) if open => Err(AccountError::AlreadyOpen),
            AccountCommand::OpenAccount(c) => Ok(vec![AccountOpened {
                id: c.id.clone(),
                owner: c.owner.clone(),
            }
            .into()]),
            _ if !open => Err(AccountError::NotOpen),
            // Depositing nothing changes nothing, so nothing is recorded.
            AccountCommand::Deposit(c) if c.amount == 0 => Ok(Vec::new()),
            AccountCommand::Deposit(c) => Ok(vec![Deposited {
                id: c.id.clone(),
                amount: c.amount,
                memo: String::new(),
            }
            .into()]),
            AccountCommand::Withdraw(c) if c.amount > self.balance => Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: c.amount,
            }),
            AccountCommand::Withdraw(c) => Ok(vec![Withdrew {
                id: c.id.clone(),
                amount: c.amount,
            }
            .into()]),
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::AccountOpened(e) => self.owner = Some(e.owner.clone()),
            AccountEvent::Deposited(e) => self.balance += e.amount,
            // `decide` never records more than the balance, and appends
            // are checked against the version it decided on.
            AccountEvent::Withdrew(e) => self.balance -= e.amount,
        }
    }
}

pub fn id(text: &str) -> AccountId {
    AccountId(text.to_string())
}

pub fn open(account: &str, owner: &str) -> AccountCommand {
    OpenAccount {
        id: id(account),
        owner: owner.into(),
    }
    .into()
}

pub fn deposit(account: &str, amount: u64) -> AccountCommand {
    Deposit {
        id: id(account),
        amount,
    }
    .into()
}

pub fn withdraw(account: &str, amount: u64) -> AccountCommand {
    Withdraw {
        id: id(account),
        amount,
    }
    .into()
}

pub fn opened(account: &str, owner: &str) -> AccountEvent {
    AccountOpened {
        id: id(account),
        owner: owner.into(),
    }
    .into()
}

pub fn deposited(account: &str, amount: u64) -> AccountEvent {
    Deposited {
        id: id(account),
        amount,
        memo: String::new(),
    }
    .into()
}

pub fn withdrew(account: &str, amount: u64) -> AccountEvent {
    Withdrew {
        id: id(account),
        amount,
    }
    .into()
}

pub mod welcome;

/// Asks `bus` (handling the account aggregate) for a withdrawal the
/// account refuses, and checks the asker gets the typed `AccountError`
/// back as well as its text, whatever the transport.
pub async fn a_refusal_arrives_as_the_typed_domain_error<T, Q>(bus: &treaty::bus::Bus<T, Q>)
where
    T: treaty::bus::Transport,
    Q: treaty::bus::Quarantine,
{
    let OpenAccount { id: account, .. } = match open("refused", "ann") {
        AccountCommand::OpenAccount(open) => open,
        _ => unreachable!(),
    };
    bus.ask(&OpenAccount {
        id: account.clone(),
        owner: "ann".into(),
    })
    .await
    .unwrap();
    let asked = bus
        .ask(&Withdraw {
            id: account,
            amount: 100,
        })
        .await;
    let Err(treaty::bus::AskError::Refused(refusal)) = asked else {
        panic!("expected a refusal, got {asked:?}");
    };
    assert_eq!(refusal.message(), "insufficient funds: balance 0, requested 100");
    assert_eq!(
        refusal.downcast::<AccountError>().unwrap(),
        AccountError::InsufficientFunds {
            balance: 0,
            requested: 100
        }
    );
    assert!(matches!(
        refusal.downcast::<u64>(),
        Err(treaty::bus::DowncastError::OtherType { .. })
    ));
}
