//! The decode suite's child process, built in release by treaty-bench in
//! its generated workspace: decodes the payload of every message of the
//! corpus through Treaty's `Contract::decode` and, alternating, through
//! `serde_json::from_slice` into plain `#[derive(Deserialize)]` types of
//! the same shape, and prints the best time of each.
//!
//! Usage: decode-corpus PAYLOADS SAMPLES ROUNDS; prints
//! `decodes treaty_nanoseconds baseline_nanoseconds`.

mod decoders;
mod plain;

use std::hint::black_box;
use std::time::{Duration, Instant};

type Decoder = fn(&[u8]) -> Result<(), String>;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("the payloads file");
    let samples: usize = args.next().and_then(|a| a.parse().ok()).expect("the number of samples");
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).expect("the number of rounds");
    let text = std::fs::read_to_string(&path).expect("the payloads file is readable");
    let payloads: Vec<Vec<u8>> = text.lines().map(|line| line.as_bytes().to_vec()).collect();
    assert_eq!(payloads.len(), decoders::TREATY.len(), "one payload per message");

    // Both sides must read every payload, or they would be timed failing.
    for (i, payload) in payloads.iter().enumerate() {
        for (side, decoders) in [("treaty", decoders::TREATY), ("baseline", decoders::BASELINE)] {
            if let Err(error) = decoders[i](payload) {
                eprintln!("{side} cannot decode message {i}: {error}");
                std::process::exit(1);
            }
        }
    }

    let mut treaty = Duration::MAX;
    let mut baseline = Duration::MAX;
    for _ in 0..samples {
        treaty = treaty.min(run(decoders::TREATY, &payloads, rounds));
        baseline = baseline.min(run(decoders::BASELINE, &payloads, rounds));
    }
    println!(
        "{} {} {}",
        payloads.len() * rounds,
        treaty.as_nanos(),
        baseline.as_nanos()
    );
}

/// Decodes every payload `rounds` times.
fn run(decoders: &[Decoder], payloads: &[Vec<u8>], rounds: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        for (decode, payload) in decoders.iter().zip(payloads) {
            let _ = black_box(decode(black_box(payload)));
        }
    }
    start.elapsed()
}
