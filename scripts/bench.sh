#!/usr/bin/env bash
# The training benchmark beside every peer, in one run on this machine, written into docs/perf.md
# between the `bench.sh: begin/end` markers (only that part is replaced).
#
# usage: scripts/bench.sh [--threads "1 2"] [--epochs 3] [--reps 1] [--peer-steps 1000]
#                         [--xor-steps 20000] [--rust-peers DIR] [--batches "1 32 128 1024"]
#                         [--mnist-batches "1 32 128 1024"] [--bf16-batches "128 1024"]
#                         [--bp-steps 5000] [--no-build] [--no-docs]
#
# For each repetition, thread count and batch size, the four libraries run one after the other
# as separate processes (interleaved, so load drifts hit all of them alike) on synthetic
# MNIST-shaped data: backprop, PyTorch (../shared/bench/torch_mlp.py), burn with its flex
# backend and candle (../shared/bench/rust-peers, built in DIR, default
# /tmp/rust-peers/target/release; a peer whose binary is missing is left out). Then backprop and
# PyTorch again on real MNIST (../shared/datasets/mnist) for test accuracy, the XOR step on every
# library, and numpy's SGEMM on the 8 products of a batch-1024 step (the roofline). Batch 1 times
# `--peer-steps` single-sample steps per repeat on the peers (slow there) and `--bp-steps` on
# backprop, each scaled to an epoch. backprop also runs `--precision bf16` at the `--bf16-batches`
# on 1 thread (its `vdpbf16ps` kernel where the CPU has AVX-512 BF16, rounded operands on the f32
# kernels elsewhere). The section written gives the FMA peak backprop measured (f32, and bf16
# where present) and the fraction of it each backprop cell reached, and the core-to-core round
# trip of the pool's two threads (where the host placed the two vCPUs). Raw JSON lines go to
# target/bench/results.jsonl. --no-build runs the target/release/backprop that is there (e.g.
# while another cargo holds the build lock).
set -euo pipefail
cd "$(dirname "$0")/.."

threads="1 2"
epochs=3
reps=1
peer_steps=1000
xor_steps=20000
rust_peers=/tmp/rust-peers/target/release
docs=1
build=1
batches="1 32 128 1024"
mnist_batches="$batches"
bf16_batches="128 1024"
bp_steps=5000
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --epochs) epochs="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --peer-steps) peer_steps="$2"; shift 2 ;;
    --xor-steps) xor_steps="$2"; shift 2 ;;
    --rust-peers) rust_peers="$2"; shift 2 ;;
    --no-docs) docs=0; shift ;;
    --no-build) build=0; shift ;;
    --batches) batches="$2"; shift 2 ;;
    --mnist-batches) mnist_batches="$2"; shift 2 ;;
    --bf16-batches) bf16_batches="$2"; shift 2 ;;
    --bp-steps) bp_steps="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

peer=../shared/bench
data=../shared/datasets/mnist
out=target/bench
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"

py=$(bash "$peer/setup.sh")
[ "$build" = 0 ] || cargo build --release >&2
bp=(target/release/backprop bench)
burn="$rust_peers/burn_mlp"
candle="$rust_peers/candle_mlp"
[ -x "$burn" ] || echo "no $burn: burn left out" >&2
[ -x "$candle" ] || echo "no $candle: candle left out" >&2
mnist=0
if [ -e "$data/train-labels-idx1-ubyte.gz" ] || [ -e "$data/train-labels-idx1-ubyte" ]; then
  mnist=1
fi

# A JSON line tagged with what produced it, the thread count asked for and the load average.
record() { # side threads command...
  local side=$1 t=$2; shift 2
  local line
  line=$("$@" | tail -n 1)
  printf '{"side": "%s", "threads": %s, "cmd": "%s", "load": "%s", "result": %s}\n' \
    "$side" "$t" "$*" "$(cut -d' ' -f1-3 /proc/loadavg)" "$line" >> "$results"
  echo "$side ($t): $line" >&2
}

shapes() { # the 8 products of one training step at batch $1 (m x k x n)
  local b=$1
  echo "${b}x784x256,${b}x256x128,${b}x128x10,${b}x10x128,${b}x128x256,10x${b}x128,128x${b}x256,256x${b}x784"
}

for rep in $(seq "$reps"); do
  for t in $threads; do
    for b in $batches; do
      record backprop "$t" "${bp[@]}" --batch "$b" --epochs "$epochs" --threads "$t" --steps "$bp_steps" --synthetic --no-xor
      record torch "$t" "$py" "$peer/torch_mlp.py" --mode mlp --batch "$b" --epochs "$epochs" --threads "$t" --steps "$peer_steps"
      if [ -x "$burn" ]; then
        record burn-flex "$t" env RAYON_NUM_THREADS="$t" "$burn" --backend flex --mode mlp --batch "$b" --epochs "$epochs" --steps "$peer_steps"
      fi
      if [ -x "$candle" ]; then
        record candle "$t" env RAYON_NUM_THREADS="$t" "$candle" --mode mlp --batch "$b" --epochs "$epochs" --steps "$peer_steps"
      fi
      if [ "$t" = 1 ] && [[ " $bf16_batches " == *" $b "* ]]; then
        record backprop-bf16 "$t" "${bp[@]}" --batch "$b" --epochs "$epochs" --threads "$t" --steps "$bp_steps" --synthetic --no-xor --precision bf16
      fi
      if [ "$mnist" = 1 ] && [[ " $mnist_batches " == *" $b "* ]]; then
        record backprop-mnist "$t" "${bp[@]}" --batch "$b" --epochs "$epochs" --threads "$t" --steps "$bp_steps" --data "$data" --no-xor
        record torch-mnist "$t" "$py" "$peer/torch_mlp.py" --mode mlp --batch "$b" --epochs "$epochs" --threads "$t" --steps "$peer_steps" --data "$data"
      fi
    done
    if [ "$rep" = 1 ]; then
      record backprop "$t" "${bp[@]}" --no-mlp --epochs "$epochs" --threads "$t" --xor-steps "$xor_steps"
      record torch "$t" "$py" "$peer/torch_mlp.py" --mode xor --epochs "$epochs" --steps "$xor_steps" --threads "$t"
      if [ -x "$burn" ]; then
        record burn-flex "$t" env RAYON_NUM_THREADS="$t" "$burn" --backend flex --mode xor --epochs "$epochs" --steps "$xor_steps"
      fi
      if [ -x "$candle" ]; then
        record candle "$t" env RAYON_NUM_THREADS="$t" "$candle" --mode xor --epochs "$epochs" --steps "$xor_steps"
      fi
      "$py" "$peer/gemm.py" --lib numpy --threads "$t" --shapes "$(shapes 1024)" |
        while read -r line; do
          printf '{"side": "numpy", "threads": %s, "cmd": "gemm.py --lib numpy --threads %s", "load": "%s", "result": %s}\n' \
            "$t" "$t" "$(cut -d' ' -f1-3 /proc/loadavg)" "$line" >> "$results"
        done
    fi
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
export BENCH_ARGS="--threads \"$threads\" --batches \"$batches\" --mnist-batches \"$mnist_batches\" --bf16-batches \"$bf16_batches\" --epochs $epochs --reps $reps --bp-steps $bp_steps --peer-steps $peer_steps --xor-steps $xor_steps"
export BENCH_LOCK="$rust_peers/../../Cargo.lock"
"$py" - "$results" docs/perf.md <<'EOF'
import json, os, re, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1])]
doc = sys.argv[2]
MACS = 784 * 256 + 256 * 128 + 128 * 10
PEERS = ["torch", "burn-flex", "candle"]
NAMES = {"backprop": "backprop", "torch": "PyTorch", "burn-flex": "burn-flex", "candle": "candle"}

def mlp_runs(side, batch, t):
    """The MLP results of one library at one batch size and thread count (one per repetition),
    each with its JSON line."""
    out = []
    for r in rows:
        if r["side"] != side or r["threads"] != t:
            continue
        res = r["result"]
        if side.startswith("backprop"):
            for m in res.get("mlp", []):
                if m["batch"] == batch:
                    out.append((m, r))
        elif res.get("mode") == "mlp" and res.get("batch") == batch:
            out.append((res, r))
    return out

def secs(side, batch, t):
    runs = mlp_runs(side, batch, t)
    return statistics.median(m["median_s"] for m, _ in runs) if runs else None

def xor_us(side, t):
    for r in rows:
        if r["side"] == side and r["threads"] == t:
            res = r["result"]
            if side == "backprop" and "xor" in res:
                return res["xor"]["median_us"]
            if res.get("mode") == "xor":
                return res["median_us"]
    return None

def version(crate):
    try:
        lock = open(os.environ["BENCH_LOCK"]).read()
        m = re.search(r'name = "%s"\nversion = "([^"]+)"' % crate, lock)
        return m.group(1) if m else "?"
    except OSError:
        return "?"

threads = sorted({r["threads"] for r in rows})
batches = [1, 32, 128, 1024]
torch_version = next((r["result"]["version"] for r in rows if r["side"] == "torch" and "version" in r["result"]), "?")
numpy_version = next((r["result"]["version"] for r in rows if r["side"] == "numpy"), "?")
present = [p for p in PEERS if any(r["side"] == p for r in rows)]

def roofline(t, batch=1024):
    """numpy time for the step's 8 products -> GFLOP/s in the peer's 6·MACs convention."""
    g = {r["result"]["shape"]: r["result"]["gflops_median"] for r in rows
         if r["side"] == "numpy" and r["threads"] == t}
    if not g:
        return None, {}
    sec = sum(2.0 * m * k * n / (gf * 1e9) for shape, gf in g.items()
              for m, k, n in [(int(v) for v in shape.split("x"))])
    return 6.0 * MACS * batch / sec / 1e9, g

def cell(v, best=False):
    if v is None:
        return "-"
    return f"**{v:.3f}**" if best else f"{v:.3f}"

L = []
w = L.append
w("## Training benchmark beside every peer")
w("")
w(f"Measured {os.environ['BENCH_DATE']} on **{os.environ['BENCH_MACHINE']}**; {os.environ['BENCH_RUSTC']}; "
  f"backprop {os.environ['BENCH_COMMIT']}; PyTorch {torch_version}; burn {version('burn')} (flex backend); "
  f"candle {version('candle-core')}; numpy {numpy_version}. One run of `scripts/bench.sh {os.environ['BENCH_ARGS']}`: "
  "for each thread count and batch size the libraries ran one after the other as separate processes "
  "(backprop `bench --synthetic`, `torch_mlp.py`, `burn_mlp --backend flex`, `candle_mlp`, with "
  "`RAYON_NUM_THREADS` / `--threads` = T), then backprop and PyTorch on real MNIST. Raw JSON lines: "
  "`target/bench/results.jsonl`. The machine is shared (2 vCPUs): the load average at the start of "
  "each process is in the JSON and the last column.")
w("")
w("Protocol (the peers'): MLP 784-256-128-10, ReLU, softmax cross-entropy, SGD lr 0.05 momentum 0.9, "
  "shuffled batches, one warm-up epoch then E timed epochs of 60,000 samples (median); batch 1 times "
  "single-sample steps (backprop `--bp-steps` per repeat after 500 warm-up steps, the peers `--peer-steps` per repeat) scaled "
  "to 60,000. Seconds per epoch on synthetic MNIST-shaped data; **bold** = fastest in the row. "
  "\"best peer / backprop\" is the fastest peer's time over backprop's (> 1: backprop is faster); "
  "the MNIST columns are real MNIST for backprop and PyTorch, with test accuracy after the run.")
w("")
hdr = ["batch", "threads"] + [NAMES[s] for s in ["backprop"] + present] + ["best peer / backprop",
       "backprop MNIST (acc)", "PyTorch MNIST (acc)", "load 1/5/15"]
w("| " + " | ".join(hdr) + " |")
w("|" + "|".join(["---:"] * (len(hdr) - 1) + ["---"]) + "|")
for b in batches:
    for t in threads + ["best"]:
        ts = threads if t == "best" else [t]
        def best_of(side):
            v = [x for x in (secs(side, b, u) for u in ts) if x is not None]
            return min(v) if v else None
        vals = {s: best_of(s) for s in ["backprop"] + present}
        if vals["backprop"] is None:
            continue
        fastest = min(v for v in vals.values() if v is not None)
        peer_best = [vals[p] for p in present if vals[p] is not None]
        ratio = f"**{min(peer_best) / vals['backprop']:.2f}×**" if peer_best else "-"
        def mn(side):
            best = None
            for u in ts:
                for m, _ in mlp_runs(side, b, u):
                    if best is None or m["median_s"] < best["median_s"]:
                        best = m
            if not best:
                return "-"
            acc = best.get("test_accuracy")
            return f"{best['median_s']:.3f}" + (f" ({100 * acc:.2f} %)" if acc is not None else "")
        load = "" if t == "best" else " / ".join(r["load"] for _, r in mlp_runs("backprop", b, t)[:1])
        w(f"| {b} | {'best of ' + '/'.join(map(str, threads)) if t == 'best' else t} | "
          + " | ".join(cell(vals[s], vals[s] == fastest) for s in ["backprop"] + present)
          + f" | {ratio} | {mn('backprop-mnist')} | {mn('torch-mnist')} | {load} |")
w("")
if 1 in threads and 2 in threads:
    sc = []
    for b in batches:
        one, two = secs("backprop", b, 1), secs("backprop", b, 2)
        if one and two:
            sc.append(f"batch {b} {one / two:.2f}×")
    w("backprop's second thread (1-thread / 2-thread time): " + ", ".join(sc) + ".")
    w("")
for t in threads:
    xs = {s: xor_us(s, t) for s in ["backprop"] + present}
    if xs["backprop"]:
        w(f"XOR 2-2-1 step, {t} thread{'s' if t > 1 else ''}: "
          + ", ".join(f"{NAMES[s]} {v:.3f} µs" for s, v in xs.items() if v is not None) + ".")
w("")
for t in threads:
    rf, g = roofline(t)
    m = secs("backprop", 1024, t)
    if rf and m:
        gf = 6.0 * MACS * 60000 / m / 1e9
        w(f"numpy SGEMM roofline, {t} thread{'s' if t > 1 else ''}, batch 1024: the step's 8 products "
          + ", ".join(f"{s} {v:.0f}" for s, v in g.items())
          + f" GFLOP/s, i.e. {rf:.1f} GFLOP/s for a step made only of numpy's products (6·MACs convention); "
          f"backprop {gf:.1f} = **{100 * gf / rf:.0f} %** of it.")
w("")

# The ceiling: the FMA peak backprop measured at its start (median over its processes) and the
# fraction of it each backprop cell reached, with where the host had put the two vCPUs.
peaks = {}
for r in rows:
    if r["side"].startswith("backprop") and "fma_peak" in r["result"]:
        for prec, by_t in r["result"]["fma_peak"].items():
            for t, v in by_t.items():
                peaks.setdefault((prec, int(t)), []).append(v)
if peaks:
    def pk(prec, t):
        v = peaks.get((prec, t))
        return f"{statistics.median(v):.1f}" if v else "-"
    line = "FMA peak (measured by `backprop bench` at the start of each of its processes, median): f32 " + \
        f"{pk('f32', 1)} GFLOP/s on 1 thread, {pk('f32', 2)} on 2"
    if ("bf16", 1) in peaks:
        line += f"; bf16 (`vdpbf16ps`) {pk('bf16', 1)} on 1 thread, {pk('bf16', 2)} on 2"
    w(line + ".")
    w("")
    w("backprop against that ceiling (median run of each cell; work GF/s = the flops done, "
      "2 × (3 × MACs − 784·256) per sample; % peak = work GF/s ÷ the peak of the cell's thread count and precision; "
      "round trip = one cache line between the pool's first two threads at the process's start / end, "
      "~60 ns when the host runs both vCPUs on one L3, ~300 ns across dies):")
    w("")
    w("| batch | threads | precision | s/epoch | work GF/s | % peak | round trip ns | bf16 speed-up |")
    w("|---:|---:|---|---:|---:|---:|---|---:|")
    for b in batches:
        for side, t in [("backprop", u) for u in threads] + [("backprop-bf16", 1)]:
            rs = sorted(mlp_runs(side, b, t), key=lambda x: x[0]["median_s"])
            if not rs:
                continue
            m, r = rs[len(rs) // 2]
            rt = r["result"].get("core_round_trip_ns")
            frac = m.get("peak_fraction")
            rts = f"{rt['start']:.0f} / {rt['end']:.0f}" if rt else "-"
            sp = "-"
            if side == "backprop-bf16" and secs("backprop", b, 1):
                sp = f"{secs('backprop', b, 1) / secs('backprop-bf16', b, 1):.2f}×"
            w(f"| {b} | {t} | {'bf16' if side.endswith('bf16') else 'f32'} | {m['median_s']:.3f} | "
              f"{m.get('work_gflops', 0):.1f} | {'-' if frac is None else f'{100 * frac:.1f} %'} | {rts} | {sp} |")
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
