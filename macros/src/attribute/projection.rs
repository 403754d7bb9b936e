//! The fingerprinting attributes of projections.
//!
//! - `#[treaty::projection(uses = [helper, ...], version = N)]` on an
//!   `impl Projection for T` block adds `const FINGERPRINT`.
//! - `#[treaty::view]` on a view type implements `treaty::projection::View`.
//! - `#[treaty::projection_helper(uses = [...])]` on a function, type,
//!   constant or inline module that projections name in `uses`.
//!
//! A projection's fingerprint folds, at compile time, the hash of the
//! impl's tokens (so whitespace and comments, doc comments included, do
//! not count) with what the macro cannot see: the consumed contracts',
//! the view type's, each `uses` item's, and above all the crate analysis
//! (`treaty-fingerprint`, run by build.rs), which lists everything in the
//! crate the impl reaches. The attribute finds its entry by the impl's
//! key: it includes `$OUT_DIR/treaty_projections/<key>.rs` (an `include!`,
//! so rustc and cargo track the file) and picks the entry of its module
//! with `module_path!()`. An impl the analysis did not see (one a macro
//! wrote) gets the package-wide fallback, which every source file's
//! change changes.
//!
//! `uses` and `#[treaty::projection_helper]` are no longer needed, since
//! the analysis finds helpers by itself; they are still accepted and
//! folded in. A helper's fingerprint is a hidden constant next to it,
//! `__treaty_fingerprint_<name>`, which is how a projection naming it in
//! `uses` finds it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::parse_args;

/// The arguments shared by the three attributes.
#[derive(Default)]
struct Args {
    uses: Vec<syn::Path>,
    version: Option<syn::LitInt>,
}

fn parse(args: TokenStream, allow_version: bool) -> syn::Result<Args> {
    let mut parsed = Args::default();
    parse_args(args, |meta| {
        if meta.path.is_ident("uses") {
            let value = meta.value()?;
            let content;
            syn::bracketed!(content in value);
            let paths = content.parse_terminated(syn::Path::parse_mod_style, syn::Token![,])?;
            parsed.uses.extend(paths);
        } else if allow_version && meta.path.is_ident("version") {
            parsed.version = Some(meta.value()?.parse::<syn::LitInt>()?);
        } else if allow_version {
            return Err(meta.error("expected `uses = [...]` or `version = N`"));
        } else {
            return Err(meta.error("expected `uses = [...]`"));
        }
        Ok(())
    })?;
    if let Some(version) = &parsed.version {
        version.base10_parse::<u32>()?;
    }
    Ok(parsed)
}

/// Expands `#[treaty::projection(...)]`.
pub fn projection(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand_projection(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(error) => {
            // The impl still gets a `FINGERPRINT`, so that rustc does not
            // add "missing `FINGERPRINT`" to the error that explains why.
            let error = error.to_compile_error();
            match syn::parse2::<syn::ItemImpl>(item.clone()) {
                Ok(mut block) if !block.items.iter().any(is_fingerprint) => {
                    block.items.push(syn::parse_quote! {
                        const FINGERPRINT: ::treaty::projection::Fingerprint =
                            ::treaty::projection::Fingerprint::from_tokens(0);
                    });
                    quote! { #error #block }
                }
                _ => quote! { #error #item },
            }
        }
    }
}

fn is_fingerprint(member: &syn::ImplItem) -> bool {
    matches!(member, syn::ImplItem::Const(c) if c.ident == "FINGERPRINT")
}

/// Expands `#[treaty::view]`.
pub fn view(args: TokenStream, item: TokenStream) -> TokenStream {
    with_errors(item.clone(), || expand_view(args, item))
}

/// Expands `#[treaty::projection_helper(...)]`.
pub fn projection_helper(args: TokenStream, item: TokenStream) -> TokenStream {
    with_errors(item.clone(), || expand_helper(args, item))
}

fn with_errors(item: TokenStream, expand: impl FnOnce() -> syn::Result<TokenStream>) -> TokenStream {
    match expand() {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.to_compile_error();
            quote! { #error #item }
        }
    }
}

fn expand_projection(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse(args, true)?;
    let mut block: syn::ItemImpl = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            "`#[treaty::projection]` goes on an `impl Projection for T` block",
        )
    })?;
    if block.trait_.is_none() {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "`#[treaty::projection]` goes on an `impl Projection for T` block",
        ));
    }
    let mut event = None;
    let mut view = None;
    for member in &block.items {
        match member {
            syn::ImplItem::Type(ty) if ty.ident == "Event" => event = Some(ty.ty.clone()),
            syn::ImplItem::Type(ty) if ty.ident == "View" => view = Some(ty.ty.clone()),
            syn::ImplItem::Const(c) if c.ident == "CODE" => {
                return Err(syn::Error::new_spanned(
                    &c.ident,
                    "`#[treaty::projection]` computes `CODE` from the crate analysis; remove this one",
                ))
            }
            syn::ImplItem::Const(c) if is_fingerprint(member) => {
                return Err(syn::Error::new_spanned(
                    &c.ident,
                    "`#[treaty::projection]` computes `FINGERPRINT`; remove this one (use `version = N` to force a rebuild)",
                ))
            }
            _ => {}
        }
    }
    let missing = |what: &str| {
        syn::Error::new_spanned(
            &block.self_ty,
            format!("a projection declares `type {what} = ...;`, which its fingerprint includes"),
        )
    };
    let event = event.ok_or_else(|| missing("Event"))?;
    let view = view.ok_or_else(|| missing("View"))?;
    let tokens = token_hash(&item);
    // Without the analysis the rest still expands, so that every other
    // error of the impl is reported with this one.
    let (code, missing_analysis) = match code(&block, &args) {
        Ok(code) => (code, None),
        Err(error) => (
            syn::parse_quote! { const CODE: ::treaty::projection::Code = ::treaty::projection::Code::NONE; },
            Some(error.to_compile_error()),
        ),
    };
    let uses = uses_fingerprints(&args.uses);
    let version = args
        .version
        .iter()
        .map(|v| quote_spanned!(v.span()=> .with_version(#v)));
    let fingerprint: syn::ImplItem = syn::parse_quote! {
        const FINGERPRINT: ::treaty::projection::Fingerprint =
            ::treaty::projection::Fingerprint::from_tokens(#tokens)
                .with_contracts(<#event as ::treaty::aggregate::EventSet>::CONTRACTS)
                .with(<#view as ::treaty::projection::View>::FINGERPRINT)
                #(#uses)*
                #(#version)*
                .with_code(
                    &<Self as ::treaty::projection::Projection>::CODE,
                    <#event as ::treaty::aggregate::EventSet>::CONTRACTS,
                );
    };
    block.items.push(code);
    block.items.push(fingerprint);
    Ok(quote! { #missing_analysis #block })
}

/// `const CODE`: what the crate analysis found for this impl, from the
/// files build.rs wrote to `OUT_DIR`.
fn code(block: &syn::ItemImpl, args: &Args) -> syn::Result<syn::ImplItem> {
    let out_dir = std::env::var_os("OUT_DIR").map(std::path::PathBuf::from);
    let dir = out_dir.map(|d| d.join(treaty_fingerprint::OUT_SUBDIR));
    let Some(dir) = dir.filter(|d| d.join(treaty_fingerprint::FALLBACK_FILE).is_file()) else {
        return Err(syn::Error::new(
            proc_macro2::Span::call_site(),
            "`#[treaty::projection]` needs the analysis of the crate's code, which decides when the \
             projection rebuilds: add `treaty_codegen::analyze_projections().expect(\"projections analysed\");` \
             to this package's build.rs (see docs/projections.md)",
        ));
    };
    let include = |file: &str| {
        let file = format!("/{}/{file}", treaty_fingerprint::OUT_SUBDIR);
        quote! { include!(concat!(env!("OUT_DIR"), #file)) }
    };
    // Whether the analysis saw this impl is read here, but the content
    // reaches the expansion only through `include!`, which rustc tracks.
    let key_file = treaty_fingerprint::key_file(treaty_fingerprint::impl_key(block));
    let entries = if dir.join(&key_file).is_file() {
        include(&key_file)
    } else {
        quote! { &[] }
    };
    let fallback = include(treaty_fingerprint::FALLBACK_FILE);
    let upcasts = include(treaty_fingerprint::UPCASTS_FILE);
    let version = args.version.iter().map(|v| quote! { .with_version(#v) });
    let uses = args.uses.iter().map(|path| {
        let name = quote!(#path).to_string().replace(' ', "");
        let mut constant = path.clone();
        if let Some(last) = constant.segments.last_mut() {
            last.ident = helper_constant(&last.ident);
        }
        quote_spanned!(path.span()=> (#name, #constant))
    });
    Ok(syn::parse_quote! {
        const CODE: ::treaty::projection::Code = ::treaty::projection::Code::find(
            #entries,
            #fallback,
            #upcasts,
            ::core::module_path!(),
        )
        #(#version)*
        .with_uses(&[#(#uses),*]);
    })
}

fn expand_view(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse(args, false)?;
    let input: syn::DeriveInput = syn::parse2(item.clone())
        .map_err(|e| syn::Error::new(e.span(), "`#[treaty::view]` goes on a struct or enum"))?;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let tokens = token_hash(&item);
    let uses = uses_fingerprints(&args.uses);
    Ok(quote! {
        #item
        impl #impl_generics ::treaty::projection::View for #ident #ty_generics #where_clause {
            const FINGERPRINT: ::treaty::projection::Fingerprint =
                ::treaty::projection::Fingerprint::from_tokens(#tokens) #(#uses)*;
        }
    })
}

fn expand_helper(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = parse(args, false)?;
    let parsed: syn::Item = syn::parse2(item.clone())?;
    let (ident, vis) =
        match &parsed {
            syn::Item::Fn(f) => (&f.sig.ident, &f.vis),
            syn::Item::Struct(s) => (&s.ident, &s.vis),
            syn::Item::Enum(e) => (&e.ident, &e.vis),
            syn::Item::Union(u) => (&u.ident, &u.vis),
            syn::Item::Type(t) => (&t.ident, &t.vis),
            syn::Item::Const(c) => (&c.ident, &c.vis),
            syn::Item::Static(s) => (&s.ident, &s.vis),
            syn::Item::Trait(t) => (&t.ident, &t.vis),
            syn::Item::Mod(m) if m.content.is_some() => (&m.ident, &m.vis),
            _ => return Err(syn::Error::new(
                parsed.span(),
                "`#[treaty::projection_helper]` goes on a function, type, trait, constant, static or inline module; \
                 to cover an `impl` block, put it in an inline module and mark the module",
            )),
        };
    let constant = helper_constant(ident);
    let tokens = token_hash(&item);
    let uses = uses_fingerprints(&args.uses);
    Ok(quote! {
        #item
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        #vis const #constant: ::treaty::projection::Fingerprint =
            ::treaty::projection::Fingerprint::from_tokens(#tokens) #(#uses)*;
    })
}

/// The hidden constant holding a helper's fingerprint, spanned at the
/// helper's name so an unmarked helper is reported where it is named.
fn helper_constant(ident: &syn::Ident) -> syn::Ident {
    let name = ident.to_string();
    format_ident!(
        "__treaty_fingerprint_{}",
        name.trim_start_matches("r#"),
        span = ident.span()
    )
}

/// `.with(path::__treaty_fingerprint_name)` for each `uses` entry.
fn uses_fingerprints(uses: &[syn::Path]) -> Vec<TokenStream> {
    uses.iter()
        .map(|path| {
            let mut path = path.clone();
            if let Some(last) = path.segments.last_mut() {
                last.ident = helper_constant(&last.ident);
            }
            quote_spanned!(path.span()=> .with(#path))
        })
        .collect()
}

/// The hash of the item's tokens ([`treaty_fingerprint::token_hash`]), as
/// a literal.
fn token_hash(item: &TokenStream) -> syn::LitInt {
    let value = treaty_fingerprint::token_hash(item);
    syn::LitInt::new(&format!("{value:#034x}u128"), proc_macro2::Span::call_site())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_constants_are_found_next_to_the_helper() {
        let paths: Vec<syn::Path> = vec![syn::parse_quote!(pricing::line_total), syn::parse_quote!(Discount)];
        let expanded = uses_fingerprints(&paths)
            .into_iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>();
        assert_eq!(
            expanded,
            [
                ". with (pricing :: __treaty_fingerprint_line_total)",
                ". with (__treaty_fingerprint_Discount)"
            ]
        );
    }
}
