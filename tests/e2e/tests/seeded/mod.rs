//! What the fixture generators of `tests/evolution.rs` and
//! `tests/inplace.rs` share: a seeded random source and fresh field names,
//! so each writes the same contracts on every run.

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code)]

/// SplitMix64: tiny, and good enough to pick shapes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Field names of one message, drawn from `words`, each new: a word used
/// before gets a number.
pub struct Namer {
    pub words: &'static [&'static str],
    pub used: Vec<String>,
}

impl Namer {
    pub fn fresh(&mut self, rng: &mut Rng) -> String {
        let word = rng.pick(self.words);
        let name = match self.used.iter().filter(|u| u.starts_with(word)).count() {
            0 => word.to_string(),
            n => format!("{word}_{}", n + 1),
        };
        self.used.push(name.clone());
        name
    }
}
