//! Questions an editor asks about contract files, answered from their
//! syntax trees: what is declared where, which name stands at an offset,
//! and what a name refers to. Pure functions, for the language server.
//!
//! Names resolve as validation resolves them (docs/language.md,
//! "Imports"): a dotted name is `namespace.Name`; a single name is
//! declared in the file's namespace or imported by one of its `use`s.

use crate::ast::{self, FieldItem, ItemKind, MessageKind, TypeExpr, TypeExprKind};
use crate::schema::QualifiedName;
use crate::span::Span;

/// What a declaration declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationKind {
    /// `const name = ...;`
    Fragment,
    /// `id Name: T;`
    Id,
    /// `record Name(...);`
    Record,
    /// `enum Name { ... }`
    Enum,
    /// `aggregate Name(...) { ... }`
    Aggregate,
    /// `Name?(...)`
    Command,
    /// `Name!(...)`
    Event,
}

impl DeclarationKind {
    /// The keyword-like word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            DeclarationKind::Fragment => "const",
            DeclarationKind::Id => "id",
            DeclarationKind::Record => "record",
            DeclarationKind::Enum => "enum",
            DeclarationKind::Aggregate => "aggregate",
            DeclarationKind::Command => "command",
            DeclarationKind::Event => "event",
        }
    }
}

/// One declaration of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// Its full name.
    pub name: QualifiedName,
    /// What it is.
    pub kind: DeclarationKind,
    /// Its `///` lines.
    pub docs: Vec<String>,
    /// Where its name is written.
    pub span: Span,
}

/// The file's namespace: its first `namespace` declaration.
pub fn namespace(file: &ast::File) -> Option<String> {
    file.items.iter().find_map(|item| match &item.kind {
        ItemKind::Namespace(path) => Some(path.dotted()),
        _ => None,
    })
}

/// Every declaration of the file, messages of aggregates included, in
/// order. Empty without a namespace.
pub fn declarations(file: &ast::File) -> Vec<Declaration> {
    let Some(ns) = namespace(file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |name: &crate::span::Ident, kind, docs: &[String]| {
        out.push(Declaration {
            name: QualifiedName::new(ns.clone(), name.name.clone()),
            kind,
            docs: docs.to_vec(),
            span: name.span,
        })
    };
    let message_kind = |m: &ast::MessageDecl| match m.kind {
        MessageKind::Command => DeclarationKind::Command,
        MessageKind::Event => DeclarationKind::Event,
    };
    for item in &file.items {
        match &item.kind {
            ItemKind::Namespace(_) | ItemKind::Use(_) => {}
            ItemKind::Const(c) => push(&c.name, DeclarationKind::Fragment, &item.docs),
            ItemKind::Id(i) => push(&i.name, DeclarationKind::Id, &item.docs),
            ItemKind::Record(r) => push(&r.name, DeclarationKind::Record, &item.docs),
            ItemKind::Enum(e) => push(&e.name, DeclarationKind::Enum, &item.docs),
            ItemKind::Aggregate(a) => {
                push(&a.name, DeclarationKind::Aggregate, &item.docs);
                for (docs, m) in &a.messages {
                    push(&m.name, message_kind(m), docs);
                }
            }
            ItemKind::Message(m) => push(&m.name, message_kind(m), &item.docs),
        }
    }
    out
}

/// What kind of name a [`Reference`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// A type in a field, an id or a map.
    Type,
    /// A fragment's name in a field list.
    Fragment,
    /// The path of a `use`.
    Use,
    /// The name of a declaration, where it is declared.
    Declaration,
}

/// A name written in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The name as written (dotted for paths).
    pub text: String,
    /// What it is.
    pub kind: ReferenceKind,
    /// Where it is.
    pub span: Span,
}

/// The name at byte `offset` of the file (a cursor just after a name is
/// on it).
pub fn reference_at(file: &ast::File, offset: usize) -> Option<Reference> {
    let mut refs = Vec::new();
    collect_references(file, &mut refs);
    refs.into_iter()
        .find(|r| r.span.start <= offset && offset <= r.span.end)
}

/// Every name written in the file, in order.
pub fn references(file: &ast::File) -> Vec<Reference> {
    let mut refs = Vec::new();
    collect_references(file, &mut refs);
    refs
}

fn collect_references(file: &ast::File, out: &mut Vec<Reference>) {
    let declared = |name: &crate::span::Ident, out: &mut Vec<Reference>| {
        out.push(Reference {
            text: name.name.clone(),
            kind: ReferenceKind::Declaration,
            span: name.span,
        })
    };
    for item in &file.items {
        match &item.kind {
            ItemKind::Namespace(_) => {}
            ItemKind::Use(path) => out.push(Reference {
                text: path.dotted(),
                kind: ReferenceKind::Use,
                span: path.span,
            }),
            ItemKind::Const(c) => {
                declared(&c.name, out);
                for f in &c.fields {
                    type_references(&f.ty, out);
                }
            }
            ItemKind::Id(i) => {
                declared(&i.name, out);
                type_references(&i.inner, out);
            }
            ItemKind::Record(r) => {
                declared(&r.name, out);
                field_references(&r.fields, out);
            }
            ItemKind::Enum(e) => declared(&e.name, out),
            ItemKind::Aggregate(a) => {
                declared(&a.name, out);
                type_references(&a.identity.ty, out);
                for (_, m) in &a.messages {
                    declared(&m.name, out);
                    message_references(m, out);
                }
            }
            ItemKind::Message(m) => {
                declared(&m.name, out);
                message_references(m, out);
            }
        }
    }
}

fn message_references(m: &ast::MessageDecl, out: &mut Vec<Reference>) {
    field_references(&m.fields, out);
    for h in &m.history {
        field_references(&h.fields, out);
    }
}

fn field_references(fields: &[FieldItem], out: &mut Vec<Reference>) {
    for f in fields {
        match f {
            FieldItem::Field(f) => type_references(&f.ty, out),
            FieldItem::Fragment(name) => out.push(Reference {
                text: name.name.clone(),
                kind: ReferenceKind::Fragment,
                span: name.span,
            }),
        }
    }
}

fn type_references(ty: &TypeExpr, out: &mut Vec<Reference>) {
    match &ty.kind {
        TypeExprKind::Named(path) => out.push(Reference {
            text: path.dotted(),
            kind: ReferenceKind::Type,
            span: path.span,
        }),
        TypeExprKind::List(inner) => type_references(inner, out),
        TypeExprKind::Map(key, value) => {
            type_references(key, out);
            type_references(value, out);
        }
    }
}

/// The names a file imports with `use`, short name first.
pub fn imports(file: &ast::File) -> Vec<(String, QualifiedName)> {
    file.items
        .iter()
        .filter_map(|item| match &item.kind {
            ItemKind::Use(path) => QualifiedName::parse(&path.dotted()).map(|q| (q.name.clone(), q)),
            _ => None,
        })
        .collect()
}

/// The full name `reference` in `file` stands for, given which full
/// names are declared; `None` for a built-in or unknown name.
pub fn resolve(
    file: &ast::File,
    reference: &Reference,
    is_declared: impl Fn(&QualifiedName) -> bool,
) -> Option<QualifiedName> {
    let ns = namespace(file)?;
    if reference.kind == ReferenceKind::Declaration {
        return Some(QualifiedName::new(ns, reference.text.clone()));
    }
    if let Some(full) = QualifiedName::parse(&reference.text) {
        return is_declared(&full).then_some(full);
    }
    let own = QualifiedName::new(ns, reference.text.clone());
    if is_declared(&own) {
        return Some(own);
    }
    imports(file)
        .into_iter()
        .find(|(short, full)| *short == reference.text && is_declared(full))
        .map(|(_, full)| full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_file, Sources};

    #[test]
    fn finds_and_resolves_names() {
        let mut sources = Sources::new();
        let text = "namespace a;\nuse b.Money;\nconst f = x: u32;\nPaid!(f, m: Money, n: b.Other, o: [Local]);\nrecord Local();\n";
        let id = sources.add("a.treaty", text);
        let (file, diagnostics) = parse_file(&sources, id);
        assert!(diagnostics.is_empty());
        let at = |needle: &str| text.find(needle).unwrap() + 1;
        let declared = |q: &QualifiedName| ["a.Local", "a.f", "b.Money", "b.Other"].contains(&q.to_string().as_str());
        let resolved = |needle: &str| {
            let r = reference_at(&file, at(needle)).unwrap();
            resolve(&file, &r, declared).map(|q| q.to_string())
        };
        assert_eq!(resolved("Money;").as_deref(), Some("b.Money"));
        assert_eq!(resolved("Money,").as_deref(), Some("b.Money"));
        assert_eq!(resolved("b.Other").as_deref(), Some("b.Other"));
        assert_eq!(resolved("Local]").as_deref(), Some("a.Local"));
        assert_eq!(resolved("f, m").as_deref(), Some("a.f"));
        assert_eq!(resolved("u32").as_deref(), None);
        assert_eq!(reference_at(&file, at("x:")), None);
        let names: Vec<String> = declarations(&file).iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, ["a.f", "a.Paid", "a.Local"]);
    }
}
