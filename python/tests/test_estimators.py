"""The estimators in scikit-learn's machinery and in a notebook: scores, meta-estimators,
pickling, model files shared with the command line, input kinds, errors, sample weights,
warm starts, verbose output and Ctrl-C."""

import os
import pickle
import signal
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import backprop
from backprop import MLPClassifier, MLPRegressor

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(hidden_layer_sizes=(16,), max_iter=60, random_state=0, learning_rate_init=0.01)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def test_digits_train_score_with_the_defaults():
    # the "done when": scikit-learn's defaults, digits, train score >= 0.99
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier(random_state=0).fit(X, y)
    assert est.score(X, y) >= 0.99
    assert est.out_activation_ == "softmax"
    assert [w.shape for w in est.coefs_] == [(64, 100), (100, 10)]
    assert [b.shape for b in est.intercepts_] == [(100,), (10,)]
    assert est.n_iter_ == len(est.loss_curve_) and est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None


def test_binary_has_one_logistic_unit_like_sklearn(iris):
    X, y = iris
    yb = np.where(y == 0, "setosa", "other")
    est = MLPClassifier(**SMALL).fit(X, yb)
    assert est.out_activation_ == "logistic" and est.coefs_[-1].shape == (16, 1)
    assert list(est.classes_) == ["other", "setosa"]
    p = est.predict_proba(X)
    assert p.shape == (150, 2) and np.allclose(p.sum(axis=1), 1)
    assert est.score(X, yb) > 0.95


def test_regressor_scores_and_multi_output(diabetes):
    X, y = diabetes
    est = MLPRegressor(hidden_layer_sizes=(32,), max_iter=200, random_state=0).fit(X, y)
    assert est.predict(X).shape == (len(y),) and est.out_activation_ == "identity"
    assert est.score(X, y) > 0.45
    Y = np.column_stack([y, -2 * y])
    est2 = MLPRegressor(**SMALL).fit(X, Y)
    assert est2.predict(X).shape == (len(y), 2) and est2.n_outputs_ == 2


def test_pipeline_grid_search_cross_val_and_clone(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), MLPClassifier(**SMALL))
    assert pipe.fit(X, y).score(X, y) > 0.9
    grid = GridSearchCV(MLPClassifier(**SMALL), {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(8,), (16,)]}, cv=3)
    grid.fit(X, y)
    assert grid.best_score_ > 0.85 and set(grid.best_params_) == {"alpha", "hidden_layer_sizes"}
    scores = cross_val_score(MLPRegressor(**SMALL), *load_diabetes(return_X_y=True), cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    est = MLPClassifier(**SMALL, dropout=0.1).fit(X, y)
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "classes_")


def test_same_seed_same_model_other_seed_other_model(iris):
    X, y = iris
    a = MLPClassifier(**SMALL).fit(X, y).coefs_[0]
    b = MLPClassifier(**SMALL).fit(X, y).coefs_[0]
    c = MLPClassifier(**{**SMALL, "random_state": 1}).fit(X, y).coefs_[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_pickle_stores_model_bytes_not_data(iris):
    X, y = iris
    est = MLPClassifier(**SMALL).fit(X, y)
    blob = pickle.dumps(est)
    assert X.tobytes()[:64] not in blob
    back = pickle.loads(blob)
    assert np.array_equal(back.predict_proba(X), est.predict_proba(X))
    assert back.get_params() == est.get_params() and back.n_iter_ == est.n_iter_
    assert "_model_bytes" in est.__getstate__()


def test_save_and_load_read_the_same_file(tmp_path, iris):
    X, y = iris
    est = MLPClassifier(**SMALL).fit(X, y)
    est.save(tmp_path / "m.safetensors")
    back = backprop.load(tmp_path / "m.safetensors")
    assert isinstance(back, MLPClassifier) and list(back.classes_) == [0, 1, 2]
    assert np.array_equal(back.predict(X), est.predict(X))
    reg = MLPRegressor(**SMALL).fit(*load_diabetes(return_X_y=True))
    reg.save(tmp_path / "r.safetensors")
    assert isinstance(backprop.load(tmp_path / "r.safetensors"), MLPRegressor)
    with pytest.raises(ValueError):
        backprop.load(tmp_path / "missing.safetensors")


def _backprop_bin():
    exe = os.environ.get("BACKPROP_BIN")
    if exe:
        return exe
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    subprocess.run(["cargo", "build", "--release", "--bin", "backprop"], cwd=ROOT, check=True)
    return str(target / "release" / "backprop")


def test_cli_round_trip(tmp_path, iris):
    # trained in Python, `backprop predict` from the shell gives the same classes, and a model
    # from `backprop train` is read back in Python with the same predictions
    X, y = iris
    est = MLPClassifier(**SMALL).fit(X, y)
    est.save(tmp_path / "py.safetensors")
    csv = tmp_path / "x.csv"
    np.savetxt(csv, X, delimiter=",", header="x0,x1,x2,x3", comments="", fmt="%.17g")
    exe = _backprop_bin()
    out = subprocess.run([exe, "predict", str(tmp_path / "py.safetensors"), str(csv)],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    assert out[0].startswith("class,")
    cli = np.array([int(line.split(",")[0]) for line in out[1:]])
    assert np.array_equal(cli, est.predict(X))
    probs = np.array([[float(v) for v in line.split(",")[1:]] for line in out[1:]])
    assert np.allclose(probs, est.predict_proba(X), atol=1e-5)
    # the other way round
    data = tmp_path / "train.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,c,d,species", comments="", fmt="%.17g")
    subprocess.run([exe, "train", str(data), "--task", "classification", "--epochs", "5",
                    "--out", str(tmp_path / "cli.safetensors")], check=True, capture_output=True)
    m = backprop.load(tmp_path / "cli.safetensors")
    assert list(m.feature_names_in_) == ["a", "b", "c", "d"]
    out = subprocess.run([exe, "predict", str(tmp_path / "cli.safetensors"), str(data)],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    cli = np.array([int(line.split(",")[0]) for line in out[1:]])
    assert np.array_equal(cli, m.predict(X))


def test_input_kinds_float32_fortran_lists_and_dataframes(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    ref = MLPClassifier(**SMALL).fit(X, y).predict_proba(X)
    for Xi in (X.astype(np.float32), np.asfortranarray(X), X.tolist()):
        p = MLPClassifier(**SMALL).fit(Xi, y).predict_proba(Xi)
        assert np.allclose(p, ref, atol=1e-5)
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    est = MLPClassifier(**SMALL).fit(df, pd.Series(y))
    assert list(est.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    assert np.allclose(est.predict_proba(df), ref, atol=1e-5)
    assert est.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_errors_are_python_exceptions(iris):
    X, y = iris
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)
    with pytest.raises(NotFittedError):
        MLPClassifier().coefs_
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="invscaling"):
        MLPClassifier(solver="sgd", learning_rate="invscaling").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        MLPClassifier(**SMALL).fit(X, y).predict(X[:, :2])
    with pytest.raises(ValueError, match="sample weight"):
        MLPClassifier(**SMALL).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="lbfgs with dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.5, max_iter=2).fit(X, y)
    with pytest.raises(ValueError):
        MLPClassifier(**SMALL).fit(X, np.zeros(len(y)))


def test_sample_weights_count(iris):
    # weight 0 is as good as absent: the fit on the weighted set equals, in what it learns,
    # a fit that never sees the zero-weight class (class 2 is never predicted)
    X, y = iris
    w = np.where(y == 2, 0.0, 1.0)
    est = MLPClassifier(**SMALL).fit(X, y, sample_weight=w)
    assert not np.any(est.predict(X) == 2)
    plain = MLPClassifier(**SMALL).fit(X, y)
    assert np.any(plain.predict(X) == 2)
    # all weights 3 = no weights (the loss is a weighted mean)
    three = MLPClassifier(**SMALL).fit(X, y, sample_weight=np.full(len(y), 3.0))
    assert np.allclose(three.predict_proba(X), plain.predict_proba(X), atol=1e-4)


def test_lbfgs_sgd_adaptive_and_our_solvers(iris):
    X, y = iris
    assert MLPClassifier(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=100, random_state=0).fit(X, y).score(X, y) > 0.95
    sgd = MLPClassifier(solver="sgd", learning_rate="adaptive", learning_rate_init=0.1, **{k: v for k, v in SMALL.items() if k != "learning_rate_init"})
    assert sgd.fit(X, y).score(X, y) > 0.9
    for solver in ("rmsprop", "adamw"):
        assert MLPClassifier(solver=solver, **SMALL).fit(X, y).score(X, y) > 0.9
    assert MLPClassifier(batch_norm=True, precision="bf16", n_threads=1, **SMALL).fit(X, y).score(X, y) > 0.9


def test_early_stopping_keeps_the_best_validation_epoch(iris):
    X, y = iris
    est = MLPClassifier(early_stopping=True, n_iter_no_change=5, **{**SMALL, "max_iter": 300}).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_ and est.best_loss_ is None
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.stop_reason_ in ("early_stopping", "completed")


def test_warm_start_and_partial_fit_continue(iris):
    X, y = iris
    est = MLPClassifier(warm_start=True, **{**SMALL, "max_iter": 10}).fit(X, y)
    first = est.coefs_[0].copy()
    est.fit(X, y)
    assert est.n_iter_ == 20 and not np.array_equal(first, est.coefs_[0])
    pf = MLPClassifier(**SMALL)
    with pytest.raises(ValueError, match="classes"):
        pf.partial_fit(X, y)
    for _ in range(30):
        pf.partial_fit(X, y, classes=[0, 1, 2])
    assert pf.n_iter_ == 30 and pf.score(X, y) > 0.8
    pickled = pickle.loads(pickle.dumps(pf))
    pickled.partial_fit(X, y)
    assert pickled.n_iter_ == 31
    with pytest.raises(AttributeError):
        MLPClassifier(solver="lbfgs").partial_fit


def test_verbose_prints_epoch_lines(iris, capsys):
    X, y = iris
    MLPClassifier(verbose=True, **{**SMALL, "max_iter": 3}).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]
    assert "loss = " in lines[0]


def test_ctrl_c_stops_keeping_the_weights():
    # SIGINT during a long fit: KeyboardInterrupt, and the estimator is fitted with what it
    # learnt by then (the GIL is free while training, so this timer thread runs)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 20))
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier(hidden_layer_sizes=(64,), max_iter=10000, batch_size=32, random_state=0, tol=0)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    timer.join()
    assert 0 < est.n_iter_ < 10000 and est.score(X, y) > 0.9
