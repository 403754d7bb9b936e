fn main() {
    // The contracts are compiled by the `factory-contracts` crate
    // (`contracts/`). Here, what each projection's code reaches, so that
    // exactly the projections whose code changed rebuild.
    treaty_codegen::analyze_projections().expect("projections analysed");
}
