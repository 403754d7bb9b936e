//! The fuzzing loop every target shares: options, a seeded PRNG, byte
//! mutations, and a reader and writer for structured inputs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// A fuzz target: where its inputs start, and its invariants.
pub trait Target {
    /// Inputs to start from: valid ones and the known hostile ones.
    fn seeds(&self) -> Vec<Vec<u8>>;

    /// Runs one input. `Ok(true)` when it was accepted and is worth
    /// mutating further (it joins the corpus), `Ok(false)` when it was
    /// refused as it should be, `Err` when an invariant broke. A panic is
    /// a finding too.
    fn run(&mut self, input: &[u8]) -> Result<bool, String>;

    /// A mutation of `base`, one of the corpus: by default byte-level
    /// changes and pieces of the dictionary and the corpus; a target whose
    /// inputs have a grammar can do better.
    fn mutate(&self, rng: &mut Rng, base: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
        mutate(rng, base, corpus)
    }
}

/// How a target is made, fresh for each run.
pub type Make = fn() -> Box<dyn Target>;

/// The command line.
pub struct Options {
    pub targets: Vec<String>,
    pub seconds: u64,
    pub seed: Option<u64>,
    pub input: Option<Vec<u8>>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            targets: Vec::new(),
            seconds: 10,
            seed: None,
            input: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
            match arg.as_str() {
                "--seconds" => options.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
                "--seed" => options.seed = Some(value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?),
                "--input" => options.input = Some(from_hex(value("--input")?)?),
                "--input-file" => {
                    let path = value("--input-file")?;
                    options.input = Some(std::fs::read(path).map_err(|e| format!("--input-file {path}: {e}"))?);
                }
                flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
                target => options.targets.push(target.to_string()),
            }
        }
        Ok(options)
    }
}

/// Runs `make`'s target for the options' time; `false` on a finding.
pub fn run(name: &str, make: &Make, options: &Options) -> bool {
    let seed = options.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let mut target = make();
    let started = Instant::now();
    if let Some(input) = &options.input {
        return match check(target.as_mut(), input) {
            Ok(_) => {
                println!("fuzz {name}: the input passes");
                true
            }
            Err(problem) => {
                report(name, seed, 1, input, &problem);
                false
            }
        };
    }
    println!("fuzz {name}: seed {seed}");
    let mut rng = Rng::new(seed);
    let mut corpus = target.seeds();
    let deadline = started + Duration::from_secs(options.seconds);
    let mut inputs = 0u64;
    // Every seed first, then mutations until the time is up.
    let mut seeds = corpus.clone().into_iter();
    while Instant::now() < deadline {
        let input = match seeds.next() {
            Some(seed) => seed,
            None if corpus.is_empty() || rng.below(16) == 0 => rng.bytes(64),
            None => {
                let base = &corpus[rng.below(corpus.len())];
                target.mutate(&mut rng, base, &corpus)
            }
        };
        inputs += 1;
        match check(target.as_mut(), &input) {
            Ok(true) if corpus.len() < 4096 => corpus.push(input),
            Ok(true) => {
                let at = rng.below(corpus.len());
                corpus[at] = input;
            }
            Ok(false) => {}
            Err(problem) => {
                report(name, seed, inputs, &input, &problem);
                return false;
            }
        }
    }
    println!(
        "fuzz {name}: {inputs} inputs in {} s, 0 failures",
        started.elapsed().as_secs()
    );
    true
}

/// Runs one input, turning a panic into a finding.
fn check(target: &mut dyn Target, input: &[u8]) -> Result<bool, String> {
    match catch_unwind(AssertUnwindSafe(|| target.run(input))) {
        Ok(verdict) => verdict,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("panicked: {text}"))
        }
    }
}

/// Inputs up to this size are printed whole, in hex; a larger one is
/// written to a file, so a finding never floods the log.
const PRINTED_INPUT: usize = 2048;

fn report(name: &str, seed: u64, inputs: u64, input: &[u8], problem: &str) {
    println!("fuzz {name}: 1 failure after {inputs} inputs (seed {seed}): {problem}");
    if input.len() <= PRINTED_INPUT {
        println!("input (hex): {}", to_hex(input));
        println!(
            "reproduce: cargo run -p treaty-fuzz -- {name} --input {}",
            to_hex(input)
        );
        return;
    }
    let path = std::env::temp_dir().join(format!("treaty-fuzz-{name}-{seed}.bin"));
    match std::fs::write(&path, input) {
        Ok(()) => println!(
            "input: {} bytes, written to {} (its first {PRINTED_INPUT} in hex: {})\n\
             reproduce: cargo run -p treaty-fuzz -- {name} --input-file {}",
            input.len(),
            path.display(),
            to_hex(&input[..PRINTED_INPUT]),
            path.display()
        ),
        Err(e) => println!(
            "input: {} bytes, which could not be written to {} ({e}); the same seed replays it: \
             cargo run -p treaty-fuzz -- {name} --seed {seed} --seconds N",
            input.len(),
            path.display()
        ),
    }
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err("--input: an odd number of hex digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| format!("--input: {e}")))
        .collect()
}

/// A small seeded PRNG (SplitMix64): the same seed gives the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Bytes and fragments that reach the corners of text and JSON parsing:
/// invalid and overlong UTF-8, surrogates, huge numbers, deep nesting,
/// NUL, terminal escapes, bidirectional overrides, quotes and escapes.
const DICTIONARY: &[&[u8]] = &[
    b"\xff",
    b"\xfe",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\\ud800",
    b"\\udc00",
    b"\\ud83d\\ude00",
    b"\\u0000",
    b"1e400",
    b"-1e400",
    b"123456789012345678901234567890",
    b"0.0000000000000000000000001",
    b"[[[[[[[[[[[[[[[[",
    b"]]]]]]]]",
    b"{\"a\":",
    b"\"",
    b"\\",
    b"\0",
    b"\x1b[2J",
    b"\xe2\x80\xae",
    b"\xef\xbb\xbf",
    b"\n",
    b"null",
    b"true",
    b"{}",
    b"[]",
    b"$",
];

/// One to four random changes to `input`.
pub fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = if out.is_empty() { 0 } else { rng.below(out.len() + 1) };
        match rng.below(10) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = [0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b'\\', b'e'][rng.below(10)];
            }
            3 | 4 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                out.splice(at..at, token.iter().copied());
            }
            5 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            6 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(32)).min(out.len());
                let copy = out[start..end].to_vec();
                out.splice(at..at, copy);
            }
            7 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(64)).min(other.len());
                    out.splice(at..at, other[start..end].iter().copied());
                }
            }
            8 => {
                let bytes = rng.bytes(8);
                out.splice(at..at, bytes);
            }
            _ if out.len() > 1 => out.truncate(rng.below(out.len())),
            _ => out.push(rng.next() as u8),
        }
    }
    out
}

/// Reads a structured input field by field. Fields are length-prefixed,
/// so mutations change values without losing the structure; an input
/// that runs out gives zeros and empty fields.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((first, rest)) => {
                self.bytes = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `len` bytes.
    pub fn take(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.bytes.split_at(len.min(self.bytes.len()));
        self.bytes = rest;
        taken
    }

    /// A field with a one-byte length.
    pub fn short(&mut self) -> &'a [u8] {
        let len = self.u8() as usize;
        self.take(len)
    }

    /// A field with a two-byte length.
    pub fn long(&mut self) -> &'a [u8] {
        let len = self.u16() as usize;
        self.take(len)
    }

    /// A short field as text: invalid UTF-8 becomes U+FFFD, since Rust
    /// strings hold only UTF-8; everything else (NUL, escapes, bidi
    /// controls) is kept.
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.short()).into_owned()
    }
}

/// Writes inputs in the layout [`Reader`] reads, for seeds.
#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.0.push(value);
        self
    }

    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn short(&mut self, bytes: &[u8]) -> &mut Self {
        let len = bytes.len().min(255);
        self.0.push(len as u8);
        self.0.extend_from_slice(&bytes[..len]);
        self
    }

    pub fn long(&mut self, bytes: &[u8]) -> &mut Self {
        let len = bytes.len().min(65535);
        self.0.extend_from_slice(&(len as u16).to_le_bytes());
        self.0.extend_from_slice(&bytes[..len]);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_back_as_written_and_run_out_as_zeros() {
        let mut writer = Writer::default();
        writer.u8(7).u32(u32::MAX).short(b"ab").long(b"xyz");
        let mut reader = Reader::new(&writer.0);
        assert_eq!(reader.u8(), 7);
        assert_eq!(reader.u32(), u32::MAX);
        assert_eq!(reader.short(), b"ab");
        assert_eq!(reader.long(), b"xyz");
        assert_eq!((reader.u8(), reader.short()), (0, &b""[..]));
    }

    #[test]
    fn the_same_seed_gives_the_same_mutations() {
        let corpus = vec![b"{\"a\":1}".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100)
                .map(|_| mutate(&mut rng, &corpus[0], &corpus))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}
