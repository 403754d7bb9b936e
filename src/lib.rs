//! Treaty: message-driven systems built on explicit contracts.
//!
//! Write commands, events and value types in `.treaty` files, compile them
//! from `build.rs` with `treaty-codegen`, and include the generated types:
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     treaty_codegen::Builder::new().compile(&["contracts"]).expect("contracts compile");
//! }
//! // src/lib.rs
//! treaty::include_contracts!();
//! ```
//!
//! Small crates and tests can write contracts inline instead, with
//! [`contract!`]; it expands to the same code and may `use` the types
//! build.rs generated when invoked next to `include_contracts!()`.
//!
//! Generated code refers only to paths under `::treaty`, so a crate needs
//! `treaty` as its one dependency and `treaty-codegen` as its one
//! build-dependency.
//!
//! # Features
//!
//! SQLite, the embedded default, is always compiled in. The other backends
//! are features, on by default:
//!
//! - `postgres`: the PostgreSQL event store, view store and quarantine.
//! - `amqp`: the RabbitMQ transport of the bus, and integration events
//!   between services (`treaty::relay`: a relay publishing a store's
//!   events, an inbox receiving them).
//!
//! Off by default:
//!
//! - `http`: the HTTP API built from the contracts (`treaty::http`).
//! - `prometheus` (implies `http`): `GET /metrics`, a Prometheus recorder
//!   of the runtime's [`metrics`] and the route rendering it
//!   (`treaty::http::prometheus`).
//!
//! `treaty = { version = "0.1", default-features = false }` builds with
//! SQLite only.
//!
//! Telemetry is off by default:
//!
//! - `otel`: Treaty's spans join the W3C trace context (`traceparent`)
//!   that envelopes and HTTP requests carry, and Treaty's OpenTelemetry
//!   layer records them ([`telemetry::trace`]).
//! - `otlp`: `telemetry::otlp::layer`, a tracing-subscriber layer exporting
//!   spans to an OpenTelemetry collector (includes `otel`).

pub use treaty_runtime::*;

/// Contracts written inline, expanded to the same code build.rs generates.
pub use treaty_macros::contract;

/// Projection fingerprints: `#[treaty::projection]` on an `impl
/// Projection` (with `treaty_codegen::analyze_projections()` in build.rs,
/// which finds everything the impl reaches) and `#[treaty::view]` on view
/// types. `#[treaty::projection_helper]` and `uses = [...]` are no longer
/// needed, and still accepted.
pub use treaty_macros::{projection, projection_helper, view};

/// Implements [`aggregate::EventSet`] for an enum whose variants each hold
/// one event contract, `Name(Name)`, as the generated `FooEvent` enums do:
/// for the events of several aggregates that one projection consumes.
///
/// ```
/// treaty::contract! {
///     namespace shop;
///     id CartId: String;
///     id OrderId: String;
///     aggregate Cart(id: CartId) { ItemAdded!(sku: String); }
///     aggregate Order(id: OrderId) { OrderPlaced!(cart: CartId); }
/// }
///
/// use shop::{ItemAdded, OrderPlaced};
/// use treaty::aggregate::EventSet;
///
/// /// What the sales projection reads.
/// #[treaty::event_set]
/// enum Sales {
///     ItemAdded(ItemAdded),
///     OrderPlaced(OrderPlaced),
/// }
///
/// let event = Sales::from(OrderPlaced { id: shop::OrderId("o-1".into()), cart: shop::CartId("c-1".into()) });
/// assert_eq!(event.contract_name(), "shop.OrderPlaced");
/// assert!(Sales::is_member("shop.ItemAdded"));
/// ```
///
/// The enum gets `Debug`, `Clone` and `PartialEq` (do not derive them as
/// well), `From` each member, inherent `contract_name`,
/// `contract_version`, `contract_fingerprint`, `encode` and `decode`, and
/// the `EventSet` impl. Arguments, all optional: `id = IdType, field =
/// name` add `id()`, which reads that field of every member (the
/// identity of the aggregate the events are for); `display` adds
/// `Display` through the members' display templates.
pub use treaty_macros::event_set;

// The attribute macros generated code is written with.
#[doc(hidden)]
pub use treaty_macros::{command_set, earlier, enumeration, id, message, record};

/// serde, re-exported for generated code (`#[serde(crate = "::treaty::serde")]`).
#[doc(hidden)]
pub use treaty_runtime::__private::serde;

#[doc(hidden)]
pub use treaty_runtime::__private;

/// Includes the Rust that `treaty_codegen::Builder::compile` wrote to
/// `OUT_DIR`. Without an argument it includes the default file,
/// `treaty_contracts.rs`; with one, the file name set with
/// `Builder::file_name`.
///
/// ```ignore
/// treaty::include_contracts!();
/// treaty::include_contracts!("billing.rs");
/// ```
#[macro_export]
macro_rules! include_contracts {
    () => {
        include!(concat!(env!("OUT_DIR"), "/treaty_contracts.rs"));
    };
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

/// The contract catalog that `treaty_codegen::Builder::compile` wrote to
/// `OUT_DIR` next to the Rust, as a `&'static str` of JSON: every
/// namespace, type and message version with docs, defaults and display
/// templates. `treaty::http::Api::new` builds routes, body checks, the
/// OpenAPI document and the documentation page from it. Without an
/// argument it includes `treaty_catalog.json`, the catalog of the default
/// file; with one, the catalog of a renamed file (`billing.catalog.json`
/// for `billing.rs`).
///
/// ```ignore
/// let api = treaty::http::Api::new(treaty::include_catalog!())?;
/// ```
#[macro_export]
macro_rules! include_catalog {
    () => {
        include_str!(concat!(env!("OUT_DIR"), "/treaty_catalog.json"))
    };
    ($file:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/", $file))
    };
}

/// The HTTP API built from the contracts (feature `http`): an axum
/// `Router` to merge into an application's own.
#[cfg(feature = "http")]
pub use treaty_http as http;
