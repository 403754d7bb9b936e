//! The contract with every kind of character contracts accept: its
//! generated code built without warnings (this crate denies them), and its
//! literals hold exactly the contract's strings.

#[allow(dead_code)]
#[path = "../../../codegen/tests/characters/contract.rs"]
mod contract;

use treaty_e2e::characters::characters::{Mark, Noted, Text};

#[test]
fn defaults_hold_every_character() {
    let text: Text = serde_json::from_str("{}").unwrap();
    assert_eq!(text.controls, contract::CONTROLS);
    assert_eq!(text.unusual, contract::UNUSUAL);
    assert_eq!(text.escapes, "quote \" backslash \\ newline \n tab \t return \r");
    assert_eq!(text.mark, Mark::Plain);
}

#[test]
fn templates_hold_every_character() {
    let text: Text = serde_json::from_str("{}").unwrap();
    assert_eq!(
        text.to_string(),
        format!(
            "text: nul \0 bell \u{7} escape \u{1b} next line \u{85} bom \u{feff} line \u{2028} {{braces}} \u{5e9}\u{627} {}",
            contract::CONTROLS
        )
    );
    assert_eq!(
        Noted { text }.to_string(),
        "nul \0 delete \u{7f} bom \u{feff} rtl \u{5e9}\u{627} {}"
    );
}
