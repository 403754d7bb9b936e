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
//! - `amqp`: the RabbitMQ transport of the bus.
//!
//! `treaty = { version = "0.1", default-features = false }` builds with
//! SQLite only.

pub use treaty_runtime::*;

/// Contracts written inline, expanded to the same code build.rs generates.
pub use treaty_macros::contract;

/// Projection fingerprints: `#[treaty::projection]` on an `impl
/// Projection`, `#[treaty::view]` on view types, and
/// `#[treaty::projection_helper]` on the helpers a projection `uses`.
pub use treaty_macros::{projection, projection_helper, view};

// The attribute macros generated code is written with.
#[doc(hidden)]
pub use treaty_macros::{enumeration, id, message, message_set, record};

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
