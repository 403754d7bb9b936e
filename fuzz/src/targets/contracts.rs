//! The `contracts` target: mutated contract files through the whole
//! language pipeline, from bytes to rendered diagnostics or generated Rust.
//!
//! The seed inputs are every `.treaty` file of the repository (examples,
//! end-to-end and lint corpora, golden fixtures) and a few written here.
//! Each input is a seed with one to four mutations: bytes inserted,
//! deleted or duplicated, pieces of other seeds spliced in, tokens and
//! keywords inserted or swapped for words, brackets nested around the
//! limit, huge identifiers, long lines, extreme numbers, and unusual
//! characters (bidirectional and other controls, a byte order mark, line
//! separators, combining marks) inside strings, docs, comments or code.
//!
//! Invariants, for every input:
//! - parsing, validation and rendering never panic, and no input takes
//!   more than [`SLOW`];
//! - a rejected file has at least one error, every span lies inside the
//!   file on character boundaries, and the rendering is bounded (at most
//!   [`MAX_DIAGNOSTICS`] diagnostics of at most
//!   [`MAX_BYTES_PER_DIAGNOSTIC`] each, then a line counting the rest) and
//!   holds no raw control or bidirectional control character;
//! - `treaty fmt` formats every file that parses (never refusing one as
//!   its own bug), formatting the result changes nothing, and an accepted
//!   file keeps its canonical contracts;
//! - an accepted file generates code, which `syn` parses and which holds
//!   no raw control (other than tab and newline) or bidirectional control
//!   character, so rustc's lexer and its `text_direction_codepoint_*`
//!   lints accept its docs and literals.
//!
//! Generated code is not compiled by rustc in the loop: it needs the
//! `treaty` crate and its procedural macros. With `TREATY_FUZZ_SAMPLE_DIR`
//! set, a sample of the accepted mutations is written there, and
//! `fuzz/compile-sample.sh` compiles them under `deny(warnings)` and
//! clippy (CI does, after every run); `codegen/tests/characters` and
//! `tests/e2e` cover each class of character contracts accept.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use treaty_dsl::diagnostic::MAX_DIAGNOSTICS;
use treaty_dsl::source::is_unprintable;
use treaty_dsl::{compile, Config, Diagnostics, Sources, MAX_NESTING};

use crate::engine::{Rng, Target};

/// The most one input may take; far more than any input needs, even in a
/// debug build on a busy machine (as CI runs it), so that only a hang or a
/// quadratic path trips it.
const SLOW: Duration = Duration::from_secs(30);

/// The most one rendered diagnostic may take, in bytes: its message and
/// hint are cut at 500 characters, and each line it shows at a window
/// around its labels.
const MAX_BYTES_PER_DIAGNOSTIC: usize = 32 * 1024;

/// Mutated inputs are cut to this size: large enough for long lines and
/// deep nesting, small enough that every input runs fast in a debug build
/// (whole megabytes are `dsl/tests/hostile.rs`'s business).
const MAX_INPUT: usize = 128 * 1024;

pub fn target() -> Box<dyn Target> {
    let sample = std::env::var_os(SAMPLE_DIR).map(|dir| Sample {
        dir: PathBuf::from(dir),
        accepted: 0,
        written: 0,
    });
    Box::new(ContractsTarget {
        seeds: seed_files(),
        sample,
    })
}

/// Where the target writes a sample of the mutated contracts it accepted,
/// when set, for `fuzz/compile-sample.sh` to compile for real with rustc
/// under `deny(warnings)` and clippy: `syn` parsing the generated code
/// cannot tell whether the compiler accepts it.
const SAMPLE_DIR: &str = "TREATY_FUZZ_SAMPLE_DIR";

/// How many accepted contracts the sample holds at most, and how many
/// accepted inputs pass between two that are kept.
const SAMPLE_SIZE: usize = 12;
const SAMPLE_EVERY: usize = 20;

struct ContractsTarget {
    /// The repository's contract files, for splicing pieces of one into
    /// another.
    seeds: Vec<Vec<u8>>,
    sample: Option<Sample>,
}

/// The accepted mutations written so far for compiling.
struct Sample {
    dir: PathBuf,
    accepted: usize,
    written: usize,
}

impl Sample {
    /// Keeps the first accepted mutation and every `SAMPLE_EVERY`th after
    /// it, up to `SAMPLE_SIZE`.
    fn offer(&mut self, input: &[u8]) -> Result<(), String> {
        self.accepted += 1;
        if self.written >= SAMPLE_SIZE || !(self.accepted - 1).is_multiple_of(SAMPLE_EVERY) {
            return Ok(());
        }
        let path = self.dir.join(format!("sample_{}.treaty", self.written));
        std::fs::create_dir_all(&self.dir)
            .and_then(|()| std::fs::write(&path, input))
            .map_err(|e| format!("cannot write the sample {}: {e}", path.display()))?;
        self.written += 1;
        Ok(())
    }
}

impl Target for ContractsTarget {
    fn seeds(&self) -> Vec<Vec<u8>> {
        self.seeds.clone()
    }

    fn run(&mut self, input: &[u8]) -> Result<bool, String> {
        let start = Instant::now();
        let examined = examine(input)?;
        if start.elapsed() > SLOW {
            return Err(format!("took {:?}", start.elapsed()));
        }
        let is_seed = self.seeds.iter().any(|seed| seed == input);
        // A contract whose generated code needs an upcast written by hand
        // cannot compile on its own, so it is no test of the generator.
        let compiles_alone = examined
            == Examined::Accepted {
                upcasts_to_write: false,
            };
        if let Some(sample) = self.sample.as_mut().filter(|_| compiles_alone && !is_seed) {
            sample.offer(input)?;
        }
        Ok(examined != Examined::Rejected)
    }

    /// Mutations that know the language: tokens, nesting, long names and
    /// lines, unusual characters where the grammar lets anything through.
    /// Each starts again from one of the repository's files rather than
    /// from the corpus the engine grows, whose accepted inputs would only
    /// grow longer (a huge name accepted, then repeated) and make every
    /// run slower without reaching new code.
    fn mutate(&self, rng: &mut Rng, _base: &[u8], _corpus: &[Vec<u8>]) -> Vec<u8> {
        let seed = &self.seeds[below(rng, self.seeds.len())];
        mutated(rng, seed, &self.seeds)
    }
}

/// What the checker and the generator made of an input that broke nothing.
#[derive(Debug, PartialEq, Eq)]
enum Examined {
    Rejected,
    /// Accepted and generated; `upcasts_to_write` when the generated code
    /// waits for an `impl From` the package writes.
    Accepted {
        upcasts_to_write: bool,
    },
}

fn examine(input: &[u8]) -> Result<Examined, String> {
    let mut sources = Sources::new();
    let id = sources.add("fuzz.treaty", input.to_vec());
    let compiled = compile(&sources, &Config::default());
    formats(&sources, id, compiled.as_ref().ok())?;
    match compiled {
        Err(diagnostics) => {
            rejected(&diagnostics)?;
            Ok(Examined::Rejected)
        }
        Ok(schema) => {
            let code = treaty_codegen::Builder::new()
                .generate(&sources)
                .map_err(|e| format!("the contract was accepted, but generation failed:\n{e}"))?;
            syn::parse_file(&code).map_err(|e| format!("the generated code does not parse: {e}"))?;
            if let Some((line, c)) = first_unprintable(&code) {
                return Err(format!(
                    "the generated code holds a raw U+{:04X} on line {line}",
                    u32::from(c)
                ));
            }
            Ok(Examined::Accepted {
                upcasts_to_write: !treaty_codegen::upcasts_to_write(&schema).is_empty(),
            })
        }
    }
}

/// What must hold of `treaty fmt` on the file: it formats or refuses
/// with syntax errors, what it formats stays as it is when formatted
/// again, and an accepted file keeps its canonical contracts.
fn formats(sources: &Sources, id: treaty_dsl::SourceId, schema: Option<&treaty_dsl::Schema>) -> Result<(), String> {
    let formatted = match treaty_dsl::format_file(sources, id) {
        Ok(formatted) => formatted,
        Err(treaty_dsl::FormatError::Syntax(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let again = treaty_dsl::format_str("fuzz.treaty", &formatted).map_err(|e| format!("the formatted file: {e}"))?;
    if again != formatted {
        return Err(format!("formatting is not idempotent:\n{formatted}\n---\n{again}"));
    }
    if let Some(schema) = schema {
        let mut after = Sources::new();
        after.add("fuzz.treaty", formatted.as_bytes());
        let same = compile(&after, &Config::default())
            .map(|s| treaty_dsl::contracts(&s) == treaty_dsl::contracts(schema))
            .unwrap_or(false);
        if !same {
            return Err(format!("formatting changed the canonical contracts:\n{formatted}"));
        }
    }
    Ok(())
}

/// What must hold of a rejected file's diagnostics.
fn rejected(diagnostics: &Diagnostics) -> Result<(), String> {
    if diagnostics.error_count() == 0 {
        return Err("the file was rejected without an error".into());
    }
    for d in &diagnostics.items {
        for span in std::iter::once(&d.primary.span).chain(d.secondary.iter().map(|l| &l.span)) {
            let text = &diagnostics.sources.get(span.source).text;
            if span.start > span.end || span.end > text.len() {
                return Err(format!(
                    "{:?} span {span:?} is outside a file of {} bytes",
                    d.code,
                    text.len()
                ));
            }
            if !text.is_char_boundary(span.start) || !text.is_char_boundary(span.end) {
                return Err(format!("{:?} span {span:?} splits a character", d.code));
            }
        }
    }
    let rendered = diagnostics.render();
    let shown = diagnostics.items.len().min(MAX_DIAGNOSTICS);
    if rendered.len() > (shown + 1) * MAX_BYTES_PER_DIAGNOSTIC {
        return Err(format!(
            "{shown} diagnostics rendered to {} bytes:\n{}",
            rendered.len(),
            rendered.chars().take(4000).collect::<String>()
        ));
    }
    if let Some((line, c)) = first_unprintable(&rendered) {
        return Err(format!(
            "the rendered diagnostics hold a raw U+{:04X} on line {line}:\n{rendered}",
            u32::from(c)
        ));
    }
    let hidden = diagnostics.items.len() - shown;
    if hidden > 0 && !rendered.contains(" not shown\n") {
        return Err(format!("{hidden} diagnostics were left out without saying so"));
    }
    let short = diagnostics.render_short();
    if short.lines().count() > MAX_DIAGNOSTICS + 1 {
        return Err(format!("the short rendering has {} lines", short.lines().count()));
    }
    Ok(())
}

/// The first character that would be invisible or refused in printed text
/// or Rust source, with its line number.
fn first_unprintable(text: &str) -> Option<(usize, char)> {
    text.split('\n')
        .enumerate()
        .find_map(|(i, line)| line.chars().find(|c| is_unprintable(*c)).map(|c| (i + 1, c)))
}

/// Every `.treaty` file under the repository, in path order, and a few
/// seeds of our own.
fn seed_files() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    paths.sort();
    let mut seeds: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    seeds.extend(BUILT_IN.iter().map(|s| s.as_bytes().to_vec()));
    seeds
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
                collect(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "treaty") {
            out.push(path);
        }
    }
}

const BUILT_IN: &[&str] = &[
    "//! Docs of the namespace.\nnamespace fuzz.seed;\n\n/// An id.\nid ThingId: Uuid;\n\n/// A colour.\nenum Color { \
     /// Red.\nRed, Green }\n\nrecord Money(cents: i64 = -1, currency: String = \"EUR\") display \"{cents} {currency}\";\n\n\
     aggregate Thing(id: ThingId) {\n    /// Make it.\n    MakeThing?(name: String = \"a \\\"b\\\"\", color: Color = Green, \
     tags: [String] = [], extra: {String: u64} = {}, price: Money?);\n    ThingMade! v2 (name: String, count: u64 = 3, \
     ratio: f64 = 1.5, amount: Decimal = 12.50) display \"made {name} ({count}) {{x}}\"\n        was v1 (name: String, \
     count: u32);\n}\n",
    "namespace a;\nconst audit = by: String, at: Timestamp;\nrecord R(audit, note: String? = none, day: Date?);\n\
     E!(r: R, flag: bool = true);\n",
];

/// Words the mutations insert: keywords, names, types, punctuation and
/// values of the language.
const TOKENS: &[&str] = &[
    "namespace",
    "use",
    "const",
    "id",
    "record",
    "enum",
    "aggregate",
    "was",
    "display",
    "wire",
    "none",
    "true",
    "false",
    "u32",
    "u64",
    "i32",
    "i64",
    "f64",
    "bool",
    "String",
    "Bytes",
    "Uuid",
    "Timestamp",
    "Date",
    "Decimal",
    "A",
    "B",
    "x",
    "y.z",
    "_",
    "type",
    "self",
    "Self",
    "crate",
    "super",
    "r#x",
    "FooV1",
    "FooCommand",
    "CONTRACTS",
    "SCHEMAS",
    "v1",
    "v2",
    "v0",
    ";",
    ",",
    ":",
    "=",
    "?",
    "!",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "[]",
    "{}",
    ".",
    "\"",
    "\"{a}\"",
    "\"{\"",
    "\"}}\"",
    "\"\\\\\"",
    "///",
    "//!",
    "//",
    "\n",
    "\r\n",
    "\t",
    "0",
    "-1",
    "1.5",
    "-0",
    "1e308",
    "1e309",
    "99999999999999999999999999999",
    "v4294967295",
    "v4294967296",
    "v99999999999",
];

/// Characters that test the edges of text handling.
const UNUSUAL: &[char] = &[
    '\u{202a}',
    '\u{202b}',
    '\u{202c}',
    '\u{202d}',
    '\u{202e}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{200e}',
    '\u{200f}',
    '\u{061c}',
    '\0',
    '\u{7}',
    '\u{8}',
    '\u{b}',
    '\u{c}',
    '\r',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '\u{feff}',
    '\u{200b}',
    '\u{200d}',
    '\u{2028}',
    '\u{2029}',
    '\u{301}',
    '\u{5d0}',
    '\u{627}',
    '\u{fffd}',
    '\u{1f600}',
    '\u{10ffff}',
    '\t',
    '\\',
    '"',
    '{',
    '}',
    'é',
];

fn mutated(rng: &mut Rng, base: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut input = base.to_vec();
    for _ in 0..1 + below(rng, 4) {
        mutate(rng, seeds, &mut input);
        if input.len() > MAX_INPUT {
            input.truncate(MAX_INPUT);
        }
    }
    input
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    match below(rng, 14) {
        // Random bytes, which may well not be UTF-8.
        0 => {
            let at = below(rng, input.len() + 1);
            let bytes: Vec<u8> = (0..1 + below(rng, 8)).map(|_| rng.next() as u8).collect();
            splice(input, at..at, &bytes);
        }
        1 => {
            let range = rng.range(input, 64);
            splice(input, range, b"");
        }
        2 => {
            let range = rng.range(input, 256);
            let piece = input[range].to_vec();
            let at = rng.boundary(input);
            splice(input, at..at, &piece);
        }
        // A piece of another seed, inserted or in place of a piece.
        3 => {
            let other = &seeds[below(rng, seeds.len())];
            let piece = other[rng.range(other, 512)].to_vec();
            let range = if below(rng, 2) == 0 {
                let at = rng.boundary(input);
                at..at
            } else {
                rng.range(input, 64)
            };
            splice(input, range, &piece);
        }
        4 => {
            let token = TOKENS[below(rng, TOKENS.len())];
            let at = rng.boundary(input);
            let spaced = if below(rng, 2) == 0 {
                format!(" {token} ")
            } else {
                token.to_string()
            };
            splice(input, at..at, spaced.as_bytes());
        }
        5 => {
            let token = TOKENS[below(rng, TOKENS.len())];
            let word = rng.word(input);
            splice(input, word, token.as_bytes());
        }
        // Brackets nested around the limit, closed or not.
        6 => {
            let depth = MAX_NESTING - 3 + below(rng, 7);
            let (open, close) = [("[", "]"), ("{String: ", "}"), ("(", ")")][below(rng, 3)];
            let mut nested = open.repeat(depth);
            nested.push_str("u32");
            if below(rng, 4) != 0 {
                nested.push_str(&close.repeat(depth));
            }
            let at = rng.boundary(input);
            splice(input, at..at, nested.as_bytes());
        }
        // A huge name, in place of a word or anywhere.
        7 => {
            let name = ["A", "a", "B_", "x9"][below(rng, 4)].repeat(1 + below(rng, 32 * 1024));
            let range = if below(rng, 2) == 0 {
                rng.word(input)
            } else {
                let at = rng.boundary(input);
                at..at
            };
            splice(input, range, name.as_bytes());
        }
        // An unusual character, most often just inside a doc, comment or
        // string, where the grammar lets anything through.
        8 | 9 => {
            let c = UNUSUAL[below(rng, UNUSUAL.len())];
            let at = match below(rng, 3) {
                0 => rng.boundary(input),
                _ => rng.after_opener(input),
            };
            splice(input, at..at, c.to_string().as_bytes());
        }
        10 => {
            if !input.starts_with("\u{feff}".as_bytes()) {
                splice(input, 0..0, "\u{feff}".as_bytes());
            }
        }
        // One line repeated many times on one line: long lines full of
        // errors (or of declarations).
        11 => {
            let line = rng.line(input);
            let piece: Vec<u8> = input[line].iter().copied().filter(|b| *b != b'\n').collect();
            let times = 1 + below(rng, 4000);
            let mut long = piece.repeat(times.min(MAX_INPUT / piece.len().max(1)));
            long.push(b'\n');
            let at = rng.boundary(input);
            splice(input, at..at, &long);
        }
        12 => {
            let at = rng.boundary(input);
            input.truncate(at);
        }
        // A number of another size in place of a word.
        _ => {
            let numbers = [
                "0",
                "-0",
                "4294967295",
                "4294967296",
                "18446744073709551616",
                "-9223372036854775809",
            ];
            let number = numbers[below(rng, numbers.len())];
            let word = rng.word(input);
            splice(input, word, number.as_bytes());
        }
    }
}

fn splice(input: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[u8]) {
    input.splice(range, with.iter().copied());
}

/// Positions in text for the mutations, on the engine's generator.
trait TextPositions {
    fn boundary(&mut self, input: &[u8]) -> usize;
    fn range(&mut self, input: &[u8], max: usize) -> std::ops::Range<usize>;
    fn word(&mut self, input: &[u8]) -> std::ops::Range<usize>;
    fn line(&mut self, input: &[u8]) -> std::ops::Range<usize>;
    fn after_opener(&mut self, input: &[u8]) -> usize;
}

/// A number below `n`, or 0 when `n` is 0 (an empty input).
fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        rng.below(n)
    }
}

impl TextPositions for Rng {
    /// A position that does not split a UTF-8 character.
    fn boundary(&mut self, input: &[u8]) -> usize {
        let mut at = below(self, input.len() + 1);
        while at < input.len() && (input[at] & 0xc0) == 0x80 {
            at += 1;
        }
        at
    }

    /// A range of at most `max` bytes, between character boundaries.
    fn range(&mut self, input: &[u8], max: usize) -> std::ops::Range<usize> {
        let start = self.boundary(input);
        let mut end = (start + below(self, max + 1)).min(input.len());
        while end < input.len() && (input[end] & 0xc0) == 0x80 {
            end += 1;
        }
        start..end
    }

    /// A word (a run of letters, digits and `_`) near a random position,
    /// or an empty range there.
    fn word(&mut self, input: &[u8]) -> std::ops::Range<usize> {
        let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut start = self.boundary(input);
        while start < input.len() && !is_word(input[start]) {
            start += 1;
        }
        let mut end = start;
        while end < input.len() && is_word(input[end]) {
            end += 1;
        }
        start..end
    }

    /// The line around a random position, its newline included.
    fn line(&mut self, input: &[u8]) -> std::ops::Range<usize> {
        let at = below(self, input.len() + 1);
        let start = input[..at].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let end = input[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(input.len(), |i| at + i + 1);
        start..end
    }

    /// Just after a `///`, `//!`, `//` or `"` at or after a random
    /// position, or a random position when there is none.
    fn after_opener(&mut self, input: &[u8]) -> usize {
        let from = self.boundary(input);
        let openers: [&[u8]; 3] = [b"///", b"//", b"\""];
        let opener = openers[below(self, openers.len())];
        input[from..]
            .windows(opener.len())
            .position(|w| w == opener)
            .map_or(from, |i| from + i + opener.len())
    }
}
