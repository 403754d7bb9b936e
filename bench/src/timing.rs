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

/// The middle of `samples` (the upper middle for an even count). Unlike
/// the minimum, the median describes the typical run, which is what a
/// comparison of two medians taken under the same load needs.
pub fn median<T: Copy + Default + PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// The machine's load average over the last minute, as the kernel reports
/// it; figures taken under load are slower, and saying so beside them
/// keeps them honest. "unknown" where `/proc/loadavg` does not exist.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU time this process has used, user and system, from
/// `/proc/self/stat`; `None` where it does not exist.
pub fn cpu_time() -> Option<Duration> {
    stat_ticks(11, 12)
}

/// The CPU time, user and system, of every child process this process
/// has waited for, their own waited-for children included (rustc under
/// cargo): steadier than wall-clock time on a machine other work shares.
pub fn children_cpu_time() -> Option<Duration> {
    stat_ticks(13, 14)
}

/// The sum of two tick fields of `/proc/self/stat`, counted after the
/// command name (which is in parentheses and may hold spaces), in ticks
/// of 1/100 s, Linux's `USER_HZ`.
fn stat_ticks(user: usize, system: usize) -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(user)?.parse::<u64>().ok()? + fields.get(system)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_sample() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(9), ms(1), ms(5)]), ms(5));
        assert_eq!(median(vec![ms(4), ms(1), ms(3), ms(2)]), ms(3));
        assert_eq!(median(Vec::<Duration>::new()), Duration::ZERO);
        // Rates and CPU times, which have no total order: a NaN among
        // them sorts as equal to its neighbours, never a panic.
        assert_eq!(median(vec![9.0, 1.0, 5.0]), 5.0);
        let _ = median(vec![1.0, f64::NAN, 3.0]);
    }
}
