#!/usr/bin/env bash
# Installs Prometheus (Debian's `prometheus`) for
# examples/factory/tests/prometheus.rs, which starts its own Prometheus
# with the scrape configuration of docs/operations.md against a `factory
# serve` process: no daemon needs to run beforehand. Sourced by .ci/run;
# safe to run again on a machine where it is installed. Under CI=true the
# test fails when it is missing.
set -euo pipefail

if [ ! -x /usr/bin/prometheus ]; then
  apt-get update -qq
  # Without the recommended node exporter and its collectors.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
echo "prometheus: $(/usr/bin/prometheus --version 2>&1 | head -1)"
