//! Errors as data, and the one place that renders them.
//!
//! Every stage (parser, validation, the code generator, the `contract!`
//! macro) produces [`Diagnostic`] values; [`Diagnostics::render`] is the
//! only code that turns them into text, so the CLI and build.rs failures
//! look the same.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
/// Terminal colour support, for callers of [`Diagnostics::emit`].
pub use codespan_reporting::term::termcolor;

use crate::source::Sources;
use crate::span::Span;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The contracts cannot be compiled.
    Error,
    /// The contracts compile, but something deserves a look.
    Warning,
}

/// A stable identifier of each kind of problem. The string forms appear
/// in rendered output (`error[unknown-type]`) and are safe to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Code {
    /// The file is not valid UTF-8.
    InvalidUtf8,
    /// Brackets nested deeper than the parser accepts.
    TooDeep,
    /// The text does not follow the grammar.
    Syntax,
    /// A file without a `namespace` declaration, or with it in the wrong place.
    MissingNamespace,
    /// A namespace declared twice in one file, or badly named.
    BadNamespace,
    /// A type name that is neither built in, declared, nor imported.
    UnknownType,
    /// A `use` that names no declared type.
    UnknownImport,
    /// A field list names a `const` fragment that does not exist.
    UnknownFragment,
    /// Two types (or messages) with one name in one namespace.
    DuplicateType,
    /// Two fields with one name (after fragments and the identity field).
    DuplicateField,
    /// Two enum variants with one name.
    DuplicateVariant,
    /// A default that does not fit the field's type.
    BadDefault,
    /// A map key type that is not a string, an integer or an id.
    InvalidMapKey,
    /// A display template with a placeholder that names no field, or that
    /// is malformed.
    BadDisplayTemplate,
    /// `was` history that is not strictly older, newest first.
    BadVersionHistory,
    /// A name that the generated Rust could not use.
    BadName,
    /// A type used where another kind of type is required.
    WrongKindOfType,
    /// A record that contains itself without a list, map or option between.
    RecursiveType,
}

impl Code {
    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidUtf8 => "invalid-utf8",
            Code::TooDeep => "too-deep",
            Code::Syntax => "syntax",
            Code::MissingNamespace => "missing-namespace",
            Code::BadNamespace => "bad-namespace",
            Code::UnknownType => "unknown-type",
            Code::UnknownImport => "unknown-import",
            Code::UnknownFragment => "unknown-fragment",
            Code::DuplicateType => "duplicate-type",
            Code::DuplicateField => "duplicate-field",
            Code::DuplicateVariant => "duplicate-variant",
            Code::BadDefault => "bad-default",
            Code::InvalidMapKey => "invalid-map-key",
            Code::BadDisplayTemplate => "bad-display-template",
            Code::BadVersionHistory => "bad-version-history",
            Code::BadName => "bad-name",
            Code::WrongKindOfType => "wrong-kind-of-type",
            Code::RecursiveType => "recursive-type",
        }
    }
}

/// A labelled place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What about it; may be empty.
    pub message: String,
}

/// One problem found in the contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Which kind of problem.
    pub code: Code,
    /// A short sentence saying what is wrong.
    pub message: String,
    /// The place the problem is.
    pub primary: Label,
    /// Related places, such as an earlier declaration of a duplicate.
    pub secondary: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            help: None,
        }
    }

    /// Sets the text under the primary caret.
    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    /// Adds a related place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the hint saying how to fix it.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every problem of a compilation, with the files they point into.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    /// The files the diagnostics point into.
    pub sources: Sources,
    /// The problems, sorted by file and position.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Bundles diagnostics with their files, sorted by position.
    pub fn new(sources: Sources, mut items: Vec<Diagnostic>) -> Self {
        items.sort_by(|a, b| {
            (a.primary.span.source, a.primary.span.start, a.code).cmp(&(
                b.primary.span.source,
                b.primary.span.start,
                b.code,
            ))
        });
        Diagnostics { sources, items }
    }

    /// How many are errors.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.severity == Severity::Error).count()
    }

    /// Renders every diagnostic as plain text: `error[code]: message`, then
    /// `path:line:col`, the source line with a caret, and the hint.
    pub fn render(&self) -> String {
        let mut out = term::termcolor::NoColor::new(Vec::new());
        self.emit(&mut out);
        String::from_utf8(out.into_inner()).expect("codespan writes UTF-8")
    }

    /// Renders to a terminal stream, in colour when it supports colour.
    pub fn emit(&self, writer: &mut dyn term::termcolor::WriteColor) {
        let config = term::Config::default();
        for diagnostic in &self.items {
            // Writing to an in-memory buffer or stderr; a failed write to
            // a closed stderr has nowhere better to be reported.
            let _ = term::emit(writer, &config, &self.sources, &to_codespan(diagnostic));
        }
        let errors = self.error_count();
        if errors > 0 {
            let _ = writeln!(
                writer,
                "error: contracts have {errors} error{}",
                if errors == 1 { "" } else { "s" }
            );
        }
    }

    /// One line per diagnostic: `path:line:col: error[code]: message`.
    pub fn render_short(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            let file = self.sources.get(d.primary.span.source);
            let at = file.line_column(d.primary.span.start);
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.push_str(&format!(
                "{}:{}:{}: {severity}[{}]: {}\n",
                file.name,
                at.line,
                at.column,
                d.code.as_str(),
                d.message
            ));
        }
        out
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<crate::source::SourceId> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![
        cs::Label::primary(d.primary.span.source, d.primary.span.start..d.primary.span.end)
            .with_message(d.primary.message.clone()),
    ];
    labels.extend(
        d.secondary
            .iter()
            .map(|l| cs::Label::secondary(l.span.source, l.span.start..l.span.end).with_message(l.message.clone())),
    );
    let mut out = cs::Diagnostic::new(severity)
        .with_code(d.code.as_str())
        .with_message(d.message.clone())
        .with_labels(labels);
    if let Some(help) = &d.help {
        out = out.with_notes(vec![format!("help: {help}")]);
    }
    out
}
