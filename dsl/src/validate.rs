//! The validation pass: resolves names, expands fragments, checks every
//! rule of the language, and reports every problem of every file at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{self, DefaultKind, FieldItem, ItemKind, MessageKind, TypeExpr, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::hints;
use crate::naming;
use crate::schema::*;
use crate::source::SourceId;
use crate::span::{Ident, Span};
use crate::wire;

/// How deep records may hold records.
pub const MAX_RECORD_NESTING: usize = 32;

/// How many fields a record may write out, its nested records' included.
pub const MAX_RECORD_EXPANSION: usize = 100_000;

/// Settings that change what counts as valid.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Types declared outside the contracts (`shared.Money`), which the
    /// build configuration maps to Rust types. They may be used and
    /// imported like declared types; they cannot have defaults.
    pub extern_types: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeclKind {
    Id,
    Record,
    Enum,
    Message(MessageKind),
    Const,
    Extern,
}

impl DeclKind {
    fn describe(self) -> &'static str {
        match self {
            DeclKind::Id => "an id type",
            DeclKind::Record => "a record",
            DeclKind::Enum => "an enum",
            DeclKind::Message(MessageKind::Command) => "a command",
            DeclKind::Message(MessageKind::Event) => "an event",
            DeclKind::Const => "a field fragment",
            DeclKind::Extern => "an extern type",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Decl {
    kind: DeclKind,
    span: Span,
    /// Index into the parsed files, for looking at the declaration again.
    file: usize,
    item: usize,
}

/// What a file can see: its namespace and its imports.
struct Scope {
    namespace: String,
    imports: BTreeMap<String, QualifiedName>,
    /// Names whose `use` failed; their uses are not reported again.
    failed_imports: BTreeSet<String>,
}

struct Validator<'a> {
    files: &'a [(SourceId, ast::File)],
    config: &'a Config,
    diagnostics: Vec<Diagnostic>,
    /// The namespace of each file, when it has a usable one.
    namespaces: Vec<Option<String>>,
    decls: BTreeMap<QualifiedName, Decl>,
    /// The first declaration (in name order) of each bare type name, for
    /// suggesting an import without scanning every declaration per error.
    by_bare_name: BTreeMap<String, QualifiedName>,
    consts: BTreeMap<QualifiedName, Vec<Field>>,
    /// Where each message's contract name on the wire was written.
    wire_spans: wire::WireSpans,
}

/// Help texts list at most this many names (fields, variants), so that
/// each error costs the same however large the declaration it is about.
const MAX_LISTED_NAMES: usize = 20;

/// Validates parsed files. Returns the schema of everything that is valid
/// and a diagnostic for every problem; the schema is only meaningful when
/// there are no errors.
pub fn validate(files: &[(SourceId, ast::File)], config: &Config) -> (Schema, Vec<Diagnostic>) {
    let mut v = Validator {
        files,
        config,
        diagnostics: Vec::new(),
        namespaces: Vec::new(),
        decls: BTreeMap::new(),
        by_bare_name: BTreeMap::new(),
        consts: BTreeMap::new(),
        wire_spans: BTreeMap::new(),
    };
    v.find_namespaces();
    v.declare();
    for name in v.decls.keys() {
        v.by_bare_name.entry(name.name.clone()).or_insert_with(|| name.clone());
    }
    let scopes: Vec<Option<Scope>> = (0..files.len()).map(|f| v.scope(f)).collect();
    v.resolve_consts(&scopes);
    let mut schema = Schema::default();
    for (f, scope) in scopes.iter().enumerate() {
        if let Some(scope) = scope {
            v.resolve_file(f, scope, &mut schema);
        }
    }
    v.check_recursion(&schema);
    v.check_nesting(&schema);
    let duplicates = wire::check_contracts(&schema, &v.wire_spans);
    v.diagnostics.extend(duplicates);
    (schema, v.diagnostics)
}

impl<'a> Validator<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn find_namespaces(&mut self) {
        let files = self.files;
        for (source, file) in files.iter() {
            let mut found: Option<String> = None;
            for (i, item) in file.items.iter().enumerate() {
                let ItemKind::Namespace(path) = &item.kind else {
                    continue;
                };
                if found.is_some() {
                    self.error(
                        Diagnostic::error(Code::BadNamespace, path.span, "a file has one namespace")
                            .with_label("second namespace")
                            .with_help("split the file in two, one per namespace"),
                    );
                    continue;
                }
                if i != 0 {
                    self.error(
                        Diagnostic::error(Code::MissingNamespace, item.span, "the namespace must come first")
                            .with_label("declared after other items")
                            .with_help("move this line to the top of the file"),
                    );
                }
                let mut ok = true;
                for segment in &path.segments {
                    if !naming::is_module_name(&segment.name) {
                        ok = false;
                        self.error(
                            Diagnostic::error(
                                Code::BadNamespace,
                                segment.span,
                                format!("namespace segment `{}` is not lower snake case", segment.name),
                            )
                            .with_label("becomes a Rust module name")
                            .with_help(format!("write `{}`", naming::suggest_module_name(&segment.name))),
                        );
                    }
                }
                found = Some(if ok { path.dotted() } else { String::new() });
            }
            match found {
                Some(ns) if !ns.is_empty() => self.namespaces.push(Some(ns)),
                Some(_) => self.namespaces.push(None),
                None => {
                    self.error(
                        Diagnostic::error(
                            Code::MissingNamespace,
                            Span::point(*source, 0),
                            "the file has no namespace",
                        )
                        .with_label("expected `namespace name;` here")
                        .with_help("start the file with a namespace, such as `namespace shop.orders;`"),
                    );
                    self.namespaces.push(None);
                }
            }
        }
    }

    fn declare_one(&mut self, namespace: &str, name: &Ident, kind: DeclKind, file: usize, item: usize) {
        let qualified = QualifiedName::new(namespace, &name.name);
        if kind != DeclKind::Const {
            let taken = if Scalar::from_name(&name.name).is_some() {
                Some((format!("`{}` is a built-in type", name.name), "shadows the built-in"))
            } else if naming::RESERVED_TYPE_NAMES.contains(&name.name.as_str()) {
                Some((
                    format!("`{}` is a name that generated code uses", name.name),
                    "would clash in the generated module",
                ))
            } else {
                None
            };
            if let Some((message, label)) = taken {
                self.error(
                    Diagnostic::error(Code::DuplicateType, name.span, message)
                        .with_label(label)
                        .with_help("choose another name"),
                );
                return;
            }
            if !naming::is_type_name(&name.name) {
                self.error(
                    Diagnostic::error(
                        Code::BadName,
                        name.span,
                        format!("type name `{}` is not upper camel case", name.name),
                    )
                    .with_label("becomes a Rust type name")
                    .with_help(format!("write `{}`", naming::suggest_type_name(&name.name))),
                );
            }
        }
        if let Some(previous) = self.decls.get(&qualified) {
            let what = if kind == DeclKind::Const { "fragment" } else { "type" };
            let d = Diagnostic::error(
                Code::DuplicateType,
                name.span,
                format!("{what} `{qualified}` is declared twice"),
            )
            .with_label("declared again here")
            .with_secondary(previous.span, "first declared here")
            .with_help("rename or remove one of them");
            self.error(d);
            return;
        }
        self.decls.insert(
            qualified,
            Decl {
                kind,
                span: name.span,
                file,
                item,
            },
        );
    }

    fn declare(&mut self) {
        // Names the code generator derives from declarations; a declared
        // type with one of these names would collide in Rust.
        let mut generated: Vec<(QualifiedName, Span, String)> = Vec::new();
        // Aggregates are not types of their own, but two of one name would
        // generate the same command and event enums.
        let mut aggregates: BTreeMap<QualifiedName, Span> = BTreeMap::new();
        let files = self.files;
        for (f, (_, file)) in files.iter().enumerate() {
            let Some(namespace) = self.namespaces[f].clone() else {
                continue;
            };
            for (i, item) in file.items.iter().enumerate() {
                match &item.kind {
                    ItemKind::Namespace(_) | ItemKind::Use(_) => {}
                    ItemKind::Const(c) => self.declare_one(&namespace, &c.name, DeclKind::Const, f, i),
                    ItemKind::Id(d) => self.declare_one(&namespace, &d.name, DeclKind::Id, f, i),
                    ItemKind::Record(r) => self.declare_one(&namespace, &r.name, DeclKind::Record, f, i),
                    ItemKind::Enum(e) => self.declare_one(&namespace, &e.name, DeclKind::Enum, f, i),
                    ItemKind::Message(m) => {
                        self.declare_one(&namespace, &m.name, DeclKind::Message(m.kind), f, i);
                        generated.extend(history_names(&namespace, m));
                    }
                    ItemKind::Aggregate(a) => {
                        let qualified = QualifiedName::new(&namespace, &a.name.name);
                        if let Some(previous) = aggregates.get(&qualified) {
                            self.error(
                                Diagnostic::error(
                                    Code::DuplicateType,
                                    a.name.span,
                                    format!("aggregate `{qualified}` is declared twice"),
                                )
                                .with_label("declared again here")
                                .with_secondary(*previous, "first declared here")
                                .with_help("put all of its messages in one `aggregate` block, or rename one"),
                            );
                        } else {
                            aggregates.insert(qualified, a.name.span);
                        }
                        for suffix in ["Command", "Event"] {
                            generated.push((
                                QualifiedName::new(&namespace, format!("{}{suffix}", a.name.name)),
                                a.name.span,
                                format!("aggregate `{}`", a.name.name),
                            ));
                        }
                        for (_, m) in &a.messages {
                            self.declare_one(&namespace, &m.name, DeclKind::Message(m.kind), f, i);
                            generated.extend(history_names(&namespace, m));
                        }
                    }
                }
            }
        }
        for (name, span, origin) in generated {
            if let Some(decl) = self.decls.get(&name) {
                let d = Diagnostic::error(
                    Code::DuplicateType,
                    decl.span,
                    format!("`{name}` collides with a name generated for {origin}"),
                )
                .with_label("declared here")
                .with_secondary(span, "generates the same name")
                .with_help("rename the declared type");
                self.error(d);
            }
        }
        for name in &self.config.extern_types {
            if let Some(q) = QualifiedName::parse(name) {
                self.decls.entry(q).or_insert(Decl {
                    kind: DeclKind::Extern,
                    span: Span::point(SourceId(0), 0),
                    file: usize::MAX,
                    item: usize::MAX,
                });
            }
        }
    }

    fn scope(&mut self, f: usize) -> Option<Scope> {
        let namespace = self.namespaces[f].clone()?;
        let mut imports: BTreeMap<String, (QualifiedName, Span)> = BTreeMap::new();
        let mut failed_imports = BTreeSet::new();
        let files = self.files;
        for item in &files[f].1.items {
            let ItemKind::Use(path) = &item.kind else { continue };
            let Some(target) = QualifiedName::parse(&path.dotted()) else {
                self.error(
                    Diagnostic::error(
                        Code::UnknownImport,
                        path.span,
                        "`use` needs the namespace of the type it imports",
                    )
                    .with_label("no namespace here")
                    .with_help(format!("write `use namespace.{};`", path.dotted())),
                );
                continue;
            };
            if !self.decls.contains_key(&target) {
                let mut d = Diagnostic::error(
                    Code::UnknownImport,
                    path.span,
                    format!("`{target}` is not declared in any contract file"),
                )
                .with_label("unknown import");
                d = match self.same_name_elsewhere(&target.name) {
                    Some(other) => d.with_help(format!("did you mean `use {other};`?")),
                    None => d.with_help(format!(
                        "declare `{}` in namespace `{}`, or configure it as an extern type",
                        target.name, target.namespace
                    )),
                };
                self.error(d);
                failed_imports.insert(target.name.clone());
                continue;
            }
            let local = QualifiedName::new(&namespace, &target.name);
            if local != target {
                if let Some(decl) = self.decls.get(&local).filter(|d| d.kind != DeclKind::Extern) {
                    let d = Diagnostic::error(
                        Code::DuplicateType,
                        path.span,
                        format!("`{}` is imported and also declared in `{namespace}`", target.name),
                    )
                    .with_label("imported here")
                    .with_secondary(decl.span, "declared here")
                    .with_help("refer to one of them by its full name (`namespace.Name`) instead of importing it");
                    self.error(d);
                    continue;
                }
            }
            if let Some((previous, previous_span)) = imports.get(&target.name) {
                if *previous != target {
                    let d = Diagnostic::error(
                        Code::DuplicateType,
                        path.span,
                        format!("`{}` is imported twice, from different namespaces", target.name),
                    )
                    .with_label("second import")
                    .with_secondary(*previous_span, "first import")
                    .with_help("import one, and write the other by its full name");
                    self.error(d);
                }
                continue;
            }
            imports.insert(target.name.clone(), (target, path.span));
        }
        Some(Scope {
            namespace,
            imports: imports.into_iter().map(|(k, (q, _))| (k, q)).collect(),
            failed_imports,
        })
    }

    fn same_name_elsewhere(&self, name: &str) -> Option<QualifiedName> {
        self.by_bare_name.get(name).cloned()
    }

    /// Finds what a one-segment name means in `scope`.
    fn lookup(&self, scope: &Scope, name: &str) -> Option<(QualifiedName, Decl)> {
        let local = QualifiedName::new(&scope.namespace, name);
        if let Some(decl) = self.decls.get(&local) {
            return Some((local, *decl));
        }
        let imported = scope.imports.get(name)?;
        Some((imported.clone(), *self.decls.get(imported)?))
    }

    fn resolve_consts(&mut self, scopes: &[Option<Scope>]) {
        let files = self.files;
        for (f, scope) in scopes.iter().enumerate() {
            let Some(scope) = scope else { continue };
            for (i, item) in files[f].1.items.iter().enumerate() {
                let ItemKind::Const(c) = &item.kind else { continue };
                let qualified = QualifiedName::new(&scope.namespace, &c.name.name);
                // Only the declaration that won (not a duplicate) is resolved.
                if self.decls.get(&qualified).is_none_or(|d| d.file != f || d.item != i) {
                    continue;
                }
                let fields = c
                    .fields
                    .iter()
                    .filter_map(|field| self.resolve_field(scope, field))
                    .collect();
                self.consts.insert(qualified, fields);
            }
        }
    }

    fn resolve_file(&mut self, f: usize, scope: &Scope, schema: &mut Schema) {
        let files = self.files;
        let file = &files[f].1;
        let namespace = schema
            .namespaces
            .entry(scope.namespace.clone())
            .or_insert_with(|| Namespace {
                name: scope.namespace.clone(),
                ..Namespace::default()
            });
        namespace.docs.extend(file.docs.iter().cloned());
        for (i, item) in file.items.iter().enumerate() {
            let owns = |name: &Ident, decls: &BTreeMap<QualifiedName, Decl>| {
                decls
                    .get(&QualifiedName::new(&scope.namespace, &name.name))
                    .is_some_and(|d| d.file == f && d.item == i)
            };
            match &item.kind {
                ItemKind::Namespace(_) | ItemKind::Use(_) | ItemKind::Const(_) => {}
                ItemKind::Id(decl) => {
                    if let Some(id) = self.resolve_id(scope, decl, &item.docs) {
                        namespace.ids.push(id);
                    }
                }
                ItemKind::Enum(decl) => {
                    if owns(&decl.name, &self.decls) {
                        namespace.enums.push(self.resolve_enum(scope, decl, &item.docs));
                    }
                }
                ItemKind::Record(decl) => {
                    let fields = self.expand_fields(scope, &decl.fields, Vec::new());
                    let display = decl
                        .display
                        .as_ref()
                        .and_then(|t| self.template(t, &fields, &decl.fields));
                    if owns(&decl.name, &self.decls) {
                        namespace.records.push(Record {
                            name: QualifiedName::new(&scope.namespace, &decl.name.name),
                            docs: item.docs.clone(),
                            fields,
                            display,
                            span: decl.name.span,
                        });
                    }
                }
                ItemKind::Message(decl) => {
                    let message = self.resolve_message(scope, decl, &item.docs, None);
                    if owns(&decl.name, &self.decls) {
                        namespace.messages.push(message);
                    }
                }
                ItemKind::Aggregate(decl) => {
                    let identity = self.resolve_identity(scope, &decl.identity);
                    let name = QualifiedName::new(&scope.namespace, &decl.name.name);
                    if !naming::is_type_name(&decl.name.name) {
                        self.error(
                            Diagnostic::error(
                                Code::BadName,
                                decl.name.span,
                                format!("aggregate name `{}` is not upper camel case", decl.name.name),
                            )
                            .with_label("names the generated command and event enums")
                            .with_help(format!("write `{}`", naming::suggest_type_name(&decl.name.name))),
                        );
                    }
                    let mut aggregate = Aggregate {
                        name: name.clone(),
                        docs: item.docs.clone(),
                        identity: identity.clone(),
                        commands: Vec::new(),
                        events: Vec::new(),
                        span: decl.name.span,
                    };
                    for (docs, m) in &decl.messages {
                        let message = self.resolve_message(scope, m, docs, Some((&name, &identity)));
                        if owns(&m.name, &self.decls) {
                            match m.kind {
                                MessageKind::Command => aggregate.commands.push(message.name.clone()),
                                MessageKind::Event => aggregate.events.push(message.name.clone()),
                            }
                            namespace.messages.push(message);
                        }
                    }
                    namespace.aggregates.push(aggregate);
                }
            }
        }
    }

    fn resolve_id(&mut self, scope: &Scope, decl: &ast::IdDecl, docs: &[String]) -> Option<IdType> {
        let ty = self.resolve_type(scope, &decl.inner)?;
        let inner = match ty {
            Type::Scalar(s @ (Scalar::Uuid | Scalar::String | Scalar::U64 | Scalar::I64)) => s,
            other => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKindOfType,
                        decl.inner.span,
                        format!("an id cannot wrap `{other}`"),
                    )
                    .with_label("not an id representation")
                    .with_help("ids wrap `Uuid`, `String`, `u64` or `i64`"),
                );
                return None;
            }
        };
        Some(IdType {
            name: QualifiedName::new(&scope.namespace, &decl.name.name),
            docs: docs.to_vec(),
            inner,
            span: decl.name.span,
        })
    }

    fn resolve_enum(&mut self, scope: &Scope, decl: &ast::EnumDecl, docs: &[String]) -> Enum {
        let mut seen: BTreeMap<String, Span> = BTreeMap::new();
        let mut variants = Vec::new();
        for variant in &decl.variants {
            let Some(rust) = naming::variant_name(&variant.name.name) else {
                self.error(unusable_name("variant", &variant.name.name, variant.name.span));
                continue;
            };
            if let Some(previous) = seen.get(&rust) {
                let d = Diagnostic::error(
                    Code::DuplicateVariant,
                    variant.name.span,
                    format!(
                        "variant `{}` is declared twice in `{}`",
                        variant.name.name, decl.name.name
                    ),
                )
                .with_label("declared again here")
                .with_secondary(*previous, "first declared here")
                .with_help("remove one of them (variants that differ only in case or underscores collide in Rust)");
                self.error(d);
                continue;
            }
            seen.insert(rust, variant.name.span);
            variants.push(EnumVariant {
                name: variant.name.name.clone(),
                docs: variant.docs.clone(),
            });
        }
        Enum {
            name: QualifiedName::new(&scope.namespace, &decl.name.name),
            docs: docs.to_vec(),
            variants,
            span: decl.name.span,
        }
    }

    fn resolve_identity(&mut self, scope: &Scope, field: &ast::FieldDecl) -> Field {
        let resolved = self.resolve_field(scope, field);
        if let Some(f) = &resolved {
            if !matches!(f.ty, Type::Id(_)) {
                self.error(
                    Diagnostic::error(
                        Code::WrongKindOfType,
                        field.ty.span,
                        format!("an aggregate is identified by an id type, not `{}`", f.ty),
                    )
                    .with_label("not an id type")
                    .with_help("declare one, such as `id FactoryId: Uuid;`, and use it here"),
                );
            }
        }
        resolved.unwrap_or_else(|| Field {
            name: field.name.name.clone(),
            wire: field.name.name.clone(),
            docs: Vec::new(),
            ty: Type::Scalar(Scalar::String),
            default: None,
            span: field.span,
        })
    }

    fn resolve_message(
        &mut self,
        scope: &Scope,
        decl: &ast::MessageDecl,
        docs: &[String],
        aggregate: Option<(&QualifiedName, &Field)>,
    ) -> Message {
        let prefix: Vec<Field> = aggregate.map(|(_, id)| vec![id.clone()]).unwrap_or_default();
        let current_version = match decl.version {
            None => 1,
            Some(v) => self.version_number(v),
        };
        let current = Shape {
            version: current_version,
            fields: self.expand_fields(scope, &decl.fields, prefix.clone()),
            span: decl.name.span,
        };
        let mut history = Vec::new();
        // A version number that is out of range was reported already;
        // comparing it would only add a second, stranger error.
        let usable = |v: ast::Version| v.number.is_some_and(|n| n > 0);
        let mut newer = (
            current_version,
            decl.version.map_or(decl.name.span, |v| v.span),
            decl.version.is_none_or(usable),
        );
        for entry in &decl.history {
            let version = self.version_number(entry.version);
            if newer.2 && usable(entry.version) && version >= newer.0 {
                let mut d = Diagnostic::error(
                    Code::BadVersionHistory,
                    entry.version.span,
                    format!("`was v{version}` is not older than v{}", newer.0),
                )
                .with_label("must be older")
                .with_secondary(newer.1, "the newer version");
                d = if decl.version.is_none() {
                    d.with_help(format!(
                        "declare the current version after the name, such as `{}{} v{} (...)`",
                        decl.name.name,
                        if decl.kind == MessageKind::Command { "?" } else { "!" },
                        version.saturating_add(1)
                    ))
                } else {
                    d.with_help("list earlier versions newest first, each older than the one before")
                };
                self.error(d);
            }
            newer = (version, entry.version.span, usable(entry.version));
            history.push(Shape {
                version,
                fields: self.expand_fields(scope, &entry.fields, prefix.clone()),
                span: entry.span,
            });
        }
        if let Some(extra) = decl.displays.get(1) {
            self.error(
                Diagnostic::error(
                    Code::BadDisplayTemplate,
                    extra.span,
                    "a message has one display template",
                )
                .with_label("second template")
                .with_secondary(decl.displays[0].span, "first template")
                .with_help("remove one of them"),
            );
        }
        let display = decl
            .displays
            .first()
            .and_then(|t| self.template(t, &current.fields, &decl.fields));
        let name = QualifiedName::new(&scope.namespace, &decl.name.name);
        let wire = match &decl.wire {
            Some(w) => {
                if let Some(d) = wire::bad_name(&format!("`{}`", decl.name.name), &w.name, w.span) {
                    self.error(d);
                }
                self.wire_spans.insert(name.clone(), w.span);
                w.name.clone()
            }
            None => {
                self.wire_spans.insert(name.clone(), decl.name.span);
                name.to_string()
            }
        };
        Message {
            name,
            wire,
            kind: decl.kind,
            docs: docs.to_vec(),
            current,
            history,
            display,
            aggregate: aggregate.map(|(name, _)| name.clone()),
            span: decl.name.span,
        }
    }

    fn version_number(&mut self, version: ast::Version) -> u32 {
        match version.number {
            Some(0) | None => {
                let message = match version.number {
                    Some(_) => "versions count from v1",
                    None => "the version number is too large",
                };
                self.error(
                    Diagnostic::error(Code::BadVersionHistory, version.span, message)
                        .with_label("not a valid version")
                        .with_help("use a version between v1 and v4294967295"),
                );
                version.number.unwrap_or(u32::MAX)
            }
            Some(n) => n,
        }
    }

    /// Expands fragments and resolves fields, reporting duplicates.
    fn expand_fields(&mut self, scope: &Scope, items: &[FieldItem], prefix: Vec<Field>) -> Vec<Field> {
        let mut names = FieldNames::default();
        for (i, field) in prefix.iter().enumerate() {
            names.insert(field, i);
        }
        let mut fields = prefix;
        let mut push = |v: &mut Self, field: Field| v.push_field(&mut fields, &mut names, field);
        for item in items {
            match item {
                FieldItem::Field(decl) => {
                    if let Some(field) = self.resolve_field(scope, decl) {
                        push(self, field);
                    }
                }
                FieldItem::Fragment(name) => {
                    let found = self
                        .lookup(scope, &name.name)
                        .filter(|(_, decl)| decl.kind == DeclKind::Const)
                        .and_then(|(q, _)| self.consts.get(&q).cloned());
                    match found {
                        Some(expanded) => {
                            for mut field in expanded {
                                // Point at the use site: that is where the
                                // field enters this message.
                                field.span = name.span;
                                push(self, field);
                            }
                        }
                        None => self.error(
                            Diagnostic::error(
                                Code::UnknownFragment,
                                name.span,
                                format!("`{}` is not a declared field fragment", name.name),
                            )
                            .with_label("unknown fragment")
                            .with_help(format!(
                                "write a field as `{}: Type`, or declare `const {} = field: Type;`",
                                name.name, name.name
                            )),
                        ),
                    }
                }
            }
        }
        fields
    }

    fn push_field(&mut self, fields: &mut Vec<Field>, names: &mut FieldNames, field: Field) {
        let rust = naming::field_name(&field.name);
        if let Some((i, clash)) = names.clash(&field, rust.as_deref()) {
            let previous = &fields[i];
            let (message, help) = match clash {
                Clash::Name => (
                    format!("field `{}` appears twice", field.name),
                    "rename or remove one of them".to_string(),
                ),
                Clash::Rust => (
                    format!(
                        "fields `{}` and `{}` become the same Rust field `{}`",
                        previous.name,
                        field.name,
                        rust.clone().unwrap_or_default()
                    ),
                    "rename or remove one of them".to_string(),
                ),
                Clash::Wire => (
                    format!(
                        "fields `{}` and `{}` have the same name on the wire, `{}`",
                        previous.name, field.name, field.wire
                    ),
                    "give one of them another `wire \"...\"` name, or remove one of them".to_string(),
                ),
                Clash::WireIsName => (
                    format!(
                        "the wire name of field `{}` is the name of field `{}`",
                        field.name, previous.name
                    ),
                    format!(
                        "a wire name may not be another field's name: choose another wire name, or rename `{}`",
                        previous.name
                    ),
                ),
                Clash::NameIsWire => (
                    format!(
                        "field `{}` has the name of the wire name of field `{}`",
                        field.name, previous.name
                    ),
                    format!(
                        "a wire name may not be another field's name: rename `{}`, or give `{}` another wire name",
                        field.name, previous.name
                    ),
                ),
            };
            let d = Diagnostic::error(Code::DuplicateField, field.span, message)
                .with_label("declared again here")
                .with_secondary(
                    previous.span,
                    "first declared here (or brought in by a fragment or the aggregate id)",
                )
                .with_help(help);
            self.error(d);
            return;
        }
        if rust.is_none() {
            self.error(unusable_name("field", &field.name, field.span));
            return;
        }
        names.insert(&field, fields.len());
        fields.push(field);
    }

    fn resolve_field(&mut self, scope: &Scope, decl: &ast::FieldDecl) -> Option<Field> {
        let ty = self.resolve_type(scope, &decl.ty)?;
        let default = match &decl.default {
            None => None,
            Some(value) => Some(self.check_default(value, &ty)?),
        };
        let wire = match &decl.wire {
            Some(w) => {
                if let Some(d) = wire::bad_name(&format!("field `{}`", decl.name.name), &w.name, w.span) {
                    self.error(d);
                }
                w.name.clone()
            }
            None => decl.name.name.clone(),
        };
        Some(Field {
            name: decl.name.name.clone(),
            wire,
            docs: decl.docs.clone(),
            ty,
            default,
            span: decl.span,
        })
    }

    fn resolve_type(&mut self, scope: &Scope, expr: &TypeExpr) -> Option<Type> {
        let base = match &expr.kind {
            TypeExprKind::Named(path) => self.resolve_named(scope, path)?,
            TypeExprKind::List(inner) => Type::List(Box::new(self.resolve_type(scope, inner)?)),
            TypeExprKind::Map(key, value) => {
                let k = self.resolve_type(scope, key);
                let v = self.resolve_type(scope, value);
                let k = k?;
                let valid_key = match &k {
                    Type::Scalar(s) => *s == Scalar::String || s.is_integer(),
                    Type::Id(_) => true,
                    _ => false,
                };
                if !valid_key {
                    self.error(
                        Diagnostic::error(Code::InvalidMapKey, key.span, format!("`{k}` cannot be a map key"))
                            .with_label("invalid key type")
                            .with_help("map keys are `String`, an integer type or an id type"),
                    );
                    return None;
                }
                Type::Map(Box::new(k), Box::new(v?))
            }
        };
        Some(if expr.optional {
            Type::Optional(Box::new(base))
        } else {
            base
        })
    }

    fn resolve_named(&mut self, scope: &Scope, path: &ast::Path) -> Option<Type> {
        let dotted = path.dotted();
        let found = if path.segments.len() == 1 {
            if let Some(scalar) = Scalar::from_name(&dotted) {
                return Some(Type::Scalar(scalar));
            }
            self.lookup(scope, &dotted)
        } else {
            QualifiedName::parse(&dotted).and_then(|q| self.decls.get(&q).map(|d| (q, *d)))
        };
        let Some((name, decl)) = found else {
            if scope.failed_imports.contains(&dotted) {
                return None;
            }
            let mut d = Diagnostic::error(Code::UnknownType, path.span, format!("unknown type `{dotted}`"))
                .with_label("not declared or imported");
            d = d.with_help(self.unknown_type_help(scope, &dotted));
            self.error(d);
            return None;
        };
        match decl.kind {
            DeclKind::Id => Some(Type::Id(name)),
            DeclKind::Record => Some(Type::Record(name)),
            DeclKind::Enum => Some(Type::Enum(name)),
            DeclKind::Extern => Some(Type::Extern(name)),
            kind @ (DeclKind::Message(_) | DeclKind::Const) => {
                self.error(
                    Diagnostic::error(
                        Code::WrongKindOfType,
                        path.span,
                        format!("`{dotted}` is {}, not a type a field can hold", kind.describe()),
                    )
                    .with_label("not a value type")
                    .with_secondary(decl.span, "declared here")
                    .with_help("fields hold built-in types, records, enums and ids"),
                );
                None
            }
        }
    }

    /// What to write instead of the unknown type `dotted`: the built-in
    /// it miscases, another language's name for a built-in, an import,
    /// or the nearest name in scope.
    fn unknown_type_help(&self, scope: &Scope, dotted: &str) -> String {
        let lower = dotted.to_ascii_lowercase();
        if let Some(scalar) = Scalar::ALL.iter().find(|s| s.name().to_ascii_lowercase() == lower) {
            return format!("the built-in type is spelled `{}`", scalar.name());
        }
        if let Some(alias) = hints::type_alias(dotted) {
            return match alias.treaty {
                hints::Treaty::Type(t) => format!("`{dotted}` is the {} name; Treaty's is `{t}`", alias.languages),
                hints::Treaty::Advice(advice) => {
                    format!("`{dotted}` is a {} type; Treaty has {advice}", alias.languages)
                }
            };
        }
        if let Some(other) = self.same_name_elsewhere(dotted) {
            let kind = match self.decls.get(&other) {
                Some(decl) if decl.kind == DeclKind::Extern => " (an extern type)",
                _ => "",
            };
            return format!("import it with `use {other};`{kind}");
        }
        // Types a field may name here: built-ins, this namespace's types
        // and imports; then any type by its full name.
        let value_type = |d: &Decl| !matches!(d.kind, DeclKind::Message(_) | DeclKind::Const);
        let local = self
            .decls
            .iter()
            .filter(|(q, d)| q.namespace == scope.namespace && value_type(d))
            .map(|(q, _)| q.name.as_str());
        let imported = scope.imports.keys().map(String::as_str);
        let builtins = Scalar::ALL.iter().map(|s| s.name());
        if let Some(near) = hints::nearest(dotted, builtins.chain(local).chain(imported)) {
            return format!("did you mean `{near}`?");
        }
        let qualified = dotted.contains('.');
        let elsewhere: Vec<(String, &QualifiedName)> = self
            .decls
            .iter()
            .filter(|(_, d)| value_type(d))
            .map(|(q, _)| (if qualified { q.to_string() } else { q.name.clone() }, q))
            .collect();
        if let Some(near) = hints::nearest(dotted, elsewhere.iter().map(|(n, _)| n.as_str())) {
            if let Some((_, q)) = elsewhere.iter().find(|(n, _)| n == near) {
                return if qualified {
                    format!("did you mean `{q}`?")
                } else {
                    format!("did you mean `{}`? import it with `use {q};`", q.name)
                };
            }
        }
        "declare it (`record`, `enum` or `id`), import it with `use namespace.Name;`, use a built-in type, or, \
         for a type written in Rust, configure an extern type (`--extern namespace.Name=path::Type`, or \
         `extern_type` in build.rs)"
            .to_string()
    }

    fn check_default(&mut self, value: &ast::DefaultValue, ty: &Type) -> Option<Value> {
        let bad = |message: String, help: String| {
            Diagnostic::error(Code::BadDefault, value.span, message)
                .with_label(format!("does not fit `{ty}`"))
                .with_help(help)
        };
        let inner = match ty {
            Type::Optional(inner) => {
                if value.kind == DefaultKind::None {
                    return Some(Value::None);
                }
                inner.as_ref()
            }
            _ if value.kind == DefaultKind::None => {
                self.error(bad(
                    "only optional fields can default to `none`".into(),
                    format!("make the field optional: `{ty}?`"),
                ));
                return None;
            }
            other => other,
        };
        let result = match (inner, &value.kind) {
            (Type::Scalar(Scalar::Bool), DefaultKind::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Scalar(Scalar::String), DefaultKind::String(s)) => Ok(Value::String(s.clone())),
            (Type::Scalar(Scalar::F64), DefaultKind::Number(n)) => {
                // Parsing saturates to infinity, which JSON cannot carry.
                match n.parse::<f64>() {
                    Ok(x) if x.is_finite() => Ok(Value::Float(x)),
                    Ok(_) => Err(format!("{n} is out of range for `f64`")),
                    Err(_) => Err("not a number".to_string()),
                }
            }
            (Type::Scalar(Scalar::Decimal), DefaultKind::Number(n)) => {
                // rust_decimal holds 28 significant digits and no exponent.
                let digits = n.chars().filter(char::is_ascii_digit).count();
                if n.contains(['e', 'E']) || digits > 28 {
                    Err(format!("{n} is not a decimal of at most 28 digits"))
                } else {
                    Ok(Value::Decimal(n.clone()))
                }
            }
            (Type::Scalar(s), DefaultKind::Number(n)) if s.is_integer() => {
                let (min, max) = s.integer_range().expect("integer types have ranges");
                match n.parse::<i128>() {
                    Ok(i) if (min..=max).contains(&i) => Ok(Value::Integer(i)),
                    Ok(_) => Err(format!("{n} is out of range for `{}` ({min} to {max})", s.name())),
                    // Too many digits even for an i128 is still a whole number.
                    Err(_) if !n.contains(['.', 'e', 'E']) => {
                        Err(format!("{n} is out of range for `{}` ({min} to {max})", s.name()))
                    }
                    Err(_) => Err(format!("`{}` holds whole numbers, not {n}", s.name())),
                }
            }
            (Type::List(_), DefaultKind::EmptyList) => Ok(Value::EmptyList),
            (Type::Map(_, _), DefaultKind::EmptyMap) => Ok(Value::EmptyMap),
            (Type::Enum(name), DefaultKind::Variant(variant)) => {
                let variants = self.enum_variants(name);
                if variants.iter().any(|v| v == variant) {
                    Ok(Value::Variant(variant.clone()))
                } else {
                    self.error(
                        Diagnostic::error(
                            Code::BadDefault,
                            value.span,
                            format!("`{variant}` is not a variant of `{name}`"),
                        )
                        .with_label("unknown variant")
                        .with_help(format!("use one of: {}", list_names(&variants, variants.len()))),
                    );
                    return None;
                }
            }
            (Type::Scalar(Scalar::Bytes | Scalar::Uuid | Scalar::Timestamp | Scalar::Date), _)
            | (Type::Id(_) | Type::Record(_) | Type::Extern(_), _) => {
                self.error(bad(
                    format!("fields of type `{inner}` cannot have a default"),
                    format!("make the field optional with `{inner}? = none`"),
                ));
                return None;
            }
            _ => Err(format!("{} is not a value of `{inner}`", describe_default(&value.kind))),
        };
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(bad(message, default_help(inner)));
                None
            }
        }
    }

    fn enum_variants(&self, name: &QualifiedName) -> Vec<&'a str> {
        let Some(decl) = self.decls.get(name) else {
            return Vec::new();
        };
        let files: &'a [(SourceId, ast::File)] = self.files;
        match &files[decl.file].1.items[decl.item].kind {
            ItemKind::Enum(e) => e.variants.iter().map(|v| v.name.name.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    /// Checks a display template against the resolved `fields`; `written`
    /// are the fields as declared, so that a field left out of `fields`
    /// for an error already reported (such as an unknown type) is not
    /// reported again as unknown.
    fn template(&mut self, template: &ast::Template, fields: &[Field], written: &[FieldItem]) -> Option<Vec<Segment>> {
        let source = template.span.source;
        let raw = template.raw.as_str();
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut ok = true;
        // By name, so that each placeholder costs the same however many
        // fields there are.
        let by_name: BTreeMap<&str, &Field> = fields.iter().rev().map(|f| (f.name.as_str(), f)).collect();
        let written: BTreeSet<&str> = written
            .iter()
            .filter_map(|w| match w {
                FieldItem::Field(d) => Some(d.name.name.as_str()),
                FieldItem::Fragment(_) => None,
            })
            .collect();
        let mut chars = raw.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let Some(close) = raw[i..].find('}') else {
                        ok = false;
                        self.error(
                            Diagnostic::error(
                                Code::BadDisplayTemplate,
                                Span::new(source, template.raw_start + i, template.raw_start + i + 1),
                                "`{` opens a placeholder that is never closed",
                            )
                            .with_label("unclosed")
                            .with_help("close it with `}`, or write `{{` for a literal brace"),
                        );
                        break;
                    };
                    let name = &raw[i + 1..i + close];
                    let span = Span::new(source, template.raw_start + i, template.raw_start + i + close + 1);
                    while chars.peek().is_some_and(|(j, _)| *j <= i + close) {
                        chars.next();
                    }
                    match by_name.get(name).copied() {
                        None if written.contains(name) => {
                            ok = false;
                        }
                        None => {
                            ok = false;
                            let names: Vec<&str> = fields
                                .iter()
                                .take(MAX_LISTED_NAMES + 1)
                                .map(|f| f.name.as_str())
                                .collect();
                            self.error(
                                Diagnostic::error(
                                    Code::BadDisplayTemplate,
                                    span,
                                    format!("display template names unknown field `{name}`"),
                                )
                                .with_label("no such field")
                                .with_help(if names.is_empty() {
                                    "this message has no fields to show".to_string()
                                } else {
                                    format!("the fields are: {}", list_names(&names, fields.len()))
                                }),
                            );
                        }
                        Some(field) if !self.displayable(&field.ty) => {
                            ok = false;
                            self.error(
                                Diagnostic::error(
                                    Code::BadDisplayTemplate,
                                    span,
                                    format!("field `{name}` of type `{}` cannot be shown in a sentence", field.ty),
                                )
                                .with_label("not displayable")
                                .with_help(
                                    "templates show scalars (not Bytes), ids, enums and records that have a display template",
                                ),
                            );
                        }
                        Some(_) => {
                            if !text.is_empty() {
                                segments.push(Segment::Text(std::mem::take(&mut text)));
                            }
                            segments.push(Segment::Field(name.to_string()));
                        }
                    }
                }
                '}' => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            Code::BadDisplayTemplate,
                            Span::new(source, template.raw_start + i, template.raw_start + i + 1),
                            "`}` without a matching `{`",
                        )
                        .with_label("unmatched")
                        .with_help("write `}}` for a literal brace"),
                    );
                }
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        text.push_str(&crate::parser::unescape(&format!("\\{escaped}")));
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        ok.then_some(segments)
    }

    fn displayable(&self, ty: &Type) -> bool {
        match ty {
            Type::Scalar(s) => *s != Scalar::Bytes,
            Type::Id(_) | Type::Enum(_) | Type::Extern(_) => true,
            Type::Record(name) => {
                let Some(decl) = self.decls.get(name) else { return false };
                matches!(&self.files[decl.file].1.items[decl.item].kind, ItemKind::Record(r) if r.display.is_some())
            }
            Type::Optional(inner) => !matches!(**inner, Type::Optional(_)) && self.displayable(inner),
            Type::List(_) | Type::Map(_, _) => false,
        }
    }

    /// A record that holds itself directly (or through an option) would
    /// have infinite size in Rust; lists and maps are the indirections.
    ///
    /// Records inside records are written out in full in each message's
    /// canonical schema, so nesting deeper than [`MAX_RECORD_NESTING`]
    /// (which no real contract needs) would make fingerprinting slow and
    /// deep. Depths are computed once per record, without recursion;
    /// records reached again through a cycle (a record in a list of
    /// itself) count as leaves, as the canonical form writes a reference.
    fn check_nesting(&mut self, schema: &Schema) {
        let records: BTreeMap<&QualifiedName, &Record> = schema
            .namespaces
            .values()
            .flat_map(|n| &n.records)
            .map(|r| (&r.name, r))
            .collect();
        fn children(record: &Record) -> Vec<&QualifiedName> {
            let mut out = Vec::new();
            for field in &record.fields {
                let mut stack = vec![&field.ty];
                while let Some(ty) = stack.pop() {
                    match ty {
                        Type::Record(name) => out.push(name),
                        Type::Optional(t) | Type::List(t) => stack.push(t),
                        Type::Map(k, v) => {
                            stack.push(k);
                            stack.push(v);
                        }
                        _ => {}
                    }
                }
            }
            out
        }
        // 0: not seen, 1: on the walk's path, 2: depth known.
        let mut state: BTreeMap<&QualifiedName, u8> = BTreeMap::new();
        let mut depth: BTreeMap<&QualifiedName, usize> = BTreeMap::new();
        // How many fields the record's canonical form writes out.
        let mut size: BTreeMap<&QualifiedName, usize> = BTreeMap::new();
        for start in records.keys() {
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            let mut walk = vec![(*start, false)];
            while let Some((name, finished)) = walk.pop() {
                let Some(record) = records.get(name) else { continue };
                if finished {
                    let known: Vec<&QualifiedName> = children(record)
                        .into_iter()
                        .filter(|c| state.get(c).copied() == Some(2))
                        .collect();
                    let deepest = known.iter().filter_map(|c| depth.get(c).copied()).max().unwrap_or(0);
                    let fields = known
                        .iter()
                        .filter_map(|c| size.get(c).copied())
                        .fold(record.fields.len(), usize::saturating_add);
                    depth.insert(name, deepest + 1);
                    size.insert(name, fields);
                    state.insert(name, 2);
                    continue;
                }
                if state.get(name).copied().unwrap_or(0) != 0 {
                    continue;
                }
                state.insert(name, 1);
                walk.push((name, true));
                for child in children(record) {
                    if state.get(child).copied().unwrap_or(0) == 0 {
                        walk.push((child, false));
                    }
                }
            }
        }
        if let Some((name, fields)) = size.iter().max_by_key(|(_, s)| **s) {
            if *fields > MAX_RECORD_EXPANSION {
                let span = records[*name].span;
                self.error(
                    Diagnostic::error(
                        Code::RecursiveType,
                        span,
                        format!(
                            "record `{name}` expands to more than {MAX_RECORD_EXPANSION} fields through the records it holds"
                        ),
                    )
                    .with_label("expands too far")
                    .with_help("records are written out in full in each message's fingerprint; hold fewer records, or hold them by id"),
                );
                return;
            }
        }
        if let Some((name, levels)) = depth.iter().max_by_key(|(_, d)| **d) {
            if *levels > MAX_RECORD_NESTING {
                let span = records[*name].span;
                self.error(
                    Diagnostic::error(
                        Code::RecursiveType,
                        span,
                        format!(
                            "record `{name}` nests records {levels} levels deep; the limit is {MAX_RECORD_NESTING}"
                        ),
                    )
                    .with_label("nests too deep")
                    .with_help("flatten the records: contracts that nest this deep are hard to read and to evolve"),
                );
            }
        }
    }

    /// One depth-first walk over all records finds every cycle, each once,
    /// in time linear in the number of fields. The walk keeps its own
    /// stack, so a long chain of records cannot overflow the call stack.
    fn check_recursion(&mut self, schema: &Schema) {
        // What each record holds directly: its bare or optional record fields.
        let mut holds: BTreeMap<&QualifiedName, Vec<(&QualifiedName, Span)>> = BTreeMap::new();
        for record in schema.namespaces.values().flat_map(|n| &n.records) {
            let direct = record.fields.iter().filter_map(|field| {
                let mut ty = &field.ty;
                while let Type::Optional(inner) = ty {
                    ty = inner;
                }
                match ty {
                    Type::Record(next) => Some((next, field.span)),
                    _ => None,
                }
            });
            holds.entry(&record.name).or_default().extend(direct);
        }
        // Records on the walk's current path are `false`, finished ones `true`.
        let mut finished: BTreeMap<&QualifiedName, bool> = BTreeMap::new();
        for root in schema.namespaces.values().flat_map(|n| &n.records).map(|r| &r.name) {
            if finished.contains_key(root) {
                continue;
            }
            finished.insert(root, false);
            // Each entry is a record on the path and how many of its
            // fields have been followed.
            let mut path: Vec<(&QualifiedName, usize)> = vec![(root, 0)];
            while let Some((name, followed)) = path.last_mut() {
                let name = *name;
                let Some(&(next, _)) = holds.get(name).and_then(|h| h.get(*followed)) else {
                    finished.insert(name, true);
                    path.pop();
                    continue;
                };
                *followed += 1;
                match finished.get(next) {
                    None if holds.contains_key(next) => {
                        finished.insert(next, false);
                        path.push((next, 0));
                    }
                    Some(false) => {
                        let start = path
                            .iter()
                            .position(|(n, _)| *n == next)
                            .expect("unfinished records are on the path");
                        let (first, followed) = path[start];
                        let field = holds[first][followed - 1].1;
                        let chain: Vec<String> = path[start..]
                            .iter()
                            .map(|(n, _)| n.to_string())
                            .chain(std::iter::once(next.to_string()))
                            .collect();
                        self.error(
                            Diagnostic::error(
                                Code::RecursiveType,
                                field,
                                format!("record `{next}` contains itself ({})", chain.join(" -> ")),
                            )
                            .with_label("holds the record directly")
                            .with_help("hold it in a list (`[T]`) or a map instead, so the value can end"),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The wire and Rust names of the fields of one shape, by index, so that
/// checking each new field for a clash does not take time proportional to
/// the number of fields already there.
#[derive(Default)]
struct FieldNames {
    names: BTreeMap<String, usize>,
    rust: BTreeMap<String, usize>,
    wire: BTreeMap<String, usize>,
}

/// How a field's names clash with an earlier field's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Clash {
    /// Same name.
    Name,
    /// Same Rust name.
    Rust,
    /// Same wire name.
    Wire,
    /// Its wire name is the earlier field's name.
    WireIsName,
    /// Its name is the earlier field's wire name.
    NameIsWire,
}

impl FieldNames {
    fn insert(&mut self, field: &Field, index: usize) {
        self.names.entry(field.name.clone()).or_insert(index);
        self.wire.entry(field.wire.clone()).or_insert(index);
        if let Some(rust) = naming::field_name(&field.name) {
            self.rust.entry(rust).or_insert(index);
        }
    }

    /// The first earlier field whose name, Rust name or wire name clashes
    /// with `field`'s, and how.
    fn clash(&self, field: &Field, rust: Option<&str>) -> Option<(usize, Clash)> {
        [
            (self.names.get(&field.name), Clash::Name),
            (rust.and_then(|r| self.rust.get(r)), Clash::Rust),
            (self.wire.get(&field.wire), Clash::Wire),
            (self.names.get(&field.wire), Clash::WireIsName),
            (self.wire.get(&field.name), Clash::NameIsWire),
        ]
        .into_iter()
        .filter_map(|(index, clash)| index.map(|i| (*i, clash)))
        .min()
    }
}

/// The error for a field or variant name that [`naming`] cannot turn into
/// a Rust name.
fn unusable_name(what: &str, name: &str, span: Span) -> Diagnostic {
    if name.chars().any(|c| c.is_ascii_alphabetic()) {
        Diagnostic::error(
            Code::BadName,
            span,
            format!("{what} `{name}` would start with a digit in Rust"),
        )
        .with_help(format!("start the {what} name with a letter"))
    } else {
        Diagnostic::error(
            Code::BadName,
            span,
            format!("{what} `{name}` has no letters for a Rust name"),
        )
        .with_help(format!("give the {what} a name with letters"))
    }
}

/// `a, b, c`: the first [`MAX_LISTED_NAMES`] of `names`, and when there
/// are more (`total` in all), how many.
fn list_names(names: &[&str], total: usize) -> String {
    let listed = names[..names.len().min(MAX_LISTED_NAMES)].join(", ");
    if total > MAX_LISTED_NAMES {
        format!("{listed}, … ({total} in all)")
    } else {
        listed
    }
}

fn history_names(namespace: &str, m: &ast::MessageDecl) -> Vec<(QualifiedName, Span, String)> {
    m.history
        .iter()
        .filter_map(|h| h.version.number)
        .map(|n| {
            (
                QualifiedName::new(namespace, format!("{}V{n}", m.name.name)),
                m.name.span,
                format!("version {n} of `{}`", m.name.name),
            )
        })
        .collect()
}

fn describe_default(kind: &DefaultKind) -> String {
    match kind {
        DefaultKind::String(s) => format!("the string {s:?}"),
        DefaultKind::Number(n) => format!("the number {n}"),
        DefaultKind::Bool(b) => format!("`{b}`"),
        DefaultKind::None => "`none`".into(),
        DefaultKind::EmptyList => "`[]`".into(),
        DefaultKind::EmptyMap => "`{}`".into(),
        DefaultKind::Variant(v) => format!("`{v}`"),
    }
}

fn default_help(ty: &Type) -> String {
    match ty {
        Type::Scalar(Scalar::Bool) => "write `true` or `false`".into(),
        Type::Scalar(Scalar::String) => "write a string, such as `\"\"`".into(),
        Type::Scalar(Scalar::F64 | Scalar::Decimal) => "write a number, such as `0` or `1.5`".into(),
        Type::Scalar(s) if s.is_integer() => "write a whole number, such as `0`".into(),
        Type::List(_) => "lists default to `[]`".into(),
        Type::Map(_, _) => "maps default to `{}`".into(),
        Type::Enum(_) => "write one of the enum's variants, such as `= Red`".into(),
        _ => "see docs/language.md for the defaults each type takes".into(),
    }
}
