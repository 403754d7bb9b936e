//! The contract catalog: every namespace, id, enum, record, aggregate and
//! message version of a set of contracts, with their documentation,
//! defaults and display templates, as plain data that serialises to JSON.
//!
//! `treaty-codegen` builds it from the validated schema and writes it next
//! to the generated Rust (`treaty_catalog.json` in `OUT_DIR`, read with
//! `treaty::include_catalog!()`); `treaty docs` builds it from contract
//! files. Everything else here is a pure function of a catalog:
//!
//! - [`Catalog::check`]: a JSON document against a message's fields,
//!   reporting every bad field with a JSON pointer and the expected type;
//! - [`Catalog::display`]: a message's sentence from its display template;
//! - [`openapi::document`]: the OpenAPI 3.1 description of the HTTP API;
//! - [`html::page`]: the human-readable documentation page;
//! - [`routes`]: the names of the HTTP routes, shared by the server, the
//!   OpenAPI document and the page so they cannot disagree.
//!
//! Nothing here reads or writes files, and nothing depends on the runtime
//! or on an HTTP framework: the server (`treaty-http`) and the CLI share
//! these functions.

mod check;
mod display;
pub mod html;
pub mod openapi;
pub mod routes;
mod use_case;

use serde::{Deserialize, Serialize};

pub use check::FieldError;
pub use use_case::{UseCase, UseCaseMessage, UseCaseOutcome};

/// The catalog format written by this version.
pub const FORMAT: u32 = 1;

/// The file `treaty_codegen::Builder::compile` writes next to the Rust.
pub const FILE_NAME: &str = "treaty_catalog.json";

/// Every contract of a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// The format, [`FORMAT`].
    pub format: u32,
    /// The namespaces, in name order.
    pub namespaces: Vec<Namespace>,
}

/// Everything declared in one namespace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Namespace {
    /// The dotted name, such as `shop.orders`.
    pub name: String,
    /// The `//!` documentation of its files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// Identity types.
    #[serde(default)]
    pub ids: Vec<IdType>,
    /// Enums.
    #[serde(default)]
    pub enums: Vec<Enum>,
    /// Records.
    #[serde(default)]
    pub records: Vec<Record>,
    /// Aggregates.
    #[serde(default)]
    pub aggregates: Vec<Aggregate>,
    /// Commands and events, of aggregates or not, in declaration order.
    #[serde(default)]
    pub messages: Vec<Message>,
}

/// An identity type: a scalar with a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdType {
    /// `namespace.Name`.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// What it wraps: `Uuid`, `String`, `u64` or `i64`.
    pub inner: Scalar,
}

/// A closed set of names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enum {
    /// `namespace.Name`.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// The variants, in declaration order.
    pub variants: Vec<Variant>,
}

/// One variant of an enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    /// The name on the wire.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
}

/// A value type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// `namespace.Name`.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// The fields.
    pub fields: Vec<Field>,
    /// The display template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Template>,
}

/// An aggregate: a consistency boundary whose messages all carry its
/// identity first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// `namespace.Name`.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// The identity field every message of the aggregate starts with.
    pub identity: Field,
    /// Its commands, by full name, in declaration order.
    pub commands: Vec<String>,
    /// Its events, by full name, in declaration order.
    pub events: Vec<String>,
}

/// Command or event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `Name?(...)`: asks for something to happen.
    Command,
    /// `Name!(...)`: something happened.
    Event,
}

/// A command or an event, with every version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The contract name on the wire: `namespace.Name`, unless the
    /// contract declares another with `wire "..."`.
    pub name: String,
    /// Command or event.
    pub kind: Kind,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// The aggregate it belongs to, by full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<String>,
    /// The current version's number.
    pub version: u32,
    /// The current version's fingerprint.
    pub fingerprint: String,
    /// The current version's fields, the aggregate's identity first.
    pub fields: Vec<Field>,
    /// Earlier versions, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Version>,
    /// The display template; it shows the current version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Template>,
}

impl Message {
    /// The name without the namespace: after the last `.`, or `/` for a
    /// contract name on the wire such as Lokad's `Namespace/Name`.
    pub fn short_name(&self) -> &str {
        self.name
            .rsplit_once(['.', '/'])
            .map_or(self.name.as_str(), |(_, name)| name)
    }

    /// The namespace: before the last `.`, or `/`.
    pub fn namespace(&self) -> &str {
        self.name.rsplit_once(['.', '/']).map_or("", |(namespace, _)| namespace)
    }

    /// The fields of version `version`, `None` when there is no such
    /// version.
    pub fn fields_of(&self, version: u32) -> Option<&[Field]> {
        if version == self.version {
            return Some(&self.fields);
        }
        self.history
            .iter()
            .find(|v| v.version == version)
            .map(|v| v.fields.as_slice())
    }
}

/// An earlier version of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    /// The version number.
    pub version: u32,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its fields.
    pub fields: Vec<Field>,
}

/// One field of a record or message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// The name on the wire.
    pub name: String,
    /// Documentation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docs: String,
    /// The type.
    #[serde(rename = "type")]
    pub ty: Type,
    /// The value a reader uses when the field is missing, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

impl Field {
    /// Whether a document may leave the field out: it has a default, or
    /// it is optional (missing reads as `null`).
    pub fn may_be_missing(&self) -> bool {
        self.default.is_some() || matches!(self.ty, Type::Optional { .. })
    }
}

/// A resolved type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Type {
    /// A built-in.
    Scalar {
        /// Which.
        name: Scalar,
    },
    /// An id type, by full name.
    Id {
        /// The id type.
        name: String,
    },
    /// A record, by full name.
    Record {
        /// The record.
        name: String,
    },
    /// An enum, by full name.
    Enum {
        /// The enum.
        name: String,
    },
    /// A type the build maps to a Rust type of its own; any JSON.
    Extern {
        /// The name in the contracts.
        name: String,
    },
    /// `[T]`
    List {
        /// `T`.
        item: Box<Type>,
    },
    /// `{K: V}`
    Map {
        /// `K`.
        key: Box<Type>,
        /// `V`.
        value: Box<Type>,
    },
    /// `T?`
    Optional {
        /// `T`.
        item: Box<Type>,
    },
}

impl std::fmt::Display for Type {
    /// The type as contracts spell it, fully qualified.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Type::Scalar { name } => f.write_str(name.name()),
            Type::Id { name } | Type::Record { name } | Type::Enum { name } | Type::Extern { name } => {
                f.write_str(name)
            }
            Type::List { item } => write!(f, "[{item}]"),
            Type::Map { key, value } => write!(f, "{{{key}: {value}}}"),
            Type::Optional { item } => write!(f, "{item}?"),
        }
    }
}

/// The built-in types, named as contracts write them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scalar {
    /// `bool`
    #[serde(rename = "bool")]
    Bool,
    /// `i32`
    #[serde(rename = "i32")]
    I32,
    /// `i64`
    #[serde(rename = "i64")]
    I64,
    /// `u32`
    #[serde(rename = "u32")]
    U32,
    /// `u64`
    #[serde(rename = "u64")]
    U64,
    /// `f64`
    #[serde(rename = "f64")]
    F64,
    /// `String`
    String,
    /// `Bytes`: base64 on the wire.
    Bytes,
    /// `Uuid`: a hyphenated string on the wire.
    Uuid,
    /// `Timestamp`: RFC 3339 on the wire.
    Timestamp,
    /// `Date`: ISO 8601 on the wire.
    Date,
    /// `Decimal`: a string (or a number, on input) on the wire.
    Decimal,
}

impl Scalar {
    /// The name contracts write.
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

    /// The inclusive range of an integer type.
    pub fn integer_range(self) -> Option<(i128, i128)> {
        Some(match self {
            Scalar::I32 => (i32::MIN.into(), i32::MAX.into()),
            Scalar::I64 => (i64::MIN.into(), i64::MAX.into()),
            Scalar::U32 => (0, u32::MAX.into()),
            Scalar::U64 => (0, u64::MAX.into()),
            _ => return None,
        })
    }
}

/// A display template: literal text and field placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Template(pub Vec<Segment>);

impl Template {
    /// The template as written in contracts, `{field}` for placeholders
    /// and doubled braces for literal ones.
    pub fn source(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Text(text) => out.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Segment::Field(field) => {
                    out.push('{');
                    out.push_str(field);
                    out.push('}');
                }
            }
        }
        out
    }
}

/// Part of a display template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// `{field}`: the field with this wire name.
    Field(String),
}

/// Why a catalog could not be read.
#[derive(Debug)]
pub struct CatalogError(String);

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CatalogError {}

impl Catalog {
    /// Reads a catalog from its JSON.
    ///
    /// # Errors
    ///
    /// When the text is not a catalog, or one of another format.
    pub fn from_json(json: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog =
            serde_json::from_str(json).map_err(|e| CatalogError(format!("not a Treaty catalog: {e}")))?;
        if catalog.format != FORMAT {
            return Err(CatalogError(format!(
                "catalog format {} is not the format {FORMAT} this build reads; rebuild with the same Treaty version",
                catalog.format
            )));
        }
        Ok(catalog)
    }

    /// The catalog as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a catalog always serialises")
    }

    /// Every message of every namespace, namespaces in name order.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.namespaces.iter().flat_map(|n| n.messages.iter())
    }

    /// Every aggregate of every namespace.
    pub fn aggregates(&self) -> impl Iterator<Item = &Aggregate> {
        self.namespaces.iter().flat_map(|n| n.aggregates.iter())
    }

    /// The message called `name` (`namespace.Name`).
    pub fn message(&self, name: &str) -> Option<&Message> {
        self.namespace_of(name)?.messages.iter().find(|m| m.name == name)
    }

    /// The aggregate called `name`.
    pub fn aggregate(&self, name: &str) -> Option<&Aggregate> {
        self.namespace_of(name)?.aggregates.iter().find(|a| a.name == name)
    }

    /// The record called `name`.
    pub fn record(&self, name: &str) -> Option<&Record> {
        self.namespace_of(name)?.records.iter().find(|r| r.name == name)
    }

    /// The enum called `name`.
    pub fn enumeration(&self, name: &str) -> Option<&Enum> {
        self.namespace_of(name)?.enums.iter().find(|e| e.name == name)
    }

    /// The id type called `name`.
    pub fn id_type(&self, name: &str) -> Option<&IdType> {
        self.namespace_of(name)?.ids.iter().find(|i| i.name == name)
    }

    fn namespace_of(&self, name: &str) -> Option<&Namespace> {
        let (namespace, _) = name.rsplit_once('.')?;
        self.namespaces.iter().find(|n| n.name == namespace)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small catalog with every kind of type, written as the generator
    /// writes it.
    pub fn shop() -> Catalog {
        let field = |name: &str, ty: Type| Field {
            name: name.into(),
            docs: String::new(),
            ty,
            default: None,
        };
        let scalar = |name| Type::Scalar { name };
        let id = field(
            "id",
            Type::Id {
                name: "shop.OrderId".into(),
            },
        );
        Catalog {
            format: FORMAT,
            namespaces: vec![Namespace {
                name: "shop".into(),
                docs: "The shop.".into(),
                ids: vec![IdType {
                    name: "shop.OrderId".into(),
                    docs: "Identifies an order.".into(),
                    inner: Scalar::Uuid,
                }],
                enums: vec![Enum {
                    name: "shop.Size".into(),
                    docs: String::new(),
                    variants: vec![
                        Variant {
                            name: "Small".into(),
                            docs: String::new(),
                        },
                        Variant {
                            name: "Large".into(),
                            docs: String::new(),
                        },
                    ],
                }],
                records: vec![Record {
                    name: "shop.Money".into(),
                    docs: String::new(),
                    fields: vec![
                        field("cents", scalar(Scalar::I64)),
                        field("currency", scalar(Scalar::String)),
                    ],
                    display: Some(Template(vec![
                        Segment::Field("cents".into()),
                        Segment::Text(" ".into()),
                        Segment::Field("currency".into()),
                    ])),
                }],
                aggregates: vec![Aggregate {
                    name: "shop.Order".into(),
                    docs: "An order <b>".into(),
                    identity: id.clone(),
                    commands: vec!["shop.PlaceOrder".into()],
                    events: vec!["shop.OrderPlaced".into()],
                }],
                messages: vec![
                    Message {
                        name: "shop.PlaceOrder".into(),
                        kind: Kind::Command,
                        docs: "Places an order.".into(),
                        aggregate: Some("shop.Order".into()),
                        version: 1,
                        fingerprint: "a".repeat(64),
                        fields: vec![
                            id.clone(),
                            field("quantity", scalar(Scalar::U32)),
                            field(
                                "size",
                                Type::Enum {
                                    name: "shop.Size".into(),
                                },
                            ),
                            field(
                                "price",
                                Type::Optional {
                                    item: Box::new(Type::Record {
                                        name: "shop.Money".into(),
                                    }),
                                },
                            ),
                            field(
                                "tags",
                                Type::List {
                                    item: Box::new(scalar(Scalar::String)),
                                },
                            ),
                            field(
                                "stock",
                                Type::Map {
                                    key: Box::new(scalar(Scalar::U64)),
                                    value: Box::new(scalar(Scalar::Bool)),
                                },
                            ),
                            Field {
                                default: Some(serde_json::json!("")),
                                ..field("note", scalar(Scalar::String))
                            },
                            field(
                                "at",
                                Type::Optional {
                                    item: Box::new(scalar(Scalar::Timestamp)),
                                },
                            ),
                        ],
                        history: Vec::new(),
                        display: Some(Template(vec![
                            Segment::Text("place {".into()),
                            Segment::Field("quantity".into()),
                            Segment::Text("} for ".into()),
                            Segment::Field("price".into()),
                        ])),
                    },
                    Message {
                        name: "shop.OrderPlaced".into(),
                        kind: Kind::Event,
                        docs: String::new(),
                        aggregate: Some("shop.Order".into()),
                        version: 2,
                        fingerprint: "b".repeat(64),
                        fields: vec![id.clone(), field("quantity", scalar(Scalar::U64))],
                        history: vec![Version {
                            version: 1,
                            fingerprint: "c".repeat(64),
                            fields: vec![id, field("quantity", scalar(Scalar::U32))],
                        }],
                        display: None,
                    },
                ],
            }],
        }
    }

    #[test]
    fn catalogs_round_trip_through_json_and_refuse_other_formats() {
        let catalog = shop();
        let json = catalog.to_json();
        assert_eq!(Catalog::from_json(&json).unwrap(), catalog);
        assert!(json.contains(r#""kind": "optional""#), "{json}");
        let other = json.replacen(r#""format": 1"#, r#""format": 9"#, 1);
        let error = Catalog::from_json(&other).unwrap_err().to_string();
        assert!(error.contains("format 9"), "{error}");
        assert!(Catalog::from_json("[]").is_err());
    }

    #[test]
    fn lookups_find_items_by_full_name() {
        let catalog = shop();
        assert_eq!(catalog.message("shop.PlaceOrder").unwrap().short_name(), "PlaceOrder");
        assert_eq!(catalog.message("shop.PlaceOrder").unwrap().namespace(), "shop");
        let lokad = Message {
            name: "Sample.Security/AddPassword".into(),
            ..catalog.message("shop.PlaceOrder").unwrap().clone()
        };
        assert_eq!(lokad.short_name(), "AddPassword");
        assert_eq!(lokad.namespace(), "Sample.Security");
        assert!(catalog.message("shop.Nothing").is_none());
        assert!(catalog.message("nodot").is_none());
        assert_eq!(catalog.aggregate("shop.Order").unwrap().identity.name, "id");
        assert!(catalog.record("shop.Money").is_some());
        assert!(catalog.enumeration("shop.Size").is_some());
        assert_eq!(catalog.id_type("shop.OrderId").unwrap().inner, Scalar::Uuid);
        let placed = catalog.message("shop.OrderPlaced").unwrap();
        assert_eq!(placed.fields_of(1).unwrap()[1].ty.to_string(), "u32");
        assert_eq!(placed.fields_of(2).unwrap()[1].ty.to_string(), "u64");
        assert!(placed.fields_of(3).is_none());
    }

    #[test]
    fn templates_print_as_written() {
        let catalog = shop();
        let template = catalog.message("shop.PlaceOrder").unwrap().display.as_ref().unwrap();
        assert_eq!(template.source(), "place {{{quantity}}} for {price}");
    }
}
