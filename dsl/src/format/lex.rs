//! The tokens of a file that parsed, comments and doc comments included,
//! each with the number of line breaks before it (for blank lines and for
//! telling a comment at the end of a line from one on a line of its own).

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A name, keyword, dotted path or version (`v2`).
    Word,
    /// One punctuation character.
    Punct,
    /// A string literal, quotes included, as written.
    Str,
    /// A number as written.
    Num,
    /// `// ...`
    Comment,
    /// `/// ...`
    Doc,
    /// `//! ...`
    InnerDoc,
}

impl Kind {
    /// Comments and doc comments: what sits between the tokens of the
    /// grammar's rules.
    pub(crate) fn is_trivia(self) -> bool {
        matches!(self, Kind::Comment | Kind::Doc | Kind::InnerDoc)
    }
}

/// One token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    /// The text; comments without trailing whitespace.
    pub text: &'a str,
    /// Line breaks between the previous token and this one.
    pub newlines: usize,
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits `text` into tokens, or gives the offset of a character no token
/// starts with (which a file that parsed never holds).
pub(crate) fn lex(text: &str) -> Result<Vec<Token<'_>>, usize> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut newlines = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b'\n' => {
                newlines += 1;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |n| i + n);
                let line = &text[start..i];
                if line.starts_with("///") {
                    Kind::Doc
                } else if line.starts_with("//!") {
                    Kind::InnerDoc
                } else {
                    Kind::Comment
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => return Err(start),
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                if i > bytes.len() {
                    return Err(start);
                }
                Kind::Str
            }
            b'-' | b'0'..=b'9' => {
                if bytes[i] == b'-' {
                    i += 1;
                }
                let digits = |i: &mut usize| {
                    let from = *i;
                    while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                        *i += 1;
                    }
                    *i > from
                };
                if !digits(&mut i) {
                    return Err(start);
                }
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    digits(&mut i);
                }
                if matches!(bytes.get(i), Some(b'e' | b'E')) {
                    let mut j = i + 1;
                    if matches!(bytes.get(j), Some(b'+' | b'-')) {
                        j += 1;
                    }
                    if digits(&mut j) {
                        i = j;
                    }
                }
                Kind::Num
            }
            b if is_word_start(b) => {
                loop {
                    while bytes.get(i).copied().is_some_and(is_word) {
                        i += 1;
                    }
                    if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).copied().is_some_and(is_word_start) {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Kind::Word
            }
            b';' | b',' | b':' | b'=' | b'?' | b'!' | b'(' | b')' | b'[' | b']' | b'{' | b'}' => {
                i += 1;
                Kind::Punct
            }
            _ => return Err(start),
        };
        let mut text = &text[start..i];
        if kind.is_trivia() {
            text = text.trim_end();
        }
        tokens.push(Token { kind, text, newlines });
        newlines = 0;
    }
    Ok(tokens)
}
