#!/usr/bin/env bash
# Times dataset loading (read, render with a chat template, tokenize, hash) of
# a large JSONL dataset, on all cores and on one, median of N runs (default 3).
#
#   scripts/bench-dataset.sh                   # 100,000 lines
#   LINES=20000 RUNS=1 scripts/bench-dataset.sh
#
# The dataset comes from scripts/make-sample-dataset.py (realistic chat
# requests with long shared system prompts, ~1.4 KB a line); prompts are
# rendered with examples/templates/llama3.jinja and tokenized with the
# byte-level BPE examples/tokenizer.json. Needs python3 and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-100000}
RUNS=${RUNS:-3}
. scripts/bench-common.sh
python3 scripts/make-sample-dataset.py --lines "$LINES" -o "$tmp/data.jsonl"
sed 's|^dataset_path = .*|dataset_path = "data.jsonl"|' configs/dataset.toml > "$tmp/c.toml"
mb=$(du -m "$tmp/data.jsonl" | cut -f1)

printf '%d lines, %d MB, %s cores\n\n' "$LINES" "$mb" "$(nproc)"
printf '| threads | load time (s, median of %d) | lines / s | prompt tokens / s | whole run wall (s) | whole run CPU (s) | peak RSS (MB) |\n' "$RUNS"
printf '|---|---|---|---|---|---|---|\n'
for threads in "$(nproc)" 1; do
  : > "$tmp/load"; : > "$tmp/wall"; : > "$tmp/cpu"; : > "$tmp/rss"
  for _ in $(seq "$RUNS"); do
    RAYON_NUM_THREADS=$threads /usr/bin/time -f '%e %U %S %M' -o "$tmp/t" \
      "$BIN" -c "$tmp/c.toml" --tokenizer examples/tokenizer.json \
      --chat-template examples/templates/llama3.jinja -o "$tmp/out.json" > /dev/null 2> "$tmp/err"
    # "dataset: N prompts, M prompt tokens, from ... (S s to load)"
    sed -n 's/.*(\([0-9.]*\) s to load).*/\1/p' "$tmp/err" >> "$tmp/load"
    tokens=$(sed -n 's/^dataset: [0-9]* prompts, \([0-9]*\) prompt tokens.*/\1/p' "$tmp/err")
    read -r wall user sys rss < "$tmp/t"
    echo "$wall" >> "$tmp/wall"; echo "$user $sys" | awk '{ print $1 + $2 }' >> "$tmp/cpu"; echo "$rss" >> "$tmp/rss"
  done
  load=$(median < "$tmp/load"); wall=$(median < "$tmp/wall"); cpu=$(median < "$tmp/cpu"); rss=$(median < "$tmp/rss")
  awk -v t="$threads" -v n="$LINES" -v k="$tokens" -v l="$load" -v w="$wall" -v c="$cpu" -v r="$rss" \
    'BEGIN { printf "| %d | %.2f | %.0f | %.0f | %.2f | %.2f | %.0f |\n", t, l, n / l, k / l, w, c, r / 1024 }'
done
