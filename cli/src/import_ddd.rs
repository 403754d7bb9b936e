//! `treaty import-ddd`: Lokad `.ddd` files to `.treaty` files. The
//! conversion is `treaty_dsl::lokad`'s; this file reads, lays out with
//! `treaty fmt`'s layout, checks and writes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use treaty_dsl::lokad::{import, Imported};
use treaty_dsl::{compile, format_str, Config, Sources};

use crate::{report, INVALID, USAGE};

#[derive(clap::Args)]
pub struct ImportDddArgs {
    /// Lokad Code DSL files (`*.ddd`).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The directory to write the `.treaty` files to (created if missing);
    /// existing files are not overwritten.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: ImportDddArgs) -> ExitCode {
    let mut inputs = Vec::with_capacity(args.files.len());
    let mut targets: Vec<PathBuf> = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(USAGE);
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(&e.as_bytes()[..at]);
                let line = text.matches('\n').count() + 1;
                let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                eprintln!(
                    "error: {}:{line}:{column}: the file is not valid UTF-8; save it as UTF-8 and run again",
                    path.display()
                );
                return ExitCode::from(INVALID);
            }
        };
        let target = args.out.join(target_name(path));
        if targets.contains(&target) {
            eprintln!(
                "error: two inputs would both be written to {}; import them in separate runs with different -o \
                 directories",
                target.display()
            );
            return ExitCode::from(USAGE);
        }
        if target.exists() {
            eprintln!(
                "error: {} exists; delete it or choose another -o directory",
                target.display()
            );
            return ExitCode::from(USAGE);
        }
        targets.push(target);
        inputs.push((path.display().to_string(), text));
    }
    let imported = import(&inputs);
    let mut outputs = Vec::with_capacity(imported.len());
    for Imported { name, treaty, .. } in &imported {
        match format_str(name, treaty) {
            Ok(text) => outputs.push(text),
            Err(e) => {
                eprintln!("error: the import of {name} is not valid Treaty (a bug in import-ddd): {e}");
                return ExitCode::from(INVALID);
            }
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("error: cannot create {}: {e}", args.out.display());
        return ExitCode::from(USAGE);
    }
    for (target, text) in targets.iter().zip(&outputs) {
        if let Err(e) = std::fs::write(target, text) {
            eprintln!("error: cannot write {}: {e}", target.display());
            return ExitCode::from(USAGE);
        }
    }
    let mut notes = 0;
    for imported in &imported {
        for note in &imported.notes {
            eprintln!(
                "{}:{}:{}: note: {}",
                imported.name, note.line, note.column, note.message
            );
            notes += 1;
        }
    }
    for target in &targets {
        eprintln!("wrote {}", target.display());
    }
    if notes > 0 {
        eprintln!(
            "{notes} note{} above need a person; each placeholder is marked `TODO(import-ddd)` in the output",
            if notes == 1 { "" } else { "s" }
        );
    }
    // What was written must be valid contracts; say so now rather than at
    // the next build.
    let mut sources = Sources::new();
    for (target, text) in targets.iter().zip(&outputs) {
        sources.add(target.display().to_string(), text.as_bytes());
    }
    match compile(&sources, &Config::default()) {
        Ok(_) => ExitCode::SUCCESS,
        Err(diagnostics) => {
            report(&diagnostics);
            eprintln!("error: the imported files have the errors above; fix them by hand");
            ExitCode::from(INVALID)
        }
    }
}

/// `contracts/security.ddd` is written as `security.treaty`.
fn target_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned());
    format!("{stem}.treaty")
}
