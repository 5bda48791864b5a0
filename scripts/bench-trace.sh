#!/usr/bin/env bash
# Trace replay at scale: plain traces of 100,000 and LINES (default 1,000,000)
# lines, made by scripts/make-trace.py (not committed), replayed with the
# server of configs/trace.toml. Three modes per trace:
#   replay  the whole trace through the simulator, streamed (sort = false)
#   parse   the trace read and parsed, nothing simulated (a window after its end)
#   sorted  the whole replay with sort = true (the trace is held in memory)
# Wall and CPU time and peak RSS from /usr/bin/time, median of RUNS (default 3).
#
#   scripts/bench-trace.sh
#   LINES=300000 RUNS=1 scripts/bench-trace.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
RUNS=${RUNS:-3}
. scripts/bench-common.sh

printf '| lines | trace (MB) | mode | wall (s) | CPU (s) | lines / CPU-second | peak RSS (MB) |\n'
printf '|---|---|---|---|---|---|---|\n'
for lines in 100000 "$LINES"; do
  python3 scripts/make-trace.py --lines "$lines" -o "$tmp/t.csv"
  mb=$(du -m "$tmp/t.csv" | cut -f1)
  # configs/trace.toml ends with its [workload.trace] table: modes append to it.
  sed 's|^path = .*|path = "t.csv"|' configs/trace.toml > "$tmp/replay.toml"
  { cat "$tmp/replay.toml"; echo 'start_secs = 1e12'; } > "$tmp/parse.toml"
  { cat "$tmp/replay.toml"; echo 'sort = true'; } | sed '/^# sort = /d' > "$tmp/sorted.toml"
  for mode in replay parse sorted; do
    : > "$tmp/wall"; : > "$tmp/cpu"; : > "$tmp/rss"
    for _ in $(seq "$RUNS"); do
      /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$BIN" -c "$tmp/$mode.toml" -q -o "$tmp/out.json"
      read -r wall user sys rss < "$tmp/time"
      echo "$wall" >> "$tmp/wall"; echo "$user $sys" | awk '{ print $1 + $2 }' >> "$tmp/cpu"; echo "$rss" >> "$tmp/rss"
    done
    wall=$(median < "$tmp/wall"); cpu=$(median < "$tmp/cpu"); rss=$(median < "$tmp/rss")
    awk -v n="$lines" -v mb="$mb" -v m="$mode" -v w="$wall" -v c="$cpu" -v r="$rss" \
      'BEGIN { printf "| %d | %d | %s | %.2f | %.2f | %.0f | %.1f |\n", n, mb, m, w, c, n / (c > 0 ? c : 0.01), r / 1024 }'
  done
done
