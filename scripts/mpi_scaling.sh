#!/usr/bin/env bash
# Samples/s of `backprop train` on MNIST (784-256-128-10, SGD) at batch 128 and 1024:
# 1 process × 1 thread against `mpirun -n 2 … --distributed` × 1 thread each, interleaved,
# REPS times each; the figure of a run is its last epoch (60,000 samples / its seconds, from
# --history; no validation split, so an epoch is training only). Prints the median of each and
# the load average before and after. Needs `cargo build --release --features mpi`.
#   scripts/mpi_scaling.sh [MNIST_DIR] [REPS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/datasets/mnist}
reps=${2:-3}
epochs=${3:-2}
bin=target/release/backprop
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=(train "mnist:$dir" --hidden 256,128 --optimizer sgd --lr 0.05 --momentum 0.9
       --epochs "$epochs" --val-split 0 --early-stopping 0 --threads 1 --quiet)
rate() { tail -1 "$1" | awk -F, '{ printf "%.0f", 60000 / $NF }'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in 128 1024; do
    one=() two=()
    for r in $(seq "$reps"); do
        "$bin" "${flags[@]}" --batch-size "$b" --out "$tmp/m1" --history "$tmp/h1.csv"
        one+=("$(rate "$tmp/h1.csv")")
        mpirun -n 2 --oversubscribe --bind-to none "$bin" "${flags[@]}" --batch-size "$b" \
            --out "$tmp/m2" --history "$tmp/h2.csv" --distributed
        two+=("$(rate "$tmp/h2.csv")")
        echo "batch $b, repeat $r: 1 process ${one[-1]} samples/s, 2 ranks ${two[-1]} samples/s ($(cut -d' ' -f1 /proc/loadavg) load)"
    done
    med() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
    m1=$(med "${one[@]}") m2=$(med "${two[@]}")
    echo "batch $b: median 1 process $m1, 2 ranks $m2 samples/s, speed-up $(awk -v a="$m1" -v b="$m2" 'BEGIN { printf "%.2f", b / a }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
