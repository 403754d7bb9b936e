//! The view types.

/// A count of events.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Count {
    pub events: u64,
}

/// A total that counts itself.
#[treaty::view]
#[derive(Debug, Clone, Default, PartialEq, Eq, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
pub struct Counter {
    pub total: u64,
}

impl Counter {
    /// Counts one event.
    pub fn bump(&mut self) {
        self.total += 1;
    }
}
