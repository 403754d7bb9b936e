//! `#[id("namespace.Name")]`: an id newtype.
//!
//! ```text
//! #[::treaty::id("factory.FactoryId")]
//! pub struct FactoryId(pub Uuid);
//! ```
//!
//! derives what ids need (`Copy` unless it wraps a `String`; `Eq`, `Ord`
//! and `Hash` for map keys; serde, transparent) and gives `Display` and `FromStr` (the inner value's text), `From` the inner
//! type, and for ids over `Uuid` a `generate()` making a time-ordered one.

use proc_macro2::TokenStream;
use quote::quote;

/// Expands `#[id("namespace.Name")]`.
pub fn id(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, expand_id)
}

fn expand_id(args: TokenStream, item: syn::DeriveInput) -> syn::Result<TokenStream> {
    let name: syn::LitStr = syn::parse2(args)
        .map_err(|e| syn::Error::new(e.span(), "expected the id's contract name: `#[id(\"namespace.Name\")]`"))?;
    let inner = match &item.data {
        syn::Data::Struct(syn::DataStruct {
            fields: syn::Fields::Unnamed(fields),
            ..
        }) if fields.unnamed.len() == 1 => &fields.unnamed[0].ty,
        _ => {
            return Err(syn::Error::new_spanned(
                &item.ident,
                "an id is a tuple struct with one field, such as `struct OrderId(pub Uuid);`",
            ))
        }
    };
    let last = match inner {
        syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    };
    let ty = &item.ident;
    let copy = (last.as_deref() != Some("String")).then(|| quote! { ::std::marker::Copy, });
    let from_str = if last.as_deref() == Some("String") {
        quote! { ::std::result::Result::Ok(Self(::std::string::String::from(text))) }
    } else {
        quote! {
            text.parse()
                .map(Self)
                .map_err(|e| ::treaty::ParseIdError::new(#name, e))
        }
    };
    let generate = (last.as_deref() == Some("Uuid")).then(|| {
        quote! {
            impl #ty {
                /// A new id from a time-ordered UUID (version 7).
                #[inline]
                pub fn generate() -> Self {
                    Self(::treaty::Uuid::now_v7())
                }
            }
        }
    });
    Ok(quote! {
        #[derive(::std::fmt::Debug, ::std::clone::Clone, #copy ::std::cmp::PartialEq, ::std::cmp::Eq,
            ::std::hash::Hash, ::std::cmp::PartialOrd, ::std::cmp::Ord,
            ::treaty::serde::Serialize, ::treaty::serde::Deserialize)]
        #[serde(crate = "::treaty::serde", transparent)]
        #item

        impl ::std::fmt::Display for #ty {
            #[inline]
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl ::std::str::FromStr for #ty {
            type Err = ::treaty::ParseIdError;
            #[inline]
            fn from_str(text: &str) -> ::std::result::Result<Self, Self::Err> {
                #from_str
            }
        }

        impl ::std::convert::From<#inner> for #ty {
            #[inline]
            fn from(value: #inner) -> Self {
                Self(value)
            }
        }

        #generate
    })
}
