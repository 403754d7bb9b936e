// The same code against contracts B, which added fields in place: it
// still compiles, and still holds.
include!("contracts_b.rs");
include!("user_code.rs");
