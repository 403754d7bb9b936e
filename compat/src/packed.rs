//! The packed form of canonical message schemas, which generated code
//! carries so the runtime can compare the schema it reads with the ones
//! data was written with. `treaty_dsl::packed` writes it; this module
//! reads it back into canonical JSON.
//!
//! Canonical schemas expand every record, enum and id in place, which
//! makes them several times larger than the code generated for them. The
//! packed form writes each named type once per generated module and
//! refers to it by index, and spells types as contracts do:
//!
//! ```text
//! treaty-schemas 1
//! R"shop.Money"(cents:i64,currency:@1)
//! E"shop.Currency"["EUR","USD"]
//! e"shop.OrderPlaced"1(channel:String=["web"],note:String?,total:@0)
//! ```
//!
//! One entry a line: `R` a record and its fields, `U` a record whose
//! fields were unresolved, `E` an enum and its variants, `I` an id and
//! what it wraps, `X` an extern type; `c` and `e` a command or event
//! version and its fields; `J` a message schema as canonical JSON, for
//! what the packer cannot pack exactly. A field is `name:type`, then
//! `=[default]` (the default as JSON, in an array so it ends clearly);
//! names that are not plain identifiers are JSON strings. `@N` is the
//! N-th named type; a record inside itself unpacks to `record_ref`, as
//! the canonicalizer writes it. The packer checks that every message
//! unpacks to exactly what it was given, and writes it as JSON otherwise.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value as Json};

/// The first line of every packed text; the number is the format.
pub const HEADER: &str = "treaty-schemas 1";

/// The format this build reads and writes.
pub const FORMAT: u32 = 1;

/// Why a packed text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackedError {
    /// The text was written in a format newer than this build reads.
    NewerFormat {
        /// The format it says it is.
        format: u32,
    },
    /// The text is not a packed schema.
    Corrupt {
        /// The line (1-based).
        line: usize,
        /// What is wrong there.
        detail: String,
    },
}

impl fmt::Display for PackedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackedError::NewerFormat { format } => write!(
                f,
                "the schemas are in format {format}, written by a newer Treaty; this build reads format {FORMAT}: \
                 upgrade Treaty"
            ),
            PackedError::Corrupt { line, detail } => {
                write!(f, "the packed schemas are corrupt at line {line}: {detail}")
            }
        }
    }
}

impl std::error::Error for PackedError {}

/// A packed text, parsed enough to find its messages.
#[derive(Debug)]
pub struct Packed<'a> {
    table: Table,
    /// Message lines by name and version, with their line numbers.
    messages: HashMap<(String, u32), (usize, &'a str)>,
}

impl<'a> Packed<'a> {
    /// Reads a packed text.
    ///
    /// # Errors
    ///
    /// When the text is in a newer format or is corrupt.
    pub fn parse(text: &'a str) -> Result<Self, PackedError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, header)) if header == HEADER => {}
            Some((line, header)) => {
                let format = header
                    .strip_prefix("treaty-schemas ")
                    .and_then(|f| f.parse::<u32>().ok());
                return Err(match format {
                    Some(format) if format > FORMAT => PackedError::NewerFormat { format },
                    _ => PackedError::Corrupt {
                        line,
                        detail: format!("expected `{HEADER}`"),
                    },
                });
            }
            None => {
                return Err(PackedError::Corrupt {
                    line: 1,
                    detail: "the text is empty".into(),
                })
            }
        }
        let (types, rest): (Vec<_>, Vec<_>) = lines
            .filter(|(_, l)| !l.is_empty())
            .partition(|(_, l)| l.starts_with(['R', 'U', 'E', 'I', 'X']));
        let table = Table::parse(types)?;
        let mut messages = HashMap::new();
        for (line, text) in rest {
            let key = message_key(text).ok_or_else(|| PackedError::Corrupt {
                line,
                detail: "expected a message entry".into(),
            })?;
            messages.insert(key, (line, text));
        }
        Ok(Packed { table, messages })
    }

    /// The canonical schema of version `version` of the message named
    /// `name`, or `None` when the text does not hold it.
    ///
    /// # Errors
    ///
    /// When its entry is corrupt.
    pub fn message(&self, name: &str, version: u32) -> Result<Option<Json>, PackedError> {
        match self.messages.get(&(name.to_string(), version)) {
            None => Ok(None),
            Some((line, text)) => self.table.message(text, *line).map(Some),
        }
    }

    /// Every message of the text, by name and version.
    pub fn names(&self) -> impl Iterator<Item = (&str, u32)> {
        self.messages.keys().map(|(n, v)| (n.as_str(), *v))
    }
}

/// The name and version of a message line, without reading its fields.
fn message_key(text: &str) -> Option<(String, u32)> {
    if let Some(json) = text.strip_prefix('J') {
        let schema: Json = serde_json::from_str(json).ok()?;
        let name = schema.get("name")?.as_str()?.to_string();
        let version = u32::try_from(schema.get("version")?.as_u64()?).ok()?;
        return Some((name, version));
    }
    let mut cursor = Cursor::new(text.strip_prefix(['c', 'e'])?);
    let name = cursor.json_string().ok()?;
    let version = u32::try_from(cursor.number().ok()?).ok()?;
    Some((name, version))
}

/// The named types of a packed text.
#[derive(Debug, Default)]
struct Table {
    entries: Vec<Entry>,
}

#[derive(Debug)]
enum Entry {
    Record(String, Option<Vec<(String, PackedTy, Option<Json>)>>),
    Enum(String, Json),
    Id(String, Option<String>),
    Extern(String),
}

#[derive(Debug)]
enum PackedTy {
    Scalar(String),
    List(Box<PackedTy>),
    Map(Box<PackedTy>, Box<PackedTy>),
    Optional(Box<PackedTy>),
    Named(usize),
}

type PackedFields = Vec<(String, PackedTy, Option<Json>)>;

impl Table {
    fn parse<'l>(lines: impl IntoIterator<Item = (usize, &'l str)>) -> Result<Table, PackedError> {
        let mut table = Table::default();
        for (line, text) in lines {
            let corrupt = |detail: String| PackedError::Corrupt { line, detail };
            let mut cursor = Cursor::new(&text[1..]);
            let name = cursor.json_string().map_err(corrupt)?;
            let entry = match text.as_bytes()[0] {
                b'R' => Entry::Record(name, Some(cursor.fields().map_err(corrupt)?)),
                b'U' => Entry::Record(name, None),
                b'E' => {
                    let variants: Json = serde_json::from_str(cursor.rest())
                        .map_err(|e| corrupt(format!("the variants of `{name}` are not JSON: {e}")))?;
                    cursor.pos = cursor.text.len();
                    Entry::Enum(name, variants)
                }
                b'I' if cursor.rest().is_empty() => Entry::Id(name, None),
                b'I' => Entry::Id(name, Some(cursor.word().map_err(corrupt)?)),
                _ => Entry::Extern(name),
            };
            cursor.end().map_err(corrupt)?;
            table.entries.push(entry);
        }
        let count = table.entries.len();
        let refs_ok = table.entries.iter().all(|e| match e {
            Entry::Record(_, Some(fields)) => fields.iter().all(|(_, t, _)| t.refs_below(count)),
            _ => true,
        });
        if !refs_ok {
            return Err(PackedError::Corrupt {
                line: 1,
                detail: "a record refers to a type the text does not define".into(),
            });
        }
        Ok(table)
    }

    fn message(&self, text: &str, line: usize) -> Result<Json, PackedError> {
        let corrupt = |detail: String| PackedError::Corrupt { line, detail };
        if let Some(json) = text.strip_prefix('J') {
            return serde_json::from_str(json).map_err(|e| corrupt(format!("the schema is not JSON: {e}")));
        }
        let kind = if text.starts_with('c') { "command" } else { "event" };
        let mut cursor = Cursor::new(&text[1..]);
        let name = cursor.json_string().map_err(corrupt)?;
        let version = cursor.number().map_err(corrupt)?;
        let fields = cursor.fields().map_err(corrupt)?;
        cursor.end().map_err(corrupt)?;
        if !fields.iter().all(|(_, t, _)| t.refs_below(self.entries.len())) {
            return Err(corrupt("a field refers to a type the text does not define".into()));
        }
        let mut schema = Map::new();
        schema.insert("fields".into(), self.fields(&fields, &mut Vec::new()));
        schema.insert("kind".into(), kind.into());
        schema.insert("name".into(), name.into());
        schema.insert("version".into(), version.into());
        Ok(Json::Object(schema))
    }

    fn fields(&self, fields: &PackedFields, visiting: &mut Vec<usize>) -> Json {
        let mut out = Map::new();
        for (name, ty, default) in fields {
            let mut field = Map::new();
            if let Some(default) = default {
                field.insert("default".into(), default.clone());
            }
            field.insert("type".into(), self.ty(ty, visiting));
            out.insert(name.clone(), Json::Object(field));
        }
        Json::Object(out)
    }

    /// The canonical JSON of a type; `visiting` holds the records being
    /// expanded, as in the canonicalizer.
    fn ty(&self, ty: &PackedTy, visiting: &mut Vec<usize>) -> Json {
        let one = |key: &str, value: Json| {
            let mut map = Map::new();
            map.insert(key.into(), value);
            Json::Object(map)
        };
        match ty {
            PackedTy::Scalar(s) => Json::String(s.clone()),
            PackedTy::List(t) => one("list", self.ty(t, visiting)),
            PackedTy::Optional(t) => one("optional", self.ty(t, visiting)),
            PackedTy::Map(k, v) => one("map", Json::Array(vec![self.ty(k, visiting), self.ty(v, visiting)])),
            PackedTy::Named(i) => match &self.entries[*i] {
                Entry::Record(name, _) if visiting.contains(i) => one("record_ref", name.clone().into()),
                Entry::Record(name, None) => one("record", name.clone().into()),
                Entry::Record(name, Some(fields)) => {
                    visiting.push(*i);
                    let mut map = Map::new();
                    map.insert("fields".into(), self.fields(fields, visiting));
                    map.insert("record".into(), name.clone().into());
                    visiting.pop();
                    Json::Object(map)
                }
                Entry::Enum(name, variants) => {
                    let mut map = one("enum", name.clone().into());
                    map["variants"] = variants.clone();
                    map
                }
                Entry::Id(name, of) => {
                    let mut map = one("id", name.clone().into());
                    if let Some(of) = of {
                        map["of"] = of.clone().into();
                    }
                    map
                }
                Entry::Extern(name) => one("extern", name.clone().into()),
            },
        }
    }
}

impl PackedTy {
    fn refs_below(&self, count: usize) -> bool {
        match self {
            PackedTy::Scalar(_) => true,
            PackedTy::List(t) | PackedTy::Optional(t) => t.refs_below(count),
            PackedTy::Map(k, v) => k.refs_below(count) && v.refs_below(count),
            PackedTy::Named(i) => *i < count,
        }
    }
}

/// Reads packed text left to right.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(format!("expected `{}` at column {}", byte as char, self.pos + 2))
        }
    }

    fn end(&self) -> Result<(), String> {
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(format!("unexpected text at column {}", self.pos + 2))
        }
    }

    /// One JSON value that ends by itself (a string, array or object).
    fn json(&mut self) -> Result<Json, String> {
        let mut values = serde_json::Deserializer::from_str(self.rest()).into_iter::<Json>();
        let value = values
            .next()
            .ok_or_else(|| format!("expected JSON at column {}", self.pos + 2))?
            .map_err(|e| format!("bad JSON at column {}: {e}", self.pos + 2))?;
        self.pos += values.byte_offset();
        Ok(value)
    }

    fn json_string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err(format!("expected a quoted name at column {}", self.pos + 2));
        }
        match self.json()? {
            Json::String(s) => Ok(s),
            _ => Err("expected a quoted name".into()),
        }
    }

    fn word(&mut self) -> Result<String, String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(format!("expected a name at column {}", self.pos + 2));
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn number(&mut self) -> Result<u64, String> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.text[start..self.pos]
            .parse()
            .map_err(|_| format!("expected a number at column {}", start + 2))
    }

    fn name(&mut self) -> Result<String, String> {
        if self.peek() == Some(b'"') {
            self.json_string()
        } else {
            self.word()
        }
    }

    fn fields(&mut self) -> Result<PackedFields, String> {
        self.expect(b'(')?;
        let mut fields = Vec::new();
        if self.eat(b')') {
            return Ok(fields);
        }
        loop {
            let name = self.name()?;
            self.expect(b':')?;
            let ty = self.ty()?;
            let default = if self.eat(b'=') {
                match self.json()? {
                    Json::Array(mut one) if one.len() == 1 => Some(one.remove(0)),
                    _ => return Err(format!("the default of `{name}` is not written as `[value]`")),
                }
            } else {
                None
            };
            fields.push((name, ty, default));
            if self.eat(b')') {
                return Ok(fields);
            }
            self.expect(b',')?;
        }
    }

    fn ty(&mut self) -> Result<PackedTy, String> {
        let mut ty = if self.eat(b'[') {
            let t = self.ty()?;
            self.expect(b']')?;
            PackedTy::List(Box::new(t))
        } else if self.eat(b'{') {
            let k = self.ty()?;
            self.expect(b':')?;
            let v = self.ty()?;
            self.expect(b'}')?;
            PackedTy::Map(Box::new(k), Box::new(v))
        } else if self.eat(b'@') {
            let i = self.number()?;
            PackedTy::Named(usize::try_from(i).map_err(|_| "a type index out of range".to_string())?)
        } else {
            PackedTy::Scalar(self.word()?)
        };
        while self.eat(b'?') {
            ty = PackedTy::Optional(Box::new(ty));
        }
        Ok(ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEXT: &str = concat!(
        "treaty-schemas 1\n",
        "R\"shop.Money\"(cents:i64,currency:@1)\n",
        "E\"shop.Currency\"[\"EUR\",\"USD\"]\n",
        "R\"shop.Tree\"(children:[@2]=[[]],label:String?)\n",
        "I\"shop.LineId\"Uuid\n",
        "I\"shop.UserId\"\n",
        "X\"shop.Blob\"\n",
        "U\"shop.Missing\"\n",
        "e\"shop.OrderPlaced\"1(channel:String=[\"web, \\\"mobile\\\")\"],\"odd name:@\":@5,",
        "lines:{@3:[@0]}=[{}],note:String?,total:@0)\n",
        "c\"shop.PlaceOrder\"2(by:@4,tree:@2,x:@6)\n",
        "e\"shop.Nothing\"1()\n",
        "J{\"fields\":{\"x\":{\"type\":{\"tensor\":[3,3]}}},\"kind\":\"event\",\"name\":\"shop.Future\",\"version\":1}\n",
    );

    fn money() -> Json {
        json!({"record": "shop.Money", "fields": {
            "cents": {"type": "i64"},
            "currency": {"type": {"enum": "shop.Currency", "variants": ["EUR", "USD"]}}
        }})
    }

    #[test]
    fn unpacks_to_canonical_json() {
        let packed = Packed::parse(TEXT).unwrap();
        let placed = json!({"kind": "event", "name": "shop.OrderPlaced", "version": 1, "fields": {
            "channel": {"type": "String", "default": "web, \"mobile\")"},
            "note": {"type": {"optional": "String"}},
            "total": {"type": money()},
            "lines": {"type": {"map": [{"id": "shop.LineId", "of": "Uuid"}, {"list": money()}]}, "default": {}},
            "odd name:@": {"type": {"extern": "shop.Blob"}}
        }});
        assert_eq!(packed.message("shop.OrderPlaced", 1).unwrap(), Some(placed));
        let tree = json!({"record": "shop.Tree", "fields": {
            "children": {"type": {"list": {"record_ref": "shop.Tree"}}, "default": []},
            "label": {"type": {"optional": "String"}}
        }});
        let place = json!({"kind": "command", "name": "shop.PlaceOrder", "version": 2, "fields": {
            "by": {"type": {"id": "shop.UserId"}},
            "tree": {"type": tree},
            "x": {"type": {"record": "shop.Missing"}}
        }});
        assert_eq!(packed.message("shop.PlaceOrder", 2).unwrap(), Some(place));
        let nothing = json!({"kind": "event", "name": "shop.Nothing", "version": 1, "fields": {}});
        assert_eq!(packed.message("shop.Nothing", 1).unwrap(), Some(nothing));
        let future = packed.message("shop.Future", 1).unwrap().unwrap();
        assert_eq!(future["fields"]["x"]["type"], json!({"tensor": [3, 3]}));
        assert_eq!(packed.message("shop.OrderPlaced", 9).unwrap(), None);
        assert_eq!(packed.names().count(), 4);
    }

    #[test]
    fn a_newer_format_and_corrupt_text_are_errors() {
        assert_eq!(
            Packed::parse("treaty-schemas 7\n").unwrap_err(),
            PackedError::NewerFormat { format: 7 }
        );
        assert!(PackedError::NewerFormat { format: 7 }
            .to_string()
            .contains("newer Treaty"));
        let bad = [
            "",
            "not schemas\n",
            "treaty-schemas 1\ne\"a.B\"1(x:@4)\n",
            "treaty-schemas 1\nR\"a.R\"(x:@9)\n",
            "treaty-schemas 1\ne\"a.B\"1(x:u32\n",
            "treaty-schemas 1\ne\"a.B\"1(x:u32=3)\n",
            "treaty-schemas 1\ne\"a.B\"1(x:u32)trailing\n",
            "treaty-schemas 1\nJ{not json\n",
            "treaty-schemas 1\nzzz\n",
            "treaty-schemas 1\nE\"a.E\"[\n",
        ];
        for text in bad {
            let error = Packed::parse(text).and_then(|p| p.message("a.B", 1).map(|_| ()));
            assert!(
                matches!(error, Err(PackedError::Corrupt { .. })),
                "{text:?} gave {error:?}"
            );
        }
    }
}
