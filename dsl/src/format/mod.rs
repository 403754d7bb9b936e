//! `treaty fmt`: the one canonical layout of `.treaty` files.
//!
//! Pure: text in, text out. [`format_file`] refuses a file with syntax
//! errors (returning them as [`Diagnostics`], which name file, line and
//! column), lays out the rest from its tokens (`lex.rs`), a recursive
//! descent over the declarations (`layout.rs`) and a small pretty printer
//! (`doc.rs`), and checks its own work before returning it: the result
//! must parse to the same syntax tree (names, types, defaults, templates
//! and docs, everything but positions) and keep every comment, in order.
//! The layout rules are in docs/language.md, "Formatting".

mod doc;
mod layout;
mod lex;

use crate::ast;
use crate::diagnostic::{Diagnostics, Severity};
use crate::parser::parse_file;
use crate::source::{SourceId, Sources};
use crate::span::Span;

pub use doc::WIDTH;

/// Why a file was not formatted.
#[derive(Debug)]
pub enum FormatError {
    /// The file does not parse: its errors, ready to render.
    Syntax(Diagnostics),
    /// The formatter could not keep the file's meaning or comments (a bug
    /// in the formatter; the file should be left as it is).
    Internal {
        /// The file's name.
        file: String,
        /// What went wrong.
        message: String,
    },
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Syntax(diagnostics) => write!(f, "{}", diagnostics.render_short().trim_end()),
            FormatError::Internal { file, message } => write!(
                f,
                "{file}: cannot format: {message} (this is a bug in the formatter; the file is left as it is)"
            ),
        }
    }
}

impl std::error::Error for FormatError {}

/// The canonical layout of file `id` of `sources`.
pub fn format_file(sources: &Sources, id: SourceId) -> Result<String, FormatError> {
    let file = sources.get(id);
    let (before, diagnostics) = parse_file(sources, id);
    let errors: Vec<_> = diagnostics
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(FormatError::Syntax(Diagnostics::new(sources.clone(), errors)));
    }
    let internal = |message: String| FormatError::Internal {
        file: file.name.clone(),
        message,
    };
    let tokens = lex::lex(&file.text).map_err(|at| {
        let at = file.line_column(at);
        internal(format!("no token starts at {}:{}", at.line, at.column))
    })?;
    let docs = layout::Layout::new(&tokens)
        .file()
        .map_err(|layout::Unexpected(message)| internal(message))?;
    let formatted = doc::print(&docs);

    let mut check = Sources::new();
    let check_id = check.add(file.name.clone(), formatted.as_bytes());
    let (after, diagnostics) = parse_file(&check, check_id);
    if let Some(d) = diagnostics.iter().find(|d| d.severity == Severity::Error) {
        let at = check.line_column(check_id, d.primary.span.start);
        return Err(internal(format!(
            "the result does not parse ({}:{}: {})",
            at.line, at.column, d.message
        )));
    }
    if erase_spans(before) != erase_spans(after) {
        return Err(internal("the result would mean something else".to_string()));
    }
    let comments = |tokens: &[lex::Token]| {
        tokens
            .iter()
            .filter(|t| t.kind == lex::Kind::Comment)
            .map(|t| t.text)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let after_tokens = lex::lex(&formatted).map_err(|_| internal("the result has an unknown token".to_string()))?;
    if comments(&tokens) != comments(&after_tokens) {
        return Err(internal("a comment would be lost".to_string()));
    }
    Ok(formatted)
}

/// The canonical layout of `text`, named `name` in errors.
pub fn format_str(name: &str, text: &str) -> Result<String, FormatError> {
    let mut sources = Sources::new();
    let id = sources.add(name, text.as_bytes());
    format_file(&sources, id)
}

/// The syntax tree with every position set to zero, so that trees of the
/// same text laid out differently compare equal.
fn erase_spans(mut file: ast::File) -> ast::File {
    for item in &mut file.items {
        item.span = zero();
        match &mut item.kind {
            ast::ItemKind::Namespace(path) | ast::ItemKind::Use(path) => erase_path(path),
            ast::ItemKind::Const(c) => {
                erase_ident(&mut c.name);
                c.fields.iter_mut().for_each(erase_field);
            }
            ast::ItemKind::Id(id) => {
                erase_ident(&mut id.name);
                erase_type(&mut id.inner);
            }
            ast::ItemKind::Record(r) => {
                erase_ident(&mut r.name);
                r.fields.iter_mut().for_each(erase_field_item);
                r.display.iter_mut().for_each(erase_template);
            }
            ast::ItemKind::Enum(e) => {
                erase_ident(&mut e.name);
                e.variants.iter_mut().for_each(|v| erase_ident(&mut v.name));
            }
            ast::ItemKind::Aggregate(a) => {
                erase_ident(&mut a.name);
                erase_field(&mut a.identity);
                a.messages.iter_mut().for_each(|(_, m)| erase_message(m));
            }
            ast::ItemKind::Message(m) => erase_message(m),
        }
    }
    file
}

fn zero() -> Span {
    Span::point(SourceId(0), 0)
}

fn erase_ident(ident: &mut crate::span::Ident) {
    ident.span = zero();
}

fn erase_path(path: &mut ast::Path) {
    path.span = zero();
    path.segments.iter_mut().for_each(erase_ident);
}

fn erase_message(m: &mut ast::MessageDecl) {
    m.span = zero();
    erase_ident(&mut m.name);
    if let Some(v) = &mut m.version {
        v.span = zero();
    }
    if let Some(w) = &mut m.wire {
        w.span = zero();
    }
    m.fields.iter_mut().for_each(erase_field_item);
    for h in &mut m.history {
        h.span = zero();
        h.version.span = zero();
        h.fields.iter_mut().for_each(erase_field_item);
    }
    m.displays.iter_mut().for_each(erase_template);
}

fn erase_template(t: &mut ast::Template) {
    t.span = zero();
    t.raw_start = 0;
}

fn erase_field_item(item: &mut ast::FieldItem) {
    match item {
        ast::FieldItem::Field(f) => erase_field(f),
        ast::FieldItem::Fragment(ident) => erase_ident(ident),
    }
}

fn erase_field(f: &mut ast::FieldDecl) {
    f.span = zero();
    erase_ident(&mut f.name);
    erase_type(&mut f.ty);
    if let Some(d) = &mut f.default {
        d.span = zero();
    }
    if let Some(w) = &mut f.wire {
        w.span = zero();
    }
}

fn erase_type(t: &mut ast::TypeExpr) {
    t.span = zero();
    match &mut t.kind {
        ast::TypeExprKind::Named(path) => erase_path(path),
        ast::TypeExprKind::List(inner) => erase_type(inner),
        ast::TypeExprKind::Map(key, value) => {
            erase_type(key);
            erase_type(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::format_str;

    fn fmt(text: &str) -> String {
        format_str("t.treaty", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn lays_out_a_message() {
        assert_eq!(
            fmt("namespace  a ;Foo ! v2( x:u32 ,y : [ String ]?=none,)was v1(x:u32);"),
            "namespace a;\nFoo! v2 (x: u32, y: [String]? = none)\n    was v1 (x: u32);\n"
        );
    }
}
