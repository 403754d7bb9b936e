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

struct CartItems;

fn weight() -> u64 {
    1
}

#[treaty::projection(uses = [weight])]
impl Projection for CartItems {
    const NAME: &'static str = "shop.cart_items";
    type Event = CartEvent;
    type View = Items;
    fn keys(&self, event: &CartEvent) -> Vec<String> {
        vec![event.id().0.clone()]
    }
    fn apply(&self, view: &mut Option<Items>, _: &CartEvent, _: &EventContext<'_>) {
        view.get_or_insert_with(Items::default).count += 1;
    }
}

fn main() {}
