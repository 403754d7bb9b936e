treaty::contract! {
    namespace Billing.Invoices;
}

fn main() {}
