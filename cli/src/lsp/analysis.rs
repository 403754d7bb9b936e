//! The contracts a document is compiled with, and the answers the editor
//! asks for, from treaty-dsl's parser, validator and queries.
//!
//! A document is compiled with every `.treaty` file under its directory
//! (`target/`, `node_modules/` and hidden directories skipped, at most
//! [`MAX_FILES`] files and [`MAX_ENTRIES`] directory entries, nearest
//! first), the open documents' texts replacing what is on disk. A
//! namespace those files import but do not declare is looked for in the
//! editor's workspace folders: the files that declare it in the directory
//! nearest the document are added, and so on for what they import. Only
//! the nearest directory counts because a repository may hold several
//! contract sets declaring one namespace (a contract before and after a
//! change), which compiled together would clash.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use treaty_dsl::ast;
use treaty_dsl::query::{self, Declaration, DeclarationKind, ReferenceKind};
use treaty_dsl::schema::{Field, Scalar, Shape};
use treaty_dsl::{canonical, compile, parse_file, Config, Diagnostic, QualifiedName, Schema, Sources};

/// Contract files read from one directory at most, and directory entries
/// looked at at most, so that a file opened at the top of a huge tree (a
/// home directory) stays quick to check.
const MAX_FILES: usize = 2000;
const MAX_ENTRIES: usize = 20_000;

/// The `.treaty` files under `dir`, sorted (the nearest ones when there
/// are too many to look at).
fn contract_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = std::collections::VecDeque::from([dir.to_path_buf()]);
    let mut entries_seen = 0;
    while let Some(dir) = dirs.pop_front() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            entries_seen += 1;
            if entries_seen > MAX_ENTRIES {
                files.sort();
                return files;
            }
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push_back(path);
                }
            } else if name.ends_with(".treaty") && files.len() < MAX_FILES {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The namespaces each file declares and the ones its `use`s name.
fn namespaces(name: &Path, bytes: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut sources = Sources::new();
    let id = sources.add(name.display().to_string(), bytes.to_vec());
    let (file, _) = parse_file(&sources, id);
    let mut declared = BTreeSet::new();
    let mut used = BTreeSet::new();
    for item in &file.items {
        match &item.kind {
            ast::ItemKind::Namespace(path) => {
                declared.insert(path.dotted());
            }
            ast::ItemKind::Use(path) => {
                if let Some((namespace, _)) = path.dotted().rsplit_once('.') {
                    used.insert(namespace.to_string());
                }
            }
            _ => {}
        }
    }
    (declared, used)
}

/// The namespaces `texts` import and none of them declares.
fn imported_but_undeclared(texts: &[(PathBuf, Vec<u8>)]) -> BTreeSet<String> {
    let mut declared = BTreeSet::new();
    let mut used = BTreeSet::new();
    for (path, bytes) in texts {
        let (d, u) = namespaces(path, bytes);
        declared.extend(d);
        used.extend(u);
    }
    used.difference(&declared).cloned().collect()
}

/// A contract file of the workspace: its path, its bytes and the
/// namespaces it declares.
type Candidate = (PathBuf, Vec<u8>, BTreeSet<String>);

/// For each of `missing`, the files of `candidates` not yet in `texts`
/// that declare it, from the one directory nearest `dir` that has any.
fn declaring_files(
    candidates: &[Candidate],
    texts: &[(PathBuf, Vec<u8>)],
    missing: &BTreeSet<String>,
    dir: &Path,
) -> Vec<(PathBuf, Vec<u8>)> {
    let nearness = |p: &Path| {
        let parent = p.parent().unwrap_or(p);
        let shared = parent
            .components()
            .zip(dir.components())
            .take_while(|(a, b)| a == b)
            .count();
        // More components shared first, then fewer steps down from them.
        (std::cmp::Reverse(shared), parent.components().count() - shared)
    };
    let mut added: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for namespace in missing {
        let declaring: Vec<&Candidate> = candidates
            .iter()
            .filter(|(p, _, declares)| {
                declares.contains(namespace) && !texts.iter().any(|(t, _)| t == p) && !added.iter().any(|(a, _)| a == p)
            })
            .collect();
        let Some(nearest) = declaring.iter().map(|(p, _, _)| nearness(p)).min() else {
            continue;
        };
        let nearest_dir = declaring
            .iter()
            .find(|(p, _, _)| nearness(p) == nearest)
            .and_then(|(p, _, _)| p.parent().map(Path::to_path_buf));
        for (path, bytes, _) in declaring {
            if path.parent().map(Path::to_path_buf) == nearest_dir {
                added.push((path.clone(), bytes.clone()));
            }
        }
    }
    added
}

/// One compilation: the files, their trees, the schema when they are
/// valid, and every diagnostic.
pub struct Analysis {
    pub sources: Sources,
    /// Each source's path, in source order.
    pub paths: Vec<PathBuf>,
    /// Each source's tree, in source order.
    pub files: Vec<ast::File>,
    pub schema: Option<Schema>,
    pub diagnostics: Vec<Diagnostic>,
    declarations: HashMap<QualifiedName, (usize, Declaration)>,
}

impl Analysis {
    /// Compiles the document at `path` with its neighbours and the files
    /// of `roots` that declare what they import; `open` holds the texts
    /// of open documents.
    pub fn of(path: &Path, open: &HashMap<PathBuf, String>, roots: &[PathBuf]) -> Analysis {
        let dir = path.parent().unwrap_or(Path::new("/"));
        let mut paths = contract_files(dir);
        for open_path in open.keys() {
            if open_path.starts_with(dir) && !paths.contains(open_path) {
                paths.push(open_path.clone());
            }
        }
        if !paths.iter().any(|p| p == path) {
            paths.push(path.to_path_buf());
        }
        paths.sort();
        let read = |p: &Path| match open.get(p) {
            Some(text) => Some(text.clone().into_bytes()),
            None => std::fs::read(p).ok(),
        };
        let mut texts: Vec<(PathBuf, Vec<u8>)> = paths.into_iter().filter_map(|p| read(&p).map(|b| (p, b))).collect();
        let mut workspace: Option<Vec<Candidate>> = None;
        loop {
            let missing = imported_but_undeclared(&texts);
            if missing.is_empty() {
                break;
            }
            // Read and parsed once per analysis, and only when something
            // is missing: the usual document imports from its own folder.
            let candidates = workspace.get_or_insert_with(|| {
                let mut files: Vec<PathBuf> = roots.iter().flat_map(|root| contract_files(root)).collect();
                files.sort();
                files.dedup();
                files
                    .into_iter()
                    .filter_map(|p| read(&p).map(|b| (p, b)))
                    .map(|(p, b)| {
                        let declares = namespaces(&p, &b).0;
                        (p, b, declares)
                    })
                    .collect()
            });
            let added = declaring_files(candidates, &texts, &missing, dir);
            if added.is_empty() {
                break;
            }
            texts.extend(added);
        }
        let mut sources = Sources::new();
        let mut kept = Vec::with_capacity(texts.len());
        for (p, bytes) in texts {
            sources.add(p.display().to_string(), bytes);
            kept.push(p);
        }
        let files: Vec<ast::File> = sources.iter().map(|(id, _)| parse_file(&sources, id).0).collect();
        let (schema, diagnostics) = match compile(&sources, &Config::default()) {
            Ok(schema) => (Some(schema), Vec::new()),
            Err(diagnostics) => (None, diagnostics.items),
        };
        let mut declarations = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            for d in query::declarations(file) {
                declarations.entry(d.name.clone()).or_insert((i, d));
            }
        }
        Analysis {
            sources,
            paths: kept,
            files,
            schema,
            diagnostics,
            declarations,
        }
    }

    /// The index of the file at `path`.
    pub fn index(&self, path: &Path) -> Option<usize> {
        self.paths.iter().position(|p| p == path)
    }

    pub fn text(&self, index: usize) -> &str {
        self.sources.iter().nth(index).map_or("", |(_, f)| f.text.as_str())
    }

    /// The index of the file a span points into.
    pub fn index_of_span(&self, span: treaty_dsl::Span) -> Option<usize> {
        self.sources.iter().position(|(id, _)| id == span.source)
    }

    /// The declaration the name at `offset` of file `index` refers to.
    pub fn definition(&self, index: usize, offset: usize) -> Option<(usize, &Declaration)> {
        let file = self.files.get(index)?;
        let reference = query::reference_at(file, offset)?;
        let name = query::resolve(file, &reference, |q| self.declarations.contains_key(q))?;
        self.declarations.get(&name).map(|(i, d)| (*i, d))
    }

    /// Markdown about the name at `offset` of file `index`, with the
    /// range of that name.
    pub fn hover(&self, index: usize, offset: usize) -> Option<(String, treaty_dsl::Span)> {
        let file = self.files.get(index)?;
        let reference = query::reference_at(file, offset)?;
        if reference.kind == ReferenceKind::Type {
            if let Some(scalar) = Scalar::from_name(&reference.text) {
                return Some((
                    format!("```treaty\n{}\n```\n\nA built-in type.", scalar.name()),
                    reference.span,
                ));
            }
        }
        let (_, declaration) = self.definition(index, offset)?;
        Some((self.describe(declaration), reference.span))
    }

    fn describe(&self, d: &Declaration) -> String {
        let mut out = format!("```treaty\n{} {}\n```\n", d.kind.as_str(), d.name);
        if !d.docs.is_empty() {
            out.push('\n');
            out.push_str(&d.docs.join("\n"));
            out.push('\n');
        }
        if d.kind == DeclarationKind::Fragment {
            let _ = write!(out, "\n{}", self.fragment_fields(d));
            return out;
        }
        let Some(schema) = &self.schema else {
            out.push_str("\n*Fields, versions and fingerprints show once the contracts compile.*\n");
            return out;
        };
        // Messages are listed under their contract name on the wire.
        let contract_name = match d.kind {
            DeclarationKind::Command | DeclarationKind::Event => schema.message(&d.name).map(|m| m.wire.clone()),
            _ => None,
        }
        .unwrap_or_else(|| d.name.to_string());
        let fingerprints: Vec<(u32, String)> = canonical::contracts(schema)
            .into_iter()
            .filter(|c| c.name == contract_name)
            .map(|c| (c.version, c.fingerprint))
            .collect();
        let fingerprint = |version: u32| {
            fingerprints
                .iter()
                .find(|(v, _)| *v == version)
                .map_or(String::new(), |(_, f)| format!(", fingerprint `{f}`"))
        };
        let namespace = schema.namespaces.get(&d.name.namespace);
        match d.kind {
            DeclarationKind::Command | DeclarationKind::Event => {
                if let Some(message) = schema.message(&d.name) {
                    if message.wire != d.name.to_string() {
                        let _ = writeln!(out, "\nOn the wire: `{}`", message.wire);
                    }
                    let _ = write!(
                        out,
                        "\n**v{}** (current{}):\n{}",
                        message.current.version,
                        fingerprint(message.current.version),
                        fields(&message.current.fields)
                    );
                    if let Some(aggregate) = &message.aggregate {
                        let _ = writeln!(out, "\nIn aggregate `{aggregate}`.");
                    }
                    for shape in &message.history {
                        out.push_str(&earlier(shape, &fingerprint(shape.version)));
                    }
                }
            }
            DeclarationKind::Record => {
                if let Some(record) = schema.record(&d.name) {
                    let _ = write!(out, "\nFields{}:\n{}", fingerprint(1), fields(&record.fields));
                }
            }
            DeclarationKind::Enum => {
                if let Some(e) = schema.enumeration(&d.name) {
                    let names: Vec<String> = e.variants.iter().map(|v| format!("`{}`", v.name)).collect();
                    let _ = writeln!(out, "\nVariants{}: {}", fingerprint(1), names.join(", "));
                }
            }
            DeclarationKind::Id => {
                if let Some(id) = schema.id_type(&d.name) {
                    let _ = writeln!(out, "\nWraps `{}`{}.", id.inner.name(), fingerprint(1));
                }
            }
            DeclarationKind::Aggregate => {
                if let Some(a) = namespace.and_then(|n| n.aggregates.iter().find(|a| a.name == d.name)) {
                    let _ = writeln!(out, "\nIdentity: `{}: {}`", a.identity.name, a.identity.ty);
                    let list = |names: &[QualifiedName]| {
                        names
                            .iter()
                            .map(|n| format!("`{}`", n.name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let _ = writeln!(out, "\nCommands: {}\n\nEvents: {}", list(&a.commands), list(&a.events));
                }
            }
            DeclarationKind::Fragment => {}
        }
        out
    }

    fn fragment_fields(&self, d: &Declaration) -> String {
        let Some((index, _)) = self.declarations.get(&d.name) else {
            return String::new();
        };
        let mut out = String::from("Expands to:\n");
        for item in &self.files[*index].items {
            if let ast::ItemKind::Const(c) = &item.kind {
                if c.name.name == d.name.name {
                    for f in &c.fields {
                        let wire = f.wire.as_ref().map_or(String::new(), |w| format!(" wire {:?}", w.name));
                        let _ = writeln!(out, "- `{}: {}{wire}`", f.name.name, type_text(&f.ty));
                    }
                }
            }
        }
        out
    }

    /// Completion candidates for file `index`: keywords, built-in types,
    /// the types and fragments it can name (short names for its namespace
    /// and its imports, full names for the rest).
    pub fn completions(&self, index: usize) -> Vec<(String, Completion, String)> {
        let mut out: Vec<(String, Completion, String)> = Vec::new();
        for keyword in KEYWORDS {
            out.push((keyword.to_string(), Completion::Keyword, String::new()));
        }
        for scalar in Scalar::ALL {
            out.push((
                scalar.name().to_string(),
                Completion::Builtin,
                "built-in type".to_string(),
            ));
        }
        let file = self.files.get(index);
        let own = file.and_then(query::namespace);
        let imports = file.map(query::imports).unwrap_or_default();
        let mut declarations: Vec<&Declaration> = self.declarations.values().map(|(_, d)| d).collect();
        declarations.sort_by(|a, b| a.name.cmp(&b.name));
        for d in declarations {
            let kind = match d.kind {
                DeclarationKind::Fragment => Completion::Fragment,
                DeclarationKind::Id | DeclarationKind::Record | DeclarationKind::Enum => Completion::Type(d.kind),
                _ => continue,
            };
            let short =
                own.as_deref() == Some(d.name.namespace.as_str()) || imports.iter().any(|(_, full)| *full == d.name);
            let label = if short { d.name.name.clone() } else { d.name.to_string() };
            if kind == Completion::Fragment && !short {
                continue;
            }
            let detail = format!("{} {}", d.kind.as_str(), d.name);
            out.push((label, kind, detail));
        }
        out
    }
}

/// What a completion candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Keyword,
    Builtin,
    Fragment,
    Type(DeclarationKind),
}

const KEYWORDS: [&str; 13] = [
    "namespace",
    "use",
    "const",
    "id",
    "record",
    "enum",
    "aggregate",
    "display",
    "was",
    "wire",
    "true",
    "false",
    "none",
];

fn fields(fields: &[Field]) -> String {
    let mut out = String::new();
    for f in fields {
        let default = f
            .default
            .as_ref()
            .map_or(String::new(), |v| format!(" = {}", canonical::value_json(v)));
        let wire = if f.wire == f.name {
            String::new()
        } else {
            format!(" wire {:?}", f.wire)
        };
        let _ = writeln!(out, "- `{}: {}{default}{wire}`", f.name, f.ty);
    }
    out
}

fn earlier(shape: &Shape, fingerprint: &str) -> String {
    format!("\n**v{}**{fingerprint}:\n{}", shape.version, fields(&shape.fields))
}

fn type_text(ty: &ast::TypeExpr) -> String {
    let inner = match &ty.kind {
        ast::TypeExprKind::Named(path) => path.dotted(),
        ast::TypeExprKind::List(t) => format!("[{}]", type_text(t)),
        ast::TypeExprKind::Map(k, v) => format!("{{{}: {}}}", type_text(k), type_text(v)),
    };
    if ty.optional {
        format!("{inner}?")
    } else {
        inner
    }
}
