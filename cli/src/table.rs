//! Aligned text tables, the one way the commands print rows, and
//! [`printable`], how they show text that came from a store or the wire.

use std::borrow::Cow;

/// `text` as it is safe to print on a terminal: every control character,
/// whitespace other than a space, and invisible formatting character
/// (bidirectional overrides, zero-width characters, the byte-order mark)
/// escaped as Rust writes it (`\n`, `\u{1b}`), so stored names cannot move
/// the cursor, change colours, reorder a line or start a new one.
pub fn printable(text: &str) -> Cow<'_, str> {
    if text.chars().all(shows) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if shows(c) {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    Cow::Owned(out)
}

/// Whether `c` shows as itself: a space, or what the store calls
/// printable (the characters a contract name may hold).
fn shows(c: char) -> bool {
    c == ' ' || treaty_runtime::store::is_printable(c)
}

/// A table with a header row; the columns marked in `right` (numbers) are
/// right-aligned, the others left-aligned. Trailing spaces are trimmed.
/// Cells are shown [`printable`].
pub fn table<const N: usize>(header: [&str; N], right: [bool; N], rows: &[[String; N]]) -> String {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.clone().map(|cell| printable(&cell).into_owned()))
        .collect();
    let rows = rows.as_slice();
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .zip(right)
            .map(|((cell, width), right)| {
                if right {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprintable_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(printable("shop.Placed v1"), "shop.Placed v1");
        assert_eq!(printable("größe"), "größe");
        assert_eq!(printable("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(printable("evil\u{202e}txt\0"), "evil\\u{202e}txt\\u{0}");
        let rows = [["a\u{1b}[31mred".to_string(), "1".to_string()]];
        assert_eq!(
            table(["name", "n"], [false, true], &rows),
            "name            n\na\\u{1b}[31mred  1\n"
        );
    }
}
