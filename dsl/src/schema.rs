//! The validated, resolved model of a set of contracts: what the code
//! generator, the canonical schema and the lint work from.
//!
//! Every name is resolved to a [`QualifiedName`], every fragment is
//! expanded, every aggregate identity is prepended, and every default is
//! checked against its type. Order is declaration order within a file and
//! file order (sorted paths) across files, so output is deterministic.

use std::collections::BTreeMap;
use std::fmt;

use crate::ast::MessageKind;
use crate::span::Span;

/// `namespace.Name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QualifiedName {
    /// The dotted namespace, such as `shop.orders`.
    pub namespace: String,
    /// The type's own name.
    pub name: String,
}

impl QualifiedName {
    /// Builds one from its parts.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        QualifiedName {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Splits `a.b.Name` at the last dot; `None` without a dot.
    pub fn parse(dotted: &str) -> Option<Self> {
        let (namespace, name) = dotted.rsplit_once('.')?;
        (!namespace.is_empty() && !name.is_empty()).then(|| QualifiedName::new(namespace, name))
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// The built-in types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scalar {
    /// `bool`
    Bool,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f64`
    F64,
    /// `String`
    String,
    /// `Bytes`, base64 on the wire.
    Bytes,
    /// `Uuid`, hyphenated on the wire.
    Uuid,
    /// `Timestamp`, RFC 3339 on the wire.
    Timestamp,
    /// `Date`, ISO 8601 on the wire.
    Date,
    /// `Decimal`, a string on the wire.
    Decimal,
}

impl Scalar {
    /// Every scalar, in the order the docs list them.
    pub const ALL: [Scalar; 12] = [
        Scalar::Bool,
        Scalar::I32,
        Scalar::I64,
        Scalar::U32,
        Scalar::U64,
        Scalar::F64,
        Scalar::String,
        Scalar::Bytes,
        Scalar::Uuid,
        Scalar::Timestamp,
        Scalar::Date,
        Scalar::Decimal,
    ];

    /// The name written in contracts.
    pub fn name(self) -> &'static str {
        match self {
            Scalar::Bool => "bool",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::F64 => "f64",
            Scalar::String => "String",
            Scalar::Bytes => "Bytes",
            Scalar::Uuid => "Uuid",
            Scalar::Timestamp => "Timestamp",
            Scalar::Date => "Date",
            Scalar::Decimal => "Decimal",
        }
    }

    /// The scalar written as `name`.
    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether this is one of the integer types.
    pub fn is_integer(self) -> bool {
        matches!(self, Scalar::I32 | Scalar::I64 | Scalar::U32 | Scalar::U64)
    }

    /// The range of an integer type.
    pub fn integer_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Scalar::I32 => (i32::MIN.into(), i32::MAX.into()),
            Scalar::I64 => (i64::MIN.into(), i64::MAX.into()),
            Scalar::U32 => (0, u32::MAX.into()),
            Scalar::U64 => (0, u64::MAX.into()),
            _ => return None,
        })
    }

    /// Whether every value of `self` fits in `to` without loss: the
    /// integer widenings that old data may go through.
    pub fn widens_to(self, to: Scalar) -> bool {
        // One table for the generator's upcasts and the compatibility
        // rules, so a widening the lint accepts is one the code performs.
        treaty_compat::diff::widens(self.name(), to.name())
    }
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// A built-in.
    Scalar(Scalar),
    /// An `id` type.
    Id(QualifiedName),
    /// A `record`.
    Record(QualifiedName),
    /// An `enum`.
    Enum(QualifiedName),
    /// A type mapped to Rust by the build configuration.
    Extern(QualifiedName),
    /// `[T]`
    List(Box<Type>),
    /// `{K: V}`
    Map(Box<Type>, Box<Type>),
    /// `T?`
    Optional(Box<Type>),
}

impl fmt::Display for Type {
    /// Writes the type the way contracts spell it, fully qualified.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(s) => f.write_str(s.name()),
            Type::Id(n) | Type::Record(n) | Type::Enum(n) | Type::Extern(n) => write!(f, "{n}"),
            Type::List(t) => write!(f, "[{t}]"),
            Type::Map(k, v) => write!(f, "{{{k}: {v}}}"),
            Type::Optional(t) => write!(f, "{t}?"),
        }
    }
}

/// A checked default value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string.
    String(String),
    /// An integer that fits the field's type.
    Integer(i128),
    /// A float.
    Float(f64),
    /// A decimal, as written.
    Decimal(String),
    /// `true` or `false`.
    Bool(bool),
    /// `none`, for optional fields.
    None,
    /// `[]`
    EmptyList,
    /// `{}`
    EmptyMap,
    /// A variant of the field's enum, by its name in the contract.
    Variant(String),
}

impl Value {
    /// Whether Rust's `Default` of a field of type `ty` gives this same
    /// value, so generated code can use `#[serde(default)]`. For an
    /// optional field only `none` is: `u32? = 0` defaults to `Some(0)`.
    pub fn is_default_of(&self, ty: &Type) -> bool {
        match ty {
            Type::Optional(_) => *self == Value::None,
            _ => self.is_type_default(),
        }
    }

    /// Whether Rust's `Default` of the value's own type gives this value.
    pub fn is_type_default(&self) -> bool {
        match self {
            Value::String(s) => s.is_empty(),
            Value::Integer(i) => *i == 0,
            Value::Float(x) => *x == 0.0 && x.is_sign_positive(),
            // `0.00` keeps its scale on the wire ("0.00"), `Decimal::default()` does not.
            Value::Decimal(d) => d.trim_start_matches('-').chars().all(|c| c == '0'),
            Value::Bool(b) => !b,
            Value::None | Value::EmptyList | Value::EmptyMap => true,
            Value::Variant(_) => false,
        }
    }
}

/// One field of a record or message.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The name written in the contract, which the Rust field is named
    /// after (in snake case) and display templates refer to.
    pub name: String,
    /// The name on the wire: the `wire "..."` of the field, else `name`.
    /// Canonical schemas, fingerprints, serde and upcasts use this one.
    pub wire: String,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The type.
    pub ty: Type,
    /// The default applied when the field is missing on the wire.
    pub default: Option<Value>,
    /// Where the field was written (inside a fragment, for fragment fields).
    pub span: Span,
}

/// The fields of one version of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The version number.
    pub version: u32,
    /// The fields, aggregate identity first.
    pub fields: Vec<Field>,
    /// Where this version was written.
    pub span: Span,
}

/// Part of a display template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// `{field}`: the field's name in the contract.
    Field(String),
}

/// A command or event.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `namespace.Name`.
    pub name: QualifiedName,
    /// The contract name on the wire (in envelopes, store rows, canonical
    /// schemas and locks): the `wire "..."` of the message, else
    /// `namespace.Name`.
    pub wire: String,
    /// Command or event.
    pub kind: MessageKind,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The current version.
    pub current: Shape,
    /// Earlier versions, newest first.
    pub history: Vec<Shape>,
    /// The display template.
    pub display: Option<Vec<Segment>>,
    /// The aggregate the message belongs to.
    pub aggregate: Option<QualifiedName>,
    /// The declaration.
    pub span: Span,
}

/// A value type.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// `namespace.Name`.
    pub name: QualifiedName,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The fields.
    pub fields: Vec<Field>,
    /// The display template.
    pub display: Option<Vec<Segment>>,
    /// The declaration's name.
    pub span: Span,
}

/// One variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumVariant {
    /// The name on the wire, as written.
    pub name: String,
    /// Documentation lines.
    pub docs: Vec<String>,
}

/// A closed set of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    /// `namespace.Name`.
    pub name: QualifiedName,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The variants in declaration order.
    pub variants: Vec<EnumVariant>,
    /// The declaration's name.
    pub span: Span,
}

/// An identity newtype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdType {
    /// `namespace.Name`.
    pub name: QualifiedName,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// What it wraps: `Uuid`, `String`, `u64` or `i64`.
    pub inner: Scalar,
    /// The declaration's name.
    pub span: Span,
}

/// An aggregate and its messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// `namespace.Name`.
    pub name: QualifiedName,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The identity field every message starts with.
    pub identity: Field,
    /// Its commands, in declaration order.
    pub commands: Vec<QualifiedName>,
    /// Its events, in declaration order.
    pub events: Vec<QualifiedName>,
    /// The declaration's name.
    pub span: Span,
}

/// Everything declared in one namespace, over all its files.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Namespace {
    /// The dotted name.
    pub name: String,
    /// `//!` documentation of its files.
    pub docs: Vec<String>,
    /// Identity types.
    pub ids: Vec<IdType>,
    /// Enums.
    pub enums: Vec<Enum>,
    /// Records.
    pub records: Vec<Record>,
    /// Aggregates.
    pub aggregates: Vec<Aggregate>,
    /// Commands and events, of aggregates or not.
    pub messages: Vec<Message>,
}

/// A validated set of contracts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// The namespaces by name.
    pub namespaces: BTreeMap<String, Namespace>,
}

impl Schema {
    /// The record called `name`.
    pub fn record(&self, name: &QualifiedName) -> Option<&Record> {
        self.namespaces
            .get(&name.namespace)?
            .records
            .iter()
            .find(|r| r.name == *name)
    }

    /// The enum called `name`.
    pub fn enumeration(&self, name: &QualifiedName) -> Option<&Enum> {
        self.namespaces
            .get(&name.namespace)?
            .enums
            .iter()
            .find(|e| e.name == *name)
    }

    /// The id type called `name`.
    pub fn id_type(&self, name: &QualifiedName) -> Option<&IdType> {
        self.namespaces
            .get(&name.namespace)?
            .ids
            .iter()
            .find(|i| i.name == *name)
    }

    /// The message called `name`.
    pub fn message(&self, name: &QualifiedName) -> Option<&Message> {
        self.namespaces
            .get(&name.namespace)?
            .messages
            .iter()
            .find(|m| m.name == *name)
    }

    /// The message whose contract name on the wire is `wire`.
    pub fn message_by_wire(&self, wire: &str) -> Option<&Message> {
        self.messages().find(|m| m.wire == wire)
    }

    /// Every message of every namespace, namespaces in name order.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.namespaces.values().flat_map(|n| n.messages.iter())
    }
}
