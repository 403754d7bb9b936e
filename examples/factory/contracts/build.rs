fn main() {
    treaty_codegen::Builder::new()
        .compile(&["treaty"])
        .expect("contracts compile");
}
