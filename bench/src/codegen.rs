//! The `codegen` suite: how long Treaty takes to turn contracts into Rust,
//! against prost-build doing the same for the equivalent `.proto` files,
//! measured in the same process so both see the same machine.
//!
//! Each side is timed the way a build script runs it, from files on disk
//! to a formatted Rust file on disk: Treaty reads, parses, validates,
//! generates, formats and writes; prost-build runs protoc, generates,
//! formats and writes.

pub mod corpus;
mod phases;
mod proto_text;
mod treaty_text;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::report::{Report, Row, Target};
use crate::timing::{load_average, timed};
use crate::Failure;
use corpus::Corpus;

const SUITE: &str = "codegen";
const BASELINE: &str = "prost-build";

/// How many times faster than prost-build Treaty must be.
const SPEEDUP_TARGET: f64 = 3.0;

/// The most a build of the largest contract set may take, in seconds.
const LARGE_TARGET_SECONDS: f64 = 1.0;

/// A contract set size and how many timed runs it gets after the warm-up;
/// the small set is cheap, so it gets more runs for a cleaner minimum.
struct Size {
    messages: usize,
    repetitions: usize,
}

const SIZES: [Size; 2] = [
    Size {
        messages: 1_000,
        repetitions: 10,
    },
    Size {
        messages: 10_000,
        repetitions: 5,
    },
];

/// Runs the suite and returns its rows.
pub fn run() -> Result<Report, Failure> {
    let protoc = protoc_version()?;
    eprintln!("codegen: baseline prost-build with {protoc}");
    let mut report = Report::new();
    for size in &SIZES {
        measure(size, &mut report)?;
    }
    Ok(report)
}

/// Fails with instructions when protoc cannot run: without it there is no
/// baseline, and a comparison without a baseline must not be reported.
pub fn protoc_version() -> Result<String, Failure> {
    let protoc = prost_build::protoc_from_env();
    let missing = |why: String| {
        Failure::new(format!(
            "cannot run protoc ({}): {why}. The codegen suite compares Treaty with prost-build, which needs \
             protoc: install it (`apt-get install protobuf-compiler` on Debian and Ubuntu) or set PROTOC to \
             the path of a protoc binary.",
            protoc.display()
        ))
    };
    let output = Command::new(&protoc)
        .arg("--version")
        .output()
        .map_err(|e| missing(e.to_string()))?;
    if !output.status.success() {
        return Err(missing(format!("`--version` exited with {}", output.status)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Measures one size and adds its rows to `report`.
fn measure(size: &Size, report: &mut Report) -> Result<(), Failure> {
    let n = size.messages;
    let corpus = Corpus::generate(n);
    let inputs = Inputs::write(&corpus)?;
    eprintln!(
        "codegen: {} messages in {} namespaces; load average {}",
        corpus.message_count(),
        corpus.namespaces.len(),
        load_average()
    );
    let volume = warm_up(&inputs, n)?;
    let (treaty, prost) = best_of_both(&inputs, size.repetitions)?;
    push_comparison(report, n, treaty, prost);
    for (side, direction, lines) in volume.rows() {
        let case = format!("{side}_{n}_{direction}_lines");
        report.push(Row::new(SUITE, case, lines as f64, "lines"));
    }
    let treaty_phases = phases::treaty(&inputs.treaty_dir, size.repetitions)?;
    push_phases(report, &format!("treaty_{n}"), &treaty_phases);
    let prost_phases = phases::prost(&inputs.proto_files, &inputs.proto_dir, size.repetitions)?;
    push_phases(report, &format!("prost_{n}"), &prost_phases);
    Ok(())
}

/// The headline rows: Treaty against prost-build, and for the largest set
/// also Treaty against its absolute time budget.
fn push_comparison(report: &mut Report, n: usize, treaty: Duration, prost: Duration) {
    let case = format!("treaty_{n}_messages");
    let compared = Row::new(SUITE, &case, treaty.as_secs_f64(), "s")
        .against(BASELINE, prost.as_secs_f64())
        .target(Target::AtLeast(SPEEDUP_TARGET));
    report.push(compared);
    if n == 10_000 {
        let absolute = Row::new(SUITE, format!("{case}_absolute"), treaty.as_secs_f64(), "s")
            .target(Target::Below(LARGE_TARGET_SECONDS));
        report.push(absolute);
    }
}

fn push_phases(report: &mut Report, prefix: &str, phases: &[phases::Phase]) {
    for (phase, time) in phases {
        let case = format!("{prefix}_phase_{phase}");
        report.push(Row::new(SUITE, case, time.as_secs_f64(), "s"));
    }
}

/// How much each side reads and writes, in lines: the generators' time
/// follows the amount of code they produce.
struct Volume {
    treaty_in: usize,
    proto_in: usize,
    treaty_out: usize,
    prost_out: usize,
}

impl Volume {
    /// The side (case-name prefix), the direction and the line count of
    /// each input and output.
    fn rows(&self) -> [(&'static str, &'static str, usize); 4] {
        [
            ("treaty", "input", self.treaty_in),
            ("proto", "input", self.proto_in),
            ("treaty", "output", self.treaty_out),
            ("prost", "output", self.prost_out),
        ]
    }
}

/// Runs both generators once, untimed, so caches and the page cache are
/// warm, and checks their output: a benchmark of generators that failed
/// or produced nothing would report meaningless figures.
fn warm_up(inputs: &Inputs, messages: usize) -> Result<Volume, Failure> {
    let treaty = inputs.treaty()?;
    let prost = inputs.prost()?;
    let treaty_structs = count_in(treaty.out.path(), "pub struct ")?;
    let prost_structs = count_in(prost.out.path(), "pub struct ")?;
    if treaty_structs < messages || prost_structs < messages {
        return Err(Failure::new(format!(
            "generated code is incomplete: {messages} messages gave {treaty_structs} Treaty structs and \
             {prost_structs} prost structs"
        )));
    }
    Ok(Volume {
        treaty_in: lines_in(&inputs.treaty_dir)?,
        proto_in: lines_in(&inputs.proto_dir)?,
        treaty_out: lines_in(treaty.out.path())?,
        prost_out: lines_in(prost.out.path())?,
    })
}

/// The best time of each generator, alternating between them so that a
/// burst of load on the machine does not land on one side only.
fn best_of_both(inputs: &Inputs, repetitions: usize) -> Result<(Duration, Duration), Failure> {
    let mut treaty = Duration::MAX;
    let mut prost = Duration::MAX;
    for _ in 0..repetitions {
        treaty = treaty.min(inputs.treaty()?.elapsed);
        prost = prost.min(inputs.prost()?.elapsed);
    }
    Ok((treaty, prost))
}

/// The contract set on disk in both languages.
pub struct Inputs {
    /// Owns the directory; it is removed when the inputs are dropped.
    root: TempDir,
    pub treaty_dir: PathBuf,
    pub proto_dir: PathBuf,
    pub proto_files: Vec<PathBuf>,
}

/// One timed generator run; the output stays until the run is dropped.
struct Run {
    elapsed: Duration,
    out: TempDir,
}

impl Inputs {
    pub fn write(corpus: &Corpus) -> Result<Inputs, Failure> {
        let root = tempfile::tempdir().map_err(|e| Failure::io("create a temporary directory", e))?;
        let treaty_dir = root.path().join("treaty");
        let proto_dir = root.path().join("proto");
        let mut proto_files = Vec::new();
        for dir in [&treaty_dir, &proto_dir] {
            std::fs::create_dir(dir).map_err(|e| Failure::io(format!("create {}", dir.display()), e))?;
        }
        for namespace in &corpus.namespaces {
            let treaty = treaty_dir.join(treaty_text::file_name(namespace));
            write(&treaty, &treaty_text::render(namespace))?;
            let proto = proto_dir.join(proto_text::file_name(namespace));
            write(&proto, &proto_text::render(namespace))?;
            proto_files.push(proto);
        }
        Ok(Inputs {
            root,
            treaty_dir,
            proto_dir,
            proto_files,
        })
    }

    /// A fresh, empty output directory, so every run really writes its
    /// file (both generators skip writing a file whose content is
    /// unchanged).
    fn fresh_out_dir(&self) -> Result<TempDir, Failure> {
        tempfile::tempdir_in(self.root.path()).map_err(|e| Failure::io("create an output directory", e))
    }

    fn treaty(&self) -> Result<Run, Failure> {
        let out = self.fresh_out_dir()?;
        let (result, elapsed) = timed(|| {
            treaty_codegen::Builder::new()
                .out_dir(out.path())
                .emit_rerun_if_changed(false)
                .compile(&[&self.treaty_dir])
        });
        result.map_err(|e| Failure::new(format!("Treaty failed on the generated contracts:\n{e}")))?;
        Ok(Run { elapsed, out })
    }

    fn prost(&self) -> Result<Run, Failure> {
        let out = self.fresh_out_dir()?;
        let (result, elapsed) = timed(|| {
            prost_build::Config::new()
                .out_dir(out.path())
                .compile_protos(&self.proto_files, &[&self.proto_dir])
        });
        result.map_err(|e| Failure::new(format!("prost-build failed on the generated protos: {e}")))?;
        Ok(Run { elapsed, out })
    }
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::io(format!("write {}", path.display()), e))
}

/// The lines of every file in `dir`.
fn lines_in(dir: &Path) -> Result<usize, Failure> {
    count_in(dir, "\n")
}

/// How often `needle` occurs in the files of `dir` (not recursive).
fn count_in(dir: &Path, needle: &str) -> Result<usize, Failure> {
    let read_error = |e| Failure::io(format!("read {}", dir.display()), e);
    let mut count = 0;
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_file() {
            let text =
                std::fs::read_to_string(&path).map_err(|e| Failure::io(format!("read {}", path.display()), e))?;
            count += text.matches(needle).count();
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_contracts_are_valid_treaty() {
        let corpus = Corpus::generate(200);
        let mut sources = treaty_dsl::Sources::new();
        for namespace in &corpus.namespaces {
            sources.add(treaty_text::file_name(namespace), treaty_text::render(namespace));
        }
        let schema =
            treaty_dsl::compile(&sources, &treaty_dsl::Config::default()).unwrap_or_else(|e| panic!("{}", e.render()));
        assert_eq!(schema.messages().count(), 200);
    }
}
