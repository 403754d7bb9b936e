//! Turns the tokens of a `contract!` invocation back into contract text,
//! remembering where each token landed so that diagnostics about the text
//! can be reported at the token rustc knows.
//!
//! Rust's tokenizer has already run over the input, so a few things must
//! be undone or rejected here: doc comments arrive as `#[doc = "..."]`
//! attributes, `-3` arrives as two tokens, string literals carry Rust's
//! escapes, and some Rust literals (raw strings, suffixed numbers) have no
//! counterpart in the contract language.

use std::ops::Range;

use proc_macro2::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};

/// The contract text rebuilt from tokens.
pub(crate) struct SourceText {
    /// The text handed to the contract parser.
    pub text: String,
    /// Every token's byte range in `text` and its span, in text order.
    pub tokens: Vec<Placed>,
    /// Tokens the contract language has no counterpart for.
    pub unsupported: Vec<Unsupported>,
}

/// Where one token went.
pub(crate) struct Placed {
    pub range: Range<usize>,
    pub span: Span,
}

/// A token that cannot be written in a contract; a neutral stand-in takes
/// its place in the text so the rest of the input is still checked.
pub(crate) struct Unsupported {
    pub range: Range<usize>,
    /// The spans of its first and last tokens (an attribute has several).
    pub spans: (Span, Span),
    pub message: String,
}

impl SourceText {
    /// Rebuilds the text of `input`.
    pub fn from_tokens(input: TokenStream) -> SourceText {
        let mut writer = Writer {
            out: SourceText {
                text: String::new(),
                tokens: Vec::new(),
                unsupported: Vec::new(),
            },
            glue: false,
        };
        writer.stream(input);
        writer.out
    }

    /// The spans of the first and last tokens of the byte range `range`
    /// of the text, or `None` when there are no tokens at all.
    pub fn spans(&self, range: Range<usize>) -> Option<(Span, Span)> {
        let first = self.token_at(range.start)?;
        let last = match range.end.checked_sub(1) {
            Some(end) if end > range.start => self.token_at(end)?,
            _ => first,
        };
        Some((self.tokens[first].span, self.tokens[last].span))
    }

    /// The token that holds byte `offset` of the text; an offset between
    /// tokens belongs to the token before it (errors about something
    /// missing are found just after the last good token), and one before
    /// the first token to the first.
    fn token_at(&self, offset: usize) -> Option<usize> {
        let after = self.tokens.partition_point(|t| t.range.start <= offset);
        (!self.tokens.is_empty()).then(|| after.saturating_sub(1))
    }

    /// Whether `offset` lies in the stand-in of an unsupported token, whose
    /// own error already explains the problem.
    pub fn is_unsupported(&self, offset: usize) -> bool {
        self.unsupported.iter().any(|u| u.range.contains(&offset))
    }
}

struct Writer {
    out: SourceText,
    /// The next token attaches to the previous one without a space: after
    /// the `.` of a path and the `-` of a negative number, which the
    /// grammar's atomic rules do not allow whitespace in.
    glue: bool,
}

impl Writer {
    fn stream(&mut self, stream: TokenStream) {
        let tokens: Vec<TokenTree> = stream.into_iter().collect();
        let mut i = 0;
        while i < tokens.len() {
            i += self.token(&tokens[i], &tokens[i + 1..]);
        }
    }

    /// Writes the token at the head of the input (with `rest` after it, for
    /// the forms that span several tokens) and says how many it consumed.
    fn token(&mut self, token: &TokenTree, rest: &[TokenTree]) -> usize {
        match token {
            TokenTree::Group(group) => {
                self.group(group);
                1
            }
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                match name.strip_prefix("r#") {
                    Some(plain) => self.unsupported(
                        plain,
                        (ident.span(), ident.span()),
                        format!("raw identifiers are not needed in contracts: write `{plain}`"),
                    ),
                    None => self.push(&name, ident.span()),
                }
                1
            }
            TokenTree::Literal(literal) => {
                self.literal(literal);
                1
            }
            TokenTree::Punct(punct) => match punct.as_char() {
                '#' => self.attribute(punct.span(), rest),
                '.' => {
                    self.push_glued(".", punct.span());
                    self.glue = true;
                    1
                }
                '-' => {
                    self.push("-", punct.span());
                    self.glue = matches!(rest.first(), Some(TokenTree::Literal(l)) if is_number(&l.to_string()));
                    1
                }
                '\'' => {
                    // A lifetime or label: the quote and the name after it.
                    let (name, end) = match rest.first() {
                        Some(TokenTree::Ident(ident)) => (ident.to_string(), ident.span()),
                        _ => (String::new(), punct.span()),
                    };
                    self.unsupported(
                        "_",
                        (punct.span(), end),
                        format!("`'{name}` is Rust syntax, not part of the contract language"),
                    );
                    1 + usize::from(!name.is_empty())
                }
                c => {
                    self.push(&c.to_string(), punct.span());
                    1
                }
            },
        }
    }

    fn group(&mut self, group: &Group) {
        let (open, close) = match group.delimiter() {
            Delimiter::Parenthesis => ("(", ")"),
            Delimiter::Bracket => ("[", "]"),
            Delimiter::Brace => ("{", "}"),
            // Invisible groups come from `macro_rules!` fragments such as
            // `$ty:ty`; their tokens read as if written in place.
            Delimiter::None => {
                self.stream(group.stream());
                return;
            }
        };
        self.push(open, group.span_open());
        self.stream(group.stream());
        self.push(close, group.span_close());
    }

    /// `#[doc = "..."]` and `#![doc = "..."]`, which is what `///` and `//!`
    /// comments become, back into comments. Any other attribute is an
    /// error: contracts have none.
    fn attribute(&mut self, span: Span, rest: &[TokenTree]) -> usize {
        let inner = matches!(rest.first(), Some(TokenTree::Punct(p)) if p.as_char() == '!');
        let at = usize::from(inner);
        let Some(TokenTree::Group(group)) = rest.get(at) else {
            // A lone `#`: the grammar reports it.
            self.push("#", span);
            return 1;
        };
        if group.delimiter() != Delimiter::Bracket {
            self.push("#", span);
            return 1;
        }
        let consumed = 2 + at;
        match doc_text(group) {
            Some(text) => {
                let marker = if inner { "//!" } else { "///" };
                for line in text.split('\n') {
                    self.line(&format!("{marker}{}", line.trim_end_matches('\r')), span);
                }
            }
            None => self.unsupported(
                "",
                (span, group.span_close()),
                "contracts take no attributes; document items with `///` comments".to_string(),
            ),
        }
        consumed
    }

    fn literal(&mut self, literal: &Literal) {
        let text = literal.to_string();
        let span = literal.span();
        if is_number(&text) {
            self.push(&text, span);
            return;
        }
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            self.unsupported(
                "0",
                (span, span),
                format!(
                    "`{text}` is not a contract number: write plain digits, without suffixes, `_` or other \
                     bases, such as `1000` or `-2.5`"
                ),
            );
            return;
        }
        let kind = match text.chars().next() {
            Some('"') => None,
            Some('r') => Some("raw strings"),
            Some('b') => Some("byte strings and byte literals"),
            Some('c') => Some("C strings"),
            Some('\'') => Some("character literals"),
            _ => Some("these literals"),
        };
        if let Some(kind) = kind {
            self.unsupported(
                "\"\"",
                (span, span),
                format!(
                    "{kind} are not part of the contract language; write a string in double quotes, such as \"text\""
                ),
            );
            return;
        }
        match syn::parse_str::<syn::LitStr>(&text) {
            Ok(string) if string.suffix().is_empty() => self.push(&escape(&string.value()), span),
            _ => self.unsupported(
                "\"\"",
                (span, span),
                format!("`{text}` is not a contract string: write a string in double quotes without a suffix"),
            ),
        }
    }

    /// Writes a token, separated from the previous one by a space unless
    /// glued to it.
    fn push(&mut self, piece: &str, span: Span) {
        if !self.glue && !self.out.text.is_empty() && !self.out.text.ends_with('\n') {
            self.out.text.push(' ');
        }
        self.push_glued(piece, span);
    }

    fn push_glued(&mut self, piece: &str, span: Span) {
        self.glue = false;
        let start = self.out.text.len();
        self.out.text.push_str(piece);
        self.out.tokens.push(Placed {
            range: start..self.out.text.len(),
            span,
        });
    }

    /// A doc comment: on a line of its own, since it lasts to the end of
    /// the line.
    fn line(&mut self, line: &str, span: Span) {
        if !self.out.text.is_empty() && !self.out.text.ends_with('\n') {
            self.out.text.push('\n');
        }
        self.push_glued(line, span);
        self.out.text.push('\n');
    }

    fn unsupported(&mut self, stand_in: &str, spans: (Span, Span), message: String) {
        self.push(stand_in, spans.0);
        let range = self.out.tokens.last().map_or(0..0, |t| t.range.clone());
        // An empty stand-in still owns the position it stands at, so that
        // errors the parser finds there are attributed to this token.
        let range = range.start..range.end.max(range.start + 1);
        self.out.unsupported.push(Unsupported { range, spans, message });
    }
}

/// The text of a `doc = "..."` attribute body.
fn doc_text(group: &Group) -> Option<String> {
    let meta: syn::MetaNameValue = syn::parse2(group.stream()).ok()?;
    if !meta.path.is_ident("doc") {
        return None;
    }
    match meta.value {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) => Some(text.value()),
        _ => None,
    }
}

/// Whether a literal is a number the contract grammar reads as written:
/// digits with an optional fraction and exponent, no suffix.
fn is_number(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
}

/// A string value written with the contract language's escapes, which are
/// fewer than Rust's: `\u{..}`, `\x..` and `\0` in the Rust literal become
/// the characters they stand for.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(input: &str) -> String {
        SourceText::from_tokens(input.parse().unwrap()).text
    }

    #[test]
    fn paths_and_negative_numbers_are_written_without_inner_spaces() {
        assert_eq!(
            text("use shared.Money; record R(a: i32 = -3, b: f64 = -2.5e3);"),
            "use shared.Money ; record R ( a : i32 = -3 , b : f64 = -2.5e3 ) ;"
        );
        // A minus that is not before a number stays a token of its own.
        assert_eq!(text("a - b"), "a - b");
    }

    #[test]
    fn doc_attributes_become_comments_on_their_own_lines() {
        assert_eq!(
            text("#![doc = \" File.\"] namespace a; #[doc = \" One.\"] #[doc = \" Two.\"] X!();"),
            "//! File.\nnamespace a ;\n/// One.\n/// Two.\nX ! ( ) ;"
        );
    }

    #[test]
    fn wire_names_are_kept() {
        assert_eq!(
            text(r#"A! v2 wire "Lokad/A" (b: u32 = 1 wire "B");"#),
            r#"A ! v2 wire "Lokad/A" ( b : u32 = 1 wire "B" ) ;"#
        );
    }

    #[test]
    fn strings_are_rewritten_with_contract_escapes() {
        assert_eq!(text(r#""a\"b\\c\x41\u{e9}""#), r#""a\"b\\cAé""#);
    }

    #[test]
    fn rust_only_literals_are_unsupported_and_stand_in_neutrally() {
        let source = SourceText::from_tokens(r##"a = r"x" b = 3u32 c = 'z' r#type"##.parse().unwrap());
        assert_eq!(source.text, r#"a = "" b = 0 c = "" type"#);
        let messages: Vec<&str> = source.unsupported.iter().map(|u| u.message.as_str()).collect();
        assert_eq!(messages.len(), 4);
        assert!(messages[0].starts_with("raw strings"), "{messages:?}");
        assert!(
            messages[1].starts_with("`3u32` is not a contract number"),
            "{messages:?}"
        );
        assert!(messages[2].starts_with("character literals"), "{messages:?}");
        assert!(messages[3].starts_with("raw identifiers"), "{messages:?}");
    }

    #[test]
    fn offsets_between_tokens_belong_to_the_token_before() {
        let source = SourceText::from_tokens("a b".parse().unwrap());
        assert_eq!(source.text, "a b");
        let first = source.tokens[0].range.clone();
        let second = source.tokens[1].range.clone();
        assert_eq!((first, second), (0..1, 2..3));
        // Spans cannot be compared outside a macro, so the choice of token
        // is checked by index.
        assert_eq!(source.token_at(0), Some(0));
        assert_eq!(source.token_at(1), Some(0));
        assert_eq!(source.token_at(2), Some(1));
        assert_eq!(source.token_at(9), Some(1));
        assert_eq!(SourceText::from_tokens(TokenStream::new()).token_at(0), None);
    }
}
