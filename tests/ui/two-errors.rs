// Both errors are reported, each at its own token.
treaty::contract! {
    namespace billing;

    record Invoice(total: Mony, lines: [InvoiceLine]);
    record InvoiceLine(quantity: u32 = "one");
}

fn main() {}
