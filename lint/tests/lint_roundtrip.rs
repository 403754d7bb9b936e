//! Property tests of the breaking-change lint: for any generated contract
//! set, linting it against its own lock finds nothing, in every mode; nor
//! does linting a reformatted copy (fields and variants reordered, other
//! whitespace, comments, docs and display templates) against the
//! original. A false alarm on an unchanged contract would teach people to
//! ignore the lint, so this is the property that matters most.

use proptest::prelude::*;
use treaty_dsl::{compile, Config, Schema, Sources};
use treaty_lint::{Lock, Mode, Options, Places};

/// A generated type; named types are picked from those declared before
/// by index, modulo how many there are.
#[derive(Debug, Clone)]
enum Ty {
    Scalar(usize),
    Named(usize),
    List(Box<Ty>),
    Map(usize, Box<Ty>),
    Optional(Box<Ty>),
}

#[derive(Debug, Clone)]
struct FieldGen {
    ty: Ty,
    default: bool,
}

#[derive(Debug, Clone)]
struct MessageGen {
    event: bool,
    in_aggregate: bool,
    fields: Vec<FieldGen>,
    history: Vec<Vec<FieldGen>>,
}

#[derive(Debug, Clone)]
struct NamespaceGen {
    ids: Vec<usize>,
    enums: Vec<usize>,
    records: Vec<Vec<FieldGen>>,
    messages: Vec<MessageGen>,
}

const SCALARS: [&str; 12] = [
    "bool",
    "i32",
    "i64",
    "u32",
    "u64",
    "f64",
    "String",
    "Bytes",
    "Uuid",
    "Timestamp",
    "Date",
    "Decimal",
];
const ID_INNER: [&str; 4] = ["Uuid", "String", "u64", "i64"];

fn ty() -> impl Strategy<Value = Ty> {
    let leaf = prop_oneof![
        (0..SCALARS.len()).prop_map(Ty::Scalar),
        (0..64usize).prop_map(Ty::Named)
    ];
    leaf.prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| Ty::List(Box::new(t))),
            (0..3usize, inner.clone()).prop_map(|(k, t)| Ty::Map(k, Box::new(t))),
            inner.prop_map(|t| Ty::Optional(Box::new(t))),
        ]
    })
}

fn field() -> impl Strategy<Value = FieldGen> {
    (ty(), any::<bool>()).prop_map(|(ty, default)| FieldGen { ty, default })
}

fn fields() -> impl Strategy<Value = Vec<FieldGen>> {
    prop::collection::vec(field(), 0..4)
}

fn message() -> impl Strategy<Value = MessageGen> {
    (
        any::<bool>(),
        any::<bool>(),
        fields(),
        prop::collection::vec(fields(), 0..3),
    )
        .prop_map(|(event, in_aggregate, fields, history)| MessageGen {
            event,
            in_aggregate,
            fields,
            history,
        })
}

fn namespace() -> impl Strategy<Value = NamespaceGen> {
    (
        prop::collection::vec(0..ID_INNER.len(), 0..3),
        prop::collection::vec(1..4usize, 0..3),
        prop::collection::vec(fields(), 0..3),
        prop::collection::vec(message(), 1..4),
    )
        .prop_map(|(ids, enums, records, messages)| NamespaceGen {
            ids,
            enums,
            records,
            messages,
        })
}

/// How to write the contracts: the two styles must mean the same.
#[derive(Clone, Copy, PartialEq)]
enum Style {
    Plain,
    Reformatted,
}

/// The named types a field list may use.
struct Named {
    /// `(name, variants)` of enums, ids (no variants) and records.
    types: Vec<(String, Option<usize>)>,
    ids: Vec<String>,
}

fn render_ty(ty: &Ty, named: &Named) -> String {
    match ty {
        Ty::Scalar(i) => SCALARS[*i].to_string(),
        Ty::Named(i) if named.types.is_empty() => SCALARS[i % SCALARS.len()].to_string(),
        Ty::Named(i) => named.types[i % named.types.len()].0.clone(),
        Ty::List(t) => format!("[{}]", render_ty(t, named)),
        Ty::Map(k, t) => {
            let key = match k {
                0 => "String".to_string(),
                1 => "u64".to_string(),
                _ => named.ids.first().cloned().unwrap_or_else(|| "String".into()),
            };
            format!("{{{key}: {}}}", render_ty(t, named))
        }
        // `T??` is not a type; an option directly in an option is dropped.
        Ty::Optional(t) if matches!(**t, Ty::Optional(_)) => render_ty(t, named),
        Ty::Optional(t) => format!("{}?", render_ty(t, named)),
    }
}

/// A default the field's type accepts, if the generator picked one.
fn render_default(field: &FieldGen, ty: &str, named: &Named) -> String {
    if !field.default {
        return String::new();
    }
    let value = if ty.ends_with('?') {
        "none".to_string()
    } else if ty.starts_with('[') {
        "[]".to_string()
    } else if ty.starts_with('{') {
        "{}".to_string()
    } else {
        match ty {
            "bool" => "true".into(),
            "i32" | "i64" => "-3".into(),
            "u32" | "u64" => "7".into(),
            "f64" => "1.5".into(),
            "String" => "\"x\"".into(),
            "Decimal" => "2.50".into(),
            other => match named.types.iter().find(|(n, _)| n == other) {
                Some((_, Some(_))) => "V0".into(),
                _ => return String::new(),
            },
        }
    };
    format!(" = {value}")
}

fn render_fields(fields: &[FieldGen], named: &Named, style: Style, indent: &str) -> String {
    let mut written: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ty = render_ty(&f.ty, named);
            let default = render_default(f, &ty, named);
            match style {
                Style::Plain => format!("f{i}: {ty}{default}"),
                Style::Reformatted => format!("/// Field {i}.\n{indent}    f{i} :  {ty}{default}"),
            }
        })
        .collect();
    match style {
        Style::Plain => written.join(", "),
        Style::Reformatted => {
            written.reverse();
            if written.is_empty() {
                String::new()
            } else {
                format!(
                    "\n{indent}    {},\n{indent}",
                    written.join(&format!(",\n{indent}    // between\n{indent}    "))
                )
            }
        }
    }
}

fn render(namespaces: &[NamespaceGen], style: Style) -> Sources {
    let mut sources = Sources::new();
    for (n, ns) in namespaces.iter().enumerate() {
        let name = if n == 0 {
            "alpha".to_string()
        } else {
            format!("beta.n{n}")
        };
        let mut out = match style {
            Style::Plain => format!("namespace {name};\n"),
            Style::Reformatted => {
                format!("//! Reformatted.\n\n// A comment.\nnamespace   {name} ;\n\n")
            }
        };
        let mut named = Named {
            types: Vec::new(),
            ids: Vec::new(),
        };
        for (i, inner) in ns.ids.iter().enumerate() {
            out.push_str(&format!("id Id{i}: {};\n", ID_INNER[*inner]));
            named.types.push((format!("Id{i}"), None));
            named.ids.push(format!("Id{i}"));
        }
        for (i, count) in ns.enums.iter().enumerate() {
            let mut variants: Vec<String> = (0..*count).map(|v| format!("V{v}")).collect();
            if style == Style::Reformatted {
                variants.reverse();
            }
            out.push_str(&format!("enum Enum{i} {{ {} }}\n", variants.join(", ")));
            named.types.push((format!("Enum{i}"), Some(*count)));
        }
        for (i, fields) in ns.records.iter().enumerate() {
            // Only earlier types, so records never contain themselves.
            out.push_str(&format!(
                "record Rec{i}({});\n",
                render_fields(fields, &named, style, "")
            ));
            named.types.push((format!("Rec{i}"), None));
        }
        let mut aggregate = Vec::new();
        for (i, m) in ns.messages.iter().enumerate() {
            let sigil = if m.event { "!" } else { "?" };
            let mut text = String::new();
            if style == Style::Reformatted {
                text.push_str(&format!("/// Message {i}, documented.\n"));
            }
            let version = m.history.len() + 1;
            text.push_str(&format!("Msg{i}Happened{sigil}"));
            if version > 1 {
                text.push_str(&format!(" v{version}"));
            }
            text.push_str(&format!(" ({})", render_fields(&m.fields, &named, style, "")));
            if style == Style::Reformatted {
                // Not every type can be shown, so the template is text only.
                text.push_str(" display \"it happened\"");
            }
            for (h, fields) in m.history.iter().enumerate() {
                text.push_str(&format!(
                    "\n    was v{} ({})",
                    version - 1 - h,
                    render_fields(fields, &named, style, "    ")
                ));
            }
            text.push_str(";\n");
            if m.in_aggregate && !named.ids.is_empty() {
                aggregate.push(text);
            } else {
                out.push_str(&text);
            }
        }
        if !aggregate.is_empty() {
            out.push_str(&format!(
                "aggregate Agg(id: {}) {{\n{}}}\n",
                named.ids[0],
                aggregate.join("")
            ));
        }
        sources.add(format!("{}.treaty", name.replace('.', "_")), out);
    }
    sources
}

fn compile_ok(sources: &Sources) -> Schema {
    compile(sources, &Config::default()).unwrap_or_else(|d| {
        let texts: Vec<&str> = sources.iter().map(|(_, f)| f.text.as_str()).collect();
        panic!("generated contracts do not compile:\n{d}\n{}", texts.join("\n----\n"))
    })
}

proptest! {
    // No failure files: a failing case is printed in full instead.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_contract_set_is_compatible_with_its_own_lock(namespaces in prop::collection::vec(namespace(), 1..3)) {
        let sources = render(&namespaces, Style::Plain);
        let schema = compile_ok(&sources);
        let lock = Lock::parse(&Lock::from_schema(&schema).to_json()).expect("a lock reads back");
        let places = Places::new(&sources);
        for mode in Mode::ALL {
            let options = Options { mode, ..Options::default() };
            let report = treaty_lint::check(&lock.contracts, &schema, &places, &options);
            prop_assert!(report.findings.is_empty(), "{mode}: {}", report.render(&sources));
        }
    }

    #[test]
    fn reformatting_breaks_nothing(namespaces in prop::collection::vec(namespace(), 1..3)) {
        let before = compile_ok(&render(&namespaces, Style::Plain));
        let after_sources = render(&namespaces, Style::Reformatted);
        let after = compile_ok(&after_sources);
        let options = Options { mode: Mode::Full, ..Options::default() };
        let report = treaty_lint::check(&treaty_dsl::contracts(&before), &after, &Places::new(&after_sources), &options);
        prop_assert!(report.findings.is_empty(), "{}", report.render(&after_sources));
    }
}
