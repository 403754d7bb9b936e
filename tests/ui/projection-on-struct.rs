#[treaty::view]
#[derive(Default, treaty::serde::Serialize, treaty::serde::Deserialize)]
#[serde(crate = "treaty::serde")]
struct Items {
    count: u64,
}


#[treaty::projection]
struct Other;

fn main() {}
