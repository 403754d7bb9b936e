treaty::contract! {
    namespace billing;
    record Invoice(number: u64, total: Mony);
}

fn main() {}
