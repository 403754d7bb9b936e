treaty::contract! {
    namespace billing;

    InvoiceIssued!(total: u64, note: String, total: u64);
}

fn main() {}
