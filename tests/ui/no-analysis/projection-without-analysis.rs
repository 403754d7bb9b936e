// A correct projection in a package whose build.rs does not run the
// analysis of its code (`treaty_codegen::analyze_projections()`): without
// it the fingerprint would miss the helpers the projection calls.
treaty::contract! {
    namespace shop;
    id CartId: String;
    aggregate Cart(id: CartId) { ItemAdded!(sku: String); }
}

use shop::CartEvent;
use treaty::projection::{EventContext, Projection};

#[treaty::view]
#[derive(Default, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
struct Items {
    count: u64,
}

fn weight() -> u64 {
    1
}

struct CartItems;

#[treaty::projection]
impl Projection for CartItems {
    const NAME: &'static str = "shop.cart_items";
    type Event = CartEvent;
    type View = Items;
    fn keys(&self, event: &CartEvent) -> Vec<String> {
        vec![event.id().0.clone()]
    }
    fn apply(&self, view: &mut Option<Items>, _: &CartEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Items::default).count += weight();
    }
}

fn main() {}
