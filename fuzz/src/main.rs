//! `treaty-fuzz`: bounded-time, seeded fuzzing of the edges where Treaty
//! meets bytes it did not make, on stable Rust (no libFuzzer): each
//! target takes seed inputs, mutates them with a small PRNG, and checks
//! its invariants on every input.
//!
//! ```text
//! treaty-fuzz TARGET... [--seconds N] [--seed S] [--input HEX | --input-file PATH]
//! ```
//!
//! Each target runs for `--seconds` (10 by default) and prints
//! `fuzz <target>: N inputs in S s, 0 failures`. A finding stops it: the
//! input is printed in hex with the seed and the command that runs it
//! again (`--input`), and the exit code is 1. `all` runs every target.

mod engine;

mod targets {
    pub mod contracts;
    pub mod envelope;
    pub mod store_append;
}

use std::process::ExitCode;

use engine::Make;

/// Every target, by name. Add one with a line here and its module above.
const TARGETS: &[(&str, Make)] = &[
    ("contracts", targets::contracts::target),
    ("envelope", targets::envelope::target),
    ("store-append", targets::store_append::target),
];

const USAGE: &str = "usage: treaty-fuzz TARGET... [--seconds N] [--seed S] [--input HEX | --input-file PATH]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match engine::Options::parse(&args) {
        Ok(options) => options,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let names: Vec<&str> = if options.targets.iter().any(|t| t == "all") {
        TARGETS.iter().map(|(name, _)| *name).collect()
    } else {
        options.targets.iter().map(String::as_str).collect()
    };
    if names.is_empty() {
        let known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        eprintln!("name a target: {} (or all)\n{USAGE}", known.join(", "));
        return ExitCode::from(2);
    }
    let mut failed = false;
    for name in names {
        let Some((name, make)) = TARGETS.iter().find(|(known, _)| *known == name) else {
            let known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
            eprintln!("no target {name:?}; the targets are {}", known.join(", "));
            return ExitCode::from(2);
        };
        failed |= !engine::run(name, make, &options);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
