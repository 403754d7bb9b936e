//! The Treaty runtime: the [`Contract`] trait that generated commands and
//! events implement, and the scalar types contracts use.
//!
//! Users depend on the `treaty` facade, which re-exports all of this.

pub mod aggregate;
pub mod bus;
mod contract;
#[cfg(feature = "postgres")]
mod postgres;
pub mod projection;
pub mod spec;
pub mod store;
mod types;

pub use contract::{
    decode_json, Command, Contract, ContractInfo, ContractKind, ContractVersion, DecodeError, EncodeError, Event,
};
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

/// Support for Treaty's own tests, shared by the workspace's test crates.
#[doc(hidden)]
pub mod __testing {
    /// The server a test should use, from the environment variable `var`
    /// (such as `TREATY_TEST_POSTGRES`). Without it the test is skipped
    /// with a printed reason, except under CI, where it fails: CI must
    /// start the server (`.ci/services.sh`) and set the variable.
    pub fn server_url(var: &str) -> Option<String> {
        match std::env::var(var) {
            Ok(url) => Some(url),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("CI is set but {var} is not: .ci/run must start the server and set it")
            }
            Err(_) => {
                eprintln!("skipped: set {var} to a server's URL to run this test");
                None
            }
        }
    }
}

#[doc(hidden)]
pub mod __private {
    pub use serde;
    pub use serde_json;
}
