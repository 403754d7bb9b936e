//! The package being analysed: its targets (from the conventional layout
//! and the target tables of `Cargo.toml`) and the versions of its
//! dependencies (from `Cargo.lock`).
//!
//! Both files are read with a line scanner rather than a TOML parser, so
//! that users' build scripts compile no TOML reader. The scanner knows the
//! few keys it needs: `name` and `path` in target tables, `package`
//! renames in dependency tables, and the `[[package]]` entries of the lock
//! file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What kind of target a crate root is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKind {
    /// The library.
    Lib,
    /// A binary.
    Bin,
    /// An integration test (`tests/`).
    Test,
    /// An example (`examples/`).
    Example,
    /// A benchmark (`benches/`).
    Bench,
}

/// One crate root of the package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// Its kind.
    pub kind: TargetKind,
    /// The crate's name as `module_path!()` starts (`-` made `_`).
    pub crate_name: String,
    /// The root file.
    pub root: PathBuf,
}

/// The package: where it is, its targets and its dependencies.
#[derive(Debug, Clone)]
pub struct Package {
    /// The directory of `Cargo.toml`.
    pub dir: PathBuf,
    /// Every target whose root file exists, sorted.
    pub targets: Vec<Target>,
    /// The library's crate name, which the other targets use to reach it.
    pub lib_name: Option<String>,
    /// Each dependency by the name code uses for it (`serde_json`), with
    /// its package name and version (`serde_json 1.0.140`); the version is
    /// missing when no lock file lists it.
    pub dependencies: BTreeMap<String, String>,
    /// The dependencies given by path (crates of the same workspace, say),
    /// by the name code uses for them, with their directories. Their
    /// version rarely changes with their code, so their sources count.
    pub path_dependencies: BTreeMap<String, PathBuf>,
    /// The lock file read, if one was found.
    pub lock_file: Option<PathBuf>,
    /// Files that decide the package's layout (`Cargo.toml`, the lock).
    pub manifest_files: Vec<PathBuf>,
}

/// A table of `Cargo.toml` describing a target.
#[derive(Default)]
struct TargetTable {
    kind: Option<TargetKind>,
    name: Option<String>,
    path: Option<String>,
}

impl Package {
    /// Reads the package in `dir`. `name` and `version` pick the package's
    /// own entry in the lock file (build scripts get them from
    /// `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`); without them the
    /// manifest's `[package]` values are used.
    pub fn read(dir: &Path, name: Option<&str>, version: Option<&str>) -> std::io::Result<Package> {
        let manifest_path = dir.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest_path)?;
        let scanned = scan_manifest(&manifest);
        let package_name = name
            .map(str::to_string)
            .or(scanned.package_name.clone())
            .unwrap_or_default();
        let package_version = version.map(str::to_string).or(scanned.package_version.clone());
        let crate_of = |name: &str| name.replace('-', "_");

        // Root file and kind to crate name. The conventional layout goes
        // in first and target tables override it. Targets switched off
        // with `autotests = false` and the like are analysed anyway:
        // analysing a file no target compiles costs time, never
        // correctness.
        let mut targets: BTreeMap<(TargetKind, PathBuf), String> = BTreeMap::new();
        let main = dir.join("src/main.rs");
        if main.is_file() {
            targets.insert((TargetKind::Bin, main), crate_of(&package_name));
        }
        for (folder, kind) in [
            ("src/bin", TargetKind::Bin),
            ("tests", TargetKind::Test),
            ("examples", TargetKind::Example),
            ("benches", TargetKind::Bench),
        ] {
            for (name, root) in conventional_roots(&dir.join(folder)) {
                targets.insert((kind, root), crate_of(&name));
            }
        }
        let mut lib_name = None;
        let lib_table = scanned.tables.iter().find(|t| t.kind == Some(TargetKind::Lib));
        let lib_path = lib_table
            .and_then(|t| t.path.clone())
            .map(|p| dir.join(p))
            .unwrap_or_else(|| dir.join("src/lib.rs"));
        if lib_path.is_file() {
            let name = lib_table
                .and_then(|t| t.name.clone())
                .unwrap_or_else(|| package_name.clone());
            lib_name = Some(crate_of(&name));
            targets.insert((TargetKind::Lib, lib_path), crate_of(&name));
        }
        for table in &scanned.tables {
            let Some(kind) = table.kind.filter(|k| *k != TargetKind::Lib) else {
                continue;
            };
            let Some(name) = table.name.clone() else { continue };
            let path = match (&table.path, kind) {
                (Some(path), _) => dir.join(path),
                (None, TargetKind::Bin) if name == package_name => dir.join("src/main.rs"),
                (None, TargetKind::Bin) => dir.join("src/bin").join(format!("{name}.rs")),
                (None, TargetKind::Test) => dir.join("tests").join(format!("{name}.rs")),
                (None, TargetKind::Example) => dir.join("examples").join(format!("{name}.rs")),
                (None, TargetKind::Bench) => dir.join("benches").join(format!("{name}.rs")),
                (None, TargetKind::Lib) => unreachable!(),
            };
            if path.is_file() {
                targets.insert((kind, path), crate_of(&name));
            }
        }
        let targets: Vec<Target> = targets
            .into_iter()
            .map(|((kind, root), crate_name)| Target { kind, crate_name, root })
            .collect();

        let lock_file = find_lock(dir);
        let mut dependencies = BTreeMap::new();
        for key in &scanned.dependency_keys {
            let package = scanned.renames.get(key).cloned().unwrap_or_else(|| key.clone());
            dependencies.insert(crate_of(key), package);
        }
        let mut manifest_files = vec![manifest_path];
        if let Some(lock_path) = &lock_file {
            manifest_files.push(lock_path.clone());
            let lock = std::fs::read_to_string(lock_path)?;
            let versions = lock_versions(&lock, &package_name, package_version.as_deref());
            for package in dependencies.values_mut() {
                if let Some(version) = versions.get(package.as_str()) {
                    *package = format!("{package} {version}");
                }
            }
            // Dependencies the lock lists that the scan missed (a table
            // form it does not know).
            for (package, version) in versions {
                let code_name = crate_of(&package);
                dependencies
                    .entry(code_name)
                    .or_insert_with(|| format!("{package} {version}"));
            }
        }
        let path_dependencies = path_dependencies_of(dir, &scanned, true);
        Ok(Package {
            dir: dir.to_path_buf(),
            targets,
            lib_name,
            dependencies,
            path_dependencies,
            lock_file,
            manifest_files,
        })
    }
}

/// The path dependencies of the package in `dir` (normal and build ones
/// only: a dependency's dev-dependencies are not compiled into what uses
/// it), by code name.
pub fn path_dependencies(dir: &Path) -> BTreeMap<String, PathBuf> {
    match std::fs::read_to_string(dir.join("Cargo.toml")) {
        Ok(text) => path_dependencies_of(dir, &scan_manifest(&text), false),
        Err(_) => BTreeMap::new(),
    }
}

fn path_dependencies_of(dir: &Path, manifest: &Manifest, dev: bool) -> BTreeMap<String, PathBuf> {
    let mut paths = BTreeMap::new();
    let keys = manifest
        .dependency_paths
        .iter()
        .filter(|(_, (_, is_dev))| dev || !is_dev);
    for (key, (path, _)) in keys {
        paths.insert(key.replace('-', "_"), dir.join(path));
    }
    let inherited: Vec<&String> = manifest
        .inherited
        .iter()
        .filter(|(_, is_dev)| dev || !**is_dev)
        .map(|(key, _)| key)
        .collect();
    if !inherited.is_empty() {
        // `{ workspace = true }`: the path is in the workspace's manifest.
        let root = dir.ancestors().skip(1).find_map(|d| {
            let text = std::fs::read_to_string(d.join("Cargo.toml")).ok()?;
            text.lines()
                .any(|l| l.trim() == "[workspace]")
                .then(|| (d.to_path_buf(), text))
        });
        if let Some((root, text)) = root {
            let workspace = scan_manifest(&text);
            for key in inherited {
                if let Some((path, _)) = workspace.workspace_paths.get(key) {
                    paths.insert(key.replace('-', "_"), root.join(path));
                }
            }
        }
    }
    paths
}

/// `folder/*.rs` and `folder/*/main.rs`, with their target names.
fn conventional_roots(folder: &Path) -> Vec<(String, PathBuf)> {
    let mut roots = Vec::new();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return roots;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_string) else {
            continue;
        };
        if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
            roots.push((name, path));
        } else if path.join("main.rs").is_file() {
            roots.push((name, path.join("main.rs")));
        }
    }
    roots.sort();
    roots
}

/// The nearest `Cargo.lock` in `dir` or above it (a workspace keeps one at
/// its root).
fn find_lock(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.is_file())
}

/// What the scanner keeps of a manifest.
#[derive(Default)]
struct Manifest {
    package_name: Option<String>,
    package_version: Option<String>,
    tables: Vec<TargetTable>,
    /// The keys of every dependency table (normal, dev, build, per target).
    dependency_keys: BTreeSet<String>,
    /// `key = { package = "real" }`.
    renames: BTreeMap<String, String>,
    /// `key = { path = "../x" }`, and whether it is a dev-dependency.
    dependency_paths: BTreeMap<String, (String, bool)>,
    /// `key = { workspace = true }`, and whether it is a dev-dependency.
    inherited: BTreeMap<String, bool>,
    /// `[workspace.dependencies] key = { path = "x" }`.
    workspace_paths: BTreeMap<String, (String, bool)>,
}

fn scan_manifest(text: &str) -> Manifest {
    let mut manifest = Manifest::default();
    let mut section = String::new();
    // `[dependencies.foo]`: the key `foo`, which may be renamed below.
    let mut dependency_table: Option<String> = None;
    for raw in text.lines() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            section = header.trim().to_string();
            dependency_table = None;
            let kind = match section.as_str() {
                "bin" => Some(TargetKind::Bin),
                "test" => Some(TargetKind::Test),
                "example" => Some(TargetKind::Example),
                "bench" => Some(TargetKind::Bench),
                _ => None,
            };
            if kind.is_some() {
                manifest.tables.push(TargetTable {
                    kind,
                    ..TargetTable::default()
                });
            }
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.trim().to_string();
            dependency_table = None;
            if section == "lib" {
                manifest.tables.push(TargetTable {
                    kind: Some(TargetKind::Lib),
                    ..TargetTable::default()
                });
            }
            if let Some((table, key)) = section.rsplit_once('.') {
                if is_dependency_section(table) {
                    let key = unquote(key);
                    manifest.dependency_keys.insert(key.clone());
                    dependency_table = Some(key);
                }
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (unquote(key.trim()), value.trim());
        match section.as_str() {
            "package" if key == "name" => manifest.package_name = Some(unquote(value)),
            "package" if key == "version" && value.starts_with('"') => {
                manifest.package_version = Some(unquote(value));
            }
            "lib" | "bin" | "test" | "example" | "bench" => {
                if let Some(table) = manifest.tables.last_mut() {
                    match key.as_str() {
                        "name" => table.name = Some(unquote(value)),
                        "path" => table.path = Some(unquote(value)),
                        _ => {}
                    }
                }
            }
            "workspace.dependencies" => {
                if let Some(path) = inline_value(value, "path") {
                    manifest.workspace_paths.insert(key, (path, false));
                }
            }
            section if is_dependency_section(section) && key.contains('.') => {
                // `name.workspace = true`, `name.path = "..."`.
                let dev = section.contains("dev");
                let (name, field) = key.split_once('.').unwrap_or_default();
                let name = unquote(name);
                manifest.dependency_keys.insert(name.clone());
                match field {
                    "package" => {
                        manifest.renames.insert(name, unquote(value));
                    }
                    "path" => {
                        manifest.dependency_paths.insert(name, (unquote(value), dev));
                    }
                    "workspace" if value == "true" => {
                        manifest.inherited.insert(name, dev);
                    }
                    _ => {}
                }
            }
            section if is_dependency_section(section) => {
                let dev = section.contains("dev");
                manifest.dependency_keys.insert(key.clone());
                if let Some(package) = inline_value(value, "package") {
                    manifest.renames.insert(key.clone(), package);
                }
                if let Some(path) = inline_value(value, "path") {
                    manifest.dependency_paths.insert(key.clone(), (path, dev));
                }
                if inline_value(value, "workspace").as_deref() == Some("true") {
                    manifest.inherited.insert(key, dev);
                }
            }
            _ => {
                let dev = section.contains("dev");
                match (&dependency_table, key.as_str()) {
                    (Some(table), "package") => {
                        manifest.renames.insert(table.clone(), unquote(value));
                    }
                    (Some(table), "path") => {
                        manifest.dependency_paths.insert(table.clone(), (unquote(value), dev));
                    }
                    (Some(table), "workspace") if value == "true" => {
                        manifest.inherited.insert(table.clone(), dev);
                    }
                    _ => {}
                }
            }
        }
    }
    manifest
}

fn is_dependency_section(section: &str) -> bool {
    let last = section.rsplit('.').next().unwrap_or(section);
    matches!(
        last,
        "dependencies" | "dev-dependencies" | "build-dependencies" | "dev_dependencies" | "build_dependencies"
    )
}

/// `package = "x"` inside an inline table `{ ... }`.
fn inline_value(value: &str, wanted: &str) -> Option<String> {
    let inner = value.strip_prefix('{')?.strip_suffix('}')?;
    inner.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (unquote(key.trim()) == wanted).then(|| unquote(value.trim()))
    })
}

fn unquote(text: &str) -> String {
    text.trim().trim_matches('"').trim_matches('\'').to_string()
}

/// The line without a `#` comment (outside a string).
fn strip_comment(line: &str) -> &str {
    let mut in_string = false;
    for (index, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => return &line[..index],
            _ => {}
        }
    }
    line
}

/// One `[[package]]` entry of a lock file.
#[derive(Default, Debug)]
struct Locked {
    name: String,
    version: String,
    source: Option<String>,
    dependencies: Vec<String>,
}

fn parse_lock(text: &str) -> Vec<Locked> {
    let mut packages: Vec<Locked> = Vec::new();
    let mut in_package = false;
    let mut in_dependencies = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('[') && !in_dependencies {
            in_package = line == "[[package]]";
            if in_package {
                packages.push(Locked::default());
            }
            continue;
        }
        let Some(package) = packages.last_mut().filter(|_| in_package) else {
            continue;
        };
        if in_dependencies {
            if line.starts_with(']') {
                in_dependencies = false;
            } else {
                package.dependencies.push(unquote(line.trim_end_matches(',')));
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "name" => package.name = unquote(value),
            "version" => package.version = unquote(value),
            "source" => package.source = Some(unquote(value)),
            "dependencies" => {
                if let Some(list) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
                    package
                        .dependencies
                        .extend(list.split(',').map(unquote).filter(|d| !d.is_empty()));
                } else {
                    in_dependencies = true;
                }
            }
            _ => {}
        }
    }
    packages
}

/// The package name and version of each dependency of the package
/// `name` (at `version` when given) that the lock file lists.
fn lock_versions(lock: &str, name: &str, version: Option<&str>) -> BTreeMap<String, String> {
    let packages = parse_lock(lock);
    let own = packages
        .iter()
        .filter(|p| p.name == name && version.is_none_or(|v| p.version == v))
        .min_by_key(|p| p.source.is_some());
    let mut versions = BTreeMap::new();
    let Some(own) = own else { return versions };
    for dependency in &own.dependencies {
        let mut words = dependency.split_whitespace();
        let Some(dep_name) = words.next() else { continue };
        let version = match words.next() {
            Some(version) => Some(version.to_string()),
            None => packages.iter().find(|p| p.name == dep_name).map(|p| p.version.clone()),
        };
        if let Some(version) = version {
            versions.insert(dep_name.to_string(), version);
        }
    }
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_give_targets_and_renames() {
        let manifest = scan_manifest(
            r#"
[package]
name = "shop" # the name
version = "0.3.0"

[lib]
name = "shop_core"

[[test]]
name = "ui"
path = "tests/ui/main.rs"

[dependencies]
serde = { version = "1", features = ["derive"] }
json = { package = "serde_json", version = "1" }
domain = { path = "../domain" }
shared = { workspace = true }
tokio.workspace = true

[dev-dependencies.fake]
package = "fake-data"
version = "2"
path = "../fake"
"#,
        );
        assert_eq!(
            manifest.dependency_paths.get("domain"),
            Some(&("../domain".to_string(), false))
        );
        assert_eq!(
            manifest.dependency_paths.get("fake"),
            Some(&("../fake".to_string(), true))
        );
        assert_eq!(manifest.inherited.get("shared"), Some(&false));
        assert_eq!(manifest.inherited.get("tokio"), Some(&false));
        assert!(!manifest.dependency_keys.contains("tokio.workspace"));
        assert_eq!(manifest.package_name.as_deref(), Some("shop"));
        assert_eq!(manifest.package_version.as_deref(), Some("0.3.0"));
        assert_eq!(manifest.tables.len(), 2);
        assert_eq!(manifest.tables[1].path.as_deref(), Some("tests/ui/main.rs"));
        assert_eq!(manifest.renames.get("json").map(String::as_str), Some("serde_json"));
        assert_eq!(manifest.renames.get("fake").map(String::as_str), Some("fake-data"));
        assert!(manifest.dependency_keys.contains("serde"));
    }

    #[test]
    fn lock_files_give_the_versions_of_direct_dependencies() {
        let lock = r#"
version = 4

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "shop"
version = "0.3.0"
dependencies = [
 "serde",
 "syn 2.0.1",
]

[[package]]
name = "syn"
version = "1.0.9"

[[package]]
name = "syn"
version = "2.0.1"
"#;
        let versions = lock_versions(lock, "shop", Some("0.3.0"));
        assert_eq!(versions.get("serde").map(String::as_str), Some("1.0.200"));
        assert_eq!(versions.get("syn").map(String::as_str), Some("2.0.1"));
    }
}
