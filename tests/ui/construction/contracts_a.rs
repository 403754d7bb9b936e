// Contracts A: what the user's code in `user_code.rs` was written against.
treaty::contract! {
    namespace library;

    id BookId: Uuid;

    /// A value type: `new` takes its required fields too.
    record Member(name: String, email: String?);

    aggregate Book(book: BookId) {
        /// The identity comes first, then the required fields in order.
        BookReturned! wire "library.Returned" (
            member: Member,
            shelf: String wire "Shelf",
            late: bool = false,
        );
    }

    /// No required field: `new()` and `Default`.
    LibraryOpened!(hours: u32 = 8);
}
