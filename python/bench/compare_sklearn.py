"""Fit time and test score: backprop's MLP against scikit-learn's, same hyper-parameters.

Both sides get the same inputs (features standardised on the training part; MNIST pixels
/255), the same network (hidden sizes, ReLU), solver (Adam, lr 1e-3, scikit-learn's betas),
batch size, L2 penalty alpha and number of epochs (tol=0 and n_iter_no_change=max_iter,
so neither stops early). Ours trains with scale='none' (the inputs are already scaled) and,
for diabetes, scale_targets=False (scikit-learn has no target scaling) — plus one row with
our default target scaling. Wall time and, in brackets, the process's CPU time (all
threads; less sensitive to other load on the machine). Times and scores are medians over
`--repeats` fits with seeds 0, 1, ... (MNIST: `--mnist-repeats`), interleaved (ours, theirs,
ours, ...). Both initialise by Glorot uniform. scikit-learn's time depends much on the load:
its BLAS threads wait for each other on a busy machine.

    python python/bench/compare_sklearn.py [--mnist /path/to/mnist] [--repeats 3]
"""

import argparse
import gzip
import os
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.preprocessing import StandardScaler

import backprop

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MNIST = os.path.join(HERE, "..", "..", "..", "shared", "datasets", "mnist")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist(root):
    def part(name):
        X = read_idx(os.path.join(root, f"{name}-images-idx3-ubyte.gz")).reshape(-1, 784)
        y = read_idx(os.path.join(root, f"{name}-labels-idx1-ubyte.gz"))
        return X.astype(np.float32) / 255.0, y.astype(np.int64)

    (Xtr, ytr), (Xte, yte) = part("train"), part("t10k")
    return Xtr, Xte, ytr, yte


def small(loader, classify):
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y if classify else None)
    sc = StandardScaler().fit(Xtr)
    return sc.transform(Xtr), sc.transform(Xte), ytr, yte


def timed(est, Xtr, ytr, Xte, yte):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t, c = time.perf_counter(), time.process_time()
        est.fit(Xtr, ytr)
        secs, cpu = time.perf_counter() - t, time.process_time() - c
    return secs, cpu, est.score(Xte, yte)


def compare(name, data, classify, params, repeats, ours_extra=None):
    Xtr, Xte, ytr, yte = data
    common = dict(params, solver="adam", tol=0.0, n_iter_no_change=params["max_iter"],
                  random_state=0)
    Ours = backprop.MLPClassifier if classify else backprop.MLPRegressor
    Theirs = SkClassifier if classify else SkRegressor
    extra = {} if classify else {"scale_targets": False}
    extra.update(ours_extra or {})
    ours, theirs = [], []
    for seed in range(repeats):
        common["random_state"] = seed
        ours.append(timed(Ours(scale="none", **extra, **common), Xtr, ytr, Xte, yte))
        theirs.append(timed(Theirs(**common), Xtr, ytr, Xte, yte))
    t_o, c_o, s_o = (statistics.median(r[i] for r in ours) for i in range(3))
    t_t, c_t, s_t = (statistics.median(r[i] for r in theirs) for i in range(3))
    metric = "accuracy" if classify else "R²"
    scale = 100.0 if classify else 1.0
    unit = " pt" if classify else ""
    print(f"| {name} | {params['hidden_layer_sizes']} | {params['batch_size']} | "
          f"{params['max_iter']} | {t_t:.2f} s ({c_t:.2f}) | {t_o:.2f} s ({c_o:.2f}) | "
          f"{t_t / t_o:.1f}× ({c_t / c_o:.1f}×) | "
          f"{metric} {s_t * scale:.2f}{unit} | {s_o * scale:.2f}{unit} | "
          f"{(s_o - s_t) * scale:+.2f}{unit} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=DEFAULT_MNIST)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mnist-epochs", type=int, default=10)
    ap.add_argument("--mnist-repeats", type=int, default=3)
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--only-mnist", action="store_true")
    a = ap.parse_args()
    print("| data | hidden | batch | epochs | scikit-learn fit (CPU s) | backprop fit (CPU s) | "
          "speed-up (in CPU time) | scikit-learn test | backprop test | difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    base = dict(hidden_layer_sizes=(100,), batch_size=200, learning_rate_init=1e-3,
                alpha=1e-4, max_iter=200)
    if not a.only_mnist:
        compare("iris", small(load_iris, True), True, base, a.repeats)
        compare("digits", small(load_digits, True), True, base, a.repeats)
        compare("diabetes", small(load_diabetes, False), False, base, a.repeats)
        compare("diabetes, our target scaling", small(load_diabetes, False), False, base,
                a.repeats, {"scale_targets": True})
    if not a.skip_mnist:
        params = dict(base, hidden_layer_sizes=(256,), max_iter=a.mnist_epochs)
        data = mnist(a.mnist)
        r = a.mnist_repeats
        compare("MNIST 60k/10k", data, True, params, r)
        compare("MNIST, our precision='bf16'", data, True, params, r, {"precision": "bf16"})


if __name__ == "__main__":
    main()
