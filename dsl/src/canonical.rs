//! The canonical schema of each contract and its fingerprint.
//!
//! The canonical schema says what a contract means on the wire and nothing
//! else: kind, `namespace.Name`, version, and each field's wire name, type
//! and default. Documentation, display templates, field order and
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
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

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
    /// `namespace.Name`.
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
    let text = serde_json::to_string(schema).expect("JSON values always serialize");
    let digest = Sha256::digest(text.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The canonical schema of one version of a message.
pub fn message_schema(schema: &Schema, message: &Message, shape: &Shape) -> Json {
    json!({
        "kind": ContractKind::from(message.kind).as_str(),
        "name": message.name.to_string(),
        "version": shape.version,
        "fields": fields(schema, &shape.fields, &mut Vec::new()),
    })
}

/// Every version of `message`, newest first, with its fingerprint.
pub fn message_versions(schema: &Schema, message: &Message) -> Vec<CanonicalContract> {
    std::iter::once(&message.current)
        .chain(&message.history)
        .map(|shape| {
            let json = message_schema(schema, message, shape);
            CanonicalContract {
                kind: message.kind.into(),
                name: message.name.to_string(),
                version: shape.version,
                fingerprint: fingerprint(&json),
                schema: json,
            }
        })
        .collect()
}

/// Every contract of the schema (every message version, record, enum and
/// id), sorted by name, kind and version.
pub fn contracts(schema: &Schema) -> Vec<CanonicalContract> {
    let mut out = Vec::new();
    for namespace in schema.namespaces.values() {
        for message in &namespace.messages {
            out.extend(message_versions(schema, message));
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
            let json = type_json(schema, &ty, &mut Vec::new());
            let name = match &ty {
                Type::Record(n) | Type::Enum(n) | Type::Id(n) => n.to_string(),
                _ => unreachable!("only named types are listed"),
            };
            out.push(CanonicalContract {
                kind,
                name,
                version: 1,
                fingerprint: fingerprint(&json),
                schema: json,
            });
        }
    }
    out.sort_by(|a, b| (&a.name, a.kind, a.version).cmp(&(&b.name, b.kind, b.version)));
    out
}

fn fields(schema: &Schema, fields: &[Field], visiting: &mut Vec<QualifiedName>) -> Json {
    let mut map = Map::new();
    for field in fields {
        let mut entry = Map::new();
        entry.insert("type".into(), type_json(schema, &field.ty, visiting));
        if let Some(default) = &field.default {
            entry.insert("default".into(), value_json(default));
        }
        map.insert(field.name.clone(), Json::Object(entry));
    }
    Json::Object(map)
}

/// The canonical form of a type. `visiting` holds the records being
/// expanded, so a record that contains itself through a list is written
/// as a reference the second time instead of recursing forever.
fn type_json(schema: &Schema, ty: &Type, visiting: &mut Vec<QualifiedName>) -> Json {
    match ty {
        Type::Scalar(s) => Json::String(s.name().to_string()),
        Type::List(t) => json!({ "list": type_json(schema, t, visiting) }),
        Type::Map(k, v) => json!({ "map": [type_json(schema, k, visiting), type_json(schema, v, visiting)] }),
        Type::Optional(t) => json!({ "optional": type_json(schema, t, visiting) }),
        Type::Extern(n) => json!({ "extern": n.to_string() }),
        Type::Id(n) => match schema.id_type(n) {
            Some(id) => json!({ "id": n.to_string(), "of": id.inner.name() }),
            None => json!({ "id": n.to_string() }),
        },
        Type::Enum(n) => {
            let variants: BTreeSet<&str> = schema
                .enumeration(n)
                .map(|e| e.variants.iter().map(|v| v.name.as_str()).collect())
                .unwrap_or_default();
            json!({ "enum": n.to_string(), "variants": variants })
        }
        Type::Record(n) => {
            if visiting.contains(n) {
                return json!({ "record_ref": n.to_string() });
            }
            let Some(record) = schema.record(n) else {
                return json!({ "record": n.to_string() });
            };
            visiting.push(n.clone());
            let fields = fields(schema, &record.fields, visiting);
            visiting.pop();
            json!({ "record": n.to_string(), "fields": fields })
        }
    }
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
