#!/usr/bin/env bash
# CI step: ONNX export checked by Python onnxruntime (scripts/check-onnx.sh: the CLI end to end,
# then the graphs of the export tests in tests/onnx.rs), when python3 is there. This is where
# the exported graphs are run; `cargo test` checks their structure only. Idempotent; on a clean
# Debian machine (root) it installs python3-venv if `venv` is missing. The venv
# (target/onnx-venv) is reused between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v python3 >/dev/null; then
  echo "onnx: no python3; skipping the onnxruntime check"
  exit 0
fi
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get update && apt-get install -y python3-venv
fi
cargo build --release
bash scripts/check-onnx.sh "${CARGO_TARGET_DIR:-target}/release/backprop"
