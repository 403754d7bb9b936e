//! Errors as data, and the one place that renders them.
//!
//! Every stage (parser, validation, the code generator, the `contract!`
//! macro) produces [`Diagnostic`] values; [`Diagnostics::render`] is the
//! only code that turns them into text, so the CLI and build.rs failures
//! look the same.
//!
//! Rendering takes time linear in the size of the input, whatever it holds:
//! at most [`MAX_DIAGNOSTICS`] diagnostics are rendered, each shows only
//! the lines its labels touch (a line longer than [`MAX_LINE_CHARS`] as a
//! window around its labels), and messages are cut at
//! [`MAX_MESSAGE_CHARS`].

mod excerpt;

use codespan_reporting::term;
/// Terminal colour support, for callers of [`Diagnostics::emit`].
pub use codespan_reporting::term::termcolor;

use crate::source::{is_unprintable, Sources};
use crate::span::Span;

/// At most this many diagnostics are rendered per run (by
/// [`Diagnostics::render`], [`Diagnostics::emit`] and
/// [`Diagnostics::render_short`], and as `compile_error!`s by the
/// `contract!` macro), the first ones by file and position; one line then
/// says how many more there are. The parser also stops reading a file after
/// this many syntax errors, and reports at most this many bidirectional
/// control characters per file.
pub const MAX_DIAGNOSTICS: usize = 100;

/// A source line longer than this many characters is shown shortened: a
/// window of [`CONTEXT_CHARS`] characters on each side of each label on
/// it, with `…` where text was cut. The `file:line:column` heading still
/// gives the position in the whole line.
pub const MAX_LINE_CHARS: usize = 200;

/// How many characters of a shortened line are shown on each side of a
/// label.
pub const CONTEXT_CHARS: usize = 40;

/// Messages, labels and hints longer than this many characters (they can
/// quote names and text of any length from the contract) are cut, ending
/// in `…`.
pub const MAX_MESSAGE_CHARS: usize = 500;

/// How bad a finding is: the compatibility rule book's type, so the
/// lint's findings and the compiler's diagnostics share one.
pub use treaty_compat::Severity;

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
    /// A bidirectional control character (U+202A to U+202E, U+2066 to
    /// U+2069, U+200E, U+200F, U+061C), anywhere in a file: it can make
    /// the text display in another order than it is read.
    BidiControl,
    /// A control character (other than tab) in a doc comment, which the
    /// generated Rust could not carry in its documentation.
    ControlCharacter,
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
            Code::BidiControl => "bidi-control",
            Code::ControlCharacter => "control-character",
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

    /// Renders the diagnostics as plain text: `error[code]: message`, then
    /// `path:line:col`, the source line with a caret, and the hint; at
    /// most [`MAX_DIAGNOSTICS`] of them, then a line saying how many more
    /// there are, then the count of errors.
    pub fn render(&self) -> String {
        let mut out = term::termcolor::NoColor::new(Vec::new());
        self.emit(&mut out);
        String::from_utf8(out.into_inner()).expect("codespan writes UTF-8")
    }

    /// Renders to a terminal stream, in colour when it supports colour.
    pub fn emit(&self, writer: &mut dyn term::termcolor::WriteColor) {
        let config = term::Config::default();
        let (shown, hidden) = self.items.split_at(self.items.len().min(MAX_DIAGNOSTICS));
        for diagnostic in shown {
            let (files, rendered) = excerpt::excerpts(&self.sources, diagnostic, &config);
            // Writing to an in-memory buffer or stderr; a failed write to
            // a closed stderr has nowhere better to be reported.
            let _ = term::emit(writer, &config, &files, &rendered);
        }
        if let Some(line) = not_shown(hidden) {
            let _ = writeln!(writer, "{line}");
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

    /// One line per diagnostic: `path:line:col: error[code]: message`, at
    /// most [`MAX_DIAGNOSTICS`] of them, then a line saying how many more
    /// there are.
    pub fn render_short(&self) -> String {
        let mut out = String::new();
        let (shown, hidden) = self.items.split_at(self.items.len().min(MAX_DIAGNOSTICS));
        for d in shown {
            let file = self.sources.get(d.primary.span.source);
            let at = file.line_column(d.primary.span.start);
            out.push_str(&format!(
                "{}:{}:{}: {}[{}]: {}\n",
                file.name,
                at.line,
                at.column,
                severity_name(d.severity),
                d.code.as_str(),
                printable(&d.message)
            ));
        }
        if let Some(line) = not_shown(hidden) {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// The line that stands for the diagnostics left out by the cap, such as
/// `… and 15899 more errors not shown`; `None` when none were left out.
pub fn not_shown(hidden: &[Diagnostic]) -> Option<String> {
    if hidden.is_empty() {
        return None;
    }
    let errors = hidden.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = hidden.len() - errors;
    let count = |n: usize, what: &str| format!("{n} more {what}{}", if n == 1 { "" } else { "s" });
    let counts = match (errors, warnings) {
        (_, 0) => count(errors, "error"),
        (0, _) => count(warnings, "warning"),
        _ => format!("{} and {}", count(errors, "error"), count(warnings, "warning")),
    };
    Some(format!("… and {counts} not shown"))
}

/// `text` made safe to print: characters that would disturb a terminal
/// (controls other than tab and newline, bidirectional controls) written
/// as `\u{…}` escapes, and text beyond [`MAX_MESSAGE_CHARS`] characters
/// cut, ending in `…`. Messages quote names and strings from contracts,
/// which may hold anything.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_MESSAGE_CHARS));
    for (shown, c) in text.chars().enumerate() {
        if shown == MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        if is_unprintable(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

impl std::fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostics {}
