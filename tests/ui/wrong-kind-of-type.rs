treaty::contract! {
    namespace billing;

    id InvoiceId: Uuid;

    aggregate Invoice(id: InvoiceId) {
        InvoiceIssued!(total: u64);
        InvoicePaid!(issued: InvoiceIssued);
    }
}

fn main() {}
