//! The billing example: a second service, in its own process with its own
//! SQLite store, that invoices every car the factory example produces.
//! It shares nothing with the factory but a RabbitMQ broker: the
//! factory's relay publishes `factory.CarProduced`, and billing's inbox
//! receives it and invoices the car with its own aggregate, once per car
//! however often the event arrives. README.md says how to run the pair.

#![deny(warnings)]

use futures::future::BoxFuture;
use treaty::aggregate::{Aggregate, ExecuteError, Repository};
use treaty::bus::HandleError;
use treaty::relay::{IntegrationEvent, IntegrationHandler};
use treaty::store::EventStore;
use treaty::ContractInfo;

treaty::include_contracts!();

use self::billing::{AccountCommand, AccountEvent, AccountId, CarInvoiced, InvoiceCar, Money};
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
