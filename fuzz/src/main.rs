//! `treaty-fuzz TARGET --seconds N [--seed S]`: runs one fuzz target for a
//! time budget on stable Rust, and exits non-zero on its first finding,
//! printing the input and the seed that reproduce it.
//!
//! Each target lives in `src/targets/<name>.rs` and is listed in
//! [`TARGETS`]. A target derives every input from the seed alone, so the
//! same seed replays the same inputs in the same order.

mod targets {
    pub mod contracts;
}

use std::process::ExitCode;
use std::time::{Duration, Instant};

/// An input that broke one of a target's invariants, and which.
pub struct Finding {
    pub input: Vec<u8>,
    pub problem: String,
}

/// A target: runs inputs derived from `seed` until `deadline`, returning
/// how many it ran, or its first finding.
type Target = fn(seed: u64, deadline: Instant) -> Result<u64, Finding>;

const TARGETS: &[(&str, Target)] = &[("contracts", targets::contracts::run)];

const USAGE: &str = "usage: treaty-fuzz TARGET --seconds N [--seed S]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (name, seconds, seed) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(message) => {
            let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
            eprintln!("treaty-fuzz: {message}\n{USAGE}\ntargets: {}", names.join(", "));
            return ExitCode::from(2);
        }
    };
    let Some((_, target)) = TARGETS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "treaty-fuzz: no target is called {name}; the targets are {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    eprintln!("fuzz {name}: seed {seed}");
    let start = Instant::now();
    let result = target(seed, start + Duration::from_secs(seconds));
    let elapsed = start.elapsed().as_secs_f64();
    match result {
        Ok(inputs) => {
            println!("fuzz {name}: {inputs} inputs in {elapsed:.0} s, 0 failures");
            ExitCode::SUCCESS
        }
        Err(finding) => {
            println!(
                "fuzz {name}: failure after {elapsed:.0} s (seed {seed}): {}",
                finding.problem
            );
            println!("input ({} bytes):", finding.input.len());
            println!("{:?}", String::from_utf8_lossy(&finding.input));
            println!("replay with: treaty-fuzz {name} --seconds {seconds} --seed {seed}");
            ExitCode::FAILURE
        }
    }
}

/// The target, seconds and seed; the seed defaults to the time.
fn parse(args: &[String]) -> Result<(String, u64, u64), String> {
    let mut name = None;
    let mut seconds = None;
    let mut seed = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| {
            args.next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{flag} takes a whole number"))
        };
        match arg.as_str() {
            "--seconds" => seconds = Some(number("--seconds")?),
            "--seed" => seed = Some(number("--seed")?),
            other if other.starts_with('-') || name.is_some() => return Err(format!("unexpected argument {other}")),
            other => name = Some(other.to_string()),
        }
    }
    let name = name.ok_or("no target given")?;
    let seconds = seconds.ok_or("--seconds is required")?;
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    Ok((name, seconds, seed))
}
