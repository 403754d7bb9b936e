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
pub mod naming;
mod parser;
pub mod schema;
pub mod source;
pub mod span;
mod validate;

pub use canonical::{contracts, fingerprint, CanonicalContract, ContractKind};
pub use diagnostic::{Code, Diagnostic, Diagnostics, Label, Severity};
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
    for (id, _) in sources.iter() {
        let (file, errors) = parse_file(sources, id);
        diagnostics.extend(errors);
        files.push((id, file));
    }
    let (schema, errors) = validate(&files, config);
    diagnostics.extend(errors);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        Err(Diagnostics::new(sources.clone(), diagnostics))
    } else {
        Ok(schema)
    }
}
