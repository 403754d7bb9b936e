//! What each Treaty projection's code reaches in its crate.
//!
//! A projection's views must be rebuilt when anything that decides what it
//! writes changes. `#[treaty::projection]` sees only the impl it is on, so
//! the analysis of the whole package runs in build.rs:
//!
//! ```no_run
//! // The body of `fn main` in build.rs:
//! treaty_fingerprint::analyze().expect("projections analysed");
//! ```
//!
//! (`treaty_codegen::analyze_projections()` is the same function, for
//! build scripts that already use `treaty-codegen`.)
//!
//! [`analyze`] parses every target's module tree (the library, binaries,
//! `tests/`, `examples/` and `benches/`, following `mod` declarations,
//! `#[path]` and `include!`), finds each `#[treaty::projection]` impl and
//! computes what it reaches: functions, methods, constants, statics,
//! types with their impls, macros and the `use` declarations names were
//! resolved through, transitively, over-approximating where resolution is
//! ambiguous; the extern crates it names, by package name and version
//! from `Cargo.lock`; and the hand-written upcasts (`impl From<FooV1> for
//! ...`) of every contract, which the projection folds in for the
//! contracts it consumes. Each item is hashed by its tokens (whitespace and
//! comments never count). The result goes to `OUT_DIR`, where the
//! attribute includes it, with `cargo:rerun-if-changed` for every file
//! read, so cargo runs the analysis again whenever any of them changes.

mod graph;
mod package;
pub mod tokens;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use graph::{Graph, Kind};
pub use package::{Package, Target, TargetKind};
pub use tokens::{impl_key, text_hash, token_hash, write_tokens};

/// The directory under `OUT_DIR` the analysis writes.
pub const OUT_SUBDIR: &str = "treaty_projections";

/// The file in [`OUT_SUBDIR`] that is always written: the package-wide
/// fallback, used by projections the analysis did not find (those written
/// by a macro), and the sign that the analysis ran.
pub const FALLBACK_FILE: &str = "fallback.rs";

/// The file in [`OUT_SUBDIR`] holding the upcasts of each contract.
pub const UPCASTS_FILE: &str = "upcasts.rs";

/// The file in [`OUT_SUBDIR`] for the projection impl with `key`.
pub fn key_file(key: u128) -> String {
    format!("{key:032x}.rs")
}

/// Why the analysis failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    Io {
        /// Which file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// An environment variable cargo sets for build scripts is missing:
    /// [`analyze`] runs only in a build script.
    NotInBuildScript(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::NotInBuildScript(var) => write!(
                f,
                "`{var}` is not set: treaty_fingerprint::analyze() runs in a build script"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::NotInBuildScript(_) => None,
        }
    }
}

/// The items one projection reaches, by label (`fn pricing::line_total`,
/// `crate serde 1.0.219`), each with the hash of its tokens.
pub type Items = BTreeMap<String, u128>;

/// What the analysis found for one `#[treaty::projection]` impl in one
/// module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionCode {
    /// The key the attribute finds it by ([`impl_key`]).
    pub key: u128,
    /// The module it is in, as `module_path!()` writes it
    /// (`factory::projections`).
    pub module: String,
    /// The type it implements `Projection` for, as written.
    pub self_ty: String,
    /// Its `NAME`, when that is a string literal.
    pub name: Option<String>,
    /// Everything it reaches. Items in its module or below it are labelled
    /// relative to it, the others from the crate root (`crate::...`).
    pub items: Items,
    /// The target uses the package-wide fallback instead, because a file
    /// of it could not be parsed.
    pub fallback: bool,
}

impl ProjectionCode {
    /// The hash of all items, which the projection's fingerprint folds in.
    pub fn hash(&self) -> u128 {
        items_hash(&self.items)
    }
}

/// The result of an analysis.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// One entry per projection impl and module (a module compiled into
    /// two targets has one entry per target, merged when their module
    /// paths are equal).
    pub projections: Vec<ProjectionCode>,
    /// The hand-written upcasts of each contract (by its Rust type name)
    /// and what they reach, per target (by crate name): a target's own and
    /// those of the package's library, which it can use.
    pub upcasts: BTreeMap<(String, String), Items>,
    /// What a projection the analysis did not find counts: every source
    /// file of the package and every dependency.
    pub fallback: Items,
    /// Every file and directory whose change must run the analysis again.
    pub watched: Vec<PathBuf>,
    /// Files a `mod` declaration pointed at that could not be read.
    pub warnings: Vec<String>,
}

impl Analysis {
    /// The projection named `name` (its `NAME`), in the module whose path
    /// ends with `module`; for tests and reports.
    pub fn projection(&self, name: &str, module: &str) -> Option<&ProjectionCode> {
        self.projections
            .iter()
            .find(|p| p.name.as_deref() == Some(name) && p.module.ends_with(module))
    }

    /// Writes the files `#[treaty::projection]` includes into
    /// `out_dir/treaty_projections`, each only when its content changed,
    /// and removes those of projections no longer found.
    ///
    /// # Errors
    ///
    /// When a file cannot be written.
    pub fn write(&self, out_dir: &Path) -> Result<(), Error> {
        let dir = out_dir.join(OUT_SUBDIR);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        let mut by_key: BTreeMap<u128, Vec<&ProjectionCode>> = BTreeMap::new();
        for projection in &self.projections {
            by_key.entry(projection.key).or_default().push(projection);
        }
        for (key, entries) in by_key {
            let mut text = String::from("&[\n");
            for entry in entries {
                let items = if entry.fallback { &self.fallback } else { &entry.items };
                text.push_str("    ::treaty::projection::ModuleCode {\n");
                let _ = writeln!(text, "        module: {:?},", entry.module);
                let _ = writeln!(text, "        hash: {:#034x}u128,", items_hash(items));
                let _ = writeln!(text, "        items: {},", items_literal(items, "        "));
                text.push_str("    },\n");
            }
            text.push(']');
            files.insert(key_file(key), text);
        }
        let mut upcasts = String::from("&[\n");
        for ((krate, contract), items) in &self.upcasts {
            upcasts.push_str("    ::treaty::projection::Upcast {\n");
            let _ = writeln!(upcasts, "        krate: {krate:?},");
            let _ = writeln!(upcasts, "        contract: {contract:?},");
            let _ = writeln!(upcasts, "        hash: {:#034x}u128,", items_hash(items));
            let _ = writeln!(upcasts, "        items: {},", items_literal(items, "        "));
            upcasts.push_str("    },\n");
        }
        upcasts.push(']');
        files.insert(UPCASTS_FILE.to_string(), upcasts);
        let fallback = format!(
            "::treaty::projection::ModuleCode {{\n    module: \"\",\n    hash: {:#034x}u128,\n    items: {},\n}}",
            items_hash(&self.fallback),
            items_literal(&self.fallback, "")
        );
        files.insert(FALLBACK_FILE.to_string(), fallback);

        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !files.contains_key(&name) {
                std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
            }
        }
        for (name, text) in files {
            let path = dir.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text).map_err(io(&path))?;
            }
        }
        Ok(())
    }
}

/// Runs the analysis in a build script: analyses the package cargo is
/// building, writes the result to `OUT_DIR` and tells cargo which files
/// to watch. Call it from `build.rs` of every package with
/// `#[treaty::projection]` impls; without it they fail to compile.
///
/// # Errors
///
/// When it runs outside a build script or a file cannot be read or
/// written.
pub fn analyze() -> Result<Analysis, Error> {
    let var = |name: &'static str| std::env::var_os(name).ok_or(Error::NotInBuildScript(name));
    let dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let name = std::env::var("CARGO_PKG_NAME").ok();
    let version = std::env::var("CARGO_PKG_VERSION").ok();
    let analysis = analyze_package(&dir, name.as_deref(), version.as_deref())?;
    analysis.write(&out_dir)?;
    for path in &analysis.watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Ok(analysis)
}

/// Analyses the package in `dir` without writing anything. `name` and
/// `version` pick its entry in the lock file (the manifest's when `None`).
///
/// # Errors
///
/// When its `Cargo.toml` or lock file cannot be read.
pub fn analyze_package(dir: &Path, name: Option<&str>, version: Option<&str>) -> Result<Analysis, Error> {
    let package = Package::read(dir, name, version).map_err(|source| Error::Io {
        path: dir.join("Cargo.toml"),
        source,
    })?;
    let graph = Graph::load(package);
    let mut analysis = Analysis {
        warnings: graph.warnings.clone(),
        ..Analysis::default()
    };
    // Each dependency as an item: its package name and version, and for a
    // path dependency the tokens of its sources, transitively.
    let mut crates = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for (name, package) in &graph.package.dependencies {
        let label = format!("crate {package}");
        let hash = match graph.package.path_dependencies.get(name) {
            Some(dir) => {
                let sources = path_dependency_hash(dir, &mut seen, &mut analysis.watched);
                text_hash(&format!("{label}\t{sources:032x}"))
            }
            None => text_hash(&label),
        };
        crates.insert(name.clone(), (label, hash));
    }

    for imp in &graph.impls {
        let Some(key) = imp.projection else { continue };
        let module = &graph.modules[imp.module];
        let target = &graph.targets[module.target];
        let mut module_path = vec![target.crate_name.clone()];
        module_path.extend(module.path.iter().cloned());
        let closure = graph.closure(&imp.nodes);
        let items = items_of(&graph, &closure, Some(imp.module), &crates);
        let code = ProjectionCode {
            key,
            module: module_path.join("::"),
            self_ty: imp.self_label.clone(),
            name: imp.projection_name.clone(),
            items,
            fallback: target.unparsed,
        };
        // The same impl in the same module path twice: one file compiled
        // into two targets whose crate names agree (a library and a binary
        // of one package). Both get the union.
        match analysis
            .projections
            .iter_mut()
            .find(|p| p.key == code.key && p.module == code.module)
        {
            Some(existing) => {
                merge(&mut existing.items, code.items);
                existing.fallback |= code.fallback;
            }
            None => analysis.projections.push(code),
        }
    }

    for imp in &graph.impls {
        let Some(contract) = &imp.upcast else { continue };
        let closure = graph.closure(&imp.nodes);
        let items = items_of(&graph, &closure, None, &crates);
        let target = graph.modules[imp.module].target;
        // The library's upcasts serve every target; the others' their own.
        let users: Vec<&str> = if graph.targets[target].kind == TargetKind::Lib {
            graph.targets.iter().map(|t| t.crate_name.as_str()).collect()
        } else {
            vec![graph.targets[target].crate_name.as_str()]
        };
        for user in users {
            let key = (user.to_string(), contract.clone());
            merge(analysis.upcasts.entry(key).or_default(), items.clone());
        }
    }

    // The fallback: every source file of the package, read or not, and
    // every dependency.
    let mut files: Vec<PathBuf> = graph.targets.iter().flat_map(|t| t.files.iter().cloned()).collect();
    for folder in ["src", "tests", "examples", "benches"] {
        let folder = graph.package.dir.join(folder);
        if folder.is_dir() {
            rust_files(&folder, &mut files);
            analysis.watched.push(folder);
        }
    }
    files.sort();
    files.dedup();
    for file in &files {
        let hash = file_hash(file);
        let relative = file.strip_prefix(&graph.package.dir).unwrap_or(file);
        analysis.fallback.insert(format!("file {}", relative.display()), hash);
    }
    for (label, hash) in crates.values() {
        analysis.fallback.insert(label.clone(), *hash);
    }
    analysis.watched.extend(files);
    analysis.watched.extend(graph.package.manifest_files.iter().cloned());
    analysis.watched.sort();
    analysis.watched.dedup();
    Ok(analysis)
}

/// The hash of a path dependency's sources (`src/` and `build.rs`) and of
/// its own path dependencies, transitively; each package once (a second
/// time it counts as 0, its sources being in the first). Adds what to
/// watch to `watched`.
fn path_dependency_hash(
    dir: &Path,
    seen: &mut std::collections::BTreeSet<PathBuf>,
    watched: &mut Vec<PathBuf>,
) -> u128 {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(dir.clone()) {
        return 0;
    }
    let mut files = Vec::new();
    rust_files(&dir.join("src"), &mut files);
    let build = dir.join("build.rs");
    if build.is_file() {
        files.push(build);
    }
    files.sort();
    let mut text = String::new();
    for file in &files {
        let _ = writeln!(
            text,
            "{}\t{:032x}",
            file.strip_prefix(&dir).unwrap_or(file).display(),
            file_hash(file)
        );
    }
    watched.extend([dir.join("src"), dir.join("Cargo.toml")]);
    watched.extend(files);
    for (name, sub) in package::path_dependencies(&dir) {
        let hash = path_dependency_hash(&sub, seen, watched);
        let _ = writeln!(text, "crate {name}\t{hash:032x}");
    }
    text_hash(&text)
}

/// The hash of a Rust file's tokens, or of its text when it does not lex.
fn file_hash(file: &Path) -> u128 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    match text.parse::<proc_macro2::TokenStream>() {
        Ok(tokens) => token_hash(&tokens),
        Err(_) => text_hash(&text),
    }
}

/// Labels and hashes of a closure's items and extern crates.
fn items_of(
    graph: &Graph,
    closure: &graph::Closure,
    relative: Option<graph::ModId>,
    crates: &BTreeMap<String, (String, u128)>,
) -> Items {
    let mut items = Items::new();
    for &node in &closure.nodes {
        let mut label = graph.label(node, relative);
        // Two items with one label (two impls of a type under different
        // `cfg`s, an item nested in a function): number them in file
        // order, which is stable.
        if items.contains_key(&label) {
            let mut n = 2;
            while items.contains_key(&format!("{label} #{n}")) {
                n += 1;
            }
            label = format!("{label} #{n}");
        }
        debug_assert!(graph.nodes[node].kind != Kind::Unparsed || label.starts_with("file "));
        items.insert(label, graph.nodes[node].hash);
    }
    for name in &closure.externs {
        if let Some((label, hash)) = crates.get(name) {
            items.insert(label.clone(), *hash);
        }
    }
    items
}

/// Adds `more` to `items`; a label both hold with different hashes gets
/// the hash of the two, so either changing changes it.
fn merge(items: &mut Items, more: Items) {
    for (label, hash) in more {
        match items.get(&label) {
            Some(&existing) if existing != hash => {
                let (a, b) = (existing.min(hash), existing.max(hash));
                items.insert(label, text_hash(&format!("{a:032x}{b:032x}")));
            }
            _ => {
                items.insert(label, hash);
            }
        }
    }
}

/// The hash of a set of items: of their labels and hashes in label order.
pub fn items_hash(items: &Items) -> u128 {
    let mut text = String::new();
    for (label, hash) in items {
        let _ = writeln!(text, "{label}\t{hash:032x}");
    }
    text_hash(&text)
}

fn items_literal(items: &Items, indent: &str) -> String {
    if items.is_empty() {
        return "&[]".to_string();
    }
    let mut text = String::from("&[\n");
    for (label, hash) in items {
        let _ = writeln!(text, "{indent}    ({label:?}, {hash:#034x}u128),");
    }
    text.push_str(indent);
    text.push(']');
    text
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
