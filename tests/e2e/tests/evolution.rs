//! Property tests of upcasting.
//!
//! Contracts are compiled ahead of time by build.rs, so the contracts under
//! test cannot be random at test time. Instead a deterministic generator
//! (below) writes `contracts/evolution.treaty`: about thirty events of one
//! aggregate, each with a random field set and a random chain of derivable
//! changes across v1, v2 and v3. `the_fixture_is_up_to_date` checks that
//! the committed file is what the generator writes; run it with
//! `TREATY_REGENERATE=1` to rewrite the file after changing the generator.
//!
//! The property test reads that same file at run time with `treaty_dsl`
//! to learn each version's fields, generates JSON of an old version's
//! shape with proptest, decodes it with the generated
//! `LedgerEvent::decode`, encodes the result, and compares it with an
//! independent model of the upcast on JSON values: fill in the old
//! version's defaults, then for each newer version keep the fields it
//! kept, add the new fields' defaults and drop the removed ones.

mod seeded;

use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value as Json};
use treaty_dsl::schema::{Message, Scalar, Shape, Type, Value};
use treaty_e2e::evolution::LedgerEvent;

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/evolution.treaty")
}

#[test]
fn the_fixture_is_up_to_date() {
    let expected = generator::contract_text();
    let path = fixture_path();
    if std::env::var_os("TREATY_REGENERATE").is_some() {
        std::fs::write(&path, &expected).expect("the fixture is writable");
        return;
    }
    let actual = std::fs::read_to_string(&path).expect("the fixture exists");
    assert!(
        actual == expected,
        "{} is not what the generator in tests/evolution.rs writes; run \
         `TREATY_REGENERATE=1 cargo test -p treaty-e2e --test evolution` and rebuild",
        path.display()
    );
}

/// Every message of the fixture, as the contract language reads it.
fn messages() -> Vec<Message> {
    let mut sources = treaty_dsl::Sources::new();
    sources.load(&[fixture_path()]).expect("the fixture is readable");
    let schema = treaty_dsl::compile(&sources, &treaty_dsl::Config::default()).expect("the fixture compiles");
    schema.messages().cloned().collect()
}

/// Every shape of `message`, oldest first.
fn shapes(message: &Message) -> Vec<&Shape> {
    let mut shapes: Vec<&Shape> = message.history.iter().collect();
    shapes.reverse();
    shapes.push(&message.current);
    shapes
}

#[test]
fn the_fixture_exercises_every_derivable_change() {
    let mut seen = std::collections::BTreeSet::new();
    for message in messages() {
        for pair in shapes(&message).windows(2) {
            let (old, new) = (pair[0], pair[1]);
            for field in &new.fields {
                match old.fields.iter().find(|f| f.name == field.name) {
                    None if field.default.is_some() => seen.insert("added with a default"),
                    None => seen.insert("added optional"),
                    Some(previous) if previous.ty == field.ty => false,
                    Some(previous) => seen.insert(match (&previous.ty, &field.ty) {
                        (Type::Scalar(Scalar::I32), Type::Scalar(Scalar::I64)) => "i32 to i64",
                        (Type::Scalar(Scalar::U32), Type::Scalar(Scalar::U64)) => "u32 to u64",
                        (Type::Scalar(Scalar::U32), Type::Scalar(Scalar::I64)) => "u32 to i64",
                        (Type::Optional(_), Type::Optional(_)) => "optional widened",
                        (_, Type::Optional(_)) => "required to optional",
                        _ => "a change that is not derivable",
                    }),
                };
            }
            if old.fields.iter().any(|f| !new.fields.iter().any(|n| n.name == f.name)) {
                seen.insert("removed");
            }
        }
    }
    let expected = [
        "added optional",
        "added with a default",
        "i32 to i64",
        "optional widened",
        "removed",
        "required to optional",
        "u32 to i64",
        "u32 to u64",
    ];
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn every_old_version_decodes_to_what_the_json_model_predicts() {
    let messages = messages();
    assert!(messages.len() >= 25, "the fixture has about thirty events");
    for message in &messages {
        let shapes = shapes(message);
        for (index, shape) in shapes.iter().enumerate() {
            let mut runner = TestRunner::new(Config {
                cases: 24,
                failure_persistence: None,
                ..Config::default()
            });
            let result = runner.run(&payload(shape), |payload| {
                check_upcast(&message.name.to_string(), &shapes[index..], payload)
            });
            if let Err(error) = result {
                panic!("{} v{}: {error}", message.name, shape.version);
            }
        }
    }
}

/// Decodes `payload`, JSON of the oldest of `chain`, re-encodes it, and
/// compares with the model's prediction.
fn check_upcast(contract: &str, chain: &[&Shape], payload: Map<String, Json>) -> Result<(), TestCaseError> {
    let bytes = serde_json::to_vec(&payload).expect("JSON values serialize");
    let decoded = LedgerEvent::decode(contract, chain[0].version, &bytes)
        .map_err(|error| TestCaseError::fail(format!("decode failed: {error}")))?;
    prop_assert_eq!(decoded.contract_version(), chain[chain.len() - 1].version);
    let encoded: Json =
        serde_json::from_slice(&decoded.encode().expect("generated types encode")).expect("encoded JSON parses");
    prop_assert_eq!(encoded, Json::Object(model_upcast(chain, payload)));
    Ok(())
}

/// The upcast on JSON values, written from the rules in
/// docs/versioning.md rather than from the generated code.
fn model_upcast(chain: &[&Shape], payload: Map<String, Json>) -> Map<String, Json> {
    // Reading the oldest version fills in its own defaults and nulls.
    let mut value = Map::new();
    for field in &chain[0].fields {
        let present = payload.get(&field.name).cloned();
        value.insert(
            field.name.clone(),
            present.unwrap_or_else(|| missing(&field.ty, field.default.as_ref())),
        );
    }
    for new in &chain[1..] {
        let mut next = Map::new();
        for field in &new.fields {
            // A kept field keeps its JSON value: widening an integer or
            // making a field optional does not change how a value is
            // written. A new field takes its default, or null.
            let kept = value.remove(&field.name);
            next.insert(
                field.name.clone(),
                kept.unwrap_or_else(|| missing(&field.ty, field.default.as_ref())),
            );
        }
        value = next;
    }
    value
}

/// The JSON a field has when the payload leaves it out.
fn missing(ty: &Type, default: Option<&Value>) -> Json {
    match default {
        Some(value) => default_json(value),
        None if matches!(ty, Type::Optional(_)) => Json::Null,
        None => panic!("the generator writes only derivable changes, so a new required field has a default"),
    }
}

fn default_json(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::from(s.as_str()),
        Value::Integer(i) => match i64::try_from(*i) {
            Ok(i) => Json::from(i),
            Err(_) => Json::from(u64::try_from(*i).expect("defaults fit u64")),
        },
        Value::Bool(b) => Json::from(*b),
        Value::None => Json::Null,
        Value::EmptyList => Json::Array(Vec::new()),
        Value::EmptyMap => Json::Object(Map::new()),
        other => panic!("the generator writes no {other:?} default"),
    }
}

/// JSON objects of `shape`: every field present with a value of its type,
/// except that fields with a default or an optional type may be left out.
fn payload(shape: &Shape) -> impl Strategy<Value = Map<String, Json>> {
    let fields: Vec<BoxedStrategy<Option<(String, Json)>>> = shape
        .fields
        .iter()
        .map(|field| {
            let name = field.name.clone();
            let value = json_of(&field.ty).prop_map(move |v| Some((name.clone(), v)));
            let may_be_missing = field.default.is_some() || matches!(field.ty, Type::Optional(_));
            if may_be_missing {
                prop_oneof![3 => value, 1 => Just(None)].boxed()
            } else {
                value.boxed()
            }
        })
        .collect();
    fields.prop_map(|entries| entries.into_iter().flatten().collect())
}

fn json_of(ty: &Type) -> BoxedStrategy<Json> {
    match ty {
        Type::Scalar(Scalar::Bool) => any::<bool>().prop_map(Json::from).boxed(),
        Type::Scalar(Scalar::I32) => any::<i32>().prop_map(Json::from).boxed(),
        Type::Scalar(Scalar::I64) => any::<i64>().prop_map(Json::from).boxed(),
        Type::Scalar(Scalar::U32) => any::<u32>().prop_map(Json::from).boxed(),
        Type::Scalar(Scalar::U64) => any::<u64>().prop_map(Json::from).boxed(),
        Type::Scalar(Scalar::String) => "\\PC{0,12}".prop_map(Json::from).boxed(),
        // The aggregate's id wraps a u64.
        Type::Id(_) => any::<u64>().prop_map(Json::from).boxed(),
        Type::List(inner) => prop::collection::vec(json_of(inner), 0..4)
            .prop_map(Json::Array)
            .boxed(),
        Type::Map(_, value) => prop::collection::btree_map("[a-z]{1,6}", json_of(value), 0..4)
            .prop_map(|map| Json::Object(map.into_iter().collect()))
            .boxed(),
        Type::Optional(inner) => prop_oneof![Just(Json::Null), json_of(inner)].boxed(),
        other => panic!("the generator writes no field of type {other}"),
    }
}

/// Writes `contracts/evolution.treaty`. Deterministic: a fixed seed drives
/// a small PRNG, so the same generator always writes the same file.
mod generator {
    use crate::seeded::{Namer, Rng};
    const NOUNS: [&str; 30] = [
        "Account",
        "Budget",
        "Card",
        "Deposit",
        "Entry",
        "Fee",
        "Grant",
        "Hold",
        "Invoice",
        "Journal",
        "Key",
        "Loan",
        "Mandate",
        "Note",
        "Order",
        "Payout",
        "Quota",
        "Refund",
        "Statement",
        "Transfer",
        "Unit",
        "Voucher",
        "Wallet",
        "Xfer",
        "Yield",
        "Zone",
        "Allowance",
        "Bonus",
        "Charge",
        "Dividend",
    ];
    const VERBS: [&str; 6] = ["Opened", "Adjusted", "Closed", "Moved", "Noted", "Settled"];
    const WORDS: [&str; 16] = [
        "amount", "label", "count", "flag", "memo", "ratio_bp", "owner", "tags", "limits", "score", "source", "target",
        "weight", "region", "channel", "reason",
    ];

    /// A field type as written in the contract.
    #[derive(Clone, Copy, PartialEq)]
    enum Ty {
        Bool,
        I32,
        I64,
        U32,
        U64,
        Str,
        List,
        Map,
    }

    impl Ty {
        const ALL: [Ty; 8] = [Ty::Bool, Ty::I32, Ty::I64, Ty::U32, Ty::U64, Ty::Str, Ty::List, Ty::Map];

        fn text(self) -> &'static str {
            match self {
                Ty::Bool => "bool",
                Ty::I32 => "i32",
                Ty::I64 => "i64",
                Ty::U32 => "u32",
                Ty::U64 => "u64",
                Ty::Str => "String",
                Ty::List => "[String]",
                Ty::Map => "{String: u32}",
            }
        }

        fn default_value(self, rng: &mut Rng) -> String {
            match self {
                Ty::Bool => rng.pick(&["true", "false"]).to_string(),
                Ty::I32 | Ty::I64 => format!("{}", rng.below(2001) as i64 - 1000),
                Ty::U32 | Ty::U64 => format!("{}", rng.below(1000)),
                Ty::Str => format!("\"{}\"", rng.pick(&["", "pending", "n/a", "said \\\"hi\\\""])),
                Ty::List => "[]".to_string(),
                Ty::Map => "{}".to_string(),
            }
        }
    }

    #[derive(Clone)]
    struct Field {
        name: String,
        ty: Ty,
        optional: bool,
        default: Option<String>,
    }

    impl Field {
        fn text(&self) -> String {
            let optional = if self.optional { "?" } else { "" };
            let default = self.default.as_ref().map(|d| format!(" = {d}")).unwrap_or_default();
            format!("{}: {}{optional}{default}", self.name, self.ty.text())
        }
    }

    fn new_field(rng: &mut Rng, namer: &mut Namer) -> Field {
        let ty = *rng.pick(&Ty::ALL);
        let name = namer.fresh(rng);
        match rng.below(3) {
            0 => Field {
                name,
                ty,
                optional: true,
                default: None,
            },
            1 => Field {
                default: Some(ty.default_value(rng)),
                name,
                ty,
                optional: false,
            },
            _ => Field {
                name,
                ty,
                optional: false,
                default: None,
            },
        }
    }

    /// Applies one to three derivable changes to `fields`, the shape of
    /// one version, giving the next version's shape. Each field changes at
    /// most once per version: two rules applied to one field in one step
    /// (widened and made optional, or added and widened) are not a rule of
    /// their own, so they would need a hand-written upcast.
    fn evolve(rng: &mut Rng, namer: &mut Namer, fields: &[Field]) -> Vec<Field> {
        let mut next = fields.to_vec();
        let untouched = |next: &[Field], i: usize| {
            fields
                .iter()
                .any(|f| f.name == next[i].name && f.ty == next[i].ty && f.optional == next[i].optional)
        };
        let changes = 1 + rng.below(3);
        let mut made = 0;
        while made < changes {
            let applied = match rng.below(5) {
                0 => {
                    let ty = *rng.pick(&Ty::ALL);
                    next.push(Field {
                        name: namer.fresh(rng),
                        default: Some(ty.default_value(rng)),
                        ty,
                        optional: false,
                    });
                    true
                }
                1 => {
                    let ty = *rng.pick(&Ty::ALL);
                    let explicit_none = rng.chance(30);
                    next.push(Field {
                        name: namer.fresh(rng),
                        ty,
                        optional: true,
                        default: explicit_none.then(|| "none".to_string()),
                    });
                    true
                }
                2 => {
                    let removable: Vec<usize> = (0..next.len()).filter(|&i| untouched(&next, i)).collect();
                    if removable.is_empty() {
                        false
                    } else {
                        next.remove(*rng.pick(&removable));
                        true
                    }
                }
                3 => {
                    let widenable: Vec<usize> = (0..next.len())
                        .filter(|&i| matches!(next[i].ty, Ty::I32 | Ty::U32) && untouched(&next, i))
                        .collect();
                    if widenable.is_empty() {
                        false
                    } else {
                        let field = &mut next[*rng.pick(&widenable)];
                        field.ty = match field.ty {
                            Ty::I32 => Ty::I64,
                            _ if rng.chance(50) => Ty::U64,
                            _ => Ty::I64,
                        };
                        // A changed field starts without a default, which
                        // keeps every change a single rule of the docs.
                        field.default = None;
                        true
                    }
                }
                4 => {
                    let required: Vec<usize> = (0..next.len())
                        .filter(|&i| !next[i].optional && untouched(&next, i))
                        .collect();
                    if required.is_empty() {
                        false
                    } else {
                        let field = &mut next[*rng.pick(&required)];
                        field.optional = true;
                        field.default = None;
                        true
                    }
                }
                _ => false,
            };
            made += usize::from(applied);
        }
        next
    }

    fn list(fields: &[Field]) -> String {
        fields.iter().map(Field::text).collect::<Vec<_>>().join(", ")
    }

    /// The whole contract file.
    pub fn contract_text() -> String {
        let mut rng = Rng(0x7472_6561_7479);
        let mut out = String::new();
        out.push_str(
            "//! Generated by the generator in tests/e2e/tests/evolution.rs; do not edit.\n\
             //! Regenerate with `TREATY_REGENERATE=1 cargo test -p treaty-e2e --test evolution`.\n\
             //! Each event evolves through derivable changes only, for the upcast property tests.\n\
             namespace evolution;\n\n\
             id LedgerId: u64;\n\n\
             aggregate Ledger(id: LedgerId) {\n",
        );
        for noun in NOUNS {
            let name = format!("{noun}{}", rng.pick(&VERBS));
            let mut namer = Namer {
                words: &WORDS,
                used: vec!["id".to_string()],
            };
            let count = 1 + rng.below(4);
            let v1: Vec<Field> = (0..count).map(|_| new_field(&mut rng, &mut namer)).collect();
            let v2 = evolve(&mut rng, &mut namer, &v1);
            let three_versions = rng.chance(80);
            if three_versions {
                let v3 = evolve(&mut rng, &mut namer, &v2);
                out.push_str(&format!(
                    "    {name}! v3 ({})\n        was v2 ({})\n        was v1 ({});\n",
                    list(&v3),
                    list(&v2),
                    list(&v1)
                ));
            } else {
                out.push_str(&format!(
                    "    {name}! v2 ({})\n        was v1 ({});\n",
                    list(&v2),
                    list(&v1)
                ));
            }
        }
        out.push_str("}\n");
        out
    }
}
