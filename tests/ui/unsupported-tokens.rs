// Rust literals that have no counterpart in the contract language are
// errors at their own token; the rest of the input is still checked.
treaty::contract! {
    namespace billing;

    #[derive(Hash)]
    record Invoice(note: String = r"raw", due_days: u32 = 30u32, total: Mony);
}

fn main() {}
