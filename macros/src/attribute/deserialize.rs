//! The `Deserialize` impl that `#[record]`, `#[message]` and `#[earlier]`
//! write for a struct with named fields, in place of serde's derive: the
//! same behaviour and errors in a few lines per field, through the
//! generic helpers of `treaty_runtime::__private` (see `runtime/src/de.rs`),
//! which are instantiated once per field type instead of being written out
//! once per field.
//!
//! ```text
//! impl<'de> Deserialize<'de> for CarProduced { fn deserialize(d) { deserialize_struct(d) } }
//! impl<'de> Struct<'de> for CarProduced {
//!     const SHAPE: Shape = Shape { name: "CarProduced", fields: &["car", "color"] };
//!     fn map(map) { let (mut f0, mut f1) = (None, None); while let Some(key) = … { match key {
//!         0 => field(&mut map, &mut f0, "car")?, …, _ => skip(&mut map)? } }
//!         Ok(Self { car: required(f0, "car")?, color: f1.unwrap_or_else(CarProduced::default_color) }) }
//!     fn seq(seq) { Ok(Self { car: element(&mut seq, 0, &SHAPE)?, color: element_or(&mut seq, …)? }) }
//! }
//! ```
//!
//! Only what the generator writes is handled: a struct with named fields,
//! no generics, no serde attribute on the struct, and on fields only
//! `rename = "…"`, `default` and `default = "path"`. For anything else
//! (serde attributes added through the build settings, say) the macros
//! derive `Deserialize` with serde as before.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

/// What a field's serde attributes say about reading it.
enum Missing {
    /// Required; a missing `Option` is `None`.
    None,
    /// `#[serde(default)]`.
    Trait,
    /// `#[serde(default = "path")]`.
    Path(syn::ExprPath),
}

struct Field<'a> {
    member: &'a syn::Ident,
    wire: String,
    default: Missing,
}

/// The `Deserialize` and `treaty::__private::Struct` impls of `item`, or
/// `None` when serde's derive must write them.
pub(crate) fn deserialize(item: &syn::DeriveInput) -> Option<TokenStream> {
    let fields = fields(item)?;
    let ty = &item.ident;
    let name = syn::ext::IdentExt::unraw(ty).to_string();
    let wires = fields.iter().map(|f| &f.wire);
    let slots: Vec<_> = (0..fields.len()).map(|i| format_ident!("__f{i}")).collect();
    let indexes = (0..fields.len()).map(syn::Index::from);
    let arms = slots
        .iter()
        .zip(&fields)
        .zip(indexes.clone())
        .map(|((slot, field), index)| {
            let wire = &field.wire;
            quote! { #index => ::treaty::__private::field(&mut __map, &mut #slot, #wire)?, }
        });
    let members = fields.iter().map(|f| f.member);
    let from_map = slots.iter().zip(&fields).map(|(slot, field)| match &field.default {
        Missing::None => {
            let wire = &field.wire;
            quote! { ::treaty::__private::required::<_, __A::Error>(#slot, #wire)? }
        }
        Missing::Trait => quote! { #slot.unwrap_or_default() },
        Missing::Path(path) => quote! { #slot.unwrap_or_else(#path) },
    });
    let from_seq = fields.iter().zip(indexes).map(|(field, index)| match &field.default {
        Missing::None => quote! { ::treaty::__private::element(&mut __seq, #index, &Self::SHAPE)? },
        Missing::Trait => quote! { ::treaty::__private::element_or(&mut __seq, ::std::default::Default::default)? },
        Missing::Path(path) => quote! { ::treaty::__private::element_or(&mut __seq, #path)? },
    });
    let members_seq = members.clone();
    let map_body = if fields.is_empty() {
        quote! {
            while ::treaty::__private::key(&mut __map, &Self::SHAPE, 0)?.is_some() {
                ::treaty::__private::skip(&mut __map)?;
            }
            ::std::result::Result::Ok(Self {})
        }
    } else {
        quote! {
            #(let mut #slots = ::std::option::Option::None;)*
            let mut __next = 0;
            while let ::std::option::Option::Some(__key) = ::treaty::__private::key(&mut __map, &Self::SHAPE, __next)? {
                match __key {
                    #(#arms)*
                    _ => ::treaty::__private::skip(&mut __map)?,
                }
                __next = __key + 1;
            }
            ::std::result::Result::Ok(Self { #(#members: #from_map,)* })
        }
    };
    let seq_arg = if fields.is_empty() {
        quote! { _: __A }
    } else {
        quote! { mut __seq: __A }
    };
    Some(quote! {
        #[automatically_derived]
        impl<'de> ::treaty::serde::Deserialize<'de> for #ty {
            #[inline]
            fn deserialize<__D: ::treaty::serde::Deserializer<'de>>(
                deserializer: __D,
            ) -> ::std::result::Result<Self, __D::Error> {
                ::treaty::__private::deserialize_struct(deserializer)
            }
        }

        #[automatically_derived]
        impl<'de> ::treaty::__private::Struct<'de> for #ty {
            const SHAPE: ::treaty::__private::Shape =
                ::treaty::__private::Shape { name: #name, fields: &[#(#wires),*] };

            fn map<__A: ::treaty::serde::de::MapAccess<'de>>(
                mut __map: __A,
            ) -> ::std::result::Result<Self, __A::Error> {
                #map_body
            }

            fn seq<__A: ::treaty::serde::de::SeqAccess<'de>>(
                #seq_arg,
            ) -> ::std::result::Result<Self, __A::Error> {
                ::std::result::Result::Ok(Self { #(#members_seq: #from_seq,)* })
            }
        }
    })
}

/// The fields of a struct the hand-written impl can read as serde's
/// derive would, or `None`.
fn fields(item: &syn::DeriveInput) -> Option<Vec<Field<'_>>> {
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return None;
    }
    if item.attrs.iter().any(|a| a.path().is_ident("serde")) {
        return None;
    }
    let syn::Data::Struct(syn::DataStruct {
        fields: syn::Fields::Named(named),
        ..
    }) = &item.data
    else {
        return None;
    };
    let mut fields = Vec::new();
    for field in &named.named {
        let member = field.ident.as_ref()?;
        let mut wire = syn::ext::IdentExt::unraw(member).to_string();
        let mut default = Missing::None;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    wire = meta.value()?.parse::<syn::LitStr>()?.value();
                } else if meta.path.is_ident("default") {
                    default = if meta.input.peek(syn::Token![=]) {
                        Missing::Path(meta.value()?.parse::<syn::LitStr>()?.parse()?)
                    } else {
                        Missing::Trait
                    };
                } else {
                    return Err(syn::Error::new(Span::call_site(), "left to serde's derive"));
                }
                Ok(())
            })
            .ok()?;
        }
        fields.push(Field { member, wire, default });
    }
    // serde's derive takes the first of two fields with one name; the
    // hand-written impl's key lookup does not promise that.
    let mut wires: Vec<_> = fields.iter().map(|f| f.wire.as_str()).collect();
    wires.sort_unstable();
    if wires.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    Some(fields)
}

/// `item` without serde attributes on its fields, for a struct with no
/// serde derive left to declare them.
pub(crate) fn without_serde_attributes(mut item: syn::DeriveInput) -> syn::DeriveInput {
    if let syn::Data::Struct(data) = &mut item.data {
        for field in data.fields.iter_mut() {
            field.attrs.retain(|a| !a.path().is_ident("serde"));
        }
    }
    item
}
