//! Schema to Rust tokens: the one code path behind build.rs, the CLI and
//! the `contract!` macro.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote};
use treaty_dsl::ast::MessageKind;
use treaty_dsl::canonical;
use treaty_dsl::naming;
use treaty_dsl::schema::*;

use crate::config::Settings;
use crate::syntax;

/// Generates the items of every namespace, nested as modules; with
/// `only`, just the namespaces it names (the rest of the schema is still
/// used to resolve types and compute fingerprints).
pub(crate) fn schema_tokens(schema: &Schema, settings: &Settings, only: Option<&BTreeSet<String>>) -> TokenStream {
    let roots = root_modules(schema, only);
    let names: Vec<&str> = roots.iter().map(|(name, _)| name.as_str()).collect();
    let items = root_items(schema, settings, only, &names);
    quote! { #(#items)* }
}

/// The top-level modules that generation emits, in output order, each with
/// a measure of its size (its messages and types), so callers can split
/// the work evenly.
pub(crate) fn root_modules(schema: &Schema, only: Option<&BTreeSet<String>>) -> Vec<(String, usize)> {
    let mut roots: BTreeMap<String, usize> = BTreeMap::new();
    for namespace in schema.namespaces.values().filter(|n| wanted(n, only)) {
        let root = namespace.name.split('.').next().unwrap_or_default().to_string();
        let size = 1 + namespace.messages.len() + namespace.records.len() + namespace.enums.len() + namespace.ids.len();
        *roots.entry(root).or_default() += size;
    }
    roots.into_iter().collect()
}

fn wanted(namespace: &Namespace, only: Option<&BTreeSet<String>>) -> bool {
    only.is_none_or(|only| only.contains(&namespace.name))
}

/// Generates the top-level modules named in `roots`, in that order. Each
/// is independent of the others, so they can be generated apart.
pub(crate) fn root_items(
    schema: &Schema,
    settings: &Settings,
    only: Option<&BTreeSet<String>>,
    roots: &[&str],
) -> Vec<syn::Item> {
    let mut tree = ModuleTree::default();
    for namespace in schema.namespaces.values().filter(|n| wanted(n, only)) {
        if !roots.contains(&namespace.name.split('.').next().unwrap_or_default()) {
            continue;
        }
        let mut node = &mut tree;
        for segment in namespace.name.split('.') {
            node = node.children.entry(segment.to_string()).or_default();
        }
        node.namespace = Some(namespace);
    }
    let generator = Generator {
        schema,
        settings,
        canonical: std::cell::RefCell::new(canonical::Canonicalizer::new(schema)),
    };
    tree.children
        .iter()
        .map(|(segment, node)| {
            let mut module = generator.module(segment, node, &[segment.as_str()]);
            // Generated types are public API of the contracts: a binary that
            // uses some of them must not get dead-code warnings for the rest;
            // a large event next to a small one in an aggregate enum is the
            // contract's shape, not something to box; and users often include
            // the code in a module named like the namespace.
            module.attrs.insert(
                0,
                syn::parse_quote! {
                    #[allow(dead_code, missing_docs, clippy::large_enum_variant, clippy::module_inception)]
                },
            );
            syn::Item::Mod(module)
        })
        .collect()
}

#[derive(Default)]
struct ModuleTree<'a> {
    namespace: Option<&'a Namespace>,
    children: BTreeMap<String, ModuleTree<'a>>,
}

struct Generator<'a> {
    schema: &'a Schema,
    settings: &'a Settings,
    /// Fingerprints share expanded record texts across messages.
    canonical: std::cell::RefCell<canonical::Canonicalizer<'a>>,
}

impl Generator<'_> {
    fn module(&self, segment: &str, node: &ModuleTree<'_>, path: &[&str]) -> syn::ItemMod {
        let mut attrs: Vec<syn::Attribute> = Vec::new();
        let mut items: Vec<syn::Item> = Vec::new();
        if let Some(namespace) = node.namespace {
            for mut doc in syntax::doc_attributes(&namespace.docs) {
                doc.style = syn::AttrStyle::Inner(syn::token::Not::default());
                attrs.push(doc);
            }
            // Types are written unqualified (`Uuid`, `BTreeMap<K, V>`) to
            // keep the file small; validation forbids contract types with
            // these names, and a glob import could not clash with one anyway.
            items.push(syn::parse_quote! {
                #[allow(unused_imports)]
                use ::treaty::__prelude::*;
            });
            for id in &namespace.ids {
                items.extend(syntax::items(self.id_type(id)));
            }
            for e in &namespace.enums {
                items.extend(syntax::items(self.enumeration(e)));
            }
            for record in &namespace.records {
                items.extend(self.record(record, path));
            }
            for message in &namespace.messages {
                items.extend(self.message(message, path));
            }
            for aggregate in &namespace.aggregates {
                items.extend(syntax::items(self.aggregate(aggregate, path)));
            }
            let messages = namespace.messages.iter().map(|m| type_ident(&m.name.name));
            items.push(syn::parse_quote! {
                /// Every command and event of this namespace, for checking a
                /// store with `treaty::store::registry::register_contracts`.
                pub const CONTRACTS: &[::treaty::ContractInfo] = &[#(::treaty::ContractInfo::of::<#messages>()),*];
            });
            if let Some(schemas) = self.packed_schemas(namespace) {
                items.push(syn::parse_quote! {
                /// The canonical schema of every version of this namespace's
                /// commands and events, packed (`treaty_compat::packed`); each
                /// `Contract` impl here names it, so the store can compare
                /// what this code reads with what was written.
                pub const SCHEMAS: &str = #schemas;
                });
            }
        }
        for (child_segment, child) in &node.children {
            let mut child_path = path.to_vec();
            child_path.push(child_segment);
            items.push(syn::Item::Mod(self.module(child_segment, child, &child_path)));
        }
        syn::ItemMod {
            attrs,
            vis: syn::Visibility::Public(syn::token::Pub::default()),
            unsafety: None,
            mod_token: syn::token::Mod::default(),
            ident: module_ident(segment),
            content: Some((syn::token::Brace::default(), items)),
            semi: None,
        }
    }

    /// The packed schemas of a namespace's messages, as a raw string
    /// literal (one entry a line, quotes unescaped: the smallest text).
    /// `None` for a namespace without messages.
    fn packed_schemas(&self, namespace: &Namespace) -> Option<Literal> {
        let mut packer = treaty_dsl::packed::Packer::new(self.schema);
        for message in &namespace.messages {
            packer.add(message);
        }
        let text = packer.finish()?;
        // Enough `#`s that no `"` followed by them ends the literal early.
        let mut hashes = String::from("#");
        while text.contains(&format!("\"{hashes}")) {
            hashes.push('#');
        }
        Some(
            format!("r{hashes}\"{text}\"{hashes}")
                .parse()
                .expect("a raw string literal parses"),
        )
    }

    fn type_attributes(&self, name: &QualifiedName) -> TokenStream {
        self.settings.type_attributes(&name.to_string())
    }

    fn id_type(&self, id: &IdType) -> TokenStream {
        let name = type_ident(&id.name.name);
        let docs = doc_attrs(&id.docs);
        let attrs = self.type_attributes(&id.name);
        let inner = scalar_type(id.inner);
        let contract_name = id.name.to_string();
        quote! {
            #docs
            #[::treaty::id(#contract_name)]
            #attrs
            pub struct #name(pub #inner);
        }
    }

    fn enumeration(&self, e: &Enum) -> TokenStream {
        let name = type_ident(&e.name.name);
        let docs = doc_attrs(&e.docs);
        let attrs = self.type_attributes(&e.name);
        let variants = e.variants.iter().map(|v| {
            let ident = variant_ident(&v.name);
            let docs = doc_attrs(&v.docs);
            let rename = (ident != v.name).then(|| {
                let wire = &v.name;
                quote! { #[serde(rename = #wire)] }
            });
            quote! { #docs #rename #ident }
        });
        quote! {
            #docs
            #[::treaty::enumeration]
            #attrs
            pub enum #name { #(#variants,)* }
        }
    }

    fn record(&self, record: &Record, path: &[&str]) -> Vec<syn::Item> {
        let name = type_ident(&record.name.name);
        let mut items = self.shape_struct(
            &record.name,
            &name,
            &record.docs,
            &record.fields,
            path,
            StructRole::Record,
        );
        if let Some(template) = &record.display {
            items.extend(syntax::items(self.display(&name, template, &record.fields)));
        }
        items
    }

    fn message(&self, message: &Message, path: &[&str]) -> Vec<syn::Item> {
        let name = type_ident(&message.name.name);
        let fingerprints = self.canonical.borrow_mut().message_fingerprints(message);
        let contract = contract_attributes(message, &fingerprints);
        let mut out = self.shape_struct(
            &message.name,
            &name,
            &message.docs,
            &message.current.fields,
            path,
            StructRole::Message(contract),
        );
        if let Some(template) = &message.display {
            out.extend(syntax::items(self.display(&name, template, &message.current.fields)));
        }

        // Earlier shapes, and an upcast from each to the next newer one.
        let mut newer: (&Shape, Ident) = (&message.current, name.clone());
        for shape in &message.history {
            let old_name = history_ident(&message.name.name, shape.version);
            let upcast = derive_upcast(shape, newer.0);
            let note = match &upcast {
                Ok(_) => format!(
                    "Version {} of [`{}`], kept so stored data can still be read; it upcasts to \
                     version {} automatically.",
                    shape.version, message.name.name, newer.0.version
                ),
                Err(reason) => format!(
                    "Version {} of [`{}`], kept so stored data can still be read. The upcast to \
                     version {} cannot be derived ({reason}): write `impl From<{old_name}> for {}`.",
                    shape.version, message.name.name, newer.0.version, newer.1
                ),
            };
            let docs = vec![note];
            out.extend(self.shape_struct(
                &message.name,
                &old_name,
                &docs,
                &shape.fields,
                path,
                StructRole::Earlier(shape.version),
            ));
            if let Ok(steps) = upcast {
                out.extend(syntax::items(
                    self.upcast_impl(&old_name, &newer.1, newer.0, &steps, path),
                ));
            }
            newer = (shape, old_name);
        }
        out
    }

    /// A struct for one shape. `version` is set for earlier versions, whose
    /// extra attributes come from `Name.vN` paths.
    fn shape_struct(
        &self,
        contract: &QualifiedName,
        name: &Ident,
        docs_lines: &[String],
        fields: &[Field],
        path: &[&str],
        role: StructRole,
    ) -> Vec<syn::Item> {
        let attr_path = match role {
            StructRole::Earlier(v) => format!("{contract}.v{v}"),
            _ => contract.to_string(),
        };
        let mut attrs = syntax::doc_attributes(docs_lines);
        attrs.push(match role {
            StructRole::Message(args) => syntax::list_attribute(treaty_macro("message"), args),
            StructRole::Earlier(_) => syntax::list_attribute(treaty_macro("earlier"), TokenStream::new()),
            StructRole::Record => syntax::list_attribute(treaty_macro("record"), TokenStream::new()),
        });
        if let syn::Meta::List(list) = &mut attrs.last_mut().expect("just pushed").meta {
            if list.tokens.is_empty() {
                // `#[::treaty::record]`, not `#[::treaty::record()]`.
                let path = list.path.clone();
                attrs.last_mut().expect("just pushed").meta = syn::Meta::Path(path);
            }
        }
        attrs.extend(self.settings.type_attribute_list(&attr_path));
        let mut defaults = Vec::new();
        let fields = fields
            .iter()
            .map(|field| {
                let ident = field_ident(&field.name);
                let ty = self.rust_type(&field.ty, path);
                let mut field_attrs = syntax::doc_attributes(&field.docs);
                let mut serde = Vec::new();
                if ident.to_string().trim_start_matches("r#") != field.wire {
                    let wire = &field.wire;
                    serde.push(quote! { rename = #wire });
                }
                match &field.default {
                    Some(value) if value.is_default_of(&field.ty) => serde.push(quote! { default }),
                    Some(value) => {
                        let function = format_ident!("default_{}", ident.to_string().trim_start_matches("r#"));
                        let path_text = format!("{name}::{function}");
                        let expr = self.value_expr(value, &field.ty, path);
                        defaults.push(quote! { fn #function() -> #ty { #expr } });
                        serde.push(quote! { default = #path_text });
                    }
                    None if matches!(field.ty, Type::Optional(_)) => serde.push(quote! { default }),
                    None => {}
                }
                if !serde.is_empty() {
                    field_attrs.push(syntax::list_attribute(
                        syntax::ident_path("serde"),
                        quote! { #(#serde),* },
                    ));
                }
                if self.settings.has_field_attributes() {
                    field_attrs.extend(
                        self.settings
                            .field_attribute_list(&format!("{attr_path}.{}", field.name)),
                    );
                }
                syntax::public_field(field_attrs, ident, ty)
            })
            .collect();
        let mut items = vec![syntax::public_struct(attrs, name.clone(), fields)];
        if !defaults.is_empty() {
            items.extend(syntax::items(quote! { impl #name { #(#defaults)* } }));
        }
        items
    }

    fn display(&self, name: &Ident, template: &[Segment], fields: &[Field]) -> TokenStream {
        let mut format = String::new();
        let mut args = Vec::new();
        for segment in template {
            match segment {
                Segment::Text(text) => format.push_str(&text.replace('{', "{{").replace('}', "}}")),
                Segment::Field(wire) => {
                    format.push_str("{}");
                    let ident = field_ident(wire);
                    let optional = fields
                        .iter()
                        .find(|f| f.name == *wire)
                        .is_some_and(|f| matches!(f.ty, Type::Optional(_)));
                    args.push(if optional {
                        quote! { ::treaty::DisplayOptional(&self.#ident) }
                    } else {
                        quote! { self.#ident }
                    });
                }
            }
        }
        let body = if args.is_empty() {
            let text = format.replace("{{", "{").replace("}}", "}");
            quote! { f.write_str(#text) }
        } else {
            quote! { ::std::write!(f, #format, #(#args),*) }
        };
        quote! {
            impl ::std::fmt::Display for #name {
                #[inline]
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    #body
                }
            }
        }
    }

    fn upcast_impl(&self, old: &Ident, new: &Ident, new_shape: &Shape, steps: &[Step], path: &[&str]) -> TokenStream {
        let uses_old = steps.iter().any(|s| !matches!(s, Step::Default(_) | Step::None));
        let param = if uses_old {
            quote! { old }
        } else {
            quote! { _old }
        };
        let fields = new_shape.fields.iter().zip(steps).map(|(field, step)| {
            let ident = field_ident(&field.name);
            let source = |wire: &str| {
                let old_ident = field_ident(wire);
                quote! { old.#old_ident }
            };
            let expr = match step {
                Step::Move(wire) => source(wire),
                Step::Widen(wire) => {
                    let s = source(wire);
                    quote! { ::std::convert::From::from(#s) }
                }
                Step::WidenOptional(wire) => {
                    let s = source(wire);
                    quote! { #s.map(::std::convert::From::from) }
                }
                Step::Wrap(wire) => {
                    let s = source(wire);
                    quote! { ::std::option::Option::Some(#s) }
                }
                Step::Default(value) => {
                    if value.is_default_of(&field.ty) {
                        quote! { ::std::default::Default::default() }
                    } else {
                        self.value_expr(value, &field.ty, path)
                    }
                }
                Step::None => quote! { ::std::option::Option::None },
            };
            quote! { #ident: #expr }
        });
        quote! {
            impl ::std::convert::From<#old> for #new {
                #[inline]
                fn from(#param: #old) -> Self {
                    Self { #(#fields,)* }
                }
            }
        }
    }

    fn aggregate(&self, aggregate: &Aggregate, path: &[&str]) -> TokenStream {
        let mut out = TokenStream::new();
        let id_ty = self.rust_type(&aggregate.identity.ty, path);
        let id_field = field_ident(&aggregate.identity.name);
        let sets = [
            ("Command", "command_set", &aggregate.commands),
            ("Event", "event_set", &aggregate.events),
        ];
        for (suffix, set, members) in sets {
            if members.is_empty() {
                continue;
            }
            let name = format_ident!("{}{}", aggregate.name.name, suffix);
            let mut doc_lines = aggregate.docs.clone();
            if !doc_lines.is_empty() {
                doc_lines.push(String::new());
            }
            doc_lines.push(format!(
                "Every {} of the `{}` aggregate.",
                suffix.to_lowercase(),
                aggregate.name.name
            ));
            let docs = doc_attrs(&doc_lines);
            let attrs = self.settings.type_attributes(&format!("{}{suffix}", aggregate.name));
            let variants: Vec<Ident> = members.iter().map(|m| type_ident(&m.name)).collect();
            let all_display = members
                .iter()
                .all(|m| self.schema.message(m).is_some_and(|m| m.display.is_some()));
            let set = format_ident!("{set}");
            let display = all_display.then(|| quote! { , display });
            out.extend(quote! {
                #docs
                #[::treaty::#set(id = #id_ty, field = #id_field #display)]
                #attrs
                pub enum #name { #(#variants(#variants),)* }
            });
        }
        out
    }

    fn rust_type(&self, ty: &Type, path: &[&str]) -> syn::Type {
        match ty {
            Type::Scalar(s) => scalar_type(*s),
            Type::Id(n) | Type::Record(n) | Type::Enum(n) => relative_type(n, path),
            Type::Extern(n) => self.settings.extern_type(&n.to_string()),
            Type::List(inner) => syntax::simple_type("Vec", vec![self.rust_type(inner, path)]),
            Type::Map(k, v) => syntax::simple_type("BTreeMap", vec![self.rust_type(k, path), self.rust_type(v, path)]),
            Type::Optional(inner) => syntax::simple_type("Option", vec![self.rust_type(inner, path)]),
        }
    }

    fn value_expr(&self, value: &Value, ty: &Type, path: &[&str]) -> TokenStream {
        if let Type::Optional(inner) = ty {
            if *value == Value::None {
                return quote! { ::std::option::Option::None };
            }
            let inner = self.value_expr(value, inner, path);
            return quote! { ::std::option::Option::Some(#inner) };
        }
        match (value, ty) {
            (Value::String(s), _) => quote! { ::std::string::String::from(#s) },
            (Value::Bool(b), _) => quote! { #b },
            (Value::Integer(i), Type::Scalar(s)) => integer_literal(*i, *s),
            (Value::Float(x), _) => {
                let lit = Literal::f64_suffixed(*x);
                quote! { #lit }
            }
            (Value::Decimal(text), _) => {
                let (mantissa, scale) = decimal_parts(text);
                let mantissa = Literal::i128_unsuffixed(mantissa);
                quote! { ::treaty::Decimal::from_i128_with_scale(#mantissa, #scale) }
            }
            (Value::Variant(variant), Type::Enum(e)) => {
                let path = relative_type(e, path);
                let variant = variant_ident(variant);
                quote! { #path::#variant }
            }
            _ => quote! { ::std::default::Default::default() },
        }
    }
}

/// What a generated struct is, which decides its extra derives and the
/// path its build-configured attributes are selected by.
enum StructRole {
    /// A record.
    Record,
    /// The current version of a message, with the arguments of its
    /// `#[::treaty::message(...)]`.
    Message(TokenStream),
    /// An earlier version of a message.
    Earlier(u32),
}

/// The arguments of `#[::treaty::message(...)]`: kind and name, version
/// and fingerprint, and each earlier version with its shape.
fn contract_attributes(message: &Message, fingerprints: &[(u32, String)]) -> TokenStream {
    let name = &message.wire;
    let kind = match message.kind {
        MessageKind::Command => quote! { command },
        MessageKind::Event => quote! { event },
    };
    let version = Literal::u32_unsuffixed(message.current.version);
    let fingerprint = &fingerprints[0].1;
    let history = message
        .history
        .iter()
        .zip(&fingerprints[1..])
        .map(|(shape, (_, fingerprint))| {
            let number = Literal::u32_unsuffixed(shape.version);
            let old = history_ident(&message.name.name, shape.version);
            quote! { was(#number, #fingerprint, #old) }
        });
    quote! { #kind = #name, version = #version, fingerprint = #fingerprint #(, #history)* }
}

/// How one field of a newer shape is filled from the older one.
/// The `String`s are the names of fields of the older shape.
enum Step {
    /// Same type: moved.
    Move(String),
    /// A narrower integer: widened.
    Widen(String),
    /// An optional narrower integer: widened inside the option.
    WidenOptional(String),
    /// Was required, is optional: wrapped in `Some`.
    Wrap(String),
    /// New, with a default.
    Default(Value),
    /// New and optional without a default.
    None,
}

/// An upcast the generator cannot derive: the package writes it as
/// `impl From<from> for to`, next to the generated code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcastToWrite {
    /// The message's contract, `namespace.Name`.
    pub contract: String,
    /// The Rust type of the older version, `NameV1`.
    pub from: String,
    /// The Rust type of the next newer version, `NameV2` or `Name`.
    pub to: String,
    /// Why it cannot be derived, e.g. ``field `total` changed type``.
    pub reason: String,
}

/// Every upcast between consecutive versions of `schema`'s messages that
/// the package must write itself, in schema order. The generated code
/// does not compile until each exists; a build script or a tool can list
/// them before rustc does.
pub fn upcasts_to_write(schema: &Schema) -> Vec<UpcastToWrite> {
    let mut out = Vec::new();
    for message in schema.messages() {
        let mut newer = (&message.current, message.name.name.clone());
        for shape in &message.history {
            let old_name = history_ident(&message.name.name, shape.version).to_string();
            if let Err(reason) = derive_upcast(shape, newer.0) {
                out.push(UpcastToWrite {
                    contract: message.name.to_string(),
                    from: old_name.clone(),
                    to: newer.1.clone(),
                    reason,
                });
            }
            newer = (shape, old_name);
        }
    }
    out
}

/// The steps that turn `old` into `new`, or why there are none. Fields are
/// matched by wire name (a field renamed in the contract that keeps its
/// wire name is the same field); fields of `old` missing from `new` are
/// dropped. Each step names the field of `old` it reads.
fn derive_upcast(old: &Shape, new: &Shape) -> Result<Vec<Step>, String> {
    new.fields
        .iter()
        .map(|field| {
            let Some(previous) = old.fields.iter().find(|f| f.wire == field.wire) else {
                return match (&field.default, &field.ty) {
                    (Some(value), _) => Ok(Step::Default(value.clone())),
                    (None, Type::Optional(_)) => Ok(Step::None),
                    (None, _) => Err(format!("field `{}` was added without a default", field.name)),
                };
            };
            let wire = previous.name.clone();
            match (&previous.ty, &field.ty) {
                (a, b) if a == b => Ok(Step::Move(wire)),
                (Type::Scalar(a), Type::Scalar(b)) if a.widens_to(*b) => Ok(Step::Widen(wire)),
                (Type::Optional(a), Type::Optional(b)) => match (a.as_ref(), b.as_ref()) {
                    (Type::Scalar(a), Type::Scalar(b)) if a.widens_to(*b) => Ok(Step::WidenOptional(wire)),
                    _ => Err(format!(
                        "field `{}` changed type from `{}` to `{}`",
                        field.name, previous.ty, field.ty
                    )),
                },
                (a, Type::Optional(b)) if a == b.as_ref() => Ok(Step::Wrap(wire)),
                _ => Err(format!(
                    "field `{}` changed type from `{}` to `{}`",
                    field.name, previous.ty, field.ty
                )),
            }
        })
        .collect()
}

/// The Rust type of a scalar. Scalars are named in Rust as in contracts:
/// primitives, `String`, and the prelude's `Bytes`, `Uuid`, `Timestamp`,
/// `Date` and `Decimal`.
fn scalar_type(scalar: Scalar) -> syn::Type {
    syntax::simple_type(scalar.name(), Vec::new())
}

/// `#[::treaty::name]`'s path.
fn treaty_macro(name: &str) -> syn::Path {
    syn::Path {
        leading_colon: Some(syn::token::PathSep::default()),
        segments: [
            Ident::new("treaty", Span::call_site()),
            Ident::new(name, Span::call_site()),
        ]
        .into_iter()
        .map(syn::PathSegment::from)
        .collect(),
    }
}

fn integer_literal(value: i128, scalar: Scalar) -> TokenStream {
    // The validator checked the range, so the conversions cannot fail; the
    // fallbacks only keep this function total.
    let lit = match scalar {
        Scalar::I32 => Literal::i32_suffixed(i32::try_from(value).unwrap_or_default()),
        Scalar::I64 => Literal::i64_suffixed(i64::try_from(value).unwrap_or_default()),
        Scalar::U32 => Literal::u32_suffixed(u32::try_from(value).unwrap_or_default()),
        Scalar::U64 => Literal::u64_suffixed(u64::try_from(value).unwrap_or_default()),
        Scalar::F64 => Literal::f64_suffixed(value as f64),
        _ => Literal::i128_unsuffixed(value),
    };
    quote! { #lit }
}

/// `"-12.50"` to `(-1250, 2)`.
fn decimal_parts(text: &str) -> (i128, u32) {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits: String = format!("{whole}{fraction}");
    (digits.parse().unwrap_or_default(), fraction.len() as u32)
}

/// The path from the module of `from` to the type `target`.
fn relative_type(target: &QualifiedName, from: &[&str]) -> syn::Type {
    let name = type_ident(&target.name);
    let segments: Vec<&str> = target.namespace.split('.').collect();
    if segments == from {
        return syntax::path_type(vec![syn::PathSegment::from(name)]);
    }
    let path = from
        .iter()
        .map(|_| Ident::new("super", Span::call_site()))
        .chain(segments.iter().map(|s| module_ident(s)))
        .chain(std::iter::once(name))
        .map(syn::PathSegment::from)
        .collect();
    syntax::path_type(path)
}

fn doc_attrs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|line| {
        let text = syntax::doc_line(line);
        quote! { #[doc = #text] }
    });
    quote! { #(#lines)* }
}

fn ident(name: &str) -> Ident {
    if naming::is_keyword(name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

fn type_ident(name: &str) -> Ident {
    ident(name)
}

fn history_ident(name: &str, version: u32) -> Ident {
    format_ident!("{}V{}", name, version)
}

fn field_ident(wire: &str) -> Ident {
    ident(&naming::field_name(wire).unwrap_or_else(|| "field".to_string()))
}

fn variant_ident(wire: &str) -> Ident {
    ident(&naming::variant_name(wire).unwrap_or_else(|| "Variant".to_string()))
}

fn module_ident(segment: &str) -> Ident {
    ident(&naming::module_name(segment))
}
