treaty::contract! {
    namespace shop;
    ItemAdded!(sku: String);
}

use shop::ItemAdded;

#[treaty::event_set(events)]
enum Added {
    ItemAdded(ItemAdded),
}

fn main() {}
