//! The Treaty runtime: the [`Contract`] trait that generated commands and
//! events implement, and the scalar types contracts use.
//!
//! Users depend on the `treaty` facade, which re-exports all of this.

pub mod aggregate;
pub mod bus;
mod contract;
mod de;
pub mod metrics;
pub mod process;
pub mod projection;
#[cfg(feature = "amqp")]
pub mod relay;
pub mod spec;
pub mod storage;
pub mod store;
pub mod telemetry;
mod types;

pub use contract::{
    decode_json, Command, Contract, ContractInfo, ContractKind, ContractVersion, DecodeError, EncodeError, Event,
    WriterSchema,
};
/// Which readers a contract change must not break: the modes of the
/// compatibility rule book, shared by `treaty lint`, the store and the bus.
pub use treaty_compat::Mode as CompatibilityMode;
pub use types::{Bytes, Date, Decimal, DisplayOptional, ParseIdError, Timestamp, Uuid};

/// Crates that generated code reaches through `::treaty`, so user crates
/// need no direct dependency on them.
/// The names generated code uses unqualified: each generated module
/// glob-imports it, so a type of the contracts with the same name (which
/// validation forbids anyway) would shadow it rather than clash.
#[doc(hidden)]
pub mod __prelude {
    pub use crate::{Bytes, Date, Decimal, Timestamp, Uuid};
    pub use std::collections::BTreeMap;
}

#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;

    pub use crate::de::{deserialize_struct, element, element_or, field, key, required, skip, FieldKey, Shape, Struct};
}
