treaty::contract! {
    namespace shop;
    ItemAdded!(sku: String);
    ItemRemoved!(sku: String);
}

use shop::{ItemAdded, ItemRemoved};

#[treaty::event_set]
enum Items {
    ItemAdded(ItemAdded),
    ItemRemoved(ItemRemoved, u32),
}

fn main() {}
