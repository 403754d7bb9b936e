//! Turns source text into the syntax tree, reporting every syntax error.

use pest::iterators::Pair;
use pest::Parser as _;

use std::cell::RefCell;

use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic, MAX_DIAGNOSTICS};
use crate::source::{bidi_control_name, is_bidi_control, SourceId, Sources};
use crate::span::{Ident, Span};

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Brackets may nest this deep. Real contracts nest two or three levels;
/// the limit keeps hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 32;

/// After this many syntax errors in one file the rest of it is not read:
/// such a file is not a contract being edited, and since building each
/// error costs the length of its line, a long line of stray punctuation
/// would otherwise take quadratic time. One more diagnostic says so, and
/// with it the file's syntax errors just fit the [`MAX_DIAGNOSTICS`] that
/// are rendered.
const MAX_SYNTAX_ERRORS: usize = MAX_DIAGNOSTICS - 1;

/// Parses file `id`. Returns the items that parsed and a diagnostic for
/// every syntax error: after an error the parser skips to the end of the
/// declaration and goes on.
pub fn parse_file(sources: &Sources, id: SourceId) -> (File, Vec<Diagnostic>) {
    let text = sources.get(id).text.as_str();
    let mut file = File {
        docs: Vec::new(),
        items: Vec::new(),
    };
    let mut diagnostics = Vec::new();
    if let Some(at) = sources.get(id).invalid_utf8_at {
        diagnostics.push(
            Diagnostic::error(Code::InvalidUtf8, Span::point(id, at), "the file is not valid UTF-8")
                .with_label("this byte is not UTF-8")
                .with_help("save the file as UTF-8 text"),
        );
        return (file, diagnostics);
    }
    if let Some(at) = too_deep_at(text) {
        diagnostics.push(
            Diagnostic::error(
                Code::TooDeep,
                Span::new(id, at, at + 1),
                format!("brackets are nested more than {MAX_NESTING} levels deep"),
            )
            .with_label("too deep here")
            .with_help("contracts never need this much nesting; check for a missing closing bracket"),
        );
        return (file, diagnostics);
    }
    let bidi = bidi_controls(id, text);
    let mut syntax_errors = 0;
    let mut open_lokad_bodies = 0usize;
    let mut offset = 0;
    while offset <= text.len() {
        let rest = &text[offset..];
        // The happy path parses without pest's error details, which cost a
        // third of the parse time; a chunk that fails is parsed again with
        // them, for the list of expected tokens.
        let parsed =
            Grammar::parse(Rule::chunk, rest).map_err(|_| with_error_detail(|| Grammar::parse(Rule::chunk, rest)));
        let parsed = match parsed {
            Ok(pairs) => Ok(pairs),
            Err(Ok(_)) => unreachable!("a parse that failed fails again with details"),
            Err(Err(error)) => Err(error),
        };
        match parsed {
            Ok(mut pairs) => {
                let chunk = pairs.next().expect("chunk rule matched");
                let end = chunk.as_span().end();
                let Some(inner) = chunk.into_inner().next() else {
                    break;
                };
                let builder = Builder {
                    source: id,
                    base: offset,
                    problems: RefCell::new(Vec::new()),
                };
                match inner.as_rule() {
                    Rule::EOI => break,
                    Rule::inner_doc => file.docs.push(builder.doc_text(inner)),
                    Rule::item => file.items.push(builder.item(inner)),
                    rule => unreachable!("chunk cannot hold {rule:?}"),
                }
                diagnostics.extend(builder.problems.into_inner());
                offset += end;
            }
            Err(error) => {
                let (at, expected) = expected_at(&error);
                let at = offset + at;
                // The `}` closing a Lokad `interface` whose header was
                // reported: its messages were read as top-level ones.
                if open_lokad_bodies > 0 && text[at..].starts_with('}') && text[offset..at].trim().is_empty() {
                    open_lokad_bodies -= 1;
                    offset = after_optional_semicolon(text, at + 1);
                    continue;
                }
                let (diagnostic, lokad_interface) = syntax_error(id, text, offset, at, &expected);
                diagnostics.push(diagnostic);
                syntax_errors += 1;
                // A declaration that only lacks its `;` before the next
                // declaration is kept, so that nothing using it is
                // reported as unknown.
                if text[at..].starts_with("/*") {
                    // Lokad's block comment: skipped whole.
                    offset = text[at + 2..].find("*/").map_or(text.len() + 1, |n| at + 2 + n + 2);
                } else if let Some((item, problems)) = missing_semicolon_item(id, text, offset, at, &expected) {
                    file.items.push(item);
                    diagnostics.extend(problems);
                    offset = at;
                } else if let Some(body) = lokad_interface.then(|| lokad_body_start(text, at)).flatten() {
                    open_lokad_bodies += 1;
                    offset = body;
                } else {
                    offset = recover(text, offset, at);
                }
                if syntax_errors == MAX_SYNTAX_ERRORS {
                    let at = offset.min(text.len());
                    diagnostics.push(
                        Diagnostic::error(
                            Code::Syntax,
                            Span::point(id, at),
                            format!("{MAX_SYNTAX_ERRORS} syntax errors; the rest of the file is not read"),
                        )
                        .with_label("stopped here")
                        .with_help("fix the errors above first, and check that this is a contract file"),
                    );
                    break;
                }
            }
        }
    }
    if !bidi.is_empty() {
        // Outside strings and comments such a character is also a syntax
        // error, which would only say the same thing less clearly.
        let at_bidi = |at: usize| bidi.binary_search_by_key(&at, |d| d.primary.span.start).is_ok();
        diagnostics.retain(|d| d.code != Code::Syntax || !at_bidi(d.primary.span.start));
        diagnostics.extend(bidi);
    }
    (file, diagnostics)
}

/// An error for each bidirectional control character of the file, in
/// order, at most [`MAX_DIAGNOSTICS`]. They are refused wherever they are
/// (in strings, docs and comments too): they make the text display in
/// another order than it is read, so a reviewer could be shown a contract
/// other than the one that compiles ("Trojan Source").
fn bidi_controls(id: SourceId, text: &str) -> Vec<Diagnostic> {
    text.char_indices()
        .filter(|(_, c)| is_bidi_control(*c))
        .take(MAX_DIAGNOSTICS)
        .map(|(at, c)| {
            Diagnostic::error(
                Code::BidiControl,
                Span::new(id, at, at + c.len_utf8()),
                format!(
                    "bidirectional control character U+{:04X} ({})",
                    u32::from(c),
                    bidi_control_name(c)
                ),
            )
            .with_label("invisible character here")
            .with_help(
                "remove it: it makes text display in another order than it is read, so the contract would not \
                 say what it seems to",
            )
        })
        .collect()
}

/// How many parses want pest's error details now. Pest keeps the switch
/// in one global flag; the count, under a lock, keeps it on while any
/// thread needs it, so parallel parses never lose each other's details.
static ERROR_DETAIL_USERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

fn with_error_detail<T>(parse: impl FnOnce() -> T) -> T {
    {
        let mut users = ERROR_DETAIL_USERS.lock().unwrap_or_else(|e| e.into_inner());
        *users += 1;
        pest::set_error_detail(true);
    }
    let result = parse();
    let mut users = ERROR_DETAIL_USERS.lock().unwrap_or_else(|e| e.into_inner());
    *users -= 1;
    if *users == 0 {
        pest::set_error_detail(false);
    }
    result
}

/// The offset of the first bracket that goes deeper than [`MAX_NESTING`].
fn too_deep_at(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where to resume after a syntax error at `error_at` in the declaration
/// starting at `start`: just after the first `;` at bracket depth zero, or
/// the `}` that closes depth zero, at or after the error.
///
/// When the brackets never balance again (a missing `)`, an unterminated
/// string), there is no such place, and giving up would hide every error
/// in the rest of the file; the first `;` on the error's line or after
/// it, even inside brackets or a broken string, is then the best guess at
/// where the declaration was meant to end.
fn recover(text: &str, start: usize, error_at: usize) -> usize {
    let bytes = text.as_bytes();
    // From the start of the error's line: an unterminated string reports
    // its error at the end of the line, after the `;` it swallowed.
    let line_start = text[..error_at].rfind('\n').map_or(0, |i| i + 1).max(start);
    let fallback = first_semicolon(bytes, line_start).map_or(text.len() + 1, |i| i + 1);
    let declaration_start = start + (text[start..].len() - text[start..].trim_start().len());
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            // Both stop at the line's end, which the next turn looks at.
            b'"' => i = skip_string(bytes, i).saturating_sub(1).max(i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i).saturating_sub(1).max(i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i >= error_at {
                    return after_optional_semicolon(text, i + 1);
                }
            }
            b';' if depth == 0 && i >= error_at => return i + 1,
            b'\n' => {
                // The next declaration, wherever the brackets are: a
                // missing `)` or a construct of another language must not
                // hide it.
                let line = i + 1;
                let first = line + (text[line..].len() - text[line..].trim_start_matches([' ', '\t']).len());
                if first >= error_at && first > declaration_start && starts_declaration(&text[line..]) {
                    return with_preceding_docs(text, error_at, line);
                }
            }
            _ => {}
        }
        i += 1;
    }
    fallback
}

/// Whether `line` (the text from a line's start) starts a declaration:
/// after indentation, a declaration keyword followed by a name (`id: T`
/// is a field, `id T: Uuid` a declaration), a Lokad one (`interface`,
/// `extern "..."`, `using`), or a name followed by `?` or `!`, as a
/// message (or Lokad's `if ? =`) starts.
fn starts_declaration(line: &str) -> bool {
    let line = line.trim_start_matches([' ', '\t']);
    let word = crate::hints::first_word(line);
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let rest = &line[word.len()..];
    let after = rest.trim_start_matches([' ', '\t']);
    let spaced = after.len() < rest.len();
    let keyword = matches!(
        word,
        "namespace" | "use" | "const" | "id" | "record" | "enum" | "aggregate" | "interface" | "using"
    );
    if keyword && spaced && after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return true;
    }
    if word == "extern" && after.starts_with('"') {
        return true;
    }
    after.starts_with(['?', '!'])
}

/// `at`, or the start of the doc comments just above it (after the
/// error), which belong to the declaration starting at `at`.
fn with_preceding_docs(text: &str, error_at: usize, mut at: usize) -> usize {
    while at > 0 {
        let line_start = text[..at - 1].rfind('\n').map_or(0, |i| i + 1);
        if line_start < error_at || !text[line_start..at].trim_start().starts_with("///") {
            break;
        }
        at = line_start;
    }
    at
}

/// When the declaration starting at `start` fails only for want of a
/// `;` before the next declaration (at `at`), the item it is with the
/// `;` added.
fn missing_semicolon_item(
    id: SourceId,
    text: &str,
    start: usize,
    at: usize,
    expected: &[String],
) -> Option<(Item, Vec<Diagnostic>)> {
    let next = &text[at..];
    if !expected.iter().any(|e| e == "`;`") || !(next.is_empty() || next.starts_with("///") || starts_declaration(next))
    {
        return None;
    }
    let end = text[..at].trim_end().len();
    // The added `;` must fall inside the text, on the whitespace after
    // the declaration, for the item's span to stay in the file.
    if end <= start || end >= at {
        return None;
    }
    let patched = format!("{};", &text[start..end]);
    let mut pairs = Grammar::parse(Rule::chunk, &patched).ok()?;
    let chunk = pairs.next()?;
    if chunk.as_span().end() != patched.len() {
        return None;
    }
    let inner = chunk.into_inner().next()?;
    if inner.as_rule() != Rule::item {
        return None;
    }
    let builder = Builder {
        source: id,
        base: start,
        problems: RefCell::new(Vec::new()),
    };
    let item = builder.item(inner);
    Some((item, builder.problems.into_inner()))
}

/// After a Lokad `interface X(...) {` header at `at`: just after its
/// `{`, so that the messages inside are read (and their errors reported)
/// as top-level ones. `None` when there is no `{` before the next `;`.
fn lokad_body_start(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = at;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'{' => return Some(i + 1),
            b';' | b'}' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first `;` at or after `from` that is not in a comment.
fn first_semicolon(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b';' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn after_optional_semicolon(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let trimmed = rest.trim_start();
    if trimmed.starts_with(';') {
        at + (rest.len() - trimmed.len()) + 1
    } else {
        at
    }
}

/// The index of the closing quote of the string starting at `i` (or the
/// end of the line when it is not closed).
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'"' | b'\n' => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn skip_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| i + n)
}

fn error_position(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((p, _)) => p,
    }
}

/// Where a syntax error is and what was expected there, sorted.
///
/// Pest's error position is the furthest place a *rule* was tried, but
/// punctuation (the `:` of `id Name: Uuid;`, the `;` after a namespace)
/// is tried further on without a rule of its own. That further place is
/// where the text really goes wrong, so it wins, with only what was
/// expected there: mixing the two would point at one token and list
/// what was expected after another.
fn expected_at(error: &pest::error::Error<Rule>) -> (usize, Vec<String>) {
    let rule_at = error_position(error);
    let mut rules: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &error.variant {
        rules.extend(positives.iter().filter_map(|r| rule_name(*r)).map(str::to_string));
    }
    let (at, mut expected) = match error.parse_attempts() {
        None => (rule_at, rules),
        Some(attempts) => {
            // Only punctuation worth typing is listed: keywords and
            // character classes are covered by the rule names, and
            // comment or name starts would only be noise.
            let tokens = attempts
                .expected_tokens()
                .into_iter()
                .map(|t| t.to_string())
                .filter(|t| PUNCTUATION.contains(&t.as_str()))
                .map(|t| format!("`{t}`"));
            match attempts.max_position.cmp(&rule_at) {
                std::cmp::Ordering::Less => (rule_at, rules),
                std::cmp::Ordering::Equal => (rule_at, rules.into_iter().chain(tokens).collect()),
                std::cmp::Ordering::Greater => {
                    // Inside a number only digits were expected further
                    // on: name the rule that wanted them.
                    let mut tokens: Vec<String> = tokens.collect();
                    if tokens.is_empty() {
                        tokens.extend(
                            attempts
                                .call_stacks()
                                .iter()
                                .filter_map(|stack| stack.deepest.get_rule().and_then(|r| rule_name(*r)))
                                .map(str::to_string),
                        );
                    }
                    (attempts.max_position, tokens)
                }
            }
        }
    };
    // A rule and the tokens it starts with are the same expectation;
    // the rule's name says it better.
    const COVERED: [(&str, &[&str]); 4] = [
        ("`?` (command) or `!` (event)", &["`?`", "`!`"]),
        ("a string", &["`\"`"]),
        ("a default value", &["`\"`", "`[`", "`{`"]),
        ("a type", &["`[`", "`{`"]),
    ];
    for (rule, tokens) in COVERED {
        if expected.iter().any(|e| e == rule) {
            expected.retain(|e| !tokens.contains(&e.as_str()));
        }
    }
    expected.sort();
    expected.dedup();
    (at, expected)
}

/// The diagnostic for a syntax error at `at` in the declaration starting
/// at `start`, and whether that declaration is a Lokad `interface`.
fn syntax_error(id: SourceId, text: &str, start: usize, at: usize, expected: &[String]) -> (Diagnostic, bool) {
    let found = found_at(text, at);
    let end = text[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    if text[at..].starts_with("/*") {
        let diagnostic = Diagnostic::error(Code::Syntax, Span::new(id, at, at + 2), "Treaty has no block comments")
            .with_label("a block comment starts here")
            .with_help("start each line of the comment with `//` (or `///` to document the declaration below)");
        return (diagnostic, false);
    }
    let (declaration, before) = match declaration_start(text, start, at) {
        Some(first) => (&text[first..], &text[first..at]),
        None => ("", ""),
    };
    if let Some(hint) = crate::hints::lokad_hint(declaration, before, &text[at..], &found) {
        let head = crate::hints::first_word(declaration);
        let interface = head == "interface";
        let span = if hint.at_head {
            let first = text.len() - declaration.len();
            Span::new(id, first, first + head.len())
        } else {
            Span::new(id, at, end)
        };
        let diagnostic = Diagnostic::error(Code::Syntax, span, hint.message)
            .with_label(hint.label)
            .with_help(hint.help);
        return (diagnostic, interface);
    }
    let message = match expected {
        [] => format!("unexpected {found}"),
        [one] => format!("expected {one}, found {found}"),
        [init @ .., last] => format!("expected {} or {last}, found {found}", init.join(", ")),
    };
    let diagnostic = Diagnostic::error(Code::Syntax, Span::new(id, at, end), message)
        .with_label("unexpected here")
        .with_help(syntax_help(expected, text, at));
    (diagnostic, false)
}

/// Where the first word of the declaration that starts at `start` is
/// (after blank space, comments and docs); `None` when the error at `at`
/// comes before it.
fn declaration_start(text: &str, start: usize, at: usize) -> Option<usize> {
    let mut rest = &text[start..];
    loop {
        let trimmed = rest.trim_start();
        if trimmed.starts_with("//") {
            rest = trimmed.find('\n').map_or("", |n| &trimmed[n..]);
        } else {
            rest = trimmed;
            break;
        }
    }
    let first = text.len() - rest.len();
    (first <= at).then_some(first)
}

const PUNCTUATION: [&str; 13] = [";", ",", ":", "=", "?", "!", "(", ")", "[", "]", "{", "}", "\""];

fn syntax_help(expected: &[String], text: &str, at: usize) -> String {
    let next_declaration = starts_declaration(&text[at..]) || text[at..].starts_with("///");
    if expected.iter().any(|e| e == "`;`") && next_declaration {
        "end the declaration before this one with `;`".to_string()
    } else if expected.iter().any(|e| e == "`)`") && next_declaration {
        "close the declaration before this one with `)` and end it with `;`".to_string()
    } else if expected.iter().any(|e| e == "`;`") {
        "end every declaration with `;`".to_string()
    } else if expected == ["a string"] && text[..at].trim_end().ends_with("wire") {
        "write the name on the wire in quotes, such as `wire \"OrderId\"`".to_string()
    } else if expected.iter().any(|e| e == "a type") {
        "write a type: a built-in such as `String` or `u32`, a declared type, `[T]`, `{K: V}` or `T?`".to_string()
    } else {
        "see docs/language.md for the syntax of each declaration".to_string()
    }
}

fn found_at(text: &str, at: usize) -> String {
    let rest = &text[at..];
    match rest.chars().next() {
        None => "end of file".to_string(),
        Some('\n' | '\r') => "end of line".to_string(),
        Some('/') if rest.starts_with("///") => "a doc comment `///`".to_string(),
        Some(c) if c.is_whitespace() => "whitespace".to_string(),
        Some(c) if c.is_alphanumeric() || c == '_' => {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .take(40)
                .collect();
            format!("`{word}`")
        }
        // Quoted as written, unless it cannot be seen.
        Some(c) if c.is_control() || is_invisible(c) => format!("`{}`", c.escape_unicode()),
        Some(c) => format!("`{c}`"),
    }
}

/// Characters that show as nothing, or as something else.
fn is_invisible(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00ad}' | '\u{034f}' | '\u{115f}' | '\u{1160}' | '\u{180e}' | '\u{3164}' | '\u{feff}'
        )
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || ('\u{2028}'..='\u{2064}').contains(&c)
        || ('\u{fff0}'..='\u{fffb}').contains(&c)
}

fn rule_name(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::ident | Rule::path | Rule::fragment_ref => "a name",
        Rule::item | Rule::namespace_decl | Rule::use_decl | Rule::const_decl | Rule::id_decl => "a declaration",
        Rule::record_decl | Rule::enum_decl | Rule::aggregate_decl | Rule::message_decl => "a declaration",
        Rule::aggregate_message => "a command or event",
        Rule::EOI => "end of file",
        Rule::doc | Rule::inner_doc => "a doc comment",
        Rule::fields | Rule::field_item | Rule::field => "a field",
        Rule::type_expr | Rule::list_type | Rule::map_type => "a type",
        Rule::optional => "`?`",
        Rule::default_value | Rule::boolean | Rule::none | Rule::empty_list | Rule::empty_map => "a default value",
        Rule::number => "a number",
        Rule::string => "a string",
        Rule::message_kind => "`?` (command) or `!` (event)",
        Rule::version => "a version such as `v2`",
        Rule::history | Rule::kw_was => "`was`",
        Rule::display | Rule::kw_display => "`display`",
        Rule::variant => "a variant",
        _ => return None,
    })
}

/// Builds AST nodes from pest pairs of one chunk; `base` is the chunk's
/// offset in the file.
struct Builder {
    source: SourceId,
    base: usize,
    /// Problems found while building, such as control characters in docs.
    problems: RefCell<Vec<Diagnostic>>,
}

impl Builder {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.source, self.base + s.start(), self.base + s.end())
    }

    fn ident(&self, pair: Pair<Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    /// The text of a doc comment, without the space after `///` and
    /// trailing whitespace. A control character in it (other than tab) is
    /// an error: the generated code carries docs as comments, where rustc
    /// refuses some (a lone carriage return) and the rest are invisible.
    fn doc_text(&self, pair: Pair<Rule>) -> String {
        let Some(body) = pair.into_inner().next() else {
            return String::new();
        };
        let raw = body.as_str();
        let text = raw.strip_prefix(' ').unwrap_or(raw).trim_end();
        let start = self.base + body.as_span().start() + (raw.len() - raw.strip_prefix(' ').unwrap_or(raw).len());
        if let Some((i, c)) = text.char_indices().find(|(_, c)| c.is_control() && *c != '\t') {
            let at = start + i;
            self.problems.borrow_mut().push(
                Diagnostic::error(
                    Code::ControlCharacter,
                    Span::new(self.source, at, at + c.len_utf8()),
                    format!("control character U+{:04X} in a doc comment", u32::from(c)),
                )
                .with_label("invisible character here")
                .with_help("remove it: documentation is plain text (a tab or spaces may indent it)"),
            );
        }
        text.to_string()
    }

    fn item(&self, pair: Pair<Rule>) -> Item {
        let span = self.span(&pair);
        let mut docs = Vec::new();
        let mut kind = None;
        for inner in pair.into_inner() {
            match inner.as_rule() {
                Rule::doc => docs.push(self.doc_text(inner)),
                Rule::namespace_decl => kind = Some(ItemKind::Namespace(self.path(first(inner, 1)))),
                Rule::use_decl => kind = Some(ItemKind::Use(self.path(first(inner, 1)))),
                Rule::const_decl => kind = Some(ItemKind::Const(self.const_decl(inner))),
                Rule::id_decl => kind = Some(ItemKind::Id(self.id_decl(inner))),
                Rule::record_decl => kind = Some(ItemKind::Record(self.record_decl(inner))),
                Rule::enum_decl => kind = Some(ItemKind::Enum(self.enum_decl(inner))),
                Rule::aggregate_decl => kind = Some(ItemKind::Aggregate(self.aggregate_decl(inner))),
                Rule::message_decl => kind = Some(ItemKind::Message(self.message_decl(inner))),
                rule => unreachable!("item cannot hold {rule:?}"),
            }
        }
        Item {
            docs,
            kind: kind.expect("the grammar requires a declaration in an item"),
            span,
        }
    }

    fn path(&self, pair: Pair<Rule>) -> Path {
        let span = self.span(&pair);
        Path {
            segments: pair.into_inner().map(|p| self.ident(p)).collect(),
            span,
        }
    }

    fn const_decl(&self, pair: Pair<Rule>) -> ConstDecl {
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("const has a name"));
        let fields = inner.map(|p| self.field(p, Vec::new())).collect();
        ConstDecl { name, fields }
    }

    fn id_decl(&self, pair: Pair<Rule>) -> IdDecl {
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("id has a name"));
        let inner_type = self.type_expr(inner.next().expect("id has a type"));
        IdDecl {
            name,
            inner: inner_type,
        }
    }

    fn record_decl(&self, pair: Pair<Rule>) -> RecordDecl {
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("record has a name"));
        let mut fields = Vec::new();
        let mut display = None;
        for p in inner {
            match p.as_rule() {
                Rule::fields => fields = self.fields(p),
                Rule::display => display = Some(self.template(p)),
                rule => unreachable!("record cannot hold {rule:?}"),
            }
        }
        RecordDecl { name, fields, display }
    }

    fn enum_decl(&self, pair: Pair<Rule>) -> EnumDecl {
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("enum has a name"));
        let variants = inner
            .map(|v| {
                let mut docs = Vec::new();
                let mut name = None;
                for p in v.into_inner() {
                    match p.as_rule() {
                        Rule::doc => docs.push(self.doc_text(p)),
                        _ => name = Some(self.ident(p)),
                    }
                }
                Variant {
                    docs,
                    name: name.expect("variant has a name"),
                }
            })
            .collect();
        EnumDecl { name, variants }
    }

    fn aggregate_decl(&self, pair: Pair<Rule>) -> AggregateDecl {
        let mut inner = pair.into_inner().skip(1);
        let name = self.ident(inner.next().expect("aggregate has a name"));
        let identity = self.field(inner.next().expect("aggregate has an identity"), Vec::new());
        let messages = inner
            .map(|m| {
                let mut docs = Vec::new();
                let mut message = None;
                for p in m.into_inner() {
                    match p.as_rule() {
                        Rule::doc => docs.push(self.doc_text(p)),
                        _ => message = Some(self.message_decl(p)),
                    }
                }
                (docs, message.expect("aggregate message has a declaration"))
            })
            .collect();
        AggregateDecl {
            name,
            identity,
            messages,
        }
    }

    fn message_decl(&self, pair: Pair<Rule>) -> MessageDecl {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("message has a name"));
        let kind = match inner.next().expect("message has a kind").as_str() {
            "?" => MessageKind::Command,
            _ => MessageKind::Event,
        };
        let mut message = MessageDecl {
            name,
            kind,
            version: None,
            wire: None,
            fields: Vec::new(),
            history: Vec::new(),
            displays: Vec::new(),
            span,
        };
        for p in inner {
            match p.as_rule() {
                Rule::version => message.version = Some(self.version(p)),
                Rule::wire_name => message.wire = Some(self.wire_name(p)),
                Rule::fields => message.fields = self.fields(p),
                Rule::display => message.displays.push(self.template(p)),
                Rule::history => {
                    let span = self.span(&p);
                    let mut parts = p.into_inner().skip(1);
                    let version = self.version(parts.next().expect("history has a version"));
                    let fields = parts.next().map(|f| self.fields(f)).unwrap_or_default();
                    message.history.push(HistoryEntry { version, fields, span });
                }
                rule => unreachable!("message cannot hold {rule:?}"),
            }
        }
        message
    }

    fn version(&self, pair: Pair<Rule>) -> Version {
        Version {
            number: pair.as_str()[1..].parse().ok(),
            span: self.span(&pair),
        }
    }

    fn fields(&self, pair: Pair<Rule>) -> Vec<FieldItem> {
        pair.into_inner()
            .map(|item| {
                let mut docs = Vec::new();
                let mut out = None;
                for p in item.into_inner() {
                    match p.as_rule() {
                        Rule::doc => docs.push(self.doc_text(p)),
                        Rule::field => out = Some(FieldItem::Field(self.field(p, std::mem::take(&mut docs)))),
                        Rule::fragment_ref => out = Some(FieldItem::Fragment(self.ident(first(p, 0)))),
                        rule => unreachable!("field item cannot hold {rule:?}"),
                    }
                }
                out.expect("field item has a field")
            })
            .collect()
    }

    fn field(&self, pair: Pair<Rule>, docs: Vec<String>) -> FieldDecl {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(inner.next().expect("field has a name"));
        let ty = self.type_expr(inner.next().expect("field has a type"));
        let mut default = None;
        let mut wire = None;
        for p in inner {
            match p.as_rule() {
                Rule::default_value => default = Some(self.default_value(p)),
                Rule::wire_name => wire = Some(Box::new(self.wire_name(p))),
                rule => unreachable!("field cannot hold {rule:?}"),
            }
        }
        FieldDecl {
            docs,
            name,
            ty,
            default,
            wire,
            span,
        }
    }

    fn wire_name(&self, pair: Pair<Rule>) -> WireName {
        let string = pair.into_inner().nth(1).expect("wire has a string");
        WireName {
            span: self.span(&string),
            name: unescape(first(string, 0).as_str()),
        }
    }

    fn type_expr(&self, pair: Pair<Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut optional = false;
        let mut kind = None;
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::optional => optional = true,
                Rule::path => kind = Some(TypeExprKind::Named(self.path(p))),
                Rule::list_type => kind = Some(TypeExprKind::List(Box::new(self.type_expr(first(p, 0))))),
                Rule::map_type => {
                    let mut parts = p.into_inner();
                    let key = self.type_expr(parts.next().expect("map has a key"));
                    let value = self.type_expr(parts.next().expect("map has a value"));
                    kind = Some(TypeExprKind::Map(Box::new(key), Box::new(value)));
                }
                rule => unreachable!("type cannot hold {rule:?}"),
            }
        }
        TypeExpr {
            kind: kind.expect("type has a shape"),
            optional,
            span,
        }
    }

    fn default_value(&self, pair: Pair<Rule>) -> DefaultValue {
        let span = self.span(&pair);
        let p = first(pair, 0);
        let kind = match p.as_rule() {
            Rule::string => DefaultKind::String(unescape(first(p, 0).as_str())),
            Rule::number => DefaultKind::Number(p.as_str().to_string()),
            Rule::boolean => DefaultKind::Bool(p.as_str() == "true"),
            Rule::none => DefaultKind::None,
            Rule::empty_list => DefaultKind::EmptyList,
            Rule::empty_map => DefaultKind::EmptyMap,
            Rule::ident => DefaultKind::Variant(p.as_str().to_string()),
            rule => unreachable!("default cannot hold {rule:?}"),
        };
        DefaultValue { kind, span }
    }

    fn template(&self, pair: Pair<Rule>) -> Template {
        let string = pair.into_inner().nth(1).expect("display has a string");
        let span = self.span(&string);
        let body = first(string, 0);
        Template {
            raw: body.as_str().to_string(),
            raw_start: self.base + body.as_span().start(),
            span,
        }
    }
}

fn first(pair: Pair<Rule>, n: usize) -> Pair<Rule> {
    pair.into_inner().nth(n).expect("the grammar guarantees this child")
}

/// Resolves `\"`, `\\`, `\n`, `\t` and `\r`; any other escaped character
/// stands for itself.
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
