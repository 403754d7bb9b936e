//! Style checks: warnings about contracts that are hard to live with,
//! which never fail a build.
//!
//! A contract is read for years by people who did not write it; the
//! checks ask for documentation on every message, event names that state
//! a fact, and one naming convention for fields. They look at the new
//! schema only, since style does not depend on history.

use std::collections::BTreeSet;

use heck::ToSnakeCase;

use treaty_dsl::ast::MessageKind;
use treaty_dsl::schema::{Field, QualifiedName, Schema};
use treaty_dsl::{ContractKind, Label};

use crate::rules::Rule;
use crate::{Finding, StyleOptions};

/// Irregular past participles and past tenses that event names use. The
/// regular ones end in `-ed` and need no list.
const IRREGULAR_PAST: &[&str] = &[
    "Arisen",
    "Awoken",
    "Been",
    "Begun",
    "Bent",
    "Bid",
    "Bitten",
    "Blown",
    "Born",
    "Bought",
    "Bound",
    "Broken",
    "Brought",
    "Built",
    "Burnt",
    "Cast",
    "Caught",
    "Chosen",
    "Come",
    "Cost",
    "Cut",
    "Dealt",
    "Done",
    "Drawn",
    "Driven",
    "Dug",
    "Eaten",
    "Fallen",
    "Fed",
    "Felt",
    "Fought",
    "Found",
    "Fled",
    "Flown",
    "Forbidden",
    "Forgiven",
    "Forgotten",
    "Frozen",
    "Given",
    "Gone",
    "Got",
    "Gotten",
    "Grown",
    "Held",
    "Hidden",
    "Hit",
    "Hung",
    "Hurt",
    "Kept",
    "Known",
    "Laid",
    "Led",
    "Left",
    "Lent",
    "Let",
    "Lit",
    "Lost",
    "Made",
    "Meant",
    "Met",
    "Paid",
    "Put",
    "Quit",
    "Read",
    "Rebuilt",
    "Redone",
    "Reset",
    "Resent",
    "Resold",
    "Rewritten",
    "Ridden",
    "Risen",
    "Run",
    "Rung",
    "Said",
    "Seen",
    "Sent",
    "Set",
    "Shaken",
    "Shed",
    "Shot",
    "Shown",
    "Shut",
    "Sold",
    "Sought",
    "Spent",
    "Split",
    "Spoken",
    "Spread",
    "Sprung",
    "Stolen",
    "Struck",
    "Stuck",
    "Sung",
    "Sworn",
    "Swept",
    "Swum",
    "Taken",
    "Taught",
    "Thought",
    "Thrown",
    "Told",
    "Torn",
    "Undone",
    "Understood",
    "Upheld",
    "Upset",
    "Withdrawn",
    "Withheld",
    "Won",
    "Woken",
    "Worn",
    "Wound",
    "Written",
];

/// Words that end in `-ed` without being past tense.
const NOT_PAST: &[&str] = &[
    "Bed", "Bleed", "Breed", "Creed", "Deed", "Embed", "Feed", "Greed", "Hundred", "Med", "Need", "Red", "Seed",
    "Shred", "Sled", "Speed", "Steed", "Weed",
];

/// Every style finding of `schema` that `options` enables.
pub fn check(schema: &Schema, options: &StyleOptions, out: &mut Vec<Finding>) {
    // Aggregate identities and fragment fields appear in many messages
    // but are written once; one warning per place written is enough.
    let mut warned_fields = BTreeSet::new();
    for namespace in schema.namespaces.values() {
        for message in &namespace.messages {
            let kind = ContractKind::from(message.kind);
            let noun = kind.as_str();
            if options.missing_docs && message.docs.iter().all(|line| line.trim().is_empty()) {
                out.push(finding(
                    Rule::MissingDocs,
                    &message.name,
                    kind,
                    Some(message.current.version),
                    None,
                    format!("{noun} `{}` has no documentation", message.name),
                    Label {
                        span: message.span,
                        message: "add `///` lines above this".into(),
                    },
                ));
            }
            if options.event_tense
                && message.kind == MessageKind::Event
                && !reads_as_past(&message.name.name, &options.past_tense_words)
            {
                out.push(finding(
                    Rule::EventNotPastTense,
                    &message.name,
                    kind,
                    Some(message.current.version),
                    None,
                    format!("event `{}` is not named for something that happened", message.name),
                    Label {
                        span: message.span,
                        message: "no word of this name is in the past tense".into(),
                    },
                ));
            }
            if options.field_case {
                let shapes = std::iter::once(&message.current).chain(&message.history);
                for shape in shapes {
                    let version = Some(shape.version);
                    for field in &shape.fields {
                        if warned_fields.insert(field.span) {
                            field_case(field, &message.name, kind, version, out);
                        }
                    }
                }
            }
        }
        if options.field_case {
            for record in &namespace.records {
                for field in &record.fields {
                    if warned_fields.insert(field.span) {
                        field_case(field, &record.name, ContractKind::Record, None, out);
                    }
                }
            }
        }
    }
}

fn field_case(
    field: &Field,
    contract: &QualifiedName,
    kind: ContractKind,
    version: Option<u32>,
    out: &mut Vec<Finding>,
) {
    let snake = field.name.to_snake_case();
    if snake == field.name {
        return;
    }
    let mut f = finding(
        Rule::FieldNotSnakeCase,
        contract,
        kind,
        version,
        Some(field.name.clone()),
        format!("field `{}` of `{contract}` is not snake_case", field.name),
        Label {
            span: field.span,
            message: format!("the convention would be `{snake}`"),
        },
    );
    f.note = Some(format!(
        "renaming it changes its name on the wire unless it keeps it: `{snake}: ... wire \"{}\"`",
        field.wire
    ));
    f.old = Some(field.name.clone());
    f.new = Some(snake);
    out.push(f);
}

fn finding(
    rule: Rule,
    contract: &QualifiedName,
    kind: ContractKind,
    version: Option<u32>,
    field: Option<String>,
    message: String,
    primary: Label,
) -> Finding {
    Finding {
        rule,
        severity: rule.severity(),
        contract: contract.to_string(),
        kind,
        version,
        field,
        old: None,
        new: None,
        message,
        primary: Some(primary),
        secondary: Vec::new(),
        note: None,
    }
}

/// Whether some word of a CamelCase name is in the past tense: a regular
/// `-ed` form, an irregular one, or one the configuration adds. Any word
/// counts, so `ItemAddedToCart` and `UserLoggedIn` pass.
pub fn reads_as_past(name: &str, extra: &[String]) -> bool {
    words(name).iter().any(|word| {
        let regular = word.len() > 3 && word.ends_with("ed") && !NOT_PAST.contains(&word.as_str());
        regular || IRREGULAR_PAST.contains(&word.as_str()) || extra.iter().any(|e| e == word)
    })
}

/// The words of a CamelCase name, each capitalised: `HTTPRequestSent` is
/// `HTTP`, `Request`, `Sent`.
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
        let boundary = c.is_uppercase() && (prev_lower || (next_lower && !current.is_empty()));
        if (boundary || c == '_') && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        if c != '_' {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
        .into_iter()
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map_or(String::new(), |first| {
                if w.chars().all(|c| c.is_uppercase()) {
                    w.clone()
                } else {
                    first.to_uppercase().chain(chars).collect()
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_camel_case_words() {
        assert_eq!(words("HTTPRequestSent"), ["HTTP", "Request", "Sent"]);
        assert_eq!(words("OrderPlaced"), ["Order", "Placed"]);
        assert_eq!(words("order_placed"), ["Order", "Placed"]);
        assert_eq!(words("V2Shipped"), ["V2", "Shipped"]);
    }

    /// Names that read as events, and names that do not.
    #[test]
    fn recognises_past_tense_names() {
        let past = [
            "OrderPlaced",
            "PaymentSent",
            "InvoicePaid",
            "CarBuilt",
            "UserLoggedIn",
            "ItemAddedToCart",
            "OrderShipped",
            "KeyAgreed",
        ];
        let not_past = [
            "PlaceOrder",
            "OrderShipment",
            "SpeedChange",
            "CarProduce",
            "Need",
            "Red",
        ];
        for name in past {
            assert!(reads_as_past(name, &[]), "{name}");
        }
        for name in not_past {
            assert!(!reads_as_past(name, &[]), "{name}");
        }
        assert!(reads_as_past("OrderUpsert", &["Upsert".to_string()]));
    }
}
