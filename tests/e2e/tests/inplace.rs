//! Property tests of changes made in place (issue #13): one version of an
//! event, changed without a new version, judged by the rule book.
//!
//! Contracts are compiled ahead of time by build.rs, so they cannot be
//! random at test time. A deterministic generator (below) writes two
//! contract files, `contracts_inplace/before/inplace.treaty` and
//! `contracts_inplace/after/inplace.treaty`: thirty events of one
//! aggregate, each v1 on both sides, with a random field set before and a
//! random chain of in-place changes after. Some events get only changes
//! the rule book accepts in backward mode, the others at least one it
//! refuses. `the_fixture_is_up_to_date` checks that the committed files are
//! what the generator writes; run it with `TREATY_REGENERATE=1` to rewrite
//! them after changing the generator.
//!
//! For a compatible event, `treaty_compat::compare` over the schemas the
//! generated code carries finds nothing, and proptest writes JSON of the
//! old shape, reads it with the old code, encodes it (a value written
//! under the old schema), decodes that with the new code and encodes the
//! result, which must equal an independent model on JSON values. For an
//! incompatible event, `compare` reports exactly the rule the generator
//! expects: the change is refused from the schemas alone, before any
//! data is decoded. Which events are which comes from the generator, not
//! from the compiled code.

mod seeded;

use std::collections::BTreeSet;
use std::path::PathBuf;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value as Json};
use treaty::{ContractInfo, Uuid};
use treaty_compat::{compare, Mode};
use treaty_e2e::inplace::{after, before};

use generator::{Change, Event, Field, Ty};

fn fixture_path(side: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("contracts_inplace/{side}/inplace.treaty"))
}

#[test]
fn the_fixture_is_up_to_date() {
    let events = generator::events();
    for (side, expected) in [
        ("before", generator::contract_text(&events, generator::Side::Before)),
        ("after", generator::contract_text(&events, generator::Side::After)),
    ] {
        let path = fixture_path(side);
        if std::env::var_os("TREATY_REGENERATE").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("the fixture folder is writable");
            std::fs::write(&path, &expected).expect("the fixture is writable");
            continue;
        }
        let actual = std::fs::read_to_string(&path).expect("the fixture exists");
        assert!(
            actual == expected,
            "{} is not what the generator in tests/inplace.rs writes; run \
             `TREATY_REGENERATE=1 cargo test -p treaty-e2e --test inplace` and rebuild",
            path.display()
        );
    }
}

#[test]
fn the_fixture_exercises_every_kind_of_change() {
    let events = generator::events();
    let compatible = events.iter().filter(|e| e.expected.is_none()).count();
    assert!(compatible >= 12, "{compatible} compatible events");
    assert!(
        events.len() - compatible >= 10,
        "{} incompatible events",
        events.len() - compatible
    );
    let seen: BTreeSet<&str> = events.iter().flat_map(|e| e.changes.iter().map(Change::kind)).collect();
    let all: BTreeSet<&str> = Change::KINDS.into_iter().collect();
    assert_eq!(seen, all);
}

/// The generated `ContractInfo` of `inplace.{name}` among `contracts`.
fn info(contracts: &[ContractInfo], name: &str) -> ContractInfo {
    *contracts
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} is generated"))
}

/// The rule ids of what `compare` finds from the old code's schema of
/// `name` to the new code's, in backward mode.
fn findings(name: &str) -> Vec<String> {
    let schema = |info: ContractInfo| {
        info.schema(1)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name} carries no schema"))
    };
    let old = schema(info(before::inplace::CONTRACTS, name));
    let new = schema(info(after::inplace::CONTRACTS, name));
    compare(&old, &new, Mode::Backward)
        .iter()
        .map(|change| change.rule.id().to_string())
        .collect()
}

#[test]
fn incompatible_changes_are_refused_from_the_schemas_alone() {
    for event in generator::events() {
        let Some(rule) = event.expected else { continue };
        let name = format!("inplace.{}", event.name);
        assert_eq!(findings(&name), [rule], "{name}: {}", event.describe());
    }
}

#[test]
fn compatible_changes_read_old_data_as_the_json_model_predicts() {
    for event in generator::events().iter().filter(|e| e.expected.is_none()) {
        let name = format!("inplace.{}", event.name);
        assert_eq!(findings(&name), Vec::<String>::new(), "{name}: {}", event.describe());
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&(any::<u128>(), payload(&event.before)), |(thing, payload)| {
            check(&name, event, thing, payload)
        });
        if let Err(error) = result {
            panic!("{name} ({}): {error}", event.describe());
        }
    }
}

/// Writes `payload` with the old code, reads it with the new code,
/// re-encodes it, and compares with the model's prediction.
fn check(name: &str, event: &Event, thing: u128, mut payload: Map<String, Json>) -> Result<(), TestCaseError> {
    let thing = Json::from(Uuid::from_u128(thing).to_string());
    payload.insert("thing".to_string(), thing.clone());
    let bytes = serde_json::to_vec(&payload).expect("JSON values serialize");
    let old = before::inplace::ThingEvent::decode(name, 1, &bytes)
        .map_err(|error| TestCaseError::fail(format!("the old code does not read its own shape: {error}")))?;
    let written = old.encode().expect("generated types encode");
    let new = after::inplace::ThingEvent::decode(name, 1, &written)
        .map_err(|error| TestCaseError::fail(format!("the new code does not read old data: {error}")))?;
    prop_assert_eq!(new.contract_name(), name);
    let encoded: Json =
        serde_json::from_slice(&new.encode().expect("generated types encode")).expect("encoded JSON parses");
    let mut expected = model(&event.before, &event.after, payload);
    expected.insert("thing".to_string(), thing);
    prop_assert_eq!(encoded, Json::Object(expected));
    Ok(())
}

/// What the new code makes of `payload`, JSON of the `old` shape, on JSON
/// values, written from docs/versioning.md rather than from the generated
/// code. Writing with the old code fills in its defaults and writes a
/// missing optional value as null; reading with the new code keeps the
/// fields both shapes have with their values (a widened integer or a
/// field made optional is written the same), gives added fields their
/// default or null, and drops removed fields.
fn model(old: &[Field], new: &[Field], payload: Map<String, Json>) -> Map<String, Json> {
    let mut written = Map::new();
    for field in old {
        let value = payload.get(&field.name).cloned();
        written.insert(field.name.clone(), value.unwrap_or_else(|| missing(field)));
    }
    new.iter()
        .map(|field| {
            let value = written.remove(&field.name).unwrap_or_else(|| missing(field));
            (field.name.clone(), value)
        })
        .collect()
}

/// The JSON a field has when the data leaves it out.
fn missing(field: &Field) -> Json {
    match (&field.default, field.optional) {
        (Some(default), _) => default.json(),
        (None, true) => Json::Null,
        (None, false) => panic!("`{}` is required and has no default", field.name),
    }
}

/// JSON objects of `fields`: every field present with a value of its
/// type, except that fields with a default or an optional type may be
/// left out.
fn payload(fields: &[Field]) -> impl Strategy<Value = Map<String, Json>> {
    let fields: Vec<BoxedStrategy<Option<(String, Json)>>> = fields
        .iter()
        .map(|field| {
            let name = field.name.clone();
            let json = if field.optional {
                prop_oneof![1 => Just(Json::Null), 3 => json_of(field.ty)].boxed()
            } else {
                json_of(field.ty)
            };
            let value = json.prop_map(move |v| Some((name.clone(), v)));
            if field.default.is_some() || field.optional {
                prop_oneof![3 => value, 1 => Just(None)].boxed()
            } else {
                value.boxed()
            }
        })
        .collect();
    fields.prop_map(|entries| entries.into_iter().flatten().collect())
}

fn json_of(ty: Ty) -> BoxedStrategy<Json> {
    match ty {
        Ty::Bool => any::<bool>().prop_map(Json::from).boxed(),
        Ty::I32 => any::<i32>().prop_map(Json::from).boxed(),
        Ty::I64 => any::<i64>().prop_map(Json::from).boxed(),
        Ty::U32 => any::<u32>().prop_map(Json::from).boxed(),
        Ty::U64 => any::<u64>().prop_map(Json::from).boxed(),
        Ty::Str => "\\PC{0,12}".prop_map(Json::from).boxed(),
    }
}

/// Writes `contracts_inplace/{before,after}/inplace.treaty`.
/// Deterministic: a fixed seed drives a small PRNG, so the same generator
/// always writes the same files.
mod generator {
    use crate::seeded::{Namer, Rng};
    use serde_json::Value as Json;

    const NOUNS: [&str; 30] = [
        "Account", "Badge", "Cart", "Draft", "Export", "Folder", "Gift", "Habit", "Import", "Job", "Kit", "Lease",
        "Meter", "Notice", "Offer", "Parcel", "Quote", "Route", "Shift", "Ticket", "Upload", "Visit", "Watch", "Xray",
        "Yard", "Zip", "Alarm", "Batch", "Claim", "Dock",
    ];
    const VERBS: [&str; 6] = ["Opened", "Adjusted", "Closed", "Moved", "Noted", "Settled"];
    const WORDS: [&str; 16] = [
        "amount", "label", "count", "flag", "memo", "ratio_bp", "owner", "rank", "limit", "score", "source", "target",
        "weight", "region", "channel", "reason",
    ];

    /// A scalar field type as written in the contract.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Ty {
        Bool,
        I32,
        I64,
        U32,
        U64,
        Str,
    }

    impl Ty {
        const ALL: [Ty; 6] = [Ty::Bool, Ty::I32, Ty::I64, Ty::U32, Ty::U64, Ty::Str];

        fn text(self) -> &'static str {
            match self {
                Ty::Bool => "bool",
                Ty::I32 => "i32",
                Ty::I64 => "i64",
                Ty::U32 => "u32",
                Ty::U64 => "u64",
                Ty::Str => "String",
            }
        }

        fn default_value(self, rng: &mut Rng) -> Default {
            match self {
                Ty::Bool => Default::Bool(rng.chance(50)),
                Ty::I32 | Ty::I64 => Default::Int(rng.below(2001) as i64 - 1000),
                Ty::U32 | Ty::U64 => Default::Int(rng.below(1000) as i64),
                Ty::Str => Default::Str(rng.pick(&["", "pending", "n/a"]).to_string()),
            }
        }
    }

    /// A field's default, as written and as JSON.
    #[derive(Clone, PartialEq)]
    pub enum Default {
        Bool(bool),
        Int(i64),
        Str(String),
    }

    impl Default {
        fn text(&self) -> String {
            match self {
                Default::Bool(b) => b.to_string(),
                Default::Int(i) => i.to_string(),
                Default::Str(s) => format!("\"{s}\""),
            }
        }

        pub fn json(&self) -> Json {
            match self {
                Default::Bool(b) => Json::from(*b),
                Default::Int(i) => Json::from(*i),
                Default::Str(s) => Json::from(s.as_str()),
            }
        }
    }

    #[derive(Clone)]
    pub struct Field {
        pub name: String,
        pub ty: Ty,
        pub optional: bool,
        pub default: Option<Default>,
    }

    impl Field {
        fn text(&self) -> String {
            let optional = if self.optional { "?" } else { "" };
            let default = self
                .default
                .as_ref()
                .map(|d| format!(" = {}", d.text()))
                .unwrap_or_default();
            format!("{}: {}{optional}{default}", self.name, self.ty.text())
        }
    }

    /// One in-place change, with the field it changes.
    #[derive(Clone)]
    pub enum Change {
        // Compatible in backward mode.
        AddedOptional(String),
        AddedWithDefault(String),
        Widened(String, Ty, Ty),
        RequiredMadeOptional(String),
        RemovedOptional(String),
        RemovedDefaulted(String),
        RemovedRequired(String),
        DefaultGiven(String),
        // Incompatible in backward mode.
        AddedRequired(String),
        TypeChanged(String, Ty, Ty),
        Narrowed(String, Ty, Ty),
        OptionalMadeRequired(String),
        DefaultRemoved(String),
    }

    impl Change {
        pub const KINDS: [&'static str; 13] = [
            "added optional",
            "added with a default",
            "widened",
            "required made optional",
            "removed optional",
            "removed defaulted",
            "removed required",
            "default given",
            "added required",
            "type changed",
            "narrowed",
            "optional made required",
            "default removed",
        ];

        /// The change as a line of a failure message.
        pub fn describe(&self) -> String {
            let kind = self.kind();
            match self {
                Change::Widened(name, from, to)
                | Change::TypeChanged(name, from, to)
                | Change::Narrowed(name, from, to) => {
                    format!("{kind} `{name}` from {} to {}", from.text(), to.text())
                }
                Change::AddedOptional(name)
                | Change::AddedWithDefault(name)
                | Change::RequiredMadeOptional(name)
                | Change::RemovedOptional(name)
                | Change::RemovedDefaulted(name)
                | Change::RemovedRequired(name)
                | Change::DefaultGiven(name)
                | Change::AddedRequired(name)
                | Change::OptionalMadeRequired(name)
                | Change::DefaultRemoved(name) => format!("{kind} `{name}`"),
            }
        }

        pub fn kind(&self) -> &'static str {
            let index = match self {
                Change::AddedOptional(_) => 0,
                Change::AddedWithDefault(_) => 1,
                Change::Widened(..) => 2,
                Change::RequiredMadeOptional(_) => 3,
                Change::RemovedOptional(_) => 4,
                Change::RemovedDefaulted(_) => 5,
                Change::RemovedRequired(_) => 6,
                Change::DefaultGiven(_) => 7,
                Change::AddedRequired(_) => 8,
                Change::TypeChanged(..) => 9,
                Change::Narrowed(..) => 10,
                Change::OptionalMadeRequired(_) => 11,
                Change::DefaultRemoved(_) => 12,
            };
            Self::KINDS[index]
        }
    }

    /// One event of the fixture: its fields before and after, the changes
    /// between them, and the one rule `compare` must report in backward
    /// mode, or `None` when every change is compatible.
    pub struct Event {
        pub name: String,
        pub before: Vec<Field>,
        pub after: Vec<Field>,
        pub changes: Vec<Change>,
        pub expected: Option<&'static str>,
    }

    impl Event {
        /// The changes, for failure messages.
        pub fn describe(&self) -> String {
            self.changes.iter().map(Change::describe).collect::<Vec<_>>().join("; ")
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

    /// The fields being changed, and which of them a change already
    /// touched: each field changes at most once, so every change is one
    /// rule of the book.
    struct Edit {
        fields: Vec<Field>,
        touched: Vec<String>,
        changes: Vec<Change>,
        removed: bool,
        added: bool,
    }

    impl Edit {
        /// Indices of untouched fields that satisfy `when`.
        fn candidates(&self, when: impl Fn(&Field) -> bool) -> Vec<usize> {
            (0..self.fields.len())
                .filter(|&i| !self.touched.contains(&self.fields[i].name) && when(&self.fields[i]))
                .collect()
        }

        fn touch(&mut self, name: &str) {
            self.touched.push(name.to_string());
        }

        fn add(&mut self, field: Field) {
            self.touch(&field.name.clone());
            self.fields.push(field);
            self.added = true;
        }

        /// Applies one compatible change of a kind picked at random, if
        /// the fields allow it. A field removed next to one added of the
        /// same type would read as a rename, so an event gets removals or
        /// additions, not both; `removals` says whether removals may be
        /// made at all.
        fn compatible(&mut self, rng: &mut Rng, namer: &mut Namer, removals: bool) -> bool {
            match rng.below(6) {
                0 if !self.removed => {
                    let ty = *rng.pick(&Ty::ALL);
                    let name = namer.fresh(rng);
                    self.changes.push(Change::AddedOptional(name.clone()));
                    self.add(Field {
                        name,
                        ty,
                        optional: true,
                        default: None,
                    });
                    true
                }
                1 if !self.removed => {
                    let ty = *rng.pick(&Ty::ALL);
                    let name = namer.fresh(rng);
                    self.changes.push(Change::AddedWithDefault(name.clone()));
                    self.add(Field {
                        name,
                        default: Some(ty.default_value(rng)),
                        ty,
                        optional: false,
                    });
                    true
                }
                2 => {
                    let widenable = self.candidates(|f| matches!(f.ty, Ty::I32 | Ty::U32));
                    let Some(&i) = rng.pick_some(&widenable) else {
                        return false;
                    };
                    let from = self.fields[i].ty;
                    let to = match from {
                        Ty::I32 => Ty::I64,
                        _ if rng.chance(50) => Ty::U64,
                        _ => Ty::I64,
                    };
                    // A default keeps its value, which fits the wider type.
                    self.fields[i].ty = to;
                    let name = self.fields[i].name.clone();
                    self.changes.push(Change::Widened(name.clone(), from, to));
                    self.touch(&name);
                    true
                }
                3 => {
                    let required = self.candidates(|f| !f.optional);
                    let Some(&i) = rng.pick_some(&required) else {
                        return false;
                    };
                    let field = &mut self.fields[i];
                    field.optional = true;
                    field.default = None;
                    let name = field.name.clone();
                    self.changes.push(Change::RequiredMadeOptional(name.clone()));
                    self.touch(&name);
                    true
                }
                4 if removals && !self.added => {
                    let removable = self.candidates(|_| true);
                    let Some(&i) = rng.pick_some(&removable) else {
                        return false;
                    };
                    let field = self.fields.remove(i);
                    self.changes.push(match (field.optional, &field.default) {
                        (true, _) => Change::RemovedOptional(field.name.clone()),
                        (false, Some(_)) => Change::RemovedDefaulted(field.name.clone()),
                        (false, None) => Change::RemovedRequired(field.name.clone()),
                    });
                    self.touch(&field.name);
                    self.removed = true;
                    true
                }
                5 => {
                    let bare = self.candidates(|f| !f.optional && f.default.is_none());
                    let Some(&i) = rng.pick_some(&bare) else { return false };
                    let field = &mut self.fields[i];
                    field.default = Some(field.ty.default_value(rng));
                    let name = field.name.clone();
                    self.changes.push(Change::DefaultGiven(name.clone()));
                    self.touch(&name);
                    true
                }
                _ => false,
            }
        }

        /// Applies one incompatible change of kind `kind` (0 to 4), if the
        /// fields allow it, and returns the rule it breaks. Changes of
        /// type are made to fields without a default, so no default
        /// changes with them.
        fn incompatible(&mut self, rng: &mut Rng, namer: &mut Namer, kind: usize) -> Option<&'static str> {
            match kind {
                0 => {
                    let ty = *rng.pick(&Ty::ALL);
                    let name = namer.fresh(rng);
                    self.changes.push(Change::AddedRequired(name.clone()));
                    self.add(Field {
                        name,
                        ty,
                        optional: false,
                        default: None,
                    });
                    Some("field-added-required")
                }
                1 => {
                    let changeable = self.candidates(|f| matches!(f.ty, Ty::Str | Ty::U64) && f.default.is_none());
                    let &i = rng.pick_some(&changeable)?;
                    let from = self.fields[i].ty;
                    let to = if from == Ty::Str { Ty::U64 } else { Ty::Str };
                    self.fields[i].ty = to;
                    let name = self.fields[i].name.clone();
                    self.changes.push(Change::TypeChanged(name.clone(), from, to));
                    self.touch(&name);
                    Some("field-type-changed")
                }
                2 => {
                    let narrowable = self.candidates(|f| matches!(f.ty, Ty::I64 | Ty::U64) && f.default.is_none());
                    let &i = rng.pick_some(&narrowable)?;
                    let from = self.fields[i].ty;
                    let to = if from == Ty::I64 { Ty::I32 } else { Ty::U32 };
                    self.fields[i].ty = to;
                    let name = self.fields[i].name.clone();
                    self.changes.push(Change::Narrowed(name.clone(), from, to));
                    self.touch(&name);
                    Some("integer-narrowed")
                }
                3 => {
                    let optional = self.candidates(|f| f.optional);
                    let &i = rng.pick_some(&optional)?;
                    self.fields[i].optional = false;
                    let name = self.fields[i].name.clone();
                    self.changes.push(Change::OptionalMadeRequired(name.clone()));
                    self.touch(&name);
                    Some("optional-made-required")
                }
                _ => {
                    let defaulted = self.candidates(|f| !f.optional && f.default.is_some());
                    let &i = rng.pick_some(&defaulted)?;
                    self.fields[i].default = None;
                    let name = self.fields[i].name.clone();
                    self.changes.push(Change::DefaultRemoved(name.clone()));
                    self.touch(&name);
                    Some("field-default-removed")
                }
            }
        }
    }

    impl Rng {
        fn pick_some<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
            (!items.is_empty()).then(|| self.pick(items))
        }
    }

    /// Every event of the fixture. Sixty percent get one to three
    /// compatible changes; the others one incompatible change (the five
    /// kinds in turn), then up to
    /// two compatible ones that are not removals (so nothing reads as a
    /// rename), so `compare` reports exactly one rule.
    pub fn events() -> Vec<Event> {
        let mut rng = Rng(0x0069_6e70_6c61_6365);
        let mut incompatible_events = 0;
        NOUNS
            .iter()
            .map(|noun| {
                let name = format!("{noun}{}", rng.pick(&VERBS));
                let mut namer = Namer {
                    words: &WORDS,
                    used: vec!["thing".to_string()],
                };
                let count = 1 + rng.below(5);
                let before: Vec<Field> = (0..count).map(|_| new_field(&mut rng, &mut namer)).collect();
                let mut edit = Edit {
                    fields: before.clone(),
                    touched: Vec::new(),
                    changes: Vec::new(),
                    removed: false,
                    added: false,
                };
                let expected = if rng.chance(60) {
                    let wanted = 1 + rng.below(3);
                    let mut made = 0;
                    let mut tries = 0;
                    while made < wanted && tries < 100 {
                        made += usize::from(edit.compatible(&mut rng, &mut namer, true));
                        tries += 1;
                    }
                    None
                } else {
                    // The kinds take turns, so each appears; when the
                    // fields do not allow the kind whose turn it is, a
                    // random one that they allow.
                    let turn = incompatible_events % 5;
                    incompatible_events += 1;
                    let rule = match edit.incompatible(&mut rng, &mut namer, turn) {
                        Some(rule) => rule,
                        None => loop {
                            let kind = rng.below(5);
                            if let Some(rule) = edit.incompatible(&mut rng, &mut namer, kind) {
                                break rule;
                            }
                        },
                    };
                    let extra = rng.below(3);
                    let mut made = 0;
                    let mut tries = 0;
                    while made < extra && tries < 100 {
                        made += usize::from(edit.compatible(&mut rng, &mut namer, false));
                        tries += 1;
                    }
                    Some(rule)
                };
                Event {
                    name,
                    before,
                    after: edit.fields,
                    changes: edit.changes,
                    expected,
                }
            })
            .collect()
    }

    /// Which of the two files.
    #[derive(Clone, Copy, PartialEq)]
    pub enum Side {
        Before,
        After,
    }

    fn list(fields: &[Field]) -> String {
        fields.iter().map(Field::text).collect::<Vec<_>>().join(", ")
    }

    /// The whole contract file of one side.
    pub fn contract_text(events: &[Event], side: Side) -> String {
        let mut out = String::new();
        out.push_str(
            "//! Generated by the generator in tests/e2e/tests/inplace.rs; do not edit.\n\
             //! Regenerate with `TREATY_REGENERATE=1 cargo test -p treaty-e2e --test inplace`.\n",
        );
        out.push_str(match side {
            Side::Before => "//! The events before their in-place changes.\n",
            Side::After => "//! The same events, still v1, after their in-place changes.\n",
        });
        out.push_str(
            "namespace inplace;\n\n\
             id ThingId: Uuid;\n\n\
             aggregate Thing(thing: ThingId) {\n",
        );
        for event in events {
            let fields = match side {
                Side::Before => &event.before,
                Side::After => &event.after,
            };
            out.push_str(&format!("    {}!({});\n", event.name, list(fields)));
        }
        out.push_str("}\n");
        out
    }
}
