//! Checks the dependency rules of ARCHITECTURE.md against the code: the
//! rules are read from the `rules` block there, so the document and this
//! check cannot say different things. Every broken rule is reported, with
//! the file (and line, for source files) that breaks it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// One rule of the `rules` block, with the line it is on.
#[derive(Debug)]
enum Rule {
    /// `crate A uses B, C`: A's normal and build dependencies among the
    /// workspace's crates are a subset of these.
    CrateUses { krate: String, allowed: Vec<String> },
    /// `crate A never uses X, Y`.
    CrateNeverUses { krate: String, forbidden: Vec<String> },
    /// `dev-only CRATE`.
    DevOnly { krate: String },
    /// `module PATH never uses M, N`.
    ModuleNeverUses { path: String, forbidden: Vec<String> },
    /// `in DIR only PATH mentions P, Q` (`PATH` may be several, joined
    /// by `+`).
    OnlyMentions {
        dir: String,
        path: String,
        patterns: Vec<String>,
    },
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|item| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect()
}

/// The rules of ARCHITECTURE.md's `rules` block; panics with the line of
/// one it cannot read, since a rule this check skipped would pass unseen.
fn rules() -> Vec<(usize, Rule)> {
    let text = std::fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let start = text.find("```rules\n").expect("ARCHITECTURE.md has a ```rules block") + "```rules\n".len();
    let first_line = text[..start].lines().count() + 1;
    let end = start + text[start..].find("```").expect("the rules block is closed");
    let mut rules = Vec::new();
    for (index, line) in text[start..end].lines().enumerate() {
        let number = first_line + index;
        let words: Vec<&str> = line.split_whitespace().collect();
        let rule = match words.as_slice() {
            [] => continue,
            ["crate", krate, "uses", "nothing"] => Rule::CrateUses {
                krate: krate.to_string(),
                allowed: Vec::new(),
            },
            ["crate", krate, "never", "uses", ..] => Rule::CrateNeverUses {
                krate: krate.to_string(),
                forbidden: list(line.split_once(" never uses ").unwrap().1),
            },
            ["crate", krate, "uses", ..] => Rule::CrateUses {
                krate: krate.to_string(),
                allowed: list(line.split_once(" uses ").unwrap().1),
            },
            ["dev-only", krate] => Rule::DevOnly {
                krate: krate.to_string(),
            },
            ["module", path, "never", "uses", ..] => Rule::ModuleNeverUses {
                path: path.to_string(),
                forbidden: list(line.split_once(" never uses ").unwrap().1),
            },
            ["in", dir, "only", path, "mentions", ..] => Rule::OnlyMentions {
                dir: dir.to_string(),
                path: path.to_string(),
                patterns: list(line.split_once(" mentions ").unwrap().1),
            },
            _ => panic!("ARCHITECTURE.md:{number}: cannot read the rule `{line}`"),
        };
        rules.push((number, rule));
    }
    assert!(!rules.is_empty(), "the rules block of ARCHITECTURE.md is empty");
    rules
}

/// A workspace crate: its name, its manifest's path, and the names of its
/// normal and build dependencies and of its dev-dependencies.
struct Manifest {
    name: String,
    path: PathBuf,
    dependencies: BTreeSet<String>,
    dev_dependencies: BTreeSet<String>,
}

fn manifests() -> Vec<Manifest> {
    let root = workspace_root();
    let workspace: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let members = workspace["workspace"]["members"].as_array().expect("workspace members");
    let mut paths: Vec<PathBuf> = vec![root.join("Cargo.toml")];
    paths.extend(
        members
            .iter()
            .map(|member| root.join(member.as_str().unwrap()).join("Cargo.toml")),
    );
    paths
        .into_iter()
        .map(|path| {
            let manifest: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let names = |section: &str| -> BTreeSet<String> {
                manifest
                    .get(section)
                    .and_then(|table| table.as_table())
                    .map_or_else(BTreeSet::new, |table| {
                        table
                            .iter()
                            .map(|(key, value)| {
                                // `name = { package = "real-name" }` renames.
                                value.get("package").and_then(|p| p.as_str()).unwrap_or(key).to_string()
                            })
                            .collect()
                    })
            };
            let mut dependencies = names("dependencies");
            dependencies.extend(names("build-dependencies"));
            Manifest {
                name: manifest["package"]["name"].as_str().unwrap().to_string(),
                path: path.strip_prefix(&root).unwrap().to_path_buf(),
                dependencies,
                dev_dependencies: names("dev-dependencies"),
            }
        })
        .collect()
}

/// Every `.rs` file under `path` (a file or a directory), sorted.
fn rust_files(path: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if path.is_file() {
        files.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries {
            let entry = entry.unwrap().path();
            if entry.is_dir() {
                files.extend(rust_files(&entry));
            } else if entry.extension().is_some_and(|e| e == "rs") {
                files.push(entry);
            }
        }
    }
    files.sort();
    files
}

/// Every path a file names, in code and in `use` trees (never in comments
/// or docs), as its segments with the line it starts on.
#[derive(Default)]
struct Paths {
    found: Vec<(Vec<String>, usize)>,
}

impl Paths {
    fn of(file: &Path) -> Self {
        let text = std::fs::read_to_string(file).unwrap();
        let syntax = syn::parse_file(&text).unwrap_or_else(|error| panic!("{}: cannot parse: {error}", file.display()));
        let mut paths = Paths::default();
        paths.visit_file(&syntax);
        paths
    }

    fn flatten_use(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.flatten_use(prefix, &path.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(name) => self.push_use(prefix, name.ident.to_string(), line),
            syn::UseTree::Rename(rename) => self.push_use(prefix, rename.ident.to_string(), line),
            syn::UseTree::Glob(_) => self.found.push((prefix.clone(), line)),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.flatten_use(prefix, tree, line);
                }
            }
        }
    }

    fn push_use(&mut self, prefix: &[String], last: String, line: usize) {
        let mut path = prefix.to_vec();
        path.push(last);
        self.found.push((path, line));
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let line = path.segments.first().map_or(0, |s| s.ident.span().start().line);
        self.found
            .push((path.segments.iter().map(|s| s.ident.to_string()).collect(), line));
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let line = item.use_token.span.start().line;
        self.flatten_use(&mut Vec::new(), &item.tree, line);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Paths inside macro calls (`matches!`, `quote!`, ...) are tokens,
        // not syntax; look for `a :: b` sequences among them.
        let tokens: Vec<proc_macro2::TokenTree> = mac.tokens.clone().into_iter().collect();
        scan_tokens(&tokens, &mut self.found);
        syn::visit::visit_macro(self, mac);
    }
}

/// Collects `ident :: ident ...` runs in a token stream, recursively.
fn scan_tokens(tokens: &[proc_macro2::TokenTree], found: &mut Vec<(Vec<String>, usize)>) {
    let mut current: Vec<String> = Vec::new();
    let mut line = 0;
    let mut colons = 0;
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => {
                if current.is_empty() || colons != 2 {
                    if current.len() > 1 {
                        found.push((std::mem::take(&mut current), line));
                    }
                    current.clear();
                    line = ident.span().start().line;
                }
                current.push(ident.to_string());
                colons = 0;
            }
            proc_macro2::TokenTree::Punct(punct) if punct.as_char() == ':' => colons += 1,
            proc_macro2::TokenTree::Group(group) => {
                let inner: Vec<proc_macro2::TokenTree> = group.stream().into_iter().collect();
                scan_tokens(&inner, found);
                colons = 0;
            }
            _ => colons = 0,
        }
    }
    if current.len() > 1 {
        found.push((current, line));
    }
}

/// Whether `path` contains `pattern`'s segments consecutively.
fn contains(path: &[String], pattern: &[&str]) -> bool {
    path.windows(pattern.len())
        .any(|window| window.iter().zip(pattern).all(|(a, b)| a == b))
}

fn check(number: usize, rule: &Rule, manifests: &[Manifest], problems: &mut Vec<String>) {
    let root = workspace_root();
    let workspace_crates: BTreeSet<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
    let manifest = |krate: &str| {
        manifests
            .iter()
            .find(|m| m.name == krate)
            .unwrap_or_else(|| panic!("ARCHITECTURE.md:{number}: no workspace crate is named `{krate}`"))
    };
    let existing = |path: &str| {
        let full = root.join(path);
        assert!(full.exists(), "ARCHITECTURE.md:{number}: `{path}` does not exist");
        full
    };
    match rule {
        Rule::CrateUses { krate, allowed } => {
            let manifest = manifest(krate);
            for dependency in &manifest.dependencies {
                if workspace_crates.contains(dependency.as_str()) && !allowed.contains(dependency) {
                    problems.push(format!(
                        "{}: `{krate}` depends on `{dependency}`, which ARCHITECTURE.md:{number} does not allow",
                        manifest.path.display()
                    ));
                }
            }
        }
        Rule::CrateNeverUses { krate, forbidden } => {
            let manifest = manifest(krate);
            for dependency in forbidden.iter().filter(|d| manifest.dependencies.contains(*d)) {
                problems.push(format!(
                    "{}: `{krate}` depends on `{dependency}`, which ARCHITECTURE.md:{number} forbids",
                    manifest.path.display()
                ));
            }
        }
        Rule::DevOnly { krate } => {
            manifest(krate);
            for user in manifests.iter().filter(|m| m.dependencies.contains(krate)) {
                problems.push(format!(
                    "{}: `{}` depends on `{krate}` outside [dev-dependencies], which ARCHITECTURE.md:{number} forbids",
                    user.path.display(),
                    user.name
                ));
            }
            assert!(
                manifests.iter().any(|m| m.dev_dependencies.contains(krate)),
                "ARCHITECTURE.md:{number}: nothing uses `{krate}` at all"
            );
        }
        Rule::ModuleNeverUses { path, forbidden } => {
            for file in rust_files(&existing(path)) {
                for (segments, line) in Paths::of(&file).found {
                    if segments.first().is_some_and(|s| s == "crate") {
                        if let Some(module) = segments.get(1).filter(|m| forbidden.contains(m)) {
                            problems.push(format!(
                                "{}:{line}: uses `crate::{module}`, which ARCHITECTURE.md:{number} forbids under {path}",
                                file.strip_prefix(&root).unwrap().display()
                            ));
                        }
                    }
                }
            }
        }
        Rule::OnlyMentions { dir, path, patterns } => {
            let allowed: Vec<PathBuf> = path.split('+').map(existing).collect();
            let patterns: Vec<Vec<&str>> = patterns.iter().map(|p| p.split("::").collect()).collect();
            for file in rust_files(&existing(dir))
                .into_iter()
                .filter(|file| !allowed.iter().any(|a| file.starts_with(a)))
            {
                for (segments, line) in Paths::of(&file).found {
                    if let Some(pattern) = patterns.iter().find(|p| contains(&segments, p)) {
                        problems.push(format!(
                            "{}:{line}: mentions `{}`, which ARCHITECTURE.md:{number} allows only under {path}",
                            file.strip_prefix(&root).unwrap().display(),
                            pattern.join("::")
                        ));
                    }
                }
            }
        }
    }
}

#[test]
fn the_code_follows_the_dependency_rules() {
    let manifests = manifests();
    let mut problems = Vec::new();
    for (number, rule) in rules() {
        check(number, &rule, &manifests, &mut problems);
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "broken dependency rules:\n{}", problems.join("\n"));
}

/// The check itself finds what it looks for, so a rule cannot pass because
/// the scanner went blind.
#[test]
fn the_scanner_sees_paths_in_code_use_trees_and_macros_but_not_comments() {
    let dir = std::env::temp_dir().join(format!("treaty-architecture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sample.rs");
    std::fs::write(
        &file,
        "//! Mentions crate::bus in a comment only.\n\
         use crate::{store::EventStore, projection::{View}};\n\
         fn f() { let _ = crate::aggregate::Thing::new(); }\n\
         fn g() { assert!(matches!(x, rusqlite::Connection::open(p))); }\n",
    )
    .unwrap();
    let found = Paths::of(&file).found;
    std::fs::remove_dir_all(&dir).unwrap();
    let has = |pattern: &[&str]| found.iter().any(|(segments, _)| contains(segments, pattern));
    assert!(has(&["crate", "store", "EventStore"]));
    assert!(has(&["crate", "projection", "View"]));
    assert!(has(&["crate", "aggregate", "Thing", "new"]));
    assert!(has(&["Connection", "open"]));
    assert!(!has(&["crate", "bus"]), "comments are not code");
}
