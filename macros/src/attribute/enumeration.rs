//! `#[enumeration]`: a contract enum.
//!
//! ```text
//! #[::treaty::enumeration]
//! pub enum Color { Red, #[serde(rename = "dark_green")] DarkGreen }
//! ```
//!
//! derives what enums need (`Copy`, `Eq`, `Ord`, `Hash`, serde as the
//! variant names) and gives `ALL` (every variant in declaration order), `as_str` (the name on
//! the wire: a variant's `#[serde(rename = "...")]`, else its name) and
//! `Display` (the same text).

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `#[enumeration]`.
pub fn enumeration(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, expand_enumeration)
}

fn expand_enumeration(args: TokenStream, item: syn::DeriveInput) -> syn::Result<TokenStream> {
    if !args.is_empty() {
        return Err(syn::Error::new_spanned(args, "`enumeration` takes no arguments"));
    }
    let syn::Data::Enum(data) = &item.data else {
        return Err(syn::Error::new_spanned(&item.ident, "`enumeration` goes on an enum"));
    };
    let mut idents = Vec::new();
    let mut wires = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, syn::Fields::Unit) {
            return Err(syn::Error::new_spanned(variant, "contract enum variants carry no data"));
        }
        idents.push(&variant.ident);
        wires.push(wire_name(variant)?);
    }
    let ty = &item.ident;
    Ok(quote! {
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::cmp::PartialEq,
            ::std::cmp::Eq, ::std::hash::Hash, ::std::cmp::PartialOrd, ::std::cmp::Ord,
            ::treaty::serde::Serialize, ::treaty::serde::Deserialize)]
        #[serde(crate = "::treaty::serde")]
        #item

        impl #ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [#ty] = &[#(#ty::#idents),*];

            /// The variant's name on the wire.
            #[inline]
            pub fn as_str(&self) -> &'static str {
                match *self { #(#ty::#idents => #wires,)* }
            }
        }

        impl ::std::fmt::Display for #ty {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    })
}

/// The variant's `#[serde(rename = "...")]`, or its name.
fn wire_name(variant: &syn::Variant) -> syn::Result<String> {
    let mut renamed = None;
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                renamed = Some(meta.value()?.parse::<syn::LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            }
            Ok(())
        })?;
    }
    Ok(renamed.unwrap_or_else(|| variant.ident.to_string()))
}
