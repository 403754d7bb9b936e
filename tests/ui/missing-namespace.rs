treaty::contract! {
    record Money(cents: i64, currency: String);
}

fn main() {}
