//! A build whose `Add` v1 amount was widened in place: compatible when this build reads older senders (backward), not when the older build must read it too (full).

treaty::contract! {
    //! Tallies.
    namespace rollout;

    /// Identifies a tally.
    id TallyId: String;

    aggregate Tally(id: TallyId) {
        /// Add to a tally.
        Add?(amount: u64);
        /// Something was added, by the build named `build`.
        Added!(amount: u64, build: String);
    }
}

pub use rollout::*;

/// The build's name, recorded in each event it writes.
pub const BUILD: &str = "widened";

include!("tally.rs");
