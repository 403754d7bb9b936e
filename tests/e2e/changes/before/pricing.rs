//! Plain helpers, with no annotation: the analysis finds them.

/// What a click is worth.
pub fn weight() -> u64 {
    1
}

/// A bonus per click.
pub const BONUS: u64 = 1;

/// Calls `scale`, so `scale` is two calls from the projection.
pub fn total(clicks: u64) -> u64 {
    scale(clicks)
}

fn scale(clicks: u64) -> u64 {
    clicks
}

/// No projection calls this.
pub fn unrelated() -> u64 {
    7
}
