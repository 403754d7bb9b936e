//! `#[derive(ContractEnum)]`: the impls of a contract enum.
//!
//! ```text
//! #[derive(::treaty::ContractEnum)]
//! pub enum Color { Red, #[serde(rename = "dark_green")] DarkGreen }
//! ```
//!
//! gives `ALL` (every variant in declaration order), `as_str` (the name on
//! the wire: a variant's `#[serde(rename = "...")]`, else its name) and
//! `Display` (the same text).

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `#[derive(ContractEnum)]`.
pub fn contract_enum(input: TokenStream) -> TokenStream {
    super::expand(input, derive)
}

fn derive(item: syn::DeriveInput) -> syn::Result<TokenStream> {
    let syn::Data::Enum(data) = &item.data else {
        return Err(syn::Error::new_spanned(&item.ident, "`ContractEnum` is derived for enums"));
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
        impl #ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [#ty] = &[#(#ty::#idents),*];

            /// The variant's name on the wire.
            pub fn as_str(&self) -> &'static str {
                match *self { #(#ty::#idents => #wires,)* }
            }
        }

        impl ::std::fmt::Display for #ty {
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
