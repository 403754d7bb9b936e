treaty::contract! {
    namespace billing;

    InvoiceIssued!(total: u64, customer: String)
        display "invoice of {totl} for {customer}";
}

fn main() {}
