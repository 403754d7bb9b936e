treaty::contract! {
    namespace billing;

    record money_amount(cents: i64);
}

fn main() {}
