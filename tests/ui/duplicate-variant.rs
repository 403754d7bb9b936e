treaty::contract! {
    namespace billing;

    enum Currency { Eur, Usd, Eur }
}

fn main() {}
