//! The packed form of canonical message schemas (`treaty_compat::packed`
//! reads it), written straight from the resolved schema: generated code
//! carries one text per namespace module, and writing it must cost little
//! next to generating the code, so no JSON is built here.
//!
//! The text unpacks to exactly the canonical JSON of [`crate::canonical`]
//! for every message version; `tests/packed.rs` checks that on every
//! contract of the repository.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use treaty_compat::packed::HEADER;

use crate::ast::MessageKind;
use crate::canonical::value_json;
use crate::schema::{Field, Message, QualifiedName, Schema, Type};

/// Writes the packed schemas of one module's messages.
pub struct Packer<'a> {
    schema: &'a Schema,
    /// Named types by name: their index in `types`.
    index: HashMap<QualifiedName, usize>,
    types: Vec<String>,
    messages: Vec<String>,
}

impl<'a> Packer<'a> {
    /// A packer over the types of `schema`.
    pub fn new(schema: &'a Schema) -> Self {
        Packer {
            schema,
            index: HashMap::new(),
            types: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Adds every version of `message`, newest first.
    pub fn add(&mut self, message: &Message) {
        let kind = match message.kind {
            MessageKind::Command => 'c',
            MessageKind::Event => 'e',
        };
        for shape in std::iter::once(&message.current).chain(&message.history) {
            let mut line = String::with_capacity(128);
            line.push(kind);
            push_json_string(&mut line, &message.wire);
            let _ = write!(line, "{}", shape.version);
            self.fields(&shape.fields, &mut line);
            self.messages.push(line);
        }
    }

    /// The packed text, or `None` when no message was added.
    pub fn finish(self) -> Option<String> {
        if self.messages.is_empty() {
            return None;
        }
        let mut out = String::from(HEADER);
        for line in self.types.iter().chain(&self.messages) {
            out.push('\n');
            out.push_str(line);
        }
        out.push('\n');
        Some(out)
    }

    fn fields(&mut self, fields: &[Field], out: &mut String) {
        let mut sorted: Vec<&Field> = fields.iter().collect();
        sorted.sort_by(|a, b| a.wire.cmp(&b.wire));
        out.push('(');
        for (i, field) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if is_plain(&field.wire) {
                out.push_str(&field.wire);
            } else {
                push_json_string(out, &field.wire);
            }
            out.push(':');
            self.ty(&field.ty, out);
            if let Some(default) = &field.default {
                out.push_str("=[");
                push_printable(out, &value_json(default).to_string());
                out.push(']');
            }
        }
        out.push(')');
    }

    fn ty(&mut self, ty: &Type, out: &mut String) {
        match ty {
            Type::Scalar(s) => out.push_str(s.name()),
            Type::List(t) => {
                out.push('[');
                self.ty(t, out);
                out.push(']');
            }
            Type::Map(k, v) => {
                out.push('{');
                self.ty(k, out);
                out.push(':');
                self.ty(v, out);
                out.push('}');
            }
            Type::Optional(t) => {
                self.ty(t, out);
                out.push('?');
            }
            Type::Id(n) | Type::Enum(n) | Type::Record(n) | Type::Extern(n) => {
                let i = match self.index.get(n) {
                    Some(&i) => i,
                    None => self.named(ty, n),
                };
                let _ = write!(out, "@{i}");
            }
        }
    }

    /// Adds the entry of a named type; its index is taken before a
    /// record's fields are written, so a record inside itself refers to it.
    fn named(&mut self, ty: &Type, name: &QualifiedName) -> usize {
        let i = self.types.len();
        self.index.insert(name.clone(), i);
        self.types.push(String::new());
        let mut entry = String::new();
        let schema = self.schema;
        match ty {
            Type::Record(_) => match schema.record(name) {
                Some(record) => {
                    entry.push('R');
                    push_json_string(&mut entry, &name.to_string());
                    self.fields(&record.fields, &mut entry);
                }
                None => {
                    entry.push('U');
                    push_json_string(&mut entry, &name.to_string());
                }
            },
            Type::Enum(_) => {
                let variants: BTreeSet<&str> = schema
                    .enumeration(name)
                    .map(|e| e.variants.iter().map(|v| v.name.as_str()).collect())
                    .unwrap_or_default();
                entry.push('E');
                push_json_string(&mut entry, &name.to_string());
                entry.push('[');
                for (i, v) in variants.into_iter().enumerate() {
                    if i > 0 {
                        entry.push(',');
                    }
                    push_json_string(&mut entry, v);
                }
                entry.push(']');
            }
            Type::Id(_) => {
                entry.push('I');
                push_json_string(&mut entry, &name.to_string());
                if let Some(id) = schema.id_type(name) {
                    entry.push_str(id.inner.name());
                }
            }
            _ => {
                entry.push('X');
                push_json_string(&mut entry, &name.to_string());
            }
        }
        self.types[i] = entry;
        i
    }
}

fn is_printable_ascii(b: u8) -> bool {
    b.is_ascii_graphic() || b == b' '
}

/// Whether a field name can be written without quotes.
fn is_plain(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn push_json_string(out: &mut String, text: &str) {
    // Names are nearly always plain ASCII, which JSON quotes as it is.
    if text.bytes().all(|b| is_printable_ascii(b) && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        push_printable(out, &serde_json::to_string(text).expect("strings always serialize"));
    }
}

/// Writes JSON text as printable ASCII: every other character (which
/// serde_json leaves as it is) as a `\u` escape, as rustc's string
/// literals would escape the invisible ones and clippy wants none raw.
/// They only occur inside JSON strings, where the escape means the same.
fn push_printable(out: &mut String, json: &str) {
    if json.bytes().all(is_printable_ascii) {
        out.push_str(json);
        return;
    }
    for c in json.chars() {
        if !c.is_ascii() || !is_printable_ascii(c as u8) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
}
