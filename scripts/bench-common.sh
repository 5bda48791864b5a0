# Sourced by the benchmark scripts (scripts/bench*.sh) after `set -euo pipefail`
# and `cd` to the repository root: builds the release binary ($BIN), checks
# for /usr/bin/time, makes a temporary directory ($tmp, removed on exit) and
# defines `median` (of the numbers on stdin, one a line).
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/inference-lab
command -v /usr/bin/time >/dev/null || { echo "$(basename "$0") needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
