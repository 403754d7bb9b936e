treaty::contract! {
    namespace billing;

    const audit = changed_by: String;

    InvoiceIssued!(audti, total: u64);
}

fn main() {}
