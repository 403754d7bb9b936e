//! The build after a compatible change made in place: `Add` v1 gained a note with a default.

treaty::contract! {
    //! Tallies.
    namespace rollout;

    /// Identifies a tally.
    id TallyId: String;

    aggregate Tally(id: TallyId) {
        /// Add to a tally.
        Add?(amount: u32, note: String = "none");
        /// Something was added, by the build named `build`.
        Added!(amount: u64, build: String);
    }
}

pub use rollout::*;

/// The build's name, recorded in each event it writes.
pub const BUILD: &str = "new";

include!("tally.rs");
