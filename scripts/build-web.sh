#!/usr/bin/env bash
# Builds the playground page: the library compiled to WebAssembly (web/, a crate of its own, with
# backprop's default features off: no `gemm` crate, no threads, no CLI), then wasm-bindgen's
# JavaScript glue into web/pkg. Serve the page with
#     python3 -m http.server -d web 8080        # then open http://localhost:8080
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli of exactly the version of the
# wasm-bindgen crate locked in web/Cargo.lock (.ci/web.sh installs both):
#     rustup target add wasm32-unknown-unknown
#     cargo install wasm-bindgen-cli --version "$(scripts/build-web.sh --wasm-bindgen-version)"
set -euo pipefail
cd "$(dirname "$0")/.."

locked=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' web/Cargo.lock)
if [ "${1:-}" = "--wasm-bindgen-version" ]; then
    echo "$locked"
    exit 0
fi
if ! command -v wasm-bindgen >/dev/null; then
    echo "build-web.sh: wasm-bindgen not found; install it with" >&2
    echo "    cargo install wasm-bindgen-cli --version $locked" >&2
    exit 1
fi
have=$(wasm-bindgen --version | awk '{ print $2 }')
if [ "$have" != "$locked" ]; then
    echo "build-web.sh: wasm-bindgen $have, but web/Cargo.lock locks the crate at $locked; install" >&2
    echo "    cargo install wasm-bindgen-cli --version $locked --force" >&2
    exit 1
fi

(cd web && cargo build --release --locked --target wasm32-unknown-unknown)
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
    web/target/wasm32-unknown-unknown/release/backprop_web.wasm
echo "built web/pkg ($(du -k web/pkg/backprop_web_bg.wasm | cut -f1) KB of wasm); serve with:"
echo "    python3 -m http.server -d web 8080"
