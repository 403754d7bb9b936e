//! The cargo workspace the `compile` and `decode` suites build: a crate
//! holding Treaty's generated code for the codegen corpus, one holding
//! prost-build's for the same messages, and the decode benchmark's
//! binary. It lives under `target/bench-compile/`, beside the build's own
//! output, so its dependencies are built once and stay built between runs;
//! generated files are rewritten only when their content changes, so an
//! unchanged workspace is not rebuilt either.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::codegen::{corpus::Corpus, Inputs};
use crate::timing::{children_cpu_time, timed};
use crate::Failure;

/// The package with Treaty's generated code.
pub const TREATY_CRATE: &str = "treaty-corpus";
/// The package with prost-build's generated code.
pub const PROST_CRATE: &str = "prost-corpus";
/// The decode benchmark's binary package.
pub const DECODE_CRATE: &str = "decode-corpus";

/// A cargo profile the suites build with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Profile::Debug => &[],
            Profile::Release => &["--release"],
        }
    }
}

/// The generated workspace on disk.
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    /// Writes (or refreshes) the workspace for a corpus of `messages`
    /// commands and events: both generators run on the same contract set,
    /// the one the `codegen` suite times.
    pub fn prepare(messages: usize) -> Result<Workspace, Failure> {
        let root = bench_compile_dir()?;
        let corpus = Corpus::generate(messages);
        let inputs = Inputs::write(&corpus)?;
        let treaty_root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or_else(|| Failure::new("the bench crate has no parent directory"))?
            .to_path_buf();

        write_if_changed(&root.join("Cargo.toml"), &workspace_manifest())?;
        // The workspace's own lock pins the dependency versions, so both
        // crates build offline with exactly what the workspace uses.
        let lock = root.join("Cargo.lock");
        if !lock.exists() {
            std::fs::copy(treaty_root.join("Cargo.lock"), &lock)
                .map_err(|e| Failure::io(format!("copy Cargo.lock to {}", lock.display()), e))?;
        }

        let treaty = root.join(TREATY_CRATE);
        write_if_changed(
            &treaty.join("Cargo.toml"),
            &package_manifest(
                TREATY_CRATE,
                &format!(
                    "treaty = {{ path = {:?}, default-features = false }}\n",
                    treaty_root.display().to_string()
                ),
            ),
        )?;
        write_if_changed(&treaty.join("src/lib.rs"), TREATY_LIB)?;
        treaty_codegen::Builder::new()
            .out_dir(treaty.join("src"))
            .file_name("contracts.rs")
            .emit_rerun_if_changed(false)
            .compile(&[&inputs.treaty_dir])
            .map_err(|e| Failure::new(format!("Treaty failed on the generated contracts:\n{e}")))?;

        let prost = root.join(PROST_CRATE);
        write_if_changed(
            &prost.join("Cargo.toml"),
            &package_manifest(PROST_CRATE, "prost = \"0.14\"\nprost-types = \"0.14\"\n"),
        )?;
        write_if_changed(&prost.join("src/lib.rs"), PROST_LIB)?;
        let proto_out = prost.join("src/proto");
        std::fs::create_dir_all(&proto_out).map_err(|e| Failure::io(format!("create {}", proto_out.display()), e))?;
        prost_build::Config::new()
            .out_dir(&proto_out)
            .include_file("_includes.rs")
            .compile_protos(&inputs.proto_files, &[&inputs.proto_dir])
            .map_err(|e| Failure::new(format!("prost-build failed on the generated protos: {e}")))?;

        crate::decode::write_crate(&root, &corpus)?;
        Ok(Workspace { root })
    }

    /// The package directory of `package`.
    pub fn package(&self, package: &str) -> PathBuf {
        self.root.join(package)
    }

    /// Runs cargo in the workspace with `args`, failing with its output
    /// when it fails.
    pub fn cargo(&self, args: &[&str]) -> Result<Output, Failure> {
        let output = Command::new(cargo())
            .args(args)
            .arg("--offline")
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", self.root.join("target"))
            // Every rebuild compiles the whole crate, as after a change to
            // the contracts (and as release builds always do): in debug,
            // incremental compilation would reuse most of an unchanged
            // crate and time something else.
            .env("CARGO_INCREMENTAL", "0")
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(|e| Failure::io("run cargo", e))?;
        if !output.status.success() {
            return Err(Failure::new(format!(
                "`cargo {}` failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(output)
    }

    /// Builds `packages` (and their dependencies) in `profile`, untimed.
    pub fn build(&self, packages: &[&str], profile: Profile) -> Result<(), Failure> {
        let mut args = vec!["build", "--quiet"];
        args.extend_from_slice(profile.args());
        for package in packages {
            args.extend(["-p", package]);
        }
        self.cargo(&args).map(drop)
    }

    /// Builds the dependencies of `packages` in `profile`, untimed: each
    /// package is built with a placeholder `lib.rs`, then its real one is
    /// put back, so the next build compiles it.
    pub fn build_dependencies(&self, packages: &[&str], profile: Profile) -> Result<(), Failure> {
        let libs: Vec<(PathBuf, String)> = packages
            .iter()
            .map(|package| {
                let lib = self.package(package).join("src/lib.rs");
                std::fs::read_to_string(&lib)
                    .map(|text| (lib.clone(), text))
                    .map_err(|e| Failure::io(format!("read {}", lib.display()), e))
            })
            .collect::<Result<_, _>>()?;
        for (lib, _) in &libs {
            write_if_changed(lib, "//! A placeholder while the dependencies build.\n")?;
        }
        let built = self.build(packages, profile);
        for (lib, text) in &libs {
            write_if_changed(lib, text)?;
        }
        built
    }

    /// Rebuilds `package` alone, its dependencies already built, as after
    /// an edit to it: its `src/lib.rs` is touched and cargo is timed, by
    /// the clock and by the CPU time cargo and rustc used. Fails when
    /// cargo did not compile the package.
    pub fn rebuild(&self, package: &str, profile: Profile) -> Result<Rebuild, Failure> {
        let lib = self.package(package).join("src/lib.rs");
        let file = std::fs::File::options()
            .append(true)
            .open(&lib)
            .map_err(|e| Failure::io(format!("open {}", lib.display()), e))?;
        file.set_modified(std::time::SystemTime::now())
            .map_err(|e| Failure::io(format!("touch {}", lib.display()), e))?;
        drop(file);
        let mut args = vec!["build", "-p", package];
        args.extend_from_slice(profile.args());
        let cpu_before = children_cpu_time();
        let (output, wall) = timed(|| self.cargo(&args));
        let stderr = String::from_utf8_lossy(&output?.stderr).into_owned();
        if !stderr.contains(&format!("Compiling {package}")) {
            return Err(Failure::new(format!(
                "cargo did not recompile {package} after its lib.rs was touched:\n{stderr}"
            )));
        }
        let cpu = children_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before))
            .ok_or_else(|| Failure::new("no /proc/self/stat on this system to read CPU time from"))?;
        Ok(Rebuild { wall, cpu })
    }

    /// The lines of `package`'s code after macro expansion
    /// (`rustc -Zunpretty=expanded`, what `cargo expand` shows). It runs
    /// with `RUSTC_BOOTSTRAP=1`, which some build scripts watch, so in a
    /// target directory of its own.
    pub fn expanded_lines(&self, package: &str) -> Result<usize, Failure> {
        let output = Command::new(cargo())
            .args([
                "rustc",
                "--quiet",
                "--offline",
                "--profile=check",
                "--lib",
                "-p",
                package,
            ])
            .args(["--", "-Zunpretty=expanded"])
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", self.root.join("target-expand"))
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(|e| Failure::io("run cargo rustc", e))?;
        if !output.status.success() {
            return Err(Failure::new(format!(
                "expanding {package} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(output.stdout.iter().filter(|&&b| b == b'\n').count())
    }
}

/// How long one rebuild took.
#[derive(Debug, Clone, Copy)]
pub struct Rebuild {
    /// By the clock.
    pub wall: Duration,
    /// User and system CPU time of cargo and rustc, which other work on
    /// the machine disturbs less than the clock.
    pub cpu: Duration,
}

/// The cargo that runs this benchmark's builds: the one that built it when
/// run through `cargo run`, else the one on the path.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// `target/bench-compile/`, found like the store suite's data directory.
fn bench_compile_dir() -> Result<PathBuf, Failure> {
    let data = crate::store::bench_data_dir()?;
    let target = data
        .parent()
        .ok_or_else(|| Failure::new("the bench data directory has no parent"))?;
    let dir = target.join("bench-compile");
    std::fs::create_dir_all(&dir).map_err(|e| Failure::io(format!("create {}", dir.display()), e))?;
    Ok(dir)
}

fn workspace_manifest() -> String {
    format!(
        "# Written by treaty-bench; rewritten on every run.\n\
         [workspace]\nmembers = [\"{TREATY_CRATE}\", \"{PROST_CRATE}\", \"{DECODE_CRATE}\"]\nresolver = \"2\"\n"
    )
}

/// A package's manifest with default profiles, as a new user's crate has.
fn package_manifest(name: &str, dependencies: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{dependencies}"
    )
}

const TREATY_LIB: &str = "//! Treaty's code for the codegen corpus, as `include_contracts!()` includes it.\n\
                          include!(\"contracts.rs\");\n";

const PROST_LIB: &str = "//! prost-build's code for the codegen corpus, as its `include_file` includes it.\n\
                         include!(\"proto/_includes.rs\");\n";

/// Writes `text` to `path` (creating its directory) unless it already
/// holds exactly that, so cargo sees no change.
pub fn write_if_changed(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Failure::io(format!("create {}", parent.display()), e))?;
    }
    treaty_codegen::write_if_changed(path, text.as_bytes())
        .map(drop)
        .map_err(|e| Failure::new(e.to_string()))
}
