//! The constructor that `#[record]` and `#[message]` write, so code that
//! builds a generated struct survives fields added in place as optional
//! or with a default (which the lint calls compatible), where a struct
//! literal stops compiling:
//!
//! ```text
//! impl BookReturned {
//!     #[inline]
//!     pub fn new(id: BookId, member: String) -> Self {
//!         Self { id, member, note: Default::default(), channel: BookReturned::default_channel() }
//!     }
//! }
//! impl Default for Ping { #[inline] fn default() -> Self { Self::new() } }  // no required field
//! ```
//!
//! The arguments are the required fields, in declaration order. A field
//! may be left out exactly when its payload may leave it out: the same
//! `#[serde(default)]` or `#[serde(default = "path")]` that the generator
//! writes for optional and defaulted fields, and that the `Deserialize`
//! impl reads, gives its value here. So `new(required…)` is the value a
//! payload holding only the required fields decodes to, and the set of
//! arguments changes only with a change the lint reports.
//!
//! Everything written is `#[inline]`: a crate of many contracts that calls
//! none of them compiles no machine code for them.

use proc_macro2::TokenStream;
use quote::quote;

/// How a field is filled when it is not an argument.
enum Fill {
    /// An argument of `new`.
    Argument,
    /// `Default::default()`.
    Trait,
    /// `path()`.
    Path(syn::ExprPath),
}

/// `new` over the required fields of `item`, and `Default` when there is
/// none (unless the item already derives it); nothing for a struct
/// without named fields or with generics, which the generator never
/// writes.
pub(crate) fn constructor(item: &syn::DeriveInput) -> TokenStream {
    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(named),
        ..
    }) = &item.data
    else {
        return TokenStream::new();
    };
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return TokenStream::new();
    }
    let ty = &item.ident;
    let mut params = Vec::new();
    let mut members = Vec::new();
    for field in &named.named {
        let Some(member) = &field.ident else {
            return TokenStream::new();
        };
        members.push(match fill(field) {
            Fill::Argument => {
                let field_ty = &field.ty;
                params.push(quote! { #member: #field_ty });
                quote! { #member }
            }
            Fill::Trait => quote! { #member: ::std::default::Default::default() },
            Fill::Path(path) => quote! { #member: #path() },
        });
    }
    // Clippy's limit is seven; a contract's required fields are its shape.
    let many = (params.len() > 7).then(|| quote! { #[allow(clippy::too_many_arguments)] });
    let default = (params.is_empty() && !derives_default(item)).then(|| {
        quote! {
            impl ::std::default::Default for #ty {
                #[inline]
                fn default() -> Self {
                    Self::new()
                }
            }
        }
    });
    quote! {
        impl #ty {
            /// Required fields; the rest `None` or defaulted.
            #[inline]
            #many
            pub fn new(#(#params),*) -> Self {
                Self { #(#members),* }
            }
        }
        #default
    }
}

/// What the field's serde attributes say it is filled with when a payload
/// leaves it out. Attributes this does not know are skipped: serde's
/// derive, which reads them then, reports those it does not know either.
fn fill(field: &syn::Field) -> Fill {
    let mut fill = Fill::Argument;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                fill = if meta.input.peek(syn::Token![=]) {
                    Fill::Path(meta.value()?.parse::<syn::LitStr>()?.parse()?)
                } else {
                    Fill::Trait
                };
            } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_deserializing") {
                if matches!(fill, Fill::Argument) {
                    fill = Fill::Trait;
                }
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _nested;
                syn::parenthesized!(_nested in meta.input);
            }
            Ok(())
        });
    }
    fill
}

/// Whether a `#[derive(...)]` of `item` (one added through the build's
/// type attributes) already names `Default`.
fn derives_default(item: &syn::DeriveInput) -> bool {
    item.attrs.iter().filter(|a| a.path().is_ident("derive")).any(|attr| {
        attr.parse_args_with(syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated)
            .is_ok_and(|paths| {
                paths
                    .iter()
                    .any(|p| p.segments.last().is_some_and(|s| s.ident == "Default"))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::constructor;

    fn expand(item: &str) -> String {
        constructor(&syn::parse_str(item).expect("a struct")).to_string()
    }

    #[test]
    fn fields_with_a_serde_default_are_not_arguments() {
        let out = expand(
            r#"pub struct Shipped {
                pub id: OrderId,
                #[serde(default = "Shipped::default_carrier")] pub carrier: String,
                #[serde(rename = "To")] pub r#to: Point,
                #[serde(default)] pub note: Option<String>,
                #[serde(skip)] pub cache: u32,
            }"#,
        );
        assert!(
            out.contains("pub fn new (id : OrderId , r#to : Point) -> Self"),
            "{out}"
        );
        assert!(out.contains("carrier : Shipped :: default_carrier ()"), "{out}");
        assert!(
            out.contains("note : :: std :: default :: Default :: default ()"),
            "{out}"
        );
        assert!(
            out.contains("cache : :: std :: default :: Default :: default ()"),
            "{out}"
        );
        assert!(!out.contains("impl :: std :: default :: Default"), "{out}");
        assert!(!out.contains("too_many_arguments"), "{out}");
    }

    #[test]
    fn default_is_written_when_nothing_is_required_unless_derived() {
        let none = "pub struct Ping { #[serde(default)] pub note: Option<String> }";
        assert!(expand(none).contains("impl :: std :: default :: Default for Ping"));
        let derived = format!("#[derive(Clone, ::std::default::Default)] {none}");
        let out = expand(&derived);
        assert!(out.contains("pub fn new () -> Self"), "{out}");
        assert!(!out.contains("impl :: std :: default :: Default"), "{out}");
    }

    #[test]
    fn more_than_seven_arguments_allow_clippys_lint() {
        let fields: String = (0..8).map(|i| format!("pub f{i}: u32,")).collect();
        let out = expand(&format!("pub struct Wide {{ {fields} }}"));
        assert!(out.contains("# [allow (clippy :: too_many_arguments)]"), "{out}");
        let fields: String = (0..7).map(|i| format!("pub f{i}: u32,")).collect();
        assert!(!expand(&format!("pub struct Narrow {{ {fields} }}")).contains("too_many_arguments"));
    }
}
