//! The input files of a compilation and positions within them.
//!
//! Reading input is the only I/O this crate does, and it happens here.

use std::path::{Path, PathBuf};

use codespan_reporting::files::Files;

/// The UTF-8 byte order mark.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// Whether `c` is a bidirectional control character: the embeddings,
/// overrides and isolates (U+202A to U+202E, U+2066 to U+2069) and the
/// invisible direction marks (U+200E, U+200F, U+061C). They make text
/// display in another order than it is read, so that a contract can look
/// like something it is not ("Trojan Source"); contracts refuse them, and
/// rustc refuses the first group in code it compiles.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// The Unicode name of a bidirectional control character, for messages.
pub fn bidi_control_name(c: char) -> &'static str {
    match c {
        '\u{202a}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202b}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202c}' => "POP DIRECTIONAL FORMATTING",
        '\u{202d}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202e}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200e}' => "LEFT-TO-RIGHT MARK",
        '\u{200f}' => "RIGHT-TO-LEFT MARK",
        '\u{061c}' => "ARABIC LETTER MARK",
        _ => "a character",
    }
}

/// Whether `c` would disturb text that shows it: a control character
/// other than tab and newline, or a bidirectional control. Rendered
/// diagnostics never print these raw.
pub fn is_unprintable(c: char) -> bool {
    (c.is_control() && c != '\t' && c != '\n') || is_bidi_control(c)
}

/// Identifies one file of a [`Sources`] set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub(crate) usize);

/// One input: its display name (usually a path) and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name errors show, usually the path as given.
    pub name: String,
    /// The text. Bytes that are not UTF-8 were replaced by U+FFFD; the
    /// parser reports them.
    pub text: String,
    /// Where the first byte that is not valid UTF-8 was, if any.
    pub invalid_utf8_at: Option<usize>,
    line_starts: Vec<usize>,
}

/// A line and column, both counted from 1; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineColumn {
    /// The line, from 1.
    pub line: usize,
    /// The column in characters, from 1.
    pub column: usize,
}

/// The set of files compiled together.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

/// A file or directory that could not be read.
#[derive(Debug)]
pub struct LoadError {
    /// The path that failed.
    pub path: PathBuf,
    /// Why.
    pub error: std::io::Error,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl Sources {
    /// An empty set.
    pub fn new() -> Self {
        Sources::default()
    }

    /// Adds a file from its bytes. Bytes that are not UTF-8 do not stop
    /// the load; the parser reports them as an error with their position.
    /// A byte order mark at the start is dropped, as editors that write one
    /// do not show it: positions count from the text after it.
    pub fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> SourceId {
        let mut bytes = bytes.into();
        if bytes.starts_with(BOM) {
            bytes.drain(..BOM.len());
        }
        let (text, invalid_utf8_at) = match String::from_utf8(bytes) {
            Ok(text) => (text, None),
            Err(error) => {
                let at = error.utf8_error().valid_up_to();
                (String::from_utf8_lossy(error.as_bytes()).into_owned(), Some(at))
            }
        };
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        self.files.push(SourceFile {
            name: name.into(),
            text,
            invalid_utf8_at,
            line_starts,
        });
        SourceId(self.files.len() - 1)
    }

    /// Reads files and directories: a directory contributes every `*.treaty`
    /// file below it. Files are added in sorted path order so that output
    /// never depends on the order the file system lists them in. Returns
    /// every path read (files and directories), for `rerun-if-changed`.
    pub fn load(&mut self, paths: &[impl AsRef<Path>]) -> Result<Vec<PathBuf>, LoadError> {
        let mut files = Vec::new();
        let mut visited = Vec::new();
        for path in paths {
            collect(path.as_ref(), &mut files, &mut visited)?;
        }
        files.sort();
        files.dedup();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|error| LoadError {
                path: path.clone(),
                error,
            })?;
            self.add(path.display().to_string(), bytes);
            visited.push(path);
        }
        Ok(visited)
    }

    /// The file behind `id`.
    pub fn get(&self, id: SourceId) -> &SourceFile {
        &self.files[id.0]
    }

    /// Every file with its id, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (SourceId(i), f))
    }

    /// How many files there are.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The line and column of `offset` in file `id`.
    pub fn line_column(&self, id: SourceId, offset: usize) -> LineColumn {
        self.get(id).line_column(offset)
    }
}

impl SourceFile {
    /// The line and column of a byte offset.
    pub fn line_column(&self, offset: usize) -> LineColumn {
        let offset = offset.min(self.text.len());
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        LineColumn {
            line: line + 1,
            column: column + 1,
        }
    }

    /// The index (from 0) of the line holding byte `offset`; an offset past
    /// the end is on the last line. A binary search over line starts
    /// computed once, when the file was added.
    pub(crate) fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// How many lines the file has (a final newline starts an empty last
    /// line).
    pub(crate) fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The byte range of line `index`, its line ending included, by
    /// codespan-reporting's rules: the line just past the last is the
    /// empty range at the end of the text, and lines after it do not
    /// exist.
    pub(crate) fn line_range(&self, index: usize) -> Option<std::ops::Range<usize>> {
        let start = |i: usize| match i.cmp(&self.line_starts.len()) {
            std::cmp::Ordering::Less => Some(self.line_starts[i]),
            std::cmp::Ordering::Equal => Some(self.text.len()),
            std::cmp::Ordering::Greater => None,
        };
        Some(start(index)?..start(index + 1)?)
    }
}

fn collect(path: &Path, files: &mut Vec<PathBuf>, visited: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let metadata = std::fs::metadata(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        error,
    })?;
    if !metadata.is_dir() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    visited.push(path.to_path_buf());
    let entries = std::fs::read_dir(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        error,
    })?;
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| LoadError {
            path: path.to_path_buf(),
            error,
        })?;
        children.push(entry.path());
    }
    children.sort();
    for child in children {
        if child.is_dir() {
            collect(&child, files, visited)?;
        } else if child.extension().is_some_and(|e| e == "treaty") {
            files.push(child);
        }
    }
    Ok(())
}

/// Lets codespan-reporting render snippets from our files. Every lookup
/// is a binary search over the line starts computed when each file was
/// added, so rendering many diagnostics of one file takes time linear in
/// their number.
impl<'a> Files<'a> for Sources {
    type FileId = SourceId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: SourceId) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.get(id).name)
    }

    fn source(&'a self, id: SourceId) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.get(id).text)
    }

    fn line_index(&'a self, id: SourceId, byte_index: usize) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self.get(id).line_index(byte_index))
    }

    fn line_range(
        &'a self,
        id: SourceId,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        let file = self.get(id);
        file.line_range(line_index)
            .ok_or(codespan_reporting::files::Error::LineTooLarge {
                given: line_index,
                max: file.line_starts.len() - 1,
            })
    }
}
