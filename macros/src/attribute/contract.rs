//! `#[record]` and `#[message(...)]`: value types, and commands and events
//! with their `Contract` impl.
//!
//! ```text
//! #[::treaty::message(event = "factory.CarProduced", version = 2, fingerprint = "390d…",
//!     was(1, "81c6…", CarProducedV1))]
//! pub struct CarProduced { … }
//! ```
//!
//! Each `was` names an earlier version, newest first, and the struct of
//! its shape. The decoder reads an earlier version as its shape and
//! upcasts it one version at a time, through `From` impls: generated ones
//! where the step is derivable, hand-written ones otherwise. Each step
//! names its impl in full, spanned at the shape's name, so a missing
//! hand-written upcast fails with rustc naming `From<...V1>` there.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{earlier_derives, missing, parse_args, struct_derives};

struct Earlier {
    version: syn::LitInt,
    fingerprint: syn::LitStr,
    shape: syn::Type,
}

/// Expands `#[record]`: the derives and serde setup of a value type.
pub fn record(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, |args, item| {
        if !args.is_empty() {
            return Err(syn::Error::new_spanned(args, "`record` takes no arguments"));
        }
        Ok(struct_derives(&item))
    })
}

/// Expands `#[earlier]`: the derives of an earlier version's shape.
pub fn earlier(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, |args, item| {
        if !args.is_empty() {
            return Err(syn::Error::new_spanned(args, "`earlier` takes no arguments"));
        }
        Ok(earlier_derives(item))
    })
}

/// Expands `#[message(...)]`.
pub fn message(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, expand_message)
}

fn expand_message(args: TokenStream, item: syn::DeriveInput) -> syn::Result<TokenStream> {
    let mut kind = None;
    let mut version = None;
    let mut fingerprint = None;
    let mut history = Vec::new();
    parse_args(args, |meta| {
        if meta.path.is_ident("event") || meta.path.is_ident("command") {
            let marker = meta.path.get_ident().cloned().expect("checked to be an ident");
            kind = Some((marker, meta.value()?.parse::<syn::LitStr>()?));
        } else if meta.path.is_ident("version") {
            version = Some(meta.value()?.parse::<syn::LitInt>()?);
        } else if meta.path.is_ident("fingerprint") {
            fingerprint = Some(meta.value()?.parse::<syn::LitStr>()?);
        } else if meta.path.is_ident("was") {
            let content;
            syn::parenthesized!(content in meta.input);
            let version = content.parse()?;
            content.parse::<syn::Token![,]>()?;
            let fingerprint = content.parse()?;
            content.parse::<syn::Token![,]>()?;
            let shape = content.parse()?;
            history.push(Earlier {
                version,
                fingerprint,
                shape,
            });
        } else {
            return Err(meta.error("expected `event`, `command`, `version`, `fingerprint` or `was`"));
        }
        Ok(())
    })?;
    let (marker, name) = kind.ok_or_else(|| missing(&item, "event = \"namespace.Name\"` or `command = \"…\""))?;
    let version = version.ok_or_else(|| missing(&item, "version = N"))?;
    let fingerprint = fingerprint.ok_or_else(|| missing(&item, "fingerprint = \"…\""))?;
    let derives = struct_derives(&item);
    let kind = if marker == "event" {
        quote! { Event }
    } else {
        quote! { Command }
    };
    let ty = &item.ident;

    let entries = std::iter::once((&version, &fingerprint))
        .chain(history.iter().map(|h| (&h.version, &h.fingerprint)))
        .map(|(version, fingerprint)| {
            quote! { ::treaty::ContractVersion { version: #version, fingerprint: #fingerprint } }
        });
    let mut arms = vec![quote! { #version => ::treaty::decode_json(Self::NAME, version, payload), }];
    for (i, earlier) in history.iter().enumerate() {
        let shape = &earlier.shape;
        let number = &earlier.version;
        let span = shape.span();
        // Version `history[i]` reaches the current type through every newer
        // earlier version: `history[i-1]`, …, `history[0]`, then `Self`.
        let mut expr = quote! { old };
        for j in (1..=i).rev() {
            // The step is spanned at the older shape, whose `From` impl it
            // needs, the newer shape included: rustc underlines that type.
            let from = &history[j].shape;
            let to = respan(&history[j - 1].shape, from.span());
            expr = quote_spanned! {from.span()=> <#to as ::std::convert::From<#from>>::from(#expr) };
        }
        let newest = &history[0].shape;
        let upcast = if i == 0 {
            quote_spanned! {span=> .map(<Self as ::std::convert::From<#newest>>::from) }
        } else {
            quote_spanned! {span=> .map(|old| <Self as ::std::convert::From<#newest>>::from(#expr)) }
        };
        arms.push(quote_spanned! {span=>
            #number => ::treaty::decode_json::<#shape>(Self::NAME, version, payload)#upcast,
        });
    }
    Ok(quote! {
        #derives

        impl ::treaty::Contract for #ty {
            const NAME: &'static str = #name;
            const VERSION: u32 = #version;
            const FINGERPRINT: &'static str = #fingerprint;
            const HISTORY: &'static [::treaty::ContractVersion] = &[#(#entries),*];
            // Codegen writes `SCHEMAS` next to every message it writes,
            // in the namespace module; naming it here costs nothing per
            // message in generated files.
            const SCHEMAS: &'static str = SCHEMAS;
            const KIND: ::treaty::ContractKind = ::treaty::ContractKind::#kind;

            // Inline, so it is compiled only in the crates that decode
            // this contract, not for every contract of a crate that holds
            // many.
            #[inline]
            fn decode(version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::treaty::DecodeError> {
                match version {
                    #(#arms)*
                    _ => ::std::result::Result::Err(::treaty::DecodeError::unknown_version(
                        Self::NAME, version, Self::HISTORY,
                    )),
                }
            }
        }

        impl ::treaty::#kind for #ty {}
    })
}

/// `ty` with every token at `span`.
fn respan(ty: &syn::Type, span: proc_macro2::Span) -> TokenStream {
    quote! { #ty }
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}
