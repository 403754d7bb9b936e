treaty::contract! {
    namespace billing;

    record Money(cents: i64);
    record Money(cents: i64, currency: String);
}

fn main() {}
