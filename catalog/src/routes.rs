//! The HTTP routes the contracts give, by name. The server, the OpenAPI
//! document and the documentation page all take their paths from here.
//!
//! | route | what |
//! |---|---|
//! | `POST /{namespace}/{aggregate}/{id}/{command}` | a command of an aggregate; the body is its JSON without the identity |
//! | `GET /{namespace}/{aggregate}/{id}` | the aggregate's stream version, as `ETag` |
//! | `POST /commands/{contract}` | any routed command, with its whole JSON |
//! | `GET /views/{projection}/{key}` | a view of a projection |
//! | `GET /openapi.json`, `GET /docs` | the OpenAPI document and the documentation page |
//!
//! Names are kebab-case: each dotted part of the namespace on its own
//! (`shop.back_office` becomes `shop.back-office`), the aggregate's and
//! the command's names (`Factory` becomes `factory`, `ProduceCar` becomes
//! `produce-car`). Contract names and projection names appear as written.

use heck::ToKebabCase;

use crate::{Aggregate, Catalog, Message};

/// The path of the OpenAPI document.
pub const OPENAPI: &str = "/openapi.json";
/// The path of the documentation page.
pub const DOCS: &str = "/docs";
/// The prefix of the whole-command routes.
pub const COMMANDS: &str = "/commands";
/// The prefix of the view routes.
pub const VIEWS: &str = "/views";

/// The kebab-case form of a namespace: each dotted part on its own.
pub fn namespace_segment(namespace: &str) -> String {
    namespace
        .split('.')
        .map(|part| part.to_kebab_case())
        .collect::<Vec<_>>()
        .join(".")
}

/// `/{namespace}/{aggregate}`, the prefix of an aggregate's routes.
pub fn aggregate_prefix(aggregate: &Aggregate) -> String {
    let (namespace, name) = aggregate.name.rsplit_once('.').unwrap_or(("", &aggregate.name));
    format!("/{}/{}", namespace_segment(namespace), name.to_kebab_case())
}

/// `/{namespace}/{aggregate}/{id}`, with `id` as given (`{id}` for the
/// pattern).
pub fn stream_path(aggregate: &Aggregate, id: &str) -> String {
    format!("{}/{id}", aggregate_prefix(aggregate))
}

/// `/{namespace}/{aggregate}/{id}/{command}`, with `id` as given.
pub fn command_path(aggregate: &Aggregate, command: &Message, id: &str) -> String {
    format!(
        "{}/{id}/{}",
        aggregate_prefix(aggregate),
        command.short_name().to_kebab_case()
    )
}

/// `/commands/{contract}`.
pub fn contract_path(command: &Message) -> String {
    format!("{COMMANDS}/{}", command.name)
}

/// `/views/{projection}/{key}`, with `key` as given.
pub fn view_path(projection: &str, key: &str) -> String {
    format!("{VIEWS}/{projection}/{key}")
}

/// What a server exposes: which aggregates' commands are routed, and
/// which projections' views can be read. The OpenAPI document and the
/// page describe exactly this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surface {
    /// Aggregates whose commands are routed, by full name.
    pub aggregates: Vec<String>,
    /// Projections whose views are served, by name.
    pub projections: Vec<String>,
}

impl Surface {
    /// Every aggregate of the catalog, and no views: what `treaty docs`
    /// describes when no server tells it more.
    pub fn every_aggregate(catalog: &Catalog) -> Surface {
        Surface {
            aggregates: catalog.aggregates().map(|a| a.name.clone()).collect(),
            projections: Vec::new(),
        }
    }

    /// The routed aggregates, in catalog order, with their commands.
    pub fn routed<'a>(&'a self, catalog: &'a Catalog) -> impl Iterator<Item = (&'a Aggregate, Vec<&'a Message>)> + 'a {
        catalog
            .aggregates()
            .filter(|a| self.aggregates.contains(&a.name))
            .map(|aggregate| {
                let commands = aggregate.commands.iter().filter_map(|c| catalog.message(c)).collect();
                (aggregate, commands)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::shop;

    #[test]
    fn routes_are_kebab_case_and_stable() {
        let catalog = shop();
        let order = catalog.aggregate("shop.Order").unwrap();
        let place = catalog.message("shop.PlaceOrder").unwrap();
        assert_eq!(command_path(order, place, "{id}"), "/shop/order/{id}/place-order");
        assert_eq!(stream_path(order, "42"), "/shop/order/42");
        assert_eq!(contract_path(place), "/commands/shop.PlaceOrder");
        assert_eq!(view_path("shop.totals", "{key}"), "/views/shop.totals/{key}");
        assert_eq!(namespace_segment("shop.back_office"), "shop.back-office");
        let surface = Surface::every_aggregate(&catalog);
        let routed: Vec<_> = surface.routed(&catalog).collect();
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].1[0].name, "shop.PlaceOrder");
    }
}
