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
pub mod diagnostic;
pub mod format;
mod hints;
pub mod lokad;
pub mod naming;
pub mod packed;
mod parser;
pub mod query;
pub mod schema;
pub mod source;
pub mod span;
mod validate;
pub mod wire;

pub use canonical::{contracts, fingerprint, CanonicalContract, ContractKind};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity};
pub use format::{format_file, format_str, FormatError};
pub use parser::{parse_file, MAX_NESTING};
pub use schema::{QualifiedName, Schema};
pub use source::{LineColumn, LoadError, SourceFile, SourceId, Sources};
pub use span::{Ident, Span};
pub use validate::{validate, Config};

/// Parses every file, on as many threads as there are cores (files are
/// independent until validation), in file order.
fn parse_files(sources: &Sources) -> Vec<(SourceId, (ast::File, Vec<Diagnostic>))> {
    let ids: Vec<SourceId> = sources.iter().map(|(id, _)| id).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(ids.len().max(1));
    if threads <= 1 {
        return ids.into_iter().map(|id| (id, parse_file(sources, id))).collect();
    }
    // Interleaving spreads large and small files evenly over the threads.
    let mut parsed: Vec<(SourceId, (ast::File, Vec<Diagnostic>))> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let ids = &ids;
                scope.spawn(move || {
                    ids.iter()
                        .skip(t)
                        .step_by(threads)
                        .map(|&id| (id, parse_file(sources, id)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    parsed.sort_by_key(|(id, _)| *id);
    parsed
}

/// Parses and validates every file in `sources`. On failure the error
/// holds every diagnostic of every file, sorted by position, ready to
/// render.
pub fn compile(sources: &Sources, config: &Config) -> Result<Schema, Diagnostics> {
    let mut diagnostics = Vec::new();
    let mut files = Vec::with_capacity(sources.len());
    // Files whose beginning was not parsed: a syntax error before the
    // first declaration, or the whole file rejected (not UTF-8, too deep).
    let mut unread_start = Vec::new();
    for (id, (file, errors)) in parse_files(sources) {
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
