#!/usr/bin/env bash
# Times single simulations: wall time, simulated requests per wall-second and
# peak RSS, median of N runs (default 5), one thread, release build.
#
#   scripts/bench.sh                 # the standard workloads
#   scripts/bench.sh my.toml ...     # other configs
#   RUNS=3 scripts/bench.sh          # fewer repetitions
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet
BIN=target/release/inference-lab
if [ $# -eq 0 ]; then
  set -- configs/long.toml configs/bench/closed-loop-100k.toml configs/bench/poisson-100k.toml
fi
command -v /usr/bin/time >/dev/null || { echo "scripts/bench.sh needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '| workload | requests | wall time (s, median of %d) | requests / wall-second | peak RSS (MB) |\n' "$RUNS"
printf '|---|---|---|---|---|\n'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for config in "$@"; do
  : > "$tmp/wall"; : > "$tmp/rss"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %M' -o "$tmp/t" "$BIN" -c "$config" -q -o "$tmp/out.json"
    read -r wall rss < "$tmp/t"
    echo "$wall" >> "$tmp/wall"; echo "$rss" >> "$tmp/rss"
  done
  requests=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests']['total'])" "$tmp/out.json")
  wall=$(median < "$tmp/wall")
  rss=$(median < "$tmp/rss")
  awk -v c="$config" -v n="$requests" -v w="$wall" -v r="$rss" \
    'BEGIN { printf "| %s | %d | %.2f | %.0f | %.1f |\n", c, n, w, (w > 0 ? n / w : 0), r / 1024 }'
done
