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
    pub fn extern_type(&self, name: &str) -> TokenStream {
        self.extern_types
            .get(name)
            .map(ToTokens::to_token_stream)
            .expect("the validator only accepts configured extern types")
    }

    pub fn type_attributes(&self, path: &str) -> TokenStream {
        matching(&self.type_attributes, path)
    }

    pub fn field_attributes(&self, path: &str) -> TokenStream {
        matching(&self.field_attributes, path)
    }
}

fn matching(rules: &[(String, Vec<syn::Attribute>)], path: &str) -> TokenStream {
    let mut out = TokenStream::new();
    for (pattern, attributes) in rules {
        if path_matches(pattern, path) {
            for attribute in attributes {
                attribute.to_tokens(&mut out);
            }
        }
    }
    out
}

/// Whether `pattern` selects `path`: `.` selects everything; otherwise the
/// pattern must equal the path or be a prefix of it ending at a dot, so
/// `shop` selects `shop.orders.OrderPlaced` but not `shopping.Cart`.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    pattern == "."
        || path == pattern
        || path
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.starts_with('.'))
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
