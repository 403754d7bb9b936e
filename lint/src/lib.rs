//! The breaking-change lint of Treaty contracts (`treaty lint`) and the
//! `treaty.lock` format it compares against (`treaty lock`).
//!
//! [`check`] compares a baseline, the canonical contracts of a [`Lock`] or
//! of an earlier revision, with a new [`treaty_dsl::Schema`] and reports
//! every change that would break a reader as a [`Finding`] under a
//! [`Rule`] of the catalog; a [`Report`] renders for people, as JSON and as
//! GitHub annotations. [`LintConfig`] reads the `[lint]` table of
//! `treaty.toml`.
//!
//! Only the CLI needs any of this, so it lives apart from `treaty-dsl`,
//! which every build script and `contract!` macro compiles. Nothing here
//! does I/O: the CLI reads files and git revisions.
//!
//! ```
//! use treaty_dsl::{compile, Config, Sources};
//! use treaty_lint::{check, Lock, Options, Places, Rule};
//!
//! let mut before = Sources::new();
//! before.add("shop.treaty", "namespace shop;\nOrderPlaced!(total: u64, note: String);\n");
//! let lock = Lock::from_schema(&compile(&before, &Config::default()).unwrap());
//!
//! let mut after = Sources::new();
//! after.add("shop.treaty", "namespace shop;\nOrderPlaced!(total: u64);\n");
//! let schema = compile(&after, &Config::default()).unwrap();
//!
//! let report = check(&lock.contracts, &schema, &Places::new(&after), &Options::default());
//! assert!(report.is_breaking());
//! assert_eq!(report.findings[0].rule, Rule::FieldRemoved);
//! ```

mod check;
pub mod config;
pub mod lock;
mod output;
mod style;

// The comparison of canonical schemas and the rule catalog are the one
// rule book the store and `treaty store` use too.
pub use treaty_compat::rules;
use treaty_compat::{diff, shape};

pub use check::{check, Finding, Options, Places, Report, StyleOptions};
pub use config::{ConfigError, LintConfig, StyleConfig, CONFIG_FILE_NAME};
pub use lock::{Lock, LockError, LOCK_FILE_NAME, LOCK_FORMAT};
pub use output::Location;
pub use rules::{Category, Mode, Rule};
pub use style::reads_as_past;
