//! Where `treaty lint --against` takes the old contracts from: a lock
//! file, a directory of `.treaty` files, or a git revision.

use std::path::{Path, PathBuf};
use std::process::Command;

use treaty_codegen::Builder;
use treaty_dsl::{CanonicalContract, Diagnostics, Sources};
use treaty_lint::{Lock, LockError};

/// A baseline as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// `git:REF`: the contracts under the same paths at that revision.
    Git(String),
    /// A lock file, or a directory (or file) of contracts.
    Path(PathBuf),
}

impl Baseline {
    /// Reads `--against`.
    pub fn parse(text: &str) -> Baseline {
        match text.strip_prefix("git:") {
            Some(reference) => Baseline::Git(reference.to_string()),
            None => Baseline::Path(PathBuf::from(text)),
        }
    }
}

impl std::fmt::Display for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Baseline::Git(reference) => write!(f, "git:{reference}"),
            Baseline::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Why the baseline could not be read. Every case is a usage or input
/// error (exit 2), never a verdict about the new contracts.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// The path does not exist.
    #[error("the baseline {0} does not exist")]
    Missing(PathBuf),
    /// A file could not be read.
    #[error("cannot read the baseline {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A lock file that is not a valid lock.
    #[error("the baseline lock {path} cannot be used: {source}")]
    Lock {
        /// The file.
        path: PathBuf,
        /// Why.
        source: LockError,
    },
    /// `git` failed, or is not installed.
    #[error("{command} failed: {message}")]
    Git {
        /// The command line, for the message.
        command: String,
        /// Its error output.
        message: String,
    },
    /// The old contracts do not compile.
    #[error("the baseline {baseline} does not compile")]
    Contracts {
        /// The baseline, as given.
        baseline: String,
        /// What is wrong with it.
        diagnostics: Diagnostics,
    },
}

/// The old contracts, as canonical contract versions.
pub struct Loaded {
    /// Every contract version of the baseline.
    pub contracts: Vec<CanonicalContract>,
    /// How many files it came from (`None` for a lock).
    pub files: Option<usize>,
}

/// Reads the baseline. `paths` are the new contracts' paths, which a git
/// baseline reads at the revision; `builder` knows the extern types.
pub fn load(baseline: &Baseline, paths: &[PathBuf], builder: &Builder) -> Result<Loaded, BaselineError> {
    match baseline {
        Baseline::Git(reference) => {
            let sources = git_sources(reference, paths)?;
            compile(baseline, &sources, builder)
        }
        Baseline::Path(path) if path.is_dir() || path.extension().is_some_and(|e| e == "treaty") => {
            let mut sources = Sources::new();
            sources.load(&[path]).map_err(|e| BaselineError::Read {
                path: e.path,
                source: e.error,
            })?;
            compile(baseline, &sources, builder)
        }
        Baseline::Path(path) if path.is_file() => {
            let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
                path: path.clone(),
                source,
            })?;
            let lock = Lock::parse(&text).map_err(|source| BaselineError::Lock {
                path: path.clone(),
                source,
            })?;
            Ok(Loaded {
                contracts: lock.contracts,
                files: None,
            })
        }
        Baseline::Path(path) => Err(BaselineError::Missing(path.clone())),
    }
}

fn compile(baseline: &Baseline, sources: &Sources, builder: &Builder) -> Result<Loaded, BaselineError> {
    match builder.schema(sources) {
        Ok(schema) => Ok(Loaded {
            contracts: treaty_dsl::contracts(&schema),
            files: Some(sources.len()),
        }),
        Err(treaty_codegen::Error::Contracts(diagnostics)) => Err(BaselineError::Contracts {
            baseline: baseline.to_string(),
            diagnostics,
        }),
        Err(e) => Err(BaselineError::Git {
            command: "compiling the baseline".into(),
            message: e.to_string(),
        }),
    }
}

/// The `.treaty` files under `paths` as they were at `reference`: listed
/// with `git ls-tree` and read with `git show`, so the work tree and the
/// index are left alone.
fn git_sources(reference: &str, paths: &[PathBuf]) -> Result<Sources, BaselineError> {
    // Git runs in the contracts' root with absolute paths, so the command
    // works from any directory, inside the repository or not.
    let absolute: Vec<PathBuf> = paths
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let dir = crate::lock::contracts_root(&absolute);
    let mut args: Vec<String> = ["ls-tree", "-r", "-z", "--name-only", "--full-name", reference, "--"]
        .map(String::from)
        .to_vec();
    args.extend(absolute.iter().map(|p| p.display().to_string()));
    let listing = git(&dir, &args)?;
    let mut names: Vec<&str> = listing
        .split(|b| *b == 0)
        .filter_map(|name| std::str::from_utf8(name).ok())
        .filter(|name| Path::new(name).extension().is_some_and(|e| e == "treaty"))
        .collect();
    // Sorted like `Sources::load` sorts a directory, so both baselines
    // compile the same files in the same order.
    names.sort_unstable();
    let mut sources = Sources::new();
    for name in names {
        // `:/path` would be relative to the repository root too, but
        // `REF:path` is the documented form for a full name.
        let text = git(&dir, &["show".to_string(), format!("{reference}:{name}")])?;
        sources.add(format!("{reference}:{name}"), text);
    }
    Ok(sources)
}

/// Runs git in `dir` and returns its standard output.
fn git(dir: &Path, args: &[String]) -> Result<Vec<u8>, BaselineError> {
    let command = format!("git {}", args.join(" "));
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| BaselineError::Git {
            command: command.clone(),
            message: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(BaselineError::Git {
            command,
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output.stdout)
}
