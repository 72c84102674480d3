#!/usr/bin/env bash
# ONNX export checked by ONNX Runtime, in two parts.
#
# 1. The CLI end to end: trains a few models with the real binary (a softmax classifier, a binary
#    sigmoid unit, a net with a skip connection, a regression with a categorical column, a
#    dropped column, a date column and missing values, a classifier with categories, and one
#    predicting new rows with unseen categories and later dates), exports each with
#    `backprop export --onnx`, runs Python onnxruntime on the rows of the training file
#    (categories as their index, missing values as NaN, as the README says) and compares with
#    `backprop predict` on the same file: probabilities to 1e-5 (predict prints 6 decimals), the
#    class exactly, regression values to 1e-5 relative.
# 2. The library's export tests (tests/onnx.rs), run with BACKPROP_ONNX_CASES: each writes its
#    graph, its input rows and `Model::predict` on them; onnxruntime runs every graph and compares
#    to 1e-5 relative (|a - b| <= 1e-5 * max(|b|, 1)), the classes exactly. The cases: every
#    activation (identity, sigmoid, tanh, relu, leaky_relu, softmax, step) with skip connections,
#    tied and tied-transposed weights, shared/per-unit/no bias and standard scaling
#    (activations); softmax classifiers from logits, with a softmax output layer and under hinge
#    (softmax_logits, softmax_output, hinge); binary classifiers with a sigmoid unit, a BCE logit
#    and an MSE unit, min-max scaling with a constant feature (sigmoid_unit, bce_logit,
#    mse_binary); a trained two-target regression with folded target scaling
#    (regression_target_scale); categories, a dropped column and missing values imputed in the
#    graph (categories_missing_dropped); batch norm folded at export (batch_norm).
#
# usage: scripts/check-onnx.sh [BIN]   (default $CARGO_TARGET_DIR/release/backprop, built if missing; part 2
# runs `cargo test --release`, so it uses CARGO_TARGET_DIR like any cargo command)
# Makes its own venv (ONNX_VENV, default target/onnx-venv) and pip-installs onnxruntime and numpy
# into it when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/backprop}
if [ ! -x "$bin" ]; then cargo build --release; fi
venv=${ONNX_VENV:-target/onnx-venv}
if ! "$venv/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet onnxruntime numpy
fi
py="$venv/bin/python"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# data: the committed blobs, XOR, and a generated table with text and gaps
"$py" - "$dir" <<'PY'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
with open(f"{d}/shop.csv", "w") as f:
    f.write("id,colour,size,weight,when,price,kind\n")
    for i in range(200):
        c = ["red", "green", "blue", ""][rng.integers(4)]
        size = "NA" if i % 9 == 4 else f"{rng.uniform(0, 5):.3f}"
        w = rng.normal()
        when = "" if i % 11 == 5 else f"20{10 + i % 10}-0{1 + i % 9}-1{i % 10}"
        s = 2.5 if size == "NA" else float(size)
        price = 10 + 3 * s - 2 * w + {"red": 5, "green": -1, "blue": 0, "": 2}[c]
        kind = "big" if s > 2.5 else ("odd" if c == "green" else "small")
        f.write(f"{i},{c},{size},{w:.3f},{when},{price:.3f},{kind}\n")
# new rows: colours training never saw (all zeros), later dates
with open(f"{d}/shop_new.csv", "w") as f:
    f.write("colour,size,weight,when\n")
    for i in range(40):
        c = ["purple", "red", "teal", "", "blue"][i % 5]
        f.write(f"{c},{rng.uniform(0, 5):.3f},{rng.normal():.3f},20{25 + i % 5}-06-0{1 + i % 9}T12:00\n")
PY

fail=0
check() { # name csv train-flags...   (PRED=FILE: predict on FILE instead of the training csv)
  local name=$1 csv=$2; shift 2
  local data=${PRED:-$csv}
  "$bin" train "$csv" -q --epochs 30 --out "$dir/$name.safetensors" "$@" >/dev/null
  "$bin" export "$dir/$name.safetensors" --onnx "$dir/$name.onnx" 2>/dev/null
  "$bin" predict "$dir/$name.safetensors" "$data" > "$dir/$name.pred.csv" 2>/dev/null
  if "$py" - "$dir/$name.onnx" "$data" "$dir/$name.pred.csv" "$name" <<'PY'
import csv, json, sys
import numpy as np
import onnxruntime as ort

onnx_path, data_path, pred_path, name = sys.argv[1:5]
sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
meta = sess.get_modelmeta().custom_metadata_map
columns = json.loads(meta["input_columns"])
categories = json.loads(meta.get("categories", "{}"))
dates = json.loads(meta.get("dates", "[]"))
missing = {"", "na", "n/a", "nan", "?"}
with open(data_path) as f:
    rows = list(csv.DictReader(f))
def year(text):  # an ISO date or date-time as a fractional year, as the README says
    import datetime as dt
    t = dt.datetime.fromisoformat(text)
    start = dt.datetime(t.year, 1, 1)
    days = (dt.datetime(t.year + 1, 1, 1) - start).days
    return t.year + (t - start).total_seconds() / 86400 / days
def cell(col, text):
    if text.strip().lower() in missing:
        return np.nan
    if col in dates:
        return year(text)
    if col in categories:  # an unseen category: an index that is none of them
        return float(categories[col].index(text)) if text in categories[col] else -1.0
    return float(text)
x = np.array([[cell(c, r[c]) for c in columns] for r in rows], dtype=np.float32)
outs = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"features": x})))
with open(pred_path) as f:
    pred = list(csv.reader(f))
head, body = pred[0], pred[1:]
assert len(body) == len(x), (len(body), len(x))
worst = 0.0
if meta["task"] == "classification":
    classes = json.loads(meta["classes"])
    p = np.array([[float(v) for v in r[1:]] for r in body])
    err = np.abs(outs["probabilities"] - p).max()
    assert err <= 1e-5, f"probabilities differ by {err}"
    got = [classes[i] for i in outs["class"]]
    want = [r[0] for r in body]
    assert got == want, "classes differ"
    worst = err
else:
    v = np.array([[float(x) for x in r] for r in body])
    err = (np.abs(outs["values"] - v) / np.maximum(np.abs(v), 1)).max()
    assert err <= 1e-5, f"values differ by {err} (relative)"
    worst = err
print(f"{name}: onnxruntime {ort.__version__} agrees with predict on {len(x)} rows "
      f"(max difference {worst:.2e}; outputs {', '.join(outs)})")
PY
  then :; else fail=1; echo "$name: MISMATCH" >&2; fi
}

check softmax tests/fixtures/torch_blobs.csv --hidden 16,8 --activation tanh
check sigmoid examples/data/xor.csv --hidden 4 --loss bce --lr 0.05 --val-split 0
check skip examples/data/xor.csv --arch examples/arch/xor-skip.json --loss mse --val-split 0
check regression "$dir/shop.csv" --target price --drop id,kind --impute mean --hidden 16 --activation leaky_relu:0.1
check categories "$dir/shop.csv" --target kind --drop id,price --impute median --hidden 8 --scale minmax
PRED="$dir/shop_new.csv" check unseen "$dir/shop.csv" --target kind --drop id,price --hidden 8

# part 2: the export tests' cases; a case that is not written fails (missing file)
cases=(activations softmax_logits softmax_output hinge sigmoid_unit bce_logit mse_binary
  regression_target_scale categories_missing_dropped batch_norm)
BACKPROP_ONNX_CASES="$dir/cases" cargo test --release --quiet --test suite onnx:: >/dev/null
if "$py" - "$dir/cases" "${cases[@]}" <<'PY'
import json, sys
import numpy as np
import onnxruntime as ort

d, names = sys.argv[1], sys.argv[2:]
for name in names:
    info = json.load(open(f"{d}/{name}.json"))
    n, c, k = info["rows"], info["cols"], info["width"]
    x = np.fromfile(f"{d}/{name}.x.f32", dtype="<f4").reshape(n, c)
    want = np.fromfile(f"{d}/{name}.y.f32", dtype="<f4").reshape(n, k)
    sess = ort.InferenceSession(f"{d}/{name}.onnx", providers=["CPUExecutionProvider"])
    outs = sess.run(None, {"features": x})
    assert outs[0].shape == (n, k), f"{name}: output shape {outs[0].shape}, want {(n, k)}"
    a, b = outs[0].astype(np.float64), want.astype(np.float64)
    err = (np.abs(a - b) / np.maximum(np.abs(b), 1)).max()
    assert err <= 1e-5, f"{name}: outputs differ by {err} (relative)"
    if info["classes"] is None:
        assert len(outs) == 1, f"{name}: a regression model has values only"
    else:
        assert len(outs) == 2, f"{name}: a classifier has probabilities and class"
        assert outs[1].tolist() == info["classes"], f"{name}: predicted classes differ"
    print(f"{name}: onnxruntime agrees with Model::predict on {n} rows "
          f"(max relative difference {err:.2e})")
PY
then :; else fail=1; echo "tests/onnx.rs cases: MISMATCH" >&2; fi
exit $fail
