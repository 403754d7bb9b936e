//! Help for people coming from other languages: type names of C#, Java,
//! TypeScript, Protocol Buffers and Rust mapped to Treaty's, the nearest
//! name by edit distance, and what Lokad's Code DSL (`.ddd` files) wrote
//! where Treaty writes something else. Pure functions over text; the
//! parser and the validator decide where they apply.

/// A type name of another language and what Treaty calls it.
pub(crate) struct Alias {
    /// The languages that spell the type this way, for the help text.
    pub languages: &'static str,
    /// Treaty's type, or how to express it when there is no such type.
    pub treaty: Treaty,
}

pub(crate) enum Treaty {
    /// A built-in type with the same meaning.
    Type(&'static str),
    /// No built-in type means the same; the advice says what to write.
    Advice(&'static str),
}

const CS: &str = "C#";
const JAVA: &str = "Java";
const CS_JAVA: &str = "C# and Java";
const PROTO: &str = "Protocol Buffers";
const RUST: &str = "Rust";
const TS: &str = "TypeScript";

/// Names as other languages write them. Names that only differ from a
/// built-in by case (`string`, `uuid`, `bytes`) are left to the check
/// for case, which says so more directly.
const ALIASES: &[(&str, &str, Treaty)] = &[
    ("int", "C# and Java", Treaty::Type("i32")),
    ("Int32", CS, Treaty::Type("i32")),
    ("Integer", JAVA, Treaty::Type("i32")),
    ("int32", PROTO, Treaty::Type("i32")),
    ("sint32", PROTO, Treaty::Type("i32")),
    ("sfixed32", PROTO, Treaty::Type("i32")),
    ("uint", CS, Treaty::Type("u32")),
    ("UInt32", CS, Treaty::Type("u32")),
    ("uint32", PROTO, Treaty::Type("u32")),
    ("fixed32", PROTO, Treaty::Type("u32")),
    ("long", CS_JAVA, Treaty::Type("i64")),
    ("Long", JAVA, Treaty::Type("i64")),
    ("Int64", CS, Treaty::Type("i64")),
    ("int64", PROTO, Treaty::Type("i64")),
    ("sint64", PROTO, Treaty::Type("i64")),
    ("sfixed64", PROTO, Treaty::Type("i64")),
    ("bigint", TS, Treaty::Type("i64")),
    ("ulong", CS, Treaty::Type("u64")),
    ("UInt64", CS, Treaty::Type("u64")),
    ("uint64", PROTO, Treaty::Type("u64")),
    ("fixed64", PROTO, Treaty::Type("u64")),
    ("short", CS_JAVA, Treaty::Type("i32")),
    ("Short", JAVA, Treaty::Type("i32")),
    ("Int16", CS, Treaty::Type("i32")),
    ("i16", RUST, Treaty::Type("i32")),
    ("i8", RUST, Treaty::Type("i32")),
    ("sbyte", CS, Treaty::Type("i32")),
    ("ushort", CS, Treaty::Type("u32")),
    ("UInt16", CS, Treaty::Type("u32")),
    ("u16", RUST, Treaty::Type("u32")),
    ("u8", RUST, Treaty::Type("u32")),
    ("byte", CS_JAVA, Treaty::Type("u32")),
    ("Byte", CS_JAVA, Treaty::Type("u32")),
    ("usize", RUST, Treaty::Type("u64")),
    ("isize", RUST, Treaty::Type("i64")),
    ("double", "C#, Java and Protocol Buffers", Treaty::Type("f64")),
    ("Double", CS_JAVA, Treaty::Type("f64")),
    ("float", "C#, Java and Protocol Buffers", Treaty::Type("f64")),
    ("Float", JAVA, Treaty::Type("f64")),
    ("Single", CS, Treaty::Type("f64")),
    ("f32", RUST, Treaty::Type("f64")),
    (
        "number",
        TS,
        Treaty::Advice("`f64`, or an integer type such as `i64` when it only holds whole numbers"),
    ),
    ("boolean", "Java and TypeScript", Treaty::Type("bool")),
    ("Boolean", CS_JAVA, Treaty::Type("bool")),
    ("char", CS_JAVA, Treaty::Type("String")),
    ("Character", JAVA, Treaty::Type("String")),
    ("str", RUST, Treaty::Type("String")),
    ("Guid", CS, Treaty::Type("Uuid")),
    ("DateTime", CS, Treaty::Type("Timestamp")),
    ("DateTimeOffset", CS, Treaty::Type("Timestamp")),
    ("Instant", JAVA, Treaty::Type("Timestamp")),
    ("LocalDateTime", JAVA, Treaty::Type("Timestamp")),
    ("OffsetDateTime", JAVA, Treaty::Type("Timestamp")),
    ("ZonedDateTime", JAVA, Treaty::Type("Timestamp")),
    ("DateOnly", CS, Treaty::Type("Date")),
    ("LocalDate", JAVA, Treaty::Type("Date")),
    ("BigDecimal", JAVA, Treaty::Type("Decimal")),
    ("Uint8Array", TS, Treaty::Type("Bytes")),
    (
        "TimeSpan",
        CS,
        Treaty::Advice("no duration type: use an integer such as `i64` and name the unit (`timeout_ms: i64`)"),
    ),
    (
        "Duration",
        "Java and Protocol Buffers",
        Treaty::Advice("no duration type: use an integer such as `i64` and name the unit (`timeout_ms: i64`)"),
    ),
    (
        "object",
        "C# and TypeScript",
        Treaty::Advice("no type that holds anything: declare a `record` or an `enum` for what it holds"),
    ),
    (
        "any",
        TS,
        Treaty::Advice("no type that holds anything: declare a `record` or an `enum` for what it holds"),
    ),
];

/// What Treaty calls the type another language calls `name` (dotted
/// Protocol Buffers names included).
pub(crate) fn type_alias(name: &str) -> Option<Alias> {
    match name {
        "google.protobuf.Timestamp" => {
            return Some(Alias {
                languages: PROTO,
                treaty: Treaty::Type("Timestamp"),
            })
        }
        "google.protobuf.Duration" => return type_alias("Duration"),
        _ => {}
    }
    ALIASES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, languages, treaty)| Alias {
            languages,
            treaty: match treaty {
                Treaty::Type(t) => Treaty::Type(t),
                Treaty::Advice(a) => Treaty::Advice(a),
            },
        })
}

/// The Treaty spelling of a C# type as Lokad's `.ddd` files write it:
/// `int` is `i32`, `string[]` is `[String]`, `int?` is `i32?`. Names
/// Treaty does not know are kept as written.
pub(crate) fn treaty_type_of(csharp: &str) -> String {
    if let Some(inner) = csharp.strip_suffix("[]") {
        return format!("[{}]", treaty_type_of(inner));
    }
    if let Some(inner) = csharp.strip_suffix('?') {
        return format!("{}?", treaty_type_of(inner));
    }
    match csharp {
        "string" => "String".to_string(),
        "bool" => "bool".to_string(),
        "decimal" => "Decimal".to_string(),
        "byte[]" => "Bytes".to_string(),
        other => match type_alias(other) {
            Some(Alias {
                treaty: Treaty::Type(t),
                ..
            }) => t.to_string(),
            _ => other.to_string(),
        },
    }
}

/// The Levenshtein distance between `a` and `b`, ignoring ASCII case,
/// or `None` once it exceeds `limit` (names are short; the limit keeps
/// a long name from costing more than it should).
pub(crate) fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= limit).then_some(distance)
}

/// The candidate closest to `name`, when it is close enough to be a
/// typo: at most one edit in four characters, and at least one. Ties go
/// to the first candidate.
pub(crate) fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 4).max(1);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        if let Some(d) = edit_distance(name, candidate, limit) {
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, candidate));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// A syntax error explained for someone writing Lokad's Code DSL: the
/// message, the label and the help replace the generic ones.
pub(crate) struct LokadHint {
    /// Whether the caret goes on the declaration's first word (the
    /// construct) rather than where the parse failed.
    pub at_head: bool,
    pub message: String,
    pub label: String,
    pub help: String,
}

/// Recognizes the Lokad construct that starts `declaration` (the text of
/// the declaration that failed, from its first word), given the `found`
/// text at the error, the `before` text of the declaration up to it and
/// the text `after` it.
pub(crate) fn lokad_hint(declaration: &str, before: &str, after: &str, found: &str) -> Option<LokadHint> {
    let head = first_word(declaration);
    let after_head = declaration[head.len()..].trim_start();
    if head == "extern" && after_head.starts_with('"') {
        return Some(LokadHint {
            at_head: true,
            message: "`extern \"...\"` is Lokad's Code DSL, not Treaty".into(),
            label: "Lokad's contract namespace".into(),
            help: "delete it: `namespace name;` at the top of the file names the contracts".into(),
        });
    }
    if head == "let" && !first_word(after_head).is_empty() {
        let name = first_word(after_head);
        return Some(LokadHint {
            at_head: true,
            message: "Lokad's `let` is `const` in Treaty".into(),
            label: "Lokad's field fragment".into(),
            help: {
                let value = after_head.split_once('=').map_or("", |(_, v)| v);
                let value = value.split([';', '\n']).next().unwrap_or("");
                let fields: Vec<String> = value
                    .split(',')
                    .map(|f| match f.split_whitespace().collect::<Vec<_>>()[..] {
                        [ty, field] => format!("{}: {}", snake(field), treaty_type_of(ty)),
                        _ => "name: Type".to_string(),
                    })
                    .collect();
                format!(
                    "write `const {name} = {};`: each field is `name: Type`",
                    fields.join(", ")
                )
            },
        });
    }
    if head == "using" {
        return Some(LokadHint {
            at_head: true,
            message: "`using` is C#; Treaty imports one type at a time".into(),
            label: "C# import".into(),
            help: "write `use namespace.Name;` for each type used from another namespace, or delete it".into(),
        });
    }
    if head == "if" && (after_head.starts_with('?') || after_head.starts_with('!')) {
        let kind = if after_head.starts_with('?') {
            "commands"
        } else {
            "events"
        };
        return Some(LokadHint {
            at_head: true,
            message: format!("Lokad's `if {} = I...;` has no counterpart in Treaty", &after_head[..1]),
            label: format!("sets the interface of Lokad's {kind}"),
            help: "delete it: `?` marks each command and `!` each event, and the messages of an `aggregate` carry \
                   its identity"
                .into(),
        });
    }
    if head == "interface" {
        let rest = after_head[first_word(after_head).len()..].trim_start();
        let name = first_word(after_head);
        let name = if name.is_empty() { "Name" } else { name };
        let identity = rest
            .strip_prefix('(')
            .and_then(|r| r.split(')').next())
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let header = match identity.map(|i| i.split_whitespace().collect::<Vec<_>>()) {
            Some(words) if words.len() == 2 => {
                format!("aggregate {name}({}: {})", snake(words[1]), treaty_type_of(words[0]))
            }
            _ => format!("aggregate {name}(id: {name}Id)"),
        };
        return Some(LokadHint {
            at_head: true,
            message: "Lokad's `interface` is an `aggregate` in Treaty".into(),
            label: "Lokad's aggregate".into(),
            help: format!(
                "write `{header} {{ ... }}`: the identity is a field `name: Type`, declared with `id {name}Id: \
                 Uuid;` if it is an id"
            ),
        });
    }
    if found == "`explicit`" {
        return Some(LokadHint {
            at_head: false,
            message: "Lokad's `explicit \"...\"` is `display \"...\"` in Treaty".into(),
            label: "Lokad's text template".into(),
            help: "write `display \"...\"` and end the declaration with `;`; its placeholders name fields as \
                   declared, `{field}`"
                .into(),
        });
    }
    if found == "`(`" && !head.is_empty() && after_head.starts_with('(') && before.trim_end() == head {
        return Some(LokadHint {
            at_head: false,
            message: format!(
                "expected `?` (command) or `!` (event), found `(`; `{head}(...)` is a plain Lokad contract"
            ),
            label: "needs `?`, `!` or `record`".into(),
            help: format!("write `{head}?(...)` for a command, `{head}!(...)` for an event, or `record {head}(...);`"),
        });
    }
    csharp_field_order(before, after)
}

/// C#'s field order, `string login` or `Guid? id`: the type, then the
/// name, in a field list or a fragment, with the error somewhere in it.
fn csharp_field_order(before: &str, after: &str) -> Option<LokadHint> {
    let item_start = before.rfind(['(', ',', '=']).map_or(0, |i| i + 1);
    let item_end = after.find([',', ')', ';', '\n']).unwrap_or(after.len());
    let item = format!("{}{}", &before[item_start..], &after[..item_end]);
    let mut words = item.split_whitespace();
    let (ty, name) = (words.next()?, words.next()?);
    if words.next().is_some() || item.contains(':') {
        return None;
    }
    let base = ty.trim_end_matches(['?', '[', ']']);
    let is_name = |w: &str| {
        w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    let suffix_ok = ty[base.len()..].chars().all(|c| "?[]".contains(c));
    if !is_name(base) || !suffix_ok || !is_name(name) || name.contains('.') {
        return None;
    }
    let field = format!("{}: {}", snake(name), treaty_type_of(ty));
    Some(LokadHint {
        at_head: false,
        message: format!("fields are written `name: Type`, not `Type name`: found `{ty} {name}`"),
        label: "the field's name comes first".into(),
        help: {
            let mut chars = name.chars();
            let stored: String = chars
                .next()
                .map_or(String::new(), |c| c.to_ascii_uppercase().to_string() + chars.as_str());
            format!(
                "write `{field}`; to read what Lokad stored, keep its C# property name on the wire: \
                 `{field} wire \"{stored}\"`"
            )
        },
    })
}

/// The identifier at the start of `text`, or `""`.
pub(crate) fn first_word(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// `displayName` and `DisplayName` as `display_name`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let after_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let before_lower = i > 0 && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if after_lower || (before_lower && chars[i - 1].is_ascii_uppercase()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits_ignoring_case() {
        assert_eq!(edit_distance("Strin", "String", 3), Some(1));
        assert_eq!(edit_distance("Ordr", "order", 3), Some(1));
        assert_eq!(edit_distance("abc", "xyz", 3), Some(3));
        assert_eq!(edit_distance("abc", "xyz", 2), None);
        assert_eq!(edit_distance("", "ab", 2), Some(2));
    }

    #[test]
    fn nearest_wants_a_close_name() {
        let names = ["String", "OrderId", "Customer"];
        assert_eq!(nearest("OrderID", names), Some("OrderId"));
        assert_eq!(nearest("Costumer", names), Some("Customer"));
        assert_eq!(nearest("Invoice", names), None);
    }

    #[test]
    fn csharp_types_in_treaty() {
        assert_eq!(treaty_type_of("int"), "i32");
        assert_eq!(treaty_type_of("string[]"), "[String]");
        assert_eq!(treaty_type_of("Guid?"), "Uuid?");
        assert_eq!(treaty_type_of("DateTime"), "Timestamp");
        assert_eq!(treaty_type_of("CustomerId"), "CustomerId");
    }

    #[test]
    fn snake_case_of_csharp_names() {
        assert_eq!(snake("displayName"), "display_name");
        assert_eq!(snake("DisplayName"), "display_name");
        assert_eq!(snake("HTTPCode"), "http_code");
        assert_eq!(snake("login"), "login");
    }
}
