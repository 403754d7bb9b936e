treaty::contract! {
    namespace billing;

    InvoiceIssued!(total: u64, due_days: u32 = -30);
}

fn main() {}
