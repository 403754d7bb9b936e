//! The shared half of the `Deserialize` impls that `#[::treaty::record]`,
//! `#[::treaty::message]` and `#[::treaty::earlier]` write for generated
//! structs, in place of serde's derive.
//!
//! serde's derive writes, for every struct, a field enum and its visitor,
//! a struct visitor, and a `visit_map` and a `visit_seq` of a dozen lines
//! per field: most of a crate of generated code, which the compiler
//! type-checks and lowers for every struct. Here the field-name visitor is
//! one type for every struct ([`FieldKey`], over the struct's field names,
//! giving an index), the struct visitor one generic type
//! ([`deserialize_struct`] over [`Struct`]), and what each field needs is
//! a call to a generic helper ([`field`], [`required`], [`element`],
//! [`element_or`]), instantiated once per field type rather than written
//! out once per field. The macros write, per struct, the field names and
//! a `map` and a `seq` function of one line per field.
//!
//! Behaviour and errors are serde's derive's, without container
//! attributes: the same `deserialize_struct` call, unknown fields ignored,
//! `duplicate field`, `missing field` (a missing `Option` is `None`, as
//! serde's derive reads it), `invalid length` with serde's expectation
//! text (`struct Name with N elements`), a struct read from a sequence as
//! well as a map. The macros fall back to serde's derive for anything else
//! (serde attributes other than `rename` and `default` on fields, any on
//! the struct).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error, Expected, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

/// A struct's name and its fields' names on the wire, in declaration
/// order: what `deserialize_struct` is given, and what error messages say.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The struct's name (`CarProduced`).
    pub name: &'static str,
    /// Its fields' names on the wire.
    pub fields: &'static [&'static str],
}

/// serde's derive's expectation for a struct read from a sequence that
/// ends early: `struct Name with N elements`.
impl Expected for Shape {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fields.len() {
            1 => write!(formatter, "struct {} with 1 element", self.name),
            n => write!(formatter, "struct {} with {n} elements", self.name),
        }
    }
}

/// A generated struct read field by field: written by the attribute
/// macros, called by [`deserialize_struct`]'s visitor.
pub trait Struct<'de>: Sized {
    /// The struct's name and field names.
    const SHAPE: Shape;
    /// Reads the struct from a map (a JSON object).
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    /// Reads the struct from a sequence (a JSON array), fields in order.
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error>;
}

/// The body of a generated struct's `Deserialize::deserialize`.
#[inline]
pub fn deserialize_struct<'de, T: Struct<'de>, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_struct(T::SHAPE.name, T::SHAPE.fields, StructVisitor(PhantomData))
}

struct StructVisitor<T>(PhantomData<T>);

impl<'de, T: Struct<'de>> Visitor<'de> for StructVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "struct {}", T::SHAPE.name)
    }

    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }

    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
}

/// The field-name visitor of every generated struct: reads a key as the
/// index of the field it names, or the number of fields for a key that
/// names none (ignored, as serde's derive ignores unknown fields). Keys
/// are tried first against the field after the previous one, since
/// writers keep the declaration order.
#[derive(Debug, Clone, Copy)]
pub struct FieldKey {
    names: &'static [&'static str],
    next: usize,
}

impl FieldKey {
    fn find(self, key: &[u8]) -> usize {
        if let Some(name) = self.names.get(self.next) {
            if name.as_bytes() == key {
                return self.next;
            }
        }
        self.names
            .iter()
            .position(|name| name.as_bytes() == key)
            .unwrap_or(self.names.len())
    }
}

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = usize;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for FieldKey {
    type Value = usize;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("field identifier")
    }

    fn visit_u64<E: Error>(self, index: u64) -> Result<usize, E> {
        Ok(usize::try_from(index)
            .ok()
            .filter(|&i| i < self.names.len())
            .unwrap_or(self.names.len()))
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<usize, E> {
        Ok(self.find(key.as_bytes()))
    }

    fn visit_bytes<E: Error>(self, key: &[u8]) -> Result<usize, E> {
        Ok(self.find(key))
    }
}

/// The next key of a struct's map, as the index of its field (see
/// [`FieldKey`]); `next` is the index of the field expected next.
#[inline]
pub fn key<'de, A: MapAccess<'de>>(map: &mut A, shape: &Shape, next: usize) -> Result<Option<usize>, A::Error> {
    map.next_key_seed(FieldKey {
        names: shape.fields,
        next,
    })
}

/// Reads a field's value into its slot; a second value for the field is
/// serde's `duplicate field` error.
#[inline]
pub fn field<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(A::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Skips the value of a key that names no field.
#[inline]
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// A field without a default once the map is read: its value, or what
/// serde's derive makes of a missing field (`None` for an `Option`, the
/// `missing field` error otherwise).
#[inline]
pub fn required<'de, T: Deserialize<'de>, E: Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    match slot {
        Some(value) => Ok(value),
        None => T::deserialize(MissingField(name, PhantomData)),
    }
}

/// The next element of a struct read from a sequence, for a field without
/// a default; the end of the sequence is serde's `invalid length` error.
#[inline]
pub fn element<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    index: usize,
    shape: &Shape,
) -> Result<T, A::Error> {
    match seq.next_element()? {
        Some(value) => Ok(value),
        None => Err(A::Error::invalid_length(index, shape)),
    }
}

/// The next element of a struct read from a sequence, for a field with a
/// default, which the end of the sequence gives.
#[inline]
pub fn element_or<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A, default: fn() -> T) -> Result<T, A::Error> {
    Ok(seq.next_element()?.unwrap_or_else(default))
}

/// serde's derive's reading of a missing field: an `Option` reads it as
/// `None`, anything else fails with `missing field`.
struct MissingField<E>(&'static str, PhantomData<E>);

impl<'de, E: Error> Deserializer<'de> for MissingField<E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, E> {
        Err(E::missing_field(self.0))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
