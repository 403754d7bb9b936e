//! Lokad's Code DSL (`.ddd` files) to `.treaty` text: the pure part of
//! `treaty import-ddd`. Text in, text and notes out; no I/O.
//!
//! Every message, field, fragment and template is kept, with the names
//! Lokad put on the wire: a field `string displayName` became the C#
//! property `DisplayName`, which is the name in stored JSON, so it is
//! imported as `display_name: String wire "DisplayName"`; a message keeps
//! Lokad.CQRS's contract name, its data contract namespace (`extern`) and
//! C# class name (`wire "Sample.Security/UserCreated"`), so data stored by
//! a Lokad system reads as it is. What needs a
//! person becomes a declared placeholder with a `TODO(import-ddd)`
//! comment, and a [`Note`] says where it came from.

use std::collections::{BTreeMap, BTreeSet};

use crate::hints::{self, Alias, Treaty};
use crate::naming;

/// One `.ddd` file turned into Treaty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The name of the `.ddd` file, as given.
    pub name: String,
    /// The `.treaty` text (not yet in `treaty fmt`'s layout).
    pub treaty: String,
    /// What a person should look at, in file order.
    pub notes: Vec<Note>,
}

/// Something the import could not decide, at a place in a `.ddd` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Turns `.ddd` files (name, text) into `.treaty` texts, one per file.
/// Files are imported together: a type one file declares is known to the
/// others of its namespace, and each placeholder is declared once.
pub fn import(files: &[(String, String)]) -> Vec<Imported> {
    let parsed: Vec<(String, Vec<Stmt>, Vec<Note>)> = files
        .iter()
        .map(|(name, text)| {
            let mut parser = Parser::new(text);
            let stmts = parser.items(false);
            (name.clone(), stmts, parser.notes)
        })
        .collect();
    // What each namespace declares, across files.
    let mut records: BTreeMap<String, BTreeMap<String, Vec<Field>>> = BTreeMap::new();
    let mut fragments: BTreeMap<String, BTreeMap<String, Vec<Field>>> = BTreeMap::new();
    let mut messages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut identities: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, stmts, _) in &parsed {
        let ns = namespace_of(stmts);
        walk(stmts, &mut |s| match s {
            Stmt::Contract(c) if matches!(c.marker, Marker::Plain | Marker::Other(_)) => {
                records
                    .entry(ns.clone())
                    .or_default()
                    .insert(type_name(&c.name), c.fields.clone());
            }
            Stmt::Contract(c) => {
                messages.entry(ns.clone()).or_default().insert(type_name(&c.name));
            }
            Stmt::Const(name, fields, _) => {
                fragments
                    .entry(ns.clone())
                    .or_default()
                    .insert(name.clone(), fields.clone());
            }
            Stmt::Interface(i) => {
                if let Some(identity) = &i.identity {
                    identities
                        .entry(ns.clone())
                        .or_default()
                        .insert(declared_name(&identity.ty));
                }
            }
            _ => {}
        });
    }
    let mut declared_placeholders: BTreeSet<(String, String)> = BTreeSet::new();
    parsed
        .into_iter()
        .map(|(name, stmts, mut notes)| {
            let ns = namespace_of(&stmts);
            let mut contract_namespace = None;
            walk(&stmts, &mut |s| {
                if let Stmt::Extern(ns, _) = s {
                    contract_namespace.get_or_insert_with(|| ns.trim().to_string());
                }
            });
            let mut writer = Writer {
                contract_namespace,
                out: String::new(),
                notes: Vec::new(),
                records: records.get(&ns).cloned().unwrap_or_default(),
                fragments: fragments.get(&ns).cloned().unwrap_or_default(),
                messages: messages.get(&ns).cloned().unwrap_or_default(),
                identities: identities.get(&ns).cloned().unwrap_or_default(),
                placeholders: BTreeMap::new(),
            };
            writer.out.push_str(&format!(
                "//! Imported from Lokad's Code DSL (`{}`) by `treaty import-ddd`.\n",
                name
            ));
            if !stmts.iter().any(|s| matches!(s, Stmt::Namespace(..))) {
                writer
                    .out
                    .push_str("// TODO(import-ddd): the .ddd file has no namespace; choose one.\n");
                writer.out.push_str(&format!("namespace {ns};\n"));
                writer.note(1, 1, format!("no namespace; `namespace {ns};` is a placeholder"));
            }
            writer.items(&stmts);
            let mut tail = String::new();
            for (ty, (kind, line, column)) in std::mem::take(&mut writer.placeholders) {
                if !declared_placeholders.insert((ns.clone(), ty.clone())) {
                    continue;
                }
                match kind {
                    PlaceholderKind::Id => {
                        tail.push_str(&format!(
                            "\n// TODO(import-ddd): `{ty}` identifies an aggregate and is defined in C#, not in the \
                             .ddd files: set its inner type (Uuid, String, u64 or i64).\nid {ty}: Uuid;\n"
                        ));
                        writer.note(
                            line,
                            column,
                            format!("`{ty}` is defined in C#: declared as `id {ty}: Uuid;`"),
                        );
                    }
                    PlaceholderKind::Record => {
                        tail.push_str(&format!(
                            "\n// TODO(import-ddd): `{ty}` is defined in C#, not in the .ddd files: declare its \
                             fields (or configure it as an extern type and delete this).\nrecord {ty}();\n"
                        ));
                        writer.note(
                            line,
                            column,
                            format!("`{ty}` is defined in C#: declared as an empty record"),
                        );
                    }
                }
            }
            writer.out.push_str(&tail);
            notes.extend(writer.notes);
            notes.sort_by_key(|n| (n.line, n.column));
            for note in &mut notes {
                note.message = escape_comment(&note.message);
            }
            // Names and text of the `.ddd` file appear in comments and
            // templates; Treaty refuses control and bidirectional control
            // characters anywhere, so none is written.
            let treaty = writer
                .out
                .chars()
                .filter(|c| *c == '\n' || !(c.is_control() || crate::source::is_bidi_control(*c)))
                .collect();
            Imported { name, treaty, notes }
        })
        .collect()
}

fn walk<'a>(stmts: &'a [Stmt], f: &mut impl FnMut(&'a Stmt)) {
    for s in stmts {
        f(s);
        if let Stmt::Interface(i) = s {
            walk(&i.body, f);
        }
    }
}

fn namespace_of(stmts: &[Stmt]) -> String {
    stmts
        .iter()
        .find_map(|s| match s {
            Stmt::Namespace(path, _) => Some(treaty_namespace(path)),
            _ => None,
        })
        .unwrap_or_else(|| "imported".to_string())
}

/// `Lokad.SaaS.Contracts` as `lokad.saa_s.contracts`: lower snake case
/// segments.
fn treaty_namespace(path: &str) -> String {
    let segments: Vec<String> = path
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let snake = naming::suggest_module_name(s);
            if snake.starts_with(|c: char| c.is_ascii_lowercase()) {
                snake
            } else {
                format!("ns_{snake}")
            }
        })
        .collect();
    if segments.is_empty() {
        "imported".to_string()
    } else {
        segments.join(".")
    }
}

// ---- Lokad's syntax ----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    column: usize,
    /// Comments just before the token, one entry per line.
    comments: Vec<String>,
}

/// The tokens of `text`, and the comments after the last one.
fn lex(text: &str) -> (Vec<Token>, Vec<String>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut comments = Vec::new();
    let (mut i, mut line, mut column) = (0, 1, 1);
    let advance = |i: &mut usize, line: &mut usize, column: &mut usize, c: char| {
        *i += 1;
        if c == '\n' {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let (start_line, start_column) = (line, column);
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut column, c);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            let mut comment = String::new();
            while i < chars.len() && chars[i] != '\n' {
                comment.push(chars[i]);
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut column, ch);
                }
            }
            let body = comment.trim_start_matches('/').trim_end();
            comments.push(escape_comment(body.strip_prefix(' ').unwrap_or(body)));
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut comment = String::new();
            advance(&mut i, &mut line, &mut column, '/');
            advance(&mut i, &mut line, &mut column, '*');
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                comment.push(chars[i]);
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut column, ch);
                }
            }
            if i < chars.len() {
                advance(&mut i, &mut line, &mut column, '*');
                advance(&mut i, &mut line, &mut column, '/');
            }
            for l in comment.lines() {
                let l = l.trim().trim_start_matches('*').trim();
                if !l.is_empty() {
                    comments.push(escape_comment(l));
                }
            }
        } else if c == '"' || (c == '@' && chars.get(i + 1) == Some(&'"')) {
            let verbatim = c == '@';
            if verbatim {
                advance(&mut i, &mut line, &mut column, '@');
            }
            advance(&mut i, &mut line, &mut column, '"');
            let mut s = String::new();
            while i < chars.len() && chars[i] != '"' && chars[i] != '\n' {
                if chars[i] == '\\' && !verbatim && i + 1 < chars.len() && chars[i + 1] != '\n' {
                    advance(&mut i, &mut line, &mut column, '\\');
                }
                s.push(chars[i]);
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut column, ch);
                }
            }
            if i < chars.len() && chars[i] == '"' {
                advance(&mut i, &mut line, &mut column, '"');
            }
            tokens.push(Token {
                tok: Tok::Str(s),
                line: start_line,
                column: start_column,
                comments: std::mem::take(&mut comments),
            });
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                s.push(chars[i]);
                {
                    let ch = chars[i];
                    advance(&mut i, &mut line, &mut column, ch);
                }
            }
            tokens.push(Token {
                tok: Tok::Ident(s),
                line: start_line,
                column: start_column,
                comments: std::mem::take(&mut comments),
            });
        } else {
            advance(&mut i, &mut line, &mut column, c);
            tokens.push(Token {
                tok: Tok::Punct(c),
                line: start_line,
                column: start_column,
                comments: std::mem::take(&mut comments),
            });
        }
    }
    (tokens, comments)
}

#[derive(Debug, Clone)]
struct Field {
    /// The C# type as written (`int?`, `string[]`); empty for a fragment.
    ty: String,
    name: String,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Command,
    Event,
    Plain,
    /// A marker Lokad's samples do not use, kept for a person.
    Other(char),
}

#[derive(Debug, Clone)]
struct Contract {
    name: String,
    marker: Marker,
    fields: Vec<Field>,
    template: Option<String>,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone)]
struct Interface {
    name: String,
    identity: Option<Field>,
    body: Vec<Stmt>,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone)]
enum Stmt {
    Comments(Vec<String>),
    Namespace(String, Vec<String>),
    Extern(String, Vec<String>),
    Using(String, Vec<String>),
    Const(String, Vec<Field>, Vec<String>),
    Marker(char, String, Vec<String>),
    Interface(Interface),
    Contract(Contract),
    Skipped(String, usize, usize),
}

struct Parser {
    tokens: Vec<Token>,
    /// Comments after the last token.
    trailing: Vec<String>,
    at: usize,
    notes: Vec<Note>,
}

impl Parser {
    fn new(text: &str) -> Self {
        let (tokens, trailing) = lex(text);
        Parser {
            tokens,
            trailing,
            at: 0,
            notes: Vec::new(),
        }
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.tokens.get(self.at + n).map(|t| &t.tok)
    }

    fn position(&self) -> (usize, usize) {
        self.tokens
            .get(self.at)
            .or(self.tokens.last())
            .map_or((1, 1), |t| (t.line, t.column))
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).map(|t| t.tok.clone());
        self.at += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.at += 1;
                Some(s)
            }
            _ => None,
        }
    }

    /// `A.B.C`, with `<...>` generic arguments kept as written.
    fn path(&mut self) -> String {
        let mut path = self.ident().unwrap_or_default();
        while self.peek() == Some(&Tok::Punct('.')) && matches!(self.peek_at(1), Some(Tok::Ident(_))) {
            self.at += 1;
            path.push('.');
            path.push_str(&self.ident().unwrap_or_default());
        }
        if self.peek() == Some(&Tok::Punct('<')) {
            let mut depth = 0usize;
            while let Some(t) = self.peek().cloned() {
                match t {
                    Tok::Punct('<') => depth += 1,
                    Tok::Punct('>') => depth = depth.saturating_sub(1),
                    Tok::Punct(';' | '(' | ')' | '{' | '}') => break,
                    _ => {}
                }
                path.push_str(&tok_text(&t));
                self.at += 1;
                if depth == 0 {
                    break;
                }
            }
        }
        path
    }

    fn comments(&mut self) -> Vec<String> {
        self.tokens
            .get_mut(self.at)
            .map(|t| std::mem::take(&mut t.comments))
            .unwrap_or_default()
    }

    /// Statements up to the end of the file, or to the `}` closing an
    /// interface body when `in_body`.
    fn items(&mut self, in_body: bool) -> Vec<Stmt> {
        let mut stmts = Vec::new();
        while self.at < self.tokens.len() {
            let comments = self.comments();
            if !comments.is_empty() {
                stmts.push(Stmt::Comments(comments));
            }
            if in_body && self.eat('}') {
                self.eat(';');
                return stmts;
            }
            if self.eat(';') {
                continue;
            }
            let (line, column) = self.position();
            let start = self.at;
            let count = stmts.len();
            self.statement(&mut stmts, line, column);
            // Comments inside the statement (in a field list, before a
            // template) go above it.
            let end = self.at.min(self.tokens.len());
            let inner: Vec<String> = self.tokens[(start + 1).min(end)..end]
                .iter_mut()
                .flat_map(|t| std::mem::take(&mut t.comments))
                .collect();
            if !inner.is_empty() {
                stmts.insert(count, Stmt::Comments(inner));
            }
        }
        if in_body {
            let (line, column) = self.position();
            self.note(line, column, "an interface body is not closed with `}`".to_string());
        } else if !self.trailing.is_empty() {
            stmts.push(Stmt::Comments(std::mem::take(&mut self.trailing)));
        }
        stmts
    }

    /// One statement at the current token, pushed onto `stmts`.
    fn statement(&mut self, stmts: &mut Vec<Stmt>, line: usize, column: usize) {
        {
            let keyword = match self.peek() {
                Some(Tok::Ident(s)) => s.clone(),
                _ => String::new(),
            };
            let follows_name = matches!(self.peek_at(1), Some(Tok::Ident(_)));
            match keyword.as_str() {
                "namespace" if follows_name => {
                    self.at += 1;
                    let path = self.path();
                    self.eat(';');
                    stmts.push(Stmt::Namespace(path, Vec::new()));
                }
                "extern" if matches!(self.peek_at(1), Some(Tok::Str(_))) => {
                    self.at += 1;
                    let Some(Tok::Str(s)) = self.next() else {
                        unreachable!("checked above")
                    };
                    self.eat(';');
                    stmts.push(Stmt::Extern(s, Vec::new()));
                }
                "using" if follows_name => {
                    self.at += 1;
                    let path = self.path();
                    self.eat(';');
                    stmts.push(Stmt::Using(path, Vec::new()));
                }
                "const" | "let" if follows_name && self.peek_at(2) == Some(&Tok::Punct('=')) => {
                    self.at += 1;
                    let name = self.ident().unwrap_or_default();
                    self.at += 1;
                    let fields = self.fields(&[';', '}']);
                    self.eat(';');
                    stmts.push(Stmt::Const(name, fields, Vec::new()));
                }
                "if" if matches!(self.peek_at(1), Some(Tok::Punct('?' | '!')))
                    && self.peek_at(2) == Some(&Tok::Punct('=')) =>
                {
                    self.at += 1;
                    let Some(Tok::Punct(kind)) = self.next() else {
                        unreachable!("checked above")
                    };
                    self.at += 1;
                    let path = self.path();
                    self.eat(';');
                    stmts.push(Stmt::Marker(kind, path, Vec::new()));
                }
                "interface" if follows_name => {
                    self.at += 1;
                    let name = self.ident().unwrap_or_default();
                    let mut identity = None;
                    if self.eat('(') {
                        let mut fields = self.fields(&[')']);
                        self.eat(')');
                        if fields.len() > 1 {
                            self.note(line, column, format!("interface `{name}` has more than one identity field; the first is kept and the others are dropped"));
                        }
                        identity = (!fields.is_empty()).then(|| fields.remove(0));
                    }
                    let body = if self.eat('{') {
                        self.items(true)
                    } else {
                        self.note(line, column, format!("interface `{name}` has no `{{ ... }}` body"));
                        Vec::new()
                    };
                    stmts.push(Stmt::Interface(Interface {
                        name,
                        identity,
                        body,
                        line,
                        column,
                    }));
                }
                _ if !keyword.is_empty() => {
                    // A contract: `Name?(...)`, `Name!(...)`, `Name(...)`,
                    // or a marker Lokad's samples do not use.
                    let name = self.ident().unwrap_or_default();
                    let marker = match self.peek() {
                        Some(Tok::Punct('?')) => Some(Marker::Command),
                        Some(Tok::Punct('!')) => Some(Marker::Event),
                        Some(Tok::Punct('(')) => None,
                        Some(Tok::Punct(c)) if !matches!(c, ';' | '{' | '}' | ')' | ',' | '"') => {
                            Some(Marker::Other(*c))
                        }
                        _ => {
                            stmts.push(Stmt::Skipped(name, line, column));
                            return;
                        }
                    };
                    if marker.is_some() {
                        self.at += 1;
                    }
                    if !self.eat('(') {
                        stmts.push(Stmt::Skipped(name, line, column));
                        return;
                    }
                    let fields = self.fields(&[')']);
                    self.eat(')');
                    let mut template = None;
                    if self.peek() == Some(&Tok::Ident("explicit".into())) {
                        self.at += 1;
                        if let Some(Tok::Str(s)) = self.peek().cloned() {
                            self.at += 1;
                            template = Some(s);
                        }
                    }
                    self.eat(';');
                    stmts.push(Stmt::Contract(Contract {
                        name,
                        marker: marker.unwrap_or(Marker::Plain),
                        fields,
                        template,
                        line,
                        column,
                    }));
                }
                _ => {
                    let text = self.next().map(|t| tok_text(&t)).unwrap_or_default();
                    stmts.push(Stmt::Skipped(text, line, column));
                }
            }
        }
    }

    /// Fields up to one of `end` (not consumed): `Type name`, a fragment
    /// name alone, with C# attributes `[...]` dropped.
    fn fields(&mut self, end: &[char]) -> Vec<Field> {
        let mut fields = Vec::new();
        loop {
            match self.peek() {
                None => return fields,
                Some(Tok::Punct(c)) if end.contains(c) => return fields,
                _ => {}
            }
            let (line, column) = self.position();
            while self.peek() == Some(&Tok::Punct('[')) {
                let mut text = String::new();
                while let Some(t) = self.next() {
                    if t == Tok::Punct(']') {
                        break;
                    }
                    text.push_str(&tok_text(&t));
                }
                self.note(line, column, format!("C# attribute `[{text}]` dropped"));
            }
            let mut words = Vec::new();
            while let Some(Tok::Ident(_)) = self.peek() {
                let mut word = self.path();
                loop {
                    if self.peek() == Some(&Tok::Punct('[')) && self.peek_at(1) == Some(&Tok::Punct(']')) {
                        self.at += 2;
                        word.push_str("[]");
                    } else if self.eat('?') {
                        word.push('?');
                    } else {
                        break;
                    }
                }
                words.push(word);
            }
            match words.len() {
                0 => {}
                1 => fields.push(Field {
                    ty: String::new(),
                    name: words.remove(0),
                    line,
                    column,
                }),
                _ => {
                    if words.len() > 2 {
                        self.note(
                            line,
                            column,
                            format!(
                                "field `{}` not understood; read as `{} {}`",
                                words.join(" "),
                                words[0],
                                words[words.len() - 1]
                            ),
                        );
                    }
                    let name = words.pop().unwrap_or_default();
                    fields.push(Field {
                        ty: words.remove(0),
                        name,
                        line,
                        column,
                    });
                }
            }
            match self.peek() {
                Some(Tok::Punct(',')) => self.at += 1,
                Some(Tok::Punct(c)) if end.contains(c) => return fields,
                None => return fields,
                Some(t) => {
                    let text = tok_text(t);
                    self.note(
                        line,
                        column,
                        format!("`{text}` in a field list is not understood and dropped"),
                    );
                    self.at += 1;
                }
            }
        }
    }

    fn note(&mut self, line: usize, column: usize, message: String) {
        self.notes.push(Note { line, column, message });
    }
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => s.clone(),
        Tok::Str(s) => format!("\"{s}\""),
        Tok::Punct(c) => c.to_string(),
    }
}

fn base_type(ty: &str) -> &str {
    ty.trim_end_matches(['?', '[', ']'])
}

// ---- Treaty's syntax ----

#[derive(Debug, Clone, Copy)]
enum PlaceholderKind {
    Id,
    Record,
}

struct Writer {
    /// The file's `extern "..."`: the data contract namespace that
    /// Lokad.CQRS put before each class name in contract names.
    contract_namespace: Option<String>,
    out: String,
    notes: Vec<Note>,
    records: BTreeMap<String, Vec<Field>>,
    fragments: BTreeMap<String, Vec<Field>>,
    messages: BTreeSet<String>,
    identities: BTreeSet<String>,
    placeholders: BTreeMap<String, (PlaceholderKind, usize, usize)>,
}

impl Writer {
    fn note(&mut self, line: usize, column: usize, message: String) {
        self.notes.push(Note { line, column, message });
    }

    fn comments(&mut self, comments: &[String]) {
        for c in comments {
            self.out.push_str(&format!("// {c}\n"));
        }
    }

    fn items(&mut self, stmts: &[Stmt]) {
        for stmt in stmts {
            self.item(stmt, None);
        }
    }

    fn item(&mut self, stmt: &Stmt, identity: Option<&Field>) {
        match stmt {
            Stmt::Comments(c) => self.comments(c),
            Stmt::Namespace(path, c) => {
                self.comments(c);
                self.out.push_str(&format!("namespace {};\n", treaty_namespace(path)));
            }
            Stmt::Extern(s, c) => {
                self.comments(c);
                self.out.push_str(&format!(
                    "// Lokad: extern \"{}\" (the data contract namespace)\n",
                    escape_comment(s)
                ));
            }
            Stmt::Using(path, c) => {
                self.comments(c);
                self.out.push_str(&format!("// Lokad: using {path};\n"));
            }
            Stmt::Marker(kind, path, c) => {
                self.comments(c);
                let what = if *kind == '?' { "commands" } else { "events" };
                self.out.push_str(&format!(
                    "// Lokad: {what} below implement `{path}` (if {kind} = {path};)\n"
                ));
            }
            Stmt::Const(name, fields, c) => {
                self.comments(c);
                // A Treaty fragment holds fields only: a fragment named in
                // one is expanded, one level deep.
                let mut expanded = Vec::new();
                for f in fields {
                    if !f.ty.is_empty() {
                        expanded.push(f.clone());
                        continue;
                    }
                    match self.fragments.get(&f.name).filter(|_| &f.name != name).cloned() {
                        Some(inner) => expanded.extend(inner.into_iter().filter(|g| !g.ty.is_empty())),
                        None => {
                            self.note(
                                f.line,
                                f.column,
                                format!("`{}` in fragment `{name}` has no type; written as `String`", f.name),
                            );
                            expanded.push(Field {
                                ty: "string".into(),
                                ..f.clone()
                            });
                        }
                    }
                }
                let fields = self.fields(&expanded);
                if fields.is_empty() {
                    self.out
                        .push_str(&format!("// TODO(import-ddd): the fragment `{name}` has no fields\n"));
                } else {
                    self.out
                        .push_str(&format!("const {} = {};\n", field_name(name), fields.join(", ")));
                }
            }
            Stmt::Interface(i) => self.interface(i),
            Stmt::Contract(c) => self.contract(c, identity),
            Stmt::Skipped(text, line, column) => {
                self.out.push_str(&format!(
                    "// TODO(import-ddd): not understood: {}\n",
                    escape_comment(text)
                ));
                self.note(*line, *column, format!("`{text}` is not understood; kept as a comment"));
            }
        }
    }

    fn interface(&mut self, i: &Interface) {
        let Some(identity) = &i.identity else {
            self.out.push_str(&format!(
                "// Lokad: interface {} (without an identity; its messages are declared on their own)\n",
                i.name
            ));
            for s in &i.body {
                self.item(s, None);
            }
            return;
        };
        let ty = match base_type(&identity.ty) {
            "" => String::new(),
            t if is_builtin(t) || hints::type_alias(t).is_some() => t.to_string(),
            t => type_name(t.rsplit('.').next().unwrap_or(t)),
        };
        if ty.is_empty() {
            self.note(
                identity.line,
                identity.column,
                format!("the identity `{}` of interface `{}` has no type", identity.name, i.name),
            );
        } else if hints::type_alias(&ty).is_none() && !is_builtin(&ty) {
            self.placeholder(&ty, PlaceholderKind::Id, identity.line, identity.column);
        } else {
            self.note(
                i.line,
                i.column,
                format!(
                    "interface `{}` is identified by `{}`; Treaty wants an id type",
                    i.name, identity.ty
                ),
            );
        }
        let id_type = if ty.is_empty() || is_builtin(&ty) || hints::type_alias(&ty).is_some() {
            let id = format!("{}Id", i.name);
            self.placeholder(&id, PlaceholderKind::Id, identity.line, identity.column);
            id
        } else {
            ty
        };
        self.out.push_str(&format!(
            "aggregate {}({}: {}{}) {{\n",
            type_name(&i.name),
            treaty_field(&identity.name),
            id_type,
            wire_suffix(&identity.name)
        ));
        // Only messages and comments belong in an aggregate; anything
        // else Lokad allowed there is declared after it.
        let inside = |s: &Stmt| {
            matches!(s, Stmt::Comments(_) | Stmt::Marker(..) | Stmt::Skipped(..))
                || matches!(s, Stmt::Contract(c) if matches!(c.marker, Marker::Command | Marker::Event))
        };
        for s in i.body.iter().filter(|s| inside(s)) {
            self.item(s, Some(identity));
        }
        self.out.push_str("}\n");
        for s in i.body.iter().filter(|s| !inside(s)) {
            self.item(s, None);
        }
    }

    fn contract(&mut self, c: &Contract, identity: Option<&Field>) {
        let fields = self.fields(&c.fields);
        let name = type_name(&c.name);
        if name != c.name {
            self.note(
                c.line,
                c.column,
                format!(
                    "`{}` is renamed `{name}`, as Treaty type names are upper camel case",
                    c.name
                ),
            );
        }
        let display = c.template.as_ref().map(|t| self.template(c, t, identity));
        let display = display.map_or(String::new(), |d| format!(" display \"{d}\""));
        match c.marker {
            Marker::Plain => self
                .out
                .push_str(&format!("record {name}({}){display};\n", fields.join(", "))),
            Marker::Command | Marker::Event => {
                let kind = if c.marker == Marker::Command { '?' } else { '!' };
                // Lokad.CQRS named a contract `Namespace/Name` after its
                // `[DataContract]` (the file's `extern`), else by its class
                // name.
                let contract = match &self.contract_namespace {
                    Some(ns) if !ns.is_empty() => format!("{ns}/{}", c.name),
                    _ => c.name.clone(),
                };
                let wire = if crate::wire::problem(&contract).is_none() && !contract.contains(['"', '\\']) {
                    format!(" wire \"{contract}\"")
                } else {
                    self.note(
                        c.line,
                        c.column,
                        format!(
                            "`{}`: the contract name `{contract}` is not a usable wire name; the message is named `{name}` on the wire",
                            c.name
                        ),
                    );
                    String::new()
                };
                self.out
                    .push_str(&format!("{name}{kind}{wire}({}){display};\n", fields.join(", ")));
            }
            Marker::Other(m) => {
                self.out.push_str(&format!(
                    "// TODO(import-ddd): `{}{m}` has a marker Treaty does not know; it is kept as a record: make it a command (`?`) or an event (`!`) if it is one.\n",
                    c.name
                ));
                self.note(
                    c.line,
                    c.column,
                    format!("`{}{m}`: unknown marker `{m}`; kept as a record", c.name),
                );
                self.out
                    .push_str(&format!("record {name}({}){display};\n", fields.join(", ")));
            }
        }
    }

    /// Lokad's template as Treaty's: each `{placeholder}` names a field as
    /// declared, matched the way Lokad matched it (case-insensitively, or
    /// by fragment name); a format such as `{at:yyyy-MM-dd}` is dropped.
    fn template(&mut self, c: &Contract, template: &str, identity: Option<&Field>) -> String {
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Some(id) = identity {
            fields.push((id.name.clone(), String::new()));
        }
        for f in &c.fields {
            if f.ty.is_empty() {
                for g in self.fragments.get(&f.name).cloned().unwrap_or_default() {
                    fields.push((g.name.clone(), f.name.clone()));
                }
            } else {
                fields.push((f.name.clone(), String::new()));
            }
        }
        let types: BTreeMap<String, String> = c
            .fields
            .iter()
            .filter(|f| !f.ty.is_empty())
            .map(|f| (f.name.clone(), f.ty.clone()))
            .collect();
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&escape_template_text(&rest[..open]));
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&escape_template_text(&rest[open..]));
                rest = "";
                break;
            };
            let inner = &after[..close];
            let key = inner.split(':').next().unwrap_or("").trim();
            let found = fields
                .iter()
                .find(|(n, _)| n == key)
                .or_else(|| fields.iter().find(|(n, _)| n.eq_ignore_ascii_case(key)))
                .or_else(|| {
                    fields
                        .iter()
                        .find(|(_, fragment)| fragment.eq_ignore_ascii_case(key) && !fragment.is_empty())
                });
            let showable = found.is_some_and(|(n, _)| types.get(n).is_none_or(|t| self.showable(t)));
            match found {
                Some((n, _)) if showable => out.push_str(&format!("{{{}}}", treaty_field(n))),
                _ => {
                    out.push_str(&escape_template_text(key));
                    self.note(
                        c.line,
                        c.column,
                        format!("`{}`: the placeholder `{{{inner}}}` names no field a template can show; kept as the text `{key}`", c.name),
                    );
                }
            }
            rest = &after[close + 1..];
        }
        out.push_str(&escape_template_text(rest));
        out
    }

    /// Whether a template can show a field of C# type `ty`: scalars
    /// other than bytes, and ids, but not lists or records.
    fn showable(&mut self, ty: &str) -> bool {
        let t = self.treaty_type(ty, 0, 0, false);
        !(t.starts_with('[')
            || t.starts_with("Bytes")
            || self.records.contains_key(&declared_name(ty))
            || self.placeholders.contains_key(&declared_name(ty))
            || (!is_builtin(t.trim_end_matches('?')) && !self.identities.contains(&declared_name(ty))))
    }

    fn fields(&mut self, fields: &[Field]) -> Vec<String> {
        fields
            .iter()
            .map(|f| {
                if f.ty.is_empty() {
                    if !self.fragments.contains_key(&f.name) {
                        self.note(
                            f.line,
                            f.column,
                            format!(
                                "`{}` is neither a field nor a known fragment; kept as a `String` field",
                                f.name
                            ),
                        );
                        return format!("{}: String{}", treaty_field(&f.name), wire_suffix(&f.name));
                    }
                    field_name(&f.name)
                } else {
                    format!(
                        "{}: {}{}",
                        treaty_field(&f.name),
                        self.treaty_type(&f.ty, f.line, f.column, true),
                        wire_suffix(&f.name)
                    )
                }
            })
            .collect()
    }

    /// A C# type as Treaty's; unknown names become placeholders when
    /// `declare`.
    fn treaty_type(&mut self, ty: &str, line: usize, column: usize, declare: bool) -> String {
        if let Some(inner) = ty.strip_suffix("[]") {
            if inner == "byte" {
                return "Bytes".into();
            }
            return format!("[{}]", self.treaty_type(inner, line, column, declare));
        }
        if let Some(inner) = ty.strip_suffix('?') {
            let inner = self.treaty_type(inner, line, column, declare);
            return if inner.ends_with('?') {
                inner
            } else {
                format!("{inner}?")
            };
        }
        match ty {
            "string" | "String" => return "String".into(),
            "bool" => return "bool".into(),
            "decimal" | "Decimal" => return "Decimal".into(),
            _ => {}
        }
        if is_builtin(ty) {
            return ty.to_string();
        }
        match hints::type_alias(ty) {
            Some(Alias {
                treaty: Treaty::Type(t),
                ..
            }) => return t.to_string(),
            Some(Alias {
                treaty: Treaty::Advice(_),
                ..
            }) if ty == "TimeSpan" || ty == "Duration" => {
                if declare {
                    self.note(line, column, format!("`{ty}` has no counterpart; written as `i64` (TODO: name the unit, and check how Lokad stored it)"));
                }
                return "i64".into();
            }
            _ => {}
        }
        let name = type_name(ty.rsplit('.').next().unwrap_or(ty));
        if declare && !self.records.contains_key(&name) {
            if self.messages.contains(&name) {
                self.note(line, column, format!("`{name}` is a message, which a field cannot hold; a placeholder record `{name}Data` stands for it"));
                let data = format!("{name}Data");
                self.placeholder(&data, PlaceholderKind::Record, line, column);
                return data;
            }
            let kind = if self.identities.contains(&name) {
                PlaceholderKind::Id
            } else {
                PlaceholderKind::Record
            };
            self.placeholder(&name, kind, line, column);
        }
        name
    }

    fn placeholder(&mut self, name: &str, kind: PlaceholderKind, line: usize, column: usize) {
        if self.records.contains_key(name) {
            return;
        }
        self.placeholders
            .entry(name.to_string())
            .or_insert((kind, line, column));
    }
}

/// The Treaty name of the type a C# type `ty` names (`A.B.Money[]` is
/// `Money`).
fn declared_name(ty: &str) -> String {
    let base = base_type(ty);
    type_name(base.rsplit('.').next().unwrap_or(base))
}

fn is_builtin(name: &str) -> bool {
    crate::schema::Scalar::from_name(name).is_some()
}

/// A field or fragment name Treaty reads: not starting with a digit.
fn field_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        "field".to_string()
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("n{name}")
    } else {
        name
    }
}

/// The Treaty name of a Lokad field: snake case, as Rust fields are.
fn treaty_field(name: &str) -> String {
    let written = field_name(name);
    let snake = heck::ToSnakeCase::to_snake_case(written.as_str());
    if snake.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && !snake.trim_matches('_').is_empty() {
        snake
    } else {
        written
    }
}

/// The name Lokad put on the wire for a field: its Code DSL generator made
/// each field a C# property with the first letter upper case, and
/// serializers write property names.
fn wire_field(name: &str) -> String {
    let written = field_name(name);
    let mut chars = written.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// ` wire "Name"` after a field, when its wire name is not its Treaty name.
fn wire_suffix(name: &str) -> String {
    let wire = wire_field(name);
    if wire == treaty_field(name) {
        String::new()
    } else {
        format!(" wire \"{wire}\"")
    }
}

/// A type name Treaty accepts: upper camel case.
fn type_name(name: &str) -> String {
    if naming::is_type_name(name) && name.chars().all(|c| c.is_ascii_alphanumeric()) {
        name.to_string()
    } else {
        let camel = naming::suggest_type_name(name);
        if camel.starts_with(|c: char| c.is_ascii_alphabetic()) {
            camel
        } else {
            format!("T{camel}")
        }
    }
}

/// Template text outside placeholders, as a Treaty string body: braces
/// doubled, quotes and backslashes escaped.
fn escape_template_text(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || crate::source::is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

fn escape_comment(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !crate::source::is_bidi_control(*c))
        .collect()
}
