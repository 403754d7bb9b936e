fn main() {
    treaty_codegen::Builder::new()
        .compile(&["treaty"])
        .expect("contracts compile");

    // What each projection's code reaches, so that exactly the projections
    // whose code changed rebuild.
    treaty_codegen::analyze_projections().expect("projections analysed");
}
