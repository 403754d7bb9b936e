//! From the tokens of a file that parsed to the document of its canonical
//! layout. A recursive descent over the grammar's declarations, which
//! places the comments met between tokens:
//!
//! - In a vertical position (between items, between the messages of an
//!   aggregate, between the elements of a field list, an enum or a
//!   `const`, and before their closing bracket), a comment on a line of
//!   its own stays on a line of its own, and a comment after a token
//!   stays at the end of that token's line. Doc comments are only ever
//!   in such positions and always sit on their own lines.
//! - Anywhere else (inside a field or a type, between a message's name
//!   and its fields), a comment moves to the end of the line it is on.
//!
//! A list with a comment inside breaks, one element per line, so that its
//! comments keep their places; the same holds for a message's `display`
//! and `was` parts with a comment between them. That choice depends only
//! on where a comment is, and formatting never moves a comment to a place
//! where it would decide otherwise, which is what makes formatting
//! idempotent.

use super::doc::Doc;
use super::lex::{Kind, Token};

/// The recursive descent gives up with this on a token sequence the
/// grammar does not allow, which a file that parsed never has.
pub(crate) struct Unexpected(pub String);

type Result<T> = std::result::Result<T, Unexpected>;

/// How a vertical position starts its line.
#[derive(Clone, Copy)]
enum Sep {
    /// At the start of the file: nothing.
    None,
    /// Always a new line.
    Hard,
    /// A space or a new line.
    Line,
    /// Nothing or a new line.
    Soft,
}

pub(crate) struct Layout<'t> {
    tokens: &'t [Token<'t>],
    pos: usize,
    /// How many comments and docs have been consumed.
    trivia_seen: usize,
}

impl<'t> Layout<'t> {
    pub(crate) fn new(tokens: &'t [Token<'t>]) -> Self {
        Layout {
            tokens,
            pos: 0,
            trivia_seen: 0,
        }
    }

    /// The `n`th token ahead that is not a comment.
    fn peek(&self, n: usize) -> Option<&'t Token<'t>> {
        self.tokens[self.pos..].iter().filter(|t| !t.kind.is_trivia()).nth(n)
    }

    fn peek_text(&self, n: usize) -> &'t str {
        self.peek(n).map_or("", |t| t.text)
    }

    fn unexpected<T>(&self, wanted: &str) -> Result<T> {
        let found = self.peek(0).map_or("the end of the file", |t| t.text);
        Err(Unexpected(format!("expected {wanted}, found `{found}`")))
    }

    /// Consumes the comments before the next token, each to the end of its
    /// line.
    fn inline_trivia(&mut self, out: &mut Vec<Doc>) {
        while let Some(t) = self.tokens.get(self.pos).filter(|t| t.kind.is_trivia()) {
            out.push(Doc::Comment(t.text.to_string()));
            self.pos += 1;
            self.trivia_seen += 1;
        }
    }

    /// Consumes the next token after its comments and writes it.
    fn token(&mut self, out: &mut Vec<Doc>) -> Result<&'t Token<'t>> {
        self.inline_trivia(out);
        match self.tokens.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                out.push(Doc::text(t.text));
                Ok(t)
            }
            None => self.unexpected("a token"),
        }
    }

    fn expect(&mut self, out: &mut Vec<Doc>, text: &str) -> Result<()> {
        if self.peek_text(0) != text {
            return self.unexpected(&format!("`{text}`"));
        }
        self.token(out).map(|_| ())
    }

    fn word(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        if self.peek(0).map(|t| t.kind) != Some(Kind::Word) {
            return self.unexpected("a name");
        }
        self.token(out).map(|_| ())
    }

    /// Consumes a token without writing it (an optional `;`), keeping its
    /// comments.
    fn skip(&mut self, out: &mut Vec<Doc>) {
        self.inline_trivia(out);
        self.pos += 1;
    }

    /// The comments and docs before the next element of a vertical
    /// sequence: those at the end of the previous token's line stay there,
    /// the others get lines of their own after `sep`. Blank lines before
    /// them and before the element are kept (one at most), except at the
    /// start of a block and after a doc comment.
    fn vertical(&mut self, out: &mut Vec<Doc>, sep: Sep, block_start: bool) {
        let own = self.trailing(out);
        let next_newlines = self.tokens.get(self.pos).map_or(0, |t| t.newlines);
        let mut blanks = Vec::with_capacity(own.len() + 1);
        for (i, t) in own.iter().enumerate() {
            blanks.push(Self::blank(
                t.newlines,
                block_start && i == 0,
                i.checked_sub(1).map(|p| own[p]),
            ));
        }
        blanks.push(Self::blank(
            next_newlines,
            block_start && own.is_empty(),
            own.last().copied(),
        ));
        match sep {
            Sep::None => {}
            Sep::Hard => out.push(Doc::Hard { blank: blanks[0] }),
            Sep::Line => out.push(Doc::Line {
                soft: false,
                blank: blanks[0],
            }),
            Sep::Soft => out.push(Doc::Line {
                soft: true,
                blank: blanks[0],
            }),
        }
        for (i, t) in own.iter().enumerate() {
            out.push(Doc::text(t.text));
            out.push(Doc::Hard { blank: blanks[i + 1] });
        }
    }

    /// The comments and docs before a closing bracket or the end of the
    /// file, inside the block, at its indentation.
    fn closing(&mut self, out: &mut Vec<Doc>, block_start: bool) {
        let own = self.trailing(out);
        for (i, t) in own.iter().enumerate() {
            let blank = Self::blank(t.newlines, block_start && i == 0, i.checked_sub(1).map(|p| own[p]));
            out.push(Doc::Hard { blank });
            out.push(Doc::text(t.text));
        }
    }

    /// Consumes the comments and docs before the next token: writes those
    /// at the end of the previous token's line, returns the others.
    fn trailing(&mut self, out: &mut Vec<Doc>) -> Vec<&'t Token<'t>> {
        let mut own = Vec::new();
        while let Some(t) = self.tokens.get(self.pos).filter(|t| t.kind.is_trivia()) {
            if own.is_empty() && t.kind == Kind::Comment && t.newlines == 0 && self.pos > 0 {
                out.push(Doc::Comment(t.text.to_string()));
            } else {
                own.push(t);
            }
            self.pos += 1;
            self.trivia_seen += 1;
        }
        own
    }

    fn blank(newlines: usize, block_start: bool, previous: Option<&Token>) -> bool {
        newlines >= 2 && !block_start && previous.is_none_or(|p| p.kind != Kind::Doc)
    }

    /// The whole file.
    pub(crate) fn file(mut self) -> Result<Vec<Doc>> {
        let mut out = Vec::new();
        let mut first = true;
        while self.peek(0).is_some() {
            self.vertical(&mut out, if first { Sep::None } else { Sep::Hard }, first);
            self.item(&mut out)?;
            first = false;
        }
        self.closing(&mut out, first);
        Ok(out)
    }

    fn item(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        if matches!(self.peek_text(1), "?" | "!") {
            return self.message(out);
        }
        match self.peek_text(0) {
            "namespace" | "use" => {
                self.word(out)?;
                out.push(Doc::text(" "));
                self.word(out)?;
                self.expect(out, ";")
            }
            "const" => self.const_decl(out),
            "id" => {
                self.word(out)?;
                out.push(Doc::text(" "));
                self.word(out)?;
                self.expect(out, ":")?;
                out.push(Doc::text(" "));
                self.type_expr(out)?;
                self.expect(out, ";")
            }
            "record" => {
                let mut group = Vec::new();
                self.word(&mut group)?;
                group.push(Doc::text(" "));
                self.word(&mut group)?;
                self.field_list(&mut group)?;
                self.tails(out, group)
            }
            "enum" => self.enum_decl(out),
            "aggregate" => self.aggregate(out),
            _ => self.unexpected("a declaration"),
        }
    }

    /// `Name? v2 (fields) display "..." was v1 (fields);`
    fn message(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        let mut group = Vec::new();
        self.word(&mut group)?;
        self.token(&mut group)?;
        let mut spaced = false;
        if self.peek_text(0) != "(" && self.peek_text(0) != "wire" {
            group.push(Doc::text(" "));
            self.word(&mut group)?;
            spaced = true;
        }
        if self.peek_text(0) == "wire" {
            group.push(Doc::text(" "));
            self.wire_name(&mut group)?;
            spaced = true;
        }
        if spaced {
            group.push(Doc::text(" "));
        }
        self.field_list(&mut group)?;
        self.tails(out, group)
    }

    /// The `display` and `was` parts after a head and the final `;`: on
    /// the head's line when they fit and there is no `was`, else each on a
    /// line of its own, indented.
    fn tails(&mut self, out: &mut Vec<Doc>, mut group: Vec<Doc>) -> Result<()> {
        let head_end = self.trivia_seen;
        let mut last_start = head_end;
        let mut tails = Vec::new();
        let mut history = false;
        loop {
            let keyword = self.peek_text(0);
            if keyword != "display" && keyword != "was" {
                break;
            }
            history |= keyword == "was";
            self.inline_trivia(&mut tails);
            last_start = self.trivia_seen;
            tails.push(Doc::Line {
                soft: false,
                blank: false,
            });
            self.word(&mut tails)?;
            tails.push(Doc::text(" "));
            if keyword == "display" {
                if self.peek(0).map(|t| t.kind) != Some(Kind::Str) {
                    return self.unexpected("a string");
                }
                self.token(&mut tails)?;
            } else {
                self.word(&mut tails)?;
                tails.push(Doc::text(" "));
                self.field_list(&mut tails)?;
            }
        }
        group.push(Doc::Indent(tails));
        self.expect(&mut group, ";")?;
        out.push(Doc::Group {
            force: history || last_start > head_end,
            docs: group,
        });
        Ok(())
    }

    /// `(fields)`: on one line when it fits and holds no comment, else one
    /// field per line with a trailing comma.
    fn field_list(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        let mut group = Vec::new();
        self.expect(&mut group, "(")?;
        let before = self.trivia_seen;
        let mut inner = Vec::new();
        let mut first = true;
        while self.peek_text(0) != ")" {
            self.vertical(&mut inner, if first { Sep::Soft } else { Sep::Line }, first);
            self.field(&mut inner)?;
            first = false;
            self.separator(&mut inner, ")")?;
        }
        self.closing(&mut inner, first);
        let empty = inner.is_empty();
        group.push(Doc::Indent(inner));
        if !empty {
            group.push(Doc::Line {
                soft: true,
                blank: false,
            });
        }
        self.expect(&mut group, ")")?;
        out.push(Doc::Group {
            force: self.trivia_seen > before,
            docs: group,
        });
        Ok(())
    }

    /// After an element of a bracketed list: a `,` then more, or the
    /// closing bracket with a trailing comma when the list is broken.
    fn separator(&mut self, out: &mut Vec<Doc>, close: &str) -> Result<()> {
        match self.peek_text(0) {
            "," => {
                let mut comma = Vec::new();
                self.skip(&mut comma);
                if self.peek_text(0) == close {
                    out.push(Doc::IfBreak(","));
                } else {
                    out.push(Doc::text(","));
                }
                out.extend(comma);
                Ok(())
            }
            next if next == close => {
                out.push(Doc::IfBreak(","));
                Ok(())
            }
            _ => self.unexpected(&format!("`,` or `{close}`")),
        }
    }

    /// `wire "Name"`.
    fn wire_name(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        self.word(out)?;
        out.push(Doc::text(" "));
        if self.peek(0).map(|t| t.kind) != Some(Kind::Str) {
            return self.unexpected("a string");
        }
        self.token(out).map(|_| ())
    }

    /// A field `name: Type = default wire "Name"` or a fragment's name.
    fn field(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        self.word(out)?;
        if self.peek_text(0) != ":" {
            return Ok(());
        }
        self.expect(out, ":")?;
        out.push(Doc::text(" "));
        self.type_expr(out)?;
        if self.peek_text(0) == "=" {
            out.push(Doc::text(" "));
            self.expect(out, "=")?;
            out.push(Doc::text(" "));
            match self.peek_text(0) {
                "[" => {
                    self.expect(out, "[")?;
                    self.expect(out, "]")?;
                }
                "{" => {
                    self.expect(out, "{")?;
                    self.expect(out, "}")?;
                }
                _ => match self.peek(0).map(|t| t.kind) {
                    Some(Kind::Word | Kind::Str | Kind::Num) => {
                        self.token(out)?;
                    }
                    _ => return self.unexpected("a default value"),
                },
            }
        }
        if self.peek_text(0) == "wire" {
            out.push(Doc::text(" "));
            self.wire_name(out)?;
        }
        Ok(())
    }

    /// `Path`, `[T]`, `{K: V}`, each maybe followed by `?`.
    fn type_expr(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        match self.peek_text(0) {
            "[" => {
                self.expect(out, "[")?;
                self.type_expr(out)?;
                self.expect(out, "]")?;
            }
            "{" => {
                self.expect(out, "{")?;
                self.type_expr(out)?;
                self.expect(out, ":")?;
                out.push(Doc::text(" "));
                self.type_expr(out)?;
                self.expect(out, "}")?;
            }
            _ => self.word(out)?,
        }
        if self.peek_text(0) == "?" {
            self.expect(out, "?")?;
        }
        Ok(())
    }

    /// `const name = a: T, b: U;`: on one line when it fits, else one
    /// field per line under the name.
    fn const_decl(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        let mut group = Vec::new();
        self.word(&mut group)?;
        group.push(Doc::text(" "));
        self.word(&mut group)?;
        group.push(Doc::text(" "));
        self.expect(&mut group, "=")?;
        let before = self.trivia_seen;
        let mut last_start;
        let mut fields = Vec::new();
        loop {
            self.inline_trivia(&mut fields);
            last_start = self.trivia_seen;
            fields.push(Doc::Line {
                soft: false,
                blank: false,
            });
            self.field(&mut fields)?;
            if self.peek_text(0) != "," {
                break;
            }
            self.expect(&mut fields, ",")?;
        }
        group.push(Doc::Indent(fields));
        self.expect(&mut group, ";")?;
        out.push(Doc::Group {
            force: last_start > before,
            docs: group,
        });
        Ok(())
    }

    /// `enum Name { A, B }`: on one line when it fits and holds no comment
    /// or doc, else one variant per line with a trailing comma.
    fn enum_decl(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        let mut group = Vec::new();
        self.word(&mut group)?;
        group.push(Doc::text(" "));
        self.word(&mut group)?;
        group.push(Doc::text(" "));
        self.expect(&mut group, "{")?;
        let before = self.trivia_seen;
        let mut inner = Vec::new();
        let mut first = true;
        while self.peek_text(0) != "}" {
            self.vertical(&mut inner, Sep::Line, first);
            self.word(&mut inner)?;
            first = false;
            self.separator(&mut inner, "}")?;
        }
        self.closing(&mut inner, first);
        let empty = inner.is_empty();
        group.push(Doc::Indent(inner));
        if !empty {
            group.push(Doc::Line {
                soft: false,
                blank: false,
            });
        }
        self.expect(&mut group, "}")?;
        out.push(Doc::Group {
            force: self.trivia_seen > before,
            docs: group,
        });
        // The optional `;` is dropped outside the group: a comment before
        // it follows the `}` as it would without the `;`, and does not
        // force the variants onto lines of their own (which a second run,
        // without the `;`, would undo).
        if self.peek_text(0) == ";" {
            self.skip(out);
        }
        Ok(())
    }

    /// `aggregate Name(id: Id) { messages }`, one message per line.
    fn aggregate(&mut self, out: &mut Vec<Doc>) -> Result<()> {
        self.word(out)?;
        out.push(Doc::text(" "));
        self.word(out)?;
        self.expect(out, "(")?;
        self.field(out)?;
        self.expect(out, ")")?;
        out.push(Doc::text(" "));
        self.expect(out, "{")?;
        let mut body = Vec::new();
        let mut first = true;
        while self.peek_text(0) != "}" {
            if self.peek(0).is_none() {
                return self.unexpected("`}`");
            }
            self.vertical(&mut body, Sep::Hard, first);
            self.message(&mut body)?;
            first = false;
        }
        self.closing(&mut body, first);
        if !body.is_empty() {
            out.push(Doc::Indent(body));
            out.push(Doc::Hard { blank: false });
        }
        self.expect(out, "}")?;
        if self.peek_text(0) == ";" {
            self.skip(out);
        }
        Ok(())
    }
}
