// There is no build.rs here, so no `shared` namespace to import from.
treaty::contract! {
    namespace billing;

    use shared.Money;
}

fn main() {}
