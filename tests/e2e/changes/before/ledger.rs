//! The ledger contracts, whose version 2 added `words`, a change no rule
//! derives: the upcast below is hand-written.

treaty::contract! {
    namespace ledger;
    id LedgerId: String;
    aggregate Ledger(id: LedgerId) {
        Noted! v2 (text: String, words: u32) was v1 (text: String);
    }
}

impl From<ledger::NotedV1> for ledger::Noted {
    fn from(old: ledger::NotedV1) -> Self {
        ledger::Noted {
            id: old.id,
            words: old.text.split_whitespace().count() as u32,
            text: old.text,
        }
    }
}
