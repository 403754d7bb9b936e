treaty::contract! {
    namespace billing;

    record Totals(by_rate: {f64: u64});
}

fn main() {}
