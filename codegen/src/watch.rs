//! Which paths [`crate::Builder::compile`] asks cargo to watch, so that
//! the build script reruns when a contract changes, is added or is
//! removed, and not when anything else does.
//!
//! Cargo's `rerun-if-changed` on a file compares that file's timestamp;
//! on a directory it compares the newest timestamp of the directory and of
//! everything below it. A directory's own timestamp changes when an entry
//! is added, removed or renamed, so watching a directory is how new
//! contract files are noticed; but it also reruns the script when any
//! other file in it is touched, such as `treaty.lock` or `treaty.toml`,
//! which `treaty lock` and `treaty lint` keep beside the contracts. Cargo
//! cannot watch a directory's entries without its other files, so:
//!
//! - every contract file is watched by itself;
//! - a directory whose whole tree holds nothing but contract files (and
//!   directories of them) is watched as a whole: that notices additions,
//!   removals and renames anywhere in it, and nothing else can rerun it;
//! - a directory that also holds other files is watched as a whole only
//!   with [`Watch::Directories`]. By default it is not, and the script
//!   says so with a `cargo:warning` (unless [`Watch::ContractsOnly`] was
//!   chosen explicitly), because a contract file added directly in it is
//!   then compiled only at the next change to a watched contract.

use std::path::{Path, PathBuf};

/// How [`crate::Builder::compile`] watches directories that hold other
/// files besides contracts, such as `treaty.lock` beside the contracts.
/// Contract files, and directories that hold nothing but contracts, are
/// always watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// The default: such a directory is not watched, so touching its
    /// other files never reruns the build script, and neither does a
    /// contract file added directly in it (it is compiled at the next
    /// change to a watched contract, or after `touch build.rs`). Unless
    /// this was chosen explicitly, `compile` prints a `cargo:warning`
    /// naming each such directory.
    ContractsOnly,
    /// Such a directory is watched as a whole: a contract file added in
    /// it always reruns the build script, and so does a change to any of
    /// its other files.
    Directories,
}

/// What to watch for the paths `Sources::load` visited (directories and
/// files, in the order it visited them).
pub(crate) struct Plan {
    /// The paths for `cargo:rerun-if-changed`.
    pub watched: Vec<PathBuf>,
    /// Directories not watched because they hold other files, each with
    /// the first such file (for the warning).
    pub unwatched: Vec<(PathBuf, PathBuf)>,
}

/// Decides what to watch. Every directory in `visited` is classified by
/// reading it again; a directory that cannot be read is watched, which
/// is the safe choice.
pub(crate) fn plan(visited: &[PathBuf], watch: Watch) -> Plan {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for path in visited {
        if path.is_dir() {
            dirs.push(path.clone());
        } else {
            files.push(path.clone());
        }
    }
    // A directory is pure when none of its entries is another file; its
    // tree is pure when it and every directory below it are. Children are
    // visited after their parents, so deciding in reverse sees them first.
    let mut tree_pure = vec![true; dirs.len()];
    let mut other_file: Vec<Option<PathBuf>> = dirs.iter().map(|d| first_other_file(d)).collect();
    for i in (0..dirs.len()).rev() {
        let children_pure = dirs
            .iter()
            .enumerate()
            .filter(|(j, child)| *j != i && child.parent() == Some(dirs[i].as_path()))
            .all(|(j, _)| tree_pure[j]);
        tree_pure[i] = other_file[i].is_none() && children_pure;
    }
    let mut watched = Vec::new();
    let mut unwatched = Vec::new();
    for (i, dir) in dirs.iter().enumerate() {
        let covered = dirs
            .iter()
            .enumerate()
            .any(|(j, outer)| j != i && tree_pure[j] && dir.starts_with(outer));
        if covered {
            continue;
        }
        if tree_pure[i] || watch == Watch::Directories {
            // With `Directories` every directory is watched; the outermost
            // one given covers those below it, but listing them costs
            // nothing and keeps the rule simple.
            watched.push(dir.clone());
        } else if let Some(other) = other_file[i].take() {
            unwatched.push((dir.clone(), other));
        }
    }
    watched.extend(files);
    Plan { watched, unwatched }
}

/// The first entry of `dir`, in name order, that is neither a directory nor
/// a `.treaty` file; a directory that cannot be read counts as holding one.
fn first_other_file(dir: &Path) -> Option<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Some(dir.to_path_buf());
    };
    let mut others: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| !path.is_dir() && path.extension().is_none_or(|e| e != "treaty"))
        .collect();
    others.sort();
    others.into_iter().next()
}

/// The `cargo:warning` for a directory that is not watched.
pub(crate) fn warning(dir: &Path, other: &Path) -> String {
    format!(
        "treaty-codegen: {} is not watched for new contract files, because it also holds {} \
         (watching it would rerun this build script whenever that file changes); a .treaty file \
         added directly in it is compiled at the next change to a watched contract, or after \
         `touch build.rs`. Keep only contracts in it, or choose with \
         `Builder::watch(Watch::Directories)` (always notice new files) or \
         `Builder::watch(Watch::ContractsOnly)` (this behaviour, without this warning).",
        dir.display(),
        other
            .file_name()
            .map_or_else(|| other.display().to_string(), |n| n.to_string_lossy().into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for file in files {
            let path = root.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        root
    }

    fn visit(root: &Path) -> Vec<PathBuf> {
        let mut sources = treaty_dsl::Sources::new();
        sources.load(&[root]).unwrap()
    }

    fn names(root: &Path, paths: &[PathBuf]) -> Vec<String> {
        paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn a_directory_of_contracts_only_is_watched_whole() {
        let root = tree(&["a.treaty", "shop/b.treaty"]);
        let plan = plan(&visit(root.path()), Watch::ContractsOnly);
        assert_eq!(names(root.path(), &plan.watched), ["", "a.treaty", "shop/b.treaty"]);
        assert!(plan.unwatched.is_empty());
    }

    #[test]
    fn a_directory_with_the_lock_is_not_watched_but_its_pure_subdirectories_are() {
        let root = tree(&[
            "a.treaty",
            "treaty.lock",
            "shop/b.treaty",
            "docs/README.md",
            "docs/c.treaty",
        ]);
        let plan = plan(&visit(root.path()), Watch::ContractsOnly);
        assert_eq!(
            names(root.path(), &plan.watched),
            ["shop", "a.treaty", "docs/c.treaty", "shop/b.treaty"]
        );
        let unwatched: Vec<(String, String)> = plan
            .unwatched
            .iter()
            .map(|(d, f)| {
                (
                    names(root.path(), std::slice::from_ref(d))[0].clone(),
                    names(root.path(), std::slice::from_ref(f))[0].clone(),
                )
            })
            .collect();
        assert_eq!(
            unwatched,
            [
                (String::new(), "treaty.lock".to_string()),
                ("docs".to_string(), "docs/README.md".to_string())
            ]
        );
    }

    #[test]
    fn with_directories_every_directory_is_watched() {
        let root = tree(&["a.treaty", "treaty.lock", "shop/b.treaty"]);
        let plan = plan(&visit(root.path()), Watch::Directories);
        assert_eq!(
            names(root.path(), &plan.watched),
            ["", "shop", "a.treaty", "shop/b.treaty"]
        );
        assert!(plan.unwatched.is_empty());
    }

    #[test]
    fn a_file_given_by_itself_is_watched() {
        let root = tree(&["a.treaty", "notes.txt"]);
        let plan = plan(&[root.path().join("a.treaty")], Watch::ContractsOnly);
        assert_eq!(names(root.path(), &plan.watched), ["a.treaty"]);
        assert!(plan.unwatched.is_empty());
    }
}
