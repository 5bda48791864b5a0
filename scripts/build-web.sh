#!/usr/bin/env bash
# Builds the npm package and the playground page from web/:
#
#   target/web/package/                 the package's files (index.js, index.d.ts, the .wasm)
#   target/web/inference-lab-VERSION.tgz   `npm pack` of it: `npm install` this file
#   target/web/site/                    the playground: static files, serve the directory
#
#   scripts/build-web.sh
#
# Needs the wasm32-unknown-unknown target (added with rustup when missing),
# npm, and wasm-bindgen-cli of the version Cargo.lock pins for the
# wasm-bindgen crate: installed from crates.io with `cargo install` (built
# here, a few minutes) when it is missing. Nothing prebuilt is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

# The version Cargo.lock records for a crate.
locked_version() {
  awk -v want="name = \"$1\"" '$0 == want { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}
bindgen=$(locked_version wasm-bindgen)
[[ -n "$bindgen" ]] || { echo "build-web: Cargo.lock pins no wasm-bindgen" >&2; exit 1; }
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]]; then
  echo "== installing wasm-bindgen-cli $bindgen from crates.io (built from source)"
  start=$SECONDS
  # --locked builds the CLI with its own lockfile; when the registry lacks
  # one of the versions it names, the newest compatible versions do.
  cargo install wasm-bindgen-cli --version "$bindgen" --locked \
    || cargo install wasm-bindgen-cli --version "$bindgen"
  echo "   installed in $((SECONDS - start)) s"
fi
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

echo "== cargo build -p inference-lab-web (wasm32-unknown-unknown)"
cargo build -p inference-lab-web --release --target wasm32-unknown-unknown
wasm=target/wasm32-unknown-unknown/release/inference_lab_web.wasm

out=target/web
pkg=$out/package
site=$out/site
rm -rf "$pkg" "$site"
mkdir -p "$pkg" "$site"
echo "== wasm-bindgen $bindgen"
wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name inference_lab_web "$wasm"
cp web/package/index.js web/package/index.d.ts web/package/README.md "$pkg/"
# The package's version is the crate's.
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
sed "s/\"0.0.0-set-by-build-web\"/\"$version\"/" web/package/package.json >"$pkg/package.json"

echo "== npm pack"
rm -f "$out"/inference-lab-*.tgz
(cd "$out" && npm pack --silent ./package >/dev/null)
tarball=$out/inference-lab-$version.tgz
test -s "$tarball"

echo "== playground"
cp web/site/* "$site/"
mkdir -p "$site/pkg"
cp "$pkg"/index.js "$pkg"/inference_lab_web.js "$pkg"/inference_lab_web_bg.wasm "$site/pkg/"

bytes=$(wc -c <"$pkg/inference_lab_web_bg.wasm")
gzipped=$(gzip -9 -c "$pkg/inference_lab_web_bg.wasm" | wc -c)
echo "package:    $tarball"
echo "playground: $site/index.html (serve $site, for example: python3 -m http.server -d $site)"
echo "wasm:       $bytes bytes, $gzipped gzipped (gzip -9)"
