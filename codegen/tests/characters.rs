//! Characters that rustc refuses in generated code: contracts that hold
//! them are refused by validation (bidirectional controls anywhere,
//! control characters in docs), and the generator escapes the rest (the
//! control characters strings may hold). The code generated from a
//! contract with every accepted kind of character holds none of them raw;
//! `tests/e2e` compiles it under `deny(warnings)`.

#[path = "characters/contract.rs"]
mod contract;

use treaty_codegen::Builder;
use treaty_dsl::source::is_unprintable;
use treaty_dsl::{Code, Sources};

fn generate(text: &str) -> Result<String, treaty_codegen::Error> {
    let mut sources = Sources::new();
    sources.add("characters.treaty", text);
    Builder::new().generate(&sources)
}

#[test]
fn generated_code_holds_no_raw_control_or_bidirectional_character() {
    let code = generate(contract::CONTRACT).unwrap_or_else(|e| panic!("{e}"));
    syn::parse_file(&code).expect("the generated code parses");
    for (i, line) in code.split('\n').enumerate() {
        if let Some(c) = line.chars().find(|c| is_unprintable(*c)) {
            panic!("line {} holds a raw U+{:04X}: {line:?}", i + 1, u32::from(c));
        }
    }
    // Docs keep the characters that are not controls, as they are; a tab
    // becomes four spaces, which clippy prefers.
    assert!(
        code.contains("/// A mark: tab    , \u{200b}, \u{feff}, \u{2028}"),
        "{code}"
    );
    assert!(code.contains("//! Accepted in docs: tab    ,"), "{code}");
    // Literals carry controls as escapes.
    assert!(code.contains(r#""nul \0 bell \u{7} backspace \u{8}"#), "{code}");
}

#[test]
fn generated_literals_hold_the_contract_strings() {
    let code = generate(contract::CONTRACT).unwrap_or_else(|e| panic!("{e}"));
    let file = syn::parse_file(&code).unwrap();
    let mut strings = Vec::new();
    collect_strings(&file.items, &mut strings);
    for expected in [contract::CONTROLS, contract::UNUSUAL] {
        assert!(
            strings.iter().any(|s| s == expected),
            "{expected:?} is not among {strings:#?}"
        );
    }
}

/// The string literals of every function body in `items`, modules and
/// impls included.
fn collect_strings(items: &[syn::Item], out: &mut Vec<String>) {
    for item in items {
        match item {
            syn::Item::Mod(m) => collect_strings(m.content.as_ref().map_or(&[][..], |(_, i)| i), out),
            syn::Item::Impl(i) => {
                for item in &i.items {
                    if let syn::ImplItem::Fn(f) = item {
                        out.extend(
                            f.block
                                .stmts
                                .iter()
                                .filter_map(|s| match s {
                                    syn::Stmt::Expr(e, _) => Some(expr_strings(e)),
                                    _ => None,
                                })
                                .flatten(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn expr_strings(expr: &syn::Expr) -> Vec<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s), ..
        }) => vec![s.value()],
        syn::Expr::Call(call) => call.args.iter().flat_map(expr_strings).collect(),
        syn::Expr::MethodCall(call) => call.args.iter().flat_map(expr_strings).collect(),
        syn::Expr::Macro(m) => m
            .mac
            .parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
            .map(|args| args.iter().flat_map(expr_strings).collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[test]
fn contracts_with_characters_rustc_refuses_are_refused() {
    let cases = [
        ("namespace x;\n/// a \u{202e} b\nrecord A();\n", Code::BidiControl),
        ("//! \u{2066}x\nnamespace x;\n", Code::BidiControl),
        ("namespace x;\nrecord A(a: String = \"\u{202d}\");\n", Code::BidiControl),
        ("namespace x;\nA!() display \"\u{200f}\";\n", Code::BidiControl),
        ("namespace x;\n// \u{061c} comment\nrecord A();\n", Code::BidiControl),
        ("namespace x;\n/// a \r b\nrecord A();\n", Code::ControlCharacter),
        (
            "namespace x;\n/// \u{1b}[31m red\nrecord A();\n",
            Code::ControlCharacter,
        ),
        ("namespace x;\nenum E {\n/// a\u{85}b\nA }\n", Code::ControlCharacter),
    ];
    for (text, code) in cases {
        match generate(text) {
            Ok(_) => panic!("{text:?} generated code"),
            Err(treaty_codegen::Error::Contracts(diagnostics)) => {
                let codes: Vec<Code> = diagnostics.items.iter().map(|d| d.code).collect();
                assert_eq!(codes, [code], "{text:?}: {}", diagnostics.render());
            }
            Err(other) => panic!("{text:?}: {other}"),
        }
    }
}
