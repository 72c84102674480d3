#!/usr/bin/env bash
# SHA-256 of the model files a fixed set of training runs writes: run it before and after moving
# code, on the same machine, and compare the lists (issue 22, "behaviour unchanged"). Hashes may
# differ between CPU kinds (different kernels), so compare only lists made on one machine.
#
#   scripts/model-hashes.sh [BINARY] > hashes.txt    # BINARY defaults to target/release/backprop
#
# The runs: iris, digits, XOR, the 8-3-8 encoder, each optimizer (on iris), a resume, one MNIST
# epoch where ../shared/datasets/mnist is present. Every run pins its thread count to 1.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/backprop}")
shared=../shared/datasets
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BACKPROP_THREADS=1 RAYON_NUM_THREADS=1

run() { # name, then the train arguments
  local name=$1
  shift
  "$bin" train "$@" --threads 1 --seed 7 --out "$tmp/$name.safetensors" > /dev/null 2> "$tmp/$name.log" ||
    { echo "$name: FAILED ($(tail -n 1 "$tmp/$name.log"))"; return 0; }
  echo "$name $(sha256sum < "$tmp/$name.safetensors" | cut -c1-64)"
}

run digits --epochs 5
run xor examples/data/xor.csv --target y --arch examples/arch/xor-2-2-1.json --epochs 500 --batch-size full --optimizer sgd --lr 0.5 --momentum 0.9
run encoder examples/data/encoder.csv --target 'y*' --arch examples/arch/encoder-8-3-8.json --epochs 300 --batch-size full --optimizer sgd --lr 0.5 --momentum 0.9
run digits-batch1 data/digits.csv --epochs 2 --batch-size 1 --optimizer sgd --lr 0.01
if [ -f "$shared/iris/iris.csv" ]; then
  iris=$shared/iris/iris.csv
  run iris "$iris" --epochs 50
  for o in sgd adagrad rmsprop adam adamw rprop quickprop lbfgs; do
    run "iris-$o" "$iris" --optimizer "$o" --epochs 20 --batch-size full
  done
  run iris-sgd-nesterov "$iris" --optimizer sgd --lr 0.05 --momentum 0.9 --nesterov --weight-decay 1e-3 --epochs 20
  run iris-adam-decay "$iris" --optimizer adam --weight-decay 1e-3 --lr-schedule cosine:20 --epochs 20
  # a resume: 10 epochs with a checkpoint, then 10 more from it
  "$bin" train "$iris" --threads 1 --seed 7 --epochs 10 --checkpoint "$tmp/r.ckpt" --checkpoint-every 5 \
    --out "$tmp/r0.safetensors" > /dev/null 2>&1 || true
  run iris-resumed "$iris" --resume "$tmp/r.ckpt" --epochs 20
fi
if [ -d "$shared/mnist" ]; then
  run mnist-epoch "mnist:$shared/mnist" --hidden 64 --epochs 1 --optimizer sgd --lr 0.05 --momentum 0.9 --batch-size 128
fi
