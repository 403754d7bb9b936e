//! `treaty lint`: report every breaking change against a baseline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use treaty_lint::{LintConfig, Mode, Options, Places, CONFIG_FILE_NAME, LOCK_FILE_NAME};

use crate::baseline::{self, Baseline, BaselineError};
use crate::{INVALID, USAGE};

/// The arguments of `treaty lint`.
#[derive(Args)]
pub struct LintArgs {
    /// Contract files, or directories searched for `*.treaty`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// What to compare with: a lock file, a directory of `.treaty` files,
    /// `git:REF` (the same paths at that revision), or `db:PATH_OR_URL`
    /// (the writer schemas an event store holds, read-only)
    /// [default: treaty.lock in the contracts' common root].
    #[arg(long, value_name = "BASELINE")]
    against: Option<String>,
    /// The PostgreSQL schema holding the store of a `db:` baseline
    /// [default: treaty].
    #[arg(long, value_name = "NAME")]
    db_schema: Option<String>,
    /// How to print findings.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Which readers must keep working [default: against `db:`, the
    /// store's mode (backward); else `[lint] mode` of treaty.toml, else full].
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Also require the current version to be compatible with every
    /// earlier version, not only with its own locked self.
    #[arg(long)]
    transitive: bool,
    /// A contract type mapped to Rust by the build: `shared.Money=::money::Money`.
    #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
    extern_types: Vec<String>,
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Each finding with its source snippet, on standard error.
    Human,
    /// One JSON document on standard output.
    Json,
    /// GitHub Actions `::error` annotations on standard output.
    Github,
}

/// `--mode`, mirrored from [`Mode`] for clap.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    /// New code reads old data.
    Backward,
    /// Old code reads new data.
    Forward,
    /// Both.
    Full,
}

impl From<ModeArg> for Mode {
    fn from(mode: ModeArg) -> Mode {
        match mode {
            ModeArg::Backward => Mode::Backward,
            ModeArg::Forward => Mode::Forward,
            ModeArg::Full => Mode::Full,
        }
    }
}

/// Runs `treaty lint`: exit 0 when nothing breaks (warnings allowed), 1
/// when something does, 2 on usage errors or contracts that do not
/// compile.
pub fn run(args: LintArgs) -> ExitCode {
    let crate::Compiled {
        sources,
        builder,
        schema,
    } = match crate::valid_schema(&args.paths, &args.extern_types) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let root = crate::lock::contracts_root(&args.paths);
    let config = match read_config(&root) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(USAGE);
        }
    };
    let against = match &args.against {
        Some(text) => Baseline::parse(text),
        None => {
            let lock = root.join(LOCK_FILE_NAME);
            if !lock.is_file() {
                eprintln!(
                    "error: no baseline: pass --against (a lock, a directory or git:REF), \
                     or create {} with `treaty lock`",
                    lock.display()
                );
                return ExitCode::from(USAGE);
            }
            Baseline::Path(lock)
        }
    };
    if args.db_schema.is_some() && !matches!(against, Baseline::Db(_)) {
        eprintln!("error: --db-schema applies to a `db:` baseline only");
        return ExitCode::from(USAGE);
    }
    let old = match baseline::load(&against, &args.paths, &builder, args.db_schema.as_deref()) {
        Ok(old) => old,
        Err(BaselineError::Contracts { baseline, diagnostics }) => {
            crate::report(&diagnostics);
            eprintln!("error: the baseline {baseline} does not compile");
            return ExitCode::from(USAGE);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    for note in &old.notes {
        eprintln!("note: {note}");
    }
    if old.files == Some(0) {
        eprintln!("note: {against} has no contracts under the given paths; every contract is new");
    }
    let options = Options {
        mode: args
            .mode
            .map(Mode::from)
            .or(matches!(against, Baseline::Db(_)).then_some(Mode::Backward))
            .or(config.mode)
            .unwrap_or(Mode::Full),
        transitive: args.transitive || config.transitive.unwrap_or(false),
        style: config.style.resolve(in_ci()),
    };
    let places = Places::new(&sources);
    let report = treaty_lint::check(&old.contracts, &schema, &places, &options);
    match args.format {
        Format::Human => {
            use treaty_dsl::diagnostic::termcolor::{ColorChoice, StandardStream};
            let choice = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                ColorChoice::Auto
            } else {
                ColorChoice::Never
            };
            report.emit(&sources, &mut StandardStream::stderr(choice));
            let summary = format!(
                "{} breaking change{}, {} warning{} against {against} (mode {}{})",
                report.breaking_count(),
                crate::plural(report.breaking_count()),
                report.warning_count(),
                crate::plural(report.warning_count()),
                options.mode,
                if options.transitive { ", transitive" } else { "" },
            );
            if report.is_breaking() {
                eprintln!("error: {summary}");
            } else {
                eprintln!("ok: {summary}");
            }
        }
        Format::Json => print_stdout(&report.to_json(&sources, &against.to_string())),
        Format::Github => print_stdout(&report.to_github(&sources)),
    }
    if report.is_breaking() {
        ExitCode::from(INVALID)
    } else {
        ExitCode::SUCCESS
    }
}

/// The `[lint]` settings of `treaty.toml` in `root`, or the defaults when
/// there is no such file.
fn read_config(root: &Path) -> Result<LintConfig, String> {
    let path = root.join(CONFIG_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => LintConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LintConfig::default()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Whether we run in CI, where style checks are off unless configured:
/// CI services set `CI` (GitHub Actions sets `CI=true`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Writes to standard output, ignoring a closed pipe (`treaty lint |
/// head`): the exit code still tells the verdict.
fn print_stdout(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}
