//! Builds syn nodes directly for the bulk of generated code (structs and
//! their fields), instead of quoting tokens that syn would then parse back.
//! Generating ten thousand messages spends most of its time there, and
//! prettyplease formats syn nodes however they were made.

use proc_macro2::{Ident, Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::token;

/// `name<args>` as one path segment.
pub(crate) fn segment(name: Ident, args: Vec<syn::Type>) -> syn::PathSegment {
    let arguments = if args.is_empty() {
        syn::PathArguments::None
    } else {
        syn::PathArguments::AngleBracketed(syn::AngleBracketedGenericArguments {
            colon2_token: None,
            lt_token: token::Lt::default(),
            args: args.into_iter().map(syn::GenericArgument::Type).collect(),
            gt_token: token::Gt::default(),
        })
    };
    syn::PathSegment { ident: name, arguments }
}

/// A path type from its segments.
pub(crate) fn path_type(segments: Vec<syn::PathSegment>) -> syn::Type {
    syn::Type::Path(syn::TypePath {
        qself: None,
        path: syn::Path {
            leading_colon: None,
            segments: segments.into_iter().collect(),
        },
    })
}

/// `Name<args>`.
pub(crate) fn simple_type(name: &str, args: Vec<syn::Type>) -> syn::Type {
    path_type(vec![segment(Ident::new(name, Span::call_site()), args)])
}

/// `#[path(tokens)]`.
pub(crate) fn list_attribute(path: syn::Path, tokens: TokenStream) -> syn::Attribute {
    syn::Attribute {
        pound_token: token::Pound::default(),
        style: syn::AttrStyle::Outer,
        bracket_token: token::Bracket::default(),
        meta: syn::Meta::List(syn::MetaList {
            path,
            delimiter: syn::MacroDelimiter::Paren(token::Paren::default()),
            tokens,
        }),
    }
}

/// The value of `#[doc = "..."]` for one line of docs: the line after a
/// space, as rustdoc expects. prettyplease prints doc attributes as `///`
/// comments holding the text as it is, and rustc refuses some characters
/// there (a lone carriage return, bidirectional controls); validation
/// refuses those in contracts, and any that reach the generator anyway (a
/// schema built by hand) are written as visible `\u{…}` escapes. A tab
/// becomes four spaces, as clippy's `tabs_in_doc_comments` asks.
pub(crate) fn doc_line(line: &str) -> String {
    let mut text = String::with_capacity(line.len() + 1);
    text.push(' ');
    for c in line.chars() {
        if c == '\t' {
            text.push_str("    ");
        } else if treaty_dsl::source::is_unprintable(c) {
            text.extend(c.escape_unicode());
        } else {
            text.push(c);
        }
    }
    text
}

/// `#[doc = " line"]` for each line.
pub(crate) fn doc_attributes(lines: &[String]) -> Vec<syn::Attribute> {
    lines
        .iter()
        .map(|line| syn::Attribute {
            pound_token: token::Pound::default(),
            style: syn::AttrStyle::Outer,
            bracket_token: token::Bracket::default(),
            meta: syn::Meta::NameValue(syn::MetaNameValue {
                path: ident_path("doc"),
                eq_token: token::Eq::default(),
                value: syn::Expr::Lit(syn::ExprLit {
                    attrs: Vec::new(),
                    lit: syn::Lit::Str(syn::LitStr::new(&doc_line(line), Span::call_site())),
                }),
            }),
        })
        .collect()
}

/// A one-segment path.
pub(crate) fn ident_path(name: &str) -> syn::Path {
    syn::Path::from(Ident::new(name, Span::call_site()))
}

/// `pub name: ty` with attributes.
pub(crate) fn public_field(attrs: Vec<syn::Attribute>, name: Ident, ty: syn::Type) -> syn::Field {
    syn::Field {
        attrs,
        vis: public(),
        mutability: syn::FieldMutability::None,
        ident: Some(name),
        colon_token: Some(token::Colon::default()),
        ty,
    }
}

/// `pub struct name { fields }` with attributes.
pub(crate) fn public_struct(attrs: Vec<syn::Attribute>, name: Ident, fields: Vec<syn::Field>) -> syn::Item {
    let mut named: Punctuated<syn::Field, token::Comma> = fields.into_iter().collect();
    if !named.empty_or_trailing() {
        named.push_punct(token::Comma::default());
    }
    syn::Item::Struct(syn::ItemStruct {
        attrs,
        vis: public(),
        struct_token: token::Struct::default(),
        ident: name,
        generics: syn::Generics::default(),
        fields: syn::Fields::Named(syn::FieldsNamed {
            brace_token: token::Brace::default(),
            named,
        }),
        semi_token: None,
    })
}

fn public() -> syn::Visibility {
    syn::Visibility::Public(token::Pub::default())
}

/// Parses quoted items; for the smaller, rarer parts of generated code.
pub(crate) fn items(tokens: TokenStream) -> Vec<syn::Item> {
    syn::parse2::<syn::File>(tokens)
        .expect("generated code is valid Rust")
        .items
}
