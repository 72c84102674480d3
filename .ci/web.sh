#!/usr/bin/env bash
# CI for the playground (web/): installs what it needs, builds the page and runs the browser test.
# Idempotent; works on a clean Debian machine as root. From .ci/run: `bash .ci/web.sh`.
#
#  1. the wasm32-unknown-unknown target, and wasm-bindgen-cli of the version web/Cargo.lock locks
#  2. Debian's chromium (and python3 for the page's server), node and npm
#  3. the npm packages of web/package-lock.json (playwright-core), with `npm ci`
#  4. the library's wasm build check, the web crate's own tests, scripts/build-web.sh
#  5. the release binary (the test runs `backprop explain` and `backprop predict` on the
#     downloaded model), then web/tests/e2e.mjs; its screenshot is target/web/playground.png
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v python3 >/dev/null || need_apt+=(python3)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_apt[@]}"
fi

rustup target add wasm32-unknown-unknown
version=$(scripts/build-web.sh --wasm-bindgen-version)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }')" != "$version" ]; then
    # not --locked: the CLI's own lock file names a crate version the registry no longer serves
    cargo install wasm-bindgen-cli --version "$version" --force
fi

(cd web && npm ci --no-audit --no-fund)

# the library without gemm/rayon/the CLI, for the browser's target
cargo build --lib --target wasm32-unknown-unknown --no-default-features
# (the fallback products, what the browser runs, are unit-tested by
#  `cargo test --lib --no-default-features tensor::gemm`; not run here: a build without the
#  default features recompiles the library and every dev-dependency a second time. The
#  web crate's own tests below run the library without gemm natively.)
(cd web && cargo fmt --check && cargo clippy --locked --all-targets -- -D warnings && cargo test --locked)
scripts/build-web.sh
cargo build --release --bin backprop
node web/tests/e2e.mjs
