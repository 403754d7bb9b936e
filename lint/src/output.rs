//! The three ways to print a [`Report`]: for people (snippets rendered by
//! codespan-reporting, as every other diagnostic of treaty is), as one
//! JSON document for tools, and as GitHub workflow annotations.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use codespan_reporting::term::termcolor::WriteColor;
use serde::Serialize;

use treaty_dsl::{Label, Severity, SourceId, Sources};

use crate::{Finding, Report};

/// A finding's primary place as `file`, `line`, `column` (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file's name as loaded.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

/// The JSON document; a struct rather than a map so that keys keep this
/// order, the one a person reading it wants.
#[derive(Serialize)]
struct JsonReport<'a> {
    baseline: &'a str,
    mode: &'static str,
    transitive: bool,
    breaking: usize,
    warnings: usize,
    findings: Vec<JsonFinding<'a>>,
}

/// One finding in the JSON document.
#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'static str,
    severity: &'static str,
    contract: &'a str,
    kind: &'static str,
    version: Option<u32>,
    field: Option<&'a str>,
    old: Option<&'a str>,
    new: Option<&'a str>,
    message: &'a str,
    note: Option<&'a str>,
    help: &'static str,
    location: Option<String>,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
}

impl Finding {
    /// Where the finding points, if anywhere.
    pub fn location(&self, sources: &Sources) -> Option<Location> {
        let span = self.primary.as_ref()?.span;
        let file = sources.get(span.source);
        let at = file.line_column(span.start);
        Some(Location {
            file: file.name.clone(),
            line: at.line,
            column: at.column,
        })
    }

    fn severity_name(&self) -> &'static str {
        match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }

    fn to_codespan(&self) -> cs::Diagnostic<SourceId> {
        let severity = match self.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
        };
        let label = |l: &Label, primary: bool| {
            let range = l.span.start..l.span.end;
            let label = if primary {
                cs::Label::primary(l.span.source, range)
            } else {
                cs::Label::secondary(l.span.source, range)
            };
            label.with_message(l.message.clone())
        };
        let labels = self
            .primary
            .iter()
            .map(|l| label(l, true))
            .chain(self.secondary.iter().map(|l| label(l, false)))
            .collect();
        let mut notes: Vec<String> = self.note.iter().cloned().collect();
        notes.push(format!("help: {}", self.rule.help()));
        cs::Diagnostic::new(severity)
            .with_code(self.rule.id())
            .with_message(self.message.clone())
            .with_labels(labels)
            .with_notes(notes)
    }
}

impl Report {
    /// Renders every finding as plain text, with the snippet of the new
    /// contracts it points at.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = term::termcolor::NoColor::new(Vec::new());
        self.emit(sources, &mut out);
        String::from_utf8(out.into_inner()).expect("codespan writes UTF-8")
    }

    /// Renders to a terminal stream, in colour when it supports colour.
    pub fn emit(&self, sources: &Sources, writer: &mut dyn WriteColor) {
        let config = term::Config::default();
        for finding in &self.findings {
            // As for compiler diagnostics: a failed write to a closed
            // stream has nowhere better to be reported.
            let _ = term::emit(writer, &config, sources, &finding.to_codespan());
        }
    }

    /// One JSON document listing every finding, for tools: pretty JSON
    /// with the counts and settings first, then the findings, each with
    /// its rule id first. `baseline` says what was compared with.
    pub fn to_json(&self, sources: &Sources, baseline: &str) -> String {
        let findings = self
            .findings
            .iter()
            .map(|f| {
                let location = f.location(sources);
                JsonFinding {
                    rule: f.rule.id(),
                    severity: f.severity_name(),
                    contract: &f.contract,
                    kind: f.kind.as_str(),
                    version: f.version,
                    field: f.field.as_deref(),
                    old: f.old.as_deref(),
                    new: f.new.as_deref(),
                    message: &f.message,
                    note: f.note.as_deref(),
                    help: f.rule.help(),
                    location: location.as_ref().map(|l| format!("{}:{}:{}", l.file, l.line, l.column)),
                    file: location.as_ref().map(|l| l.file.clone()),
                    line: location.as_ref().map(|l| l.line),
                    column: location.as_ref().map(|l| l.column),
                }
            })
            .collect();
        let document = JsonReport {
            baseline,
            mode: self.mode.as_str(),
            transitive: self.transitive,
            breaking: self.breaking_count(),
            warnings: self.warning_count(),
            findings,
        };
        let mut text = serde_json::to_string_pretty(&document).expect("a report always serializes");
        text.push('\n');
        text
    }

    /// GitHub Actions workflow commands, one line per finding:
    /// `::error file=F,line=L,col=C,title=RULE::MESSAGE`.
    pub fn to_github(&self, sources: &Sources) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let mut properties = Vec::new();
            if let Some(at) = f.location(sources) {
                properties.push(format!("file={}", escape_property(&at.file)));
                properties.push(format!("line={}", at.line));
                properties.push(format!("col={}", at.column));
            }
            properties.push(format!("title={}", escape_property(f.rule.id())));
            let mut message = f.message.clone();
            if let Some(note) = &f.note {
                message.push_str(&format!("\n{note}"));
            }
            message.push_str(&format!("\nhelp: {}", f.rule.help()));
            out.push_str(&format!(
                "::{} {}::{}\n",
                f.severity_name(),
                properties.join(","),
                escape_data(&message)
            ));
        }
        out
    }
}

/// Escapes a workflow command's message, as the Actions toolkit does.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value, as the Actions toolkit does.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_workflow_commands_like_the_actions_toolkit() {
        assert_eq!(escape_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
