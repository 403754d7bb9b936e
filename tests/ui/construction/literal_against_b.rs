// ...and stops compiling against contracts B, which only added fields that
// `treaty lint` calls compatible: why generated types have `new`.
include!("contracts_b.rs");
include!("literal.rs");
