//! The button contracts most projections consume.

treaty::contract! {
    namespace clicks;
    id ButtonId: String;
    aggregate Button(id: ButtonId) {
        Clicked!();
    }
}
