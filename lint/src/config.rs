//! The `[lint]` table of `treaty.toml`, the optional project
//! configuration next to the contracts' root.
//!
//! ```toml
//! [lint]
//! mode = "full"          # backward, forward or full
//! transitive = false     # also compare the current version with every earlier one
//!
//! [lint.style]
//! enabled = true                 # every style check at once
//! missing-docs = true            # one check, by its rule id
//! event-not-past-tense = true
//! field-not-snake-case = false
//! past-tense-words = ["Upsert"]  # words that count as past tense
//! ```
//!
//! Style checks are warnings. They run by default on a developer's
//! machine and are off by default in CI, where a warning nobody reads is
//! noise; a project that wants them in CI enables them here. Other tables
//! of the file belong to other tools and are ignored.

use std::fmt;

use serde::Deserialize;

use crate::rules::Mode;
use crate::StyleOptions;

/// The file name, next to the contracts' common root.
pub const CONFIG_FILE_NAME: &str = "treaty.toml";

/// The lint settings of a project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LintConfig {
    /// The mode when the command line gives none.
    pub mode: Option<Mode>,
    /// Whether to check transitively when the command line does not ask.
    pub transitive: Option<bool>,
    /// The style checks.
    pub style: StyleConfig,
}

/// Which style checks the project turns on or off; `None` leaves the
/// choice to the environment (on locally, off in CI).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleConfig {
    /// Every check at once.
    pub enabled: Option<bool>,
    /// `missing-docs`.
    pub missing_docs: Option<bool>,
    /// `event-not-past-tense`.
    pub event_not_past_tense: Option<bool>,
    /// `field-not-snake-case`.
    pub field_not_snake_case: Option<bool>,
    /// Extra words that read as past tense, such as `Upsert`.
    pub past_tense_words: Vec<String>,
}

/// Why `treaty.toml` could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not TOML, or a `[lint]` key this build does not know.
    Invalid(toml::de::Error),
    /// `mode` names no mode.
    UnknownMode(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid(e) => write!(f, "{}", e.to_string().trim_end()),
            ConfigError::UnknownMode(mode) => {
                write!(f, "unknown lint mode `{mode}`; expected backward, forward or full")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Invalid(e) => Some(e),
            ConfigError::UnknownMode(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct File {
    lint: Option<LintTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LintTable {
    mode: Option<String>,
    transitive: Option<bool>,
    #[serde(default)]
    style: StyleTable,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StyleTable {
    enabled: Option<bool>,
    missing_docs: Option<bool>,
    event_not_past_tense: Option<bool>,
    field_not_snake_case: Option<bool>,
    #[serde(default)]
    past_tense_words: Vec<String>,
}

impl LintConfig {
    /// Reads the text of a `treaty.toml`.
    pub fn parse(text: &str) -> Result<LintConfig, ConfigError> {
        let file: File = toml::from_str(text).map_err(ConfigError::Invalid)?;
        let Some(lint) = file.lint else {
            return Ok(LintConfig::default());
        };
        let mode = match lint.mode {
            None => None,
            Some(name) => Some(Mode::from_name(&name).ok_or(ConfigError::UnknownMode(name))?),
        };
        Ok(LintConfig {
            mode,
            transitive: lint.transitive,
            style: StyleConfig {
                enabled: lint.style.enabled,
                missing_docs: lint.style.missing_docs,
                event_not_past_tense: lint.style.event_not_past_tense,
                field_not_snake_case: lint.style.field_not_snake_case,
                past_tense_words: lint.style.past_tense_words,
            },
        })
    }
}

impl StyleConfig {
    /// The checks to run: each as configured, else as `enabled` says,
    /// else on unless running in CI.
    pub fn resolve(&self, ci: bool) -> StyleOptions {
        let default = self.enabled.unwrap_or(!ci);
        StyleOptions {
            missing_docs: self.missing_docs.unwrap_or(default),
            event_tense: self.event_not_past_tense.unwrap_or(default),
            field_case: self.field_not_snake_case.unwrap_or(default),
            past_tense_words: self.past_tense_words.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_is_on_locally_and_off_in_ci_unless_configured() {
        let none = LintConfig::parse("").unwrap();
        assert!(none.style.resolve(false).missing_docs);
        assert!(!none.style.resolve(true).missing_docs);

        let one = LintConfig::parse("[lint.style]\nmissing-docs = true\n").unwrap();
        let ci = one.style.resolve(true);
        assert!(ci.missing_docs && !ci.event_tense && !ci.field_case);

        let off = LintConfig::parse("[lint.style]\nenabled = false\nfield-not-snake-case = true\n").unwrap();
        let local = off.style.resolve(false);
        assert!(!local.missing_docs && !local.event_tense && local.field_case);
    }

    #[test]
    fn reads_mode_and_ignores_other_tools_tables() {
        let config = LintConfig::parse("[codegen]\nx = 1\n[lint]\nmode = \"backward\"\ntransitive = true\n").unwrap();
        assert_eq!(config.mode, Some(Mode::Backward));
        assert_eq!(config.transitive, Some(true));
    }

    #[test]
    fn rejects_unknown_lint_keys_and_modes() {
        let typo = LintConfig::parse("[lint.style]\nmissing-doc = true\n")
            .unwrap_err()
            .to_string();
        assert!(typo.contains("missing-doc"), "{typo}");
        let mode = LintConfig::parse("[lint]\nmode = \"sideways\"\n")
            .unwrap_err()
            .to_string();
        assert!(mode.contains("unknown lint mode `sideways`"), "{mode}");
    }
}
