//! Wire names: the names that messages and fields have on the wire when
//! they are not the ones the contract uses (`wire "..."`). The character
//! rules here are the event store's rules for contract names, so that any
//! wire name a contract accepts can be stored; the uniqueness of contract
//! names on the wire is checked over the whole schema by `check_contracts`.

use std::collections::BTreeMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::schema::{QualifiedName, Schema};
use crate::source::is_unprintable;
use crate::span::Span;

/// The longest wire name, in bytes: the event store's longest contract
/// name.
pub const MAX_WIRE_NAME: usize = 256;

/// Why `name` cannot be a wire name, if it cannot: it must be 1 to
/// [`MAX_WIRE_NAME`] bytes of printable text, without whitespace, control
/// characters or invisible formatting characters.
pub fn problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a wire name cannot be empty".to_string());
    }
    if name.len() > MAX_WIRE_NAME {
        return Some(format!(
            "a wire name is at most {MAX_WIRE_NAME} bytes, this one has {}",
            name.len()
        ));
    }
    let bad = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || is_unprintable(*c) || is_invisible(*c))?;
    Some(format!(
        "a wire name cannot hold {:?} (U+{:04X}): whitespace, control and invisible characters are not allowed",
        bad, bad as u32
    ))
}

/// Invisible formatting characters (the soft hyphen, zero-width and
/// bidirectional controls, the byte-order mark, interlinear annotation
/// marks, tags): the same set the event store refuses in contract names
/// (`is_printable` in `runtime/src/store/validate.rs`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// The error for a wire name that breaks the character rules.
pub(crate) fn bad_name(what: &str, name: &str, span: Span) -> Option<Diagnostic> {
    let reason = problem(name)?;
    Some(
        Diagnostic::error(Code::BadName, span, format!("bad wire name for {what}: {reason}"))
            .with_label("not a usable wire name")
            .with_help("write the name exactly as stored, such as `wire \"OrderId\"`, or remove `wire \"...\"`"),
    )
}

/// Where each message's contract name on the wire was written: the string
/// of its `wire "..."`, or its name when it has none.
pub(crate) type WireSpans = BTreeMap<QualifiedName, Span>;

/// Reports every message whose contract name on the wire is another's, or
/// is the `namespace.Name` of another message or of a record, enum or id:
/// readers could not tell them apart in envelopes, stores and locks.
pub(crate) fn check_contracts(schema: &Schema, spans: &WireSpans) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut by_wire: BTreeMap<&str, &QualifiedName> = BTreeMap::new();
    let span_of = |name: &QualifiedName| spans.get(name).copied();
    for message in schema.messages() {
        if let Some(first) = by_wire.get(message.wire.as_str()) {
            if let (Some(here), Some(there)) = (span_of(&message.name), span_of(first)) {
                diagnostics.push(
                    Diagnostic::error(
                        Code::DuplicateType,
                        here,
                        format!(
                            "`{}` and `{first}` have the same contract name on the wire, `{}`",
                            message.name, message.wire
                        ),
                    )
                    .with_label("same wire name")
                    .with_secondary(there, "first used here")
                    .with_help(
                        "give one of them another `wire \"...\"` name: readers tell contracts apart by this name",
                    ),
                );
            }
            continue;
        }
        by_wire.insert(&message.wire, &message.name);
    }
    for message in schema.messages() {
        // Locks and canonical contract lists name records, enums and ids
        // by `namespace.Name` beside messages: a message may not take one.
        let Some(qualified) = QualifiedName::parse(&message.wire) else {
            continue;
        };
        let ty = schema
            .record(&qualified)
            .map(|r| r.span)
            .or_else(|| schema.enumeration(&qualified).map(|e| e.span))
            .or_else(|| schema.id_type(&qualified).map(|i| i.span));
        if let (Some(there), Some(here)) = (ty, span_of(&message.name)) {
            diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateType,
                    here,
                    format!(
                        "the contract name on the wire of `{}` is the name of the type `{qualified}`",
                        message.name
                    ),
                )
                .with_label("a type's name")
                .with_secondary(there, "that type")
                .with_help("choose a wire name that is no type's name"),
            );
        }
    }
    for message in schema.messages() {
        let Some(other) = QualifiedName::parse(&message.wire).and_then(|q| schema.message(&q)) else {
            continue;
        };
        if other.name == message.name || other.wire == message.wire {
            continue;
        }
        if let (Some(here), Some(there)) = (span_of(&message.name), span_of(&other.name)) {
            diagnostics.push(
                Diagnostic::error(
                    Code::DuplicateType,
                    here,
                    format!(
                        "the contract name on the wire of `{}` is the name of another message, `{}`",
                        message.name, other.name
                    ),
                )
                .with_label("another message's name")
                .with_secondary(there, "that message")
                .with_help("choose a wire name that is no other message's name, or rename that message"),
            );
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_rules() {
        assert!(problem("Lokad.Shop.OrderPlaced").is_none());
        assert!(problem("OrderId").is_none());
        assert!(problem("größe").is_none());
        assert!(problem(&"a".repeat(MAX_WIRE_NAME)).is_none());
        assert!(problem("").is_some());
        assert!(problem(&"a".repeat(MAX_WIRE_NAME + 1)).is_some());
        assert!(problem("Order Id").is_some());
        assert!(problem("Order\tId").is_some());
        assert!(problem("a\u{200b}b").is_some());
        assert!(problem("a\u{ad}b").is_some());
        assert!(problem("a\u{feff}").is_some());
    }
}
