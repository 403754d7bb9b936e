// Version 3 derives from version 2 (a field added with a default), but
// version 2 changed `total` from `u64` to `String`: the error points at
// `was v1`, the version whose `From<InvoiceIssuedV1>` impl is missing.
treaty::contract! {
    namespace billing;

    InvoiceIssued! v3 (total: String, due_days: u32 = 30)
        was v2 (total: String)
        was v1 (total: u64);
}

fn main() {}
