//! `treaty fmt`: rewrites `.treaty` files in the canonical layout, or with
//! `--check` lists those that are not in it. The layout is
//! `treaty_dsl::format`'s; this file reads, checks and writes.

use std::path::PathBuf;
use std::process::ExitCode;

use treaty_dsl::{compile, contracts, format_file, Config, FormatError, Sources};

use crate::{load, report, INVALID};

#[derive(clap::Args)]
pub struct FmtArgs {
    /// Contract files, or directories searched for `*.treaty`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Write nothing; list the files whose layout would change and exit 1
    /// if there are any.
    #[arg(long)]
    check: bool,
}

pub fn run(args: FmtArgs) -> ExitCode {
    let sources = match load(&args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let mut failed = false;
    // Each file with its formatted text, in load order.
    let mut formatted = Vec::with_capacity(sources.len());
    for (id, file) in sources.iter() {
        match format_file(&sources, id) {
            Ok(text) => formatted.push((file.name.clone(), text)),
            Err(FormatError::Syntax(diagnostics)) => {
                report(&diagnostics);
                failed = true;
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        eprintln!("error: files with errors are left as they are; nothing was written");
        return ExitCode::from(INVALID);
    }
    // Each file keeps its syntax tree; the contracts compiled together must
    // keep their canonical schemas too.
    if let Ok(before) = compile(&sources, &Config::default()) {
        let mut after_sources = Sources::new();
        for (name, text) in &formatted {
            after_sources.add(name.clone(), text.as_bytes());
        }
        let same = compile(&after_sources, &Config::default())
            .map(|after| contracts(&after) == contracts(&before))
            .unwrap_or(false);
        if !same {
            eprintln!(
                "error: formatting would change the canonical schemas (a bug in the formatter); nothing was written"
            );
            return ExitCode::from(INVALID);
        }
    }
    let mut changed = Vec::new();
    for (name, text) in &formatted {
        let path = PathBuf::from(name);
        match std::fs::read(&path) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            Ok(_) => changed.push((path, text)),
            Err(e) => {
                eprintln!("error: cannot read {name}: {e}");
                return ExitCode::from(INVALID);
            }
        }
    }
    if args.check {
        for (path, _) in &changed {
            println!("{}", path.display());
        }
        if changed.is_empty() {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "{} file{} not formatted; `treaty fmt` without --check rewrites {}",
            changed.len(),
            crate::plural(changed.len()),
            if changed.len() == 1 { "it" } else { "them" },
        );
        return ExitCode::from(INVALID);
    }
    for (path, text) in &changed {
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(INVALID);
        }
        eprintln!("formatted {}", path.display());
    }
    ExitCode::SUCCESS
}
