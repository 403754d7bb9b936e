//! The `decode` suite: how fast generated contracts read their JSON, the
//! payload of every message of the codegen corpus decoded through
//! Treaty's `Contract::decode`, against `serde_json::from_slice` into plain
//! `#[derive(Deserialize)]` types of the same shape.
//!
//! Both sides run in one child process, `decode-corpus`, built in release
//! in the `compile` suite's workspace (so the 1,000 messages are compiled
//! there rather than into treaty-bench), alternating sample by sample.

mod plain_text;

use std::path::Path;
use std::process::Command;

use crate::codegen::corpus::Corpus;
use crate::compile::workspace::{write_if_changed, Profile, Workspace, DECODE_CRATE, TREATY_CRATE};
use crate::report::{Report, Row, Target};
use crate::timing::load_average;
use crate::Failure;

const SUITE: &str = "decode";
const BASELINE: &str = "serde_json plain structs";
const MESSAGES: usize = 1_000;
/// How fast, at least, Treaty's decoding must be against the baseline's.
const TARGET: f64 = 0.9;

/// Runs the suite: `samples` timed samples of each side, each decoding
/// every payload `rounds` times.
pub fn run(samples: usize, rounds: usize) -> Result<Report, Failure> {
    crate::codegen::protoc_version()?;
    let workspace = Workspace::prepare(MESSAGES)?;
    eprintln!("decode: building {DECODE_CRATE} in release (its dependencies too, the first time)");
    workspace.build(&[DECODE_CRATE], Profile::Release)?;
    let exe = workspace.root.join("target/release").join(DECODE_CRATE);
    let payloads = workspace.package(DECODE_CRATE).join("payloads.jsonl");
    eprintln!(
        "decode: {MESSAGES} messages, {samples} samples of {rounds} rounds each; load average {}",
        load_average()
    );
    let output = Command::new(&exe)
        .arg(&payloads)
        .arg(samples.to_string())
        .arg(rounds.to_string())
        .output()
        .map_err(|e| Failure::io(format!("run {}", exe.display()), e))?;
    if !output.status.success() {
        return Err(Failure::new(format!(
            "{DECODE_CRATE} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    let [decodes, treaty_ns, baseline_ns] = numbers[..] else {
        return Err(Failure::new(format!("{DECODE_CRATE} printed `{}`", text.trim())));
    };
    let rate = |ns: f64| decodes / (ns / 1e9);
    let mut report = Report::new();
    report.push(
        Row::new(
            SUITE,
            format!("decode_{MESSAGES}_messages"),
            rate(treaty_ns),
            "decodes/s",
        )
        .relative_to(BASELINE, rate(baseline_ns))
        .target(Target::AtLeast(TARGET)),
    );
    eprintln!("decode: done; load average {}", load_average());
    Ok(report)
}

/// Writes the `decode-corpus` package: its manifest, the runner, the
/// baseline types, the decoder tables and the payloads.
pub fn write_crate(root: &Path, corpus: &Corpus) -> Result<(), Failure> {
    let dir = root.join(DECODE_CRATE);
    let treaty_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| Failure::new("the bench crate has no parent directory"))?;
    let manifest = format!(
        "[package]\nname = \"{DECODE_CRATE}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{TREATY_CRATE} = {{ path = \"../{TREATY_CRATE}\" }}\n\
         treaty = {{ path = {:?}, default-features = false }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\nserde_json = \"1\"\n",
        treaty_root.display().to_string()
    );
    write_if_changed(&dir.join("Cargo.toml"), &manifest)?;
    write_if_changed(&dir.join("src/main.rs"), include_str!("decode/runner.rs"))?;
    write_if_changed(&dir.join("src/plain.rs"), &plain_text::render(corpus))?;
    let cases = plain_text::cases(corpus);
    let mut decoders = String::from(
        "//! One decoder per message, in payload order; written by treaty-bench.\n\n\
         pub static TREATY: &[super::Decoder] = &[\n",
    );
    for case in &cases {
        decoders.push_str(&format!(
            "    |p| <{} as ::treaty::Contract>::decode({}, p).map(drop).map_err(|e| e.to_string()),\n",
            case.treaty_path, case.version
        ));
    }
    decoders.push_str("];\n\npub static BASELINE: &[super::Decoder] = &[\n");
    for case in &cases {
        decoders.push_str(&format!(
            "    |p| ::serde_json::from_slice::<{}>(p).map(drop).map_err(|e| e.to_string()),\n",
            case.plain_path
        ));
    }
    decoders.push_str("];\n");
    write_if_changed(&dir.join("src/decoders.rs"), &decoders)?;
    let payloads: String = cases.iter().map(|c| format!("{}\n", c.payload)).collect();
    write_if_changed(&dir.join("payloads.jsonl"), &payloads)
}
