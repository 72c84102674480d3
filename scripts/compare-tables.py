#!/usr/bin/env python3
"""backprop against scikit-learn's default pipeline on two public tables with the traps of real
CSV files (issue 23): identifiers, dates, free text, missing features and targets, and test
categories that the training part never saw.

- penguins: palmerpenguins' penguins_raw (studyName, Individual ID, Date Egg, Comments, NA
  cells); target Species. The test part is every penguin from Torgersen island (an island the
  training part never sees: an unseen category) plus a seeded 20 % of the others.
- cars: vega_datasets' cars.json (Name, Year as an ISO date, Origin, missing Horsepower and
  Miles_per_Gallon), written as CSV; target Miles_per_Gallon. The test part is a seeded 20 %.

For each seed the script writes train.csv and test.csv to a temporary directory, runs
`backprop train train.csv --target y` and `backprop evaluate model.safetensors test.csv` with
no other flag, and fits scikit-learn's default pipeline on the same split: rows without a
target dropped, then SimpleImputer (median) + StandardScaler on the numbers,
SimpleImputer(most_frequent) + OneHotEncoder(handle_unknown="ignore") on the categories, and a
default MLPClassifier / MLPRegressor (random_state = the seed). scikit-learn is given the
columns backprop keeps (identifiers and free text left out, dates as fractional years), so the
comparison is of the models, not of the column choices. The data stays out of the repository:
it comes from the installed packages.

usage: python3 scripts/compare-tables.py [--bin target/release/backprop] [--seeds 5] [--extra FLAGS]
needs: pip install palmerpenguins vega_datasets scikit-learn pandas
"""
import argparse
import os
import re
import subprocess
import tempfile
import time
import warnings

import numpy as np
import pandas as pd


def penguins():
    import palmerpenguins

    path = os.path.join(os.path.dirname(palmerpenguins.__file__), "data", "penguins-raw.csv")
    return pd.read_csv(path, keep_default_na=False, dtype=str), "Species"


def cars():
    import vega_datasets

    path = os.path.join(os.path.dirname(vega_datasets.__file__), "_data", "cars.json")
    df = pd.read_json(path, dtype=False)
    return df.astype(object).where(df.notna(), "").astype(str), "Miles_per_Gallon"


def split(name, df, seed):
    rng = np.random.default_rng(seed)
    if name == "penguins":
        unseen = df["Island"] == "Torgersen"
        rest = np.flatnonzero(~unseen.to_numpy())
        test = np.zeros(len(df), bool)
        test[unseen.to_numpy()] = True
        test[rng.choice(rest, size=len(rest) // 5, replace=False)] = True
    else:
        test = np.zeros(len(df), bool)
        test[rng.choice(len(df), size=len(df) // 5, replace=False)] = True
    return df[~test], df[test]


def backprop(binary, tmp, target, regression, extra):
    t0 = time.perf_counter()
    subprocess.run([binary, "train", "train.csv", "--target", target] + extra, cwd=tmp,
                   check=True, capture_output=True)
    seconds = time.perf_counter() - t0
    out = subprocess.run([binary, "evaluate", "model.safetensors", "test.csv"], cwd=tmp,
                         check=True, capture_output=True, text=True).stdout
    if regression:
        return float(re.search(r"R² (-?[0-9.]+)", out).group(1)), seconds
    return float(re.search(r"accuracy ([0-9.]+)", out).group(1)), seconds


def fractional_year(s):
    d = pd.to_datetime(s, errors="coerce")
    start = pd.to_datetime(d.dt.year.astype("Int64").astype(str) + "-01-01", errors="coerce")
    days = np.where(d.dt.is_leap_year, 366.0, 365.0)
    return d.dt.year + (d - start).dt.total_seconds() / 86400.0 / days


def sklearn_score(train, test, target, regression, binary, tmp):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    # the columns backprop kept, as its plan says
    plan = subprocess.run([binary, "inspect", "train.csv", "--target", target, "--json"],
                          cwd=tmp, check=True, capture_output=True, text=True).stdout
    import json

    cols = json.loads(plan)["columns"]
    num = [c["name"] for c in cols if c["role"] in ("number", "date")]
    cat = [c["name"] for c in cols if c["role"] == "category"]
    dates = [c["name"] for c in cols if c["role"] == "date"]

    def prepare(df):
        df = df[~df[target].isin(["", "NA"])].copy()
        for c in num:
            if c in dates:
                df[c] = fractional_year(df[c].replace({"": None, "NA": None}))
            else:
                df[c] = pd.to_numeric(df[c].replace({"": None, "NA": None}), errors="coerce")
        for c in cat:
            df[c] = df[c].replace({"": np.nan, "NA": np.nan}).astype(object)
        y = df[target].astype(float) if regression else df[target]
        return df[num + cat], y

    (xtr, ytr), (xte, yte) = prepare(train), prepare(test)
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), cat),
    ])
    seed = int(os.environ.get("SEED", "0"))
    model = MLPRegressor(random_state=seed) if regression else MLPClassifier(random_state=seed)
    pipe = make_pipeline(pre, model)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(xtr, ytr)
    seconds = time.perf_counter() - t0
    return pipe.score(xte, yte), seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "backprop"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--extra", default="", help='more flags for `backprop train`, e.g. "--seed 1"')
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    print(f"{'table':9} {'metric':9} {'seed':>4} {'backprop':>9} {'sklearn':>9} {'bp s':>6} {'sk s':>6}")
    for name, load in [("penguins", penguins), ("cars", cars)]:
        df, target = load()
        regression = name == "cars"
        scores = []
        for seed in range(args.seeds):
            train, test = split(name, df, seed)
            with tempfile.TemporaryDirectory() as tmp:
                train.to_csv(os.path.join(tmp, "train.csv"), index=False)
                test.to_csv(os.path.join(tmp, "test.csv"), index=False)
                b, bs = backprop(binary, tmp, target, regression, args.extra.split())
                os.environ["SEED"] = str(seed)
                s, ss = sklearn_score(train, test, target, regression, binary, tmp)
            scores.append((b, s))
            metric = "R²" if regression else "accuracy"
            print(f"{name:9} {metric:9} {seed:>4} {b:9.4f} {s:9.4f} {bs:6.2f} {ss:6.2f}")
        b, s = np.mean(scores, axis=0)
        print(f"{name:9} {'mean':9} {'':>4} {b:9.4f} {s:9.4f}")


if __name__ == "__main__":
    main()
