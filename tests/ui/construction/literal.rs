// A struct literal, written against contracts A.
fn main() {
    let event = library::BookReturned {
        book: library::BookId(treaty::Uuid::nil()),
        member: library::Member {
            name: String::from("Ada"),
            email: None,
        },
        shelf: String::from("B-2"),
        late: true,
    };
    assert!(event.late);
}
