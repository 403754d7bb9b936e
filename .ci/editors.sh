#!/usr/bin/env bash
# Installs the npm packages the TextMate grammar's test tokenizes with
# (vscode-textmate and vscode-oniguruma, pinned in
# editors/test/package-lock.json), for dsl/tests/highlighting.rs. Sourced
# by .ci/run; under CI=true that test fails when node or the packages are
# missing.
set -euo pipefail

npm ci --prefix editors/test --no-audit --no-fund --silent
echo "editors: node $(node --version), $(ls editors/test/node_modules | tr '\n' ' ')"
