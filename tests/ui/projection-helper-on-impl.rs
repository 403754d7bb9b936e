#[treaty::view]
#[derive(Default, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
struct Items {
    count: u64,
}


#[treaty::projection_helper]
impl Items {
    fn double(&self) -> u64 {
        self.count * 2
    }
}

fn main() {}
