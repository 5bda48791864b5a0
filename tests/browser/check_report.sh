#!/usr/bin/env bash
# Renders a sweep report in headless Chromium and checks it: no script
# error, the page's script ran to the end, and every chart has the series
# and points that summary.csv implies. Also writes a screenshot.
#
#   tests/browser/check_report.sh [BINARY] [MANIFEST]
#
# Defaults: target/release/inference-lab and sweeps/policies.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-target/release/inference-lab}
manifest=${2:-sweeps/policies.toml}
chromium=$(command -v chromium || command -v chromium-browser)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" sweep "$manifest" -o "$work/out" -q
"$bin" sweep report "$work/out" -o "$work/report.html" >/dev/null

flags=(--headless --no-sandbox --disable-gpu --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --enable-logging=stderr --v=0)
"$chromium" "${flags[@]}" --user-data-dir="$work/profile-dom" \
  --dump-dom "file://$work/report.html" >"$work/dom.html" 2>"$work/dom.log"
"$chromium" "${flags[@]}" --user-data-dir="$work/profile-shot" --window-size=1400,2000 \
  --screenshot="$work/report.png" "file://$work/report.html" >/dev/null 2>"$work/shot.log"
test -s "$work/report.png" || { echo "no screenshot" >&2; exit 1; }
mkdir -p target/browser
cp "$work/report.png" "$work/report.html" target/browser/

# Console messages of the page (script errors are logged as CONSOLE lines).
if grep -E 'CONSOLE|Uncaught' "$work/dom.log" "$work/shot.log"; then
  echo "the page logged console messages" >&2
  exit 1
fi
python3 tests/browser/check_dom.py "$work/dom.html" "$work/out/summary.csv"
echo "browser check passed: screenshot in target/browser/report.png"
