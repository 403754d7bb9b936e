//! `treaty docs CONTRACTS -o DIR`: the documentation a service serves at
//! `/docs` and `/openapi.json`, as static files, for teams that publish
//! documentation without running the service.
//!
//! It writes `index.html` (the contract catalog and, with `--specs`, the
//! use cases), `openapi.json` (every aggregate's command routes, as a
//! server mounting every aggregate would serve them) and `catalog.json`
//! (the catalog itself). The rendering is `treaty-catalog`'s, the same
//! functions the server uses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use treaty_catalog::routes::Surface;
use treaty_catalog::UseCase;

use crate::{valid_schema, INVALID, USAGE};

/// `treaty docs`.
#[derive(Args)]
pub struct DocsArgs {
    /// Contract files, or directories searched for `*.treaty`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The directory to write `index.html`, `openapi.json` and
    /// `catalog.json` to (created when missing).
    #[arg(short, long)]
    output: PathBuf,
    /// Use cases to include: a JSON list of `treaty::spec::Spec::use_case`
    /// values (for example the output of `cargo run -p factory -- use-cases`).
    #[arg(long, value_name = "FILE")]
    specs: Option<PathBuf>,
    /// The title of the page and the OpenAPI document.
    #[arg(long, default_value = "Contracts")]
    title: String,
    /// Map a contract type to a Rust type: `shared.Money=::money::Money`.
    #[arg(long = "extern", value_name = "NAME=RUST_TYPE")]
    extern_types: Vec<String>,
}

pub fn run(args: DocsArgs) -> ExitCode {
    let compiled = match valid_schema(&args.paths, &args.extern_types) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let catalog = treaty_codegen::catalog(&compiled.schema);
    let use_cases = match &args.specs {
        None => Vec::new(),
        Some(path) => match read_use_cases(path) {
            Ok(use_cases) => use_cases,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(USAGE);
            }
        },
    };
    let surface = Surface::every_aggregate(&catalog);
    let openapi = treaty_catalog::openapi::document(
        &catalog,
        &surface,
        &use_cases,
        &treaty_catalog::openapi::Info {
            title: args.title.clone(),
            ..Default::default()
        },
    );
    let page = treaty_catalog::html::page(
        &catalog,
        &use_cases,
        &treaty_catalog::html::Page {
            title: &args.title,
            surface: Some(&surface),
            openapi_href: Some("openapi.json"),
        },
    );
    let openapi = serde_json::to_string_pretty(&openapi).expect("a JSON value serialises");
    let files = [
        ("index.html", page),
        ("openapi.json", openapi),
        ("catalog.json", catalog.to_json()),
    ];
    for (name, content) in files {
        let path = args.output.join(name);
        if let Err(e) = treaty_codegen::write_if_changed(&path, content.as_bytes()) {
            eprintln!("error: {e}");
            return ExitCode::from(INVALID);
        }
    }
    println!(
        "wrote {} ({} namespaces, {} messages, {} use cases)",
        args.output.display(),
        catalog.namespaces.len(),
        catalog.messages().count(),
        use_cases.len()
    );
    ExitCode::SUCCESS
}

fn read_use_cases(path: &Path) -> Result<Vec<UseCase>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    UseCase::list_from_json(&text).map_err(|e| format!("{} is not a JSON list of use cases: {e}", path.display()))
}
