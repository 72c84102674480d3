#!/usr/bin/env bash
# Training benchmark beside PyTorch, in one run on this machine, written into docs/perf.md under
# "## Training benchmark beside PyTorch" (only that section is replaced).
#
# usage: scripts/bench.sh [--threads "1 2"] [--epochs 3] [--xor-steps 20000] [--no-docs]
#
# For each thread count, each batch size runs as its own process on both sides, backprop and
# PyTorch alternating (same data, batch sizes, epochs, thread count), then the XOR step on both,
# then numpy's SGEMM on the same GEMM shapes as batch 1024 (the roofline). Raw JSON lines go to
# target/bench/results.jsonl. Needs ../shared/bench (the peer scripts) and, for real MNIST,
# ../shared/datasets/mnist; without it both sides use synthetic data of the same shape.
set -euo pipefail
cd "$(dirname "$0")/.."

threads="1 2"
epochs=3
xor_steps=20000
docs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --xor-steps) xor_steps="$2"; shift 2 ;;
    --no-docs) docs=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

peer=../shared/bench
data=../shared/datasets/mnist
batches="1 32 128 1024"
out=target/bench
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"

py=$(bash "$peer/setup.sh")
cargo build --release >&2
bp=(target/release/backprop bench)

if [ -e "$data/train-labels-idx1-ubyte.gz" ] || [ -e "$data/train-labels-idx1-ubyte" ]; then
  bp_data=(--data "$data"); torch_data=(--data "$data")
else
  echo "no MNIST in $data: synthetic data on both sides" >&2
  bp_data=(--synthetic); torch_data=()
fi

# A JSON line tagged with what produced it.
record() { # side command...
  local side=$1; shift
  local line
  line=$("$@" | tail -n 1)
  printf '{"side": "%s", "cmd": "%s", "load": "%s", "result": %s}\n' \
    "$side" "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" "$line" >> "$results"
  echo "$side: $line" >&2
}

shapes() { # the 8 products of one training step at batch $1 (m x k x n)
  local b=$1
  echo "${b}x784x256,${b}x256x128,${b}x128x10,${b}x10x128,${b}x128x256,10x${b}x128,128x${b}x256,256x${b}x784"
}

for t in $threads; do
  for b in $batches; do
    record backprop "${bp[@]}" --batch "$b" --epochs "$epochs" --threads "$t" "${bp_data[@]}" --no-xor
    record torch "$py" "$peer/torch_mlp.py" --mode mlp --batch "$b" --epochs "$epochs" --threads "$t" "${torch_data[@]}"
  done
  record backprop "${bp[@]}" --no-mlp --epochs "$epochs" --threads "$t" --xor-steps "$xor_steps"
  record torch "$py" "$peer/torch_mlp.py" --mode xor --epochs "$epochs" --steps "$xor_steps" --threads "$t"
  "$py" "$peer/gemm.py" --lib numpy --threads "$t" --shapes "$(shapes 1024)" |
    while read -r line; do
      printf '{"side": "numpy", "cmd": "gemm.py --lib numpy --threads %s", "load": "%s", "result": %s}\n' \
        "$t" "$(cut -d' ' -f1-3 /proc/loadavg)" "$line" >> "$results"
    done
done

[ "$docs" = 1 ] || exit 0

# Machine and versions, then the section itself (written by the peer venv's python).
model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
family=$(lscpu | sed -n 's/^CPU family: *//p' | head -n 1)
cpumodel=$(lscpu | sed -n 's/^Model: *//p' | head -n 1)
export BENCH_MACHINE="$model (family $family model $cpumodel), $(nproc) CPUs"
export BENCH_RUSTC=$(rustc --version)
export BENCH_COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml || echo "+changes")
export BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
export BENCH_ARGS="--threads \"$threads\" --epochs $epochs --xor-steps $xor_steps"
"$py" - "$results" docs/perf.md <<'EOF'
import json, os, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
doc = sys.argv[2]
MACS = 784 * 256 + 256 * 128 + 128 * 10

def find(side, **kw):
    for r in rows:
        res = r["result"]
        if r["side"] != side:
            continue
        if all(res.get(k) == v for k, v in kw.items()):
            return r
    return None

def mlp(side, batch, threads):
    if side == "backprop":
        for r in rows:
            if r["side"] == "backprop" and "mlp" in r["result"]:
                m = r["result"]["mlp"][0]
                if m["batch"] == batch and m["threads"] == threads:
                    return m, r
        return None, None
    r = find("torch", mode="mlp", batch=batch, threads=threads)
    return (r["result"], r) if r else (None, None)

def xor(side, threads):
    if side == "backprop":
        for r in rows:
            if r["side"] == "backprop" and "xor" in r["result"] and r["result"]["threads"] == threads:
                return r["result"]["xor"], r
        return None, None
    r = find("torch", mode="xor", threads=threads)
    return (r["result"], r) if r else (None, None)

threads = sorted({r["result"]["threads"] for r in rows if r["side"] == "torch"})
batches = [1, 32, 128, 1024]
torch_version = next(r["result"]["version"] for r in rows if r["side"] == "torch")
numpy_version = next((r["result"]["version"] for r in rows if r["side"] == "numpy"), "?")
targets = {1: 10.0, 32: 3.0, 128: 1.5, 1024: 1.2}

def roofline(t, batch=1024):
    """numpy time for the step's 8 products -> GFLOP/s in the peer's 6·MACs convention."""
    g = {r["result"]["shape"]: r["result"]["gflops_median"] for r in rows
         if r["side"] == "numpy" and r["result"]["threads"] == t}
    if not g:
        return None, {}
    secs = 0.0
    for shape, gf in g.items():
        m, k, n = (int(v) for v in shape.split("x"))
        secs += 2.0 * m * k * n / (gf * 1e9)
    return 6.0 * MACS * batch / secs / 1e9, g

L = []
w = L.append
w("## Training benchmark beside PyTorch")
w("")
w(f"Measured {os.environ['BENCH_DATE']} on {os.environ['BENCH_MACHINE']}; {os.environ['BENCH_RUSTC']}; "
  f"backprop {os.environ['BENCH_COMMIT']}; PyTorch {torch_version}; numpy {numpy_version}. "
  f"One run of `scripts/bench.sh {os.environ['BENCH_ARGS']}`: for each thread count and batch size, "
  "backprop (`cargo run --release -- bench --batch B --epochs E --threads T --data ../shared/datasets/mnist --no-xor`) "
  "and PyTorch (`../shared/bench/torch_mlp.py --mode mlp --batch B --epochs E --threads T --data ../shared/datasets/mnist`) "
  "ran as separate processes one after the other, then the XOR step on both, then "
  "`../shared/bench/gemm.py --lib numpy --threads T` on the 8 products of a batch-1024 step. "
  "Raw JSON lines: `target/bench/results.jsonl`. The machine is shared (2 vCPUs); the load average next to each process is in the JSON "
  "and in the last column below, and 2-thread figures swing with it.")
w("")
w("Protocol (the peer's): MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD lr 0.05 momentum 0.9, "
  "shuffled batches, one warm-up epoch then E timed epochs of 60,000 samples (median); batch 1 runs 500 "
  "warm-up steps then E × 5000 timed steps scaled to 60,000. GFLOP/s = 6 × forward MACs × samples/s. "
  "Test accuracy on the 10,000 MNIST test images after the warm-up + timed epochs (batch 1: after the "
  "500 + E·5000 steps). XOR: 2-2-1 sigmoid, MSE, full batch of 4, SGD lr 0.5, µs per forward + backward "
  "+ update. RSS = peak resident memory of the process (VmHWM / ru_maxrss).")
w("")
for t in threads:
    rf, g = roofline(t)
    w(f"### {t} thread{'s' if t > 1 else ''}")
    w("")
    w("| batch | backprop s/epoch | PyTorch s/epoch | samples/s ratio (target) | backprop GFLOP/s | PyTorch GFLOP/s | "
      "test acc backprop | test acc PyTorch | Δ acc | RSS backprop MiB | RSS PyTorch MiB | RSS ratio | load (1/5/15 min) |")
    w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for b in batches:
        m, mr = mlp("backprop", b, t)
        p, pr = mlp("torch", b, t)
        if not m or not p:
            continue
        ratio = p["median_s"] / m["median_s"]
        ok = "✓" if ratio >= targets[b] else "✗"
        acc_b = m.get("test_accuracy")
        acc_p = p.get("test_accuracy")
        d = f"{100 * (acc_b - acc_p):+.2f} pt" if acc_b is not None and acc_p is not None else "-"
        fa = lambda a: f"{100 * a:.2f} %" if a is not None else "-"
        w(f"| {b} | {m['median_s']:.3f} | {p['median_s']:.3f} | **{ratio:.2f}×** (≥ {targets[b]}× {ok}) | "
          f"{m['gflops']:.1f} | {p['gflops']:.1f} | {fa(acc_b)} | {fa(acc_p)} | {d} | "
          f"{m['peak_rss_mib']:.0f} | {p['peak_rss_mib']:.0f} | {m['peak_rss_mib'] / p['peak_rss_mib']:.3f} | "
          f"{mr['load']} / {pr['load']} |")
    xb, xr = xor("backprop", t)
    xp, xpr = xor("torch", t)
    if xb and xp:
        r = xp["median_us"] / xb["median_us"]
        w("")
        w(f"XOR step: backprop **{xb['median_us']:.3f} µs**, PyTorch {xp['median_us']:.1f} µs: "
          f"**{r:.0f}×** faster (target ≥ 100× {'✓' if r >= 100 else '✗'}).")
    m, _ = mlp("backprop", 1024, t)
    if rf and m:
        w("")
        w(f"Roofline at batch 1024: numpy SGEMM on the step's 8 products "
          + ", ".join(f"{s} {v:.0f}" for s, v in g.items())
          + f" GFLOP/s, i.e. a step made only of numpy's products would run at {rf:.1f} GFLOP/s in the "
          f"6·MACs convention. backprop: {m['gflops']:.1f} = **{100 * m['gflops'] / rf:.0f} %** of it "
          f"(target ≥ 75 % {'✓' if m['gflops'] >= 0.75 * rf else '✗'}).")
    w("")

begin, end = "<!-- bench.sh: begin -->", "<!-- bench.sh: end -->"
head = L[0]
body = begin + "\n" + "\n".join(L[1:]) + "\n" + end
old = open(doc).read() if os.path.exists(doc) else "# Performance notes\n"
if begin in old and end in old:
    # replace only the generated part; hand-written notes around it stay
    new = old[:old.index(begin)] + body + old[old.index(end) + len(end):]
elif head in old:
    i = old.index(head) + len(head)
    new = old[:i] + "\n\n" + body + "\n" + old[i:]
else:
    new = old.rstrip("\n") + "\n\n" + head + "\n\n" + body + "\n"
open(doc, "w").write(new)
section = body
print(section)
EOF
