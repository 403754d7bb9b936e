//! A message's sentence, from its display template and its JSON: the same
//! text as the generated `Display` impl, for anything that holds a
//! message as JSON and the catalog rather than the Rust type.

use serde_json::Value;

use crate::{Catalog, Field, Segment, Template, Type};

/// How deep records shown through their own templates may nest.
const MAX_DEPTH: usize = 32;

impl Catalog {
    /// The sentence of message `contract` whose current-version JSON is
    /// `payload`, `None` when the message has no template or the payload
    /// lacks a shown field.
    pub fn display(&self, contract: &str, payload: &Value) -> Option<String> {
        let message = self.message(contract)?;
        self.render(message.display.as_ref()?, &message.fields, payload, 0)
    }

    fn render(&self, template: &Template, fields: &[Field], value: &Value, depth: usize) -> Option<String> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut out = String::new();
        for segment in &template.0 {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Field(name) => {
                    let field = fields.iter().find(|f| f.name == *name)?;
                    let shown = match value.get(name) {
                        Some(value) => value.clone(),
                        None => field.default.clone().unwrap_or(Value::Null),
                    };
                    out.push_str(&self.show(&field.ty, &shown, depth)?);
                }
            }
        }
        Some(out)
    }

    fn show(&self, ty: &Type, value: &Value, depth: usize) -> Option<String> {
        match (ty, value) {
            (Type::Optional { .. }, Value::Null) => Some("none".into()),
            (Type::Optional { item }, value) => self.show(item, value, depth),
            (Type::Record { name }, value) => {
                let record = self.record(name)?;
                self.render(record.display.as_ref()?, &record.fields, value, depth + 1)
            }
            (_, Value::String(text)) => Some(text.clone()),
            (_, Value::Number(n)) => Some(match n.as_f64() {
                Some(x) if !(n.is_i64() || n.is_u64()) => x.to_string(),
                _ => n.to_string(),
            }),
            (_, Value::Bool(b)) => Some(b.to_string()),
            (Type::Extern { .. }, other) => Some(other.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::tests::shop;

    #[test]
    fn sentences_follow_the_templates_with_records_and_optionals() {
        let catalog = shop();
        let payload = json!({"id": "x", "quantity": 3, "price": {"cents": 250, "currency": "EUR"}});
        assert_eq!(
            catalog.display("shop.PlaceOrder", &payload).as_deref(),
            Some("place {3} for 250 EUR")
        );
        let payload = json!({"id": "x", "quantity": 3, "price": null});
        assert_eq!(
            catalog.display("shop.PlaceOrder", &payload).as_deref(),
            Some("place {3} for none")
        );
        // No template, no such message, a shown field missing.
        assert_eq!(catalog.display("shop.OrderPlaced", &json!({})), None);
        assert_eq!(catalog.display("shop.Nothing", &json!({})), None);
        assert_eq!(catalog.display("shop.PlaceOrder", &json!({"price": null})), None);
    }
}
