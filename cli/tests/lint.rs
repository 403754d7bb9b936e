//! `treaty lock` and `treaty lint` as a user runs them: exit codes, the
//! three output formats, the lock file, `treaty.toml`, and `git:REF`
//! baselines against a throwaway repository.
//!
//! Every test works in its own temporary directory and runs the binary
//! there with relative paths, so output shows the paths a user would see.

use std::path::PathBuf;
use std::process::{Command, Output};

use expect_test::expect;

const BEFORE: &str = "//! Orders.
namespace shop;

/// An amount of money in cents.
record Money(cents: i64, currency: String);

/// An order was placed.
OrderPlaced!(total: Money, count: u32, note: String?);
";

/// `BEFORE` with a breaking change inside the record and a safe addition.
const BREAKING: &str = "//! Orders.
namespace shop;

/// An amount of money in cents.
record Money(cents: String, currency: String);

/// An order was placed.
OrderPlaced!(total: Money, count: u32, note: String?, channel: String = \"web\");
";

/// `BEFORE` with a required field added: breaks new readers of old data
/// (backward) but not old readers of new data (forward).
const ADDED_REQUIRED: &str = "//! Orders.
namespace shop;

/// An amount of money in cents.
record Money(cents: i64, currency: String);

/// An order was placed.
OrderPlaced!(total: Money, count: u32, note: String?, channel: String);
";

/// `BEFORE` reformatted and with a field added with a default.
const COMPATIBLE: &str = "//! Orders, reworded.
namespace shop;

/// Money.
record Money(currency: String, cents: i64);

/// Placed.
OrderPlaced!(
    note: String?,
    count: u32,
    total: Money,
    channel: String = \"web\",
);
";

/// A temporary project with `contracts/shop.treaty`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(contracts: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        project.write("contracts/shop.treaty", contracts);
        project
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap()
    }

    /// Runs `treaty ARGS` in the project, as in CI (`CI=true`).
    fn treaty(&self, args: &[&str]) -> Run {
        self.treaty_env(args, "true")
    }

    /// Runs `treaty ARGS` in the project with `CI` set to `ci`.
    fn treaty_env(&self, args: &[&str], ci: &str) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_treaty"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CI", ci)
            .output()
            .unwrap();
        Run(output)
    }

    fn git(&self, args: &[&str]) {
        let output = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.invalid"])
            .args(["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().expect("exited")
    }

    fn stdout(&self) -> String {
        String::from_utf8(self.0.stdout.clone()).unwrap()
    }

    fn stderr(&self) -> String {
        String::from_utf8(self.0.stderr.clone()).unwrap()
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n{}\n{}",
            self.0.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
}

#[test]
fn exit_codes() {
    // Each row: the new contracts, the lint arguments, the exit code.
    let cases: [(&str, &[&str], i32); 8] = [
        (BEFORE, &["lint", "contracts", "--against", "baseline"], 0),
        (COMPATIBLE, &["lint", "contracts", "--against", "baseline"], 0),
        (BREAKING, &["lint", "contracts", "--against", "baseline"], 1),
        (
            BREAKING,
            &["lint", "contracts", "--against", "baseline", "--mode", "forward"],
            1,
        ),
        (
            ADDED_REQUIRED,
            &["lint", "contracts", "--against", "baseline", "--mode", "forward"],
            0,
        ),
        (
            "namespace shop;\nOrderPlaced!(total: Nope);\n",
            &["lint", "contracts", "--against", "baseline"],
            2,
        ),
        (BEFORE, &["lint", "contracts", "--against", "no-such-dir"], 2),
        (
            BEFORE,
            &["lint", "contracts", "--against", "baseline", "--format", "xml"],
            2,
        ),
    ];
    for (contracts, args, code) in cases {
        let project = Project::new(contracts);
        project.write("baseline/shop.treaty", BEFORE);
        let run = project.treaty(args);
        assert_eq!(run.code(), code, "{args:?}: {run:?}");
    }
}

#[test]
fn a_baseline_that_does_not_compile_is_a_usage_error() {
    let project = Project::new(BEFORE);
    project.write("baseline/shop.treaty", "namespace shop;\nOrderPlaced!(total: Nope);\n");
    let run = project.treaty(&["lint", "contracts", "--against", "baseline"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(
        run.stderr().contains("the baseline baseline does not compile"),
        "{run:?}"
    );
}

#[test]
fn human_output_shows_each_finding_with_its_snippet() {
    let project = Project::new(BREAKING);
    project.write("baseline/shop.treaty", BEFORE);
    let run = project.treaty(&["lint", "contracts", "--against", "baseline"]);
    assert_eq!(run.code(), 1);
    assert_eq!(run.stdout(), "");
    expect![[r#"
        error[field-type-changed]: event `shop.OrderPlaced` v1: the type of `total.cents` changed from `i64` to `String`
          ┌─ contracts/shop.treaty:5:14
          │
        5 │ record Money(cents: String, currency: String);
          │              ^^^^^^^^^^^^^ was `i64`
          ·
        8 │ OrderPlaced!(total: Money, count: u32, note: String?, channel: String = "web");
          │              ------------ `total` uses `shop.Money`
          │
          = help: add a field with the new type beside the old one, or declare a new version with an upcast

        error: 1 breaking change, 0 warnings against baseline (mode full)
    "#]]
    .assert_eq(&run.stderr());
}

#[test]
fn json_output_lists_every_finding() {
    let project = Project::new(BREAKING);
    project.write("baseline/shop.treaty", BEFORE);
    let run = project.treaty(&["lint", "contracts", "--against", "baseline", "--format", "json"]);
    assert_eq!(run.code(), 1, "{run:?}");
    let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(document["baseline"], "baseline");
    assert_eq!(document["mode"], "full");
    assert_eq!(document["breaking"], 1);
    let finding = &document["findings"][0];
    let expected = [
        ("rule", "field-type-changed"),
        ("severity", "error"),
        ("contract", "shop.OrderPlaced"),
        ("field", "total.cents"),
        ("old", "i64"),
        ("new", "String"),
        ("location", "contracts/shop.treaty:5:14"),
    ];
    for (key, value) in expected {
        assert_eq!(finding[key], value, "{key} in {finding}");
    }
    assert_eq!(document["findings"].as_array().unwrap().len(), 1);
}

#[test]
fn json_output_of_a_clean_run_is_an_empty_list() {
    let project = Project::new(COMPATIBLE);
    project.write("baseline/shop.treaty", BEFORE);
    let run = project.treaty(&["lint", "contracts", "--against", "baseline", "--format", "json"]);
    assert_eq!(run.code(), 0, "{run:?}");
    let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(document["findings"], serde_json::json!([]));
}

#[test]
fn github_output_is_workflow_annotations() {
    let project = Project::new(BREAKING);
    project.write("baseline/shop.treaty", BEFORE);
    let run = project.treaty(&["lint", "contracts", "--against", "baseline", "--format", "github"]);
    assert_eq!(run.code(), 1, "{run:?}");
    expect![[r#"
        ::error file=contracts/shop.treaty,line=5,col=14,title=field-type-changed::event `shop.OrderPlaced` v1: the type of `total.cents` changed from `i64` to `String`%0Ahelp: add a field with the new type beside the old one, or declare a new version with an upcast
    "#]]
    .assert_eq(&run.stdout());
}

#[test]
fn lock_is_written_at_the_common_root_only_when_changed() {
    let project = Project::new(BEFORE);
    project.write(
        "contracts/billing/billing.treaty",
        "namespace billing;\n/// Sent.\nInvoiceSent!(n: u64);\n",
    );

    let first = project.treaty(&["lock", "contracts/shop.treaty", "contracts/billing"]);
    assert_eq!(first.code(), 0, "{first:?}");
    assert_eq!(first.stdout(), "wrote contracts/treaty.lock (3 contract versions)\n");
    let lock = project.read("contracts/treaty.lock");
    assert!(lock.starts_with("{\n  \"format\": 1,\n  \"contracts\": [\n"), "{lock}");
    let document: serde_json::Value = serde_json::from_str(&lock).unwrap();
    let entries: Vec<String> = document["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} v{}",
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap(),
                c["version"]
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            "event billing.InvoiceSent v1",
            "record shop.Money v1",
            "event shop.OrderPlaced v1"
        ]
    );

    let modified = std::fs::metadata(project.path("contracts/treaty.lock"))
        .unwrap()
        .modified()
        .unwrap();
    let again = project.treaty(&["lock", "contracts/shop.treaty", "contracts/billing"]);
    assert_eq!(
        again.stdout(),
        "contracts/treaty.lock is up to date (3 contract versions)\n"
    );
    let after = std::fs::metadata(project.path("contracts/treaty.lock"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(modified, after, "an unchanged lock is not rewritten");
}

#[test]
fn lock_check_fails_when_stale() {
    let project = Project::new(BEFORE);
    assert_eq!(
        project.treaty(&["lock", "contracts", "--check"]).code(),
        1,
        "missing lock"
    );
    assert_eq!(project.treaty(&["lock", "contracts"]).code(), 0);
    assert_eq!(project.treaty(&["lock", "contracts", "--check"]).code(), 0);
    project.write("contracts/shop.treaty", COMPATIBLE);
    let stale = project.treaty(&["lock", "contracts", "--check"]);
    assert_eq!(stale.code(), 1, "{stale:?}");
    assert!(stale.stderr().contains("out of date"), "{stale:?}");
}

#[test]
fn lint_defaults_to_the_lock_and_accepts_an_explicit_one() {
    let project = Project::new(BEFORE);
    let missing = project.treaty(&["lint", "contracts"]);
    assert_eq!(missing.code(), 2, "no lock yet: {missing:?}");
    assert!(project.treaty(&["lock", "contracts", "--lock", "custom.lock"]).code() == 0);
    assert_eq!(project.treaty(&["lock", "contracts"]).code(), 0);
    project.write("contracts/shop.treaty", BREAKING);
    let default = project.treaty(&["lint", "contracts"]);
    assert_eq!(default.code(), 1, "{default:?}");
    assert!(
        default.stderr().contains("against contracts/treaty.lock"),
        "{default:?}"
    );
    let explicit = project.treaty(&["lint", "contracts", "--against", "custom.lock"]);
    assert_eq!(explicit.code(), 1, "{explicit:?}");
}

#[test]
fn a_damaged_lock_is_a_usage_error() {
    let project = Project::new(BEFORE);
    assert_eq!(project.treaty(&["lock", "contracts"]).code(), 0);
    let lock = project.read("contracts/treaty.lock").replace("\"u32\"", "\"u64\"");
    project.write("contracts/treaty.lock", &lock);
    let run = project.treaty(&["lint", "contracts"]);
    assert_eq!(run.code(), 2, "{run:?}");
    assert!(run.stderr().contains("does not match its schema"), "{run:?}");
}

#[test]
fn git_baseline_reads_the_contracts_at_a_revision() {
    let project = Project::new(BEFORE);
    project.git(&["init", "-q"]);
    project.git(&["add", "."]);
    project.git(&["commit", "-q", "-m", "contracts"]);

    let clean = project.treaty(&["lint", "contracts", "--against", "git:HEAD"]);
    assert_eq!(clean.code(), 0, "{clean:?}");

    project.write("contracts/shop.treaty", BREAKING);
    let breaking = project.treaty(&["lint", "contracts", "--against", "git:HEAD", "--format", "json"]);
    assert_eq!(breaking.code(), 1, "{breaking:?}");
    let document: serde_json::Value = serde_json::from_str(&breaking.stdout()).unwrap();
    assert_eq!(document["baseline"], "git:HEAD");
    assert_eq!(document["findings"][0]["rule"], "field-type-changed");

    // A revision where the contracts did not exist yet: everything is new.
    project.git(&["commit", "-q", "--allow-empty", "-m", "empty"]);
    project.git(&["rm", "-q", "-r", "--cached", "contracts"]);
    project.git(&["commit", "-q", "-m", "drop"]);
    let empty = project.treaty(&["lint", "contracts", "--against", "git:HEAD"]);
    assert_eq!(empty.code(), 0, "{empty:?}");
    assert!(empty.stderr().contains("every contract is new"), "{empty:?}");

    // The contracts as of two commits ago, by any revision syntax.
    let older = project.treaty(&["lint", "contracts", "--against", "git:HEAD~2"]);
    assert_eq!(older.code(), 1, "{older:?}");

    // From outside the repository, with an absolute path: git runs where
    // the contracts are, not where the command was started.
    let elsewhere = tempfile::tempdir().unwrap();
    let contracts = project.path("contracts").display().to_string();
    let outside = Command::new(env!("CARGO_BIN_EXE_treaty"))
        .args(["lint", &contracts, "--against", "git:HEAD~2"])
        .current_dir(elsewhere.path())
        .env("CI", "true")
        .output()
        .unwrap();
    assert_eq!(
        outside.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&outside.stderr)
    );

    let unknown = project.treaty(&["lint", "contracts", "--against", "git:no-such-branch"]);
    assert_eq!(unknown.code(), 2, "{unknown:?}");
    assert!(unknown.stderr().contains("git ls-tree"), "{unknown:?}");
}

#[test]
fn style_checks_run_locally_and_in_ci_only_when_enabled() {
    let undocumented = "namespace shop;\nOrderShipment!(trackingCode: String);\n";
    let project = Project::new(undocumented);
    project.write("baseline/shop.treaty", "namespace shop;\n");
    let args = ["lint", "contracts", "--against", "baseline", "--format", "json"];
    let rules = |run: &Run| -> Vec<String> {
        let document: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        let findings = document["findings"].as_array().unwrap().clone();
        findings
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };

    let local = project.treaty_env(&args, "");
    assert_eq!(local.code(), 0, "warnings never fail: {local:?}");
    assert_eq!(
        rules(&local),
        ["missing-docs", "event-not-past-tense", "field-not-snake-case"]
    );

    let ci = project.treaty(&args);
    assert_eq!(rules(&ci), Vec::<String>::new());

    project.write("contracts/treaty.toml", "[lint.style]\nmissing-docs = true\n");
    let configured = project.treaty(&args);
    assert_eq!(rules(&configured), ["missing-docs"]);

    project.write("contracts/treaty.toml", "[lint.style]\nmisspelled = true\n");
    let bad = project.treaty(&args);
    assert_eq!(bad.code(), 2, "{bad:?}");
    assert!(bad.stderr().contains("treaty.toml"), "{bad:?}");
}

#[test]
fn mode_comes_from_treaty_toml_unless_given() {
    let project = Project::new(ADDED_REQUIRED);
    project.write("baseline/shop.treaty", BEFORE);
    project.write("contracts/treaty.toml", "[lint]\nmode = \"forward\"\n");
    let args = ["lint", "contracts", "--against", "baseline"];
    let forward = project.treaty(&args);
    assert_eq!(forward.code(), 0, "{forward:?}");
    let full = project.treaty(&["lint", "contracts", "--against", "baseline", "--mode", "full"]);
    assert_eq!(full.code(), 1, "{full:?}");
}

#[test]
fn transitive_checks_across_an_honest_version_bump() {
    let bumped = "namespace shop;\n/// Placed.\nOrderPlaced! v2 (count: String) was v1 (count: u32);\n";
    let project = Project::new(bumped);
    project.write(
        "baseline/shop.treaty",
        "namespace shop;\n/// Placed.\nOrderPlaced!(count: u32);\n",
    );
    let args = ["lint", "contracts", "--against", "baseline"];
    assert_eq!(project.treaty(&args).code(), 0, "an honest bump is not breaking");
    let flag = project.treaty(&["lint", "contracts", "--against", "baseline", "--transitive"]);
    assert_eq!(flag.code(), 1, "{flag:?}");
    assert!(flag.stderr().contains("compared with v1"), "{flag:?}");
    project.write("contracts/treaty.toml", "[lint]\ntransitive = true\n");
    assert_eq!(project.treaty(&args).code(), 1);
}

/// The binary's help lists the new subcommands, so users find them.
#[test]
fn help_lists_lock_and_lint() {
    let project = Project::new(BEFORE);
    let help = project.treaty(&["--help"]).stdout();
    assert!(help.contains("lock") && help.contains("lint"), "{help}");
}
