treaty::contract! {
    namespace billing;

    InvoiceIssued! v2 (total: u64, due_days: u32 = 30)
        was v3 (total: u64);
}

fn main() {}
