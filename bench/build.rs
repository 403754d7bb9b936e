fn main() {
    // The bench's projections (`src/projections/accounts.rs`) need the
    // analysis of the package's code for their fingerprints.
    treaty_codegen::analyze_projections().expect("projections analysed");
}
