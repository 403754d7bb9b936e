//! The one compatibility rule book of Treaty: which changes between two
//! canonical schemas of a message break which readers.
//!
//! `treaty lint` (through `treaty-lint`), the event store's registry and
//! `treaty store` ask the same question, "can this code read that
//! data?", and answer it here, so the rule ids, messages, field paths and
//! help are the same wherever it is asked. The crate reads canonical JSON
//! (what `treaty-dsl` writes and generated code carries) and depends on
//! nothing else, so the runtime can use it without the language.
//!
//! ```
//! use serde_json::json;
//! use treaty_compat::{compare, Mode, Rule};
//!
//! let stored = json!({"fields": {"total": {"type": "u32"}}, "kind": "event", "name": "shop.OrderPlaced", "version": 1});
//! let current = json!({"fields": {"total": {"type": "u64"}, "channel": {"type": "String", "default": "web"}},
//!     "kind": "event", "name": "shop.OrderPlaced", "version": 1});
//! assert!(compare(&stored, &current, Mode::Backward).is_empty());
//! let findings = compare(&stored, &current, Mode::Forward);
//! assert_eq!(findings[0].rule, Rule::IntegerWidened);
//! assert_eq!(findings[0].path.to_string(), "total");
//! ```

pub mod diff;
pub mod packed;
pub mod rules;
pub mod shape;

use serde_json::Value as Json;

pub use diff::{Change, Path, Step};
pub use rules::{Category, Mode, Rule, Severity};

/// The fingerprint of a canonical schema written as canonical text (the
/// compact, key-sorted JSON `serde_json` prints for it): the first 16
/// bytes of its SHA-256, in hex. Generated code declares it for every
/// message version, and a receiver recomputes it to trust a schema it
/// was sent.
pub fn fingerprint(canonical_text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(canonical_text.as_bytes());
    digest[..16].iter().fold(String::with_capacity(32), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// Every change from the canonical message schema `old` (what data was
/// written with) to `new` (what code reads it as) that breaks a reader
/// `mode` protects, in the lint's order.
pub fn compare(old: &Json, new: &Json, mode: Mode) -> Vec<Change> {
    let mut changes = Vec::new();
    diff::fields(
        &shape::message_fields(old),
        &shape::message_fields(new),
        &Path::default(),
        &mut changes,
    );
    changes.retain(|change| change.rule.applies_in(mode));
    changes
}

/// The changes of [`compare`] that stop a reader: those of error
/// severity. A warning (a changed default) is the lint's to show; the
/// store's registry and the bus read such data all the same.
pub fn breaking(old: &Json, new: &Json, mode: Mode) -> Vec<Change> {
    let mut changes = compare(old, new, mode);
    changes.retain(|change| change.rule.severity() == Severity::Error);
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(fields: Json) -> Json {
        json!({"fields": fields, "kind": "event", "name": "shop.OrderPlaced", "version": 1})
    }

    /// The case of issue #13: a field added in place with a default is
    /// compatible in every mode; removing a required one is compatible
    /// only for new readers of old data.
    #[test]
    fn the_mode_decides_which_changes_count() {
        let stored = event(json!({"total": {"type": "u64"}, "note": {"type": "String"}}));
        let added = event(json!({
            "total": {"type": "u64"},
            "note": {"type": "String"},
            "channel": {"type": "String", "default": "web"}
        }));
        for mode in Mode::ALL {
            assert_eq!(compare(&stored, &added, mode), Vec::new(), "{mode}");
        }
        let removed = event(json!({"total": {"type": "u64"}}));
        assert_eq!(compare(&stored, &removed, Mode::Backward), Vec::new());
        let findings = compare(&stored, &removed, Mode::Full);
        let ids: Vec<&str> = findings.iter().map(|c| c.rule.id()).collect();
        assert_eq!(ids, ["field-removed"]);
        assert_eq!(
            findings[0].message("event", "shop.OrderPlaced", 1),
            "event `shop.OrderPlaced` v1: required field `note` was removed"
        );
    }

    /// What a reader cannot parse is compared by equality: a change there
    /// is reported, never passed silently.
    #[test]
    fn unknown_forms_are_changes() {
        let old = event(json!({"a": {"type": {"tensor": "f32"}}}));
        let new = event(json!({"a": {"type": {"tensor": "f64"}}}));
        let ids: Vec<&str> = compare(&old, &new, Mode::Backward)
            .iter()
            .map(|c| c.rule.id())
            .collect();
        assert_eq!(ids, ["field-type-changed"]);
        assert_eq!(compare(&old, &old, Mode::Full), Vec::new());
    }
}
