#!/usr/bin/env bash
# MNIST test accuracy of f32 against bf16 products, median of 3 seeds: the benchmark MLP
# (784-256-128-10, SGD lr 0.05 momentum 0.9) trained through `backprop bench` at one batch size
# for 1 warm-up + E epochs per seed and precision, then evaluated on the 10,000 test images.
#
# usage: scripts/bf16_accuracy.sh [--batch 128] [--epochs 3] [--seeds "1 2 3"] [--threads 1]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=128; epochs=3; seeds="1 2 3"; threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --batch) batch="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --seeds) seeds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release >&2
target="${CARGO_TARGET_DIR:-target}"
out="$target/bench/bf16_accuracy.jsonl"
mkdir -p "$target/bench"
: > "$out"
for s in $seeds; do
  for p in f32 bf16; do
    "$target/release/backprop" bench --batch "$batch" --epochs "$epochs" --threads "$threads" --no-xor \
      --precision "$p" --seed "$s" --data ../shared/datasets/mnist | tail -n 1 >> "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
acc = {"f32": [], "bf16": []}
secs = {"f32": [], "bf16": []}
for r in rows:
    m = r["mlp"][0]
    acc[r["precision"]].append(100 * m["test_accuracy"])
    secs[r["precision"]].append(m["median_s"])
for p in acc:
    print(f"{p}: test accuracy {', '.join(f'{a:.2f}' for a in acc[p])} % (median "
          f"{statistics.median(acc[p]):.2f} %), s/epoch median {statistics.median(secs[p]):.3f}")
d = statistics.median(acc["bf16"]) - statistics.median(acc["f32"])
print(f"bf16 - f32, medians: {d:+.2f} pt ({'within' if abs(d) <= 0.3 else 'NOT within'} 0.3 pt)")
PY
