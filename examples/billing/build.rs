fn main() {
    // Billing's own contracts, and the factory's `CarProduced` as billing
    // reads it (`treaty/factory.treaty`).
    treaty_codegen::Builder::new()
        .compile(&["treaty"])
        .expect("contracts compile");
}
