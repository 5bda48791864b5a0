#!/usr/bin/env bash
# Sweeps at scale: the policies x budgets x seeds grid of configs/quick.toml
# (100-request points) at 10^4, 10^5 and 10^6 points, then the merge of many
# shards. Prints Markdown tables for BENCHMARKS.md.
#
#   scripts/bench-scale.sh                 # 10^4, 10^5 and 10^6 points, merges of 100 and 1,000 shards
#   SIZES="10000" scripts/bench-scale.sh   # other sizes (multiples of 40)
#   SHARDS="100" scripts/bench-scale.sh    # other shard counts for the merge (of the first size)
#   JOBS=2 scripts/bench-scale.sh          # worker threads (default: every core)
#
# Per size: planning time (validate), wall and CPU time of the sweep, points
# per second (and per CPU-second), peak RSS, files and bytes on disk, the
# time of resuming the finished sweep (its tables stamped current: nothing
# read or written), and the time and RSS of a full resume (the stamp
# removed: every record checked and reused, every table written again).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-common.sh
SIZES=${SIZES:-"10000 100000 1000000"}
SHARDS=${SHARDS:-"100 1000"}
JOBS=${JOBS:-$(nproc)}
base=$(pwd)/configs/quick.toml

# manifest N: writes a manifest of N points (8 policies x 5 budgets x N/40 seeds).
manifest() {
  local n=$1 path="$tmp/scale-$1.toml"
  cat > "$path" <<EOF
[sweep]
name = "scale-$n"
base = "$base"
[grid]
"scheduler.policy" = ["fcfs", "sof", "sif", "stf", "lof", "lif", "ltf", "priority"]
"scheduler.max_num_batched_tokens" = [2048, 4096, 8192, 16384, 32768]
"workload.seed" = { range = [1, $((n / 40))] }
EOF
  echo "$path"
}

# timed OUT CMD...: runs CMD under /usr/bin/time; leaves "wall cpu rss_kb" in OUT.
timed() {
  local out=$1; shift
  /usr/bin/time -f '%e %U %S %M' -o "$tmp/t" "$@" > /dev/null
  read -r wall user sys rss < "$tmp/t"
  echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') $rss" > "$out"
}

echo "| points | plan (s) | sweep wall (s) | CPU (s) | points / s | points / CPU-s | peak RSS (MB) | files | on disk (MB) | resume wall (s) | full resume wall (s) | full resume RSS (MB) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in $SIZES; do
  m=$(manifest "$n")
  out="$tmp/out-$n"
  timed "$tmp/plan" "$BIN" validate "$m"
  timed "$tmp/sweep" "$BIN" sweep "$m" -o "$out" -j "$JOBS" -q
  files=$(find "$out" -type f | wc -l)
  timed "$tmp/resume" "$BIN" sweep "$m" -o "$out" -j "$JOBS" -q
  rm "$out/.tables-stamp"
  timed "$tmp/full" "$BIN" sweep "$m" -o "$out" -j "$JOBS" -q
  bytes=$(du -sb "$out" | cut -f1)
  read -r pw _ _ < "$tmp/plan"
  read -r w c r < "$tmp/sweep"
  read -r rw _ _ < "$tmp/resume"
  read -r fw _ fr < "$tmp/full"
  awk -v n="$n" -v pw="$pw" -v w="$w" -v c="$c" -v r="$r" -v f="$files" -v b="$bytes" -v rw="$rw" -v fw="$fw" -v fr="$fr" \
    'BEGIN { printf "| %d | %.2f | %.1f | %.1f | %.0f | %.0f | %.1f | %d | %.1f | %.2f | %.2f | %.1f |\n", n, pw, w, c, n / w, n / c, r / 1024, f, b / 1e6, rw, fw, fr / 1024 }'
  [ "$n" = "${SIZES%% *}" ] || rm -rf "$out"
done

echo
echo "| shards | points | shard tasks wall (s) | merge wall (s) | merge CPU (s) | merge RSS (MB) | merged = one machine |"
echo "|---|---|---|---|---|---|---|"
n=${SIZES%% *}
m=$(manifest "$n")
for k in $SHARDS; do
  sharded="$tmp/sharded-$k"
  start=$(date +%s.%N)
  for i in $(seq 0 $((k - 1))); do
    "$BIN" sweep "$m" -o "$sharded" --shard "$i/$k" -j 1 -q
  done
  tasks=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')
  dirs=()
  for i in $(seq 0 $((k - 1))); do dirs+=("$sharded/shard-$i-of-$k"); done
  timed "$tmp/merge" "$BIN" sweep merge "${dirs[@]}" -o "$sharded"
  read -r mw mc mr < "$tmp/merge"
  same=$(python3 - "$sharded/runs.csv" "$tmp/out-$n/runs.csv" <<'EOF'
import csv, sys
def rows(p):
    r = list(csv.reader(open(p)))
    keep = [i for i, c in enumerate(r[0]) if "wall" not in c]
    return [[row[i] for i in keep] for row in r]
print("yes" if rows(sys.argv[1]) == rows(sys.argv[2]) else "NO")
EOF
)
  awk -v k="$k" -v n="$n" -v t="$tasks" -v mw="$mw" -v mc="$mc" -v mr="$mr" -v s="$same" \
    'BEGIN { printf "| %d | %d | %.1f | %.2f | %.2f | %.1f | %s |\n", k, n, t, mw, mc, mr / 1024, s }'
  rm -rf "$sharded"
done
