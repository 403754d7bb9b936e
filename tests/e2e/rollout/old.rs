//! The build before the rollout: `Add` v1 holds an amount.

treaty::contract! {
    //! Tallies.
    namespace rollout;

    /// Identifies a tally.
    id TallyId: String;

    aggregate Tally(id: TallyId) {
        /// Add to a tally.
        Add?(amount: u32);
        /// Something was added, by the build named `build`.
        Added!(amount: u64, build: String);
    }
}

pub use rollout::*;

/// The build's name, recorded in each event it writes.
pub const BUILD: &str = "old";

include!("tally.rs");
