//! The breaking-change check.
//!
//! [`check`] compares a baseline (the canonical contracts of a lock file,
//! or of an earlier revision compiled to [`CanonicalContract`]s) with a
//! new [`Schema`], and reports every change that would break a reader as
//! a [`Finding`] under a [`Rule`] of the catalog. The canonical form
//! carries the full structure of every contract version (records, enums
//! and ids expanded in place), so the baseline needs nothing else; the
//! new schema adds the places in the files that findings point at.
//!
//! What is checked:
//!
//! * Every locked contract must still exist under its name and kind
//!   (removals, renames and moves between namespaces are reported).
//! * A message version that is the current version on both sides may only
//!   change compatibly in the chosen [`Mode`] (`full` by default).
//! * Every locked version of a message that the new contracts keep in
//!   their `was` history must be exactly as locked. Changes that arrive
//!   there only through a record, enum or id the entry names are judged
//!   by the mode instead, since the entry itself did not change.
//! * With `transitive`, the current version must also be compatible in
//!   the mode with every earlier version, for readers that ignore the
//!   version tag (another language reading the JSON).
//! * Optional style checks, reported as warnings.
//!
//! A version bump is not checked against the previous version: declaring
//! `v2` and keeping `was v1` exactly as locked is how a contract changes
//! incompatibly on purpose, and the generated code upcasts old versions.
//!
//! This module does no I/O: the CLI reads files and git revisions.

use std::collections::{BTreeMap, BTreeSet};

use treaty_dsl::ast::{FieldItem, ItemKind, MessageDecl};
use treaty_dsl::canonical::{self, CanonicalContract, ContractKind};
use treaty_dsl::schema::{Message, QualifiedName, Schema, Shape, Type};
use treaty_dsl::{Label, Severity, Sources, Span};

use crate::diff::{self, Change, Path, Step};
use crate::rules::{Mode, Rule};
use crate::{shape, style};

/// What to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Which readers must keep working.
    pub mode: Mode,
    /// Whether the current version must also be compatible with every
    /// earlier version, not only with its own locked self.
    pub transitive: bool,
    /// Which style checks run.
    pub style: StyleOptions,
}

impl Default for Options {
    /// Full compatibility, not transitive, no style checks.
    fn default() -> Self {
        Options {
            mode: Mode::Full,
            transitive: false,
            style: StyleOptions::default(),
        }
    }
}

/// Which style checks run; all off by default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleOptions {
    /// `missing-docs`: commands and events without documentation.
    pub missing_docs: bool,
    /// `event-not-past-tense`: event names that do not state a fact.
    pub event_tense: bool,
    /// `field-not-snake-case`: field names off the convention.
    pub field_case: bool,
    /// Extra words that count as past tense.
    pub past_tense_words: Vec<String>,
}

/// One finding of the lint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// Error (breaking) or warning.
    pub severity: Severity,
    /// `namespace.Name` of the contract concerned (for a change that
    /// arrives through a record, the message that uses it).
    pub contract: String,
    /// What kind of contract that is.
    pub kind: ContractKind,
    /// The message version concerned; `None` for records, enums and ids.
    pub version: Option<u32>,
    /// The field concerned, as a path such as `total.cents`.
    pub field: Option<String>,
    /// The old type, value or name.
    pub old: Option<String>,
    /// The new one.
    pub new: Option<String>,
    /// A sentence saying what changed.
    pub message: String,
    /// Where in the new contracts; `None` for something removed with
    /// nothing left to point at.
    pub primary: Option<Label>,
    /// Related places, such as the message field a record is used by.
    pub secondary: Vec<Label>,
    /// More context, such as the version a transitive check compared with.
    pub note: Option<String>,
}

/// Every finding of one run, sorted by contract, version (newest first),
/// field and rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The findings.
    pub findings: Vec<Finding>,
    /// The mode checked.
    pub mode: Mode,
    /// Whether the check was transitive.
    pub transitive: bool,
}

impl Report {
    /// How many findings are breaking changes.
    pub fn breaking_count(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }

    /// How many findings are warnings.
    pub fn warning_count(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Warning).count()
    }

    /// Whether anything breaks.
    pub fn is_breaking(&self) -> bool {
        self.breaking_count() > 0
    }
}

/// What the lint needs to know about the new files beyond the schema:
/// where each namespace is declared, so findings about removed contracts
/// can point at the namespace they were removed from, and where `const`
/// fragments are used, so a rewritten history entry can say that a
/// fragment rewrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Places {
    /// Each namespace's first `namespace` line, by name.
    namespaces: BTreeMap<String, Span>,
    /// Each use of a fragment in a field list, with the fragment's name.
    fragment_uses: BTreeMap<Span, String>,
}

impl Places {
    /// Reads the places from the files `schema` was compiled from.
    pub fn new(sources: &Sources) -> Places {
        let mut places = Places::default();
        for (id, _) in sources.iter() {
            let (file, _) = treaty_dsl::parse_file(sources, id);
            for item in &file.items {
                match &item.kind {
                    ItemKind::Namespace(path) => {
                        places.namespaces.entry(path.dotted()).or_insert(path.span);
                    }
                    ItemKind::Message(decl) => places.fragments_of(decl),
                    ItemKind::Aggregate(decl) => decl.messages.iter().for_each(|(_, m)| places.fragments_of(m)),
                    _ => {}
                }
            }
        }
        places
    }

    fn fragments_of(&mut self, message: &MessageDecl) {
        let lists = std::iter::once(&message.fields).chain(message.history.iter().map(|h| &h.fields));
        for item in lists.flatten() {
            if let FieldItem::Fragment(name) = item {
                self.fragment_uses.insert(name.span, name.name.clone());
            }
        }
    }

    /// The fragments a version's field list uses, by name.
    fn fragments_in(&self, shape: &Shape) -> BTreeSet<&str> {
        shape
            .fields
            .iter()
            .filter_map(|f| self.fragment_uses.get(&f.span).map(String::as_str))
            .collect()
    }
}

/// Compares `baseline` with `schema` and reports every breaking change
/// (and enabled style check). `places` comes from the files `schema`
/// was compiled from.
pub fn check(baseline: &[CanonicalContract], schema: &Schema, places: &Places, options: &Options) -> Report {
    let current = canonical::contracts(schema);
    let mut checker = Checker {
        schema,
        places,
        options,
        old: group(baseline),
        new: group(&current),
        out: Vec::new(),
    };
    checker.run();
    let mut findings = checker.out;
    style::check(schema, &options.style, &mut findings);
    findings.sort_by(|a, b| {
        (&a.contract, std::cmp::Reverse(a.version), &a.field, a.rule).cmp(&(
            &b.contract,
            std::cmp::Reverse(b.version),
            &b.field,
            b.rule,
        ))
    });
    // The same change seen from several versions (a record used by the
    // current version and by history entries) is reported once, on the
    // newest version, which the sort put first.
    let mut seen = BTreeSet::new();
    findings.retain(|f| {
        seen.insert((
            f.contract.clone(),
            f.rule,
            f.field.clone(),
            f.old.clone(),
            f.new.clone(),
        ))
    });
    Report {
        findings,
        mode: options.mode,
        transitive: options.transitive,
    }
}

/// Contract versions by name, each list sorted oldest first.
fn group(contracts: &[CanonicalContract]) -> BTreeMap<&str, Vec<&CanonicalContract>> {
    let mut map: BTreeMap<&str, Vec<&CanonicalContract>> = BTreeMap::new();
    for c in contracts {
        map.entry(c.name.as_str()).or_default().push(c);
    }
    for versions in map.values_mut() {
        versions.sort_by_key(|c| c.version);
    }
    map
}

fn is_message(kind: ContractKind) -> bool {
    matches!(kind, ContractKind::Command | ContractKind::Event)
}

struct Checker<'a> {
    schema: &'a Schema,
    places: &'a Places,
    options: &'a Options,
    old: BTreeMap<&'a str, Vec<&'a CanonicalContract>>,
    new: BTreeMap<&'a str, Vec<&'a CanonicalContract>>,
    out: Vec<Finding>,
}

impl<'a> Checker<'a> {
    fn run(&mut self) {
        let names: Vec<&str> = self.old.keys().copied().collect();
        for name in names {
            let old = self.old[name].clone();
            let old_kind = old[0].kind;
            match self.new.get(name).cloned() {
                None => self.removed(old.last().expect("grouped lists are not empty")),
                Some(new) if new[0].kind == old_kind => {
                    if is_message(old_kind) {
                        self.message(name, &old, &new);
                    }
                    // Records, enums and ids are compared where messages
                    // use them, with the path that leads there; on their
                    // own they are not on the wire.
                }
                Some(new) if is_message(old_kind) && is_message(new[0].kind) => {
                    let mut f = self.finding(
                        Rule::MessageKindChanged,
                        old[0],
                        None,
                        format!("{} `{name}` is now {}", old_kind.as_str(), article(new[0].kind)),
                    );
                    f.old = Some(old_kind.as_str().into());
                    f.new = Some(new[0].kind.as_str().into());
                    f.primary = self.contract_span(name, new[0].kind).map(|span| Label {
                        span,
                        message: format!("now {}", article(new[0].kind)),
                    });
                    self.push(f);
                }
                Some(new) => {
                    let last = old.last().expect("grouped lists are not empty");
                    let mut f = self.removal(last);
                    f.note = Some(format!("the name now belongs to {}", article(new[0].kind)));
                    self.push(f);
                }
            }
        }
    }

    fn push(&mut self, finding: Finding) {
        if finding.rule.applies_in(self.options.mode) {
            self.out.push(finding);
        }
    }

    fn finding(&self, rule: Rule, contract: &CanonicalContract, version: Option<u32>, message: String) -> Finding {
        Finding {
            rule,
            severity: rule.severity(),
            contract: contract.name.clone(),
            kind: contract.kind,
            version,
            field: None,
            old: None,
            new: None,
            message,
            primary: None,
            secondary: Vec::new(),
            note: None,
        }
    }

    /// A locked contract that no longer exists: moved, renamed or removed.
    fn removed(&mut self, old: &CanonicalContract) {
        // A contract name on the wire need not be `namespace.Name`
        // (`wire "..."`); such a contract can still be renamed or removed.
        let qualified = QualifiedName::parse(&old.name);
        let added: Vec<&CanonicalContract> = self
            .new
            .iter()
            .filter(|(name, versions)| !self.old.contains_key(*name) && versions[0].kind == old.kind)
            .map(|(_, versions)| *versions.last().expect("grouped lists are not empty"))
            .collect();
        let moved: Vec<&&CanonicalContract> = added
            .iter()
            .filter(|c| {
                let moved_to = QualifiedName::parse(&c.name);
                matches!((&qualified, moved_to), (Some(q), Some(to)) if to.name == q.name)
            })
            .collect();
        let renamed: Vec<&&CanonicalContract> = added.iter().filter(|c| signature(c) == signature(old)).collect();
        let (rule, to) = match (moved.as_slice(), renamed.as_slice()) {
            ([to], _) => (Rule::NamespaceChanged, Some(**to)),
            (_, [to]) => (renamed_rule(old.kind), Some(**to)),
            _ => (removed_rule(old.kind), None),
        };
        let noun = old.kind.as_str();
        let version = is_message(old.kind).then_some(old.version);
        let mut f = match to {
            Some(to) => {
                let mut f = self.finding(
                    rule,
                    old,
                    version,
                    format!("{noun} `{}` is now `{}`", old.name, to.name),
                );
                f.old = Some(old.name.clone());
                f.new = Some(to.name.clone());
                f.primary = self.contract_span(&to.name, to.kind).map(|span| Label {
                    span,
                    message: format!("was `{}`", old.name),
                });
                f
            }
            None => self.removal(old),
        };
        f.note = f.note.or_else(|| {
            (rule == Rule::MessageRemoved).then(|| format!("the lock has {noun} `{}` up to v{}", old.name, old.version))
        });
        self.push(f);
    }

    fn removal(&self, old: &CanonicalContract) -> Finding {
        let noun = old.kind.as_str();
        let version = is_message(old.kind).then_some(old.version);
        let mut f = self.finding(
            removed_rule(old.kind),
            old,
            version,
            format!("{noun} `{}` was removed", old.name),
        );
        f.old = Some(old.name.clone());
        let namespace = QualifiedName::parse(&old.name).map(|q| q.namespace);
        f.primary = namespace
            .and_then(|ns| self.places.namespaces.get(&ns))
            .map(|span| Label {
                span: *span,
                message: format!("`{}` was removed from this namespace", old.name),
            });
        f
    }

    fn contract_span(&self, name: &str, kind: ContractKind) -> Option<Span> {
        if is_message(kind) {
            // Messages are locked under their contract name on the wire.
            return self.schema.message_by_wire(name).map(|m| m.span);
        }
        let name = QualifiedName::parse(name)?;
        match kind {
            ContractKind::Command | ContractKind::Event => None,
            ContractKind::Record => self.schema.record(&name).map(|r| r.span),
            ContractKind::Enum => self.schema.enumeration(&name).map(|e| e.span),
            ContractKind::Id => self.schema.id_type(&name).map(|i| i.span),
        }
    }

    /// Compares every locked version of a message with the new contracts.
    fn message(&mut self, name: &str, old: &[&CanonicalContract], new: &[&CanonicalContract]) {
        let Some(message) = self.schema.message_by_wire(name) else {
            return;
        };
        let current = message.current.version;
        let new_by_version: BTreeMap<u32, &CanonicalContract> = new.iter().map(|c| (c.version, *c)).collect();
        let noun = message_noun(message);
        for locked in old.iter().rev() {
            let v = locked.version;
            let Some(now) = new_by_version.get(&v) else {
                let mut f = self.finding(
                    Rule::VersionDropped,
                    locked,
                    Some(v),
                    format!("{noun} `{name}` no longer declares v{v}"),
                );
                f.old = Some(format!("v{v}"));
                f.primary = Some(Label {
                    span: message.span,
                    message: format!("add `was v{v} (...)` back to the history"),
                });
                f.note = Some(format!("the lock has v{v} with fingerprint {}", locked.fingerprint));
                self.push(f);
                continue;
            };
            if now.fingerprint == locked.fingerprint {
                continue;
            }
            let shape = shape_of(message, v);
            let old_fields = shape::message_fields(&locked.schema);
            let new_fields = shape::message_fields(&now.schema);
            let mut changes = Vec::new();
            diff::fields(&old_fields, &new_fields, &Path::default(), &mut changes);
            if v == current {
                self.changes(message, shape, v, &changes, None);
            } else if shape::collapsed(&old_fields) == shape::collapsed(&new_fields) {
                let note = format!("`was v{v}` is written as locked, but a type it uses changed");
                self.changes(message, shape, v, &changes, Some(note));
            } else {
                let mut f = self.finding(
                    Rule::HistoryRewritten,
                    locked,
                    Some(v),
                    format!("`was v{v}` of {noun} `{name}` differs from the locked v{v}"),
                );
                f.old = Some(locked.fingerprint.clone());
                f.new = Some(now.fingerprint.clone());
                f.primary = Some(Label {
                    span: shape.span,
                    message: "not as locked".into(),
                });
                let mut note = diff::summary(&old_fields, &new_fields).join("; ");
                let fragments = self.places.fragments_in(shape);
                if !fragments.is_empty() {
                    let names: Vec<String> = fragments.iter().map(|f| format!("`{f}`")).collect();
                    note.push_str(&format!(
                        "; the entry uses the fragment {}, which is copied into every version that \
                         uses it: if the fragment changed, write v{v}'s fields out in the entry instead",
                        names.join(", ")
                    ));
                }
                f.note = Some(note);
                self.push(f);
            }
        }
        if self.options.transitive {
            self.transitive(message, old, new);
        }
    }

    /// Compares the current version with every earlier one, locked or
    /// declared in the history.
    fn transitive(&mut self, message: &Message, old: &[&CanonicalContract], new: &[&CanonicalContract]) {
        let current = message.current.version;
        let Some(now) = new.iter().find(|c| c.version == current) else {
            return;
        };
        let mut earlier: BTreeMap<u32, &CanonicalContract> = BTreeMap::new();
        for c in new.iter().chain(old) {
            if c.version < current {
                // The locked version wins over the declared one, since it
                // is what stored data was written with.
                earlier.insert(c.version, c);
            }
        }
        let new_fields = shape::message_fields(&now.schema);
        for (v, c) in earlier.iter().rev() {
            let mut changes = Vec::new();
            diff::fields(
                &shape::message_fields(&c.schema),
                &new_fields,
                &Path::default(),
                &mut changes,
            );
            let note = format!("compared with v{v}, since the check is transitive");
            self.changes(message, &message.current, current, &changes, Some(note));
        }
    }

    /// Reports `changes` found in version `version` (shape `shape`).
    fn changes(&mut self, message: &Message, shape: &Shape, version: u32, changes: &[Change], note: Option<String>) {
        let noun = message_noun(message);
        for change in changes {
            let (primary, secondary) = locate(self.schema, shape, change);
            let finding = Finding {
                rule: change.rule,
                severity: change.rule.severity(),
                contract: message.wire.clone(),
                kind: message.kind.into(),
                version: Some(version),
                field: Some(change.path.to_string()),
                old: change.old.clone(),
                new: change.new.clone(),
                message: change.message(noun, &message.wire, version),
                primary,
                secondary,
                note: note.clone(),
            };
            self.push(finding);
        }
    }
}

fn message_noun(message: &Message) -> &'static str {
    ContractKind::from(message.kind).as_str()
}

fn article(kind: ContractKind) -> String {
    match kind {
        ContractKind::Enum | ContractKind::Event | ContractKind::Id => {
            format!("an {}", kind.as_str())
        }
        _ => format!("a {}", kind.as_str()),
    }
}

fn removed_rule(kind: ContractKind) -> Rule {
    match kind {
        ContractKind::Command | ContractKind::Event => Rule::MessageRemoved,
        ContractKind::Record => Rule::RecordRemoved,
        ContractKind::Enum => Rule::EnumRemoved,
        ContractKind::Id => Rule::IdRemoved,
    }
}

fn renamed_rule(kind: ContractKind) -> Rule {
    match kind {
        ContractKind::Command | ContractKind::Event => Rule::MessageRenamed,
        ContractKind::Record => Rule::RecordRenamed,
        ContractKind::Enum => Rule::EnumRenamed,
        ContractKind::Id => Rule::IdRenamed,
    }
}

/// What a contract is apart from its name, to recognise a rename: the
/// fields of a message or record, the variants of an enum, what an id
/// wraps.
fn signature(contract: &CanonicalContract) -> Option<&serde_json::Value> {
    let key = match contract.kind {
        ContractKind::Command | ContractKind::Event | ContractKind::Record => "fields",
        ContractKind::Enum => "variants",
        ContractKind::Id => "of",
    };
    contract.schema.get(key)
}

/// The shape of version `version` of `message`, which exists because its
/// canonical form was listed.
fn shape_of(message: &Message, version: u32) -> &Shape {
    std::iter::once(&message.current)
        .chain(&message.history)
        .find(|s| s.version == version)
        .unwrap_or(&message.current)
}

/// Where a change is in the new files: the field it concerns, or the
/// record or message version it was removed from; plus, for a change
/// inside a record, the message field that leads there, and for a change
/// inside an enum or id, the declaration that changed.
fn locate(schema: &Schema, shape: &Shape, change: &Change) -> (Option<Label>, Vec<Label>) {
    let mut fields = shape.fields.as_slice();
    let mut container = shape.span;
    let mut secondary = Vec::new();
    let mut found: Option<&treaty_dsl::schema::Field> = None;
    let mut ty: Option<&Type> = None;
    for step in &change.path.0 {
        match step {
            Step::Field(name) => {
                if let Some(outer) = found {
                    let Some(record) = ty.and_then(|t| record_in(schema, t)) else {
                        break;
                    };
                    if secondary.is_empty() {
                        secondary.push(Label {
                            span: outer.span,
                            message: format!("`{}` uses `{}`", outer.name, record.name),
                        });
                    }
                    fields = &record.fields;
                    container = record.span;
                }
                // Canonical paths name fields by wire name.
                match fields.iter().find(|f| f.wire == *name) {
                    Some(field) => {
                        found = Some(field);
                        ty = Some(&field.ty);
                    }
                    None => {
                        let primary = Label {
                            span: container,
                            message: format!("`{name}` was removed from here"),
                        };
                        return (Some(primary), secondary);
                    }
                }
            }
            Step::Element => {
                ty = ty.map(unwrap_optional).and_then(|t| match t {
                    Type::List(e) => Some(e.as_ref()),
                    _ => None,
                })
            }
            Step::Key | Step::Value => {
                ty = ty.map(unwrap_optional).and_then(|t| match t {
                    Type::Map(k, v) => Some(if *step == Step::Key { k.as_ref() } else { v.as_ref() }),
                    _ => None,
                })
            }
        }
    }
    let Some(field) = found else {
        return (
            Some(Label {
                span: container,
                message: String::new(),
            }),
            secondary,
        );
    };
    let label = primary_label(change);
    // A change made inside an enum or id declaration is shown there, with
    // the field that uses it beside.
    let declaration = match (change.rule, ty.map(unwrap_optional)) {
        (Rule::EnumVariantAdded | Rule::EnumVariantRemoved, Some(Type::Enum(n))) => {
            schema.enumeration(n).map(|e| e.span)
        }
        (Rule::IdRepresentationChanged, Some(Type::Id(n))) => schema.id_type(n).map(|i| i.span),
        _ => None,
    };
    match declaration {
        Some(span) => {
            secondary.push(Label {
                span: field.span,
                message: format!("used by `{}`", field.name),
            });
            (Some(Label { span, message: label }), secondary)
        }
        None => (
            Some(Label {
                span: field.span,
                message: label,
            }),
            secondary,
        ),
    }
}

/// The words under the caret.
fn primary_label(change: &Change) -> String {
    let old = change.old.as_deref().unwrap_or("?");
    let new = change.new.as_deref().unwrap_or("?");
    match change.rule {
        Rule::FieldRenamed => format!("renamed from `{old}`"),
        Rule::FieldAddedRequired => "added without a default".into(),
        Rule::FieldDefaultRemoved => format!("default `{old}` removed"),
        Rule::FieldDefaultChanged => format!("default was `{old}`"),
        Rule::EnumVariantRemoved => format!("`{old}` removed"),
        Rule::EnumVariantAdded => format!("`{new}` added"),
        Rule::IdRepresentationChanged => format!("was `{old}`"),
        _ => format!("was `{old}`"),
    }
}

fn unwrap_optional(ty: &Type) -> &Type {
    match ty {
        Type::Optional(inner) => unwrap_optional(inner),
        other => other,
    }
}

fn record_in<'s>(schema: &'s Schema, ty: &Type) -> Option<&'s treaty_dsl::schema::Record> {
    match unwrap_optional(ty) {
        Type::Record(name) => schema.record(name),
        _ => None,
    }
}
