#[treaty::event_set]
enum Nothing {}

fn main() {}
