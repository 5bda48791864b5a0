#!/usr/bin/env bash
# Size and speed of the browser build (BENCHMARKS.md, "In the browser"):
# the gzipped .wasm, and the simulation time of a 10,000-request config in
# headless Chromium and Node.js against the native binary.
#
#   scripts/bench-web.sh            # configs/bench/poisson-100k.toml cut to 10,000 requests
#   scripts/bench-web.sh my.toml    # another config
#   RUNS=9 scripts/bench-web.sh     # more repetitions (default 5)
#
# Needs what scripts/build-web.sh makes, Chromium and playwright-core
# (npm ci --prefix tests/browser).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
scripts/build-web.sh >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
config=${1:-}
label=${1:-configs/bench/poisson-100k.toml, num_requests = 10000}
if [[ -z "$config" ]]; then
  config=$tmp/poisson-10k.toml
  sed 's/^num_requests = 100000/num_requests = 10000/' configs/bench/poisson-100k.toml >"$config"
  grep -q '^num_requests = 10000$' "$config"
fi
wasm=target/web/package/inference_lab_web_bg.wasm
printf 'wasm: %d bytes, %d gzipped (gzip -9)\n\n' "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"
LABEL=$label node scripts/bench-web.mjs "$config"
