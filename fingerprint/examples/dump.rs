//! Prints what the analysis finds in a package: `cargo run -p
//! treaty-fingerprint --example dump -- PACKAGE_DIR`.

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    let analysis = treaty_fingerprint::analyze_package(std::path::Path::new(&dir), None, None).expect("analysis");
    for projection in &analysis.projections {
        println!(
            "{} in {} ({}){}",
            projection.name.as_deref().unwrap_or("?"),
            projection.module,
            projection.self_ty,
            if projection.fallback { ", fallback" } else { "" }
        );
        for (label, hash) in &projection.items {
            println!("    {label}  {:08x}", hash >> 96);
        }
    }
    for ((krate, contract), items) in &analysis.upcasts {
        println!("upcasts of {contract} for {krate}");
        for label in items.keys() {
            println!("    {label}");
        }
    }
    println!(
        "fallback: {} items; watched: {} paths",
        analysis.fallback.len(),
        analysis.watched.len()
    );
    for warning in &analysis.warnings {
        println!("warning: {warning}");
    }
}
