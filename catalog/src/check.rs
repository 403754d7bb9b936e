//! Checking a JSON document against a message's fields before it is
//! decoded, so that every bad field is reported at once, each with a JSON
//! pointer (RFC 6901) and the type the contract expects.
//!
//! The rules are the wire rules of the contract language: a missing field
//! is fine when it has a default or is optional; fields the contract does
//! not know are ignored; integers must be whole and in range; ids are
//! their inner value; enums are one of their variant names; map keys are
//! strings that read as the key type.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Catalog, Field, Scalar, Type};

/// One field of a document that does not match its contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where, as a JSON pointer into the document (`/parts/0/quantity`).
    pub pointer: String,
    /// The contract type expected there, as contracts spell it (`u32`,
    /// `[factory.CarPart]`, `shared.Money?`).
    pub expected: String,
    /// What is wrong, in a sentence.
    pub detail: String,
}

/// How deep records, lists and maps may nest in a checked document.
/// serde_json refuses deeper input already (at 128), so this only bounds
/// the recursion of a hand-built `Value`.
const MAX_DEPTH: usize = 128;

impl Catalog {
    /// Checks `document` against `fields` (a message version's or a
    /// record's), returning every problem found, in document order; empty
    /// when it matches. `skip` names fields not to check (the identity,
    /// when it comes from elsewhere).
    pub fn check(&self, fields: &[Field], document: &Value, skip: Option<&str>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut checker = Checker {
            catalog: self,
            errors: &mut errors,
        };
        checker.fields(fields, document, &mut String::new(), skip, 0);
        errors
    }
}

impl Catalog {
    /// Rewrites the integers of `document` written with a zero fraction
    /// (`3.0`) as integers (`3`), where `fields` expect an integer type:
    /// JSON Schema counts them integers, and decoders of integer fields
    /// do not. Run it before [`Catalog::check`].
    pub fn normalize_integers(&self, fields: &[Field], document: &mut Value) {
        if let Value::Object(object) = document {
            for field in fields {
                if let Some(value) = object.get_mut(&field.name) {
                    self.normalize_value(&field.ty, value, 0);
                }
            }
        }
    }

    fn normalize_value(&self, ty: &Type, value: &mut Value, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let inner = match ty {
            Type::Scalar { name } => Some(*name),
            Type::Id { name } => self.id_type(name).map(|id| id.inner),
            _ => None,
        };
        match (ty, value) {
            (Type::Optional { item }, value) => self.normalize_value(item, value, depth),
            (Type::Record { name }, Value::Object(object)) => {
                if let Some(record) = self.record(name) {
                    for field in &record.fields {
                        if let Some(value) = object.get_mut(&field.name) {
                            self.normalize_value(&field.ty, value, depth + 1);
                        }
                    }
                }
            }
            (Type::List { item }, Value::Array(items)) => {
                for element in items {
                    self.normalize_value(item, element, depth + 1);
                }
            }
            (Type::Map { value: item, .. }, Value::Object(entries)) => {
                for element in entries.values_mut() {
                    self.normalize_value(item, element, depth + 1);
                }
            }
            (_, Value::Number(n)) if inner.is_some_and(|s| s.integer_range().is_some()) => {
                if let Some(x) = n.as_f64().filter(|x| x.fract() == 0.0 && !(n.is_i64() || n.is_u64())) {
                    // Exactly representable: |x| < 2^63 here, and a whole f64.
                    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&x) {
                        *n = serde_json::Number::from(x as i64);
                    } else if (0.0..1.844_674_407_370_955_2e19).contains(&x) {
                        *n = serde_json::Number::from(x as u64);
                    }
                }
            }
            _ => {}
        }
    }
}

struct Checker<'a> {
    catalog: &'a Catalog,
    errors: &'a mut Vec<FieldError>,
}

/// Appends a reference token to a JSON pointer, escaped.
pub fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Checker<'_> {
    fn fail(&mut self, pointer: &str, ty: &Type, detail: String) {
        self.errors.push(FieldError {
            pointer: pointer.to_string(),
            expected: ty.to_string(),
            detail,
        });
    }

    fn fields(&mut self, fields: &[Field], value: &Value, pointer: &mut String, skip: Option<&str>, depth: usize) {
        let Value::Object(object) = value else {
            self.errors.push(FieldError {
                pointer: pointer.clone(),
                expected: "an object".into(),
                detail: format!(
                    "expected a JSON object of the contract's fields, found {}",
                    kind_of(value)
                ),
            });
            return;
        };
        for field in fields {
            if skip == Some(field.name.as_str()) {
                continue;
            }
            let length = pointer.len();
            push_token(pointer, &field.name);
            match object.get(&field.name) {
                None if field.may_be_missing() => {}
                None => self.fail(pointer, &field.ty, "the field is missing".into()),
                Some(value) => self.value(&field.ty, value, pointer, depth + 1),
            }
            pointer.truncate(length);
        }
    }

    fn value(&mut self, ty: &Type, value: &Value, pointer: &mut String, depth: usize) {
        if depth > MAX_DEPTH {
            self.fail(pointer, ty, format!("nested deeper than {MAX_DEPTH} levels"));
            return;
        }
        match ty {
            Type::Optional { item } => {
                if !value.is_null() {
                    self.value(item, value, pointer, depth);
                }
            }
            Type::Scalar { name } => {
                if let Err(detail) = scalar(*name, value) {
                    self.fail(pointer, ty, detail);
                }
            }
            Type::Id { name } => match self.catalog.id_type(name) {
                Some(id) => {
                    if let Err(detail) = scalar(id.inner, value) {
                        self.fail(pointer, ty, detail);
                    }
                }
                None => self.fail(pointer, ty, format!("the catalog has no id type {name}")),
            },
            Type::Enum { name } => {
                let Some(enumeration) = self.catalog.enumeration(name) else {
                    self.fail(pointer, ty, format!("the catalog has no enum {name}"));
                    return;
                };
                match value {
                    Value::String(text) if enumeration.variants.iter().any(|v| v.name == *text) => {}
                    _ => {
                        let names: Vec<String> =
                            enumeration.variants.iter().map(|v| format!("\"{}\"", v.name)).collect();
                        let found = match value {
                            Value::String(text) => format!("\"{}\"", text.escape_debug()),
                            other => kind_of(other).to_string(),
                        };
                        self.fail(
                            pointer,
                            ty,
                            format!("expected one of {}, found {found}", names.join(", ")),
                        );
                    }
                }
            }
            Type::Record { name } => match self.catalog.record(name) {
                Some(record) => self.fields(&record.fields, value, pointer, None, depth),
                None => self.fail(pointer, ty, format!("the catalog has no record {name}")),
            },
            Type::Extern { .. } => {}
            Type::List { item } => {
                let Value::Array(items) = value else {
                    self.fail(pointer, ty, format!("expected an array, found {}", kind_of(value)));
                    return;
                };
                for (index, element) in items.iter().enumerate() {
                    let length = pointer.len();
                    push_token(pointer, &index.to_string());
                    self.value(item, element, pointer, depth + 1);
                    pointer.truncate(length);
                }
            }
            Type::Map { key, value: item } => {
                let Value::Object(entries) = value else {
                    self.fail(pointer, ty, format!("expected an object, found {}", kind_of(value)));
                    return;
                };
                for (name, element) in entries {
                    let length = pointer.len();
                    push_token(pointer, name);
                    if let Err(detail) = self.map_key(key, name) {
                        self.fail(pointer, key, format!("the key is not a {key}: {detail}"));
                    }
                    self.value(item, element, pointer, depth + 1);
                    pointer.truncate(length);
                }
            }
        }
    }

    /// Map keys are strings on the wire: integers as decimal text, ids as
    /// their inner value's text.
    fn map_key(&self, key: &Type, text: &str) -> Result<(), String> {
        let inner = match key {
            Type::Scalar { name } => *name,
            Type::Id { name } => self.catalog.id_type(name).map(|id| id.inner).ok_or("unknown id type")?,
            _ => return Ok(()),
        };
        match inner {
            Scalar::String => Ok(()),
            integer if integer.integer_range().is_some() => {
                let (low, high) = integer.integer_range().expect("checked");
                match text.parse::<i128>() {
                    Ok(n) if (low..=high).contains(&n) && !text.starts_with('+') => Ok(()),
                    _ => Err(format!("expected a whole number from {low} to {high}")),
                }
            }
            other => scalar(other, &Value::String(text.to_string())),
        }
    }
}

/// Checks one scalar's JSON; the error says what was expected and found.
fn scalar(scalar: Scalar, value: &Value) -> Result<(), String> {
    let expected = |what: &str| format!("expected {what}, found {}", kind_of(value));
    match scalar {
        Scalar::Bool => value.is_boolean().then_some(()).ok_or_else(|| expected("a boolean")),
        Scalar::F64 => value.is_number().then_some(()).ok_or_else(|| expected("a number")),
        Scalar::String => value.is_string().then_some(()).ok_or_else(|| expected("a string")),
        Scalar::I32 | Scalar::I64 | Scalar::U32 | Scalar::U64 => {
            let (low, high) = scalar.integer_range().expect("an integer type");
            let range = format!("a whole number from {low} to {high}");
            let n = match value {
                Value::Number(n) => n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)),
                _ => None,
            };
            match n {
                Some(n) if (low..=high).contains(&n) => Ok(()),
                Some(n) => Err(format!("expected {range}, found {n}, which is out of range")),
                None => Err(expected(&range)),
            }
        }
        Scalar::Bytes => match value {
            Value::String(text) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(|_| ())
                .map_err(|e| format!("expected base64 (standard alphabet, padded): {e}")),
            _ => Err(expected("a base64 string")),
        },
        Scalar::Uuid => match value {
            Value::String(text) => uuid::Uuid::parse_str(text)
                .map(|_| ())
                .map_err(|e| format!("expected a UUID: {e}")),
            _ => Err(expected("a UUID string")),
        },
        Scalar::Timestamp => match value {
            Value::String(text) => text
                .parse::<jiff::Timestamp>()
                .map(|_| ())
                .map_err(|e| format!("expected an RFC 3339 timestamp: {e}")),
            _ => Err(expected("an RFC 3339 timestamp string")),
        },
        Scalar::Date => match value {
            Value::String(text) => text
                .parse::<jiff::civil::Date>()
                .map(|_| ())
                .map_err(|e| format!("expected an ISO 8601 date: {e}")),
            _ => Err(expected("an ISO 8601 date string")),
        },
        Scalar::Decimal => match value {
            Value::Number(_) => Ok(()),
            Value::String(text) if is_decimal(text) => Ok(()),
            Value::String(_) => Err("expected a decimal number such as \"10.50\" (at most 28 digits)".into()),
            _ => Err(expected("a decimal string such as \"10.50\"")),
        },
    }
}

/// `-?digits(.digits)?` with at most 28 digits, what `rust_decimal` reads
/// without loss.
fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && (fraction.is_empty() != unsigned.contains('.'))
        && whole.len() + fraction.len() <= 28
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::tests::shop;

    #[test]
    fn a_matching_document_has_no_errors_and_unknown_fields_are_ignored() {
        let catalog = shop();
        let fields = &catalog.message("shop.PlaceOrder").unwrap().fields;
        let document = json!({
            "id": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11",
            "quantity": 3,
            "size": "Large",
            "price": {"cents": -5, "currency": "EUR"},
            "tags": ["a"],
            "stock": {"18446744073709551615": true},
            "at": "2024-05-01T12:00:00+02:00",
            "unknown": [1, 2]
        });
        assert_eq!(catalog.check(fields, &document, None), vec![]);
        // Optional and defaulted fields may be missing or null.
        let document = json!({"id": "7f1c6a5e-3c1b-4b8e-9a53-2f6f0c9d1e11", "quantity": 0, "size": "Small", "price": null, "tags": [], "stock": {}});
        assert_eq!(catalog.check(fields, &document, None), vec![]);
    }

    #[test]
    fn every_bad_field_is_reported_with_its_pointer_and_expected_type() {
        let catalog = shop();
        let fields = &catalog.message("shop.PlaceOrder").unwrap().fields;
        let document = json!({
            "quantity": -1,
            "size": "Huge",
            "price": {"cents": 1.5},
            "tags": ["a", 2],
            "stock": {"x/y": "no", "7": true},
            "at": "yesterday"
        });
        let errors = catalog.check(fields, &document, Some("id"));
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.expected.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("/quantity", "u32"),
                ("/size", "shop.Size"),
                ("/price/cents", "i64"),
                ("/price/currency", "String"),
                ("/tags/1", "String"),
                ("/stock/x~1y", "u64"),
                ("/stock/x~1y", "bool"),
                ("/at", "Timestamp"),
            ],
            "{errors:#?}"
        );
        assert!(errors[0].detail.contains("out of range"), "{}", errors[0].detail);
        assert!(errors[1].detail.contains(r#""Small", "Large""#), "{}", errors[1].detail);
        assert_eq!(errors[3].detail, "the field is missing");
    }

    #[test]
    fn whole_floats_become_integers_where_integers_are_expected() {
        let catalog = shop();
        let fields = &catalog.message("shop.PlaceOrder").unwrap().fields;
        let mut document = json!({"quantity": 3.0, "price": {"cents": -2.0, "currency": "EUR"}, "note": 1.0});
        catalog.normalize_integers(fields, &mut document);
        assert_eq!(
            document,
            json!({"quantity": 3, "price": {"cents": -2, "currency": "EUR"}, "note": 1.0})
        );
        let mut fraction = json!({"quantity": 3.5});
        catalog.normalize_integers(fields, &mut fraction);
        assert_eq!(fraction, json!({"quantity": 3.5}));
    }

    #[test]
    fn ids_are_checked_as_their_inner_type_and_the_document_must_be_an_object() {
        let catalog = shop();
        let fields = &catalog.message("shop.OrderPlaced").unwrap().fields;
        let errors = catalog.check(fields, &json!({"id": "not-a-uuid", "quantity": 1}), None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/id");
        assert_eq!(errors[0].expected, "shop.OrderId");
        let errors = catalog.check(fields, &json!([1]), None);
        assert_eq!(errors[0].pointer, "");
        assert!(errors[0].detail.contains("found an array"));
    }

    #[test]
    fn decimals_follow_the_wire_form() {
        for good in ["0", "-1.50", "10.5", "1234567890123456789012345678"] {
            assert!(super::is_decimal(good), "{good}");
        }
        for bad in [
            "",
            "-",
            "1.",
            ".5",
            "1e5",
            "+1",
            "1.2.3",
            "12345678901234567890123456789",
        ] {
            assert!(!super::is_decimal(bad), "{bad}");
        }
    }
}
