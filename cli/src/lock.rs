//! `treaty lock`: write the canonical schema and fingerprint of every
//! contract version to `treaty.lock`.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use treaty_lint::{Lock, LOCK_FILE_NAME};

use crate::{INVALID, USAGE};

/// The arguments of `treaty lock`.
#[derive(Args)]
pub struct LockArgs {
    /// Contract files, or directories searched for `*.treaty`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The lock file [default: treaty.lock in the contracts' common root].
    #[arg(long = "lock", value_name = "FILE")]
    lock: Option<PathBuf>,
    /// Write nothing; exit 1 when the lock is missing or out of date.
    #[arg(long)]
    check: bool,
    /// A contract type mapped to Rust by the build: `shared.Money=::money::Money`.
    #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
    extern_types: Vec<String>,
}

/// Runs `treaty lock`: exit 0 when the lock is written or up to date, 1
/// when `--check` finds it stale, 2 on usage errors or invalid contracts.
pub fn run(args: LockArgs) -> ExitCode {
    let crate::Compiled { schema, .. } = match crate::valid_schema(&args.paths, &args.extern_types) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let path = args
        .lock
        .unwrap_or_else(|| contracts_root(&args.paths).join(LOCK_FILE_NAME));
    let lock = Lock::from_schema(&schema);
    let text = lock.to_json();
    let versions = lock.contracts.len();
    let up_to_date = std::fs::read(&path).is_ok_and(|existing| existing == text.as_bytes());
    if args.check {
        if up_to_date {
            println!("{} is up to date ({versions} contract versions)", path.display());
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "error: {} is missing or out of date; run `treaty lock` and commit it",
            path.display()
        );
        return ExitCode::from(INVALID);
    }
    match treaty_codegen::write_if_changed(&path, text.as_bytes()) {
        Ok(true) => {
            println!("wrote {} ({versions} contract versions)", path.display());
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("{} is up to date ({versions} contract versions)", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(USAGE)
        }
    }
}

/// The deepest directory that holds every path: a directory path itself,
/// or the directory of a file. `treaty.lock` and `treaty.toml` live here.
pub fn contracts_root(paths: &[PathBuf]) -> PathBuf {
    let any_absolute = paths.iter().any(|p| p.is_absolute());
    let dirs: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            let dir = if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            };
            let dir = if any_absolute && !dir.is_absolute() {
                std::path::absolute(&dir).unwrap_or(dir)
            } else {
                dir
            };
            normalize(&dir)
        })
        .collect();
    let Some((first, rest)) = dirs.split_first() else {
        return PathBuf::from(".");
    };
    let mut common: Vec<Component> = first.components().collect();
    for dir in rest {
        let same = common
            .iter()
            .zip(dir.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        common.truncate(same);
    }
    let root: PathBuf = common.iter().collect();
    if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    }
}

/// Makes paths comparable component by component: `.` components go.
/// Relative paths stay relative, so messages show them as typed, unless
/// they mix with absolute ones and were made absolute above.
fn normalize(dir: &Path) -> PathBuf {
    dir.components().filter(|c| *c != Component::CurDir).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_deepest_common_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("contracts/a");
        let b = dir.path().join("contracts/b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("x.treaty"), "").unwrap();
        let cases: [(Vec<PathBuf>, PathBuf); 3] = [
            (vec![a.clone()], a.clone()),
            (vec![a.clone(), b.join("x.treaty")], dir.path().join("contracts")),
            (vec![b.join("x.treaty")], b.clone()),
        ];
        for (paths, root) in cases {
            assert_eq!(contracts_root(&paths), root, "{paths:?}");
        }
    }
}
