// A user's code, written against contracts A: every value is built with
// `new` (the required fields), then the fields it sets are assigned or
// given in a struct update. `against_a.rs` and `against_b.rs` compile it
// with contracts A and B and run it.
use library::{BookId, BookReturned, LibraryOpened, Member};
use treaty::Contract;

fn member() -> Member {
    let mut member = Member::new(String::from("Ada"));
    member.email = Some(String::from("ada@example.com"));
    member
}

fn returned_late(book: BookId) -> BookReturned {
    let mut event = BookReturned::new(book, member(), String::from("B-2"));
    event.late = true;
    event
}

fn returned_on_time(book: BookId) -> BookReturned {
    BookReturned {
        shelf: String::from("A-1"),
        ..BookReturned::new(book, member(), String::from("B-2"))
    }
}

fn main() {
    let book = BookId(treaty::Uuid::nil());
    let late = returned_late(book.clone());
    assert!(late.late);
    assert_eq!(late.member.email.as_deref(), Some("ada@example.com"));
    assert_eq!(returned_on_time(book.clone()).shelf, "A-1");

    // `new` is what a payload holding only the required fields reads as,
    // whatever fields the contracts added since.
    let payload = br#"{"book": "00000000-0000-0000-0000-000000000000",
        "member": {"name": "Ada", "email": "ada@example.com"}, "Shelf": "B-2"}"#;
    let decoded = BookReturned::decode(BookReturned::VERSION, payload).expect("decodes");
    assert_eq!(decoded, BookReturned::new(book, member(), String::from("B-2")));

    let opened = LibraryOpened::default();
    assert_eq!(opened, LibraryOpened::new());
    assert_eq!(opened.hours, 8);
    assert_eq!(opened, LibraryOpened::decode(LibraryOpened::VERSION, b"{}").expect("decodes"));
}
