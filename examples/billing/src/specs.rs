//! The collection's specifications: given events, when an event or a due
//! timeout, then the commands, timeouts and completion. `tests/collection.rs`
//! runs them, and `tests/use_cases.rs` keeps `use-cases.json` equal to
//! their use cases, which `treaty docs --specs` renders beside the
//! contracts.

use treaty::process::spec::ProcessSpec;
use treaty::Uuid;

use crate::billing::{AccountId, CarInvoiced, InvoiceId, MarkOverdue, Money, PaymentReceived, SendInvoice};
use crate::{Collection, CollectionEvent, CAR_PRICE_CENTS, PAYMENT_DUE, PAYMENT_DUE_TIMEOUT};

/// The account of the specs.
pub fn account() -> AccountId {
    AccountId(Uuid::from_u128(0xacc))
}

/// The `n`th car (and its invoice's id).
pub fn car(n: u128) -> Uuid {
    Uuid::from_u128(0xca40 + n)
}

/// A car's price.
pub fn price() -> Money {
    Money::new(CAR_PRICE_CENTS, "USD".into())
}

/// The `n`th car invoiced.
pub fn invoiced(n: u128) -> CarInvoiced {
    CarInvoiced::new(account(), car(n), "Tesla".into(), price())
}

/// The `n`th car's invoice paid.
pub fn paid(n: u128) -> PaymentReceived {
    PaymentReceived::new(InvoiceId(car(n)), price())
}

/// Every spec of the collection.
pub fn specs() -> Vec<ProcessSpec<Collection>> {
    vec![
        ProcessSpec::new("An invoiced car gets its invoice sent", Collection::default())
            .given([invoiced(1)])
            .when(invoiced(2))
            .sends(&SendInvoice::new(InvoiceId(car(2)), account(), price()))
            .schedules(PAYMENT_DUE_TIMEOUT, PAYMENT_DUE),
        ProcessSpec::new("A paid invoice is collected", Collection::default())
            .given([invoiced(1)])
            .when(paid(1))
            .cancels(PAYMENT_DUE_TIMEOUT)
            .completes(),
        ProcessSpec::new("An invoice unpaid when due is overdue", Collection::default())
            .given([invoiced(1)])
            .when_timeout(InvoiceId(car(1)).to_string(), PAYMENT_DUE_TIMEOUT)
            .sends(&MarkOverdue::new(InvoiceId(car(1)))),
        ProcessSpec::new("A paid invoice is not overdue", Collection::default())
            .given::<[CollectionEvent; 3]>([invoiced(1).into(), invoiced(2).into(), paid(2).into()])
            .when_timeout(InvoiceId(car(2)).to_string(), PAYMENT_DUE_TIMEOUT),
    ]
}
