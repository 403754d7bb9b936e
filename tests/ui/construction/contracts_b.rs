// Contracts B: contracts A with fields added in place, as optional or with
// a default, which `treaty lint` calls compatible (no new version).
treaty::contract! {
    namespace library;

    id BookId: Uuid;

    /// A value type: `new` takes its required fields too.
    record Member(name: String, phone: String?, email: String?);

    aggregate Book(book: BookId) {
        /// The identity comes first, then the required fields in order.
        BookReturned! wire "library.Returned" (
            member: Member,
            note: String?,
            shelf: String wire "Shelf",
            late: bool = false,
            channel: String = "web",
            copies: u32? = 1,
        );
    }

    /// No required field: `new()` and `Default`.
    LibraryOpened!(hours: u32 = 8, note: String? = none, doors: [String] = []);
}
