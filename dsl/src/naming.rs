//! How contract names become Rust names. The validator uses these rules to
//! catch collisions before the code generator applies them.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Rust keywords that `r#` cannot escape; fields with these names get a
/// trailing underscore instead.
const UNRAWABLE: [&str; 5] = ["self", "Self", "super", "crate", "_"];

/// Every keyword of Rust 2021 (strict and reserved).
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super",
    "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// Whether `name` is a Rust keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name) || name == "gen"
}

/// The Rust name of a field (snake case), without any `r#`; `None` when
/// nothing of the name is left, as for `_`, or what is left starts with a
/// digit, as for `_1`, since Rust names cannot.
pub fn field_name(wire: &str) -> Option<String> {
    let snake = wire.to_snake_case();
    if !snake.starts_with(|c: char| !c.is_ascii_digit()) {
        None
    } else if UNRAWABLE.contains(&snake.as_str()) {
        Some(format!("{snake}_"))
    } else {
        Some(snake)
    }
}

/// The Rust name of an enum variant (upper camel case); `None` when
/// nothing of the name is left, or what is left starts with a digit.
pub fn variant_name(wire: &str) -> Option<String> {
    let camel = wire.to_upper_camel_case();
    if !camel.starts_with(|c: char| !c.is_ascii_digit()) {
        None
    } else if camel == "Self" {
        Some("Self_".to_string())
    } else {
        Some(camel)
    }
}

/// The Rust module of a namespace segment, without any `r#`.
pub fn module_name(segment: &str) -> String {
    if UNRAWABLE.contains(&segment) {
        format!("{segment}_")
    } else {
        segment.to_string()
    }
}

/// Whether a type name follows Rust's convention, so generated code has
/// no `non_camel_case_types` warning.
pub fn is_type_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_uppercase()) && !name.contains('_') && name != "Self"
}

/// The conventional spelling of a type name.
pub fn suggest_type_name(name: &str) -> String {
    name.to_upper_camel_case()
}

/// Whether a namespace segment works as a Rust module name without a
/// `non_snake_case` warning.
pub fn is_module_name(segment: &str) -> bool {
    segment.starts_with(|c: char| c.is_ascii_lowercase())
        && segment
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !segment.contains("__")
        && !segment.ends_with('_')
}

/// The conventional spelling of a namespace segment.
pub fn suggest_module_name(segment: &str) -> String {
    segment.to_snake_case()
}

/// Rust types that generated code writes unqualified, and the `CONTRACTS`
/// and `SCHEMAS` constants of each generated module, so contract types may
/// not take their names.
pub const RESERVED_TYPE_NAMES: [&str; 7] = ["Vec", "Option", "BTreeMap", "Box", "Result", "CONTRACTS", "SCHEMAS"];
