//! Token hashing: the one normalisation of Rust tokens that both the
//! projection macros and the crate analysis use, so that what the macro
//! hashes at compile time and what build.rs hashes from the source files
//! agree exactly.
//!
//! Tokens are compared, not text: whitespace, comments and doc comments
//! never count, nor do spans (where an item sits in its file), nor the
//! trailing commas rustfmt adds and removes.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use sha2::{Digest, Sha256};

/// The first 128 bits of the SHA-256 of `tokens`' normalised text.
pub fn token_hash(tokens: &TokenStream) -> u128 {
    let mut text = String::new();
    write_tokens(tokens.clone(), &mut text);
    text_hash(&text)
}

/// The first 128 bits of the SHA-256 of `text`.
pub fn text_hash(text: &str) -> u128 {
    let digest = Sha256::digest(text.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// The key under which the analysis records a `#[treaty::projection]`
/// impl and under which the attribute looks it up: the hash of the impl's
/// tokens without its attributes (the attribute macro does not see itself,
/// and attributes before it may be ordered either way).
pub fn impl_key(item: &syn::ItemImpl) -> u128 {
    let mut item = item.clone();
    item.attrs.clear();
    token_hash(&item.to_token_stream())
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

    fn hash(source: &str) -> u128 {
        let tokens: TokenStream = source.parse().expect("test source tokenizes");
        token_hash(&tokens)
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
    fn impl_keys_ignore_attributes() {
        let plain: syn::ItemImpl = syn::parse_quote!(impl Projection for A { const NAME: &'static str = "a"; });
        let marked: syn::ItemImpl = syn::parse_quote! {
            /// Docs.
            #[treaty::projection(version = 2)]
            #[allow(unused)]
            impl Projection for A { const NAME: &'static str = "a"; }
        };
        assert_eq!(impl_key(&plain), impl_key(&marked));
    }
}
