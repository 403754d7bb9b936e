//! The billing example: a second service, in its own process with its own
//! SQLite store, that invoices every car the factory example produces.
//! It shares nothing with the factory but a RabbitMQ broker: the
//! factory's relay publishes `factory.CarProduced`, and billing's inbox
//! receives it and invoices the car with its own aggregate, once per car
//! however often the event arrives. Each invoice is then collected by a
//! process manager, [`Collection`]: it sends the invoice, waits for the
//! payment, and marks the invoice overdue when none came in time.
//! README.md says how to run the pair.

#![deny(warnings)]

use std::time::Duration;

use futures::future::BoxFuture;
use treaty::aggregate::{Aggregate, ExecuteError, Repository};
use treaty::bus::HandleError;
use treaty::process::{Effects, ProcessManager};
use treaty::relay::{IntegrationEvent, IntegrationHandler};
use treaty::store::EventStore;
use treaty::ContractInfo;

treaty::include_contracts!();

pub mod specs;

use self::billing::{
    AccountCommand, AccountEvent, AccountId, CarInvoiced, InvoiceCar, InvoiceCommand, InvoiceEvent, InvoiceId,
    InvoiceOverdue, InvoiceSent, MarkOverdue, Money, PaymentReceived, SendInvoice,
};
use self::factory::CarProduced;

/// The price of a car, whatever its model.
pub const CAR_PRICE_CENTS: i64 = 2_500_000;

/// A factory's billing account. It invoices every car it is asked to:
/// that each car is invoiced once is the inbox's work, not the
/// aggregate's.
#[derive(Debug, Default)]
pub struct Account {
    /// How many cars it has invoiced.
    pub invoiced: u64,
}

/// The account refuses nothing; its commands still need an error type.
#[derive(Debug)]
pub enum AccountError {}

impl std::fmt::Display for AccountError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for AccountError {}

impl Aggregate for Account {
    type Id = AccountId;
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    const CATEGORY: &'static str = "account";

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        match command {
            AccountCommand::InvoiceCar(c) => Ok(vec![CarInvoiced::new(
                c.id,
                c.car,
                c.car_model.clone(),
                Money::new(CAR_PRICE_CENTS, "USD".into()),
            )
            .into()]),
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::CarInvoiced(_) => self.invoiced += 1,
        }
    }
}

/// Invoices each car the factory produced: the `CarProduced` event's id
/// is the car's, and the message id of the `InvoiceCar` execution, so
/// the invoice's event id is derived from it and a repeat of the event
/// finds the invoice already there.
pub struct InvoiceCars<S: EventStore> {
    repository: Repository<Account, S>,
}

impl<S: EventStore> InvoiceCars<S> {
    /// Invoices through `repository`.
    pub fn new(repository: Repository<Account, S>) -> Self {
        InvoiceCars { repository }
    }
}

impl<S: EventStore> IntegrationHandler for InvoiceCars<S> {
    fn contracts(&self) -> Vec<ContractInfo> {
        vec![ContractInfo::of::<CarProduced>()]
    }

    fn handle<'a>(&'a self, event: &'a IntegrationEvent) -> BoxFuture<'a, Result<(), HandleError>> {
        Box::pin(async move {
            let car: CarProduced = event.decode().map_err(|e| {
                HandleError::Permanent(format!(
                    "cannot read integration event {} from stream {}: {e}",
                    event.id, event.stream
                ))
            })?;
            let account = AccountId(car.id.0);
            let command = AccountCommand::from(InvoiceCar::new(account, event.id, car.car_model));
            match self
                .repository
                .execute_message(&account, &command, event.id, event.caused_metadata())
                .await
            {
                Ok(_) => Ok(()),
                Err(ExecuteError::Rejected(never)) => match never {},
                // Storage failures and conflicts pass; the inbox retries
                // them, then parks the event.
                Err(other) => Err(HandleError::Transient(other.to_string())),
            }
        })
    }
}

/// The invoice of one car.
#[derive(Debug, Default)]
pub struct Invoice {
    /// Whether it was sent.
    pub sent: bool,
    /// Whether it was paid.
    pub paid: bool,
    /// Whether its payment came late (or has not come yet).
    pub overdue: bool,
}

/// Why an invoice refuses a payment.
#[derive(Debug, PartialEq, Eq)]
pub enum InvoiceError {
    /// No such invoice was sent.
    Unknown,
    /// The invoice is paid already.
    AlreadyPaid,
}

impl std::fmt::Display for InvoiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvoiceError::Unknown => write!(f, "no such invoice was sent"),
            InvoiceError::AlreadyPaid => write!(f, "the invoice is paid already"),
        }
    }
}

impl std::error::Error for InvoiceError {}

impl Aggregate for Invoice {
    type Id = InvoiceId;
    type Command = InvoiceCommand;
    type Event = InvoiceEvent;
    type Error = InvoiceError;
    const CATEGORY: &'static str = "invoice";

    /// Sending and marking overdue do nothing when done already, and do
    /// not depend on each other's order: the collection's commands may be
    /// handled in either order after a restart. A payment is accepted once.
    fn decide(&self, command: &InvoiceCommand) -> Result<Vec<InvoiceEvent>, InvoiceError> {
        match command {
            InvoiceCommand::SendInvoice(send) if !self.sent => {
                Ok(vec![InvoiceSent::new(send.id, send.account, send.amount.clone()).into()])
            }
            InvoiceCommand::SendInvoice(_) => Ok(Vec::new()),
            InvoiceCommand::RecordPayment(_) if self.paid => Err(InvoiceError::AlreadyPaid),
            InvoiceCommand::RecordPayment(_) if !self.sent && !self.overdue => Err(InvoiceError::Unknown),
            InvoiceCommand::RecordPayment(payment) => {
                Ok(vec![PaymentReceived::new(payment.id, payment.amount.clone()).into()])
            }
            InvoiceCommand::MarkOverdue(mark) if !self.paid && !self.overdue => {
                Ok(vec![InvoiceOverdue::new(mark.id).into()])
            }
            InvoiceCommand::MarkOverdue(_) => Ok(Vec::new()),
        }
    }

    fn apply(&mut self, event: &InvoiceEvent) {
        match event {
            InvoiceEvent::InvoiceSent(_) => self.sent = true,
            InvoiceEvent::PaymentReceived(_) => self.paid = true,
            InvoiceEvent::InvoiceOverdue(_) => self.overdue = true,
        }
    }
}

/// How long an invoice may wait for its payment by default: 30 days.
pub const PAYMENT_DUE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The name of the timeout of an invoice's payment.
pub const PAYMENT_DUE_TIMEOUT: &str = "payment-due";

/// The events the collection reacts to.
#[treaty::event_set(display)]
pub enum CollectionEvent {
    /// A car was invoiced: the invoice is to be sent.
    CarInvoiced(CarInvoiced),
    /// An invoice was paid.
    PaymentReceived(PaymentReceived),
}

/// What the collection of one invoice remembers.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Collecting {
    /// The invoice (the timeout is told only the state).
    pub invoice: Option<InvoiceId>,
    /// Whether it was marked overdue.
    pub overdue: bool,
}

/// The collection of each invoice, a process manager with one instance
/// per invoice: when a car is invoiced it sends the invoice and waits
/// `payment_due` for the payment; when the payment comes it stops
/// waiting and ends; when it does not come in time it marks the invoice
/// overdue and goes on waiting for the payment.
#[derive(Debug, Clone, Copy)]
pub struct Collection {
    /// How long an invoice waits for its payment.
    pub payment_due: Duration,
}

impl Collection {
    /// A collection waiting `payment_due` for each payment.
    pub fn new(payment_due: Duration) -> Self {
        Collection { payment_due }
    }
}

impl Default for Collection {
    fn default() -> Self {
        Collection::new(PAYMENT_DUE)
    }
}

impl ProcessManager for Collection {
    const NAME: &'static str = "billing.collection";
    type Event = CollectionEvent;
    type State = Collecting;

    fn correlate(&self, event: &CollectionEvent) -> Option<String> {
        let invoice = match event {
            CollectionEvent::CarInvoiced(invoiced) => InvoiceId(invoiced.car),
            CollectionEvent::PaymentReceived(paid) => paid.id,
        };
        Some(invoice.to_string())
    }

    fn handle(&self, state: &mut Collecting, event: &CollectionEvent, effects: &mut Effects) {
        match event {
            CollectionEvent::CarInvoiced(invoiced) => {
                let invoice = InvoiceId(invoiced.car);
                state.invoice = Some(invoice);
                effects
                    .send(&SendInvoice::new(invoice, invoiced.id, invoiced.amount.clone()))
                    .schedule(PAYMENT_DUE_TIMEOUT, self.payment_due);
            }
            CollectionEvent::PaymentReceived(_) => {
                effects.cancel(PAYMENT_DUE_TIMEOUT).complete();
            }
        }
    }

    fn timeout(&self, state: &mut Collecting, name: &str, effects: &mut Effects) {
        if let (PAYMENT_DUE_TIMEOUT, Some(invoice)) = (name, state.invoice) {
            state.overdue = true;
            effects.send(&MarkOverdue::new(invoice));
        }
    }
}
