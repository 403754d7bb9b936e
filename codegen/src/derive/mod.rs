//! The derives that generated code uses, so that the generated file holds
//! the shape of each contract and little else: `#[derive(::treaty::Contract)]`
//! writes the `Contract` impl with its decoder and upcast chain,
//! `::treaty::Id` the impls of an id newtype, `::treaty::ContractEnum`
//! those of an enum, and `::treaty::MessageSet` the methods of an
//! aggregate's command or event enum.
//!
//! The logic lives here so the macro crate stays a thin entry; every
//! function takes the item the derive is on and returns the impls, or a
//! `compile_error!` at the offending token. Output refers to outside
//! crates only through `::treaty` and `::std`.

mod contract;
mod enumeration;
mod id;
mod message_set;

use proc_macro2::TokenStream;

pub use contract::contract;
pub use enumeration::contract_enum;
pub use id::id;
pub use message_set::message_set;

/// Runs a derive, turning its error into `compile_error!` tokens.
pub(crate) fn expand(input: TokenStream, derive: fn(syn::DeriveInput) -> syn::Result<TokenStream>) -> TokenStream {
    match syn::parse2::<syn::DeriveInput>(input).and_then(derive) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

/// Calls `each` for every `name = value` or flag inside the item's
/// `#[treaty(...)]` attributes.
pub(crate) fn treaty_attributes(
    attrs: &[syn::Attribute],
    mut each: impl FnMut(syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("treaty")) {
        attr.parse_nested_meta(&mut each)?;
    }
    Ok(())
}

/// The error for a required attribute that is missing.
pub(crate) fn missing(item: &syn::DeriveInput, what: &str) -> syn::Error {
    syn::Error::new_spanned(&item.ident, format!("missing `#[treaty({what})]`"))
}
