"""MLPClassifier and MLPRegressor: scikit-learn's parameters, validated here and handed to the
Rust library's pipeline (`backprop._core.train`), which does all the numerics."""

import json
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
# scikit-learn's three, then the library's own
_SOLVERS = ("sgd", "adam", "lbfgs", "adamw", "rmsprop", "adagrad", "rprop", "quickprop")
_LEARNING_RATES = ("constant", "adaptive", "invscaling")
_PRECISIONS = ("f32", "bf16")
_SCALES = ("auto", "standard", "minmax", "none")


def _check(cond, name, value, expected):
    if not cond:
        raise ValueError(f"The '{name}' parameter must be {expected}. Got {value!r} instead.")


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


class _BaseMLP(BaseEstimator):
    """What both estimators share: parameters, their checks, the call into the library,
    the fitted attributes and pickling by model bytes."""

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        loss=None,
        dropout=0.0,
        batch_norm=False,
        restore_best_weights=True,
        n_threads=None,
        precision="f32",
        scale="auto",
        init="xavier_uniform",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.loss = loss
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.restore_best_weights = restore_best_weights
        self.n_threads = n_threads
        self.precision = precision
        self.scale = scale
        self.init = init

    # ---- parameters -------------------------------------------------------------------------

    def _hidden(self):
        h = self.hidden_layer_sizes
        if _is_int(h):
            h = (h,)
        try:
            h = [int(v) if _is_int(v) else v for v in h]
        except TypeError:
            h = None
        _check(
            h is not None and all(_is_int(v) and v > 0 for v in h),
            "hidden_layer_sizes",
            self.hidden_layer_sizes,
            "an int or a sequence of ints, each > 0",
        )
        return h

    def _validate_params(self):
        _check(self.activation in _ACTIVATIONS, "activation", self.activation, f"one of {_ACTIVATIONS}")
        _check(self.solver in _SOLVERS, "solver", self.solver, f"one of {_SOLVERS}")
        _check(
            self.learning_rate in _LEARNING_RATES,
            "learning_rate",
            self.learning_rate,
            f"one of {_LEARNING_RATES}",
        )
        _check(_is_real(self.alpha) and self.alpha >= 0, "alpha", self.alpha, "a float >= 0")
        bs = self.batch_size
        _check(bs == "auto" or (_is_int(bs) and bs >= 1), "batch_size", bs, "'auto' or an int >= 1")
        lr = self.learning_rate_init
        _check(_is_real(lr) and lr > 0, "learning_rate_init", lr, "a float > 0")
        _check(_is_real(self.power_t) and self.power_t >= 0, "power_t", self.power_t, "a float >= 0")
        _check(_is_int(self.max_iter) and self.max_iter >= 1, "max_iter", self.max_iter, "an int >= 1")
        _check(_is_real(self.tol) and self.tol >= 0, "tol", self.tol, "a float >= 0")
        m = self.momentum
        _check(_is_real(m) and 0 <= m <= 1, "momentum", m, "a float in [0, 1]")
        vf = self.validation_fraction
        _check(_is_real(vf) and 0 < vf < 1, "validation_fraction", vf, "a float in (0, 1)")
        for name in ("beta_1", "beta_2"):
            b = getattr(self, name)
            _check(_is_real(b) and 0 <= b < 1, name, b, "a float in [0, 1)")
        _check(_is_real(self.epsilon) and self.epsilon > 0, "epsilon", self.epsilon, "a float > 0")
        n = self.n_iter_no_change
        _check(_is_int(n) and n >= 1, "n_iter_no_change", n, "an int >= 1")
        _check(_is_int(self.max_fun) and self.max_fun >= 1, "max_fun", self.max_fun, "an int >= 1")
        d = self.dropout
        _check(_is_real(d) and 0 <= d < 1, "dropout", d, "a float in [0, 1)")
        t = self.n_threads
        _check(t is None or (_is_int(t) and t >= 1), "n_threads", t, "None or an int >= 1")
        _check(self.precision in _PRECISIONS, "precision", self.precision, f"one of {_PRECISIONS}")
        _check(self.scale in _SCALES, "scale", self.scale, f"one of {_SCALES}")
        _check(isinstance(self.init, str), "init", self.init, "an initialiser's name")
        if self.learning_rate == "invscaling":
            raise ValueError(
                "learning_rate='invscaling' is not supported by backprop; use 'constant' or "
                "'adaptive'"
            )
        for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping",
                     "batch_norm", "restore_best_weights"):
            v = getattr(self, name)
            _check(isinstance(v, (bool, np.bool_)) or v in (0, 1), name, v, "a bool")

    def _seed(self):
        rs = self.random_state
        if _is_int(rs):
            _check(0 <= rs < 2**63, "random_state", rs, "an int in [0, 2**63), a RandomState or None")
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    def _config(self, n_samples, loss):
        bs = min(200, n_samples) if self.batch_size == "auto" else min(self.batch_size, n_samples)
        if self.batch_size != "auto" and self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped")
        lr_sched = self.learning_rate if self.solver == "sgd" else "constant"
        return json.dumps({
            "hidden_layer_sizes": self._hidden(),
            "activation": self.activation,
            "solver": self.solver,
            "alpha": float(self.alpha),
            "batch_size": int(bs),
            "learning_rate": lr_sched,
            "learning_rate_init": float(self.learning_rate_init),
            "max_iter": int(self.max_iter),
            "tol": float(self.tol),
            "n_iter_no_change": int(self.n_iter_no_change),
            "early_stopping": bool(self.early_stopping),
            "validation_fraction": float(self.validation_fraction),
            "shuffle": bool(self.shuffle),
            "seed": self._seed(),
            "momentum": float(self.momentum),
            "nesterovs_momentum": bool(self.nesterovs_momentum),
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "epsilon": float(self.epsilon),
            "loss": loss,
            "dropout": float(self.dropout),
            "batch_norm": bool(self.batch_norm),
            "restore_best_weights": bool(self.restore_best_weights),
            "precision": self.precision,
            "scale": self.scale,
            "scale_targets": bool(getattr(self, "scale_targets", False)),
            "init": self.init,
        })

    # ---- training ---------------------------------------------------------------------------

    def _train(self, X, targets, sample_weight, mode, loss):
        """One call into the library; sets the fitted attributes; re-raises Ctrl-C after
        keeping what was learnt."""
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        sw = None
        if sample_weight is not None:
            sw = np.ascontiguousarray(_check_sample_weight(sample_weight, X), dtype=np.float32)
        names = getattr(self, "feature_names_in_", None)
        prev = getattr(self, "_fitted", None) if mode != "fresh" else None
        fitted, history, interrupted = _core.train(
            X32,
            self._config(X.shape[0], loss),
            mode,
            sample_weight=sw,
            feature_names=None if names is None else [str(n) for n in names],
            prev=prev,
            verbose=bool(self.verbose),
            n_threads=self.n_threads,
            **targets,
        )
        had_state = prev is not None and prev.has_state and mode == "partial"
        self._fitted = fitted
        self._dtype = X.dtype
        self._record(history, had_state, append=mode != "fresh")
        if interrupted:
            raise KeyboardInterrupt(
                f"training interrupted after {self.n_iter_} epochs; the estimator keeps the "
                "weights learnt so far"
            )
        if history["stop"] == "completed" and mode != "partial" and self.solver != "lbfgs":
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return self

    def _record(self, history, had_state, append):
        """The fitted attributes scikit-learn users read, from the library's history."""
        losses = [float(v) for v in history["loss"]]
        key = "val_accuracy" if isinstance(self, ClassifierMixin) else "val_r2"
        scores = [None if v is None else float(v) for v in history[key]]
        old = list(getattr(self, "loss_curve_", [])) if append else []
        old_scores = list(getattr(self, "validation_scores_", None) or []) if append else []
        if had_state:
            # the library's history already holds the earlier epochs
            losses, scores = losses[len(old):], scores[len(old):]
        self.loss_curve_ = old + losses
        self.n_iter_ = len(self.loss_curve_)
        self.t_ = self.n_iter_ * getattr(self, "_n_samples", 0)
        if self.early_stopping and any(s is not None for s in scores):
            self.validation_scores_ = old_scores + scores
            self.best_validation_score_ = max(v for v in self.validation_scores_ if v is not None)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.stop_reason_ = history["stop"]
        self.out_activation_ = self._fitted.out_activation
        self.n_outputs_ = len(self._fitted.weights()[-1][1])
        self.n_layers_ = len(self._hidden()) + 2

    # ---- fitted state -----------------------------------------------------------------------

    def _weights(self):
        if not hasattr(self, "_fitted"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        dtype = getattr(self, "_dtype", np.float32)
        return [(w.astype(dtype), b.astype(dtype)) for w, b in self._fitted.weights()]

    @property
    def coefs_(self):
        """Weight matrices, `coefs_[i]` of shape (n_in, n_out) (scikit-learn's layout)."""
        return [w for w, _ in self._weights()]

    @property
    def intercepts_(self):
        """Bias vectors, one per layer."""
        return [b for _, b in self._weights()]

    def _outputs(self, X):
        check_is_fitted(self, "_fitted")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self._fitted.predict(np.ascontiguousarray(X, dtype=np.float32)), X.dtype

    def save(self, path):
        """Writes the model file (`backprop predict --model PATH` reads it)."""
        check_is_fitted(self, "_fitted")
        self._fitted.save(str(path))

    def __getstate__(self):
        state = self.__dict__.copy()
        fitted = state.pop("_fitted", None)
        if fitted is not None:
            state["_model_bytes"] = bytes(fitted.to_bytes())
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_model_bytes", None)
        self.__dict__.update(state)
        if data is not None:
            self._fitted = _core.Fitted.from_bytes(data)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's `MLPClassifier` parameters, trained by
    backprop's Rust library. Two classes train one logistic output unit under BCE (as
    scikit-learn does); more train a softmax layer under cross-entropy. Extra parameters:
    `loss` (default: that choice), `dropout`, `batch_norm`, `restore_best_weights` (with
    `early_stopping`), `n_threads`, `precision` ('f32' or 'bf16'), `scale` (feature scaling
    fitted on the training part: 'auto', 'standard', 'minmax' or 'none'), `init` (the weights'
    initialiser: Glorot uniform, as scikit-learn, or 'kaiming_uniform', 'pytorch', ...)."""

    def _encode(self, y):
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            unseen = sorted(set(np.asarray(y).tolist()) - set(self.classes_.tolist()))
            raise ValueError(f"y contains classes not in classes_: {unseen}")
        return np.ascontiguousarray(idx, dtype=np.int64)

    def _loss(self):
        if self.loss is not None:
            return self.loss
        return "bce" if len(self.classes_) == 2 else "cross_entropy"

    def _targets(self, y):
        return {"labels": self._encode(y), "class_names": [str(c) for c in self.classes_]}

    def _check_y(self, y):
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(f"MLPClassifier takes binary or multiclass targets, got {type_of_target(y)}")

    def fit(self, X, y, sample_weight=None):
        """Trains on X, y (sample weights optional); with `warm_start`, on from the last fit."""
        self._validate_params()
        warm = self.warm_start and hasattr(self, "_fitted")
        X, y = validate_data(self, X, y, reset=not warm, dtype=(np.float64, np.float32))
        self._check_y(y)
        classes = np.unique(y)
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"warm_start can only be used where `y` has the same classes as in the previous "
                f"call to fit. Previously got {self.classes_}, `y` has {classes}"
            )
        if len(classes) < 2:
            raise ValueError(
                f"The classifier needs samples of at least 2 classes; got 1 class: {classes[0]!r}"
            )
        self.classes_ = classes
        self._n_samples = X.shape[0]
        mode = "warm" if warm else "fresh"
        return self._train(X, self._targets(y), sample_weight, mode, self._loss())

    def _check_solver(self):
        if self.solver not in ("sgd", "adam", "adamw", "rmsprop", "adagrad"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic.")
        return True

    @available_if(_check_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over X, y, on from the last call (`classes` is needed on the first)."""
        first = not hasattr(self, "_fitted")
        if first:
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(np.asarray(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={classes}` is not the same as on last call to partial_fit, was: {self.classes_}")
        X, y = validate_data(self, X, y, reset=first, dtype=(np.float64, np.float32))
        self._check_y(y)
        self._n_samples = X.shape[0]
        return self._train(X, self._targets(y), sample_weight, "partial", self._loss())

    def predict_proba(self, X):
        """Class probabilities, (n_samples, n_classes)."""
        out, dtype = self._outputs(X)
        p = np.asarray(out, dtype=np.float64)
        p /= p.sum(axis=1, keepdims=True)
        return p.astype(dtype) if dtype == np.float32 else p

    def predict_log_proba(self, X):
        """Log of `predict_proba`."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """The most probable class of each row."""
        p = self.predict_proba(X)
        return self.classes_[np.argmax(p, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's `MLPRegressor` parameters, trained by
    backprop's Rust library (loss 'mse' unless `loss` says otherwise). Extra parameters as
    `MLPClassifier`'s, and `scale_targets`: standardise the targets for training and fold the
    inverse into the output layer (default on)."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 loss=None, dropout=0.0, batch_norm=False, restore_best_weights=True,
                 n_threads=None, precision="f32", scale="auto", init="xavier_uniform",
                 scale_targets=True):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
            max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun, loss=loss,
            dropout=dropout, batch_norm=batch_norm, restore_best_weights=restore_best_weights,
            n_threads=n_threads, precision=precision, scale=scale, init=init)
        self.scale_targets = scale_targets

    def _targets(self, y):
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        return {"values": np.ascontiguousarray(y2, dtype=np.float32)}

    def _prepare(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        self._n_samples = X.shape[0]
        return X, y

    def fit(self, X, y, sample_weight=None):
        """Trains on X, y (sample weights optional); with `warm_start`, on from the last fit."""
        self._validate_params()
        warm = self.warm_start and hasattr(self, "_fitted")
        X, y = self._prepare(X, y, reset=not warm)
        self._y_1d = y.ndim == 1
        return self._train(X, self._targets(y), sample_weight, "warm" if warm else "fresh",
                           self.loss or "mse")

    def _check_solver(self):
        if self.solver not in ("sgd", "adam", "adamw", "rmsprop", "adagrad"):
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic.")
        return True

    @available_if(_check_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y, on from the last call."""
        first = not hasattr(self, "_fitted")
        if first:
            self._validate_params()
        X, y = self._prepare(X, y, reset=first)
        if first:
            self._y_1d = y.ndim == 1
        return self._train(X, self._targets(y), sample_weight, "partial",
                           self.loss or "mse")

    def predict(self, X):
        """Predicted values, (n_samples,) or (n_samples, n_targets)."""
        out, dtype = self._outputs(X)
        out = np.asarray(out, dtype=dtype)
        return out.ravel() if getattr(self, "_y_1d", out.shape[1] == 1) else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def load(path):
    """Reads a model file (`backprop train --out PATH` writes one) as a fitted estimator:
    an `MLPClassifier` for a classifier, else an `MLPRegressor`. Class names that are all
    integers come back as ints."""
    fitted = _core.Fitted.load(str(path))
    names = fitted.classes
    est = MLPClassifier() if names is not None else MLPRegressor()
    est._fitted = fitted
    est._dtype = np.float32
    if names is not None:
        try:
            est.classes_ = np.array([int(c) for c in names])
        except ValueError:
            est.classes_ = np.array(names, dtype=object)
    feats = fitted.feature_names
    est.n_features_in_ = len(feats)
    if feats != [f"x{i}" for i in range(len(feats))]:
        est.feature_names_in_ = np.array(feats, dtype=object)
    weights = fitted.weights()
    est.hidden_layer_sizes = tuple(w.shape[1] for w, _ in weights[:-1])
    est.out_activation_ = fitted.out_activation
    est.n_outputs_ = weights[-1][0].shape[1]
    est.n_layers_ = len(weights) + 1
    est.n_iter_ = 0
    est.loss_curve_ = []
    if names is None:
        est._y_1d = est.n_outputs_ == 1
    return est
