//! The fingerprinting attributes of projections.
//!
//! - `#[treaty::projection(uses = [helper, ...], version = N)]` on an
//!   `impl Projection for T` block adds `const FINGERPRINT`.
//! - `#[treaty::view]` on a view type implements `treaty::projection::View`.
//! - `#[treaty::projection_helper(uses = [...])]` on a function, type,
//!   constant or inline module that projections name in `uses`.
//!
//! A fingerprint is the hash of the item's tokens (so whitespace and
//! comments, doc comments included, do not count) folded at compile time
//! with the fingerprints the macro cannot see: the consumed contracts',
//! the view type's and each `uses` item's. A helper's fingerprint is a
//! hidden constant next to it, `__treaty_fingerprint_<name>`, which is how
//! a projection naming it in `uses` finds it.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use sha2::{Digest, Sha256};
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
                #(#version)*;
    };
    block.items.push(fingerprint);
    Ok(quote! { #block })
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

/// The first 128 bits of the SHA-256 of the item's tokens, as a literal.
fn token_hash(item: &TokenStream) -> syn::LitInt {
    let mut text = String::new();
    write_tokens(item.clone(), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let value = u128::from_be_bytes(bytes);
    syn::LitInt::new(&format!("{value:#034x}u128"), proc_macro2::Span::call_site())
}

/// Writes a whitespace-independent text of `tokens`: one line per token,
/// doc attributes left out. Spans never count, so moving an item within
/// its file changes nothing. Neither does a punctuation character's
/// spacing (whether the next character follows without a space), which
/// only whitespace decides: `x = -1` and `x =-1` are the same code.
pub fn write_tokens(tokens: TokenStream, out: &mut String) {
    write_group(tokens, Trailing::Formatting, out);
}

/// What a group's trailing comma means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trailing {
    /// Nothing: rustfmt adds and removes it.
    Formatting,
    /// In `(x,)` it makes a one-element tuple.
    TupleMarker,
}

fn write_group(tokens: TokenStream, trailing: Trailing, out: &mut String) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let commas = tokens.iter().filter(|t| is_comma(t)).count();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let next = tokens.get(i + 1);
        let previous = i.checked_sub(1).map(|p| &tokens[p]);
        i += 1;
        match token {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                // `#[doc = "..."]` and `#![doc = "..."]` are comments.
                let bang = matches!(tokens.get(i), Some(TokenTree::Punct(b)) if b.as_char() == '!');
                let attribute = tokens.get(i + usize::from(bang));
                if let Some(TokenTree::Group(g)) = attribute {
                    if g.delimiter() == Delimiter::Bracket && is_doc(g.stream()) {
                        i += 1 + usize::from(bang);
                        continue;
                    }
                }
                out.push_str("p#\n");
            }
            // A comma rustfmt may add or remove: the last of a group (but
            // the one that makes `(x,)` a tuple), and one before the `{`
            // that ends a `where` clause or the `>` that ends generics.
            TokenTree::Punct(_)
                if is_comma(token)
                    && match next {
                        None => trailing == Trailing::Formatting || commas > 1,
                        Some(TokenTree::Group(g)) => g.delimiter() == Delimiter::Brace,
                        Some(TokenTree::Punct(p)) => p.as_char() == '>',
                        Some(_) => false,
                    } => {}
            TokenTree::Punct(p) => {
                out.push('p');
                out.push(p.as_char());
                // Spacing is whitespace, except that it tells `a && b`
                // from `a & &b` (and `||` from `| |`).
                if matches!(p.as_char(), '&' | '|') && p.spacing() == Spacing::Joint {
                    out.push('+');
                }
                out.push('\n');
            }
            TokenTree::Ident(ident) => {
                out.push('i');
                out.push_str(&ident.to_string());
                out.push('\n');
            }
            TokenTree::Literal(literal) => {
                out.push('l');
                out.push_str(&literal.to_string());
                out.push('\n');
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("<", ">"),
                };
                // Parentheses after a name, generics or another group are
                // a call's arguments or a tuple struct's fields, where a
                // single trailing comma means nothing either.
                let is_call = match previous {
                    Some(TokenTree::Ident(name)) => !is_keyword(&name.to_string()),
                    Some(TokenTree::Punct(p)) => p.as_char() == '>',
                    Some(TokenTree::Group(_)) => true,
                    _ => false,
                };
                let trailing = if group.delimiter() == Delimiter::Parenthesis && !is_call {
                    Trailing::TupleMarker
                } else {
                    Trailing::Formatting
                };
                out.push_str(open);
                out.push('\n');
                write_group(group.stream(), trailing, out);
                out.push_str(close);
                out.push('\n');
            }
        }
    }
}

/// Keywords after which parentheses are an expression, not arguments.
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "as" | "break"
            | "else"
            | "for"
            | "if"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "move"
            | "mut"
            | "ref"
            | "return"
            | "while"
            | "yield"
            | "await"
            | "dyn"
            | "impl"
            | "where"
            | "unsafe"
            | "async"
            | "const"
            | "static"
    )
}

fn is_comma(token: &TokenTree) -> bool {
    matches!(token, TokenTree::Punct(p) if p.as_char() == ',')
}

fn is_doc(attribute: TokenStream) -> bool {
    matches!(attribute.into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(source: &str) -> String {
        let tokens: TokenStream = source.parse().expect("test source tokenizes");
        token_hash(&tokens).to_string()
    }

    #[test]
    fn whitespace_and_comments_do_not_count() {
        let base = hash("impl Projection for Totals { fn apply(&self) { total += line_total(e) * 2; } }");
        let reformatted = hash(
            "impl Projection for Totals {\n    /// Adds the line.\n    fn apply(&self) {\n        // double it\n        total += line_total(e)*2; /* ok */\n    }\n}",
        );
        assert_eq!(base, reformatted);
    }

    #[test]
    fn changes_to_the_code_count() {
        let base = hash("fn apply(&self) { total += x * 2; }");
        assert_ne!(base, hash("fn apply(&self) { total += x * 3; }"));
        assert_ne!(base, hash("fn apply(&self) { total -= x * 2; }"));
        assert_ne!(base, hash("fn apply(&self) { total += y * 2; }"));
        assert_eq!(hash("x = -1; a >= b"), hash("x =-1; a>=b"));
        assert_ne!(hash("a && b"), hash("a & &b"));
        assert_ne!(hash("#[inline] fn f() {}"), hash("fn f() {}"));
    }

    #[test]
    fn trailing_commas_are_formatting_except_in_one_element_tuples() {
        assert_eq!(
            hash("f(a, b,); S { x: 1, }; [1, 2,]"),
            hash("f(a, b); S { x: 1 }; [1, 2]")
        );
        assert_eq!(hash("match x { A => 1, }"), hash("match x { A => 1 }"));
        assert_ne!(hash("let t = (x,);"), hash("let t = (x);"));
        assert_eq!(hash("f(\n    a + b,\n)"), hash("f(a + b)"));
        assert_eq!(hash("Some(x,)"), hash("Some(x)"));
        assert_eq!(hash("fn f<T>() where T: X, { }"), hash("fn f<T>() where T: X { }"));
        assert_eq!(hash("S<A, B,>"), hash("S<A, B>"));
        assert_ne!(hash("return (x,);"), hash("return (x);"));
    }

    #[test]
    fn inner_doc_attributes_are_comments() {
        assert_eq!(hash("mod m { //! About m.\n fn f() {} }"), hash("mod m { fn f() {} }"));
    }

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
