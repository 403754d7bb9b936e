//! Projection fingerprints, computed at compile time.
//!
//! `#[treaty::projection]` hashes the tokens of the annotated impl in the
//! macro and hands the hash to [`Fingerprint::from_tokens`]; everything
//! the macro cannot see (the fingerprints of consumed contracts, of the
//! view type and of `uses` helpers, and what the crate analysis found the
//! impl reaches, [`Code`]) is folded in by `const fn`s here, so the result
//! is a constant of the compiled program.

use std::fmt;

use xxhash_rust::const_xxh3::xxh3_128_with_seed;

use super::code::Code;
use crate::contract::ContractInfo;

/// Identifies the code of a projection: when it changes, the engine
/// rebuilds the projection's views.
///
/// It is a 128-bit hash, shown as 32 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(u128);

impl Fingerprint {
    /// The fingerprint of an item's tokens, as hashed by the macros.
    #[doc(hidden)]
    pub const fn from_tokens(hash: u128) -> Self {
        Fingerprint(hash)
    }

    /// Folds `bytes` into the fingerprint. The order of folds matters.
    pub const fn with_bytes(self, bytes: &[u8]) -> Self {
        let seed = (self.0 as u64) ^ ((self.0 >> 64) as u64);
        // Folding the length in too keeps `("ab", "c")` apart from
        // `("a", "bc")`.
        Fingerprint(xxh3_128_with_seed(bytes, seed) ^ (bytes.len() as u128).rotate_left(64))
    }

    /// Folds another fingerprint in, such as a helper's or a view type's.
    pub const fn with(self, other: Fingerprint) -> Self {
        self.with_bytes(&other.0.to_le_bytes())
    }

    /// Folds in an explicit version number.
    pub const fn with_version(self, version: u32) -> Self {
        self.with_bytes(&version.to_le_bytes())
    }

    /// Folds in the name and every known version's fingerprint of each
    /// contract, so a new contract version changes the result.
    pub const fn with_contracts(mut self, contracts: &[ContractInfo]) -> Self {
        let mut i = 0;
        while i < contracts.len() {
            self = self.with_bytes(contracts[i].name.as_bytes());
            let history = contracts[i].history;
            let mut j = 0;
            while j < history.len() {
                self = self.with_bytes(history[j].fingerprint.as_bytes());
                j += 1;
            }
            i += 1;
        }
        self
    }

    /// Folds in what the crate analysis found the projection reaches, and
    /// the hand-written upcasts of the consumed `contracts`.
    pub const fn with_code(mut self, code: &Code, contracts: &[ContractInfo]) -> Self {
        self = self.with_bytes(&code.items.hash.to_le_bytes());
        let mut i = 0;
        while i < code.upcasts.len() {
            if code.consumes(&code.upcasts[i], contracts) {
                self = self.with_bytes(&code.upcasts[i].hash.to_le_bytes());
            }
            i += 1;
        }
        self
    }

    /// The 32 hexadecimal digits.
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }

    /// The first eight digits followed by `..`, for logs.
    pub fn short(self) -> String {
        short_hex(&self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The first eight digits of a stored fingerprint followed by `..`.
pub(crate) fn short_hex(hex: &str) -> String {
    format!("{}..", hex.get(..8).unwrap_or(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_ordered_and_length_aware() {
        let base = Fingerprint::from_tokens(1);
        assert_ne!(
            base.with_bytes(b"ab").with_bytes(b"c"),
            base.with_bytes(b"a").with_bytes(b"bc")
        );
        assert_ne!(base.with_version(1), base.with_version(2));
        assert_ne!(base.with_bytes(b""), base);
        assert_eq!(base.with_bytes(b"x"), Fingerprint::from_tokens(1).with_bytes(b"x"));
    }

    #[test]
    fn displays_as_32_hex_digits() {
        let fingerprint = Fingerprint::from_tokens(0x3f2a);
        assert_eq!(fingerprint.to_hex(), "00000000000000000000000000003f2a");
        assert_eq!(fingerprint.short(), "00000000..");
        assert_eq!(short_hex("3f2a9c41deadbeef"), "3f2a9c41..");
        assert_eq!(short_hex("3f"), "3f..");
    }
}
