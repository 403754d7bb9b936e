// `total` changed from `u64` to `String`, which no rule derives, and no
// `From<InvoiceIssuedV1>` impl is written: rustc names the missing impl.
treaty::contract! {
    namespace billing;

    InvoiceIssued! v2 (total: String)
        was v1 (total: u64);
}

fn main() {}
