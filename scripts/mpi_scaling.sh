#!/usr/bin/env bash
# Samples/s of `backprop train` on MNIST (784-256-128-10, SGD lr 0.05 momentum 0.9, one epoch of
# 60,000 samples, no validation split) at batch 1024 and 128: 1 process × 1 thread against
# `mpirun -n 2 … --distributed` × 1 thread each, interleaved, REPS rounds. For each run: the
# epoch's wall time (from --history), samples/s, and the CPU seconds (user + sys, all ranks) from
# /usr/bin/time; and the load average, the CPU model and `uptime` before and after. Needs
# `cargo build --release --features mpi` (the binary under $CARGO_TARGET_DIR, else target/).
# The 2 ranks sum through shared memory; BACKPROP_MPI_SHARED=0 in the environment measures the
# MPI all-reduce path instead. Before and after each 2-rank run, `backprop bench --no-mlp --no-xor`
# measures the core-to-core round trip ("rt"): on a VM the host may run the two vCPUs on cores
# that share an L3 (tens of ns) or on two dies (hundreds), and the ranks' hand-overs follow it.
#   scripts/mpi_scaling.sh [MNIST_DIR] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/datasets/mnist}
reps=${2:-3}
bin=${CARGO_TARGET_DIR:-target}/release/backprop
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=(train "mnist:$dir" --hidden 256,128 --optimizer sgd --lr 0.05 --momentum 0.9
       --epochs 1 --val-split 0 --early-stopping 0 --threads 1 --quiet)
# waiting ranks yield the core (the machine is shared), and are not pinned
mpi=(mpirun -n 2 --bind-to none --mca mpi_yield_when_idle 1)
rt() { "$bin" bench --no-mlp --no-xor | sed -n 's/.*round trip (start): \([0-9]*\) ns.*/\1/p'; }
report() { # history, time file
    awk -F, 'END { printf "%.2f s, %6.0f samples/s", $NF, 60000 / $NF }' "$1"
    awk '{ printf ", CPU %.2f s", $1 + $2 }' "$2"
}
# what the figures need beside them: the CPU, the MPI, the load before and after
cpu=$(awk -F': ' '/^model name/ { n = $2 } /^cpu family/ { f = $2 } /^model\t/ { m = $2 }
     END { printf "%s (family %s model %s)", n, f, m }' /proc/cpuinfo)
echo "$cpu, $(nproc) CPUs; $(mpirun --version | head -1); uptime: $(uptime)"
for r in $(seq "$reps"); do
    for b in 1024 128; do
        /usr/bin/time -f "%U %S" -o "$tmp/t1" "$bin" "${flags[@]}" --batch-size "$b" \
            --out "$tmp/m1" --history "$tmp/h1.csv"
        before=$(rt)
        /usr/bin/time -f "%U %S" -o "$tmp/t2" "${mpi[@]}" "$bin" "${flags[@]}" --batch-size "$b" \
            --out "$tmp/m2" --history "$tmp/h2.csv" --distributed
        after=$(rt)
        echo "round $r, batch $b: 1 process $(report "$tmp/h1.csv" "$tmp/t1") | 2 ranks $(report "$tmp/h2.csv" "$tmp/t2") | rt $before/$after ns | load $(cut -d' ' -f1-3 /proc/loadavg)"
    done
done
echo "uptime after: $(uptime)"
