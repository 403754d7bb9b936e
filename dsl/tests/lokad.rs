//! The Lokad importer on damaged and arbitrary input: it never panics,
//! and what it writes always parses as Treaty, so `treaty import-ddd`
//! never writes a file `treaty fmt` cannot read.

use proptest::prelude::*;
use treaty_dsl::format_str;
use treaty_dsl::lokad::import;

const SAMPLE: &str = "\u{feff}// A sample.\nnamespace Sample.Shop;\nextern \"Sample\";\nusing System;\n\
    /* block\n comment */\nconst name = string displayName;\nlet token = string token;\n\
    Money(decimal amount, string currency)\ninterface Shop(ShopId Id)\n{\n    if ? = IShopCommand;\n\
    if ! = IShopEvent<ShopId>;\n    Open?(name, int[] counts, Guid? owner, [DataMember] DateTime at)\n\
    Opened!(name, token, Money total) explicit \"Opened {NAME} {token:G} {{x}} {total} {missing\"\n}\n\
    interface Plain { Ping?() }\nOdd#(string a)\n";

/// Applies `edits` (position, kind, character) to `SAMPLE`.
fn mutate(edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = SAMPLE.chars().collect();
    for &(at, kind, c) in edits {
        let at = at % (chars.len() + 1);
        match kind % 3 {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 => chars.insert(at, c),
            _ if at < chars.len() => chars[at] = c,
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn imports_to_valid_syntax(text: &str) -> Result<(), TestCaseError> {
    let imported = import(&[("fuzz.ddd".to_string(), text.to_string())]);
    prop_assert_eq!(imported.len(), 1);
    if let Err(e) = format_str("fuzz.treaty", &imported[0].treaty) {
        return Err(TestCaseError::fail(format!(
            "{e}\n--- input\n{text}\n--- output\n{}",
            imported[0].treaty
        )));
    }
    Ok(())
}

#[test]
fn the_sample_imports() {
    imports_to_valid_syntax(SAMPLE).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_samples_import_to_valid_syntax(
        edits in prop::collection::vec(
            (any::<usize>(), any::<u8>(), prop::sample::select(vec![
                '?', '!', '(', ')', '{', '}', ';', ',', '"', '[', ']', '<', '>', '=', '.', '/', '*', '\n', ' ',
                'a', 'Z', '_', '1', 'é', '\u{202e}', '\u{0}', '@', '$', '#', '\\',
            ])),
            0..12,
        )
    ) {
        imports_to_valid_syntax(&mutate(&edits))?;
    }

    #[test]
    fn arbitrary_text_imports_to_valid_syntax(text in any::<String>()) {
        imports_to_valid_syntax(&text)?;
    }
}
