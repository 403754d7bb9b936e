//! The Treaty contract language: grammar, syntax tree, validation,
//! diagnostics, canonical schema and fingerprints.
//!
//! The pipeline is [`parse_file`] (text to [`ast::File`], one file at a
//! time) then [`validate`] (all files together, to a [`Schema`]). Both
//! return every problem as [`Diagnostic`] data; [`Diagnostics::render`] is
//! the one place that turns them into text. [`compile`] runs the pipeline.
//!
//! ```
//! use treaty_dsl::{compile, Config, Sources};
//!
//! let mut sources = Sources::new();
//! sources.add("shop.treaty", "namespace shop;\nOrderPlaced!(total: u64);\n");
//! let schema = compile(&sources, &Config::default()).unwrap();
//! assert_eq!(schema.messages().count(), 1);
//! ```

pub mod ast;
pub mod canonical;
pub mod compat;
pub mod diagnostic;
pub mod lock;
pub mod naming;
mod parser;
pub mod schema;
pub mod source;
pub mod span;
mod validate;

pub use canonical::{contracts, fingerprint, CanonicalContract, ContractKind};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity};
pub use lock::{Lock, LockError};
pub use parser::{parse_file, MAX_NESTING};
pub use schema::{QualifiedName, Schema};
pub use source::{LineColumn, LoadError, SourceFile, SourceId, Sources};
pub use span::{Ident, Span};
pub use validate::{validate, Config};

/// Parses and validates every file in `sources`. On failure the error
/// holds every diagnostic of every file, sorted by position, ready to
/// render.
pub fn compile(sources: &Sources, config: &Config) -> Result<Schema, Diagnostics> {
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(sources.len());
    // Files whose beginning was not parsed: a syntax error before the
    // first declaration, or the whole file rejected (not UTF-8, too deep).
    let mut unread_start = Vec::new();
    for (id, _) in sources.iter() {
        let (file, errors) = parse_file(sources, id);
        let first_error = errors.iter().map(|d| d.primary.span.start).min();
        let first_item = file.items.first().map(|item| item.span.start);
        if first_error.is_some_and(|e| first_item.is_none_or(|i| e < i)) {
            unread_start.push(id);
        }
        diagnostics.extend(errors);
        files.push((id, file));
    }
    let (schema, errors) = validate(&files, config);
    // Such a file may well have its namespace in the part that did not
    // parse; saying it has none would send the reader looking for a line
    // that is already there. (The "must come first" variant of the code
    // points at a declaration, never at an empty span.)
    diagnostics.extend(errors.into_iter().filter(|d| {
        let span = d.primary.span;
        !(d.code == Code::MissingNamespace && span.start == span.end && unread_start.contains(&span.source))
    }));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(Diagnostics::new(sources.clone(), diagnostics))
    } else {
        Ok(schema)
    }
}
