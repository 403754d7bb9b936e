//! The syntax tree of one `.treaty` file, exactly as written, with spans.
//!
//! Nothing here is resolved or checked; that is `validate`'s job.

use crate::span::{Ident, Span};

/// One parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// `//!` documentation of the file (and so of its namespace).
    pub docs: Vec<String>,
    /// The items in order.
    pub items: Vec<Item>,
}

/// A top-level declaration with its `///` documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Documentation lines, without the `///`.
    pub docs: Vec<String>,
    /// What it declares.
    pub kind: ItemKind,
    /// The whole item.
    pub span: Span,
}

/// The kinds of top-level declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    /// `namespace a.b;`
    Namespace(Path),
    /// `use a.b.Type;`
    Use(Path),
    /// `const name = field: Type;`
    Const(ConstDecl),
    /// `id Name: Type;`
    Id(IdDecl),
    /// `record Name(fields);`
    Record(RecordDecl),
    /// `enum Name { A, B }`
    Enum(EnumDecl),
    /// `aggregate Name(id: IdType) { messages }`
    Aggregate(AggregateDecl),
    /// A command or event outside any aggregate.
    Message(MessageDecl),
}

/// A dotted name such as `shop.orders` or `shared.Money`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The parts between the dots.
    pub segments: Vec<Ident>,
    /// The whole path.
    pub span: Span,
}

impl Path {
    /// The path as written, dots included.
    pub fn dotted(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        names.join(".")
    }
}

/// `const name = field: Type, ...;`
#[derive(Debug, Clone, PartialEq)]
pub struct ConstDecl {
    /// The fragment's name.
    pub name: Ident,
    /// The fields it expands to.
    pub fields: Vec<FieldDecl>,
}

/// `id Name: Type;`
#[derive(Debug, Clone, PartialEq)]
pub struct IdDecl {
    /// The id type's name.
    pub name: Ident,
    /// What it wraps.
    pub inner: TypeExpr,
}

/// `record Name(fields) display "...";`
#[derive(Debug, Clone, PartialEq)]
pub struct RecordDecl {
    /// The record's name.
    pub name: Ident,
    /// Its fields.
    pub fields: Vec<FieldItem>,
    /// Its display template.
    pub display: Option<Template>,
}

/// `enum Name { A, B }`
#[derive(Debug, Clone, PartialEq)]
pub struct EnumDecl {
    /// The enum's name.
    pub name: Ident,
    /// The variants in order.
    pub variants: Vec<Variant>,
}

/// One enum variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The variant's name.
    pub name: Ident,
}

/// `aggregate Name(id: IdType) { messages }`
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateDecl {
    /// The aggregate's name.
    pub name: Ident,
    /// The identity field prepended to every message.
    pub identity: FieldDecl,
    /// The messages with their documentation.
    pub messages: Vec<(Vec<String>, MessageDecl)>,
}

/// Whether a message is a command (`?`) or an event (`!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    /// `Name?(...)`: a request to do something.
    Command,
    /// `Name!(...)`: something that happened.
    Event,
}

/// A command or event.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDecl {
    /// The message's name.
    pub name: Ident,
    /// Command or event.
    pub kind: MessageKind,
    /// The declared current version; `None` means `v1`.
    pub version: Option<Version>,
    /// `wire "..."`: the contract name on the wire, when it is not
    /// `namespace.Name`.
    pub wire: Option<WireName>,
    /// The current fields.
    pub fields: Vec<FieldItem>,
    /// Earlier shapes, as written (the validator checks their order).
    pub history: Vec<HistoryEntry>,
    /// Display templates; more than one is an error the validator reports.
    pub displays: Vec<Template>,
    /// The whole declaration.
    pub span: Span,
}

/// A version number as written (`v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// The number; `None` when it does not fit in a `u32`.
    pub number: Option<u32>,
    /// Where it was written.
    pub span: Span,
}

/// `was vN (fields)`
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The earlier version.
    pub version: Version,
    /// Its fields.
    pub fields: Vec<FieldItem>,
    /// The whole entry.
    pub span: Span,
}

/// An element of a field list.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldItem {
    /// `name: Type = default`
    Field(FieldDecl),
    /// A `const` fragment's name, expanded in place.
    Fragment(Ident),
}

/// `name: Type = default`
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The field's name in the contract (and, in snake case, in Rust).
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
    /// Its default, if any.
    pub default: Option<DefaultValue>,
    /// `wire "..."`: its name on the wire, when it is not `name` (boxed,
    /// since few fields have one).
    pub wire: Option<Box<WireName>>,
    /// The whole field.
    pub span: Span,
}

/// `wire "Name"`: a name on the wire other than the one the contract uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireName {
    /// The name, escapes resolved.
    pub name: String,
    /// The string literal, quotes included.
    pub span: Span,
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    /// The shape.
    pub kind: TypeExprKind,
    /// Whether it ends in `?`.
    pub optional: bool,
    /// The whole type.
    pub span: Span,
}

/// The shapes a type can have.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// A built-in or declared type, by name.
    Named(Path),
    /// `[T]`
    List(Box<TypeExpr>),
    /// `{K: V}`
    Map(Box<TypeExpr>, Box<TypeExpr>),
}

/// A default value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultValue {
    /// The literal.
    pub kind: DefaultKind,
    /// Where.
    pub span: Span,
}

/// The literals a default can be.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultKind {
    /// `"text"`, escapes resolved.
    String(String),
    /// A number as written, such as `-3` or `1.5`.
    Number(String),
    /// `true` or `false`.
    Bool(bool),
    /// `none`
    None,
    /// `[]`
    EmptyList,
    /// `{}`
    EmptyMap,
    /// An enum variant name.
    Variant(String),
}

/// `display "..."`
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The text between the quotes, as written (escapes not resolved),
    /// so that offsets in it map straight to the file.
    pub raw: String,
    /// Where the raw text starts in the file (after the opening quote).
    pub raw_start: usize,
    /// The whole literal, quotes included.
    pub span: Span,
}
