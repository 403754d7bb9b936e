//! The rule catalog: every kind of finding the lint reports, with a
//! stable id, the compatibility it breaks and how to make the change
//! safely. `docs/lint-rules.md` has a page per rule; the ids are the
//! anchors there and are safe to match on in scripts.

use std::fmt;

/// How bad a finding is. `treaty-dsl` re-exports this type for its
/// diagnostics, so the lint's findings and the compiler's share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The contracts cannot be compiled, or the change breaks a reader.
    Error,
    /// Something deserves a look.
    Warning,
}

/// Which readers a change breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// New code must read old data (stored events, commands from senders
    /// not yet upgraded).
    Backward,
    /// Old code must read new data (consumers not yet upgraded).
    Forward,
    /// Both: any deployment order works.
    Full,
}

impl Mode {
    /// Every mode, for help texts and tests.
    pub const ALL: [Mode; 3] = [Mode::Backward, Mode::Forward, Mode::Full];

    /// The name on the command line and in `treaty.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Backward => "backward",
            Mode::Forward => "forward",
            Mode::Full => "full",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether new code must read old data in this mode.
    pub fn checks_backward(self) -> bool {
        matches!(self, Mode::Backward | Mode::Full)
    }

    /// Whether old code must read new data in this mode.
    pub fn checks_forward(self) -> bool {
        matches!(self, Mode::Forward | Mode::Full)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The group a rule belongs to, as the docs list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Whole contracts removed, renamed or moved.
    Contract,
    /// A message's version history.
    History,
    /// Fields and their types, at any depth.
    Field,
    /// Style checks: warnings that never fail a build.
    Style,
}

macro_rules! rules {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $id:literal, $category:ident, backward: $b:literal, forward: $f:literal, $severity:ident,
            summary: $summary:literal, help: $help:literal;
    )*) => {
        /// One rule of the catalog.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Rule {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Rule {
            /// Every rule, in catalog order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable id, such as `field-type-changed`.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// The group the rule belongs to.
            pub fn category(self) -> Category {
                match self { $(Rule::$variant => Category::$category,)* }
            }

            /// Whether the change stops new code reading old data.
            pub fn breaks_backward(self) -> bool {
                match self { $(Rule::$variant => $b,)* }
            }

            /// Whether the change stops old code reading new data.
            pub fn breaks_forward(self) -> bool {
                match self { $(Rule::$variant => $f,)* }
            }

            /// Error for breaking changes, warning for the rest.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$severity,)* }
            }

            /// One line saying what the rule catches.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }

            /// How to make the change without breaking anyone.
            pub fn help(self) -> &'static str {
                match self { $(Rule::$variant => $help,)* }
            }
        }
    };
}

rules! {
    /// A message that was locked no longer exists.
    MessageRemoved = "message-removed", Contract, backward: true, forward: false, Error,
        summary: "A command or event was removed.",
        help: "keep the message (document it as deprecated) until no stored data or sender uses it";
    /// A message disappeared and one with identical fields appeared.
    MessageRenamed = "message-renamed", Contract, backward: true, forward: true, Error,
        summary: "A command or event was renamed; its name is part of the wire identity.",
        help: "keep the old message and add the new one beside it, then migrate producers and consumers";
    /// A contract moved to another namespace under the same name.
    NamespaceChanged = "namespace-changed", Contract, backward: true, forward: true, Error,
        summary: "A contract moved to another namespace; `namespace.Name` is its wire identity.",
        help: "leave the contract where it is, or add the new one beside it and migrate";
    /// A command became an event or the other way round.
    MessageKindChanged = "message-kind-changed", Contract, backward: true, forward: true, Error,
        summary: "A command became an event, or an event a command.",
        help: "declare a new message of the other kind instead of changing this one";
    /// A record was removed.
    RecordRemoved = "record-removed", Contract, backward: true, forward: true, Error,
        summary: "A record was removed.",
        help: "keep the record until no contract or code uses it";
    /// A record was renamed (same fields, new name).
    RecordRenamed = "record-renamed", Contract, backward: true, forward: true, Error,
        summary: "A record was renamed; code that names it stops compiling.",
        help: "keep the old name, or add the new record beside it and migrate users";
    /// An enum was removed.
    EnumRemoved = "enum-removed", Contract, backward: true, forward: true, Error,
        summary: "An enum was removed.",
        help: "keep the enum until no contract or code uses it";
    /// An enum was renamed (same variants, new name).
    EnumRenamed = "enum-renamed", Contract, backward: true, forward: true, Error,
        summary: "An enum was renamed; code that names it stops compiling.",
        help: "keep the old name, or add the new enum beside it and migrate users";
    /// An id type was removed.
    IdRemoved = "id-removed", Contract, backward: true, forward: true, Error,
        summary: "An id type was removed.",
        help: "keep the id type until no contract or code uses it";
    /// An id type was renamed (same representation, new name).
    IdRenamed = "id-renamed", Contract, backward: true, forward: true, Error,
        summary: "An id type was renamed; code that names it stops compiling.",
        help: "keep the old name, or add the new id type beside it and migrate users";
    /// A locked version is missing from the message's `was` history.
    VersionDropped = "version-dropped", History, backward: true, forward: true, Error,
        summary: "A locked version of a message is no longer in its `was` history.",
        help: "keep `was vN (...)` exactly as locked for as long as data of that version may exist";
    /// A `was` entry no longer matches its locked fingerprint.
    HistoryRewritten = "history-rewritten", History, backward: true, forward: true, Error,
        summary: "A `was` history entry differs from the locked version (the fingerprint changed).",
        help: "restore the entry exactly as locked; to change the shape, declare a new version instead";
    /// A field disappeared that old readers require.
    FieldRemoved = "field-removed", Field, backward: false, forward: true, Error,
        summary: "A required field without a default was removed; old readers reject data without it.",
        help: "give the field a default (or make it optional) first and ship that, or declare a new version";
    /// A field disappeared and one of the same type appeared.
    FieldRenamed = "field-renamed", Field, backward: true, forward: true, Error,
        summary: "A field was renamed; the name is the key on the wire, so the value is lost.",
        help: "add the new field with a default beside the old one, or declare a new version with an upcast";
    /// A field was added that old data does not have.
    FieldAddedRequired = "field-added-required", Field, backward: true, forward: false, Error,
        summary: "A required field without a default was added; old data does not have it.",
        help: "give the field a default (`= ...`) or make it optional (`Type?`), or declare a new version";
    /// The type of a field changed kind.
    FieldTypeChanged = "field-type-changed", Field, backward: true, forward: true, Error,
        summary: "A field's type changed to one that cannot read the old values.",
        help: "add a field with the new type beside the old one, or declare a new version with an upcast";
    /// An integer field became wider.
    IntegerWidened = "integer-widened", Field, backward: false, forward: true, Error,
        summary: "An integer type was widened; old readers cannot hold the larger values.",
        help: "fine for backward compatibility; upgrade every reader before any writer sends larger values";
    /// An integer field became narrower.
    IntegerNarrowed = "integer-narrowed", Field, backward: true, forward: false, Error,
        summary: "An integer type was narrowed; old values may not fit.",
        help: "keep the wider type, or declare a new version whose upcast handles values out of range";
    /// An optional field became required.
    OptionalMadeRequired = "optional-made-required", Field, backward: true, forward: false, Error,
        summary: "An optional field became required; old data may not have a value.",
        help: "keep the field optional, or give it a default so old data without a value still reads";
    /// A required field became optional.
    RequiredMadeOptional = "required-made-optional", Field, backward: false, forward: true, Error,
        summary: "A required field became optional; old readers reject data without a value.",
        help: "upgrade every reader before any writer omits the value, or declare a new version";
    /// A default was removed from a field that keeps existing.
    FieldDefaultRemoved = "field-default-removed", Field, backward: true, forward: false, Error,
        summary: "A field lost its default; data written before the field existed no longer reads.",
        help: "keep the default for as long as such data may exist";
    /// A default changed value.
    FieldDefaultChanged = "field-default-changed", Field, backward: true, forward: false, Warning,
        summary: "A field's default changed; data without the field now reads differently.",
        help: "check that old data without the field should read as the new default";
    /// An enum variant was removed.
    EnumVariantRemoved = "enum-variant-removed", Field, backward: true, forward: false, Error,
        summary: "An enum variant was removed; old data may hold it.",
        help: "keep the variant (document it as deprecated) while data may hold it";
    /// An enum variant was added.
    EnumVariantAdded = "enum-variant-added", Field, backward: false, forward: true, Error,
        summary: "An enum variant was added; old readers reject it.",
        help: "upgrade every reader before any writer sends the new variant";
    /// The element type of a list changed kind.
    ListElementChanged = "list-element-changed", Field, backward: true, forward: true, Error,
        summary: "The element type of a list changed.",
        help: "add a new list field with the new element type, or declare a new version";
    /// The key type of a map changed kind.
    MapKeyChanged = "map-key-changed", Field, backward: true, forward: true, Error,
        summary: "The key type of a map changed.",
        help: "add a new map field with the new key type, or declare a new version";
    /// The value type of a map changed kind.
    MapValueChanged = "map-value-changed", Field, backward: true, forward: true, Error,
        summary: "The value type of a map changed.",
        help: "add a new map field with the new value type, or declare a new version";
    /// What an id type wraps changed.
    IdRepresentationChanged = "id-representation-changed", Field, backward: true, forward: true, Error,
        summary: "An id type wraps another representation; old ids no longer parse.",
        help: "declare a new id type for the new representation and a new field or version that uses it";
    /// A command or event without `///` documentation.
    MissingDocs = "missing-docs", Style, backward: false, forward: false, Warning,
        summary: "A command or event has no `///` documentation.",
        help: "say in a `///` line what the message asks for or records, and who sends it";
    /// An event whose name does not say what happened.
    EventNotPastTense = "event-not-past-tense", Style, backward: false, forward: false, Warning,
        summary: "An event name does not read as something that happened (past tense).",
        help: "name events for the fact they record, such as `OrderPlaced` or `PaymentSent`";
    /// A field name that is not snake_case.
    FieldNotSnakeCase = "field-not-snake-case", Style, backward: false, forward: false, Warning,
        summary: "A field name is not snake_case, the naming convention of contracts.",
        help: "rename it while it is new; once shipped, a rename is itself a breaking change";
}

impl Rule {
    /// The rule with id `id`.
    pub fn from_id(id: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.id() == id)
    }

    /// Whether the change is reported in `mode`: style rules always are
    /// (when enabled), breaking rules when they break what `mode` checks.
    pub fn applies_in(self, mode: Mode) -> bool {
        self.category() == Category::Style
            || (mode.checks_backward() && self.breaks_backward())
            || (mode.checks_forward() && self.breaks_forward())
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let id = rule.id();
            assert!(seen.insert(id), "{id} twice");
            assert!(
                id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{id} is not kebab case"
            );
            assert_eq!(Rule::from_id(id), Some(*rule));
        }
    }

    /// A breaking rule must break something, or no mode would report it;
    /// a style rule must break nothing, or it would fail builds.
    #[test]
    fn every_breaking_rule_breaks_a_direction() {
        for rule in Rule::ALL {
            let breaks = rule.breaks_backward() || rule.breaks_forward();
            assert_eq!(breaks, rule.category() != Category::Style, "{rule}");
            assert!(rule.applies_in(Mode::Full), "{rule}");
        }
    }
}
