//! The contract catalog of a validated schema: the data `treaty-catalog`
//! renders as OpenAPI and HTML and the HTTP server checks bodies with.

use treaty_catalog as catalog;
use treaty_dsl::canonical::{value_json, Canonicalizer};
use treaty_dsl::schema::{Field, QualifiedName, Scalar, Segment, Shape, Type};
use treaty_dsl::Schema;

/// The catalog of `schema`: every namespace with its ids, enums, records,
/// aggregates and messages, each message with every version and its
/// fingerprint. A pure function of the schema, so of the contract text.
pub fn catalog(schema: &Schema) -> catalog::Catalog {
    let mut canonical = Canonicalizer::new(schema);
    let namespaces = schema
        .namespaces
        .values()
        .map(|namespace| catalog::Namespace {
            name: namespace.name.clone(),
            docs: docs(&namespace.docs),
            ids: namespace
                .ids
                .iter()
                .map(|id| catalog::IdType {
                    name: id.name.to_string(),
                    docs: docs(&id.docs),
                    inner: scalar(id.inner),
                })
                .collect(),
            enums: namespace
                .enums
                .iter()
                .map(|e| catalog::Enum {
                    name: e.name.to_string(),
                    docs: docs(&e.docs),
                    variants: e
                        .variants
                        .iter()
                        .map(|v| catalog::Variant {
                            name: v.name.clone(),
                            docs: docs(&v.docs),
                        })
                        .collect(),
                })
                .collect(),
            records: namespace
                .records
                .iter()
                .map(|r| catalog::Record {
                    name: r.name.to_string(),
                    docs: docs(&r.docs),
                    fields: fields(&r.fields),
                    display: r.display.as_deref().map(|t| template(t, &r.fields)),
                })
                .collect(),
            aggregates: namespace
                .aggregates
                .iter()
                .map(|a| catalog::Aggregate {
                    name: a.name.to_string(),
                    docs: docs(&a.docs),
                    identity: field(&a.identity),
                    commands: a.commands.iter().map(|c| contract_name(schema, c)).collect(),
                    events: a.events.iter().map(|e| contract_name(schema, e)).collect(),
                })
                .collect(),
            messages: namespace
                .messages
                .iter()
                .map(|m| {
                    let fingerprints = canonical.message_fingerprints(m);
                    let fingerprint = |shape: &Shape| {
                        fingerprints
                            .iter()
                            .find(|(version, _)| *version == shape.version)
                            .map(|(_, f)| f.clone())
                            .unwrap_or_default()
                    };
                    catalog::Message {
                        name: m.wire.clone(),
                        kind: match m.kind {
                            treaty_dsl::ast::MessageKind::Command => catalog::Kind::Command,
                            treaty_dsl::ast::MessageKind::Event => catalog::Kind::Event,
                        },
                        docs: docs(&m.docs),
                        aggregate: m.aggregate.as_ref().map(ToString::to_string),
                        version: m.current.version,
                        fingerprint: fingerprint(&m.current),
                        fields: fields(&m.current.fields),
                        history: m
                            .history
                            .iter()
                            .map(|shape| catalog::Version {
                                version: shape.version,
                                fingerprint: fingerprint(shape),
                                fields: fields(&shape.fields),
                            })
                            .collect(),
                        display: m.display.as_deref().map(|t| template(t, &m.current.fields)),
                    }
                })
                .collect(),
        })
        .collect();
    catalog::Catalog {
        format: catalog::FORMAT,
        namespaces,
    }
}

fn docs(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

fn fields(fields: &[Field]) -> Vec<catalog::Field> {
    fields.iter().map(field).collect()
}

fn field(field: &Field) -> catalog::Field {
    catalog::Field {
        name: field.wire.clone(),
        docs: docs(&field.docs),
        ty: ty(&field.ty),
        default: field.default.as_ref().map(value_json),
    }
}

/// The contract name on the wire of the message `name`, which is what the
/// catalog names messages by (it is what envelopes and `Contract::NAME`
/// carry).
fn contract_name(schema: &Schema, name: &QualifiedName) -> String {
    schema
        .message(name)
        .map_or_else(|| name.to_string(), |m| m.wire.clone())
}

/// A display template, its placeholders naming fields by wire name as the
/// catalog's fields are.
fn template(segments: &[Segment], fields: &[Field]) -> catalog::Template {
    let wire = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map_or_else(|| name.to_string(), |f| f.wire.clone())
    };
    catalog::Template(
        segments
            .iter()
            .map(|s| match s {
                Segment::Text(text) => catalog::Segment::Text(text.clone()),
                Segment::Field(name) => catalog::Segment::Field(wire(name)),
            })
            .collect(),
    )
}

fn ty(ty: &Type) -> catalog::Type {
    match ty {
        Type::Scalar(s) => catalog::Type::Scalar { name: scalar(*s) },
        Type::Id(n) => catalog::Type::Id { name: n.to_string() },
        Type::Record(n) => catalog::Type::Record { name: n.to_string() },
        Type::Enum(n) => catalog::Type::Enum { name: n.to_string() },
        Type::Extern(n) => catalog::Type::Extern { name: n.to_string() },
        Type::List(item) => catalog::Type::List {
            item: Box::new(self::ty(item)),
        },
        Type::Map(key, value) => catalog::Type::Map {
            key: Box::new(self::ty(key)),
            value: Box::new(self::ty(value)),
        },
        Type::Optional(item) => catalog::Type::Optional {
            item: Box::new(self::ty(item)),
        },
    }
}

fn scalar(scalar: Scalar) -> catalog::Scalar {
    match scalar {
        Scalar::Bool => catalog::Scalar::Bool,
        Scalar::I32 => catalog::Scalar::I32,
        Scalar::I64 => catalog::Scalar::I64,
        Scalar::U32 => catalog::Scalar::U32,
        Scalar::U64 => catalog::Scalar::U64,
        Scalar::F64 => catalog::Scalar::F64,
        Scalar::String => catalog::Scalar::String,
        Scalar::Bytes => catalog::Scalar::Bytes,
        Scalar::Uuid => catalog::Scalar::Uuid,
        Scalar::Timestamp => catalog::Scalar::Timestamp,
        Scalar::Date => catalog::Scalar::Date,
        Scalar::Decimal => catalog::Scalar::Decimal,
    }
}

#[cfg(test)]
mod tests {
    use treaty_dsl::Sources;

    use crate::Builder;

    #[test]
    fn the_catalog_holds_every_version_docs_defaults_and_templates() {
        let mut sources = Sources::new();
        sources.add(
            "shop.treaty",
            "//! The shop.\nnamespace shop;\n/// Identifies an order.\nid OrderId: u64;\nenum Size { Small, Large }\n\
             record Money(cents: i64, currency: String) display \"{cents} {currency}\";\n\
             /// An order.\naggregate Order(id: OrderId) {\n  /// Places it.\n  PlaceOrder?(size: Size = Large, price: Money?, tags: [String], stock: {u32: bool})\n    display \"place {size}\";\n\
               OrderPlaced! v2 (size: Size, note: String = \"\") was v1 (size: Size);\n}\n",
        );
        let catalog = Builder::new().catalog(&sources).unwrap();
        let place = catalog.message("shop.PlaceOrder").unwrap();
        assert_eq!(place.docs, "Places it.");
        assert_eq!(place.aggregate.as_deref(), Some("shop.Order"));
        assert_eq!(place.fields[0].name, "id");
        assert_eq!(place.fields[1].default, Some(serde_json::json!("Large")));
        assert_eq!(place.fields[2].ty.to_string(), "shop.Money?");
        assert_eq!(place.fields[4].ty.to_string(), "{u32: bool}");
        assert_eq!(place.display.as_ref().unwrap().source(), "place {size}");
        let placed = catalog.message("shop.OrderPlaced").unwrap();
        assert_eq!(placed.version, 2);
        assert_eq!(placed.history[0].version, 1);
        assert_eq!(placed.fingerprint.len(), 32);
        assert_ne!(placed.fingerprint, placed.history[0].fingerprint);
        assert_eq!(catalog.namespaces[0].docs, "The shop.");
        assert_eq!(
            catalog.aggregate("shop.Order").unwrap().identity.ty.to_string(),
            "shop.OrderId"
        );
        let json = catalog.to_json();
        assert_eq!(treaty_catalog::Catalog::from_json(&json).unwrap(), catalog);
    }

    #[test]
    fn each_generated_file_has_its_catalog_file() {
        assert_eq!(
            crate::catalog_file_name_for(crate::DEFAULT_FILE_NAME),
            "treaty_catalog.json"
        );
        assert_eq!(crate::catalog_file_name_for("billing.rs"), "billing.catalog.json");
    }
}
