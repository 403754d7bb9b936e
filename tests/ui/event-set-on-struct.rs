treaty::contract! {
    namespace shop;
    ItemAdded!(sku: String);
}

use shop::ItemAdded;

#[treaty::event_set]
struct Added {
    event: ItemAdded,
}

fn main() {}
