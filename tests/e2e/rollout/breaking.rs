//! A build with a breaking change made in place: `Add` v1 holds its
//! amount as text. It only sends.

treaty::contract! {
    //! Tallies.
    namespace rollout;

    /// Identifies a tally.
    id TallyId: String;

    aggregate Tally(id: TallyId) {
        /// Add to a tally.
        Add?(amount: String);
        /// Something was added, by the build named `build`.
        Added!(amount: u64, build: String);
    }
}

pub use rollout::*;
