#!/usr/bin/env bash
# The Python package as a user gets it (issue 24): from the repository root, a fresh virtual
# environment, the README's install command (`pip install ./python`, which builds the Rust
# extension through maturin), the test dependencies, then the package's tests. The CLI round
# trip test runs the command-line binary, built here first.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
venv=${PY_VENV:-$(mktemp -d)/venv}
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install ./python
"$venv/bin/pip" install --quiet pytest scikit-learn pandas
cargo build --release --bin backprop
export BACKPROP_BIN="${CARGO_TARGET_DIR:-$root/target}/release/backprop"
# from outside python/, so that `import backprop` is the installed package, not the source
cd "$(mktemp -d)"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests"
