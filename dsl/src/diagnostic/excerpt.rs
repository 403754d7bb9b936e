//! What codespan-reporting is given to render one diagnostic: for each
//! file it points into, an excerpt holding only the lines its labels need,
//! built in time proportional to those lines, never to the file.
//!
//! Lines longer than [`MAX_LINE_CHARS`] characters are shortened to
//! windows around the labels on them, with `…` where text was cut; a label
//! longer than [`MAX_LABEL_CHARS`] on such a line is shown by its start.
//! Characters that would disturb a terminal (controls, bidirectional
//! controls) are shown as `�`, one character for one, so carets stay
//! under what they point at. Line numbers and the columns of the
//! `file:line:column` heading are those of the real file.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error, Files};
use codespan_reporting::term::Config;

use super::{printable, Diagnostic, Severity, CONTEXT_CHARS, MAX_LINE_CHARS};
use crate::source::{is_unprintable, SourceFile, SourceId, Sources};

/// Of a label longer than this on a shortened line, this many characters
/// are shown.
const MAX_LABEL_CHARS: usize = 80;

/// The excerpts of one diagnostic, one per file it points into; a file's
/// id is its index.
pub(super) struct Excerpts<'a> {
    files: Vec<Excerpt<'a>>,
}

struct Excerpt<'a> {
    name: &'a str,
    text: String,
    /// Each line shown: its index in the real file and where it starts in
    /// `text`, in order of both.
    lines: Vec<(usize, usize)>,
    /// The real column (from 1) of each place in `text` a label starts at.
    columns: BTreeMap<usize, usize>,
}

/// A label of the diagnostic, in the real file.
struct Place<'d> {
    primary: bool,
    range: Range<usize>,
    message: &'d str,
}

/// The excerpts of `diagnostic` and the diagnostic in codespan's terms,
/// pointing into them.
pub(super) fn excerpts<'a>(
    sources: &'a Sources,
    diagnostic: &Diagnostic,
    config: &Config,
) -> (Excerpts<'a>, cs::Diagnostic<usize>) {
    // The files in the order the labels name them, primary first.
    let mut by_file: Vec<(SourceId, Vec<Place<'_>>)> = Vec::new();
    let labels = std::iter::once((true, &diagnostic.primary)).chain(diagnostic.secondary.iter().map(|l| (false, l)));
    for (primary, label) in labels {
        let place = Place {
            primary,
            range: label.span.start..label.span.end,
            message: &label.message,
        };
        match by_file.iter_mut().find(|(id, _)| *id == label.span.source) {
            Some((_, places)) => places.push(place),
            None => by_file.push((label.span.source, vec![place])),
        }
    }
    let mut files = Vec::with_capacity(by_file.len());
    let mut labels = Vec::new();
    for (index, (id, places)) in by_file.iter().enumerate() {
        let (excerpt, ranges) = Excerpt::build(sources.get(*id), places, config);
        files.push(excerpt);
        for (place, range) in places.iter().zip(ranges) {
            let label = if place.primary {
                cs::Label::primary(index, range)
            } else {
                cs::Label::secondary(index, range)
            };
            labels.push(label.with_message(printable(place.message)));
        }
    }
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut out = cs::Diagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(printable(&diagnostic.message))
        .with_labels(labels);
    if let Some(help) = &diagnostic.help {
        out = out.with_notes(vec![format!("help: {}", printable(help))]);
    }
    (Excerpts { files }, out)
}

impl<'a> Excerpt<'a> {
    /// The excerpt of `file` for `places`, and each place's range in it.
    fn build(file: &'a SourceFile, places: &[Place<'_>], config: &Config) -> (Excerpt<'a>, Vec<Range<usize>>) {
        let text = file.text.as_str();
        let last_line = file.line_count() - 1;
        // Ranges inside the text, on character boundaries.
        let ranges: Vec<Range<usize>> = places
            .iter()
            .map(|p| {
                let start = floor_boundary(text, p.range.start);
                start..floor_boundary(text, p.range.end).max(start)
            })
            .collect();

        // The lines codespan asks for: each label's first and last line,
        // the context it shows around them, and (below) single lines
        // between two shown lines, which it shows rather than a break.
        let mut shown: BTreeSet<usize> = BTreeSet::new();
        // What must stay visible on each line: label ranges, and the
        // starts and ends of labels over several lines.
        let mut marks: BTreeMap<usize, Vec<Range<usize>>> = BTreeMap::new();
        for range in &ranges {
            let first = file.line_index(range.start);
            let last = file.line_index(range.end);
            shown.extend(first.saturating_sub(config.before_label_lines)..=first);
            shown.extend(last..=(last + config.after_label_lines).min(last_line));
            if first == last {
                marks.entry(first).or_default().push(range.clone());
            } else {
                shown.extend(first..=(first + config.start_context_lines).min(last));
                shown.extend(last.saturating_sub(config.end_context_lines).max(first)..=last);
                marks.entry(first).or_default().push(range.start..range.start);
                marks.entry(last).or_default().push(range.end..range.end);
            }
        }
        let gaps: Vec<usize> = shown
            .iter()
            .zip(shown.iter().skip(1))
            .filter(|(a, b)| **b == **a + 2)
            .map(|(a, _)| a + 1)
            .collect();
        shown.extend(gaps);

        // Every label end point, and where it lands in the excerpt.
        let mut points: Vec<usize> = ranges.iter().flat_map(|r| [r.start, r.end]).collect();
        points.sort_unstable();
        points.dedup();
        let mut landed: BTreeMap<usize, usize> = BTreeMap::new();

        let mut out = String::new();
        let mut lines = Vec::with_capacity(shown.len());
        for &line in &shown {
            let Some(range) = file.line_range(line) else { continue };
            lines.push((line, out.len()));
            let content_end = content_end(text, range.clone());
            let content = range.start..content_end;
            let keep = match marks.get(&line) {
                _ if !is_long(&text[content.clone()]) => vec![content.clone()],
                Some(marks) => windows(text, content.clone(), marks),
                // A line shown for context only: its start.
                None => {
                    let start = content.start..forward(text, content.start, MAX_LINE_CHARS, content.end);
                    vec![start]
                }
            };
            // The points on this line, in order, not yet placed.
            // (The end of the text is on the last line, though no line holds it.)
            let first_point = points.partition_point(|p| *p < range.start);
            let end_point = if line == last_line {
                points.len()
            } else {
                points.partition_point(|p| *p < range.end)
            };
            let mut pending = points[first_point..end_point].iter().copied().peekable();
            let mut shown_to = content.start;
            for window in &keep {
                if window.start > shown_to {
                    out.push('…');
                }
                // A point cut out before this window lands after the `…`.
                while let Some(p) = pending.next_if(|p| *p < window.start) {
                    landed.insert(p, out.len());
                }
                for (i, c) in text[window.clone()].char_indices() {
                    while let Some(p) = pending.next_if(|p| *p <= window.start + i) {
                        landed.insert(p, out.len());
                    }
                    out.push(if is_unprintable(c) { '\u{fffd}' } else { c });
                }
                while let Some(p) = pending.next_if(|p| *p <= window.end) {
                    landed.insert(p, out.len());
                }
                shown_to = window.end;
            }
            if shown_to < content.end {
                out.push('…');
            }
            for p in pending {
                landed.insert(p, out.len());
            }
            out.push('\n');
        }

        let columns = ranges
            .iter()
            .map(|r| (landed[&r.start], file.line_column(r.start).column))
            .collect();
        let placed = ranges.iter().map(|r| landed[&r.start]..landed[&r.end]).collect();
        let excerpt = Excerpt {
            name: &file.name,
            text: out,
            lines,
            columns,
        };
        (excerpt, placed)
    }

    /// The position in `lines` of the excerpt line holding `offset`.
    fn line_at(&self, offset: usize) -> usize {
        match self.lines.binary_search_by_key(&offset, |(_, start)| *start) {
            Ok(i) => i,
            Err(next) => next.saturating_sub(1),
        }
    }
}

/// Whether a line is longer than [`MAX_LINE_CHARS`] characters.
fn is_long(line: &str) -> bool {
    line.len() > MAX_LINE_CHARS && line.chars().nth(MAX_LINE_CHARS).is_some()
}

/// Where the text of the line in `range` ends: before its `\n` or `\r\n`.
fn content_end(text: &str, range: Range<usize>) -> usize {
    let line = &text[range.clone()];
    let line = line
        .strip_suffix('\n')
        .map_or(line, |l| l.strip_suffix('\r').unwrap_or(l));
    range.start + line.len()
}

/// The parts of a long line to show: around each mark, [`CONTEXT_CHARS`]
/// characters each side (of a long mark, its first [`MAX_LABEL_CHARS`]
/// characters), merged where they meet, in order.
fn windows(text: &str, line: Range<usize>, marks: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut windows: Vec<Range<usize>> = marks
        .iter()
        .map(|mark| {
            let start = mark.start.clamp(line.start, line.end);
            let end = mark.end.clamp(start, line.end);
            let end = forward(text, start, MAX_LABEL_CHARS, end);
            backward(text, start, CONTEXT_CHARS, line.start)..forward(text, end, CONTEXT_CHARS, line.end)
        })
        .collect();
    windows.sort_by_key(|w| w.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(windows.len());
    for window in windows {
        match merged.last_mut() {
            Some(last) if window.start <= last.end => last.end = last.end.max(window.end),
            _ => merged.push(window),
        }
    }
    merged
}

/// The offset `n` characters after `from`, or `limit` if that comes first.
fn forward(text: &str, from: usize, n: usize, limit: usize) -> usize {
    text[from..limit].char_indices().nth(n).map_or(limit, |(i, _)| from + i)
}

/// The offset `n` characters before `from`, or `limit` if that comes first.
fn backward(text: &str, from: usize, n: usize, limit: usize) -> usize {
    if n == 0 {
        return from;
    }
    text[limit..from]
        .char_indices()
        .rev()
        .nth(n - 1)
        .map_or(limit, |(i, _)| limit + i)
}

/// `offset` within `text`, moved back to the start of its character.
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

impl<'a> Files<'a> for Excerpts<'a> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, Error> {
        Ok(self.files.get(id).ok_or(Error::FileMissing)?.name)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, Error> {
        Ok(&self.files.get(id).ok_or(Error::FileMissing)?.text)
    }

    /// The real line index: excerpt lines keep their numbers.
    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, Error> {
        let excerpt = self.files.get(id).ok_or(Error::FileMissing)?;
        Ok(excerpt
            .lines
            .get(excerpt.line_at(byte_index))
            .map_or(0, |(line, _)| *line))
    }

    /// The column in the real line, which a shortened line no longer shows.
    fn column_number(&'a self, id: usize, line_index: usize, byte_index: usize) -> Result<usize, Error> {
        let excerpt = self.files.get(id).ok_or(Error::FileMissing)?;
        if let Some(column) = excerpt.columns.get(&byte_index) {
            return Ok(*column);
        }
        let range = self.line_range(id, line_index)?;
        let end = byte_index.clamp(range.start, range.end);
        Ok(excerpt.text.get(range.start..end).map_or(0, |s| s.chars().count()) + 1)
    }

    /// The range of a real line in the excerpt. Lines the excerpt leaves
    /// out (the middle of a label over many lines, which codespan does not
    /// print) are empty.
    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, Error> {
        let excerpt = self.files.get(id).ok_or(Error::FileMissing)?;
        let end = excerpt.text.len();
        Ok(
            match excerpt.lines.binary_search_by_key(&line_index, |(line, _)| *line) {
                Ok(i) => excerpt.lines[i].1..excerpt.lines.get(i + 1).map_or(end, |(_, start)| *start),
                Err(_) => end..end,
            },
        )
    }
}
