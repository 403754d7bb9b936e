//! Renders a corpus namespace as a `.treaty` file.

use std::fmt::Write;

use super::corpus::{Aggregate, Base, DefaultValue, EnumDecl, Field, FieldType, Key, Kind, Message, Namespace, Scalar};

/// The file name of a namespace's contracts.
pub fn file_name(namespace: &Namespace) -> String {
    format!("{}.treaty", namespace.name)
}

/// The contract file of one namespace.
pub fn render(namespace: &Namespace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "//! Contracts of `{}`.", namespace.name);
    let _ = writeln!(out, "namespace {};\n", namespace.name);
    let foreign = namespace.foreign_types();
    for t in &foreign {
        let _ = writeln!(out, "use {}.{};", t.namespace, t.name);
    }
    if !foreign.is_empty() {
        out.push('\n');
    }
    for id in &namespace.ids {
        let _ = writeln!(out, "/// Identifies one `{}`.", id.name.trim_end_matches("Id"));
        let _ = writeln!(out, "id {}: {};\n", id.name, Scalar::name(id.inner));
    }
    for e in &namespace.enums {
        enumeration(&mut out, e);
    }
    for record in &namespace.records {
        let _ = writeln!(out, "/// A value that `{}` messages carry.", namespace.name);
        let _ = writeln!(out, "record {}({});\n", record.name, fields(&record.fields));
    }
    for aggregate in &namespace.aggregates {
        self::aggregate(&mut out, aggregate);
    }
    out
}

fn enumeration(out: &mut String, e: &EnumDecl) {
    let _ = writeln!(out, "/// The possible values of `{}`.", e.name);
    let _ = writeln!(out, "enum {} {{ {} }}\n", e.name, e.variants.join(", "));
}

fn aggregate(out: &mut String, aggregate: &Aggregate) {
    let _ = writeln!(out, "/// The `{}` aggregate.", aggregate.name);
    let _ = writeln!(out, "aggregate {}(id: {}) {{", aggregate.name, aggregate.id);
    for m in &aggregate.messages {
        message(out, m, &aggregate.name);
    }
    out.push_str("}\n\n");
}

fn message(out: &mut String, m: &Message, aggregate: &str) {
    let kind = match m.kind {
        Kind::Command => '?',
        Kind::Event => '!',
    };
    let version = if m.previous.is_some() { " v2 " } else { "" };
    let _ = writeln!(out, "    /// {}", m.doc);
    let _ = write!(out, "    {}{kind}{version}({})", m.name, fields(&m.fields));
    if m.display {
        let _ = write!(
            out,
            "\n        display \"{} on {} {{id}}\"",
            m.name,
            aggregate.to_lowercase()
        );
    }
    if let Some(previous) = &m.previous {
        let _ = write!(out, "\n        was v1 ({})", fields(previous));
    }
    out.push_str(";\n");
}

fn fields(fields: &[Field]) -> String {
    fields.iter().map(field).collect::<Vec<_>>().join(", ")
}

fn field(field: &Field) -> String {
    let ty = field_type(&field.ty);
    match &field.default {
        None => format!("{}: {ty}", field.name),
        Some(value) => format!("{}: {ty} = {}", field.name, default_value(value)),
    }
}

fn field_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Single(b) => base(b),
        FieldType::Optional(b) => format!("{}?", base(b)),
        FieldType::List(b) => format!("[{}]", base(b)),
        FieldType::Map(k, b) => format!("{{{}: {}}}", key(k), base(b)),
    }
}

/// Foreign types are imported with `use`, so every type is written by its
/// bare name, as people write contracts.
fn base(base: &Base) -> String {
    match base {
        Base::Scalar(s) => Scalar::name(*s).to_string(),
        Base::Id(t, _) | Base::Enum(t) | Base::Record(t) => t.name.clone(),
    }
}

fn key(key: &Key) -> String {
    match key {
        Key::Scalar(s) => Scalar::name(*s).to_string(),
        Key::Id(t, _) => t.name.clone(),
    }
}

fn default_value(value: &DefaultValue) -> &str {
    match value {
        DefaultValue::Zero => "0",
        DefaultValue::EmptyString => "\"\"",
        DefaultValue::False => "false",
        DefaultValue::None => "none",
        DefaultValue::EmptyList => "[]",
        DefaultValue::EmptyMap => "{}",
        DefaultValue::Variant(v) => v,
    }
}
