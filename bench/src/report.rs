//! The one place results are turned into output, so every suite reports
//! the same way: a table for people, or one JSON object per line for
//! scripts that track figures over time.

use std::fmt;

use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    JsonLines,
}

/// A goal a figure must reach. It applies to the ratio when the case is
/// compared with a baseline, and to the value otherwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Target {
    fn holds(self, figure: f64) -> bool {
        match self {
            Target::AtLeast(bound) => figure >= bound,
            Target::AtMost(bound) => figure <= bound,
            Target::Below(bound) => figure < bound,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::AtLeast(bound) => write!(f, ">= {bound}"),
            Target::AtMost(bound) => write!(f, "<= {bound}"),
            Target::Below(bound) => write!(f, "< {bound}"),
        }
    }
}

/// One measured case. Serialises to the JSON line format: the comparison
/// and target keys are present only when the case has them.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub suite: &'static str,
    pub case: String,
    pub value: f64,
    pub unit: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

impl Row {
    /// A plain measurement.
    pub fn new(suite: &'static str, case: impl Into<String>, value: f64, unit: &'static str) -> Row {
        Row {
            suite,
            case: case.into(),
            value,
            unit,
            baseline: None,
            baseline_value: None,
            ratio: None,
            target: None,
            met: None,
        }
    }

    /// Compares the measurement with the same case run by `baseline` in the
    /// same process, so both saw the same machine load. The ratio is
    /// baseline / value: how many times less time (or space) the case
    /// needs than the baseline, so above 1 is better.
    pub fn against(mut self, baseline: impl Into<String>, baseline_value: f64) -> Row {
        self.baseline = Some(baseline.into());
        self.baseline_value = Some(baseline_value);
        self.ratio = Some(baseline_value / self.value);
        self
    }

    /// Compares the measurement with `baseline`, measured in the same
    /// process, as value / baseline: for rates such as events per second,
    /// where more is better, it is how many times faster the case is than
    /// the baseline; for a time over a reference time (a large store's
    /// open time over a small one's) it is how many times longer it takes.
    pub fn relative_to(mut self, baseline: impl Into<String>, baseline_value: f64) -> Row {
        self.baseline = Some(baseline.into());
        self.baseline_value = Some(baseline_value);
        self.ratio = Some(self.value / baseline_value);
        self
    }

    /// Sets the goal and records whether this run reached it.
    pub fn target(mut self, target: Target) -> Row {
        let figure = self.ratio.unwrap_or(self.value);
        self.target = Some(target.to_string());
        self.met = Some(target.holds(figure));
        self
    }
}

/// A case that was not measured, and why: printed instead of a figure,
/// because a made-up or zero figure would read as a measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub suite: &'static str,
    pub case: String,
    pub skipped: String,
}

/// The rows of one run, printed together at the end so progress messages
/// (on stderr) never interleave with the results (on stdout).
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<Row>,
    skipped: Vec<Skipped>,
}

impl Report {
    pub fn new() -> Report {
        Report::default()
    }

    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Records that `case` was not measured, with the reason.
    pub fn skip(&mut self, suite: &'static str, case: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            suite,
            case: case.into(),
            skipped: reason.into(),
        });
    }

    /// Prints the rows to stdout in `format`.
    pub fn print(&self, format: Format) {
        match format {
            Format::Table => {
                print!("{}", self.table());
                for skip in &self.skipped {
                    println!("skipped {} {}: {}", skip.suite, skip.case, skip.skipped);
                }
            }
            Format::JsonLines => {
                for row in &self.rows {
                    println!("{}", serde_json::to_string(row).expect("a row always serialises"));
                }
                for skip in &self.skipped {
                    println!(
                        "{}",
                        serde_json::to_string(skip).expect("a skipped case always serialises")
                    );
                }
            }
        }
    }

    /// The rows as a text table with aligned columns.
    fn table(&self) -> String {
        const HEADINGS: [&str; 8] = ["suite", "case", "value", "unit", "baseline", "ratio", "target", "met"];
        let cells: Vec<[String; 8]> = self.rows.iter().map(cells).collect();
        let mut widths = HEADINGS.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.len());
            }
        }
        let mut out = line(&HEADINGS.map(String::from), &widths);
        out.push_str(&line(&widths.map(|w| "-".repeat(w)), &widths));
        for row in &cells {
            out.push_str(&line(row, &widths));
        }
        out
    }
}

fn cells(row: &Row) -> [String; 8] {
    let baseline = match (&row.baseline, row.baseline_value) {
        (Some(name), Some(value)) => format!("{name} {}", number(value)),
        _ => String::new(),
    };
    [
        row.suite.to_string(),
        row.case.clone(),
        number(row.value),
        row.unit.to_string(),
        baseline,
        row.ratio.map(|r| format!("{r:.2}")).unwrap_or_default(),
        row.target.clone().unwrap_or_default(),
        row.met
            .map(|m| if m { "yes" } else { "NO" }.to_string())
            .unwrap_or_default(),
    ]
}

/// One table line. Every column is left-aligned, so the table needs no
/// knowledge of which columns hold numbers.
fn line(cells: &[String; 8], widths: &[usize; 8]) -> String {
    let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
    format!("{}\n", padded.join("  ").trim_end())
}

/// Four significant digits: enough to compare runs, few enough to read.
fn number(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return value.to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_faster_case_has_a_ratio_above_one() {
        let row = Row::new("s", "c", 0.5, "s").against("base", 2.0);
        assert_eq!(row.ratio, Some(4.0));
    }

    #[test]
    fn a_target_checks_the_ratio_when_there_is_one() {
        let compared = Row::new("s", "c", 0.5, "s")
            .against("base", 1.0)
            .target(Target::AtLeast(3.0));
        assert_eq!(compared.met, Some(false));
        assert_eq!(compared.target.as_deref(), Some(">= 3"));
        let plain = Row::new("s", "c", 0.5, "s").target(Target::Below(1.0));
        assert_eq!(plain.met, Some(true));
    }

    #[test]
    fn json_lines_leave_out_what_a_case_does_not_have() {
        let json = serde_json::to_string(&Row::new("s", "c", 1.0, "s")).unwrap();
        assert_eq!(json, r#"{"suite":"s","case":"c","value":1.0,"unit":"s"}"#);
    }

    #[test]
    fn a_relative_ratio_is_value_over_baseline() {
        let rate = Row::new("s", "c", 300.0, "events/s")
            .relative_to("raw", 100.0)
            .target(Target::AtLeast(2.0));
        assert_eq!(rate.ratio, Some(3.0));
        assert_eq!(rate.met, Some(true));
        let slower = Row::new("s", "c", 2.0, "s")
            .relative_to("small", 1.0)
            .target(Target::AtMost(1.5));
        assert_eq!(slower.met, Some(false));
        assert_eq!(slower.target.as_deref(), Some("<= 1.5"));
    }

    #[test]
    fn a_skipped_case_serialises_with_its_reason_and_no_figure() {
        let skip = Skipped {
            suite: "s",
            case: "c".into(),
            skipped: "no server".into(),
        };
        let json = serde_json::to_string(&skip).unwrap();
        assert_eq!(json, r#"{"suite":"s","case":"c","skipped":"no server"}"#);
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(0.012345), "0.01235");
        assert_eq!(number(12.345), "12.35");
        assert_eq!(number(12345.0), "12345");
    }
}
