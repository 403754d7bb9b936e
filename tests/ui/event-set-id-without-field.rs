treaty::contract! {
    namespace shop;
    id CartId: String;
    aggregate Cart(id: CartId) { ItemAdded!(sku: String); }
}

use shop::ItemAdded;

#[treaty::event_set(id = shop::CartId)]
enum Added {
    ItemAdded(ItemAdded),
}

fn main() {}
