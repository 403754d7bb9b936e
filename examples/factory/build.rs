fn main() {
    treaty_codegen::Builder::new()
        .compile(&["contracts"])
        .expect("contracts compile");
}
