treaty::contract! {
    namespace billing;

    record Discount(percent: u32, then: Discount?);
}

fn main() {}
