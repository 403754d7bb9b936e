#!/usr/bin/env bash
# Installs what the HTTP tests drive besides the server: headless Chromium
# (Debian's `chromium`, for examples/factory/tests/browser.rs and
# cli/tests/docs.rs) and Schemathesis (from PyPI, for
# examples/factory/tests/schemathesis.rs). Sourced by .ci/run; safe to run
# again on a machine where they are installed. Under CI=true those tests
# fail when either is missing.
set -euo pipefail

if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check schemathesis
fi
# pip may install console scripts where PATH does not look (a user or
# pyenv prefix); the tests find `st` on PATH.
if ! command -v st >/dev/null 2>&1; then
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  export PATH
fi
echo "http: $(/usr/bin/chromium --version 2>/dev/null | head -1); $(st --version)"
