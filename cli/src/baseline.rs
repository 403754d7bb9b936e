//! Where `treaty lint --against` takes the old contracts from: a lock
//! file, a directory of `.treaty` files, a git revision, or the schema
//! registry of an event store (`db:PATH_OR_URL`), read-only.

use std::path::{Path, PathBuf};
use std::process::Command;

use treaty_codegen::Builder;
use treaty_dsl::{CanonicalContract, ContractKind, Diagnostics, Sources};
use treaty_lint::{Lock, LockError};
use treaty_runtime::store::registry::SCHEMA_FORMAT;

/// A baseline as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// `git:REF`: the contracts under the same paths at that revision.
    Git(String),
    /// `db:PATH_OR_URL`: the writer schemas an event store recorded (a
    /// SQLite file, or a PostgreSQL URL with the store in schema
    /// `treaty`).
    Db(String),
    /// A lock file, or a directory (or file) of contracts.
    Path(PathBuf),
}

impl Baseline {
    /// Reads `--against`.
    pub fn parse(text: &str) -> Baseline {
        if let Some(store) = text.strip_prefix("db:") {
            return Baseline::Db(store.to_string());
        }
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
            Baseline::Db(store) => write!(f, "db:{}", without_password(store)),
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
    /// The store could not be opened or read, or a schema it holds
    /// cannot be read.
    #[error("the baseline store {store}: {message}")]
    Store {
        /// The store, without a password.
        store: String,
        /// Why.
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
    /// How many files it came from (`None` for a lock or a store).
    pub files: Option<usize>,
    /// What the user should know about the baseline, such as writer
    /// schemas a store holds without their schema text.
    pub notes: Vec<String>,
}

/// Reads the baseline. `paths` are the new contracts' paths, which a git
/// baseline reads at the revision; `builder` knows the extern types.
/// `db_schema` is the PostgreSQL schema of a `db:` baseline's store.
pub fn load(
    baseline: &Baseline,
    paths: &[PathBuf],
    builder: &Builder,
    db_schema: Option<&str>,
) -> Result<Loaded, BaselineError> {
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
                notes: Vec::new(),
            })
        }
        Baseline::Path(path) => Err(BaselineError::Missing(path.clone())),
        Baseline::Db(store) => load_store(store, db_schema),
    }
}

fn compile(baseline: &Baseline, sources: &Sources, builder: &Builder) -> Result<Loaded, BaselineError> {
    match builder.schema(sources) {
        Ok(schema) => Ok(Loaded {
            contracts: treaty_dsl::contracts(&schema),
            files: Some(sources.len()),
            notes: Vec::new(),
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

/// The writer schemas of the store at `target`, opened read-only as
/// `treaty store` opens it, as the baseline's contract versions: every
/// fingerprint of a version is compared, so the new contracts must read
/// every shape stored.
fn load_store(target: &str, schema: Option<&str>) -> Result<Loaded, BaselineError> {
    let failed = |message: String| BaselineError::Store {
        store: without_password(target),
        message,
    };
    let db = crate::db::DbArgs {
        db: target.to_string(),
        schema: schema.map(str::to_string),
    };
    let mut rows = Vec::new();
    crate::store::block_on(async {
        let store = crate::store::backend::open(&db).await?;
        rows = store
            .contracts()
            .await
            .map_err(|e| crate::store::Failure::problem(crate::store::describe(&e)))?;
        Ok(())
    })
    .map_err(|failure| failed(failure.message().unwrap_or("cannot be read").to_string()))?;
    let mut contracts = Vec::new();
    let mut unrecorded = Vec::new();
    for row in rows {
        let Some(text) = &row.schema else {
            unrecorded.push(format!("{} v{} ({})", row.name, row.version, row.fingerprint));
            continue;
        };
        let at = |reason: String| {
            failed(format!(
                "the stored schema of {} v{} (fingerprint {}) cannot be read: {reason}; it is left as it is",
                crate::table::printable(&row.name),
                row.version,
                crate::table::printable(&row.fingerprint)
            ))
        };
        if row.schema_format > SCHEMA_FORMAT {
            return Err(at(format!(
                "it was written by a newer Treaty (schema format {}; this build reads up to {SCHEMA_FORMAT})",
                row.schema_format
            )));
        }
        let schema: serde_json::Value =
            serde_json::from_str(text).map_err(|e| at(format!("it is corrupt (not JSON: {e})")))?;
        let kind = match schema.get("kind").and_then(serde_json::Value::as_str) {
            Some("event") => ContractKind::Event,
            Some("command") => ContractKind::Command,
            _ => return Err(at("it is corrupt (no message `kind`)".into())),
        };
        if !schema.get("fields").is_some_and(serde_json::Value::is_object) {
            return Err(at("it is corrupt (no `fields` object)".into()));
        }
        contracts.push(CanonicalContract {
            kind,
            name: row.name,
            version: row.version,
            schema,
            fingerprint: row.fingerprint,
        });
    }
    let notes = if unrecorded.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} writer schema{} of the store {} no schema text (appended by a build that did not register its \
             contracts) and {} not compared: {}",
            unrecorded.len(),
            crate::plural(unrecorded.len()),
            if unrecorded.len() == 1 { "has" } else { "have" },
            if unrecorded.len() == 1 { "is" } else { "are" },
            unrecorded.join(", ")
        )]
    };
    Ok(Loaded {
        contracts,
        files: None,
        notes,
    })
}

/// `target` without the password a PostgreSQL URL may carry.
fn without_password(target: &str) -> String {
    let Some((scheme, rest)) = target.split_once("://") else {
        return target.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => target.to_string(),
    }
}
