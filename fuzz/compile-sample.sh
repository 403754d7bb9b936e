#!/usr/bin/env bash
# Compiles contracts that the `contracts` fuzz target accepted, for real:
# each file of DIR (written there by `TREATY_FUZZ_SAMPLE_DIR=DIR treaty-fuzz
# contracts ...`) through a build.rs into a module of one crate that
# depends on `treaty`, built under `deny(warnings)` and clippy. The fuzz
# target itself only parses the generated code with syn; this is where
# rustc has its say.
#
#   fuzz/compile-sample.sh DIR
#
# It builds in the workspace's target directory, so the dependencies the
# tests compiled are reused.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sample=$(cd "$1" && pwd)
files=("$sample"/*.treaty)
if [ ! -e "${files[0]}" ]; then
  echo "compile-sample: no accepted contract in $sample; nothing to compile" >&2
  exit 1
fi
crate=$(mktemp -d)
trap 'rm -rf "$crate"' EXIT
mkdir -p "$crate/src"
cat >"$crate/Cargo.toml" <<TOML
[package]
name = "treaty-fuzz-sample"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
treaty = { path = "$repo", default-features = false }

[build-dependencies]
treaty-codegen = { path = "$repo/codegen" }
TOML
cat >"$crate/build.rs" <<RUST
fn main() {
    let dir = std::path::Path::new("$sample");
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files.iter().filter(|f| f.extension().is_some_and(|e| e == "treaty")) {
        let stem = file.file_stem().unwrap().to_str().unwrap();
        treaty_codegen::Builder::new()
            .file_name(format!("{stem}.rs"))
            .compile(&[file])
            .unwrap_or_else(|e| panic!("{}: accepted by the fuzz target, refused here: {e}", file.display()));
    }
}
RUST
{
  echo '#![deny(warnings)]'
  for file in "${files[@]}"; do
    stem=$(basename "$file" .treaty)
    echo "pub mod $stem {"
    echo "    treaty::include_contracts!(\"$stem.rs\");"
    echo "}"
  done
} >"$crate/src/lib.rs"
cp "$repo/Cargo.lock" "$crate/Cargo.lock"
export CARGO_TARGET_DIR="$repo/target"
cargo clippy --quiet --manifest-path "$crate/Cargo.toml" -- -D warnings
echo "compile-sample: ${#files[@]} accepted contracts compile under deny(warnings) and clippy"
