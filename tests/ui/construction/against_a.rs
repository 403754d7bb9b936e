// The user's code against the contracts it was written for.
include!("contracts_a.rs");
include!("user_code.rs");
