//! A small pretty printer: documents of text, line breaks that a group
//! takes or not depending on whether it fits on the line, indentation, and
//! comments deferred to the end of the line they were met on.
//!
//! Whether a group breaks depends only on widths (never on where the
//! comments are), except for groups built `forced`: that is what keeps
//! the layout of a formatted file the layout of the file formatted again.

/// The widest line the layout aims for, in characters.
pub const WIDTH: usize = 100;
const INDENT: usize = 4;

/// A document.
#[derive(Debug)]
pub(crate) enum Doc {
    /// Text without line breaks.
    Text(String),
    /// A break: a space (nothing when `soft`) when its group is flat, a
    /// new line (after an empty one when `blank`) when it is broken.
    Line { soft: bool, blank: bool },
    /// A new line always (after an empty one when `blank`); only in groups
    /// that are forced to break.
    Hard { blank: bool },
    /// Text only when the group is broken (a trailing comma).
    IfBreak(&'static str),
    /// A `//` comment, written at the end of the current line.
    Comment(String),
    /// Everything inside indented one more level when on a line of its own.
    Indent(Vec<Doc>),
    /// Breaks all its own lines or none.
    Group { force: bool, docs: Vec<Doc> },
}

impl Doc {
    pub(crate) fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }
}

/// Renders `docs`, ending with one line break (nothing for no text).
pub(crate) fn print(docs: &[Doc]) -> String {
    let mut p = Printer {
        out: String::new(),
        col: 0,
        suffixes: Vec::new(),
    };
    let mut stack: Vec<(usize, bool, &Doc)> = docs.iter().rev().map(|d| (0, false, d)).collect();
    while let Some((indent, flat, doc)) = stack.pop() {
        match doc {
            Doc::Text(s) => p.push(s),
            Doc::Line { soft, blank } => {
                if flat {
                    if !soft {
                        p.push(" ");
                    }
                } else {
                    p.newline(indent, *blank);
                }
            }
            Doc::Hard { blank } => p.newline(indent, *blank),
            Doc::IfBreak(s) => {
                if !flat {
                    p.push(s);
                }
            }
            Doc::Comment(c) => p.suffixes.push(c.clone()),
            Doc::Indent(docs) => stack.extend(docs.iter().rev().map(|d| (indent + INDENT, flat, d))),
            Doc::Group { force, docs } => {
                let flat = !force && fits(WIDTH.saturating_sub(p.col), docs, &stack);
                stack.extend(docs.iter().rev().map(|d| (indent, flat, d)));
            }
        }
    }
    p.finish()
}

/// Whether `docs`, flat, and what follows them up to the next line break
/// fit in `room` characters.
fn fits(room: usize, docs: &[Doc], rest: &[(usize, bool, &Doc)]) -> bool {
    let mut room = room as isize;
    let mut work: Vec<(bool, &Doc)> = docs.iter().rev().map(|d| (true, d)).collect();
    let mut rest = rest.iter().rev();
    loop {
        let (flat, doc) = match work.pop() {
            Some(next) => next,
            None => match rest.next() {
                Some(&(_, flat, doc)) => (flat, doc),
                None => return true,
            },
        };
        match doc {
            Doc::Text(s) => room -= s.chars().count() as isize,
            Doc::Line { soft, .. } => {
                if !flat {
                    return true;
                }
                if !soft {
                    room -= 1;
                }
            }
            Doc::Hard { .. } => return true,
            Doc::IfBreak(s) => {
                if !flat {
                    room -= s.len() as isize;
                }
            }
            Doc::Comment(_) => {}
            Doc::Indent(docs) | Doc::Group { docs, .. } => work.extend(docs.iter().rev().map(|d| (flat, d))),
        }
        if room < 0 {
            return false;
        }
    }
}

struct Printer {
    out: String,
    col: usize,
    /// Comments waiting for the end of the line.
    suffixes: Vec<String>,
}

impl Printer {
    fn push(&mut self, s: &str) {
        self.out.push_str(s);
        self.col += s.chars().count();
    }

    /// Writes the waiting comments at the end of the current line, several
    /// of them one after the other.
    fn flush_comments(&mut self) {
        if self.suffixes.is_empty() {
            return;
        }
        let line_start = self.out.rfind('\n').map_or(0, |i| i + 1);
        if !self.out[line_start..].trim().is_empty() {
            self.truncate_spaces();
            self.out.push(' ');
        }
        let comments = std::mem::take(&mut self.suffixes).join(" ");
        self.out.push_str(&comments);
    }

    fn truncate_spaces(&mut self) {
        let kept = self.out.trim_end_matches(' ').len();
        self.out.truncate(kept);
    }

    fn newline(&mut self, indent: usize, blank: bool) {
        self.flush_comments();
        self.truncate_spaces();
        if self.out.is_empty() {
            self.col = 0;
            return;
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        if blank && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.out.push_str(&" ".repeat(indent));
        self.col = indent;
    }

    fn finish(mut self) -> String {
        self.flush_comments();
        let kept = self.out.trim_end().len();
        self.out.truncate(kept);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }
}
