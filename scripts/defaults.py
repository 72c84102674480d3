#!/usr/bin/env python3
"""backprop's defaults against scikit-learn's MLPClassifier/MLPRegressor defaults.

For iris, digits and diabetes (../shared/datasets): seeded 80/20 splits (seeds 0..4, stratified
for the classifiers), `backprop train TRAIN.csv --seed S` with no other flag, then
`backprop evaluate MODEL TEST.csv`; scikit-learn's default estimator (random_state=S, default
settings, no scaling) fitted on the same TRAIN and scored on the same TEST. Prints one row per
data set: median accuracy (classes) or R² (regression) of the 5 seeds, each side, and the
per-seed values. Optionally MNIST: `backprop train mnist:DIR` with no flags (its own test set).

usage: scripts/defaults.py [--bin target/release/backprop] [--datasets ../shared/datasets]
                           [--seeds 5] [--mnist] [--extra "--flag value"]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile, warnings

import numpy as np


def read(path):
    with open(path) as f:
        header = f.readline().strip().split(",")
        rows = [l.strip().split(",") for l in f if l.strip()]
    return header, np.array(rows, dtype=float)


def write(path, header, rows, cls):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            feats = ",".join(repr(float(v)) for v in r[:-1])
            t = str(int(r[-1])) if cls else repr(float(r[-1]))
            f.write(f"{feats},{t}\n")


def split(y, seed, cls):
    rng = np.random.default_rng(seed)
    idx = np.arange(len(y))
    if not cls:
        rng.shuffle(idx)
        k = int(round(0.2 * len(y)))
        return idx[k:], idx[:k]
    test = []
    for c in np.unique(y):
        members = idx[y == c]
        rng.shuffle(members)
        test.extend(members[: int(round(0.2 * len(members)))])
    test = np.array(sorted(test))
    train = np.setdiff1d(idx, test)
    return train, test


def backprop(bin_, train_csv, test_csv, seed, cls, extra, d):
    model = os.path.join(d, "m.safetensors")
    cmd = [bin_, "train", train_csv, "--seed", str(seed), "--quiet", "--out", model] + extra
    subprocess.run(cmd, check=True)
    out = subprocess.run([bin_, "evaluate", model, test_csv], check=True,
                         capture_output=True, text=True).stdout
    if cls:
        return float(re.search(r"accuracy ([0-9.]+)", out).group(1))
    return float(re.search(r"R² (-?[0-9.]+)", out).group(1))


def sklearn(x_tr, y_tr, x_te, y_te, seed, cls):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    est = (MLPClassifier if cls else MLPRegressor)(random_state=seed)
    est.fit(x_tr, y_tr)
    return float(est.score(x_te, y_te))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/backprop")
    ap.add_argument("--datasets", default="../shared/datasets")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--mnist", action="store_true")
    ap.add_argument("--extra", default="")
    a = ap.parse_args()
    extra = a.extra.split()
    sets = [("iris", "iris/iris.csv", True), ("digits", "digits/digits.csv", True),
            ("diabetes", "diabetes/diabetes.csv", False)]
    print("| data | metric | backprop (median of %d) | scikit-learn (median of %d) | backprop per seed | sklearn per seed |" % (a.seeds, a.seeds))
    print("|---|---|---|---|---|---|")
    for name, rel, cls in sets:
        header, data = read(os.path.join(a.datasets, rel))
        x, y = data[:, :-1], data[:, -1]
        ours, theirs = [], []
        for seed in range(a.seeds):
            tr, te = split(y, seed, cls)
            with tempfile.TemporaryDirectory() as d:
                trc, tec = os.path.join(d, "train.csv"), os.path.join(d, "test.csv")
                write(trc, header, data[tr], cls)
                write(tec, header, data[te], cls)
                ours.append(backprop(a.bin, trc, tec, seed, cls, extra, d))
            yy = y.astype(int) if cls else y
            theirs.append(sklearn(x[tr], yy[tr], x[te], yy[te], seed, cls))
        metric = "accuracy" if cls else "R²"
        fmt = lambda v: " ".join(f"{x:.4f}" for x in v)
        print(f"| {name} | {metric} | {statistics.median(ours):.4f} | {statistics.median(theirs):.4f} | {fmt(ours)} | {fmt(theirs)} |", flush=True)
    if a.mnist:
        with tempfile.TemporaryDirectory() as d:
            model = os.path.join(d, "m.safetensors")
            r = subprocess.run([a.bin, "train", "mnist:" + os.path.join(a.datasets, "mnist"), "--out", model] + extra,
                               check=True, capture_output=True, text=True)
            m = re.search(r"held-out test: loss [0-9.]+, accuracy ([0-9.]+) %", r.stderr)
            print(f"| mnist | test accuracy | {m.group(1) if m else '?'} % | | `backprop train mnist:DIR` | |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
