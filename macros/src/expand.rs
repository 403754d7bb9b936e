//! The expansion of `contract!`: text from tokens, the contracts build.rs
//! compiled, then the code generator's one code path, with every
//! diagnostic turned into a `compile_error!` at the token it is about.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::PathBuf;

use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use treaty_codegen::{Builder, Error, SourcesManifest, DEFAULT_MANIFEST_NAME};
use treaty_dsl::ast::{ItemKind, MessageDecl};
use treaty_dsl::diagnostic::{not_shown, printable, MAX_DIAGNOSTICS};
use treaty_dsl::{Diagnostic, Diagnostics, SourceId, Sources};

use crate::text::SourceText;

/// The name diagnostics give the macro's input when they are rendered as
/// a whole, which only happens for errors outside it.
const INPUT_NAME: &str = "contract! input";

/// Expands one invocation, seeing the contracts build.rs wrote to
/// `OUT_DIR` when cargo sets it.
pub(crate) fn contract(input: TokenStream) -> TokenStream {
    expand(input, std::env::var_os("OUT_DIR").map(PathBuf::from))
}

/// Expands one invocation with the build.rs contracts listed in `out_dir`.
/// Errors are collected, never returned early where more of them can
/// still be found, and all reported.
fn expand(input: TokenStream, out_dir: Option<PathBuf>) -> TokenStream {
    let text = SourceText::from_tokens(input);
    let mut errors: Vec<TokenStream> = text
        .unsupported
        .iter()
        .map(|u| compile_error(u.spans, &u.message))
        .collect();

    let mut sources = Sources::new();
    let mut builder = Builder::new();
    let build_namespaces = match load_build_contracts(out_dir, &mut sources, &mut builder) {
        Ok(namespaces) => namespaces,
        Err(message) => {
            // Checking the input without the build.rs contracts would only
            // add misleading errors about every type it imports from them.
            errors.push(compile_error(call_site(), &message));
            return errors.into_iter().collect();
        }
    };
    let input = sources.add(INPUT_NAME, text.text.clone());
    let own = own_namespaces(&sources, input, &text, &build_namespaces, &mut errors);

    match builder.generate_namespace_tokens(&sources, &own) {
        Ok(tokens) if errors.is_empty() => point_upcasts_at_history(tokens, &history_spans(&sources, input, &text)),
        Ok(_) => errors.into_iter().collect(),
        Err(Error::Contracts(diagnostics)) => {
            errors.extend(diagnostic_errors(&diagnostics, input, &text));
            errors.into_iter().collect()
        }
        Err(other) => {
            errors.push(compile_error(call_site(), &other.to_string()));
            errors.into_iter().collect()
        }
    }
}

/// Adds the contract files that build.rs compiled into the default file
/// (as listed in the manifest `Builder::compile` wrote to `OUT_DIR`) to
/// `sources`, with their extern types, and returns their namespaces. When
/// the crate has no build script, or it compiles no contracts, there is
/// nothing to add.
fn load_build_contracts(
    out_dir: Option<PathBuf>,
    sources: &mut Sources,
    builder: &mut Builder,
) -> Result<Vec<String>, String> {
    let Some(out_dir) = out_dir else {
        return Ok(Vec::new());
    };
    let path = out_dir.join(DEFAULT_MANIFEST_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let manifest = SourcesManifest::parse(&text).map_err(|reason| {
        format!(
            "{} is not a contract manifest ({reason}); rebuild so that build.rs writes it again",
            path.display()
        )
    })?;
    for (name, rust) in &manifest.extern_types {
        builder.extern_type(name, rust);
    }
    let mut namespaces = Vec::new();
    for file in &manifest.files {
        let bytes = std::fs::read(file).map_err(|error| {
            format!(
                "cannot read {}, a contract compiled by build.rs: {error}; rebuild so that build.rs lists \
                 the contracts again",
                file.display()
            )
        })?;
        let id = sources.add(file.display().to_string(), bytes);
        namespaces.extend(declared_namespaces(sources, id).into_iter().map(|(name, _)| name));
    }
    Ok(namespaces)
}

/// The namespaces the invocation declares: the only ones it generates.
/// A namespace whose top-level module build.rs already generates would
/// define that module twice in the crate, so it is an error at its name.
fn own_namespaces(
    sources: &Sources,
    input: SourceId,
    text: &SourceText,
    build_namespaces: &[String],
    errors: &mut Vec<TokenStream>,
) -> BTreeSet<String> {
    let top = |namespace: &str| namespace.split('.').next().unwrap_or_default().to_string();
    let mut own = BTreeSet::new();
    for (namespace, range) in declared_namespaces(sources, input) {
        let clash = build_namespaces.iter().find(|b| top(b) == top(&namespace));
        if let Some(existing) = clash {
            let message = if *existing == namespace {
                format!("namespace `{namespace}` is already compiled by build.rs")
            } else {
                format!(
                    "namespace `{namespace}` would define module `{}`, which the contracts compiled by \
                     build.rs (namespace `{existing}`) already define",
                    top(&namespace)
                )
            };
            let help = "give the contracts of `contract!` a namespace of their own, and `use` the \
                        types they need from the build.rs namespaces";
            errors.push(compile_error(
                text.spans(range).unwrap_or_else(call_site),
                &format_message(&message, Some(help)),
            ));
        }
        own.insert(namespace);
    }
    own
}

/// Each `namespace` declaration of file `id`, with where its name is.
fn declared_namespaces(sources: &Sources, id: SourceId) -> Vec<(String, Range<usize>)> {
    // Parsing again is cheap next to generating code; syntax errors are
    // reported by the compilation that follows, so they are ignored here.
    let (file, _) = treaty_dsl::parse_file(sources, id);
    file.items
        .iter()
        .filter_map(|item| match &item.kind {
            ItemKind::Namespace(path) => Some((path.dotted(), path.span.start..path.span.end)),
            _ => None,
        })
        .collect()
}

/// The span of the `vN` of every `was vN` in the input, by the name of the
/// struct generated for that version (`InvoiceIssuedV1`).
fn history_spans(sources: &Sources, input: SourceId, text: &SourceText) -> HashMap<String, Span> {
    let (file, _) = treaty_dsl::parse_file(sources, input);
    let mut spans = HashMap::new();
    let mut add = |message: &MessageDecl| {
        for entry in &message.history {
            let (Some(number), Some((span, _))) = (
                entry.version.number,
                text.spans(entry.version.span.start..entry.version.span.end),
            ) else {
                continue;
            };
            spans.insert(format!("{}V{number}", message.name.name), span);
        }
    };
    for item in &file.items {
        match &item.kind {
            ItemKind::Message(message) => add(message),
            ItemKind::Aggregate(aggregate) => aggregate.messages.iter().for_each(|(_, m)| add(m)),
            _ => {}
        }
    }
    spans
}

/// Generated code is spanned at the invocation, so when a hand-written
/// upcast from an old version is missing, rustc would underline the whole
/// invocation. `#[derive(Contract)]` spans each upcast step at the name of
/// the old version's struct in `#[treaty(was(N, "…", OldVN))]`; giving
/// every `OldVN` token the span of the `was vN` that declared it makes
/// rustc point there. Only spans of those names change, never tokens, so
/// the code stays what build.rs generates.
fn point_upcasts_at_history(tokens: TokenStream, spans: &HashMap<String, Span>) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), point_upcasts_at_history(group.stream(), spans));
                respanned.set_span(group.span());
                TokenTree::Group(respanned)
            }
            TokenTree::Ident(mut ident) => {
                if let Some(span) = spans.get(&ident.to_string()) {
                    ident.set_span(*span);
                }
                TokenTree::Ident(ident)
            }
            other => other,
        })
        .collect()
}

/// One `compile_error!` per diagnostic about the input, at its token, for
/// at most [`MAX_DIAGNOSTICS`] of them, then one at the invocation saying
/// how many more there are. Diagnostics in the files build.rs compiled
/// have no token here; they are rendered in full (and capped the same way)
/// at the invocation.
fn diagnostic_errors(diagnostics: &Diagnostics, input: SourceId, text: &SourceText) -> Vec<TokenStream> {
    let mut outside = Vec::new();
    let mut inside = Vec::new();
    for diagnostic in &diagnostics.items {
        let span = diagnostic.primary.span;
        if span.source != input {
            outside.push(diagnostic.clone());
        } else if !text.is_unsupported(span.start) {
            // (At an unsupported token, the token's own error already says
            // what is wrong there.)
            inside.push(diagnostic);
        }
    }
    let (shown, hidden) = inside.split_at(inside.len().min(MAX_DIAGNOSTICS));
    let mut errors: Vec<TokenStream> = shown
        .iter()
        .map(|diagnostic| {
            let span = diagnostic.primary.span;
            let at = text.spans(span.start..span.end).unwrap_or_else(call_site);
            compile_error(at, &message(diagnostic))
        })
        .collect();
    let hidden: Vec<Diagnostic> = hidden.iter().map(|d| (*d).clone()).collect();
    if let Some(line) = not_shown(&hidden) {
        errors.push(compile_error(call_site(), &line));
    }
    if !outside.is_empty() {
        let rendered = Diagnostics::new(diagnostics.sources.clone(), outside).render();
        errors.push(compile_error(
            call_site(),
            &format!("the contracts compiled by build.rs have errors:\n{rendered}"),
        ));
    }
    errors
}

/// The diagnostic's message and its help, made safe to print.
fn message(diagnostic: &Diagnostic) -> String {
    let help = diagnostic.help.as_deref().map(printable);
    format_message(&printable(&diagnostic.message), help.as_deref())
}

fn format_message(message: &str, help: Option<&str>) -> String {
    match help {
        // rustc indents the lines after the first to line up under the
        // message.
        Some(help) => format!("{message}\nhelp: {help}"),
        None => message.to_string(),
    }
}

/// A `compile_error!` that rustc reports from the first span to the last:
/// it spans an error from its macro path to its closing brace, so the path
/// takes the first span and the braces the last (as `syn::Error` does).
fn compile_error((first, last): (Span, Span), message: &str) -> TokenStream {
    let mut message = Literal::string(message);
    message.set_span(last);
    let body = quote_spanned! {last=> { #message } };
    quote_spanned! {first=> ::core::compile_error! #body }
}

fn call_site() -> (Span, Span) {
    (Span::call_site(), Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHARED: &str = "namespace shared;\nrecord Money(cents: i64, currency: String);\n";
    const BILLING: &str = "//! Invoices.\nnamespace billing;\nuse shared.Money;\n\
                           /// Issued.\nInvoiceIssued! v2 (total: Money, days: i32 = -1) was v1 (total: Money);\n";

    /// An `OUT_DIR` with the manifest `Builder::compile` writes for
    /// `shared.treaty`. (`compile` writes it only when the directory is
    /// cargo's `OUT_DIR`, which a test cannot set without racing others.)
    fn out_dir_with_shared() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let contract = dir.path().join("shared.treaty");
        std::fs::write(&contract, SHARED).unwrap();
        let manifest = SourcesManifest {
            files: vec![contract],
            extern_types: Vec::new(),
        };
        std::fs::write(dir.path().join(DEFAULT_MANIFEST_NAME), manifest.render()).unwrap();
        dir
    }

    #[test]
    fn the_expansion_is_what_the_generator_writes_for_the_same_text() {
        // Doc comments, a negative default and escapes are the tokens the
        // macro has to turn back into contract text.
        let text = "//! Invoices.\nnamespace billing;\n\
                    /// An amount.\nrecord Money(cents: i64, currency: String) display \"{cents} {currency}\";\n\
                    InvoiceIssued! v2 (total: Money, days: i32 = -1, note: String = \"a \\\"b\\\"\")\n\
                    was v1 (total: Money);\n";
        let mut sources = Sources::new();
        sources.add("billing.treaty", text);
        let generated = Builder::new().generate_tokens(&sources).unwrap();
        assert_eq!(expand(text.parse().unwrap(), None).to_string(), generated.to_string());
    }

    #[test]
    fn build_rs_contracts_are_seen_but_not_generated_again() {
        let out_dir = out_dir_with_shared();
        let expanded = expand(BILLING.parse().unwrap(), Some(out_dir.path().to_path_buf()));
        let mut sources = Sources::new();
        sources.add("shared.treaty", SHARED);
        sources.add("billing.treaty", BILLING);
        let billing = BTreeSet::from(["billing".to_string()]);
        let generated = Builder::new().generate_namespace_tokens(&sources, &billing).unwrap();
        assert_eq!(expanded.to_string(), generated.to_string());
        let text = expanded.to_string();
        assert!(text.contains("super :: shared :: Money"), "{text}");
        assert!(!text.contains("pub mod shared"), "{text}");
        // The fingerprint of a message that holds a `Money` covers Money's
        // fields, so it matches build.rs only if the macro saw them.
        let full = Builder::new().generate_tokens(&sources).unwrap().to_string();
        let fingerprint = |code: &str| {
            let at = code.find("fingerprint =").unwrap();
            code[at..at + 50].to_string()
        };
        assert_eq!(fingerprint(&text), fingerprint(&full));
    }

    #[test]
    fn a_namespace_of_build_rs_is_an_error_at_its_name() {
        let out_dir = out_dir_with_shared();
        let input = "namespace shared.extra; record Note(text: String);";
        let expanded = expand(input.parse().unwrap(), Some(out_dir.path().to_path_buf())).to_string();
        assert!(
            expanded.contains("namespace `shared.extra` would define module `shared`"),
            "{expanded}"
        );
        assert!(!expanded.contains("pub mod"), "{expanded}");
    }

    #[test]
    fn a_broken_manifest_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DEFAULT_MANIFEST_NAME), "not a manifest\n").unwrap();
        let expanded = expand(BILLING.parse().unwrap(), Some(dir.path().to_path_buf())).to_string();
        assert!(expanded.contains("is not a contract manifest"), "{expanded}");
    }

    #[test]
    fn every_error_is_reported() {
        let input = "namespace billing; record A(x: Mony, y: u32 = \"one\"); record A();";
        let expanded = expand(input.parse().unwrap(), None).to_string();
        assert_eq!(expanded.matches("compile_error").count(), 3, "{expanded}");
    }

    #[test]
    fn errors_are_capped_like_rendered_diagnostics() {
        // 150 declarations of one id: 149 errors, of which the first 100
        // become their own `compile_error!`, and one more says the rest.
        let input = format!("namespace billing; {}", "id X: u64; ".repeat(150));
        let expanded = expand(input.parse().unwrap(), None).to_string();
        assert_eq!(
            expanded.matches("compile_error").count(),
            MAX_DIAGNOSTICS + 1,
            "{expanded}"
        );
        assert!(expanded.contains("… and 49 more errors not shown"), "{expanded}");
    }
}
