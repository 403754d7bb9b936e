//! The TextMate grammar (`editors/vscode/syntaxes/treaty.tmLanguage.json`)
//! tokenizes every `.treaty` file of the repository that parses with
//! sensible scopes, checked by `editors/test/tokenize.mjs` on VS Code's own
//! engine (vscode-textmate and vscode-oniguruma, installed by
//! `npm ci --prefix editors/test`, which `.ci/editors.sh` runs). Without
//! node or those packages the test fails under `CI=true` and is skipped
//! elsewhere, saying why.

use std::path::{Path, PathBuf};
use std::process::Command;

use treaty_dsl::{parse_file, Severity, Sources};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Every `.treaty` file under the workspace root that parses.
fn parsing_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory") {
            let path = entry.expect("a directory entry").path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                if name != "target" && name != "node_modules" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if name.ends_with(".treaty") {
                let mut sources = Sources::new();
                let id = sources.add(name, std::fs::read(&path).expect("read a contract file"));
                if parse_file(&sources, id).1.iter().all(|d| d.severity != Severity::Error) {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

fn unavailable(why: &str) {
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{why}; CI must run the grammar test (.ci/editors.sh installs what it needs)");
    }
    eprintln!("skipped: {why} (run `npm ci --prefix editors/test` to run this test)");
}

#[test]
fn the_grammar_tokenizes_every_contract_file() {
    let root = root();
    if Command::new("node").arg("--version").output().is_err() {
        return unavailable("node is not installed");
    }
    if !root.join("editors/test/node_modules/vscode-textmate").is_dir() {
        return unavailable("the npm packages of editors/test are not installed");
    }
    let files = parsing_files(&root);
    assert!(files.len() > 100, "found only {} contract files", files.len());
    let output = Command::new("node")
        .arg(root.join("editors/test/tokenize.mjs"))
        .args(files.iter().map(|f| f.strip_prefix(&root).unwrap_or(f)))
        .current_dir(&root)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("tokenized {} files", files.len())),
        "{stdout}"
    );
    eprintln!("{stdout}");
}
