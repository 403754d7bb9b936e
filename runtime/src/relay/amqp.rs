//! What the relay and the inbox share about RabbitMQ: connecting (with
//! the bus transport's timeouts), the exchange of a contract, headers as
//! text, and the backoff between reconnects.

use std::collections::BTreeMap;
use std::time::Duration;

use lapin::options::ExchangeDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::watch;

use crate::bus::amqp::{CLOSE_TIMEOUT, CONNECT_TIMEOUT, FIRST_RECONNECT_DELAY};

/// The prefix of exchange names unless configured otherwise: the events
/// of namespace `factory` go to `treaty.events.factory`.
pub const DEFAULT_EXCHANGE_PREFIX: &str = "treaty.events.";

/// The namespace of a contract name: everything before its last `.`, or
/// the whole name when it has none.
pub(crate) fn namespace(contract: &str) -> &str {
    contract.rsplit_once('.').map_or(contract, |(namespace, _)| namespace)
}

/// The exchange that carries `contract`'s events.
pub(crate) fn exchange(prefix: &str, contract: &str) -> String {
    format!("{prefix}{}", namespace(contract))
}

/// Connects to `url`, naming the connection `name` in the broker's
/// management views.
pub(crate) async fn connect(url: &str, name: &str) -> Result<Connection, String> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(format!("cannot connect to the broker: {error}")),
        Err(_) => Err(format!("connecting to the broker took longer than {CONNECT_TIMEOUT:?}")),
    }
}

/// Closes `connection` politely, dropping it when that takes too long.
pub(crate) async fn close(connection: &Connection) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close(200, "closed".into())).await;
}

/// Declares the durable topic exchange `name`; publishers and
/// subscribers both declare it, so either may start first.
pub(crate) async fn declare_exchange(channel: &Channel, name: &str) -> Result<(), String> {
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| {
            format!(
                "cannot declare the exchange {name} ({e}); if it exists as another kind than a durable topic \
                 exchange, delete it or choose another exchange prefix"
            )
        })
}

/// Text headers as an AMQP table.
pub(crate) fn field_table(headers: Vec<(String, String)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (name, value) in headers {
        table.insert(name.into(), AMQPValue::LongString(LongString::from(value)));
    }
    table
}

/// The headers of a delivery as text: strings as they are, numbers
/// written out, anything else left out (a Treaty relay sends text only).
pub(crate) fn text_headers(table: Option<&FieldTable>) -> BTreeMap<String, String> {
    let Some(table) = table else {
        return BTreeMap::new();
    };
    table
        .inner()
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                AMQPValue::LongString(text) => String::from_utf8_lossy(text.as_bytes()).into_owned(),
                AMQPValue::ShortString(text) => text.as_str().to_string(),
                AMQPValue::LongLongInt(n) => n.to_string(),
                AMQPValue::LongInt(n) => n.to_string(),
                AMQPValue::LongUInt(n) => n.to_string(),
                AMQPValue::ShortInt(n) => n.to_string(),
                AMQPValue::ShortUInt(n) => n.to_string(),
                _ => return None,
            };
            Some((name.as_str().to_string(), text))
        })
        .collect()
}

/// Exponential backoff between attempts to reconnect.
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Self {
        Backoff {
            next: FIRST_RECONNECT_DELAY,
            max: max.max(FIRST_RECONNECT_DELAY),
        }
    }

    /// After a connection worked: the next failure waits little.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST_RECONNECT_DELAY;
    }

    /// Waits before the next attempt; false when `stop` came meanwhile.
    pub(crate) async fn wait(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        let stopped = tokio::select! {
            () = tokio::time::sleep(delay) => false,
            _ = stop.wait_for(|stop| *stop) => true,
        };
        !stopped && !*stop.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_namespace_has_an_exchange() {
        assert_eq!(
            exchange("treaty.events.", "factory.CarProduced"),
            "treaty.events.factory"
        );
        assert_eq!(exchange("p.", "shop.orders.OrderPlaced"), "p.shop.orders");
        assert_eq!(exchange("p.", "Standalone"), "p.Standalone");
    }

    #[test]
    fn headers_travel_as_text() {
        let table = field_table(vec![("a".into(), "1".into()), ("b".into(), "x y".into())]);
        let mut table = table;
        table.insert("n".into(), AMQPValue::LongLongInt(7));
        let text = text_headers(Some(&table));
        assert_eq!(text["a"], "1");
        assert_eq!(text["b"], "x y");
        assert_eq!(text["n"], "7");
    }
}
