#!/usr/bin/env bash
# The clean build of a user's crate: a package with a build.rs compiling
# the factory example's contracts, depending on `treaty` (and on
# `treaty-codegen` as a build-dependency) the way the README says, built
# from nothing in debug. Prints one line per configuration: wall time, CPU
# time (user + system, which the other core's load disturbs less) and the
# number of crates compiled.
#
#   bench/user-build.sh [REV]
#
# Without REV it builds against this checkout; with one (such as a commit
# before a change), against that commit, checked out in a temporary
# worktree, so before and after can be measured in one sitting. The
# SQLite-only configuration (`default-features = false`) is measured only
# where the facade has features.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$work/treaty" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

if [ $# -ge 1 ]; then
  git -C "$repo" worktree add --detach "$work/treaty" "$1" >/dev/null 2>&1
  treaty="$work/treaty"
else
  treaty="$repo"
fi
label=${1:-$(git -C "$repo" rev-parse --short HEAD)+}

configurations=("default")
if grep -q '^\[features\]' "$treaty/Cargo.toml"; then
  configurations+=("sqlite-only")
fi

for configuration in "${configurations[@]}"; do
  crate="$work/user-$configuration"
  mkdir -p "$crate/src"
  # The factory's contracts: in their own crate's treaty/ since that crate
  # exists, directly in examples/factory/contracts before.
  contracts="$treaty/examples/factory/contracts/treaty"
  [ -d "$contracts" ] || contracts="$treaty/examples/factory/contracts"
  cp -r "$contracts" "$crate/contracts"
  features=""
  [ "$configuration" = "sqlite-only" ] && features=", default-features = false"
  cat >"$crate/Cargo.toml" <<EOF
[package]
name = "user-crate"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
treaty = { path = "$treaty"$features }

[build-dependencies]
treaty-codegen = { path = "$treaty/codegen" }

[profile.dev.package."*"]
debug = false
EOF
  cat >"$crate/build.rs" <<'EOF'
fn main() {
    treaty_codegen::Builder::new().compile(&["contracts"]).expect("contracts compile");
}
EOF
  cat >"$crate/src/lib.rs" <<'EOF'
treaty::include_contracts!();
EOF
  # The same dependency versions as the workspace, so only the crates
  # compiled differ between the two builds.
  cp "$treaty/Cargo.lock" "$crate/Cargo.lock"
  (cd "$crate" && cargo fetch --quiet)
  start=$(date +%s.%N)
  # bash's `times` would count the shell too; GNU time reports the build.
  /usr/bin/time -f "%U %S" -o "$work/cpu" cargo build --quiet --manifest-path "$crate/Cargo.toml" \
    --target-dir "$work/target-$configuration" 2>"$work/log" || { cat "$work/log"; exit 1; }
  end=$(date +%s.%N)
  crates=$(find "$work/target-$configuration/debug/.fingerprint" -mindepth 1 -maxdepth 1 -type d | wc -l)
  read -r user system <"$work/cpu"
  printf '%s %-12s wall %6.1f s  cpu %6.1f s  units %d\n' "$label" "$configuration" \
    "$(echo "$end - $start" | bc)" "$(echo "$user + $system" | bc)" "$crates"
done
