//! The canonical schema of each contract and its fingerprint.
//!
//! The canonical schema says what a contract means on the wire and nothing
//! else: kind, the contract name on the wire (`namespace.Name` unless the
//! message declares `wire "..."`), version, and each field's wire name
//! (its `wire "..."`, else its name), type and default. A field's or
//! message's name in the contract, and so its Rust name, is not part of
//! it: renaming one while keeping its wire name changes nothing on the
//! wire. Documentation, display templates, field order and
//! formatting are left out, so two files that differ only in those have
//! the same fingerprint. Records, enums and ids used by a field are
//! expanded in place, so a change that arrives through them changes the
//! fingerprint of every message that uses them.
//!
//! The canonical form is JSON with sorted keys (serde_json's map is a
//! `BTreeMap`); the fingerprint is the first 128 bits of its SHA-256, in
//! hex.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::ast::MessageKind;
use crate::schema::*;

/// What kind of contract a canonical entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractKind {
    /// A command.
    Command,
    /// An event.
    Event,
    /// A record.
    Record,
    /// An enum.
    Enum,
    /// An id type.
    Id,
}

impl ContractKind {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractKind::Command => "command",
            ContractKind::Event => "event",
            ContractKind::Record => "record",
            ContractKind::Enum => "enum",
            ContractKind::Id => "id",
        }
    }
}

impl From<MessageKind> for ContractKind {
    fn from(kind: MessageKind) -> Self {
        match kind {
            MessageKind::Command => ContractKind::Command,
            MessageKind::Event => ContractKind::Event,
        }
    }
}

/// One contract at one version, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalContract {
    /// Command, event, record, enum or id.
    pub kind: ContractKind,
    /// `namespace.Name`; for a message, its contract name on the wire.
    pub name: String,
    /// The version (always 1 for records, enums and ids).
    pub version: u32,
    /// The canonical schema.
    pub schema: Json,
    /// The fingerprint of `schema`.
    pub fingerprint: String,
}

/// The fingerprint of a canonical schema.
pub fn fingerprint(schema: &Json) -> String {
    fingerprint_text(&serde_json::to_string(schema).expect("JSON values always serialize"))
}

/// Writes canonical schemas as text: exactly the compact, key-sorted JSON
/// that `serde_json` would print for them, without building a JSON tree,
/// and with each record's text computed once. Generating code for ten
/// thousand messages computes tens of thousands of fingerprints, and
/// records are expanded inside every message that uses them, so this is
/// what keeps fingerprinting cheap.
pub struct Canonicalizer<'a> {
    schema: &'a Schema,
    /// The text of records whose expansion needed no `record_ref`, which
    /// is therefore the same wherever they appear.
    records: std::collections::HashMap<QualifiedName, String>,
}

impl<'a> Canonicalizer<'a> {
    /// A canonicalizer for the contracts of `schema`.
    pub fn new(schema: &'a Schema) -> Self {
        Canonicalizer {
            schema,
            records: std::collections::HashMap::new(),
        }
    }

    /// The canonical text of one version of a message.
    pub fn message_text(&mut self, message: &Message, shape: &Shape) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("{\"fields\":");
        self.fields(&shape.fields, &mut Vec::new(), &mut out);
        out.push_str(",\"kind\":");
        push_str_json(&mut out, ContractKind::from(message.kind).as_str());
        out.push_str(",\"name\":");
        push_str_json(&mut out, &message.wire);
        out.push_str(",\"version\":");
        out.push_str(&shape.version.to_string());
        out.push('}');
        out
    }

    /// The version and fingerprint of every version of `message`, newest
    /// first.
    pub fn message_fingerprints(&mut self, message: &Message) -> Vec<(u32, String)> {
        std::iter::once(&message.current)
            .chain(&message.history)
            .map(|shape| (shape.version, fingerprint_text(&self.message_text(message, shape))))
            .collect()
    }

    /// The canonical text of a type, as used inside a field.
    pub fn type_text(&mut self, ty: &Type) -> String {
        let mut out = String::new();
        self.type_into(ty, &mut Vec::new(), &mut out);
        out
    }

    /// Writes the fields object; returns whether a `record_ref` was written.
    fn fields(&mut self, fields: &[Field], visiting: &mut Vec<QualifiedName>, out: &mut String) -> bool {
        let mut sorted: Vec<&Field> = fields.iter().collect();
        sorted.sort_by(|a, b| a.wire.cmp(&b.wire));
        let mut referenced = false;
        out.push('{');
        for (i, field) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_str_json(out, &field.wire);
            out.push_str(":{");
            if let Some(default) = &field.default {
                out.push_str("\"default\":");
                out.push_str(&serde_json::to_string(&value_json(default)).expect("JSON values always serialize"));
                out.push(',');
            }
            out.push_str("\"type\":");
            referenced |= self.type_into(&field.ty, visiting, out);
            out.push('}');
        }
        out.push('}');
        referenced
    }

    /// Writes a type. `visiting` holds the records being expanded, so a
    /// record that contains itself through a list is written as a
    /// reference the second time instead of recursing forever. Returns
    /// whether such a reference was written.
    fn type_into(&mut self, ty: &Type, visiting: &mut Vec<QualifiedName>, out: &mut String) -> bool {
        match ty {
            Type::Scalar(s) => {
                push_str_json(out, s.name());
                false
            }
            Type::List(t) => {
                out.push_str("{\"list\":");
                let r = self.type_into(t, visiting, out);
                out.push('}');
                r
            }
            Type::Map(k, v) => {
                out.push_str("{\"map\":[");
                let r = self.type_into(k, visiting, out);
                out.push(',');
                let r = self.type_into(v, visiting, out) | r;
                out.push_str("]}");
                r
            }
            Type::Optional(t) => {
                out.push_str("{\"optional\":");
                let r = self.type_into(t, visiting, out);
                out.push('}');
                r
            }
            Type::Extern(n) => {
                out.push_str("{\"extern\":");
                push_str_json(out, &n.to_string());
                out.push('}');
                false
            }
            Type::Id(n) => {
                out.push_str("{\"id\":");
                push_str_json(out, &n.to_string());
                if let Some(id) = self.schema.id_type(n) {
                    out.push_str(",\"of\":");
                    push_str_json(out, id.inner.name());
                }
                out.push('}');
                false
            }
            Type::Enum(n) => {
                let variants: BTreeSet<&str> = self
                    .schema
                    .enumeration(n)
                    .map(|e| e.variants.iter().map(|v| v.name.as_str()).collect())
                    .unwrap_or_default();
                out.push_str("{\"enum\":");
                push_str_json(out, &n.to_string());
                out.push_str(",\"variants\":[");
                for (i, v) in variants.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_str_json(out, v);
                }
                out.push_str("]}");
                false
            }
            Type::Record(n) => {
                if visiting.contains(n) {
                    out.push_str("{\"record_ref\":");
                    push_str_json(out, &n.to_string());
                    out.push('}');
                    return true;
                }
                if let Some(text) = self.records.get(n) {
                    out.push_str(text);
                    return false;
                }
                let schema = self.schema;
                let Some(record) = schema.record(n) else {
                    out.push_str("{\"record\":");
                    push_str_json(out, &n.to_string());
                    out.push('}');
                    return false;
                };
                let mut text = String::from("{\"fields\":");
                visiting.push(n.clone());
                let referenced = self.fields(&record.fields, visiting, &mut text);
                visiting.pop();
                text.push_str(",\"record\":");
                push_str_json(&mut text, &n.to_string());
                text.push('}');
                out.push_str(&text);
                if !referenced {
                    self.records.insert(n.clone(), text);
                }
                referenced
            }
        }
    }
}

fn push_str_json(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).expect("strings always serialize"));
}

/// The fingerprint of a canonical text (the rule book's, so that a
/// runtime checking a schema it received computes the same).
fn fingerprint_text(text: &str) -> String {
    treaty_compat::fingerprint(text)
}

fn parse_canonical(text: &str) -> Json {
    serde_json::from_str(text).expect("canonical text is JSON")
}

/// The canonical schema of one version of a message.
pub fn message_schema(schema: &Schema, message: &Message, shape: &Shape) -> Json {
    parse_canonical(&Canonicalizer::new(schema).message_text(message, shape))
}

/// Every version of `message`, newest first, with its fingerprint.
pub fn message_versions(schema: &Schema, message: &Message) -> Vec<CanonicalContract> {
    message_versions_with(&mut Canonicalizer::new(schema), message)
}

fn message_versions_with(canonicalizer: &mut Canonicalizer<'_>, message: &Message) -> Vec<CanonicalContract> {
    std::iter::once(&message.current)
        .chain(&message.history)
        .map(|shape| {
            let text = canonicalizer.message_text(message, shape);
            CanonicalContract {
                kind: message.kind.into(),
                name: message.wire.clone(),
                version: shape.version,
                fingerprint: fingerprint_text(&text),
                schema: parse_canonical(&text),
            }
        })
        .collect()
}

/// Every contract of the schema (every message version, record, enum and
/// id), sorted by name, kind and version.
pub fn contracts(schema: &Schema) -> Vec<CanonicalContract> {
    let mut canonicalizer = Canonicalizer::new(schema);
    let mut out = Vec::new();
    for namespace in schema.namespaces.values() {
        for message in &namespace.messages {
            out.extend(message_versions_with(&mut canonicalizer, message));
        }
        let types = namespace
            .records
            .iter()
            .map(|r| (ContractKind::Record, Type::Record(r.name.clone())))
            .chain(
                namespace
                    .enums
                    .iter()
                    .map(|e| (ContractKind::Enum, Type::Enum(e.name.clone()))),
            )
            .chain(
                namespace
                    .ids
                    .iter()
                    .map(|i| (ContractKind::Id, Type::Id(i.name.clone()))),
            );
        for (kind, ty) in types {
            let text = canonicalizer.type_text(&ty);
            let name = match &ty {
                Type::Record(n) | Type::Enum(n) | Type::Id(n) => n.to_string(),
                _ => unreachable!("only named types are listed"),
            };
            out.push(CanonicalContract {
                kind,
                name,
                version: 1,
                fingerprint: fingerprint_text(&text),
                schema: parse_canonical(&text),
            });
        }
    }
    out.sort_by(|a, b| (&a.name, a.kind, a.version).cmp(&(&b.name, b.kind, b.version)));
    out
}

/// A default as the JSON value it stands for on the wire.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::String(s) | Value::Decimal(s) | Value::Variant(s) => Json::String(s.clone()),
        Value::Integer(i) => match i64::try_from(*i) {
            Ok(i) => json!(i),
            Err(_) => json!(u64::try_from(*i).unwrap_or(u64::MAX)),
        },
        Value::Float(x) => json!(x),
        Value::Bool(b) => json!(b),
        Value::None => Json::Null,
        Value::EmptyList => json!([]),
        Value::EmptyMap => json!({}),
    }
}
