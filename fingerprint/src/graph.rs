//! The item graph of a package: every target's module tree, read from its
//! root file by following `mod` declarations (with `#[path]`) and
//! `include!("file")`, the items of each module, and name resolution
//! between them.
//!
//! Resolution follows Rust's rules where they are cheap to follow (items
//! of a module, its `use` declarations and glob imports, `crate::`,
//! `self::`, `super::`, extern crates) and over-approximates where they
//! are not: a name it cannot resolve reaches every item of that name in
//! the target, a method call every method of that name, and a name no
//! item has every macro whose tokens mention it. A rebuild too many costs
//! time; a missed one costs correctness.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;

use crate::package::{Package, TargetKind};
use crate::tokens::{impl_key, text_hash, write_tokens};

pub(crate) type NodeId = usize;
pub(crate) type ModId = usize;

/// How deep modules and lookups nest before the loader or resolver gives
/// up on a branch (a file including itself, a cycle of imports).
const MAX_DEPTH: usize = 64;

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Fn,
    Const,
    Static,
    Struct,
    Enum,
    Union,
    TypeAlias,
    Trait,
    /// A `macro_rules!` definition.
    Macro,
    /// An item-level macro call (`lazy_static! { ... }`).
    MacroCall,
    Use,
    AssocFn,
    AssocConst,
    AssocType,
    AssocMacro,
    /// An impl block without items (`impl Send for X {}`).
    EmptyImpl,
    Foreign,
    /// A file syn cannot parse, kept whole.
    Unparsed,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Fn | Kind::AssocFn => "fn",
            Kind::Const | Kind::AssocConst => "const",
            Kind::Static => "static",
            Kind::Struct => "struct",
            Kind::Enum => "enum",
            Kind::Union => "union",
            Kind::TypeAlias | Kind::AssocType => "type",
            Kind::Trait => "trait",
            Kind::Macro => "macro",
            Kind::MacroCall | Kind::AssocMacro => "macro call",
            Kind::Use => "use",
            Kind::EmptyImpl => "impl",
            Kind::Foreign => "extern block",
            Kind::Unparsed => "file",
        }
    }

    fn is_type(self) -> bool {
        matches!(
            self,
            Kind::Struct | Kind::Enum | Kind::Union | Kind::TypeAlias | Kind::Trait
        )
    }

    /// Whether the item is found by its name in its module.
    fn is_named(self) -> bool {
        matches!(
            self,
            Kind::Fn
                | Kind::Const
                | Kind::Static
                | Kind::Struct
                | Kind::Enum
                | Kind::Union
                | Kind::TypeAlias
                | Kind::Trait
                | Kind::Macro
        )
    }
}

/// One item (or, for impl blocks, one associated item).
pub(crate) struct Node {
    pub kind: Kind,
    /// The name code refers to it by; empty for uses and the like.
    pub name: String,
    pub module: ModId,
    /// What follows the module prefix in its label (`Balance::total`).
    pub tail: String,
    /// The hash of its tokens (for associated items, with the impl's
    /// header).
    pub hash: u128,
    /// The tokens whose references it reaches.
    scan: TokenStream,
    /// The impl block of an associated item.
    imp: Option<usize>,
    /// An enum's variants, which a glob import of the enum brings in.
    variants: Vec<String>,
    /// Every identifier in a macro's tokens: what it may define.
    defines: Vec<String>,
}

/// An impl block.
pub(crate) struct Impl {
    pub module: ModId,
    pub nodes: Vec<NodeId>,
    /// The analysis key, for `#[treaty::projection]` impls.
    pub projection: Option<u128>,
    /// The type it implements `Projection` for and its `NAME`, for reports.
    pub self_label: String,
    pub projection_name: Option<String>,
    /// For `impl From<FooV1> for ...`: the contract `Foo`.
    pub upcast: Option<String>,
    header: TokenStream,
    self_ty: syn::Type,
    trait_path: Option<syn::Path>,
    generics: Vec<String>,
}

/// A module of one target.
pub(crate) struct Module {
    pub target: usize,
    /// The path from the crate root.
    pub path: Vec<String>,
    parent: Option<ModId>,
    children: HashMap<String, ModId>,
    names: HashMap<String, Vec<NodeId>>,
    uses: HashMap<String, Vec<Import>>,
    globs: Vec<Import>,
}

/// A name or glob a `use` (or `extern crate`) brings into a module.
#[derive(Clone)]
struct Import {
    node: Option<NodeId>,
    path: Vec<String>,
    leading: bool,
}

/// One target's module tree.
pub(crate) struct TargetTree {
    pub kind: TargetKind,
    pub crate_name: String,
    pub root: ModId,
    /// Every file read for it.
    pub files: Vec<PathBuf>,
    /// Whether a file of it could not be read or parsed: its projections
    /// then use the package-wide fallback.
    pub unparsed: bool,
}

/// What a path or name resolves to.
#[derive(Default, Debug)]
pub(crate) struct Resolution {
    nodes: Vec<NodeId>,
    modules: Vec<ModId>,
    /// The `use` items the resolution went through.
    via: Vec<NodeId>,
    /// Extern crates, by the name code uses.
    externs: Vec<String>,
    /// Names it could not resolve, reached by name, each with the modules
    /// it was looked for in.
    unknown: Vec<(String, Vec<ModId>)>,
}

impl Resolution {
    fn merge(&mut self, other: Resolution) {
        self.nodes.extend(other.nodes);
        self.modules.extend(other.modules);
        self.via.extend(other.via);
        self.externs.extend(other.externs);
        self.unknown.extend(other.unknown);
    }

    fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.modules.is_empty() && self.externs.is_empty()
    }
}

/// A reference found in an item's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ref {
    Path { segments: Vec<String>, leading: bool },
    Method(String),
    Macro(Vec<String>),
}

/// What an item reaches: the items, and the extern crates by code name.
#[derive(Default)]
pub(crate) struct Closure {
    pub nodes: BTreeSet<NodeId>,
    pub externs: BTreeSet<String>,
}

/// The package's items.
pub(crate) struct Graph {
    pub package: Package,
    pub targets: Vec<TargetTree>,
    pub modules: Vec<Module>,
    pub nodes: Vec<Node>,
    pub impls: Vec<Impl>,
    /// Files that could not be read where a `mod` pointed.
    pub warnings: Vec<String>,
    lib: Option<usize>,
    by_name: Vec<HashMap<String, Vec<NodeId>>>,
    /// Per module, the item-level macro calls (and extern blocks) that may
    /// define each name: every identifier in their tokens, and in the body
    /// of the crate's `macro_rules!` they call.
    definers: HashMap<ModId, HashMap<String, Vec<NodeId>>>,
    /// Per target, the macro calls that may define a method of each name:
    /// those in impl blocks, and item-level ones that may expand to an
    /// impl.
    method_definers: Vec<HashMap<String, Vec<NodeId>>>,
    methods: Vec<HashMap<String, Vec<NodeId>>>,
    calls: Vec<HashMap<String, Vec<NodeId>>>,
    impls_by_node: HashMap<NodeId, Vec<usize>>,
    impls_by_name: Vec<HashMap<String, Vec<usize>>>,
}

/// Where the file being read sits, for finding the files of its modules.
#[derive(Clone)]
struct Place {
    /// The directory of the file.
    file_dir: PathBuf,
    /// Where `mod x;` looks: the file's directory for `mod.rs`, crate
    /// roots and `#[path]` files, `dir/name/` for `name.rs`.
    child_dir: PathBuf,
    /// Inline modules entered since the file started.
    inline: Vec<String>,
}

impl Graph {
    /// Reads every target of `package`.
    pub(crate) fn load(package: Package) -> Graph {
        let mut graph = Graph {
            package,
            targets: Vec::new(),
            modules: Vec::new(),
            nodes: Vec::new(),
            impls: Vec::new(),
            warnings: Vec::new(),
            lib: None,
            by_name: Vec::new(),
            definers: HashMap::new(),
            method_definers: Vec::new(),
            methods: Vec::new(),
            calls: Vec::new(),
            impls_by_node: HashMap::new(),
            impls_by_name: Vec::new(),
        };
        let targets = graph.package.targets.clone();
        for (index, target) in targets.iter().enumerate() {
            let root = graph.new_module(index, Vec::new(), None);
            graph.targets.push(TargetTree {
                kind: target.kind,
                crate_name: target.crate_name.clone(),
                root,
                files: Vec::new(),
                unparsed: false,
            });
            if target.kind == TargetKind::Lib {
                graph.lib = Some(index);
            }
            graph.load_file(root, &target.root, true, 0);
        }
        graph.index();
        graph
    }

    fn new_module(&mut self, target: usize, path: Vec<String>, parent: Option<ModId>) -> ModId {
        self.modules.push(Module {
            target,
            path,
            parent,
            children: HashMap::new(),
            names: HashMap::new(),
            uses: HashMap::new(),
            globs: Vec::new(),
        });
        self.modules.len() - 1
    }

    fn load_file(&mut self, module: ModId, file: &Path, mod_rs: bool, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let target = self.modules[module].target;
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                // A module whose file the analysis cannot find (one behind
                // `#[cfg_attr(..., path = ...)]`, say) may hold what a
                // projection calls: the target's projections fall back to
                // counting every file.
                self.targets[target].unparsed = true;
                self.warnings.push(format!("cannot read {}: {error}", file.display()));
                return;
            }
        };
        self.targets[target].files.push(file.to_path_buf());
        let file_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let child_dir = if mod_rs {
            file_dir.clone()
        } else {
            file_dir.join(file.file_stem().unwrap_or_default())
        };
        let place = Place {
            file_dir,
            child_dir,
            inline: Vec::new(),
        };
        match syn::parse_file(&text) {
            Ok(parsed) => {
                for item in &parsed.items {
                    self.add_item(module, item, &place, depth);
                }
            }
            Err(_) => {
                // Kept whole; every projection of the target then uses the
                // package-wide fallback, since the modules this file
                // declares are unknown.
                self.targets[target].unparsed = true;
                let hash = match text.parse::<TokenStream>() {
                    Ok(tokens) => crate::tokens::token_hash(&tokens),
                    Err(_) => text_hash(&text),
                };
                let relative = file.strip_prefix(&self.package.dir).unwrap_or(file);
                self.push(Node {
                    kind: Kind::Unparsed,
                    name: String::new(),
                    module,
                    tail: relative.display().to_string(),
                    hash,
                    scan: TokenStream::new(),
                    imp: None,
                    variants: Vec::new(),
                    defines: Vec::new(),
                });
            }
        }
    }

    fn push(&mut self, node: Node) -> NodeId {
        let id = self.nodes.len();
        if node.kind.is_named() && !node.name.is_empty() && node.name != "_" {
            self.modules[node.module]
                .names
                .entry(node.name.clone())
                .or_default()
                .push(id);
        }
        self.nodes.push(node);
        id
    }

    /// A node for a plain item.
    fn item_node(&mut self, module: ModId, kind: Kind, name: &syn::Ident, item: &syn::Item) -> NodeId {
        let tokens = item.to_token_stream();
        let name = unraw(name);
        self.push(Node {
            kind,
            name: name.clone(),
            module,
            tail: name,
            hash: crate::tokens::token_hash(&tokens),
            scan: tokens,
            imp: None,
            variants: Vec::new(),
            defines: Vec::new(),
        })
    }

    fn add_item(&mut self, module: ModId, item: &syn::Item, place: &Place, depth: usize) {
        match item {
            syn::Item::Fn(f) => {
                self.item_node(module, Kind::Fn, &f.sig.ident, item);
                self.nested(module, place, depth, |v| v.visit_block(&f.block));
            }
            syn::Item::Const(c) => {
                self.item_node(module, Kind::Const, &c.ident, item);
                self.nested(module, place, depth, |v| v.visit_expr(&c.expr));
            }
            syn::Item::Static(s) => {
                self.item_node(module, Kind::Static, &s.ident, item);
                self.nested(module, place, depth, |v| v.visit_expr(&s.expr));
            }
            syn::Item::Struct(s) => {
                self.item_node(module, Kind::Struct, &s.ident, item);
            }
            syn::Item::Union(u) => {
                self.item_node(module, Kind::Union, &u.ident, item);
            }
            syn::Item::Enum(e) => {
                let id = self.item_node(module, Kind::Enum, &e.ident, item);
                self.nodes[id].variants = e.variants.iter().map(|v| unraw(&v.ident)).collect();
                for variant in &e.variants {
                    if let Some((_, discriminant)) = &variant.discriminant {
                        self.nested(module, place, depth, |v| v.visit_expr(discriminant));
                    }
                }
            }
            syn::Item::Type(t) => {
                self.item_node(module, Kind::TypeAlias, &t.ident, item);
            }
            syn::Item::Trait(t) => {
                let id = self.item_node(module, Kind::Trait, &t.ident, item);
                self.nodes[id].defines = t
                    .items
                    .iter()
                    .filter_map(|i| match i {
                        syn::TraitItem::Fn(f) => Some(unraw(&f.sig.ident)),
                        _ => None,
                    })
                    .collect();
                for trait_item in &t.items {
                    if let syn::TraitItem::Fn(syn::TraitItemFn {
                        default: Some(block), ..
                    }) = trait_item
                    {
                        self.nested(module, place, depth, |v| v.visit_block(block));
                    }
                }
            }
            syn::Item::TraitAlias(t) => {
                self.item_node(module, Kind::Trait, &t.ident, item);
            }
            syn::Item::Macro(m) => self.add_macro(module, m, item, place, depth),
            syn::Item::Impl(i) => self.add_impl(module, i, place, depth),
            syn::Item::Mod(m) => self.add_mod(module, m, place, depth),
            syn::Item::Use(u) => {
                let tokens = item.to_token_stream();
                let id = self.push(Node {
                    kind: Kind::Use,
                    name: String::new(),
                    module,
                    tail: compact(&u.tree.to_token_stream()),
                    hash: crate::tokens::token_hash(&tokens),
                    scan: TokenStream::new(),
                    imp: None,
                    variants: Vec::new(),
                    defines: Vec::new(),
                });
                self.use_tree(module, id, &u.tree, Vec::new(), u.leading_colon.is_some());
            }
            syn::Item::ExternCrate(e) => {
                let name = e
                    .rename
                    .as_ref()
                    .map_or_else(|| unraw(&e.ident), |(_, rename)| unraw(rename));
                self.modules[module].uses.entry(name).or_default().push(Import {
                    node: None,
                    path: vec![unraw(&e.ident)],
                    leading: true,
                });
            }
            syn::Item::ForeignMod(_) | syn::Item::Verbatim(_) => {
                let tokens = item.to_token_stream();
                let defines = identifiers(&tokens);
                self.push(Node {
                    kind: Kind::Foreign,
                    name: String::new(),
                    module,
                    tail: compact(&tokens).chars().take(40).collect(),
                    hash: crate::tokens::token_hash(&tokens),
                    scan: tokens,
                    imp: None,
                    variants: Vec::new(),
                    defines,
                });
            }
            _ => {}
        }
    }

    /// Items inside a function body or constant, found by `visit`: added
    /// to the enclosing module, where `module_path!()` puts them too.
    fn nested(&mut self, module: ModId, place: &Place, depth: usize, visit: impl FnOnce(&mut Nested)) {
        let mut nested = Nested(Vec::new());
        visit(&mut nested);
        for item in nested.0 {
            self.add_item(module, &item, place, depth + 1);
        }
    }

    fn add_macro(&mut self, module: ModId, m: &syn::ItemMacro, item: &syn::Item, place: &Place, depth: usize) {
        let path = &m.mac.path;
        let last = path.segments.last().map(|s| unraw(&s.ident)).unwrap_or_default();
        if last == "macro_rules" {
            if let Some(ident) = &m.ident {
                let id = self.item_node(module, Kind::Macro, ident, item);
                self.nodes[id].defines = identifiers(&m.mac.tokens);
            }
            return;
        }
        if last == "include" && path.segments.len() == 1 {
            if let Ok(file) = syn::parse2::<syn::LitStr>(m.mac.tokens.clone()) {
                let file = place.file_dir.join(file.value());
                self.load_file(module, &file, true, depth + 1);
                return;
            }
        }
        let tokens = item.to_token_stream();
        let defines = identifiers(&m.mac.tokens);
        // `treaty::contract!` holds contract text, not Rust: its names are
        // contracts, which reach no Rust item. The call still counts as
        // an item (reached through the names it defines).
        let scan = if last == "contract" && (path.segments.len() == 1 || path.segments[0].ident == "treaty") {
            TokenStream::new()
        } else {
            tokens.clone()
        };
        self.push(Node {
            kind: Kind::MacroCall,
            name: last.clone(),
            module,
            tail: format!("{}!", compact(&path.to_token_stream())),
            hash: crate::tokens::token_hash(&tokens),
            scan,
            imp: None,
            variants: Vec::new(),
            defines,
        });
    }

    fn add_mod(&mut self, module: ModId, m: &syn::ItemMod, place: &Place, depth: usize) {
        let name = unraw(&m.ident);
        let target = self.modules[module].target;
        let mut path = self.modules[module].path.clone();
        path.push(name.clone());
        let child = self.new_module(target, path, Some(module));
        self.modules[module].children.insert(name.clone(), child);
        let path_attr = m.attrs.iter().find_map(|a| {
            let syn::Meta::NameValue(nv) = &a.meta else { return None };
            if !nv.path.is_ident("path") {
                return None;
            }
            match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            }
        });
        let inline_dir = |place: &Place| {
            let mut dir = place.child_dir.clone();
            for part in &place.inline {
                dir.push(part);
            }
            dir
        };
        match &m.content {
            Some((_, items)) => {
                let mut inner = place.clone();
                inner.inline.push(path_attr.unwrap_or(name));
                for item in items {
                    self.add_item(child, item, &inner, depth + 1);
                }
            }
            None => {
                let (file, mod_rs) = match path_attr {
                    Some(p) if place.inline.is_empty() => (place.file_dir.join(p), true),
                    Some(p) => (inline_dir(place).join(p), true),
                    None => {
                        let dir = inline_dir(place);
                        let flat = dir.join(format!("{name}.rs"));
                        if flat.is_file() {
                            (flat, false)
                        } else {
                            (dir.join(&name).join("mod.rs"), true)
                        }
                    }
                };
                self.load_file(child, &file, mod_rs, depth + 1);
            }
        }
    }

    fn add_impl(&mut self, module: ModId, item: &syn::ItemImpl, place: &Place, depth: usize) {
        let mut header_item = item.clone();
        header_item.items.clear();
        let header = header_item.to_token_stream();
        let mut header_text = String::new();
        write_tokens(header.clone(), &mut header_text);
        let self_label = compact(&item.self_ty.to_token_stream());
        let trait_path = item.trait_.as_ref().map(|(_, path, _)| path.clone());
        let label = match &trait_path {
            Some(path) => format!("<{self_label} as {}>", compact(&path.to_token_stream())),
            None => self_label.clone(),
        };
        let projection = item
            .attrs
            .iter()
            .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "projection"))
            .then(|| impl_key(item));
        let projection_name = item.items.iter().find_map(|i| match i {
            syn::ImplItem::Const(c) if c.ident == "NAME" => match &c.expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        let upcast = trait_path.as_ref().and_then(upcast_contract);
        let generics = item
            .generics
            .params
            .iter()
            .filter_map(|p| match p {
                syn::GenericParam::Type(t) => Some(unraw(&t.ident)),
                _ => None,
            })
            .collect();
        let index = self.impls.len();
        self.impls.push(Impl {
            module,
            nodes: Vec::new(),
            projection,
            self_label,
            projection_name,
            upcast,
            header,
            self_ty: (*item.self_ty).clone(),
            trait_path: trait_path.clone(),
            generics,
        });
        let mut nodes = Vec::new();
        for impl_item in &item.items {
            let (kind, name) = match impl_item {
                syn::ImplItem::Fn(f) => (Kind::AssocFn, unraw(&f.sig.ident)),
                syn::ImplItem::Const(c) => (Kind::AssocConst, unraw(&c.ident)),
                syn::ImplItem::Type(t) => (Kind::AssocType, unraw(&t.ident)),
                syn::ImplItem::Macro(m) => (Kind::AssocMacro, format!("{}!", compact(&m.mac.path.to_token_stream()))),
                _ => (Kind::AssocMacro, "?".to_string()),
            };
            let tokens = impl_item.to_token_stream();
            let mut text = header_text.clone();
            write_tokens(tokens.clone(), &mut text);
            let defines = match impl_item {
                syn::ImplItem::Macro(m) => identifiers(&m.mac.tokens),
                _ => Vec::new(),
            };
            let id = self.push(Node {
                kind,
                name: name.clone(),
                module,
                tail: format!("{label}::{name}"),
                hash: text_hash(&text),
                scan: tokens,
                imp: Some(index),
                variants: Vec::new(),
                defines,
            });
            nodes.push(id);
            if let syn::ImplItem::Fn(f) = impl_item {
                self.nested(module, place, depth, |v| v.visit_block(&f.block));
            }
        }
        if nodes.is_empty() {
            let tail = match &trait_path {
                Some(path) => format!(
                    "{} for {}",
                    compact(&path.to_token_stream()),
                    self.impls[index].self_label
                ),
                None => self.impls[index].self_label.clone(),
            };
            let id = self.push(Node {
                kind: Kind::EmptyImpl,
                name: String::new(),
                module,
                tail,
                hash: text_hash(&header_text),
                scan: TokenStream::new(),
                imp: Some(index),
                variants: Vec::new(),
                defines: Vec::new(),
            });
            nodes.push(id);
        }
        self.impls[index].nodes = nodes;
    }

    fn use_tree(&mut self, module: ModId, node: NodeId, tree: &syn::UseTree, prefix: Vec<String>, leading: bool) {
        let bind = |graph: &mut Graph, name: String, path: Vec<String>| {
            if name != "_" {
                graph.modules[module].uses.entry(name).or_default().push(Import {
                    node: Some(node),
                    path,
                    leading,
                });
            }
        };
        match tree {
            syn::UseTree::Path(p) => {
                let mut prefix = prefix;
                prefix.push(unraw(&p.ident));
                self.use_tree(module, node, &p.tree, prefix, leading);
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                if let Some(last) = prefix.last().cloned() {
                    bind(self, last, prefix);
                }
            }
            syn::UseTree::Name(n) => {
                let mut path = prefix;
                path.push(unraw(&n.ident));
                bind(self, unraw(&n.ident), path);
            }
            syn::UseTree::Rename(r) => {
                let mut path = prefix;
                if r.ident != "self" {
                    path.push(unraw(&r.ident));
                }
                bind(self, unraw(&r.rename), path);
            }
            syn::UseTree::Glob(_) => self.modules[module].globs.push(Import {
                node: Some(node),
                path: prefix,
                leading,
            }),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(module, node, tree, prefix.clone(), leading);
                }
            }
        }
    }

    /// Builds the lookup tables once every file is read.
    fn index(&mut self) {
        let count = self.targets.len();
        self.by_name = vec![HashMap::new(); count];
        self.method_definers = vec![HashMap::new(); count];
        self.methods = vec![HashMap::new(); count];
        self.calls = vec![HashMap::new(); count];
        self.impls_by_name = vec![HashMap::new(); count];
        for (id, node) in self.nodes.iter().enumerate() {
            let target = self.modules[node.module].target;
            if node.kind.is_named() && !node.name.is_empty() {
                self.by_name[target].entry(node.name.clone()).or_default().push(id);
            }
            match node.kind {
                Kind::AssocFn => self.methods[target].entry(node.name.clone()).or_default().push(id),
                Kind::Trait => {
                    for method in &node.defines {
                        self.methods[target].entry(method.clone()).or_default().push(id);
                    }
                }
                Kind::MacroCall => {
                    self.calls[target].entry(node.name.clone()).or_default().push(id);
                }
                _ => {}
            }
        }
        // What a call of one of the crate's `macro_rules!` may define is in
        // the macro's body as much as in the call.
        for id in 0..self.nodes.len() {
            let node = &self.nodes[id];
            if !matches!(node.kind, Kind::MacroCall | Kind::AssocMacro) {
                continue;
            }
            let target = self.modules[node.module].target;
            let name = node
                .name
                .trim_end_matches('!')
                .rsplit("::")
                .next()
                .unwrap_or_default()
                .to_string();
            let mut defines = node.defines.clone();
            for t in self.visible(target) {
                for &m in self.by_name[t].get(&name).into_iter().flatten() {
                    if self.nodes[m].kind == Kind::Macro {
                        defines.extend(self.nodes[m].defines.iter().cloned());
                    }
                }
            }
            defines.sort();
            defines.dedup();
            let (module, kind) = (node.module, node.kind);
            let impls = kind == Kind::AssocMacro || defines.iter().any(|d| d == "impl");
            for name in &defines {
                if matches!(kind, Kind::MacroCall) {
                    self.definers
                        .entry(module)
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .push(id);
                }
                if impls {
                    self.method_definers[target].entry(name.clone()).or_default().push(id);
                }
            }
        }
        for (id, node) in self.nodes.iter().enumerate() {
            if node.kind == Kind::Foreign {
                for name in &node.defines {
                    self.definers
                        .entry(node.module)
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .push(id);
                }
            }
        }
        for index in 0..self.impls.len() {
            let module = self.impls[index].module;
            let target = self.modules[module].target;
            let mut keyed = false;
            if let Some(head) = type_head(&self.impls[index].self_ty) {
                let segments = path_segments(head);
                let generic = segments.len() == 1 && self.impls[index].generics.contains(&segments[0]);
                if !generic && !segments.is_empty() {
                    let resolution = self.resolve_path(module, &segments, head.leading_colon.is_some());
                    for node in resolution.nodes {
                        self.impls_by_node.entry(node).or_default().push(index);
                        keyed = true;
                    }
                    if !keyed {
                        if let Some(last) = segments.last() {
                            self.impls_by_name[target].entry(last.clone()).or_default().push(index);
                        }
                    }
                }
            }
            if let Some(path) = self.impls[index].trait_path.clone() {
                let segments = path_segments(&path);
                let resolution = self.resolve_path(module, &segments, path.leading_colon.is_some());
                for node in resolution.nodes {
                    if self.nodes[node].kind == Kind::Trait {
                        self.impls_by_node.entry(node).or_default().push(index);
                    }
                }
            }
        }
    }

    fn target_of(&self, module: ModId) -> usize {
        self.modules[module].target
    }

    /// The targets whose items code in `target` can name: itself and,
    /// for the package's other targets, the library.
    fn visible(&self, target: usize) -> Vec<usize> {
        match self.lib {
            Some(lib) if lib != target => vec![target, lib],
            _ => vec![target],
        }
    }

    /// Looks `name` up in `module`: its items, child modules, imports and
    /// glob imports.
    fn lookup(&self, module: ModId, name: &str, stack: &mut Vec<(ModId, String)>, out: &mut Resolution) -> bool {
        if stack.len() > MAX_DEPTH || stack.iter().any(|(m, n)| *m == module && n == name) {
            return false;
        }
        stack.push((module, name.to_string()));
        let m = &self.modules[module];
        let mut found = false;
        if let Some(nodes) = m.names.get(name) {
            out.nodes.extend(nodes);
            found = true;
        }
        if let Some(&child) = m.children.get(name) {
            out.modules.push(child);
            found = true;
        }
        if let Some(imports) = m.uses.get(name) {
            for import in imports {
                out.via.extend(import.node);
                self.resolve_from(module, &import.path, import.leading, stack, out);
            }
            found = true;
        }
        if !found {
            for glob in &m.globs {
                let mut source = Resolution::default();
                self.resolve_from(module, &glob.path, glob.leading, stack, &mut source);
                let mut inner = Resolution::default();
                let mut hit = false;
                for &source_module in &source.modules {
                    hit |= self.lookup(source_module, name, stack, &mut inner);
                }
                for &node in &source.nodes {
                    if self.nodes[node].variants.iter().any(|v| v == name) {
                        inner.nodes.push(node);
                        hit = true;
                    }
                }
                if hit {
                    out.via.extend(glob.node);
                    out.via.extend(source.via);
                    out.merge(inner);
                    found = true;
                }
            }
        }
        stack.pop();
        found
    }

    /// Resolves a path as written in `module`.
    pub(crate) fn resolve_path(&self, module: ModId, segments: &[String], leading: bool) -> Resolution {
        let mut out = Resolution::default();
        self.resolve_from(module, segments, leading, &mut Vec::new(), &mut out);
        out
    }

    fn resolve_from(
        &self,
        module: ModId,
        segments: &[String],
        leading: bool,
        stack: &mut Vec<(ModId, String)>,
        out: &mut Resolution,
    ) {
        let Some(head) = segments.first() else { return };
        let last = segments.last().cloned().unwrap_or_default();
        if leading {
            if !self.extern_path(module, segments, stack, out) {
                out.unknown.push((last, Vec::new()));
            }
            return;
        }
        let mut current = Resolution::default();
        let mut rest = &segments[1..];
        match head.as_str() {
            "crate" => current.modules.push(self.targets[self.target_of(module)].root),
            "self" => current.modules.push(module),
            "super" => {
                let mut at = self.modules[module].parent.unwrap_or(module);
                while rest.first().is_some_and(|s| s == "super") {
                    at = self.modules[at].parent.unwrap_or(at);
                    rest = &rest[1..];
                }
                current.modules.push(at);
            }
            "Self" => return,
            name => {
                if !self.lookup(module, name, stack, &mut current) {
                    if !self.extern_path(module, segments, stack, out) {
                        out.unknown.push((last, vec![module]));
                    }
                    return;
                }
            }
        }
        for segment in rest {
            let mut next = Resolution::default();
            for &m in &current.modules {
                self.lookup(m, segment, stack, &mut next);
            }
            // A type, trait or enum ends the walk: what follows is one of
            // its associated items or variants, which reaching it covers.
            next.nodes
                .extend(current.nodes.iter().filter(|&&n| self.nodes[n].kind.is_type()));
            next.externs.append(&mut current.externs);
            out.via.append(&mut current.via);
            out.via.append(&mut next.via);
            if next.is_empty() {
                out.unknown.push((last, current.modules));
                return;
            }
            current = next;
        }
        out.merge(current);
    }

    /// A path whose head is an extern crate (or, from another target, the
    /// package's library).
    fn extern_path(
        &self,
        module: ModId,
        segments: &[String],
        stack: &mut Vec<(ModId, String)>,
        out: &mut Resolution,
    ) -> bool {
        let head = segments[0].as_str();
        let target = self.target_of(module);
        if let Some(lib) = self.lib.filter(|&lib| lib != target) {
            if self.targets[lib].crate_name == head {
                let mut path = vec!["crate".to_string()];
                path.extend(segments[1..].iter().cloned());
                if segments.len() > 1 {
                    self.resolve_from(self.targets[lib].root, &path, false, stack, out);
                }
                return true;
            }
        }
        if self.package.dependencies.contains_key(head) {
            out.externs.push(head.to_string());
            return true;
        }
        matches!(head, "std" | "core" | "alloc" | "proc_macro" | "test")
    }

    /// Everything `seeds` reach.
    pub(crate) fn closure(&self, seeds: &[NodeId]) -> Closure {
        let mut closure = Closure::default();
        let mut queue: Vec<NodeId> = seeds.to_vec();
        let mut headers = HashSet::new();
        while let Some(id) = queue.pop() {
            if !closure.nodes.insert(id) {
                continue;
            }
            let node = &self.nodes[id];
            let module = node.module;
            let target = self.target_of(module);
            if node.kind.is_type() {
                if let Some(impls) = self.impls_by_node.get(&id) {
                    for &i in impls {
                        queue.extend(&self.impls[i].nodes);
                    }
                }
                for t in self.visible(target) {
                    if let Some(impls) = self.impls_by_name[t].get(&node.name) {
                        for &i in impls {
                            queue.extend(&self.impls[i].nodes);
                        }
                    }
                }
            }
            if let Some(i) = node.imp {
                if headers.insert(i) {
                    let imp = &self.impls[i];
                    for reference in references(&imp.header) {
                        self.reach(imp.module, &reference, &mut queue, &mut closure.externs);
                    }
                }
            }
            if node.kind == Kind::Macro {
                for t in self.visible(target) {
                    if let Some(calls) = self.calls[t].get(&node.name) {
                        queue.extend(calls);
                    }
                }
            }
            for reference in references(&node.scan) {
                self.reach(module, &reference, &mut queue, &mut closure.externs);
            }
        }
        closure
    }

    fn reach(&self, module: ModId, reference: &Ref, queue: &mut Vec<NodeId>, externs: &mut BTreeSet<String>) {
        let target = self.target_of(module);
        let resolution = match reference {
            Ref::Path { segments, leading } => {
                if segments.len() == 1 && segments[0] == "self" {
                    return;
                }
                self.resolve_path(module, segments, *leading)
            }
            Ref::Method(name) => {
                let mut found = Resolution::default();
                for t in self.visible(target) {
                    if let Some(methods) = self.methods[t].get(name) {
                        found.nodes.extend(methods);
                    }
                }
                // A method no impl or trait of the crate defines is a
                // method of another crate's type, or one a macro writes:
                // never a free function.
                if found.nodes.is_empty() {
                    for t in self.visible(target) {
                        if let Some(nodes) = self.method_definers[t].get(name) {
                            found.nodes.extend(nodes);
                        }
                    }
                }
                found
            }
            Ref::Macro(segments) => {
                let mut found = self.resolve_path(module, segments, false);
                if segments.len() == 1 {
                    // `macro_rules!` macros are scoped by text, not by
                    // module: any of that name may be the one called.
                    found.unknown.clear();
                    for t in self.visible(target) {
                        if let Some(macros) = self.by_name[t].get(&segments[0]) {
                            found
                                .nodes
                                .extend(macros.iter().filter(|&&n| self.nodes[n].kind == Kind::Macro));
                        }
                    }
                }
                found
            }
        };
        queue.extend(&resolution.nodes);
        queue.extend(&resolution.via);
        externs.extend(resolution.externs);
        for (name, modules) in &resolution.unknown {
            self.by_name_fallback(target, name, modules, queue);
        }
    }

    /// A name resolution could not follow: every item of that name, every
    /// impl of a type of that name the analysis could not resolve, and,
    /// when there is none, every macro call whose tokens mention it in the
    /// modules it was looked for in (and the modules those import with a
    /// glob), where an item such a call defines would be.
    fn by_name_fallback(&self, target: usize, name: &str, modules: &[ModId], queue: &mut Vec<NodeId>) {
        if is_primitive(name) {
            return;
        }
        let before = queue.len();
        for t in self.visible(target) {
            if let Some(nodes) = self.by_name[t].get(name) {
                queue.extend(nodes);
            }
            if let Some(impls) = self.impls_by_name[t].get(name) {
                for &i in impls {
                    queue.extend(&self.impls[i].nodes);
                }
            }
        }
        if queue.len() == before {
            let mut places: Vec<ModId> = modules.to_vec();
            for &module in modules {
                for glob in &self.modules[module].globs {
                    places.extend(self.resolve_path(module, &glob.path, glob.leading).modules);
                }
            }
            for module in places {
                if let Some(nodes) = self.definers.get(&module).and_then(|d| d.get(name)) {
                    queue.extend(nodes);
                }
            }
        }
    }

    /// The label of a node: its kind and path, relative to `relative` when
    /// it lies in that module or below it, from the crate root otherwise.
    pub(crate) fn label(&self, id: NodeId, relative: Option<ModId>) -> String {
        let node = &self.nodes[id];
        let module = &self.modules[node.module];
        if node.kind == Kind::Unparsed {
            return format!("file {}", node.tail);
        }
        let inside = relative.filter(|&r| {
            let base = &self.modules[r];
            base.target == module.target && module.path.starts_with(&base.path)
        });
        let prefix: Vec<String> = match inside {
            Some(r) => module.path[self.modules[r].path.len()..].to_vec(),
            None => {
                let from_lib = relative.is_some_and(|r| self.modules[r].target != module.target);
                let head = if from_lib {
                    self.targets[module.target].crate_name.clone()
                } else {
                    "crate".to_string()
                };
                std::iter::once(head).chain(module.path.iter().cloned()).collect()
            }
        };
        // Items without a path of their own name their module apart.
        if matches!(node.kind, Kind::Use | Kind::EmptyImpl | Kind::MacroCall | Kind::Foreign) {
            return if prefix.is_empty() {
                format!("{} {}", node.kind.word(), node.tail)
            } else {
                format!("{} {} (in {})", node.kind.word(), node.tail, prefix.join("::"))
            };
        }
        let mut label = String::from(node.kind.word());
        label.push(' ');
        for part in &prefix {
            label.push_str(part);
            label.push_str("::");
        }
        label.push_str(&node.tail);
        label
    }
}

/// Collects the items nested in a block, without descending into them.
struct Nested(Vec<syn::Item>);

impl<'ast> Visit<'ast> for Nested {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        self.0.push(item.clone());
    }
}

fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_string).unwrap_or(text)
}

fn path_segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| unraw(&s.ident)).collect()
}

/// The path a type is named by: `Balance` in `&mut Balance<T>`.
fn type_head(ty: &syn::Type) -> Option<&syn::Path> {
    match ty {
        syn::Type::Path(p) => Some(&p.path),
        syn::Type::Reference(r) => type_head(&r.elem),
        syn::Type::Paren(p) => type_head(&p.elem),
        syn::Type::Group(g) => type_head(&g.elem),
        syn::Type::Ptr(p) => type_head(&p.elem),
        syn::Type::Slice(s) => type_head(&s.elem),
        syn::Type::Array(a) => type_head(&a.elem),
        _ => None,
    }
}

/// `From<FooV1>`: an upcast of contract `Foo` (generated shapes of earlier
/// versions are named `{Name}V{n}`).
fn upcast_contract(path: &syn::Path) -> Option<String> {
    let last = path.segments.last()?;
    if last.ident != "From" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let Some(syn::GenericArgument::Type(ty)) = args.args.first() else {
        return None;
    };
    let head = type_head(ty)?;
    let name = unraw(&head.segments.last()?.ident);
    let (base, version) = name.rsplit_once('V')?;
    (!base.is_empty() && !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then(|| base.to_string())
}

/// Every identifier in `tokens`, deduplicated, in order.
fn identifiers(tokens: &TokenStream) -> Vec<String> {
    fn walk(tokens: &TokenStream, seen: &mut HashSet<String>, out: &mut Vec<String>) {
        for token in tokens.clone() {
            match token {
                TokenTree::Ident(ident) => {
                    let name = ident.to_string();
                    let name = name.strip_prefix("r#").map(str::to_string).unwrap_or(name);
                    if seen.insert(name.clone()) {
                        out.push(name);
                    }
                }
                TokenTree::Group(group) => walk(&group.stream(), seen, out),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(tokens, &mut HashSet::new(), &mut out);
    out
}

/// Tokens as short text for labels: `From<billing::InvoiceIssuedV1>`.
pub(crate) fn compact(tokens: &TokenStream) -> String {
    let mut out = String::new();
    let mut word_before = false;
    fn push(tokens: &TokenStream, out: &mut String, word_before: &mut bool) {
        for token in tokens.clone() {
            match token {
                TokenTree::Ident(i) => {
                    if *word_before {
                        out.push(' ');
                    }
                    out.push_str(&i.to_string());
                    *word_before = true;
                }
                TokenTree::Literal(l) => {
                    if *word_before {
                        out.push(' ');
                    }
                    out.push_str(&l.to_string());
                    *word_before = true;
                }
                TokenTree::Punct(p) => {
                    out.push(p.as_char());
                    if p.as_char() == ',' {
                        out.push(' ');
                    }
                    *word_before = false;
                }
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::None => ("", ""),
                    };
                    out.push_str(open);
                    *word_before = false;
                    push(&g.stream(), out, word_before);
                    out.push_str(close);
                    *word_before = false;
                }
            }
        }
    }
    push(tokens, &mut out, &mut word_before);
    out
}

fn is_primitive(name: &str) -> bool {
    matches!(
        name,
        "bool"
            | "char"
            | "str"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
    )
}

/// Keywords, which never name an item (`crate`, `self`, `super` and
/// `Self` start paths and are kept).
fn is_keyword(name: &str) -> bool {
    matches!(
        name,
        "as" | "async"
            | "await"
            | "break"
            | "const"
            | "continue"
            | "dyn"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "static"
            | "struct"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "yield"
            | "union"
            | "macro_rules"
            | "_"
    )
}

fn is_punct(token: Option<&TokenTree>, c: char) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == c)
}

/// `::` at `tokens[i]`.
fn is_path_sep(tokens: &[TokenTree], i: usize) -> bool {
    matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
        && is_punct(tokens.get(i + 1), ':')
}

/// The references in `tokens`: paths, method calls and macro calls,
/// inside macro arguments and attributes too; doc attributes are skipped.
fn references(tokens: &TokenStream) -> Vec<Ref> {
    let mut out = Vec::new();
    scan(tokens, &mut out);
    out
}

fn scan(tokens: &TokenStream, out: &mut Vec<Ref>) {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Punct(p) if p.as_char() == '#' => {
                let bang = usize::from(is_punct(tokens.get(i + 1), '!'));
                if let Some(TokenTree::Group(g)) = tokens.get(i + 1 + bang) {
                    if g.delimiter() == Delimiter::Bracket {
                        let inner = g.stream();
                        let is_doc =
                            matches!(inner.clone().into_iter().next(), Some(TokenTree::Ident(i)) if i == "doc");
                        if !is_doc {
                            attribute_strings(&inner, out);
                            scan(&inner, out);
                        }
                        i += 2 + bang;
                        continue;
                    }
                }
                i += 1;
            }
            // A lifetime or a label: the identifier after `'` is not a name.
            TokenTree::Punct(p) if p.as_char() == '\'' => i += 2,
            TokenTree::Punct(p) if p.as_char() == ':' && is_path_sep(&tokens, i) => {
                let after_name = i > 0 && matches!(&tokens[i - 1], TokenTree::Ident(_))
                    || is_punct(i.checked_sub(1).and_then(|p| tokens.get(p)), '>');
                if after_name {
                    // `Type::<T>::item` or `<T as Trait>::item`: an
                    // associated item of a type the scan cannot name.
                    if let Some(TokenTree::Ident(ident)) = tokens.get(i + 2) {
                        out.push(Ref::Method(ident.to_string()));
                    }
                    i += 3;
                } else {
                    i = path_at(&tokens, i + 2, true, out);
                }
            }
            TokenTree::Ident(_) => i = path_at(&tokens, i, false, out),
            TokenTree::Group(g) => {
                scan(&g.stream(), out);
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// Reads the path starting at `tokens[start]` and records it; returns the
/// index after it.
fn path_at(tokens: &[TokenTree], start: usize, leading: bool, out: &mut Vec<Ref>) -> usize {
    let Some(TokenTree::Ident(first)) = tokens.get(start) else {
        return start + 1;
    };
    let first = first.to_string();
    if is_keyword(&first) {
        return start + 1;
    }
    let mut segments = vec![first.strip_prefix("r#").map(str::to_string).unwrap_or(first)];
    let mut end = start + 1;
    while is_path_sep(tokens, end) {
        match tokens.get(end + 2) {
            Some(TokenTree::Ident(next)) => {
                let next = next.to_string();
                segments.push(next.strip_prefix("r#").map(str::to_string).unwrap_or(next));
                end += 3;
            }
            _ => break,
        }
    }
    // `name: Type` and `Struct { name: value }`: a field or binding being
    // declared, not an item being named (items in type position, as in
    // `where Balance: Display`, are capitalised).
    let declared = segments.len() == 1
        && !leading
        && segments[0].starts_with(|c: char| c.is_lowercase() || c == '_')
        && matches!(tokens.get(end), Some(TokenTree::Punct(p)) if p.as_char() == ':' && p.spacing() == Spacing::Alone);
    if declared {
        return end;
    }
    let before = start.checked_sub(1).and_then(|p| tokens.get(p));
    let before_that = start.checked_sub(2).and_then(|p| tokens.get(p));
    let after_dot = !leading && is_punct(before, '.') && !is_punct(before_that, '.') && segments.len() == 1;
    if after_dot {
        // `.name(...)` and `.name::<T>(...)` call a method; a bare `.name`
        // reads a field, which the struct's definition covers.
        let call = matches!(tokens.get(end), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
            || is_path_sep(tokens, end);
        if call {
            out.push(Ref::Method(segments.remove(0)));
        }
    } else if is_punct(tokens.get(end), '!') && !matches!(tokens.get(end + 1), Some(TokenTree::Punct(_))) {
        out.push(Ref::Macro(segments));
    } else {
        out.push(Ref::Path { segments, leading });
    }
    end
}

/// Paths written as strings in attributes, such as serde's
/// `#[serde(default = "defaults::rate", with = "money")]`.
fn attribute_strings(tokens: &TokenStream, out: &mut Vec<Ref>) {
    for token in tokens.clone() {
        match token {
            TokenTree::Literal(literal) => {
                let Ok(text) = syn::parse2::<syn::LitStr>(literal.into_token_stream()) else {
                    continue;
                };
                let text = text.value();
                let (leading, body) = match text.strip_prefix("::") {
                    Some(rest) => (true, rest),
                    None => (false, text.as_str()),
                };
                let segments: Vec<String> = body.split("::").map(str::to_string).collect();
                let is_path = !body.is_empty()
                    && segments.iter().all(|s| {
                        !s.is_empty()
                            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
                            && !s.starts_with(|c: char| c.is_ascii_digit())
                    });
                if is_path {
                    out.push(Ref::Path { segments, leading });
                }
            }
            TokenTree::Group(group) => attribute_strings(&group.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(source: &str) -> Vec<Ref> {
        references(&source.parse().unwrap())
    }

    fn path(segments: &[&str]) -> Ref {
        Ref::Path {
            segments: segments.iter().map(|s| s.to_string()).collect(),
            leading: false,
        }
    }

    #[test]
    fn references_are_paths_methods_and_macros() {
        assert_eq!(
            refs("let x = pricing::line_total(&e) + y.weight() + y.field + vec![RATE][0]; ::serde::x(); 'a: loop {}"),
            vec![
                path(&["x"]),
                path(&["pricing", "line_total"]),
                path(&["e"]),
                path(&["y"]),
                Ref::Method("weight".into()),
                path(&["y"]),
                Ref::Macro(vec!["vec".into()]),
                path(&["RATE"]),
                Ref::Path {
                    segments: vec!["serde".into(), "x".into()],
                    leading: true
                },
            ]
        );
        assert_eq!(
            refs("Vec::<u8>::with_capacity(1); <T as Pricing>::price(x); 0..LIMIT"),
            vec![
                path(&["Vec"]),
                path(&["u8"]),
                Ref::Method("with_capacity".into()),
                path(&["T"]),
                path(&["Pricing"]),
                Ref::Method("price".into()),
                path(&["x"]),
                path(&["LIMIT"]),
            ]
        );
    }

    #[test]
    fn fields_and_bindings_being_declared_are_not_references() {
        assert_eq!(
            refs("struct S { total: u64, rate: Rate } fn f(clicks: u64) { S { total: weight(), rate } }"),
            vec![
                path(&["S"]),
                path(&["u64"]),
                path(&["Rate"]),
                path(&["f"]),
                path(&["u64"]),
                path(&["S"]),
                path(&["weight"]),
                path(&["rate"]),
            ]
        );
        // Type bounds on types still count.
        assert_eq!(
            refs("where Balance: Display"),
            vec![path(&["Balance"]), path(&["Display"])]
        );
    }

    #[test]
    fn attributes_count_but_docs_do_not() {
        assert_eq!(
            refs("/// Uses helper.\n#[serde(default = \"defaults::rate\")] x"),
            vec![
                path(&["defaults", "rate"]),
                path(&["serde"]),
                path(&["default"]),
                path(&["x"])
            ]
        );
    }

    #[test]
    fn upcasts_are_from_impls_of_earlier_versions() {
        let path: syn::Path = syn::parse_quote!(From<billing::InvoiceIssuedV1>);
        assert_eq!(upcast_contract(&path).as_deref(), Some("InvoiceIssued"));
        let path: syn::Path = syn::parse_quote!(From<Version>);
        assert_eq!(upcast_contract(&path), None);
        let path: syn::Path = syn::parse_quote!(Into<FooV1>);
        assert_eq!(upcast_contract(&path), None);
    }

    #[test]
    fn labels_are_compact() {
        let tokens: TokenStream = "From < billing :: InvoiceIssuedV1 > , & 'a str".parse().unwrap();
        assert_eq!(compact(&tokens), "From<billing::InvoiceIssuedV1>, &'a str");
    }
}
