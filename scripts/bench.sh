#!/usr/bin/env bash
# Times single simulations, one thread, release build: wall time, CPU (user)
# time, simulated requests per wall-second and peak RSS, median of N runs.
#
#   scripts/bench.sh                 # the standard workloads
#   scripts/bench.sh my.toml ...     # other configs
#   scripts/bench.sh --scaling       # 10k / 100k / 1M requests, closed loop and overload
#   scripts/bench.sh --sweep [M.toml] # sweep throughput with -j 1 and -j 2 (default sweeps/policies.toml)
#   RUNS=3 scripts/bench.sh          # fewer repetitions (default 5)
#
# CPU time is reported beside wall time because it is less disturbed by other
# work on the machine; compare like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
. scripts/bench-common.sh

# bench_one CONFIG [LABEL]: prints one table row.
bench_one() {
  local config=$1 label=${2:-$1}
  : > "$tmp/wall"; : > "$tmp/cpu"; : > "$tmp/rss"
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %U %M' -o "$tmp/t" "$BIN" -c "$config" -q -o "$tmp/out.json"
    read -r wall cpu rss < "$tmp/t"
    echo "$wall" >> "$tmp/wall"; echo "$cpu" >> "$tmp/cpu"; echo "$rss" >> "$tmp/rss"
  done
  local requests
  requests=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests']['total'])" "$tmp/out.json")
  awk -v c="$label" -v n="$requests" -v w="$(median < "$tmp/wall")" -v u="$(median < "$tmp/cpu")" -v r="$(median < "$tmp/rss")" \
    'BEGIN { printf "| %s | %d | %.2f | %.2f | %.0f | %.0f | %.1f |\n", c, n, w, u, (w > 0 ? n / w : 0), (n > 0 ? u / n * 1e9 : 0), r / 1024 }'
}

# bench_sweep MANIFEST: runs/second with -j 1 and -j 2 (every run redone), the
# speedup and the parallel efficiency (speedup / threads).
bench_sweep() {
  local manifest=$1 points
  points=$("$BIN" sweep "$manifest" --dry-run | head -1 | sed -E 's/.*: ([0-9]+) points.*/\1/')
  printf '| sweep | runs | threads | wall (s) | CPU (s) | runs / second | speedup | efficiency | peak RSS (MB) |\n'
  printf '|---|---|---|---|---|---|---|---|---|\n'
  local base=""
  for jobs in 1 2; do
    : > "$tmp/wall"; : > "$tmp/cpu"; : > "$tmp/rss"
    for _ in $(seq "$RUNS"); do
      /usr/bin/time -f '%e %U %M' -o "$tmp/t" "$BIN" sweep "$manifest" -o "$tmp/sweep" -j "$jobs" -q --force
      read -r wall cpu rss < "$tmp/t"
      echo "$wall" >> "$tmp/wall"; echo "$cpu" >> "$tmp/cpu"; echo "$rss" >> "$tmp/rss"
    done
    local w; w=$(median < "$tmp/wall")
    [ -n "$base" ] || base=$w
    awk -v m="$manifest" -v n="$points" -v j="$jobs" -v w="$w" -v b="$base" -v u="$(median < "$tmp/cpu")" -v r="$(median < "$tmp/rss")" \
      'BEGIN { printf "| %s | %d | %d | %.2f | %.2f | %.0f | %.2fx | %.0f%% | %.1f |\n", m, n, j, w, u, n / w, b / w, 100 * b / w / j, r / 1024 }'
  done
}

if [ "${1:-}" = "--sweep" ]; then
  bench_sweep "${2:-sweeps/policies.toml}"
  exit 0
fi

printf '| workload | requests | wall (s) | CPU (s) | requests / wall-second | CPU ns / request | peak RSS (MB) |\n'
printf '|---|---|---|---|---|---|---|\n'
if [ "${1:-}" = "--scaling" ]; then
  for n in 10000 100000 1000000; do
    sed "s/^num_requests = .*/num_requests = $n/" configs/bench/closed-loop-100k.toml > "$tmp/closed-$n.toml"
    bench_one "$tmp/closed-$n.toml" "closed loop, 256 users, $n requests"
  done
  for n in 10000 100000 1000000; do
    sed -e "s/^num_requests = .*/num_requests = $n/" -e "s/^arrival_rate = .*/arrival_rate = 10.0/" \
      configs/bench/poisson-100k.toml > "$tmp/overload-$n.toml"
    bench_one "$tmp/overload-$n.toml" "Poisson 10 req/s (overload), $n requests"
  done
  exit 0
fi
if [ $# -eq 0 ]; then
  set -- configs/long.toml configs/bench/closed-loop-100k.toml configs/bench/poisson-100k.toml
fi
for config in "$@"; do
  bench_one "$config"
done
