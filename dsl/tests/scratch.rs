#[test]
fn scratch() {
    let mut s = treaty_dsl::Sources::new();
    s.load(&["../examples/factory/contracts"]).unwrap();
    match treaty_dsl::compile(&s, &Default::default()) {
        Ok(schema) => {
            for c in treaty_dsl::contracts(&schema) { println!("{} v{} {} {}", c.name, c.version, c.fingerprint, c.schema); }
        }
        Err(d) => println!("{}", d.render()),
    }
    let mut s = treaty_dsl::Sources::new();
    s.add("bad.treaty", "namespace x;\nrecord A(a: Strin, b: u32 = \"x\");\nFoo?(a: u32,, b);\nenum C { A, A }\nBar!(x: {f64: u32}) display \"{y}\";\nBaz! v1 () was v2 ();\n");
    s.add("nons.treaty", "record A();");
    if let Err(d) = treaty_dsl::compile(&s, &Default::default()) { println!("{}", d.render()); }
}
