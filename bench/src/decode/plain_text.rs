//! The decode suite's baseline types and its payloads, both rendered from
//! the corpus description: for every namespace, plain
//! `#[derive(Deserialize)]` structs and enums of the same shape as
//! Treaty's (the same fields, types and serde defaults, nothing else), and
//! for every message the JSON of its current version.

use std::fmt::Write;

use serde_json::{json, Map, Value};

use crate::codegen::corpus::{Base, Corpus, Field, FieldType, Key, Message, Namespace, Scalar, TypeRef};

/// One message of the corpus: the Rust paths of its Treaty type and its
/// baseline type (from the crate roots), its current version and its
/// payload.
pub struct Case {
    pub treaty_path: String,
    pub plain_path: String,
    pub version: u32,
    pub payload: String,
}

/// Every message of the corpus, in corpus order.
pub fn cases(corpus: &Corpus) -> Vec<Case> {
    let mut cases = Vec::new();
    for namespace in &corpus.namespaces {
        for aggregate in &namespace.aggregates {
            for message in &aggregate.messages {
                let module = namespace.name.replace('.', "::");
                cases.push(Case {
                    treaty_path: format!("::treaty_corpus::{module}::{}", message.name),
                    plain_path: format!("crate::plain::{module}::{}", message.name),
                    version: if message.previous.is_some() { 2 } else { 1 },
                    payload: payload(corpus, namespace, &aggregate.id, message).to_string(),
                });
            }
        }
    }
    cases
}

/// The baseline types of every namespace, nested in modules as Treaty nests
/// them.
pub fn render(corpus: &Corpus) -> String {
    let mut out = String::from(
        "//! Plain serde types of the same shape as Treaty's, written by treaty-bench.\n\
         #![allow(dead_code)]\n\n",
    );
    // Namespaces are `shared` and `domain.ctxN`: at most two levels. The
    // contexts of one domain are not next to each other in the corpus
    // (`sales.ctx0`, `billing.ctx0`, …, `sales.ctx1`), and each domain is
    // one module: namespaces are grouped by domain, in order of first
    // appearance.
    let outer = |namespace: &Namespace| namespace.name.split('.').next().unwrap_or_default().to_string();
    let mut domains: Vec<String> = Vec::new();
    for namespace in &corpus.namespaces {
        let domain = outer(namespace);
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    for domain in &domains {
        let _ = writeln!(out, "pub mod {domain} {{");
        for namespace in corpus.namespaces.iter().filter(|n| outer(n) == *domain) {
            let segments: Vec<&str> = namespace.name.split('.').collect();
            match segments.as_slice() {
                [_] => items(&mut out, namespace),
                [_, inner] => {
                    let _ = writeln!(out, "pub mod {inner} {{");
                    items(&mut out, namespace);
                    out.push_str("}\n");
                }
                _ => unreachable!("corpus namespaces have one or two segments"),
            }
        }
        out.push_str("}\n");
    }
    out
}

fn items(out: &mut String, namespace: &Namespace) {
    out.push_str("#[allow(unused_imports)] use ::treaty::{Bytes, Date, Decimal, Timestamp, Uuid};\n");
    out.push_str("#[allow(unused_imports)] use ::std::collections::BTreeMap;\n");
    for id in &namespace.ids {
        let _ = writeln!(
            out,
            "#[derive(::serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)] #[serde(transparent)] \
             pub struct {}(pub {});",
            id.name,
            id.inner.name()
        );
    }
    for e in &namespace.enums {
        // Defaults always name the first variant.
        let variants: Vec<String> = e
            .variants
            .iter()
            .enumerate()
            .map(|(i, v)| if i == 0 { format!("#[default] {v}") } else { v.clone() })
            .collect();
        let _ = writeln!(
            out,
            "#[derive(::serde::Deserialize, Default)] pub enum {} {{ {} }}",
            e.name,
            variants.join(", ")
        );
    }
    for record in &namespace.records {
        structure(out, &record.name, None, &record.fields);
    }
    for aggregate in &namespace.aggregates {
        for message in &aggregate.messages {
            structure(out, &message.name, Some(&aggregate.id), &message.fields);
        }
    }
}

fn structure(out: &mut String, name: &str, id: Option<&str>, fields: &[Field]) {
    let _ = write!(out, "#[derive(::serde::Deserialize)] pub struct {name} {{ ");
    if let Some(id) = id {
        let _ = write!(out, "pub id: {id}, ");
    }
    for field in fields {
        // Treaty gives optional fields and fields with a default
        // `#[serde(default)]` (or a function for other values).
        if field.default.is_some() || matches!(field.ty, FieldType::Optional(_)) {
            out.push_str("#[serde(default)] ");
        }
        let _ = write!(out, "pub {}: {}, ", field.name, rust_type(&field.ty));
    }
    out.push_str("}\n");
}

fn rust_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Single(b) => base(b),
        FieldType::Optional(b) => format!("Option<{}>", base(b)),
        FieldType::List(b) => format!("Vec<{}>", base(b)),
        FieldType::Map(k, b) => format!("BTreeMap<{}, {}>", key(k), base(b)),
    }
}

fn base(base: &Base) -> String {
    match base {
        Base::Scalar(s) => s.name().to_string(),
        Base::Id(t, _) | Base::Enum(t) | Base::Record(t) => path(t),
    }
}

fn key(key: &Key) -> String {
    match key {
        Key::Scalar(s) => s.name().to_string(),
        Key::Id(t, _) => path(t),
    }
}

fn path(t: &TypeRef) -> String {
    format!("crate::plain::{}::{}", t.namespace.replace('.', "::"), t.name)
}

/// The JSON of a message's current version: its aggregate's id, then a
/// value for every field (optional ones present, lists and maps of two).
fn payload(corpus: &Corpus, namespace: &Namespace, id_type: &str, message: &Message) -> Value {
    let mut object = Map::new();
    let id = TypeRef {
        namespace: namespace.name.clone(),
        name: id_type.to_string(),
    };
    object.insert("id".into(), id_value(corpus, &id, 0));
    for field in &message.fields {
        object.insert(field.name.clone(), field_value(corpus, &field.ty));
    }
    Value::Object(object)
}

fn field_value(corpus: &Corpus, ty: &FieldType) -> Value {
    match ty {
        FieldType::Single(b) | FieldType::Optional(b) => base_value(corpus, b, 0),
        FieldType::List(b) => json!([base_value(corpus, b, 0), base_value(corpus, b, 1)]),
        FieldType::Map(k, b) => {
            let mut map = Map::new();
            for i in 0..2 {
                map.insert(key_text(corpus, k, i), base_value(corpus, b, i));
            }
            Value::Object(map)
        }
    }
}

fn base_value(corpus: &Corpus, base: &Base, i: usize) -> Value {
    match base {
        Base::Scalar(s) => scalar_value(*s, i),
        Base::Id(_, inner) => scalar_value(*inner, i),
        Base::Enum(t) => {
            let e = corpus
                .namespaces
                .iter()
                .find(|n| n.name == t.namespace)
                .and_then(|n| n.enums.iter().find(|e| e.name == t.name))
                .expect("the corpus declares every enum it uses");
            Value::String(e.variants[i % e.variants.len()].clone())
        }
        Base::Record(t) => {
            let record = corpus
                .namespaces
                .iter()
                .find(|n| n.name == t.namespace)
                .and_then(|n| n.records.iter().find(|r| r.name == t.name))
                .expect("the corpus declares every record it uses");
            let mut object = Map::new();
            for field in &record.fields {
                object.insert(field.name.clone(), field_value(corpus, &field.ty));
            }
            Value::Object(object)
        }
    }
}

fn id_value(corpus: &Corpus, id: &TypeRef, i: usize) -> Value {
    let inner = corpus
        .namespaces
        .iter()
        .find(|n| n.name == id.namespace)
        .and_then(|n| n.ids.iter().find(|d| d.name == id.name))
        .expect("the corpus declares every id it uses")
        .inner;
    scalar_value(inner, i)
}

fn scalar_value(scalar: Scalar, i: usize) -> Value {
    match scalar {
        Scalar::Bool => json!(i == 0),
        Scalar::I32 => json!(-7 - i as i64),
        Scalar::I64 => json!(1_234_567_890_123_i64 + i as i64),
        Scalar::U32 => json!(42 + i),
        Scalar::U64 => json!(9_876_543_210_u64 + i as u64),
        Scalar::F64 => json!(2.5 + i as f64),
        Scalar::String => json!(format!("a text value {i}")),
        Scalar::Bytes => json!("aGVsbG8gd29ybGQ="),
        Scalar::Uuid => json!(format!("0190a5b2-7c3e-7d4f-8a1b-2c3d4e5f6a7{i}")),
        Scalar::Timestamp => json!(format!("2024-05-06T07:08:0{i}Z")),
        Scalar::Date => json!(format!("2024-05-0{}", i + 1)),
        Scalar::Decimal => json!(format!("123{i}.50")),
    }
}

/// A map key as JSON text: strings as they are, integers and the other
/// scalars as their JSON text without quotes.
fn key_text(corpus: &Corpus, key: &Key, i: usize) -> String {
    let value = match key {
        Key::Scalar(s) => scalar_value(*s, i),
        Key::Id(t, _) => id_value(corpus, t, i),
    };
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
