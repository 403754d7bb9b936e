//! Runs cargo on a small package whose build.rs uses `Builder::compile`,
//! to check what only a real build shows: `rerun-if-changed` makes a no-op
//! build skip the script and an edited or added contract rerun it, other
//! files beside the contracts (the lock) do not, and a broken contract
//! fails the build with the rendered diagnostics.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Probe {
    dir: PathBuf,
    target: PathBuf,
}

impl Probe {
    /// A package named `name` whose build.rs configures the builder with
    /// `settings` (method calls such as `.watch(Watch::Directories)`).
    fn new(name: &str, settings: &str) -> Probe {
        let codegen = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = codegen.parent().unwrap();
        let dir = std::env::temp_dir().join(format!("treaty-build-script-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("contracts")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"probe-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
                 [build-dependencies]\ntreaty-codegen = {{ path = {:?} }}\n",
                codegen.display().to_string()
            ),
        )
        .unwrap();
        // The workspace's lock file pins the same dependency versions, so
        // the probe builds offline from what the workspace already fetched.
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "").unwrap();
        std::fs::write(
            dir.join("build.rs"),
            r#"use std::io::Write;
#[allow(unused_imports)]
use treaty_codegen::Watch;
fn main() {
    treaty_codegen::Builder::new()SETTINGS.compile(&["contracts"]).expect("contracts compile");
    let log = concat!(env!("CARGO_MANIFEST_DIR"), "/runs.log");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    writeln!(file, "ran").unwrap();
}
"#
            .replace("SETTINGS", settings),
        )
        .unwrap();
        std::fs::write(dir.join("contracts/a.treaty"), "namespace a;\nX!(n: u32);\n").unwrap();
        // A target directory of its own: the outer `cargo test` holds the
        // workspace's build lock while tests run. The probes share it, and
        // have names of their own so their builds do not mix.
        let target = workspace.join("target/build-script-probe");
        Probe { dir, target }
    }

    fn build(&self) -> std::process::Output {
        Command::new(env!("CARGO"))
            .args(["build", "--offline"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            .output()
            .unwrap()
    }

    fn write(&self, path: &str, text: &str) {
        // Timestamps of one second granularity would hide the change.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn runs(&self) -> usize {
        std::fs::read_to_string(self.dir.join("runs.log"))
            .unwrap_or_default()
            .lines()
            .count()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn build_script_reruns_exactly_when_contracts_change() {
    let probe = Probe::new("contracts", "");
    let first = probe.build();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(probe.runs(), 1);

    assert!(probe.build().status.success());
    assert_eq!(probe.runs(), 1, "a no-op build must not rerun the script");

    // Timestamps of one second granularity would hide the edit.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(probe.dir.join("contracts/a.treaty"), "namespace a;\nX!(n: u64);\n").unwrap();
    assert!(probe.build().status.success());
    assert_eq!(probe.runs(), 2, "an edited contract must rerun the script");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(probe.dir.join("contracts/b.treaty"), "namespace b;\nY!();\n").unwrap();
    assert!(probe.build().status.success());
    assert_eq!(probe.runs(), 3, "a new contract file must rerun the script");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(probe.dir.join("contracts/b.treaty"), "namespace b;\nY!(m: Mony);\n").unwrap();
    let failed = probe.build();
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("error[unknown-type]: unknown type `Mony`"), "{stderr}");
    assert!(stderr.contains("contracts/b.treaty:2:7"), "{stderr}");
}

#[test]
fn the_lock_beside_the_contracts_does_not_rerun_the_script() {
    let probe = Probe::new("lock", "");
    probe.write("contracts/treaty.lock", "{}\n");
    probe.write("contracts/shop/b.treaty", "namespace shop;\nY!();\n");
    let first = probe.build();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(probe.runs(), 1);
    // New files directly beside the lock go unnoticed until a contract
    // changes, so the script says so.
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("is not watched for new contract files, because it also holds treaty.lock"),
        "{stderr}"
    );

    probe.write("contracts/treaty.lock", "{ }\n");
    assert!(probe.build().status.success());
    assert_eq!(probe.runs(), 1, "touching the lock must not rerun the script");

    probe.write("contracts/a.treaty", "namespace a;\nX!(n: u64);\n");
    assert!(probe.build().status.success());
    assert_eq!(
        probe.runs(),
        2,
        "an edited contract beside the lock must rerun the script"
    );

    probe.write("contracts/shop/c.treaty", "namespace shop.c;\nZ!();\n");
    assert!(probe.build().status.success());
    assert_eq!(
        probe.runs(),
        3,
        "a contract added in a directory of contracts must rerun the script"
    );
}

#[test]
fn watching_directories_notices_a_contract_added_beside_the_lock() {
    let probe = Probe::new("directories", ".watch(Watch::Directories)");
    probe.write("contracts/treaty.lock", "{}\n");
    let first = probe.build();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(!String::from_utf8_lossy(&first.stderr).contains("is not watched"));
    assert_eq!(probe.runs(), 1);

    probe.write("contracts/b.treaty", "namespace b;\nY!();\n");
    assert!(probe.build().status.success());
    assert_eq!(
        probe.runs(),
        2,
        "a contract added beside the lock must rerun the script"
    );
}
