//! Where the time of each generator goes: every phase is run on its own,
//! on the output of the phase before, and timed as the best of several
//! runs, the same way the totals are.
//!
//! Treaty parses its files on every core and generates and formats its
//! top-level modules on every core, so `parse` is timed as Treaty runs it
//! (`compile` minus `validate`), and generation and formatting together as
//! `Builder::generate` minus `compile`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use treaty_dsl::{SourceId, Sources};

use crate::timing::{best_of, timed};
use crate::Failure;

/// A phase name (used in case names) and its best time.
pub type Phase = (&'static str, Duration);

/// Treaty's phases: read, parse (all files), validate, generate (schema
/// to syntax tree, prettyplease, on every core) and write.
pub fn treaty(dir: &Path, repetitions: usize) -> Result<Vec<Phase>, Failure> {
    let read = best(repetitions, || load(dir))?;
    let sources = load(dir)?;
    let files = parse_all(&sources);
    let config = treaty_dsl::Config::default();
    let validate = best(repetitions, || Ok(treaty_dsl::validate(&files, &config)))?;
    let compile = best(repetitions, || {
        treaty_dsl::compile(&sources, &config)
            .map_err(|e| Failure::new(format!("contracts have errors:\n{}", e.render())))
    })?;
    let builder = treaty_codegen::Builder::new();
    let generate = best(repetitions, || {
        builder
            .generate(&sources)
            .map_err(|e| Failure::new(format!("Treaty failed on the generated contracts:\n{e}")))
    })?;
    let code = builder
        .generate(&sources)
        .map_err(|e| Failure::new(format!("Treaty failed on the generated contracts:\n{e}")))?;
    let out = tempfile::tempdir().map_err(|e| Failure::io("create an output directory", e))?;
    let write = best_of(repetitions, || write_fresh(&out.path().join("out.rs"), &code))?;
    Ok(vec![
        ("read", read),
        ("parse", compile.saturating_sub(validate)),
        ("validate", validate),
        ("generate", generate.saturating_sub(compile)),
        ("write", write),
    ])
}

/// The best time of `work`, which must succeed every time: a phase that
/// failed would be timed doing something other than its job.
fn best<T>(repetitions: usize, mut work: impl FnMut() -> Result<T, Failure>) -> Result<Duration, Failure> {
    best_of(repetitions, || {
        let (result, elapsed) = timed(&mut work);
        result?;
        Ok(elapsed)
    })
}

fn load(dir: &Path) -> Result<Sources, Failure> {
    let mut sources = Sources::new();
    sources
        .load(&[dir])
        .map_err(|e| Failure::new(format!("cannot load contracts: {e}")))?;
    Ok(sources)
}

fn parse_all(sources: &Sources) -> Vec<(SourceId, treaty_dsl::ast::File)> {
    sources
        .iter()
        .map(|(id, _)| (id, treaty_dsl::parse_file(sources, id).0))
        .collect()
}

/// Writes `code` to a path that does not exist yet, as in a clean build.
fn write_fresh(path: &Path, code: &str) -> Result<Duration, Failure> {
    // Removing a missing file fails harmlessly; only the write is timed.
    let _ = std::fs::remove_file(path);
    let (result, elapsed) = timed(|| std::fs::write(path, code));
    result.map_err(|e| Failure::io(format!("write {}", path.display()), e))?;
    Ok(elapsed)
}

/// prost-build's phases: protoc (parsing the protos into a descriptor
/// set), then generate (generate, format and write).
pub fn prost(files: &[PathBuf], include: &Path, repetitions: usize) -> Result<Vec<Phase>, Failure> {
    let failed = |e: std::io::Error| Failure::new(format!("prost-build failed on the generated protos: {e}"));
    let protoc = best(repetitions, || {
        prost_build::Config::new().load_fds(files, &[include]).map_err(failed)
    })?;
    let descriptors = prost_build::Config::new().load_fds(files, &[include]).map_err(failed)?;
    let generate = best_of(repetitions, || {
        let out = tempfile::tempdir().map_err(|e| Failure::io("create an output directory", e))?;
        let set = descriptors.clone();
        let (result, elapsed) = timed(|| prost_build::Config::new().out_dir(out.path()).compile_fds(set));
        result.map_err(failed)?;
        Ok(elapsed)
    })?;
    Ok(vec![("protoc", protoc), ("generate", generate)])
}
