fn main() {
    treaty_codegen::Builder::new()
        .extern_type("geo.Point", "crate::geo::Point")
        .type_attribute("shop.Sku", "#[derive(Default)]")
        .field_attribute("shop.Customer.email", "#[doc = \"Personal data: erase on request.\"]")
        .compile(&["contracts"])
        .expect("contracts compile");
}
