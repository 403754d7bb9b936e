//! `treaty fmt`'s layout: the cases in `tests/format/` (each `NAME.treaty`
//! formats to `NAME.expected`; `TREATY_BLESS=1` rewrites the expectations
//! after an intended change), then every `.treaty` file of the repository
//! and generated contracts: formatting is idempotent, keeps every comment
//! and never changes a canonical schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use treaty_dsl::{compile, contracts, format_str, CanonicalContract, Config, FormatError, Sources};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format")
}

#[test]
fn cases() {
    let bless = std::env::var_os("TREATY_BLESS").is_some();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("read tests/format")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "treaty"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "the cases are missing: {inputs:?}");
    let mut failures = Vec::new();
    for input in inputs {
        let text = std::fs::read_to_string(&input).expect("read a case");
        let expected_path = input.with_extension("expected");
        let name = input.file_name().expect("a file name").to_string_lossy().into_owned();
        let actual = match format_str(&name, &text) {
            Ok(formatted) => formatted,
            Err(e) => format!("error: {e}\n"),
        };
        if bless {
            std::fs::write(&expected_path, &actual).expect("write the expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                input.display()
            ));
        }
        if !actual.starts_with("error:") {
            let again = format_str("again.treaty", &actual).expect("formatted text parses");
            if again != actual {
                failures.push(format!("{}: formatting twice differs:\n{again}", input.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nrerun with TREATY_BLESS=1 and review the diff",
        failures.join("\n")
    );
}

/// Every `.treaty` file under the workspace root, `target/` skipped.
fn repository_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name.ends_with(".treaty") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The contracts of files compiled together, or `None` when they do not
/// compile.
fn canonical(files: &[(String, String)]) -> Option<Vec<CanonicalContract>> {
    let mut sources = Sources::new();
    for (name, text) in files {
        sources.add(name.clone(), text.as_bytes());
    }
    compile(&sources, &Config::default())
        .ok()
        .map(|schema| contracts(&schema))
}

/// The `//` comments of a text, in order.
fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_string = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => i += 1,
            b'\n' => in_string = false,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let line = &text[i..end];
                if !line.starts_with("///") && !line.starts_with("//!") {
                    out.push(line.trim_end().to_string());
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[test]
fn every_file_of_the_repository() {
    let files = repository_files();
    assert!(files.len() > 100, "found only {} .treaty files", files.len());
    let mut formatted_files = 0;
    let mut by_dir: BTreeMap<PathBuf, Vec<(String, String, String)>> = BTreeMap::new();
    for path in &files {
        let bytes = std::fs::read(path).expect("read a contract file");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let name = path.display().to_string();
        match format_str(&name, &text) {
            Ok(formatted) => {
                formatted_files += 1;
                let again = format_str(&name, &formatted).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(again, formatted, "{name}: formatting is not idempotent");
                assert_eq!(
                    comments(&formatted).join(" "),
                    comments(&text).join(" "),
                    "{name}: comments changed"
                );
                let dir = path.parent().expect("files have a parent").to_path_buf();
                by_dir.entry(dir).or_default().push((name, text, formatted));
            }
            Err(FormatError::Syntax(diagnostics)) => {
                // A file made to show syntax errors: refused, naming where.
                let rendered = diagnostics.render_short();
                assert!(rendered.contains(&format!("{name}:")), "{rendered}");
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(formatted_files > 100, "formatted only {formatted_files} files");
    let mut compared = 0;
    for (dir, files) in by_dir {
        let before: Vec<_> = files.iter().map(|(n, t, _)| (n.clone(), t.clone())).collect();
        let after: Vec<_> = files.iter().map(|(n, _, f)| (n.clone(), f.clone())).collect();
        if let Some(contracts) = canonical(&before) {
            assert_eq!(
                canonical(&after),
                Some(contracts),
                "{}: canonical schemas changed",
                dir.display()
            );
            compared += 1;
        }
    }
    assert!(compared > 50, "compared the schemas of only {compared} directories");
}

/// A valid contract as tokens: `///` docs are tokens that end their line.
fn contract_tokens(items: &[(u8, usize, u16)]) -> Vec<String> {
    const TYPES: [&str; 8] = [
        "u32",
        "String",
        "bool",
        "i64",
        "[String]",
        "{String: u32}",
        "u32?",
        "shop.Amount",
    ];
    const DEFAULTS: [&str; 8] = ["7", "\"x, y\"", "false", "-3", "[]", "{}", "none", "Amount2"];
    let mut t: Vec<String> = Vec::new();
    let mut push = |t: &mut Vec<String>, text: &str| {
        // `[String]` and `{String: u32}` are written as separate tokens.
        let mut word = String::new();
        for c in text.chars() {
            if c.is_alphanumeric()
                || c == '_'
                || c == '.'
                || c == '"'
                || c == ',' && word.starts_with('"')
                || c == ' ' && word.starts_with('"')
                || c == '-'
            {
                word.push(c);
            } else {
                if !word.is_empty() {
                    t.push(std::mem::take(&mut word));
                }
                if c != ' ' {
                    t.push(c.to_string());
                }
            }
        }
        if !word.is_empty() {
            t.push(word);
        }
    };
    let fields =
        |t: &mut Vec<String>, push: &mut dyn FnMut(&mut Vec<String>, &str), n: usize, seed: u16, docs: bool| {
            for i in 0..n {
                if docs && (seed >> i) & 1 == 1 {
                    t.push(format!("/// Field {i}."));
                }
                let k = (seed as usize + i * 3) % TYPES.len();
                if (seed >> (i + 4)) & 1 == 1 {
                    push(t, &format!("f{i}: {} = {}", TYPES[k], DEFAULTS[k]));
                } else {
                    push(t, &format!("f{i}: {}", TYPES[k]));
                }
                if i + 1 < n || (seed >> 9) & 1 == 1 {
                    t.push(",".into());
                }
            }
        };
    t.push("//! Generated.".into());
    push(&mut t, "namespace shop;");
    push(&mut t, "enum Amount { Amount1, Amount2 }");
    for (index, &(kind, n, seed)) in items.iter().enumerate() {
        if seed & 2 == 2 {
            t.push(format!("/// Item {index}."));
        }
        match kind {
            0 => {
                push(&mut t, &format!("record R{index}("));
                fields(&mut t, &mut push, n, seed, true);
                push(&mut t, ")");
                if seed & 4 == 4 {
                    push(&mut t, "display \"a record\"");
                }
                push(&mut t, ";");
            }
            1 => {
                push(&mut t, &format!("enum E{index} {{"));
                for i in 0..n {
                    if (seed >> i) & 1 == 1 {
                        t.push(format!("/// Variant {i}."));
                    }
                    push(&mut t, &format!("V{i}"));
                    if i + 1 < n || seed & 8 == 8 {
                        t.push(",".into());
                    }
                }
                push(&mut t, "}");
                if seed & 16 == 16 {
                    push(&mut t, ";");
                }
            }
            2 => push(&mut t, &format!("id I{index}: Uuid;")),
            3 => {
                push(&mut t, &format!("const frag{index} = "));
                let n = n.max(1);
                for i in 0..n {
                    push(
                        &mut t,
                        &format!("g{index}_{i}: {}", TYPES[(seed as usize + i) % TYPES.len()]),
                    );
                    if i + 1 < n {
                        t.push(",".into());
                    }
                }
                push(&mut t, ";");
                push(&mut t, &format!("Uses{index}?(frag{index}, extra: u32);"));
            }
            4 => {
                push(&mut t, &format!("id A{index}Id: Uuid;"));
                push(&mut t, &format!("aggregate A{index}(id: A{index}Id) {{"));
                for m in 0..n {
                    if (seed >> m) & 1 == 1 {
                        t.push(format!("/// Message {m}."));
                    }
                    push(&mut t, &format!("M{index}x{m}{}(", if m % 2 == 0 { "?" } else { "!" }));
                    fields(&mut t, &mut push, m + 1, seed, false);
                    push(&mut t, ");");
                }
                push(&mut t, "}");
            }
            _ => {
                let n = n.max(1);
                push(&mut t, &format!("Msg{index}! v3 ("));
                fields(&mut t, &mut push, n + 2, seed, true);
                push(&mut t, ")");
                if seed & 4 == 4 {
                    push(&mut t, "display \"a message\"");
                }
                push(&mut t, "was v2 (");
                fields(&mut t, &mut push, n + 1, seed, false);
                push(&mut t, ") was v1 (");
                fields(&mut t, &mut push, n, seed, false);
                push(&mut t, ");");
            }
        }
    }
    t
}

/// `tokens` joined by the separators `layout` picks: spaces, tabs, line
/// breaks, blank lines and comments, everywhere the grammar allows them.
fn lay_out(tokens: &[String], layout: &[u8]) -> String {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '"');
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        out.push_str(token);
        if token.starts_with("//") {
            out.push('\n');
        }
        let choice = layout.get(i % layout.len().max(1)).copied().unwrap_or(0);
        let needs_space = word(token.chars().last()) && word(tokens.get(i + 1).and_then(|t| t.chars().next()));
        let sep = match choice % 12 {
            0 | 1 if !needs_space => String::new(),
            0..=4 => " ".into(),
            5 => "\n".into(),
            6 => "\n\n\n".into(),
            7 => " \t ".into(),
            8 => format!(" // note {i}\n"),
            9 => format!("\n// own line {i}\n\n"),
            10 => format!("\n    // indented {i}\n// and another\n"),
            _ => "\n\t".into(),
        };
        out.push_str(&sep);
    }
    out
}

fn compile_one(text: &str) -> Result<Vec<CanonicalContract>, String> {
    let mut sources = Sources::new();
    sources.add("gen.treaty", text.as_bytes());
    compile(&sources, &Config::default())
        .map(|schema| contracts(&schema))
        .map_err(|d| d.render())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_contracts(
        items in prop::collection::vec((0u8..6, 0usize..5, any::<u16>()), 1..6),
        layout in prop::collection::vec(any::<u8>(), 1..64),
    ) {
        let tokens = contract_tokens(&items);
        let text = lay_out(&tokens, &layout);
        let before = compile_one(&text);
        prop_assert!(before.is_ok(), "the generator wrote an invalid contract:\n{text}\n{}", before.clone().unwrap_err());
        let once = format_str("gen.treaty", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let twice = format_str("gen.treaty", &once).map_err(|e| TestCaseError::fail(format!("{e}\n{once}")))?;
        prop_assert_eq!(&twice, &once, "not idempotent; input:\n{}", text);
        prop_assert_eq!(compile_one(&once), before, "canonical schemas changed:\n{}", once);
        prop_assert_eq!(comments(&once).join(" "), comments(&text).join(" "));
        prop_assert!(once.lines().all(|l| l == l.trim_end()), "trailing whitespace:\n{}", once);
        prop_assert!(!once.contains("\n\n\n"), "two blank lines:\n{}", once);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any text, contract-like or not: formatted or refused, never a panic,
    /// and what is formatted is stable.
    #[test]
    fn any_text(text in "(namespace|record|enum|aggregate|const|id|was|display|v2|[A-Za-z_]{1,5}|[0-9.e-]{1,4}|\"[^\"\n]{0,4}\"?|//[/!]?[^\n]{0,5}\n|[ \t\r\n]{1,3}|[;,:=?!()\\[\\]{}])*") {
        if let Ok(once) = format_str("any.treaty", &text) {
            prop_assert_eq!(format_str("any.treaty", &once).ok(), Some(once.clone()), "not idempotent:\n{}", text);
        }
    }
}
