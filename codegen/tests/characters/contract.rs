// A contract holding every kind of character that contracts accept in
// docs and strings, written with Rust escapes so that no repository file
// holds raw control characters. `codegen/tests/characters.rs` checks the
// code generated from it; `tests/e2e/build.rs` compiles that code under
// `deny(warnings)` and clippy.
//
// Docs take any character but controls (tab aside) and bidirectional
// controls; strings take any character but bidirectional controls, and
// the generator escapes the controls in the literals it writes.

/// The contract text.
pub const CONTRACT: &str = concat!(
    "//! Accepted in docs: tab\t, zero width space \u{200b}, byte order mark \u{feff}, word joiner \u{2060}, ",
    "line separator \u{2028}, paragraph separator \u{2029}, combining e\u{301}, Hebrew \u{5e9}\u{5dc}\u{5d5}\u{5dd}, ",
    "Arabic \u{645}\u{631}\u{62d}\u{628}\u{627}, emoji \u{1f600}, no-break space \u{a0}, replacement \u{fffd}, ",
    "`*/` and `/*`, \\ and \"quotes\" {braces}.\n",
    "namespace characters;\n",
    "\n",
    "/// A mark: tab\t, \u{200b}, \u{feff}, \u{2028}, e\u{301}, \u{5e9}\u{627}, \u{1f600}, ends in a backslash \\\n",
    "enum Mark {\n",
    "    /// A variant: \u{feff} \u{2029} \u{5e9}\u{627}\n",
    "    Plain,\n",
    "}\n",
    "\n",
    "/// Text with unusual characters in its defaults and display template.\n",
    "record Text(\n",
    "    /// Control characters, which strings may hold: \u{200b}\t.\n",
    "    controls: String = \"nul \0 bell \u{7} backspace \u{8} vertical tab \u{b} form feed \u{c} ",
    "carriage return \r escape \u{1b} delete \u{7f} next line \u{85} \u{9f} end\",\n",
    "    escapes: String = \"quote \\\" backslash \\\\ newline \\n tab \\t return \\r\",\n",
    "    unusual: String = \"zero width \u{200b} joiner \u{200d} bom \u{feff} line \u{2028} paragraph \u{2029} ",
    "combining e\u{301} rtl \u{5e9}\u{627} emoji \u{1f600} last \u{10ffff} braces {} {{ }}\",\n",
    "    mark: Mark = Plain,\n",
    ") display \"text: nul \0 bell \u{7} escape \u{1b} next line \u{85} bom \u{feff} line \u{2028} ",
    "{{braces}} \u{5e9}\u{627} {controls}\";\n",
    "\n",
    "/// A message whose template has no placeholder, so that it is written with `write_str`.\n",
    "Noted!(text: Text) display \"nul \0 delete \u{7f} bom \u{feff} rtl \u{5e9}\u{627} {{}}\";\n",
);

/// The default of `Text.controls`, as Rust reads the generated literal.
pub const CONTROLS: &str = "nul \0 bell \u{7} backspace \u{8} vertical tab \u{b} form feed \u{c} carriage return \r \
                            escape \u{1b} delete \u{7f} next line \u{85} \u{9f} end";

/// The default of `Text.unusual`.
pub const UNUSUAL: &str =
    "zero width \u{200b} joiner \u{200d} bom \u{feff} line \u{2028} paragraph \u{2029} combining \
                           e\u{301} rtl \u{5e9}\u{627} emoji \u{1f600} last \u{10ffff} braces {} {{ }}";
