//! A typed view of canonical JSON, so the comparison can match on shapes
//! instead of poking at JSON.
//!
//! The lint compares canonical schemas, not syntax trees, because the
//! baseline may be nothing but a lock file. Parsing is lenient: a form
//! this build does not know becomes [`Ty::Unknown`] and is compared by
//! equality, so a newer canonical form degrades to "changed" rather than
//! to a crash or a silent pass.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value as Json;

/// The fields of a message version or record, by wire name.
pub type Fields = BTreeMap<String, FieldTy>;

/// One field: its type and its default, as canonical JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTy {
    /// The type.
    pub ty: Ty,
    /// The explicit default, as the JSON it stands for on the wire.
    pub default: Option<Json>,
}

impl FieldTy {
    /// The value a reader uses when the field is missing: the explicit
    /// default, or `null` for an optional field (which serde fills with
    /// `None`), or nothing: the reader rejects the data.
    pub fn effective_default(&self) -> Option<Json> {
        match (&self.default, &self.ty) {
            (Some(value), _) => Some(value.clone()),
            (None, Ty::Optional(_)) => Some(Json::Null),
            (None, _) => None,
        }
    }
}

/// A type in canonical form.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// A built-in, by the name contracts write (`u32`, `String`).
    Scalar(String),
    /// `[T]`
    List(Box<Ty>),
    /// `{K: V}`
    Map(Box<Ty>, Box<Ty>),
    /// `T?`
    Optional(Box<Ty>),
    /// A type mapped by the build configuration, by name.
    Extern(String),
    /// An id type and the scalar it wraps (`None` if unresolved).
    Id {
        /// `namespace.Name`.
        name: String,
        /// What it wraps on the wire.
        of: Option<String>,
    },
    /// An enum and its variants.
    Enum {
        /// `namespace.Name`.
        name: String,
        /// The wire names of its variants.
        variants: BTreeSet<String>,
    },
    /// A record and its fields (`None` if unresolved).
    Record {
        /// `namespace.Name`.
        name: String,
        /// Its fields, expanded.
        fields: Option<Fields>,
    },
    /// A record inside itself, written by name to stop the recursion.
    RecordRef(String),
    /// A form this build does not know.
    Unknown(Json),
}

impl Ty {
    /// Reads a canonical type.
    pub fn from_json(json: &Json) -> Ty {
        match json {
            Json::String(s) => Ty::Scalar(s.clone()),
            Json::Object(map) => {
                let text = |key: &str| map.get(key).and_then(Json::as_str).map(str::to_string);
                if let Some(t) = map.get("list") {
                    Ty::List(Box::new(Ty::from_json(t)))
                } else if let Some(t) = map.get("optional") {
                    Ty::Optional(Box::new(Ty::from_json(t)))
                } else if let Some(Json::Array(kv)) = map.get("map").filter(|_| map.len() == 1) {
                    match kv.as_slice() {
                        [k, v] => Ty::Map(Box::new(Ty::from_json(k)), Box::new(Ty::from_json(v))),
                        _ => Ty::Unknown(json.clone()),
                    }
                } else if let Some(name) = text("extern") {
                    Ty::Extern(name)
                } else if let Some(name) = text("id") {
                    Ty::Id { name, of: text("of") }
                } else if let Some(name) = text("enum") {
                    let variants = map
                        .get("variants")
                        .and_then(Json::as_array)
                        .map(|vs| vs.iter().filter_map(Json::as_str).map(str::to_string).collect())
                        .unwrap_or_default();
                    Ty::Enum { name, variants }
                } else if let Some(name) = text("record_ref") {
                    Ty::RecordRef(name)
                } else if let Some(name) = text("record") {
                    Ty::Record {
                        name,
                        fields: map.get("fields").map(fields_from_json),
                    }
                } else {
                    Ty::Unknown(json.clone())
                }
            }
            _ => Ty::Unknown(json.clone()),
        }
    }

    /// The same type with every record, enum and id reduced to its name:
    /// what a field list says by itself, without what the types it names
    /// say. Two shapes equal in this form differ only through shared
    /// declarations.
    pub fn collapsed(&self) -> Ty {
        match self {
            Ty::List(t) => Ty::List(Box::new(t.collapsed())),
            Ty::Map(k, v) => Ty::Map(Box::new(k.collapsed()), Box::new(v.collapsed())),
            Ty::Optional(t) => Ty::Optional(Box::new(t.collapsed())),
            Ty::Id { name, .. } => Ty::Id {
                name: name.clone(),
                of: None,
            },
            Ty::Enum { name, .. } => Ty::Enum {
                name: name.clone(),
                variants: BTreeSet::new(),
            },
            Ty::Record { name, .. } | Ty::RecordRef(name) => Ty::RecordRef(name.clone()),
            other => other.clone(),
        }
    }

    /// The scalar this type is on the wire, looking through ids.
    pub fn wire_scalar(&self) -> Option<&str> {
        match self {
            Ty::Scalar(s) => Some(s),
            Ty::Id { of: Some(s), .. } => Some(s),
            _ => None,
        }
    }
}

/// Writes the type as a contract would spell it.
impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Scalar(s) => f.write_str(s),
            Ty::List(t) => write!(f, "[{t}]"),
            Ty::Map(k, v) => write!(f, "{{{k}: {v}}}"),
            Ty::Optional(t) => write!(f, "{t}?"),
            Ty::Extern(n) | Ty::Enum { name: n, .. } | Ty::Record { name: n, .. } | Ty::RecordRef(n) => f.write_str(n),
            Ty::Id { name, of: Some(of) } => write!(f, "{name} ({of})"),
            Ty::Id { name, of: None } => f.write_str(name),
            Ty::Unknown(json) => write!(f, "{json}"),
        }
    }
}

/// Reads a canonical field map.
pub fn fields_from_json(json: &Json) -> Fields {
    let Some(map) = json.as_object() else {
        return Fields::new();
    };
    map.iter()
        .map(|(name, entry)| {
            let ty = entry.get("type").map_or(Ty::Unknown(Json::Null), Ty::from_json);
            (
                name.clone(),
                FieldTy {
                    ty,
                    default: entry.get("default").cloned(),
                },
            )
        })
        .collect()
}

/// The fields of a canonical message schema.
pub fn message_fields(schema: &Json) -> Fields {
    schema.get("fields").map(fields_from_json).unwrap_or_default()
}

/// The collapsed field list of a message version: see [`Ty::collapsed`].
pub fn collapsed(fields: &Fields) -> BTreeMap<&str, (Ty, Option<&Json>)> {
    fields
        .iter()
        .map(|(name, f)| (name.as_str(), (f.ty.collapsed(), f.default.as_ref())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_canonical_form() {
        let cases = [
            (json!("u32"), "u32"),
            (json!({"list": "String"}), "[String]"),
            (json!({"map": ["String", {"optional": "u64"}]}), "{String: u64?}"),
            (json!({"extern": "x.Money"}), "x.Money"),
            (json!({"id": "a.Id", "of": "Uuid"}), "a.Id (Uuid)"),
            (json!({"enum": "a.E", "variants": ["A"]}), "a.E"),
            (json!({"record": "a.R", "fields": {}}), "a.R"),
            (json!({"record_ref": "a.R"}), "a.R"),
            (json!({"something": "new"}), "{\"something\":\"new\"}"),
        ];
        for (json, text) in cases {
            assert_eq!(Ty::from_json(&json).to_string(), text, "{json}");
        }
    }

    #[test]
    fn collapsing_forgets_what_named_types_contain() {
        let a = Ty::from_json(&json!({"record": "a.R", "fields": {"x": {"type": "u32"}}}));
        let b = Ty::from_json(&json!({"record": "a.R", "fields": {"x": {"type": "u64"}}}));
        assert_ne!(a, b);
        assert_eq!(a.collapsed(), b.collapsed());
        let c = Ty::from_json(&json!({"record": "a.S", "fields": {"x": {"type": "u32"}}}));
        assert_ne!(a.collapsed(), c.collapsed());
    }
}
