//! The attribute macros that generated code uses, so that the generated
//! file holds the shape of each contract and little else.
//!
//! - `#[::treaty::record]`: a value type (derives, serde setup, and the
//!   constructor `new` over its required fields, with `Default` when it
//!   has none).
//! - `#[::treaty::earlier]`: the shape of an earlier version of a message,
//!   which is only read (`Debug` and `Deserialize`).
//! - `#[::treaty::message(event = "…", version = N, fingerprint = "…", was(…)…)]`:
//!   a command or event, with its `Contract` impl, decoder and upcast
//!   chain, and the constructor `record` writes.
//! - `#[::treaty::id("namespace.Name")]`: an id newtype and its impls.
//! - `#[::treaty::enumeration]`: a contract enum and its impls.
//! - `#[::treaty::command_set(id = IdType, field = name, display)]`: an
//!   aggregate's command enum and its methods.
//! - `#[treaty::event_set(id = IdType, field = name, display)]`: an
//!   aggregate's event enum, or any enum of event contracts, and its
//!   methods (public API, for the events a projection consumes).
//! - `#[treaty::projection]`, `#[treaty::view]` and
//!   `#[treaty::projection_helper]`: compile-time fingerprints of
//!   hand-written projection code (these three are public API).
//!
//! Each macro adds the derives itself (`Debug`, `Clone`, `PartialEq`,
//! serde's, …) so generated code does not spell them out for every type;
//! the logic lives here so the entries in `lib.rs` stay thin. Output
//! refers to outside crates only through `::treaty` and `::std`.

mod construct;
mod contract;
mod deserialize;
mod enumeration;
mod id;
mod projection;
mod set;

use proc_macro2::TokenStream;
use quote::quote;

pub use contract::{earlier, message, record};
pub use enumeration::enumeration;
pub use id::id;
pub use projection::{projection, projection_helper, view};
pub use set::{command_set, event_set};

/// Runs an attribute macro. On error the item is kept as it is, next to a
/// `compile_error!` at the offending token, so the error is the only one.
pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    attribute: fn(TokenStream, syn::DeriveInput) -> syn::Result<TokenStream>,
) -> TokenStream {
    match syn::parse2::<syn::DeriveInput>(item.clone()).and_then(|parsed| attribute(args, parsed)) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.to_compile_error();
            quote! { #error #item }
        }
    }
}

/// Calls `each` for every `name = value` or flag in the macro's arguments.
pub(crate) fn parse_args(
    args: TokenStream,
    each: impl FnMut(syn::meta::ParseNestedMeta<'_>) -> syn::Result<()>,
) -> syn::Result<()> {
    syn::parse::Parser::parse2(syn::meta::parser(each), args)
}

/// The error for a required argument that is missing.
pub(crate) fn missing(item: &syn::DeriveInput, what: &str) -> syn::Error {
    syn::Error::new_spanned(&item.ident, format!("missing `{what}` argument"))
}

/// The derives, serde setup, `Deserialize` impl and constructor of every
/// generated record and current message: `Deserialize` is written by
/// [`deserialize::deserialize`] where it can be, derived by serde
/// otherwise; `new` (and `Default` where no field is required) by
/// [`construct::constructor`].
pub(crate) fn struct_derives(item: &syn::DeriveInput) -> TokenStream {
    let constructor = construct::constructor(item);
    match deserialize::deserialize(item) {
        Some(deserialize) => quote! {
            #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::cmp::PartialEq,
                ::treaty::serde::Serialize)]
            #[serde(crate = "::treaty::serde")]
            #item
            #deserialize
            #constructor
        },
        None => quote! {
            #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::cmp::PartialEq,
                ::treaty::serde::Serialize, ::treaty::serde::Deserialize)]
            #[serde(crate = "::treaty::serde")]
            #item
            #constructor
        },
    }
}

/// The derives, serde setup and `Deserialize` impl of the shape of an
/// earlier version: it is only ever read, so it needs `Deserialize` (and
/// `Debug`, for whoever writes its upcast), not the other derives. With
/// the hand-written `Deserialize` no serde derive is left to declare the
/// fields' `#[serde]` attributes, so they are dropped.
pub(crate) fn earlier_derives(item: syn::DeriveInput) -> TokenStream {
    match deserialize::deserialize(&item) {
        Some(deserialize) => {
            let item = deserialize::without_serde_attributes(item);
            quote! {
                #[derive(::std::fmt::Debug)]
                #item
                #deserialize
            }
        }
        None => quote! {
            #[derive(::std::fmt::Debug, ::treaty::serde::Deserialize)]
            #[serde(crate = "::treaty::serde")]
            #item
        },
    }
}
