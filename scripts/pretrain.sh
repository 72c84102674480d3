#!/usr/bin/env bash
# Greedy layer-wise pre-training against none: a deep narrow sigmoid net on the built-in UCI
# digits (64-32-32-32-32-32-10), SGD with momentum, the same 20 fine-tuning epochs (no early stopping),
# seeds 0-2; prints held-out test accuracy per seed and the median of each side.
# usage: scripts/pretrain.sh [BIN]   (default target/release/backprop)
set -euo pipefail
bin=${1:-target/release/backprop}
dir=$(mktemp -d)
common=(--hidden 32,32,32,32,32 --activation sigmoid --optimizer sgd --lr 0.1 --momentum 0.9 --epochs 20 --early-stopping 0 --out "$dir/m.safetensors")
acc() { "$bin" train "${common[@]}" "$@" 2>&1 | sed -n 's/.*held-out test: .*accuracy \([0-9.]*\) %.*/\1/p'; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
none=(); pre=()
for seed in 0 1 2; do
  none+=("$(acc --seed $seed)")
  pre+=("$(acc --seed $seed --pretrain autoencoder:10)")
done
echo "| run | seed 0 | seed 1 | seed 2 | median |"
echo "|---|---|---|---|---|"
echo "| no pre-training | ${none[0]} | ${none[1]} | ${none[2]} | $(median "${none[@]}") |"
echo "| --pretrain autoencoder:10 | ${pre[0]} | ${pre[1]} | ${pre[2]} | $(median "${pre[@]}") |"
rm -rf "$dir"
