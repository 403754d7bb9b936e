//! Structural comparison of two canonical field lists.
//!
//! The comparison lists every change between an old and a new shape as a
//! [`Change`] tagged with the [`Rule`] it falls under; whether the change
//! breaks anything is the rule's business, so the same list serves every
//! mode. Changes that are safe in every mode (a field added with a
//! default, a record renamed without changing its fields, an id used in
//! place of the scalar it wraps) produce no change at all.

use std::fmt;

use serde_json::Value as Json;

use crate::rules::Rule;
use crate::shape::{FieldTy, Fields, Ty};

/// One step from a message down to the place a change is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// A field, by wire name.
    Field(String),
    /// The elements of a list.
    Element,
    /// The keys of a map.
    Key,
    /// The values of a map.
    Value,
}

/// Where a change is, such as `total.cents` or `lines{value}[]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(pub Vec<Step>);

impl Path {
    fn then(&self, step: Step) -> Path {
        let mut steps = self.0.clone();
        steps.push(step);
        Path(steps)
    }

    fn field(&self, name: &str) -> Path {
        self.then(Step::Field(name.to_string()))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Field(name) if i == 0 => f.write_str(name)?,
                Step::Field(name) => write!(f, ".{name}")?,
                Step::Element => f.write_str("[]")?,
                Step::Key => f.write_str("{key}")?,
                Step::Value => f.write_str("{value}")?,
            }
        }
        Ok(())
    }
}

/// One difference between two shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule the change falls under.
    pub rule: Rule,
    /// Where, in the new shape's terms (a renamed field by its new name).
    pub path: Path,
    /// The old type, value or name, as contracts write it.
    pub old: Option<String>,
    /// The new one.
    pub new: Option<String>,
}

impl Change {
    fn new(rule: Rule, path: Path, old: impl Into<Option<String>>, new: impl Into<Option<String>>) -> Self {
        Change {
            rule,
            path,
            old: old.into(),
            new: new.into(),
        }
    }

    /// The whole message of a change found in version `version` of the
    /// command or event (`noun`) `contract`, as every tool writes it.
    pub fn message(&self, noun: &str, contract: &str, version: u32) -> String {
        format!("{noun} `{contract}` v{version}: {}", self.describe())
    }

    /// A sentence fragment saying what changed, for messages.
    pub fn describe(&self) -> String {
        let path = &self.path;
        let old = self.old.as_deref().unwrap_or("?");
        let new = self.new.as_deref().unwrap_or("?");
        match self.rule {
            Rule::FieldRemoved => format!("required field `{path}` was removed"),
            Rule::FieldRenamed => format!("field `{old}` was renamed to `{path}`"),
            Rule::FieldAddedRequired => {
                format!("required field `{path}` of type `{new}` was added without a default")
            }
            Rule::IntegerWidened => format!("`{path}` was widened from `{old}` to `{new}`"),
            Rule::IntegerNarrowed => format!("`{path}` was narrowed from `{old}` to `{new}`"),
            Rule::OptionalMadeRequired => {
                format!("`{path}` was optional (`{old}`) and is now required (`{new}`)")
            }
            Rule::RequiredMadeOptional => {
                format!("`{path}` was required (`{old}`) and is now optional (`{new}`)")
            }
            Rule::FieldDefaultRemoved => format!("`{path}` lost its default `{old}`"),
            Rule::FieldDefaultChanged => {
                format!("the default of `{path}` changed from `{old}` to `{new}`")
            }
            Rule::EnumVariantRemoved => {
                format!("variant `{old}` was removed from the enum of `{path}`")
            }
            Rule::EnumVariantAdded => format!("variant `{new}` was added to the enum of `{path}`"),
            Rule::IdRepresentationChanged => {
                format!("the id type of `{path}` wrapped `{old}` and now wraps `{new}`")
            }
            _ => format!("the type of `{path}` changed from `{old}` to `{new}`"),
        }
    }
}

/// Every change from `old` to `new`, two field lists at `path`.
pub fn fields(old: &Fields, new: &Fields, path: &Path, out: &mut Vec<Change>) {
    let removed: Vec<&String> = old.keys().filter(|k| !new.contains_key(*k)).collect();
    let added: Vec<&String> = new.keys().filter(|k| !old.contains_key(*k)).collect();

    // A rename looks like a removal plus an addition of the same type.
    // It is only called one when the pairing is unambiguous: the one
    // removed field of that type and the one added field of that type.
    let same_type = |r: &str, a: &str| old[r].ty.collapsed() == new[a].ty.collapsed();
    let mut renamed: Vec<(&str, &str)> = Vec::new();
    for &r in &removed {
        let candidates: Vec<&str> = added.iter().map(|a| a.as_str()).filter(|a| same_type(r, a)).collect();
        if let [a] = candidates.as_slice() {
            let back = removed.iter().filter(|x| same_type(x, a)).count();
            if back == 1 {
                renamed.push((r.as_str(), *a));
            }
        }
    }
    for (from, to) in &renamed {
        out.push(Change::new(
            Rule::FieldRenamed,
            path.field(to),
            from.to_string(),
            to.to_string(),
        ));
    }

    for name in removed
        .iter()
        .filter(|r| !renamed.iter().any(|(from, _)| *from == r.as_str()))
    {
        let field = &old[name.as_str()];
        if field.effective_default().is_none() {
            out.push(Change::new(
                Rule::FieldRemoved,
                path.field(name),
                field.ty.to_string(),
                None,
            ));
        }
    }
    for name in added
        .iter()
        .filter(|a| !renamed.iter().any(|(_, to)| *to == a.as_str()))
    {
        let field = &new[name.as_str()];
        if field.effective_default().is_none() {
            out.push(Change::new(
                Rule::FieldAddedRequired,
                path.field(name),
                None,
                field.ty.to_string(),
            ));
        }
    }
    for (name, o) in old {
        if let Some(n) = new.get(name) {
            field(o, n, &path.field(name), out);
        }
    }
}

/// Every difference between two field lists at the top level, safe or
/// not, as sentence fragments: what a rewritten history entry changed.
pub fn summary(old: &Fields, new: &Fields) -> Vec<String> {
    let mut out = Vec::new();
    for (name, o) in old {
        let Some(n) = new.get(name) else {
            out.push(format!("`{name}: {}` was removed", o.ty));
            continue;
        };
        if o.ty.collapsed() != n.ty.collapsed() {
            out.push(format!("`{name}` changed from `{}` to `{}`", o.ty, n.ty));
        } else if o.ty != n.ty {
            out.push(format!("a type used by `{name}` (`{}`) changed", n.ty));
        }
        if o.default != n.default {
            let show = |d: &Option<Json>| {
                d.as_ref()
                    .map_or("no default".to_string(), |v| format!("`{}`", show(v)))
            };
            out.push(format!(
                "the default of `{name}` changed from {} to {}",
                show(&o.default),
                show(&n.default)
            ));
        }
    }
    for (name, n) in new {
        if !old.contains_key(name) {
            out.push(format!("`{name}: {}` was added", n.ty));
        }
    }
    out
}

fn field(old: &FieldTy, new: &FieldTy, path: &Path, out: &mut Vec<Change>) {
    let before = out.len();
    ty(&old.ty, &new.ty, path, Position::Field, out);
    // A change of optionality already says what happens to missing
    // values; a default change on top of it would say it twice.
    let optionality_changed = out[before..]
        .iter()
        .any(|c| c.path == *path && matches!(c.rule, Rule::OptionalMadeRequired | Rule::RequiredMadeOptional));
    if optionality_changed {
        return;
    }
    match (old.effective_default(), new.effective_default()) {
        (Some(a), None) => out.push(Change::new(Rule::FieldDefaultRemoved, path.clone(), show(&a), None)),
        (Some(a), Some(b)) if a != b => {
            out.push(Change::new(Rule::FieldDefaultChanged, path.clone(), show(&a), show(&b)));
        }
        _ => {}
    }
}

/// A default as contracts write it.
fn show(value: &Json) -> String {
    match value {
        Json::Null => "none".into(),
        other => other.to_string(),
    }
}

/// Where a type stands, which decides the rule for a change of kind.
#[derive(Debug, Clone, Copy)]
enum Position {
    Field,
    Element,
    Key,
    Value,
}

impl Position {
    fn kind_change(self) -> Rule {
        match self {
            Position::Field => Rule::FieldTypeChanged,
            Position::Element => Rule::ListElementChanged,
            Position::Key => Rule::MapKeyChanged,
            Position::Value => Rule::MapValueChanged,
        }
    }
}

fn ty(old: &Ty, new: &Ty, path: &Path, position: Position, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let kind_change = |out: &mut Vec<Change>| {
        out.push(Change::new(
            position.kind_change(),
            path.clone(),
            old.to_string(),
            new.to_string(),
        ));
    };
    match (old, new) {
        (Ty::Optional(a), Ty::Optional(b)) => ty(a, b, path, position, out),
        (Ty::Optional(a), b) => {
            out.push(Change::new(
                Rule::OptionalMadeRequired,
                path.clone(),
                old.to_string(),
                new.to_string(),
            ));
            ty(a, b, path, position, out);
        }
        (a, Ty::Optional(b)) => {
            out.push(Change::new(
                Rule::RequiredMadeOptional,
                path.clone(),
                old.to_string(),
                new.to_string(),
            ));
            ty(a, b, path, position, out);
        }
        (Ty::List(a), Ty::List(b)) => ty(a, b, &path.then(Step::Element), Position::Element, out),
        (Ty::Map(ka, va), Ty::Map(kb, vb)) => {
            ty(ka, kb, &path.then(Step::Key), Position::Key, out);
            ty(va, vb, &path.then(Step::Value), Position::Value, out);
        }
        // Record names are not on the wire: only the fields matter.
        (Ty::Record { fields: Some(a), .. }, Ty::Record { fields: Some(b), .. }) => fields(a, b, path, out),
        (Ty::Record { name: a, .. } | Ty::RecordRef(a), Ty::Record { name: b, .. } | Ty::RecordRef(b)) => {
            // One side stopped expanding (recursion) or could not be
            // resolved: only the names can be compared.
            if a != b {
                kind_change(out);
            }
        }
        (Ty::Enum { variants: a, .. }, Ty::Enum { variants: b, .. }) => {
            for gone in a.difference(b) {
                out.push(Change::new(Rule::EnumVariantRemoved, path.clone(), gone.clone(), None));
            }
            for added in b.difference(a) {
                out.push(Change::new(Rule::EnumVariantAdded, path.clone(), None, added.clone()));
            }
        }
        (Ty::Id { of: Some(a), .. }, Ty::Id { of: Some(b), .. }) => {
            if a != b {
                out.push(Change::new(
                    Rule::IdRepresentationChanged,
                    path.clone(),
                    a.clone(),
                    b.clone(),
                ));
            }
        }
        _ => match (old.wire_scalar(), new.wire_scalar()) {
            // An id in place of the scalar it wraps (or back) is the same
            // on the wire.
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => scalar(a, b, old, new, path, position, out),
            _ => kind_change(out),
        },
    }
}

fn scalar(a: &str, b: &str, old: &Ty, new: &Ty, path: &Path, position: Position, out: &mut Vec<Change>) {
    let rule = if widens(a, b) {
        Rule::IntegerWidened
    } else if widens(b, a) {
        Rule::IntegerNarrowed
    } else {
        position.kind_change()
    };
    out.push(Change::new(rule, path.clone(), old.to_string(), new.to_string()));
}

/// Whether every value of the scalar named `from` fits in the one named
/// `to`: the integer widenings old data may go through, by canonical
/// name. `treaty_dsl::schema::Scalar::widens_to` asks this table, so the
/// generator upcasts exactly the widenings the rules accept.
pub fn widens(from: &str, to: &str) -> bool {
    matches!((from, to), ("i32", "i64") | ("u32", "u64") | ("u32", "i64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::fields_from_json;
    use serde_json::json;

    fn changes(old: Json, new: Json) -> Vec<String> {
        let mut out = Vec::new();
        fields(
            &fields_from_json(&old),
            &fields_from_json(&new),
            &Path::default(),
            &mut out,
        );
        out.iter().map(|c| format!("{} {}", c.rule, c.describe())).collect()
    }

    #[test]
    fn paths_read_like_expressions() {
        let path = Path(vec![
            Step::Field("lines".into()),
            Step::Value,
            Step::Element,
            Step::Field("cents".into()),
        ]);
        assert_eq!(path.to_string(), "lines{value}[].cents");
    }

    /// Each pair of field lists and the changes between them.
    #[test]
    fn finds_each_change() {
        let cases: Vec<(Json, Json, &[&str])> = vec![
            (json!({"a": {"type": "u32"}}), json!({"a": {"type": "u32"}}), &[]),
            (
                json!({"a": {"type": "u32"}}),
                json!({"a": {"type": "u64"}}),
                &["integer-widened `a` was widened from `u32` to `u64`"],
            ),
            (
                json!({"a": {"type": {"optional": "i64"}}}),
                json!({"a": {"type": "i32"}}),
                &[
                    "optional-made-required `a` was optional (`i64?`) and is now required (`i32`)",
                    "integer-narrowed `a` was narrowed from `i64` to `i32`",
                ],
            ),
            (
                json!({"a": {"type": "u32"}, "b": {"type": "String"}}),
                json!({"c": {"type": "u32"}, "b": {"type": "String"}}),
                &["field-renamed field `a` was renamed to `c`"],
            ),
            (
                json!({"a": {"type": "u32", "default": 1}}),
                json!({"a": {"type": "u32", "default": 2}}),
                &["field-default-changed the default of `a` changed from `1` to `2`"],
            ),
            (
                json!({"a": {"type": {"id": "x.A", "of": "Uuid"}}}),
                json!({"a": {"type": "Uuid"}}),
                &[],
            ),
            (
                json!({"m": {"type": {"map": ["String", {"list": "u32"}]}}}),
                json!({"m": {"type": {"map": ["u64", {"list": "String"}]}}}),
                &[
                    "map-key-changed the type of `m{key}` changed from `String` to `u64`",
                    "list-element-changed the type of `m{value}[]` changed from `u32` to `String`",
                ],
            ),
        ];
        for (old, new, expected) in cases {
            assert_eq!(changes(old.clone(), new.clone()), expected, "{old} -> {new}");
        }
    }
}
