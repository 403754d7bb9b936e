//! The `Deserialize` that `#[treaty::record]`, `#[treaty::message]` and
//! `#[treaty::earlier]` write in place of serde's derive reads what serde's
//! derive reads and fails where it fails, with the same message: the same
//! structs are declared twice, once through the attribute macros and once
//! with `#[derive(serde::Deserialize)]`, and every payload below is read
//! into both.

use std::collections::BTreeMap;
use std::fmt::Debug;

use treaty::serde::de::value::{Error as ValueError, MapDeserializer};
use treaty::serde::de::{DeserializeOwned, IntoDeserializer};

/// The structs, declared in `treaty_side` with `#[treaty::record]`, in
/// `earlier_side` with `#[treaty::earlier]` and in `serde_side` with
/// serde's derive; `$extra` items go to all three as they are.
macro_rules! both {
    (structs { $($item:item)* } extra { $($extra:item)* }) => {
        mod treaty_side {
            #![allow(dead_code)]
            use super::*;
            $( #[treaty::record] $item )*
            $( $extra )*
        }
        mod earlier_side {
            #![allow(dead_code)]
            use super::*;
            $( #[treaty::earlier] $item )*
            $( $extra )*
        }
        mod serde_side {
            #![allow(dead_code)]
            use super::*;
            $( #[derive(Debug, treaty::serde::Deserialize)] #[serde(crate = "treaty::serde")] $item )*
            $( $extra )*
        }
    };
}

#[treaty::enumeration]
pub enum Color {
    Red,
    #[serde(rename = "dark_green")]
    DarkGreen,
}

both! {
    structs {
        pub struct Inner {
            pub n: u32,
            #[serde(default)]
            pub tags: Vec<String>,
        }

        pub struct Outer {
            pub id: u64,
            #[serde(rename = "type")]
            pub kind: String,
            pub inner: Inner,
            pub maybe: Option<u32>,
            #[serde(default)]
            pub defaulted: Option<String>,
            #[serde(default = "Outer::default_level")]
            pub level: i32,
            #[serde(default)]
            pub count: u16,
            pub color: Color,
            pub list: Vec<Inner>,
            pub map: BTreeMap<String, Vec<u8>>,
            pub r#ref: bool,
        }

        pub struct One {
            pub only: u32,
        }

        pub struct Empty {}

        pub struct Numbers {
            pub a: u32,
            pub b: u32,
            #[serde(default)]
            pub c: u32,
        }
    }
    extra {
        impl Outer {
            fn default_level() -> i32 {
                7
            }
        }
    }
}

/// Reads `json` into the three declarations of a struct; their results,
/// printed, must be the same.
fn same<T: DeserializeOwned + Debug, E: DeserializeOwned + Debug, S: DeserializeOwned + Debug>(json: &str) -> String {
    let serde = show(serde_json::from_str::<S>(json));
    assert_eq!(
        show(serde_json::from_str::<T>(json)),
        serde,
        "record, from slice: {json}"
    );
    assert_eq!(
        show(serde_json::from_str::<E>(json)),
        serde,
        "earlier, from slice: {json}"
    );
    // From a `Value`: another deserializer, owned strings.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(json) {
        let serde_value = show(serde_json::from_value::<S>(value.clone()));
        assert_eq!(
            show(serde_json::from_value::<T>(value.clone())),
            serde_value,
            "record, from value: {json}"
        );
        assert_eq!(
            show(serde_json::from_value::<E>(value)),
            serde_value,
            "earlier, from value: {json}"
        );
    }
    serde
}

/// The value or error as text, with the module paths taken out of type
/// names so that the three declarations print alike.
fn show<T: Debug, E: std::fmt::Display>(result: Result<T, E>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(error) => format!("Err({error})"),
    }
}

fn outer(json: &str) -> String {
    same::<treaty_side::Outer, earlier_side::Outer, serde_side::Outer>(json)
}

const FULL: &str = r#"{"id": 1, "type": "t", "inner": {"n": 2, "tags": ["a"]}, "maybe": 3,
    "defaulted": "d", "level": -1, "count": 4, "color": "dark_green",
    "list": [{"n": 5}, {"n": 6, "tags": []}], "map": {"k": [1, 2]}, "ref": true}"#;

#[test]
fn a_full_object_reads_the_same() {
    let out = outer(FULL);
    assert!(out.starts_with("Ok(Outer { id: 1, kind: \"t\""), "{out}");
}

#[test]
fn missing_fields_read_the_same() {
    // Defaults, a path default, and a missing `Option` without a default.
    let out =
        outer(r#"{"id": 1, "type": "t", "inner": {"n": 2}, "color": "Red", "list": [], "map": {}, "ref": false}"#);
    assert!(
        out.contains("maybe: None, defaulted: None, level: 7, count: 0"),
        "{out}"
    );
    // A required field.
    let out = outer(r#"{"id": 1, "inner": {"n": 2}, "color": "Red", "list": [], "map": {}, "ref": false}"#);
    assert!(out.contains("missing field `type`"), "{out}");
    // The first of several missing fields is the one reported.
    let out = outer(r#"{"type": "t"}"#);
    assert!(out.contains("missing field `id`"), "{out}");
    // In a nested record.
    let out = outer(r#"{"id": 1, "type": "t", "inner": {}, "color": "Red", "list": [], "map": {}, "ref": false}"#);
    assert!(out.contains("missing field `n`"), "{out}");
    same::<treaty_side::One, earlier_side::One, serde_side::One>("{}");
}

#[test]
fn duplicate_fields_read_the_same() {
    let out = outer(r#"{"id": 1, "id": 2}"#);
    assert!(out.contains("duplicate field `id`"), "{out}");
    let out = outer(r#"{"id": 1, "type": "a", "inner": {"n": 1, "n": 1}}"#);
    assert!(out.contains("duplicate field `n`"), "{out}");
    // A field read by its Rust name and its wire name is not a duplicate:
    // `kind` is unknown.
    outer(r#"{"kind": 1, "type": "t"}"#);
}

#[test]
fn unknown_fields_are_ignored_the_same() {
    let json = FULL.replacen('{', r#"{"extra": {"deep": [1, {"x": null}]}, "n": 9, "#, 1);
    let out = outer(&json);
    assert!(out.starts_with("Ok("), "{out}");
    // Out of order, with unknown keys between known ones.
    let out = outer(
        r#"{"ref": true, "zz": 1, "map": {}, "list": [], "color": "Red", "inner": {"tags": [], "q": 0, "n": 1},
            "type": "t", "id": 3}"#,
    );
    assert!(out.starts_with("Ok("), "{out}");
}

#[test]
fn wrong_types_read_the_same() {
    for json in [
        r#""text""#,
        "1",
        "null",
        "true",
        r#"{"id": "one"}"#,
        r#"{"id": -1}"#,
        r#"{"id": 1, "type": 2}"#,
        r#"{"id": 1, "type": "t", "inner": []}"#,
        r#"{"id": 1, "type": "t", "inner": {"n": 1}, "color": "Blue"}"#,
        r#"{"id": 1, "type": "t", "inner": {"n": 1}, "color": 0}"#,
        r#"{"id": 1, "type": "t", "inner": {"n": 1}, "color": "Red", "list": {}}"#,
        r#"{"id": 1, "type": "t", "inner": {"n": 1}, "color": "Red", "list": [], "map": {"k": "v"}}"#,
        r#"{"id": 1, "type": "t", "maybe": "x"}"#,
        r#"{"id": 1, "type": "t", "count": 70000}"#,
        r#"{"id": 1,"#,
        r#"{"id": 1} x"#,
        "",
    ] {
        let out = outer(json);
        assert!(out.starts_with("Err("), "{json}: {out}");
    }
    let out = outer(r#""text""#);
    assert!(out.contains("expected struct Outer"), "{out}");
}

#[test]
fn arrays_read_the_same() {
    // Every field in order.
    let out = outer(r#"[1, "t", [2, ["a"]], 3, "d", -1, 4, "Red", [[5]], {"k": [1]}, true]"#);
    assert!(out.starts_with("Ok(Outer { id: 1"), "{out}");
    // Short: defaults fill the end, a required field is `invalid length`.
    let out = same::<treaty_side::Numbers, earlier_side::Numbers, serde_side::Numbers>("[1, 2]");
    assert!(out.contains("c: 0"), "{out}");
    let out = same::<treaty_side::Numbers, earlier_side::Numbers, serde_side::Numbers>("[1]");
    assert!(
        out.contains("invalid length 1, expected struct Numbers with 3 elements"),
        "{out}"
    );
    let out = same::<treaty_side::One, earlier_side::One, serde_side::One>("[]");
    assert!(out.contains("expected struct One with 1 element"), "{out}");
    // A missing `Option` without a default is an error in an array.
    let out = outer(r#"[1, "t", [2]]"#);
    assert!(
        out.contains("invalid length 3, expected struct Outer with 11 elements"),
        "{out}"
    );
    // Too long.
    let out = same::<treaty_side::Numbers, earlier_side::Numbers, serde_side::Numbers>("[1, 2, 3, 4]");
    assert!(out.starts_with("Err("), "{out}");
    // Wrong element type, and a nested record in an array.
    outer(r#"[1, 2]"#);
    outer(r#"[1, "t", {"n": 1, "tags": ["x"]}, null, null, 0, 0, "Red", [], {}, false]"#);
}

#[test]
fn empty_structs_read_the_same() {
    for json in ["{}", r#"{"a": 1}"#, "[]", "[1]", "null"] {
        same::<treaty_side::Empty, earlier_side::Empty, serde_side::Empty>(json);
    }
}

/// Keys given as field indexes (`visit_u64`) or bytes, which serde_json
/// does not produce but other formats do.
#[test]
fn index_and_byte_keys_read_the_same() {
    fn read<T: DeserializeOwned + Debug, K: IntoDeserializer<'static, ValueError> + Clone>(
        entries: &[(K, u32)],
    ) -> String {
        show(T::deserialize(MapDeserializer::<_, ValueError>::new(
            entries.iter().cloned(),
        )))
    }
    fn check<K: IntoDeserializer<'static, ValueError> + Clone>(entries: &[(K, u32)]) {
        let serde = read::<serde_side::Numbers, K>(entries);
        assert_eq!(read::<treaty_side::Numbers, K>(entries), serde);
        assert_eq!(read::<earlier_side::Numbers, K>(entries), serde);
    }
    check::<u64>(&[(0, 1), (1, 2)]);
    check::<u64>(&[(1, 2), (0, 1), (2, 3)]);
    check::<u64>(&[(5, 1), (0, 1), (1, 2)]);
    check::<u64>(&[(0, 1), (0, 2)]);
    check::<u64>(&[(0, 1)]);
    check::<&'static [u8]>(&[(b"a", 1), (b"b", 2)]);
    check::<&'static [u8]>(&[(b"zz", 1), (b"b", 2), (b"a", 1)]);
    check::<&'static [u8]>(&[(b"a", 1), (b"a", 1)]);
    check::<&'static [u8]>(&[(b"b", 1)]);
}

/// The structs above go through the hand-written impl, not a fallback to
/// serde's derive.
#[test]
fn the_attribute_macros_write_the_impl() {
    fn hand_written<T: for<'de> treaty::__private::Struct<'de>>() {}
    hand_written::<treaty_side::Outer>();
    hand_written::<treaty_side::Inner>();
    hand_written::<treaty_side::Empty>();
    hand_written::<earlier_side::Outer>();
    hand_written::<earlier_side::Numbers>();
}
