//! `#[event_set(...)]` and `#[command_set(...)]`: enums whose variants
//! each hold one contract, such as an aggregate's events or commands.
//!
//! ```text
//! #[::treaty::event_set(id = FactoryId, field = id, display)]
//! pub enum FactoryEvent { FactoryOpened(FactoryOpened), CarProduced(CarProduced) }
//! ```
//!
//! Their methods are `#[inline]`, so a crate that holds many sets
//! compiles only those it uses (`decode` and `encode` pull in every
//! member's serde code).
//!
//! Both derive `Debug`, `Clone` and `PartialEq`, and give
//! `contract_name()`, `contract_version()`, `contract_fingerprint()`,
//! `decode(contract, version, payload)` with upcasts, `encode()` and `From`
//! each member; with `id = IdType, field = name`, `id()` (the aggregate
//! identity, from each member's `field`); with `display`, `Display`
//! through the members' display templates. `event_set` adds the `EventSet`
//! impl the repository and projections use; its `id` and `field` are
//! optional, since the events a projection consumes may come from several
//! aggregates. `command_set` adds the `CommandSet` impl the bus uses, which
//! needs the identity, so there they are required.

use proc_macro2::TokenStream;
use quote::quote;

use super::{missing, parse_args};

/// Which kind of set an enum is.
#[derive(Clone, Copy)]
enum Set {
    Events,
    Commands,
}

impl Set {
    fn attribute(self) -> &'static str {
        match self {
            Set::Events => "#[treaty::event_set]",
            Set::Commands => "#[treaty::command_set]",
        }
    }
}

/// Expands `#[event_set(...)]`.
pub fn event_set(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, |args, item| expand_set(Set::Events, args, item))
}

/// Expands `#[command_set(...)]`.
pub fn command_set(args: TokenStream, item: TokenStream) -> TokenStream {
    super::expand(args, item, |args, item| expand_set(Set::Commands, args, item))
}

fn expand_set(set: Set, args: TokenStream, item: syn::DeriveInput) -> syn::Result<TokenStream> {
    let mut id = None;
    let mut field = None;
    let mut display = false;
    parse_args(args, |meta| {
        if meta.path.is_ident("id") {
            id = Some(meta.value()?.parse::<syn::Type>()?);
        } else if meta.path.is_ident("field") {
            field = Some(meta.value()?.parse::<syn::Ident>()?);
        } else if meta.path.is_ident("display") {
            display = true;
        } else {
            return Err(meta.error("expected `id`, `field` or `display`"));
        }
        Ok(())
    })?;
    let identity = match (id, field) {
        (Some(id), Some(field)) => Some((id, field)),
        (None, None) => None,
        (Some(_), None) => return Err(missing(&item, "field = identity_field")),
        (None, Some(_)) => return Err(missing(&item, "id = IdType")),
    };
    let syn::Data::Enum(data) = &item.data else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!("`{}` goes on an enum", set.attribute()),
        ));
    };
    if data.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.ident,
            format!("`{}` needs at least one variant, `Name(Name)`", set.attribute()),
        ));
    }
    let mut variants = Vec::new();
    let mut members = Vec::new();
    for variant in &data.variants {
        match &variant.fields {
            syn::Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                variants.push(&variant.ident);
                members.push(&f.unnamed[0].ty);
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    variant,
                    "each variant holds one contract: `Name(Name)`",
                ))
            }
        }
    }
    let ty = &item.ident;
    let contract = quote! { ::treaty::Contract };
    let id_method = identity.as_ref().map(|(id, field)| {
        quote! {
            /// The identity of the aggregate the message is for.
            #[inline]
            pub fn id(&self) -> &#id {
                match self { #(Self::#variants(message) => &message.#field,)* }
            }
        }
    });
    let set_impl = match set {
        Set::Events => quote! {
            impl ::treaty::aggregate::EventSet for #ty {
                const CONTRACTS: &'static [::treaty::ContractInfo] = &[#(::treaty::ContractInfo::of::<#members>()),*];
                #[inline]
                #[inline]
                fn contract_name(&self) -> &'static str {
                    #ty::contract_name(self)
                }
                #[inline]
                #[inline]
                fn contract_version(&self) -> u32 {
                    #ty::contract_version(self)
                }
                #[inline]
                fn contract_fingerprint(&self) -> &'static str {
                    #ty::contract_fingerprint(self)
                }
                #[inline]
                #[inline]
                fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, ::treaty::EncodeError> {
                    #ty::encode(self)
                }
                #[inline]
                fn decode(contract: &str, version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::treaty::DecodeError> {
                    #ty::decode(contract, version, payload)
                }
            }
        },
        Set::Commands => {
            let Some((id, _)) = &identity else {
                return Err(missing(&item, "id = IdType"));
            };
            quote! {
            impl ::treaty::bus::CommandSet for #ty {
                type Id = #id;
                const CONTRACTS: &'static [::treaty::ContractInfo] = &[#(::treaty::ContractInfo::of::<#members>()),*];
                #[inline]
                fn id(&self) -> &#id {
                    #ty::id(self)
                }
                #[inline]
                fn contract_name(&self) -> &'static str {
                    #ty::contract_name(self)
                }
                #[inline]
                fn contract_version(&self) -> u32 {
                    #ty::contract_version(self)
                }
                #[inline]
                fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, ::treaty::EncodeError> {
                    #ty::encode(self)
                }
                #[inline]
                fn decode(contract: &str, version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::treaty::DecodeError> {
                    #ty::decode(contract, version, payload)
                }
            }
            }
        }
    };
    let display = display.then(|| {
        quote! {
            impl ::std::fmt::Display for #ty {
                #[inline]
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self { #(Self::#variants(message) => ::std::fmt::Display::fmt(message, f),)* }
                }
            }
        }
    });
    Ok(quote! {
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::cmp::PartialEq)]
        #item

        impl #ty {
            #id_method

            /// The message's contract name.
            #[inline]
            pub fn contract_name(&self) -> &'static str {
                match self { #(Self::#variants(_) => <#members as #contract>::NAME,)* }
            }

            /// The message's current contract version.
            #[inline]
            pub fn contract_version(&self) -> u32 {
                match self { #(Self::#variants(_) => <#members as #contract>::VERSION,)* }
            }

            /// The fingerprint of the message's current contract version.
            #[inline]
            pub fn contract_fingerprint(&self) -> &'static str {
                match self { #(Self::#variants(_) => <#members as #contract>::FINGERPRINT,)* }
            }

            /// Reads a stored or received message by contract name and
            /// version, upcasting earlier versions.
            ///
            /// # Errors
            ///
            /// When no member has that name, or the member cannot read the
            /// payload at that version.
            #[inline]
            pub fn decode(contract: &str, version: u32, payload: &[u8]) -> ::std::result::Result<Self, ::treaty::DecodeError> {
                #(
                    if contract == <#members as #contract>::NAME {
                        return <#members as #contract>::decode(version, payload).map(Self::#variants);
                    }
                )*
                ::std::result::Result::Err(::treaty::DecodeError::unknown_contract(
                    contract, version, &[#(<#members as #contract>::NAME),*],
                ))
            }

            /// The message's JSON, at its current version.
            ///
            /// # Errors
            ///
            /// Only when a field's own `Serialize` fails.
            #[inline]
            pub fn encode(&self) -> ::std::result::Result<::std::vec::Vec<u8>, ::treaty::EncodeError> {
                match self { #(Self::#variants(message) => #contract::encode(message),)* }
            }
        }

        #(
            impl ::std::convert::From<#members> for #ty {
                #[inline]
                fn from(message: #members) -> Self {
                    Self::#variants(message)
                }
            }
        )*

        #set_impl
        #display
    })
}
