//! Measuring wall-clock time the same way in every suite.

use std::time::{Duration, Instant};

/// Runs `work` once and returns its result with the time it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = work();
    (value, start.elapsed())
}

/// The fastest of `repetitions` runs of `run`, which measures itself (with
/// [`timed`]) so that its per-run setup, such as a fresh output
/// directory, stays out of the figure. The minimum is the figure least
/// disturbed by other work on the machine, which matters on a shared
/// two-core builder.
pub fn best_of<E>(repetitions: usize, mut run: impl FnMut() -> Result<Duration, E>) -> Result<Duration, E> {
    let mut best = Duration::MAX;
    for _ in 0..repetitions.max(1) {
        best = best.min(run()?);
    }
    Ok(best)
}
