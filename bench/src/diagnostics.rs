//! The `diagnostics` suite: how the cost of reporting errors grows with
//! their number. Each case is what `treaty check` does with a broken file,
//! minus the file system: parse and validate it, then render every
//! diagnostic to text.
//!
//! - `diagnostics_16000_errors`: 176 KB of `id X: u64;` 16,000 times, so
//!   15,999 duplicate-type errors, each pointing at its own line and at
//!   the first declaration.
//! - `diagnostics_8000_template_errors`: one 16 KB line, a display
//!   template of 8,000 `{}` placeholders that name no field.
//!
//! The baseline of each case is the same file at a tenth of the size,
//! timed the same way and multiplied by ten: the figure linear time would
//! give. The ratio (baseline / case) is about 1 when reporting is linear,
//! above 1 when it grows slower (the rendering is capped), and falls
//! towards 0.1 when it is quadratic. The rendered size is reported too.

use std::time::Duration;

use crate::report::{Report, Row, Target};
use crate::timing::{best_of, load_average, timed};
use crate::Failure;

const SUITE: &str = "diagnostics";

/// The lowest ratio that still counts as linear: the case may take twice
/// the time ten small files take, for noise and cache effects.
const LINEAR_TARGET: f64 = 0.5;

/// One case: its name, its size and how to write a file of that size.
struct Case {
    name: &'static str,
    errors: usize,
    text: fn(usize) -> String,
}

const CASES: [Case; 2] = [
    Case {
        name: "diagnostics_16000_errors",
        errors: 16_000,
        text: duplicate_ids,
    },
    Case {
        name: "diagnostics_8000_template_errors",
        errors: 8_000,
        text: template_placeholders,
    },
];

/// `n` declarations of one id type: every one after the first is an error.
fn duplicate_ids(n: usize) -> String {
    format!("namespace x;\n{}", "id X: u64;\n".repeat(n))
}

/// One message whose display template has `n` placeholders naming no field.
fn template_placeholders(n: usize) -> String {
    format!("namespace x;\nA!() display \"{}\";\n", "{}".repeat(n))
}

/// Runs the suite, or only the case named `only`, timing each side the
/// best of `repetitions` runs.
pub fn run(only: Option<&str>, repetitions: usize) -> Result<Report, Failure> {
    if let Some(case) = only.filter(|only| !CASES.iter().any(|c| c.name == *only)) {
        let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        return Err(Failure::new(format!(
            "no diagnostics case is called {case}; the cases are {}",
            names.join(", ")
        )));
    }
    eprintln!("diagnostics: best of {repetitions}; load average {}", load_average());
    let mut report = Report::new();
    for case in CASES.iter().filter(|c| only.is_none_or(|only| only == c.name)) {
        measure(case, repetitions, &mut report)?;
    }
    Ok(report)
}

fn measure(case: &Case, repetitions: usize, report: &mut Report) -> Result<(), Failure> {
    let large = (case.text)(case.errors);
    let small = (case.text)(case.errors / 10);
    let (large_total, large_render, large_output) = check(&large, repetitions)?;
    let (small_total, small_render, _) = check(&small, repetitions)?;
    eprintln!(
        "diagnostics: {}: {} bytes of input, {} bytes of output",
        case.name,
        large.len(),
        large_output
    );
    let baseline = format!("10 x {} errors", case.errors / 10);
    report.push(
        Row::new(SUITE, case.name, large_total.as_secs_f64(), "s")
            .against(&baseline, 10.0 * small_total.as_secs_f64())
            .target(Target::AtLeast(LINEAR_TARGET)),
    );
    report.push(
        Row::new(SUITE, format!("{}_render", case.name), large_render.as_secs_f64(), "s")
            .against(&baseline, 10.0 * small_render.as_secs_f64()),
    );
    report.push(Row::new(
        SUITE,
        format!("{}_output", case.name),
        large_output as f64,
        "bytes",
    ));
    Ok(())
}

/// Compiles `text` (which must fail) and renders its diagnostics: the
/// best total time, the best rendering time and the rendered size.
fn check(text: &str, repetitions: usize) -> Result<(Duration, Duration, usize), Failure> {
    let mut best_render = Duration::MAX;
    let mut output = 0;
    let total = best_of(repetitions, || {
        let (rendered, total) = timed(|| {
            let mut sources = treaty_dsl::Sources::new();
            sources.add("errors.treaty", text);
            let diagnostics = match treaty_dsl::compile(&sources, &treaty_dsl::Config::default()) {
                Ok(_) => return Err(Failure::new("the benchmark's broken contract compiled")),
                Err(diagnostics) => diagnostics,
            };
            let (rendered, render) = timed(|| diagnostics.render());
            best_render = best_render.min(render);
            Ok(rendered)
        });
        output = rendered?.len();
        Ok(total)
    })?;
    Ok((total, best_render, output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_have_the_sizes_the_cases_describe() {
        assert_eq!(duplicate_ids(16_000).len(), 13 + 176_000);
        assert_eq!(template_placeholders(8_000).len(), 13 + 14 + 16_000 + 3);
    }

    #[test]
    fn every_case_reports_errors() {
        for case in &CASES {
            let (_, _, output) = check(&(case.text)(20), 1).unwrap();
            assert!(output > 0, "{}", case.name);
        }
    }
}
