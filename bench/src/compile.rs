//! The `compile` suite: how long the user's compiler takes over generated
//! code. A crate holding Treaty's code for the codegen corpus's 1,000
//! messages, and one holding prost-build's code for the same messages,
//! are rebuilt alone (their dependencies already built), in debug and in
//! release, alternating in the same run, the way a user's crate is rebuilt
//! after an edit. For a code generator this is the speed that counts:
//! generating is done once, compiling on every build.

pub mod workspace;

use std::time::Duration;

use crate::report::{Report, Row, Target};
use crate::timing::load_average;
use crate::Failure;
use workspace::{Profile, Workspace, PROST_CRATE, TREATY_CRATE};

const SUITE: &str = "compile";
const BASELINE: &str = "prost-build";
const MESSAGES: usize = 1_000;
/// How many times faster than prost's, at least, Treaty's code must
/// compile.
const TARGET: f64 = 1.0;

/// Runs the suite with `runs` timed rebuilds of each crate in each
/// profile.
pub fn run(runs: usize) -> Result<Report, Failure> {
    let protoc = crate::codegen::protoc_version()?;
    eprintln!("compile: baseline prost-build with {protoc}");
    let workspace = Workspace::prepare(MESSAGES)?;
    eprintln!("compile: workspace {}", workspace.root.display());
    let mut report = Report::new();
    for profile in [Profile::Debug, Profile::Release] {
        // Dependencies, untimed: the first run of the suite builds every
        // dependency, later runs find them built.
        eprintln!("compile: {} dependencies", profile.name());
        workspace.build_dependencies(&[TREATY_CRATE, PROST_CRATE], profile)?;
        let mut treaty = [Duration::MAX; 2];
        let mut prost = [Duration::MAX; 2];
        for run in 1..=runs {
            let t = workspace.rebuild(TREATY_CRATE, profile)?;
            let p = workspace.rebuild(PROST_CRATE, profile)?;
            eprintln!(
                "compile: {} run {run}: Treaty {:.1} s ({:.1} s CPU), prost {:.1} s ({:.1} s CPU); load average {}",
                profile.name(),
                t.wall.as_secs_f64(),
                t.cpu.as_secs_f64(),
                p.wall.as_secs_f64(),
                p.cpu.as_secs_f64(),
                load_average()
            );
            treaty = [treaty[0].min(t.wall), treaty[1].min(t.cpu)];
            prost = [prost[0].min(p.wall), prost[1].min(p.cpu)];
        }
        // The clock is the figure the user feels; CPU time, the lowest of
        // each side, is the one a loaded machine disturbs least.
        for (index, suffix) in [(0, ""), (1, "_cpu")] {
            report.push(
                Row::new(
                    SUITE,
                    format!("compile_{}_{MESSAGES}_messages{suffix}", profile.name()),
                    treaty[index].as_secs_f64(),
                    "s",
                )
                .against(BASELINE, prost[index].as_secs_f64())
                .target(Target::AtLeast(TARGET)),
            );
        }
    }
    eprintln!("compile: expanding both crates");
    let per_message = |lines: usize| lines as f64 / MESSAGES as f64;
    let treaty = workspace.expanded_lines(TREATY_CRATE)?;
    let prost = workspace.expanded_lines(PROST_CRATE)?;
    report.push(
        Row::new(SUITE, "expanded_lines_per_message", per_message(treaty), "lines")
            .against(BASELINE, per_message(prost)),
    );
    report.push(Row::new(SUITE, "treaty_expanded_lines", treaty as f64, "lines"));
    report.push(Row::new(SUITE, "prost_expanded_lines", prost as f64, "lines"));
    eprintln!("compile: done; load average {}", load_average());
    Ok(report)
}
