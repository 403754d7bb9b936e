//! `Sources::load`: which files a directory contributes, and in what order.
//!
//! The order of files decides the order of declarations in the schema and
//! so of generated code; it must not depend on the order the file system
//! happens to list a directory in.

use std::path::{Path, PathBuf};

use treaty_dsl::Sources;

/// A directory under the system temp dir, removed when dropped (even when
/// the test fails), with a name no other test run uses.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        let path = std::env::temp_dir().join(format!("treaty-dsl-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).expect("create the temp dir");
        TempDir(path)
    }

    /// Writes `text` to `relative`, creating its parent directories.
    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().expect("files have a parent")).expect("create parent dirs");
        std::fs::write(path, text).expect("write the file");
    }

    /// `path` relative to the temp dir, with `/` separators.
    fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.0).expect("inside the temp dir");
        let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        parts.join("/")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Leaving the directory behind is harmless; failing the test over
        // it would hide the real result.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_finds_treaty_files_recursively_in_sorted_order() {
    let dir = TempDir::new("load");
    // Written in an order unlike the sorted one, so that a load in
    // creation order (or directory order) would show.
    dir.write("z.treaty", "namespace z;\n");
    dir.write("sub/deeper/d.treaty", "namespace d;\n");
    dir.write("b.treaty", "namespace b;\n");
    dir.write("sub/c.treaty", "namespace c;\n");
    dir.write("a.treaty", "namespace a;\n");
    // Not contracts: other extensions, a backup, a name that only
    // contains `treaty`.
    dir.write("notes.txt", "not a contract");
    dir.write("a.treaty.bak", "not a contract");
    dir.write("sub/treaty", "not a contract");
    dir.write("sub/x.treaty.md", "not a contract");
    // A directory named like a contract file is still a directory.
    dir.write("dir.treaty/e.treaty", "namespace e;\n");

    let mut sources = Sources::new();
    let visited = sources.load(&[&dir.0]).expect("the directory loads");

    let names: Vec<String> = sources.iter().map(|(_, f)| dir.relative(Path::new(&f.name))).collect();
    assert_eq!(
        names,
        [
            "a.treaty",
            "b.treaty",
            "dir.treaty/e.treaty",
            "sub/c.treaty",
            "sub/deeper/d.treaty",
            "z.treaty"
        ]
    );
    // Each file holds its own text, not a neighbour's.
    for (_, file) in sources.iter() {
        let stem = Path::new(&file.name)
            .file_stem()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        assert_eq!(file.text, format!("namespace {stem};\n"), "{}", file.name);
    }
    // Build scripts rerun when any visited path changes: the directories
    // too, so that a new file is noticed.
    let mut visited: Vec<String> = visited.iter().map(|p| dir.relative(p)).collect();
    visited.sort();
    assert_eq!(
        visited,
        [
            "",
            "a.treaty",
            "b.treaty",
            "dir.treaty",
            "dir.treaty/e.treaty",
            "sub",
            "sub/c.treaty",
            "sub/deeper",
            "sub/deeper/d.treaty",
            "z.treaty"
        ]
    );
}

#[test]
fn load_takes_a_named_file_whatever_its_extension() {
    // Naming a file is a deliberate choice; only directory walks filter.
    let dir = TempDir::new("named");
    dir.write("contracts.txt", "namespace a;\n");
    let mut sources = Sources::new();
    sources.load(&[dir.0.join("contracts.txt")]).expect("the file loads");
    assert_eq!(sources.len(), 1);
}

#[test]
fn load_of_several_paths_sorts_and_deduplicates() {
    let dir = TempDir::new("several");
    dir.write("b.treaty", "namespace b;\n");
    dir.write("a/a.treaty", "namespace a;\n");
    let mut sources = Sources::new();
    // The same file named twice, once directly and once through its
    // directory, is compiled once.
    sources
        .load(&[dir.0.join("b.treaty"), dir.0.join("a"), dir.0.clone()])
        .expect("the paths load");
    let names: Vec<String> = sources.iter().map(|(_, f)| dir.relative(Path::new(&f.name))).collect();
    assert_eq!(names, ["a/a.treaty", "b.treaty"]);
}

#[test]
fn load_reports_a_missing_path() {
    let dir = TempDir::new("missing");
    let missing = dir.0.join("nowhere");
    let error = Sources::new().load(&[&missing]).expect_err("nothing to read");
    assert_eq!(error.path, missing);
    assert_eq!(error.error.kind(), std::io::ErrorKind::NotFound);
}
