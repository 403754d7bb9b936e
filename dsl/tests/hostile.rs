//! Hostile input: whatever bytes arrive, `compile` returns (no panic, no
//! stack overflow, no hang) and reports an error for anything invalid.
//!
//! Contract files come from repositories and pull requests, and the build
//! script compiles them on every machine that builds the project, so a
//! crafted file must never take the build down with it.

use proptest::prelude::*;
use treaty_dsl::diagnostic::{MAX_DIAGNOSTICS, MAX_LINE_CHARS};
use treaty_dsl::{compile, parse_file, validate, Code, Config, Diagnostics, Severity, Sources, MAX_NESTING};

/// Compiles one file that must be rejected and returns its diagnostics,
/// after checking that every diagnostic points inside the file.
fn reject(name: &str, bytes: impl Into<Vec<u8>>) -> Diagnostics {
    let mut sources = Sources::new();
    sources.add(name, bytes);
    match compile(&sources, &Config::default()) {
        Ok(_) => panic!("{name} compiled, but it is not a valid contract file"),
        Err(diagnostics) => {
            assert!(diagnostics.error_count() > 0, "{name}: Err without errors");
            check_spans(&diagnostics);
            diagnostics
        }
    }
}

/// Every span must lie within its file and on character boundaries, or
/// rendering would point at the wrong place (or panic).
fn check_spans(diagnostics: &Diagnostics) {
    for d in &diagnostics.items {
        for span in std::iter::once(&d.primary.span).chain(d.secondary.iter().map(|l| &l.span)) {
            let text = &diagnostics.sources.get(span.source).text;
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "{:?} span {span:?} is outside a file of {} bytes",
                d.code,
                text.len()
            );
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{:?} span {span:?} splits a character",
                d.code
            );
        }
    }
}

fn codes(diagnostics: &Diagnostics) -> Vec<Code> {
    diagnostics.items.iter().map(|d| d.code).collect()
}

#[test]
fn deeply_nested_brackets() {
    for (open, close) in [("[", "]"), ("(", ")"), ("{", "}")] {
        let text = format!(
            "namespace x;\nrecord A(a: {}u32{});\n",
            open.repeat(20_000),
            close.repeat(20_000)
        );
        let diagnostics = reject("deep.treaty", text);
        assert_eq!(
            codes(&diagnostics),
            [Code::TooDeep],
            "{open}: {}",
            diagnostics.render_short()
        );
    }
}

#[test]
fn unclosed_brackets() {
    // The same depth without any closing bracket, as a truncated file has.
    for open in ["[", "(", "{"] {
        let diagnostics = reject(
            "deep.treaty",
            format!("namespace x;\nrecord A(a: {}", open.repeat(20_000)),
        );
        assert_eq!(codes(&diagnostics), [Code::TooDeep], "{open}");
    }
}

#[test]
fn nesting_up_to_the_limit_compiles() {
    // The limit is reachable: `MAX_NESTING` levels (the record's own
    // parenthesis included) are accepted by every stage, including the
    // canonical schema, which recurses over types.
    let lists = MAX_NESTING - 1;
    let text = format!(
        "namespace x;\nrecord A(a: {}u32{});\n",
        "[".repeat(lists),
        "]".repeat(lists)
    );
    let mut sources = Sources::new();
    sources.add("deep.treaty", text);
    let schema = compile(&sources, &Config::default())
        .map_err(|d| d.render())
        .expect("compiles");
    assert_eq!(treaty_dsl::contracts(&schema).len(), 1);

    let maps = MAX_NESTING - 1;
    let text = format!(
        "namespace x;\nrecord A(a: {}u32{});\n",
        "{String: ".repeat(maps),
        "}".repeat(maps)
    );
    let mut sources = Sources::new();
    sources.add("deep.treaty", text);
    compile(&sources, &Config::default())
        .map_err(|d| d.render())
        .expect("compiles");

    let text = format!(
        "namespace x;\nrecord A(a: {}u32{});\n",
        "[".repeat(lists + 1),
        "]".repeat(lists + 1)
    );
    assert_eq!(codes(&reject("deep.treaty", text)), [Code::TooDeep]);
}

#[test]
fn random_bytes_that_are_not_utf8() {
    // A fixed pseudo-random sequence keeps the test reproducible.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 56) as u8
        })
        .collect();
    assert!(std::str::from_utf8(&bytes).is_err());
    let diagnostics = reject("random.treaty", bytes);
    assert_eq!(codes(&diagnostics), [Code::InvalidUtf8]);
}

#[test]
fn one_megabyte_line() {
    let mb = 1 << 20;
    // One enormous name, of a type that does not exist.
    reject("long.treaty", format!("namespace x;\nrecord A(a: {});", "B".repeat(mb)));
    // One enormous string.
    let text = format!(
        "namespace x;\nrecord A(a: String = \"{}\") display \"{{b}}\";",
        "a".repeat(mb)
    );
    reject("long.treaty", text);
    // A megabyte of punctuation: every byte is a syntax error. How fast
    // the report comes is measured by the benchmark binary, not here: a
    // timed assertion fails on a loaded machine, not on slow code.
    let diagnostics = reject("long.treaty", format!("namespace x;{}", ")".repeat(mb)));
    assert!(diagnostics.items.iter().all(|d| d.code == Code::Syntax));
    let diagnostics = reject("long.treaty", format!("namespace x;{}", ";".repeat(mb)));
    assert!(diagnostics.items.iter().all(|d| d.code == Code::Syntax));
    // Nobody reads a million errors; the report stops after a hundred-odd.
    assert!(diagnostics.error_count() <= 101, "{} errors", diagnostics.error_count());
}

/// What must hold of any rendering: at most [`MAX_DIAGNOSTICS`]
/// diagnostics, every source line within a few characters of
/// [`MAX_LINE_CHARS`], and at most `bytes` in all.
fn check_rendering(diagnostics: &Diagnostics, bytes: usize) -> String {
    let rendered = diagnostics.render();
    let shown = rendered.matches("\nerror[").count() + usize::from(rendered.starts_with("error["));
    assert_eq!(shown, diagnostics.items.len().min(MAX_DIAGNOSTICS), "{rendered}");
    for line in rendered.lines().filter(|l| l.contains(" │ ")) {
        // The gutter, the line, and a `…` on each side.
        assert!(line.chars().count() < MAX_LINE_CHARS + 20, "{line}");
    }
    assert!(rendered.len() <= bytes, "{} bytes rendered", rendered.len());
    rendered
}

#[test]
fn sixteen_thousand_errors_render_a_hundred() {
    // 176 KB of one id declared again and again: 15,999 errors. Rendering
    // each used to scan the whole file, and all were printed.
    let text = format!("namespace x;\n{}", "id X: u64;\n".repeat(16_000));
    let diagnostics = reject("ids.treaty", text);
    assert_eq!(diagnostics.error_count(), 15_999);
    let rendered = check_rendering(&diagnostics, 64 * 1024);
    assert!(
        rendered.ends_with("… and 15899 more errors not shown\nerror: contracts have 15999 errors\n"),
        "{rendered}"
    );
    let short = diagnostics.render_short();
    assert_eq!(short.lines().count(), MAX_DIAGNOSTICS + 1);
    assert_eq!(short.lines().last(), Some("… and 15899 more errors not shown"));
}

#[test]
fn thousands_of_errors_on_one_long_line_render_a_window_each() {
    // 16 KB on one line, 8,000 placeholders that name no field: each error
    // used to print the whole line.
    let text = format!("namespace x;\nA!() display \"{}\";\n", "{}".repeat(8_000));
    let diagnostics = reject("template.treaty", text);
    assert_eq!(diagnostics.error_count(), 8_000);
    let rendered = check_rendering(&diagnostics, 64 * 1024);
    // The last one shown is the 100th placeholder, at column 14 + 2 * 100
    // of a line that is shown from a little before it.
    assert!(rendered.contains("┌─ template.treaty:2:213\n"), "{rendered}");
    assert!(rendered.contains("2 │ …{}{}"), "{rendered}");
}

#[test]
fn a_huge_name_renders_its_start() {
    let diagnostics = reject(
        "long.treaty",
        format!("namespace x;\nrecord A(a: {}, b: C, c: D);", "B".repeat(1 << 20)),
    );
    assert_eq!(codes(&diagnostics), [Code::UnknownType; 3]);
    let rendered = check_rendering(&diagnostics, 16 * 1024);
    // The errors after the name still give their true column.
    assert!(
        rendered.contains(&format!("long.treaty:2:{}", 13 + (1 << 20) + 5)),
        "{rendered}"
    );
}

#[test]
fn unprintable_characters_are_never_rendered_raw() {
    let text = "namespace x;\nrecord A(a: String = \"\u{202e}\", b: \u{1b}[31m);\nB!() display \"{\u{7}}\";\n";
    let diagnostics = reject("controls.treaty", text);
    let rendered = diagnostics.render();
    let raw = |c: char| treaty_dsl::source::is_unprintable(c);
    assert!(!rendered.chars().any(raw), "{rendered:?}");
    assert!(!diagnostics.render_short().chars().any(raw));
    // Messages write them as escapes: the template names field `\u{7}`.
    assert!(rendered.contains("unknown field `\\u{7}`"), "{rendered}");
}

#[test]
fn bidi_controls_are_refused_everywhere() {
    for c in [
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{200e}', '\u{200f}', '\u{061c}',
    ] {
        for text in [
            format!("//! {c}\nnamespace x;\n"),
            format!("namespace x;\n/// {c}\nrecord A();\n"),
            format!("namespace x;\n// {c}\nrecord A();\n"),
            format!("namespace x;\nrecord A(a: String = \"{c}\");\n"),
            format!("namespace x;\nA!() display \"{c}\";\n"),
            format!("namespace x;\nrecord A({c}a: u32);\n"),
        ] {
            let diagnostics = reject("bidi.treaty", text.as_str());
            assert_eq!(codes(&diagnostics), [Code::BidiControl], "{text:?}");
        }
    }
    // At most a hundred per file are reported.
    let diagnostics = reject("bidi.treaty", format!("namespace x;\n// {}\n", "\u{202e}".repeat(1000)));
    assert_eq!(diagnostics.items.len(), MAX_DIAGNOSTICS);
}

#[test]
fn control_characters_are_refused_in_docs_and_kept_in_strings() {
    for c in [
        '\0', '\u{7}', '\u{8}', '\u{b}', '\u{c}', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}',
    ] {
        let text = format!("namespace x;\n/// a{c}b\nrecord A();\n");
        assert_eq!(
            codes(&reject("doc.treaty", text.as_str())),
            [Code::ControlCharacter],
            "{text:?}"
        );
        let text = format!("//! a{c}b\nnamespace x;\n");
        assert_eq!(
            codes(&reject("doc.treaty", text.as_str())),
            [Code::ControlCharacter],
            "{text:?}"
        );
        // Strings may hold them: the generated literals escape them.
        let mut sources = Sources::new();
        sources.add(
            "string.treaty",
            format!("namespace x;\nrecord A(a: String = \"a{c}b\") display \"{c}{{a}}\";\n"),
        );
        compile(&sources, &Config::default())
            .map_err(|d| d.render())
            .expect("strings hold control characters");
    }
    // Tabs, and the carriage return of a Windows line end, are fine.
    let mut sources = Sources::new();
    sources.add("doc.treaty", "namespace x;\r\n/// a\tb\r\nrecord A();\r\n");
    compile(&sources, &Config::default())
        .map_err(|d| d.render())
        .expect("tabs in docs");
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let mut sources = Sources::new();
    sources.add("bom.treaty", "\u{feff}namespace x;\nA!();\n");
    compile(&sources, &Config::default())
        .map_err(|d| d.render())
        .expect("compiles");
    // Columns count from the text after it.
    let diagnostics = reject("bom.treaty", "\u{feff}namespace x; B!(a: Nope);");
    assert_eq!(
        diagnostics.render_short(),
        "bom.treaty:1:20: error[unknown-type]: unknown type `Nope`\n"
    );
    // Bytes that are not UTF-8 after it are reported where they are.
    let diagnostics = reject("bom.treaty", b"\xef\xbb\xbfnamespace \xff;".to_vec());
    assert_eq!(diagnostics.items[0].primary.span.start, 10);
}

#[test]
fn empty_file() {
    assert_eq!(codes(&reject("empty.treaty", "")), [Code::MissingNamespace]);
}

#[test]
fn only_comments() {
    let text = "// just a comment\n/// a doc comment with nothing to document\n//! file docs\n";
    // The doc comment documents nothing, which is the error reported.
    let diagnostics = reject("comments.treaty", text);
    assert_eq!(codes(&diagnostics), [Code::Syntax], "{}", diagnostics.render_short());
    // Plain and file comments alone are not even a syntax error.
    assert_eq!(
        codes(&reject("comments.treaty", "// one\n//! two\n")),
        [Code::MissingNamespace]
    );
}

#[test]
fn nul_bytes() {
    let diagnostics = reject("nul.treaty", "namespace x;\nrecord A(a: u32\0);\n\0\0\0");
    assert!(codes(&diagnostics).iter().all(|c| *c == Code::Syntax));
    reject("nul.treaty", "\0namespace x;");
}

#[test]
fn huge_version_number() {
    let diagnostics = reject(
        "big.treaty",
        "namespace x;\nA! v99999999999 ();\nB! v2 () was v99999999999999999999999 ();\n",
    );
    // One error per number that is too large, and no second one from
    // comparing it with the version before.
    assert!(codes(&diagnostics).iter().all(|c| *c == Code::BadVersionHistory));
    assert_eq!(diagnostics.error_count(), 2, "{}", diagnostics.render_short());
}

#[test]
fn unterminated_string() {
    let diagnostics = reject(
        "string.treaty",
        "namespace x;\nA!(note: String = \"never closed);\nB!(x: Strin);\n",
    );
    // The error after the broken string is still found.
    assert_eq!(
        codes(&diagnostics),
        [Code::Syntax, Code::UnknownType],
        "{}",
        diagnostics.render_short()
    );
    reject("string.treaty", "namespace x;\nA!() display \"never closed");
    reject(
        "string.treaty",
        "namespace x;\nA!(note: String = \"ends in a backslash\\",
    );
}

#[test]
fn long_chain_of_records() {
    // Validation follows a chain of records to look for recursion and to
    // measure nesting, and must not overflow the stack doing so; a chain
    // this deep is refused, with one error, because every message using it
    // would expand it in its canonical schema.
    let n = 20_000;
    let mut text = String::from("namespace x;\n");
    for i in 0..n {
        text.push_str(&format!("record R{i}(next: R{});\n", i + 1));
    }
    text.push_str(&format!("record R{n}(end: u32);\n"));
    let mut sources = Sources::new();
    sources.add("chain.treaty", text);
    let errors = compile(&sources, &Config::default()).expect_err("too deep");
    assert_eq!(errors.items.len(), 1, "{}", errors.render());
    assert!(
        errors.items[0]
            .message
            .starts_with("record `x.R0` nests records 20001 levels deep; the limit is 32"),
        "{}",
        errors.render()
    );
}

#[test]
fn records_may_nest_up_to_the_limit() {
    let n = 31;
    let mut text = String::from("namespace x;\n");
    for i in 0..n {
        text.push_str(&format!("record R{i}(next: R{}, list: [R{i}]);\n", i + 1));
    }
    text.push_str(&format!("record R{n}(end: u32);\nA!(r: R0);\n"));
    let mut sources = Sources::new();
    sources.add("nest.treaty", text);
    let schema = compile(&sources, &Config::default())
        .map_err(|d| d.render())
        .expect("32 levels compile");
    assert_eq!(treaty_dsl::contracts(&schema).len(), 33);
}

#[test]
fn diamond_of_records() {
    // Each record holds the next one twice, so there are 2^30 paths from
    // the first to the last, and the first would expand to 2^30 fields in
    // its canonical form: validation must refuse it without walking them.
    let diamond = |n: usize| {
        let mut text = String::from("namespace x;\n");
        for i in 0..n {
            text.push_str(&format!("record R{i}(a: R{next}, b: R{next});\n", next = i + 1));
        }
        text.push_str(&format!("record R{n}(end: u32);\nA!(r: R0);\n"));
        let mut sources = Sources::new();
        sources.add("diamond.treaty", text);
        compile(&sources, &Config::default())
    };
    let errors = diamond(30).expect_err("expands too far");
    assert!(
        errors.items[0]
            .message
            .starts_with("record `x.R0` expands to more than 100000 fields"),
        "{}",
        errors.render()
    );
    // A small diamond compiles and fingerprints. (The expansion limit
    // above is what bounds the time; no clock is asserted on.)
    let schema = diamond(10).map_err(|d| d.render()).expect("compiles");
    assert_eq!(treaty_dsl::contracts(&schema).len(), 12);
}

/// Compiles `text` and checks what must hold for any input at all.
fn compile_anything(text: &str) {
    let mut sources = Sources::new();
    let id = sources.add("any.treaty", text);
    match compile(&sources, &Config::default()) {
        Ok(schema) => {
            // `compile` says Ok only when no stage found an error; the
            // stages, run by hand, must agree.
            let (file, parse_errors) = parse_file(&sources, id);
            assert!(parse_errors.is_empty(), "Ok, yet the parser reported {parse_errors:?}");
            let (_, errors) = validate(&[(id, file)], &Config::default());
            assert!(
                errors.iter().all(|d| d.severity != Severity::Error),
                "Ok, yet validation reported {errors:?}"
            );
            for contract in treaty_dsl::contracts(&schema) {
                assert_eq!(contract.fingerprint.len(), 32);
            }
        }
        Err(diagnostics) => {
            assert!(diagnostics.error_count() > 0);
            check_spans(&diagnostics);
            let rendered = diagnostics.render();
            assert!(rendered.contains("error["), "{rendered}");
        }
    }
}

/// Pieces of the language, so that random sequences of them get past the
/// first token and into the depths of the parser and the validator.
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
    "x",
    "y.z",
    "A",
    "B",
    "Foo",
    "FooV1",
    "FooCommand",
    "u32",
    "i64",
    "f64",
    "String",
    "Bytes",
    "Uuid",
    "Timestamp",
    "Decimal",
    "none",
    "true",
    "v1",
    "v2",
    "v0",
    "v4294967295",
    "v99999999999",
    "0",
    "-1",
    "1.5",
    "1e999",
    "\"{a}\"",
    "\"{\"",
    "\"}\"",
    "\"",
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
    "///d\n",
    "//!d\n",
    "//c\n",
    "\n",
    "\\",
    "a",
    "_",
    "_1",
    "é",
    "\0",
];

/// A random type expression, nested a few levels.
fn type_expr() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "u32", "String", "A", "B", "E", "Id", "Foo", "x.A", "Nope", "f64", "Bytes",
    ])
    .prop_map(str::to_string);
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| format!("[{t}]")),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{{k}: {v}}}")),
            inner.prop_map(|t| format!("{t}?")),
        ]
    })
}

fn field() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec!["a", "b", "carModel", "car_model", "id", "_", "type"]);
    let default = prop::sample::select(vec![
        "", " = 0", " = -1", " = none", " = []", " = {}", " = \"s\"", " = Red",
    ]);
    prop_oneof![
        (name, type_expr(), default).prop_map(|(n, t, d)| format!("{n}: {t}{d}")),
        Just("frag".to_string()),
    ]
}

fn fields() -> impl Strategy<Value = String> {
    prop::collection::vec(field(), 0..4).prop_map(|f| f.join(", "))
}

fn message() -> impl Strategy<Value = String> {
    let template = prop::sample::select(vec!["", " display \"{a}\"", " display \"{id} {b}\"", " display \"{\""]);
    let version = prop::sample::select(vec!["", " v2", " v3", " v0"]);
    let history = prop::sample::select(vec![
        "",
        " was v1 (a: u32)",
        " was v2 () was v1 ()",
        " was v1 (frag)",
        " was v4294967295 ()",
    ]);
    (
        prop::sample::select(vec!["Foo", "Bar", "FooV1", "ACommand", "low"]),
        prop::sample::select(vec!["?", "!"]),
        version,
        fields(),
        template,
        history,
    )
        .prop_map(|(n, k, v, f, t, h)| format!("{n}{k}{v} ({f}){t}{h};"))
}

fn declaration() -> impl Strategy<Value = String> {
    prop_oneof![
        fields().prop_map(|f| format!("record A({f});")),
        fields().prop_map(|f| format!("record B({f}) display \"{{a}}\";")),
        Just("enum E { Red, Green, red }".to_string()),
        type_expr().prop_map(|t| format!("id Id: {t};")),
        field().prop_map(|f| format!("const frag = {f};")),
        Just("use x.A;".to_string()),
        message(),
        (type_expr(), prop::collection::vec(message(), 0..3))
            .prop_map(|(t, m)| format!("aggregate A(id: {t}) {{ {} }}", m.join(" "))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        compile_anything(&text);
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..60)) {
        compile_anything(&format!("namespace x;\n{}", tokens.join(" ")));
        compile_anything(&tokens.concat());
    }

    #[test]
    fn random_declarations_never_panic(declarations in prop::collection::vec(declaration(), 0..8)) {
        compile_anything(&format!("namespace x;\n{}", declarations.join("\n")));
    }
}

/// Pieces of Lokad `.ddd` files and of other languages' field lists,
/// which the parser explains rather than only rejects.
const LOKAD_PIECES: &[&str] = &[
    "extern \"Lokad.SaaS\";",
    "extern \"",
    "using Lokad.Cqrs;",
    "using",
    "interface Security(SecurityId Id)",
    "interface Registry",
    "interface",
    "{",
    "}",
    "if ? = ISecurityCommand;",
    "if ! = ISecurityEvent;",
    "if ?",
    "const name = string name;",
    "const login = login: String",
    "CreateSecurity?(string displayName, Guid? id, int[] counts)",
    "Opened!(DateTime at)",
    "Plain(string name)",
    "explicit \"Added {displayName} ({Id})\"",
    "explicit",
    "/* block",
    "comment */",
    "/*",
    "*/",
    "// note",
    "/// doc",
    "\n",
    "\n    ",
    ";",
    "(",
    ")",
    ",",
    "?",
    "é",
    "\u{200b}",
    "\u{feff}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lokad_pieces_never_panic(pieces in prop::collection::vec(prop::sample::select(LOKAD_PIECES), 0..40)) {
        compile_anything(&format!("namespace x;\n{}", pieces.join("\n")));
        compile_anything(&pieces.concat());
        compile_anything(&pieces.join(" "));
    }
}
