//! Renders a corpus namespace as the equivalent proto3 file: a message per
//! record, id, message and earlier message version, an enum per enum, and
//! per aggregate a command and an event envelope (a `oneof`), which is what
//! Treaty's aggregate enums are in Protocol Buffers.
//!
//! Where proto3 has no direct counterpart the nearest idiomatic form is
//! used: ids are one-field wrapper messages (but their scalar as map keys,
//! which cannot be messages), `Timestamp` is `google.protobuf.Timestamp`,
//! and `Uuid`, `Date` and `Decimal` are strings. Defaults and display
//! templates have no counterpart and are left out.

use std::fmt::Write;

use super::corpus::{Aggregate, Base, EnumDecl, Field, FieldType, Key, Message, Namespace, Scalar, TypeRef};

/// The file name of a namespace's proto file.
pub fn file_name(namespace: &Namespace) -> String {
    format!("{}.proto", namespace.name)
}

/// The proto file of one namespace.
pub fn render(namespace: &Namespace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// Messages of `{}`.", namespace.name);
    let _ = writeln!(out, "syntax = \"proto3\";\n\npackage {};\n", namespace.name);
    for import in imports(namespace) {
        let _ = writeln!(out, "import \"{import}\";");
    }
    out.push('\n');
    for id in &namespace.ids {
        let _ = writeln!(out, "// Identifies one `{}`.", id.name.trim_end_matches("Id"));
        let _ = writeln!(out, "message {} {{\n  {} value = 1;\n}}\n", id.name, scalar(id.inner));
    }
    for e in &namespace.enums {
        enumeration(&mut out, e);
    }
    for record in &namespace.records {
        let _ = writeln!(out, "// A value that `{}` messages carry.", namespace.name);
        message_body(&mut out, &record.name, None, &record.fields, namespace);
    }
    for aggregate in &namespace.aggregates {
        self::aggregate(&mut out, aggregate, namespace);
    }
    out
}

/// The files a namespace imports: those of the namespaces it borrows
/// types from, and the well-known `Timestamp` when a field uses it.
fn imports(namespace: &Namespace) -> Vec<String> {
    let mut files: Vec<String> = namespace
        .foreign_types()
        .into_iter()
        .map(|t| format!("{}.proto", t.namespace))
        .collect();
    files.dedup();
    let timestamp = namespace.fields().any(|f| match &f.ty {
        FieldType::Single(b) | FieldType::Optional(b) | FieldType::List(b) | FieldType::Map(_, b) => {
            *b == Base::Scalar(Scalar::Timestamp)
        }
    });
    if timestamp {
        files.push("google/protobuf/timestamp.proto".into());
    }
    files
}

fn enumeration(out: &mut String, e: &EnumDecl) {
    let prefix = upper_snake(&e.name);
    let _ = writeln!(out, "// The possible values of `{}`.", e.name);
    let _ = writeln!(out, "enum {} {{", e.name);
    for (number, variant) in e.variants.iter().enumerate() {
        let _ = writeln!(out, "  {prefix}_{} = {number};", upper_snake(variant));
    }
    out.push_str("}\n\n");
}

fn aggregate(out: &mut String, aggregate: &Aggregate, namespace: &Namespace) {
    for m in &aggregate.messages {
        message(out, m, &aggregate.id, namespace);
    }
    let (commands, events): (Vec<&Message>, Vec<&Message>) = aggregate
        .messages
        .iter()
        .partition(|m| m.kind == super::corpus::Kind::Command);
    envelope(out, &format!("{}Command", aggregate.name), "command", &commands);
    envelope(out, &format!("{}Event", aggregate.name), "event", &events);
}

fn message(out: &mut String, m: &Message, id: &str, namespace: &Namespace) {
    let _ = writeln!(out, "// {}", m.doc);
    message_body(out, &m.name, Some(id), &m.fields, namespace);
    if let Some(previous) = &m.previous {
        let _ = writeln!(out, "// Version 1 of `{}`.", m.name);
        message_body(out, &format!("{}V1", m.name), Some(id), previous, namespace);
    }
}

/// A message whose first field is the aggregate's `id`, when it has one.
fn message_body(out: &mut String, name: &str, id: Option<&str>, fields: &[Field], namespace: &Namespace) {
    let _ = writeln!(out, "message {name} {{");
    if let Some(id) = id {
        let _ = writeln!(out, "  {id} id = 1;");
    }
    let first = if id.is_some() { 2 } else { 1 };
    for (number, f) in (first..).zip(fields) {
        let _ = writeln!(out, "  {} = {number};", field(f, namespace));
    }
    out.push_str("}\n\n");
}

fn envelope(out: &mut String, name: &str, oneof: &str, members: &[&Message]) {
    let _ = writeln!(out, "// Every {oneof} of the aggregate.");
    let _ = writeln!(out, "message {name} {{\n  oneof {oneof} {{");
    for (number, m) in (1..).zip(members) {
        let _ = writeln!(out, "    {} {} = {number};", m.name, snake(&m.name));
    }
    out.push_str("  }\n}\n\n");
}

/// A field declaration without its number. Optional scalars and enums are
/// `optional`; message types are optional in proto3 already.
fn field(f: &Field, namespace: &Namespace) -> String {
    match &f.ty {
        FieldType::Single(b) => format!("{} {}", base(b, namespace), f.name),
        FieldType::Optional(b) if is_message(b) => format!("{} {}", base(b, namespace), f.name),
        FieldType::Optional(b) => format!("optional {} {}", base(b, namespace), f.name),
        FieldType::List(b) => format!("repeated {} {}", base(b, namespace), f.name),
        FieldType::Map(k, b) => format!("map<{}, {}> {}", key(k), base(b, namespace), f.name),
    }
}

fn is_message(base: &Base) -> bool {
    matches!(base, Base::Id(..) | Base::Record(_) | Base::Scalar(Scalar::Timestamp))
}

fn base(base: &Base, namespace: &Namespace) -> String {
    match base {
        Base::Scalar(s) => scalar(*s).to_string(),
        Base::Id(t, _) | Base::Enum(t) | Base::Record(t) => type_name(t, namespace),
    }
}

/// Local types by their bare name; others fully qualified with a leading
/// dot, which protoc resolves from the root whatever the current package.
fn type_name(t: &TypeRef, namespace: &Namespace) -> String {
    if t.namespace == namespace.name {
        t.name.clone()
    } else {
        format!(".{}.{}", t.namespace, t.name)
    }
}

fn key(key: &Key) -> &'static str {
    match key {
        Key::Scalar(s) | Key::Id(_, s) => scalar(*s),
    }
}

fn scalar(scalar: Scalar) -> &'static str {
    match scalar {
        Scalar::Bool => "bool",
        Scalar::I32 => "int32",
        Scalar::I64 => "int64",
        Scalar::U32 => "uint32",
        Scalar::U64 => "uint64",
        Scalar::F64 => "double",
        Scalar::String | Scalar::Uuid | Scalar::Date | Scalar::Decimal => "string",
        Scalar::Bytes => "bytes",
        Scalar::Timestamp => ".google.protobuf.Timestamp",
    }
}

/// `OrderCreated` to `order_created`.
fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.char_indices() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `TimeWindow` to `TIME_WINDOW`.
fn upper_snake(camel: &str) -> String {
    snake(camel).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_change_case_at_capitals() {
        assert_eq!(snake("OrderCreated"), "order_created");
        assert_eq!(upper_snake("TimeWindow"), "TIME_WINDOW");
    }
}
