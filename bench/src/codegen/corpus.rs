//! A synthetic but realistic contract set, described once as data so that
//! the `.treaty` and `.proto` renderings are guaranteed to say the same
//! thing.
//!
//! The shape follows a large message-driven system: a `shared` namespace
//! of common types, and bounded contexts of ten aggregates with five
//! commands and five events each. Contexts keep a fixed size while their
//! number grows with the message count, because real systems grow by
//! adding contexts, not by making one context enormous.

/// Aggregates per bounded context.
const AGGREGATES_PER_CONTEXT: usize = 10;

/// Domains the bounded contexts are spread over; a context's namespace is
/// `domain.ctxN`.
const DOMAINS: [&str; 8] = [
    "sales",
    "billing",
    "shipping",
    "inventory",
    "people",
    "support",
    "catalog",
    "identity",
];

const AGGREGATE_NAMES: [&str; 10] = [
    "Order", "Invoice", "Shipment", "Ticket", "Account", "Product", "Booking", "Contract", "Payment", "Claim",
];

/// Commands and the events that answer them, as (imperative, past tense).
const VERBS: [(&str, &str); 5] = [
    ("Create", "Created"),
    ("Update", "Updated"),
    ("Approve", "Approved"),
    ("Cancel", "Cancelled"),
    ("Archive", "Archived"),
];

const RECORD_NAMES: [&str; 8] = [
    "LineItem",
    "Contact",
    "Schedule",
    "Dimensions",
    "Attachment",
    "Discount",
    "TimeWindow",
    "Note",
];

const ENUM_NAMES: [&str; 6] = ["Status", "Priority", "Channel", "Reason", "Level", "Category"];

const VARIANTS: [&str; 8] = [
    "Pending",
    "Active",
    "Suspended",
    "Closed",
    "Rejected",
    "Expired",
    "Draft",
    "Unknown",
];

/// Field names; a message draws distinct ones. None of them is `id`,
/// which aggregates put first in every message.
const FIELD_NAMES: [&str; 32] = [
    "amount",
    "note",
    "quantity",
    "reason",
    "reference",
    "created_at",
    "updated_at",
    "due_on",
    "tags",
    "labels",
    "owner",
    "assignee",
    "status",
    "priority",
    "items",
    "total",
    "currency",
    "address",
    "comment",
    "attempts",
    "score",
    "weight",
    "checksum",
    "payload",
    "enabled",
    "source",
    "target",
    "limits",
    "contacts",
    "revision",
    "tenant",
    "deadline",
];

/// The built-in types of the contract language, as the language defines them.
pub use treaty_dsl::schema::Scalar;

/// A declared type, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    pub namespace: String,
    pub name: String,
}

/// What a single value of a field is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scalar(Scalar),
    /// An id type and the scalar it wraps (map keys need the scalar).
    Id(TypeRef, Scalar),
    Enum(TypeRef),
    Record(TypeRef),
}

/// A map key: a string, an integer or an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Scalar(Scalar),
    Id(TypeRef, Scalar),
}

/// The shape of a field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    Single(Base),
    Optional(Base),
    List(Base),
    Map(Key, Base),
}

/// A default value written in the contract; Protocol Buffers has no
/// counterpart, so only the Treaty rendering shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefaultValue {
    Zero,
    EmptyString,
    False,
    None,
    EmptyList,
    EmptyMap,
    Variant(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: FieldType,
    pub default: Option<DefaultValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Command,
    Event,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub name: String,
    pub kind: Kind,
    pub doc: String,
    /// The fields after the aggregate's `id`, which comes first.
    pub fields: Vec<Field>,
    /// The fields of version 1 when the message is at version 2.
    pub previous: Option<Vec<Field>>,
    /// Whether the message has a display template (it shows `id`).
    pub display: bool,
}

#[derive(Debug, Clone)]
pub struct Aggregate {
    pub name: String,
    /// The id type that identifies the aggregate; declared in its namespace.
    pub id: String,
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone)]
pub struct IdDecl {
    pub name: String,
    pub inner: Scalar,
}

#[derive(Debug, Clone)]
pub struct EnumDecl {
    pub name: String,
    pub variants: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RecordDecl {
    pub name: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub ids: Vec<IdDecl>,
    pub enums: Vec<EnumDecl>,
    pub records: Vec<RecordDecl>,
    pub aggregates: Vec<Aggregate>,
}

impl Namespace {
    /// The commands and events of the namespace.
    pub fn message_count(&self) -> usize {
        self.aggregates.iter().map(|a| a.messages.len()).sum()
    }

    /// Every field of every record and message version, for renderers
    /// that must know which types a file uses before writing it.
    pub fn fields(&self) -> impl Iterator<Item = &Field> {
        let records = self.records.iter().flat_map(|r| &r.fields);
        let messages = self.aggregates.iter().flat_map(|a| &a.messages).flat_map(|m| {
            let previous = m.previous.iter().flatten();
            m.fields.iter().chain(previous)
        });
        records.chain(messages)
    }

    /// The types of other namespaces this one refers to, sorted and
    /// without repeats.
    pub fn foreign_types(&self) -> Vec<&TypeRef> {
        let mut found: Vec<&TypeRef> = self
            .fields()
            .flat_map(|f| f.ty.type_refs())
            .filter(|t| t.namespace != self.name)
            .collect();
        found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        found.dedup();
        found
    }
}

impl FieldType {
    /// The declared types the field refers to (none, one or two).
    pub fn type_refs(&self) -> impl Iterator<Item = &TypeRef> {
        let (key, base) = match self {
            FieldType::Single(base) | FieldType::Optional(base) | FieldType::List(base) => (None, base),
            FieldType::Map(key, base) => (Some(key), base),
        };
        let key = key.and_then(|k| match k {
            Key::Scalar(_) => None,
            Key::Id(id, _) => Some(id),
        });
        key.into_iter().chain(base.type_ref())
    }
}

impl Base {
    /// The declared type, when the base is not a scalar.
    pub fn type_ref(&self) -> Option<&TypeRef> {
        match self {
            Base::Scalar(_) => None,
            Base::Id(t, _) | Base::Enum(t) | Base::Record(t) => Some(t),
        }
    }
}

/// The whole contract set: `shared` first, then the bounded contexts.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub namespaces: Vec<Namespace>,
}

impl Corpus {
    /// A contract set with exactly `messages` commands and events. The same
    /// count always gives the same contracts, so runs are comparable.
    pub fn generate(messages: usize) -> Corpus {
        let mut rng = Rng::new(0x7EA7_5EED ^ messages as u64);
        let shared = shared_namespace();
        let per_context = AGGREGATES_PER_CONTEXT * VERBS.len() * 2;
        let mut namespaces = vec![shared.clone()];
        let mut remaining = messages;
        let mut index = 0;
        while remaining > 0 {
            let count = remaining.min(per_context);
            namespaces.push(context(&mut rng, &shared, index, count));
            remaining -= count;
            index += 1;
        }
        Corpus { namespaces }
    }

    /// The commands and events of every namespace.
    pub fn message_count(&self) -> usize {
        self.namespaces.iter().map(Namespace::message_count).sum()
    }
}

/// The types every context borrows: money, addresses, tenants and users.
fn shared_namespace() -> Namespace {
    let currency = TypeRef {
        namespace: "shared".into(),
        name: "Currency".into(),
    };
    let plain = |name: &str, ty: FieldType| Field {
        name: name.into(),
        ty,
        default: None,
    };
    Namespace {
        name: "shared".into(),
        ids: vec![
            IdDecl {
                name: "TenantId".into(),
                inner: Scalar::Uuid,
            },
            IdDecl {
                name: "UserId".into(),
                inner: Scalar::String,
            },
        ],
        enums: vec![EnumDecl {
            name: "Currency".into(),
            variants: ["Eur", "Usd", "Gbp", "Jpy", "Chf"].map(String::from).to_vec(),
        }],
        records: vec![
            RecordDecl {
                name: "Money".into(),
                fields: vec![
                    plain("amount", FieldType::Single(Base::Scalar(Scalar::Decimal))),
                    plain("currency", FieldType::Single(Base::Enum(currency))),
                ],
            },
            RecordDecl {
                name: "Address".into(),
                fields: vec![
                    plain("street", FieldType::Single(Base::Scalar(Scalar::String))),
                    plain("city", FieldType::Single(Base::Scalar(Scalar::String))),
                    plain("postal_code", FieldType::Single(Base::Scalar(Scalar::String))),
                    plain("country", FieldType::Single(Base::Scalar(Scalar::String))),
                    plain("care_of", FieldType::Optional(Base::Scalar(Scalar::String))),
                ],
            },
        ],
        aggregates: Vec::new(),
    }
}

/// The types a field in a context can refer to.
struct Palette {
    ids: Vec<(TypeRef, Scalar)>,
    enums: Vec<TypeRef>,
    records: Vec<TypeRef>,
    /// Variant names of each enum in `enums`, for defaults.
    variants: Vec<Vec<String>>,
}

impl Palette {
    fn new(shared: &Namespace) -> Palette {
        let mut palette = Palette {
            ids: Vec::new(),
            enums: Vec::new(),
            records: Vec::new(),
            variants: Vec::new(),
        };
        palette.add_namespace(shared);
        palette
    }

    fn add_namespace(&mut self, namespace: &Namespace) {
        for id in &namespace.ids {
            self.ids.push((type_ref(namespace, &id.name), id.inner));
        }
        for e in &namespace.enums {
            self.add_enum(namespace, e);
        }
        for record in &namespace.records {
            self.records.push(type_ref(namespace, &record.name));
        }
    }

    fn add_enum(&mut self, namespace: &Namespace, e: &EnumDecl) {
        self.enums.push(type_ref(namespace, &e.name));
        self.variants.push(e.variants.clone());
    }
}

fn type_ref(namespace: &Namespace, name: &str) -> TypeRef {
    TypeRef {
        namespace: namespace.name.clone(),
        name: name.to_string(),
    }
}

/// One bounded context with `messages` commands and events.
fn context(rng: &mut Rng, shared: &Namespace, index: usize, messages: usize) -> Namespace {
    let mut namespace = Namespace {
        name: format!("{}.ctx{}", DOMAINS[index % DOMAINS.len()], index / DOMAINS.len()),
        ids: Vec::new(),
        enums: Vec::new(),
        records: Vec::new(),
        aggregates: Vec::new(),
    };
    let mut palette = Palette::new(shared);
    for name in rng.pick_distinct(&ENUM_NAMES, 3) {
        let count = rng.range(3, 6);
        let variants = VARIANTS[..count].iter().map(|v| v.to_string()).collect();
        let e = EnumDecl {
            name: name.to_string(),
            variants,
        };
        palette.add_enum(&namespace, &e);
        namespace.enums.push(e);
    }
    // Records may hold records declared before them, which keeps the
    // types acyclic as the language requires.
    for name in rng.pick_distinct(&RECORD_NAMES, 4) {
        let fields = fields(rng, &palette, 2, 6, false);
        palette.records.push(type_ref(&namespace, name));
        namespace.records.push(RecordDecl {
            name: name.to_string(),
            fields,
        });
    }
    let mut left = messages;
    let mut a = 0;
    while left > 0 {
        let count = left.min(VERBS.len() * 2);
        let aggregate = aggregate(rng, &mut namespace, &mut palette, a, count);
        namespace.aggregates.push(aggregate);
        left -= count;
        a += 1;
    }
    namespace
}

/// An aggregate, its id type, and `count` of its commands and events.
fn aggregate(rng: &mut Rng, namespace: &mut Namespace, palette: &mut Palette, index: usize, count: usize) -> Aggregate {
    let base = AGGREGATE_NAMES[index % AGGREGATE_NAMES.len()];
    let name = match index / AGGREGATE_NAMES.len() {
        0 => base.to_string(),
        n => format!("{base}{n}"),
    };
    let id = IdDecl {
        name: format!("{name}Id"),
        inner: [Scalar::Uuid, Scalar::Uuid, Scalar::String, Scalar::U64][rng.below(4)],
    };
    palette.ids.push((type_ref(namespace, &id.name), id.inner));
    let id_name = id.name.clone();
    namespace.ids.push(id);
    let messages = (0..count)
        .map(|m| {
            let (command, event) = VERBS[m / 2];
            if m % 2 == 0 {
                message(rng, palette, format!("{command}{name}"), Kind::Command, &name)
            } else {
                message(rng, palette, format!("{name}{event}"), Kind::Event, &name)
            }
        })
        .collect();
    Aggregate {
        name,
        id: id_name,
        messages,
    }
}

fn message(rng: &mut Rng, palette: &Palette, name: String, kind: Kind, aggregate: &str) -> Message {
    let mut fields = fields(rng, palette, 3, 8, true);
    // Events are the long-lived records, so they are the ones that carry
    // version history; a few commands do too. Version 2 adds a field.
    let history_odds = if kind == Kind::Event { 4 } else { 10 };
    let previous = (rng.below(history_odds) == 0).then(|| {
        let added = fields.len() - 1;
        fields[added] = compatible_addition(fields[added].clone());
        fields[..added].to_vec()
    });
    let display = kind == Kind::Event && rng.below(3) == 0;
    let doc = match kind {
        Kind::Command => format!("Asks the {} to do what `{name}` says.", aggregate.to_lowercase()),
        Kind::Event => format!("Records that the {} did what `{name}` says.", aggregate.to_lowercase()),
    };
    Message {
        name,
        kind,
        doc,
        fields,
        previous,
        display,
    }
}

/// Between `min` and `max` fields with distinct names. Message fields may
/// have defaults; record fields do not, as is usual for value objects.
fn fields(rng: &mut Rng, palette: &Palette, min: usize, max: usize, defaults: bool) -> Vec<Field> {
    let count = rng.range(min, max);
    rng.pick_distinct(&FIELD_NAMES, count)
        .into_iter()
        .map(|name| {
            let ty = field_type(rng, palette);
            let default = if defaults && rng.below(5) == 0 {
                default_for(&ty, palette)
            } else {
                None
            };
            Field {
                name: name.to_string(),
                ty,
                default,
            }
        })
        .collect()
}

/// The field as a compatible addition to a message: optional, or with a
/// default, the way contracts evolve so older versions still upcast.
fn compatible_addition(mut field: Field) -> Field {
    match field.ty {
        FieldType::Single(base) => {
            field.ty = FieldType::Optional(base);
            field.default = None;
        }
        FieldType::List(_) => field.default = Some(DefaultValue::EmptyList),
        FieldType::Map(..) => field.default = Some(DefaultValue::EmptyMap),
        FieldType::Optional(_) => {}
    }
    field
}

/// Mostly single values, with a fair share of optionals, lists and maps.
fn field_type(rng: &mut Rng, palette: &Palette) -> FieldType {
    match rng.below(20) {
        0..=10 => FieldType::Single(base(rng, palette)),
        11..=13 => FieldType::Optional(base(rng, palette)),
        14..=16 => FieldType::List(base(rng, palette)),
        _ => FieldType::Map(key(rng, palette), base(rng, palette)),
    }
}

/// Mostly scalars, then records, enums and ids.
fn base(rng: &mut Rng, palette: &Palette) -> Base {
    match rng.below(20) {
        0..=12 => Base::Scalar(Scalar::ALL[rng.below(Scalar::ALL.len())]),
        13..=15 => Base::Record(rng.pick(&palette.records).clone()),
        16..=17 => Base::Enum(rng.pick(&palette.enums).clone()),
        _ => {
            let (id, inner) = rng.pick(&palette.ids).clone();
            Base::Id(id, inner)
        }
    }
}

fn key(rng: &mut Rng, palette: &Palette) -> Key {
    match rng.below(4) {
        0 | 1 => Key::Scalar(Scalar::String),
        2 => Key::Scalar(Scalar::U64),
        _ => {
            let (id, inner) = rng.pick(&palette.ids).clone();
            Key::Id(id, inner)
        }
    }
}

/// A default the type accepts, when it accepts one.
fn default_for(ty: &FieldType, palette: &Palette) -> Option<DefaultValue> {
    match ty {
        FieldType::Optional(_) => Some(DefaultValue::None),
        FieldType::List(_) => Some(DefaultValue::EmptyList),
        FieldType::Map(_, _) => Some(DefaultValue::EmptyMap),
        FieldType::Single(Base::Scalar(scalar)) => match scalar {
            Scalar::Bool => Some(DefaultValue::False),
            Scalar::String => Some(DefaultValue::EmptyString),
            Scalar::I32 | Scalar::I64 | Scalar::U32 | Scalar::U64 | Scalar::F64 | Scalar::Decimal => {
                Some(DefaultValue::Zero)
            }
            Scalar::Bytes | Scalar::Uuid | Scalar::Timestamp | Scalar::Date => None,
        },
        FieldType::Single(Base::Enum(e)) => {
            let position = palette.enums.iter().position(|known| known == e)?;
            Some(DefaultValue::Variant(palette.variants[position][0].clone()))
        }
        FieldType::Single(Base::Id(..) | Base::Record(_)) => None,
    }
}

/// A small deterministic generator (xorshift64*), so the corpus is the
/// same on every machine without a dependency on a random-number crate.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `min..=max`.
    fn range(&mut self, min: usize, max: usize) -> usize {
        min + self.below(max - min + 1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `count` distinct items, in a random order.
    fn pick_distinct<'a, T>(&mut self, items: &'a [T], count: usize) -> Vec<&'a T> {
        let mut pool: Vec<&T> = items.iter().collect();
        for i in 0..count {
            let j = i + self.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(count);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_has_exactly_the_requested_messages() {
        for n in [1, 99, 100, 1_000, 1_234] {
            assert_eq!(Corpus::generate(n).message_count(), n);
        }
    }

    #[test]
    fn the_corpus_is_the_same_on_every_run() {
        let first = format!("{:?}", Corpus::generate(300).namespaces);
        let second = format!("{:?}", Corpus::generate(300).namespaces);
        assert_eq!(first, second);
    }
}
