//! Settings that shape the generated code, checked once and stored
//! parsed, so generation itself cannot fail.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// The parsed settings of a [`crate::Builder`].
#[derive(Clone, Default)]
pub(crate) struct Settings {
    /// Contract name (`shared.Money`) to Rust type.
    pub extern_types: BTreeMap<String, syn::Type>,
    /// Path pattern to attributes for matching types.
    pub type_attributes: Vec<(String, Vec<syn::Attribute>)>,
    /// Path pattern to attributes for matching fields.
    pub field_attributes: Vec<(String, Vec<syn::Attribute>)>,
}

impl Settings {
    pub fn extern_type(&self, name: &str) -> syn::Type {
        self.extern_types
            .get(name)
            .cloned()
            .expect("the validator only accepts configured extern types")
    }

    pub fn type_attributes(&self, path: &str) -> TokenStream {
        let mut out = TokenStream::new();
        for attribute in matching(&self.type_attributes, path) {
            attribute.to_tokens(&mut out);
        }
        out
    }

    pub fn type_attribute_list(&self, path: &str) -> Vec<syn::Attribute> {
        matching(&self.type_attributes, path).cloned().collect()
    }

    pub fn field_attribute_list(&self, path: &str) -> Vec<syn::Attribute> {
        matching(&self.field_attributes, path).cloned().collect()
    }

    /// Whether any field attribute is configured, so the generator can
    /// skip building field paths when none is.
    pub fn has_field_attributes(&self) -> bool {
        !self.field_attributes.is_empty()
    }
}

fn matching<'a>(rules: &'a [(String, Vec<syn::Attribute>)], path: &'a str) -> impl Iterator<Item = &'a syn::Attribute> {
    rules
        .iter()
        .filter(move |(pattern, _)| path_matches(pattern, path))
        .flat_map(|(_, attributes)| attributes)
}

/// Whether `pattern` selects `path`: `.` selects everything; otherwise the
/// pattern must equal the path or be a prefix of it ending at a dot, so
/// `shop` selects `shop.orders.OrderPlaced` but not `shopping.Cart`.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    pattern == "." || path == pattern || path.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn patterns_select_whole_segments() {
        assert!(path_matches(".", "shop.Cart"));
        assert!(path_matches("shop", "shop.Cart"));
        assert!(path_matches("shop.Cart", "shop.Cart"));
        assert!(path_matches("shop.Cart", "shop.Cart.items"));
        assert!(!path_matches("shop", "shopping.Cart"));
        assert!(!path_matches("shop.Cart", "shop.CartItem"));
    }
}
