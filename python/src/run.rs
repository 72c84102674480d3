//! `train`: one `fit` or `partial_fit` — the arrays become a `Dataset`, the configuration a
//! `Pipeline`, and the library prepares and runs it with the GIL released. An observer takes
//! the GIL briefly after every batch to let Python handle signals (Ctrl-C stops the run at the
//! end of the batch, keeping the best weights where asked) and after every epoch to print its
//! line when `verbose`.

use crate::config::invalid;
use crate::config::Config;
use crate::fitted::Fitted;
use crate::value_error;
use backprop::data::{Dataset, Features, Targets};
use backprop::train::{Control, EpochReport, Event, History, StopReason};
use backprop::Result;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The data of one call, copied out of NumPy (the GIL is released while training).
struct Data {
    x: Vec<f32>,
    d: usize,
    targets: Targets,
    weights: Option<Vec<f32>>,
    feature_names: Option<Vec<String>>,
}

impl Data {
    fn dataset(self) -> Result<Dataset> {
        let mut ds = Dataset::new(Features::F32(self.x), self.d, self.targets)?;
        if let Some(names) = self.feature_names {
            if names.len() != ds.n_features() {
                return Err(invalid("feature_names", names.len(), "one per feature"));
            }
            ds.feature_names = names;
        }
        match self.weights {
            Some(w) => ds.with_weights(w),
            None => Ok(ds),
        }
    }
}

/// How this call trains: from scratch, on from a fitted model with a fresh optimizer
/// (`warm_start`), or one more epoch on from a fitted model's state (`partial_fit`).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Fresh,
    Warm,
    Partial,
}

/// What the observer saw: a Python error from a signal handler (KeyboardInterrupt), and the
/// verbose printing's first error.
struct Watch {
    verbose: bool,
    error: Option<PyErr>,
}

impl Watch {
    fn on_event(&mut self, e: Event) -> Control {
        if self.error.is_some() {
            return Control::Stop;
        }
        let line = match e {
            Event::Batch { .. } => None,
            Event::Epoch { report, .. } => self.verbose.then(|| epoch_line(report)),
        };
        let result = Python::with_gil(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(line) = line {
                py.import("builtins")?.getattr("print")?.call1((line,))?;
            }
            Ok(())
        });
        match result {
            Ok(()) => Control::Continue,
            Err(err) => {
                self.error = Some(err);
                Control::Stop
            }
        }
    }
}

/// scikit-learn's verbose line, with the validation loss when there is one.
fn epoch_line(r: &EpochReport) -> String {
    let mut s = format!("Iteration {}, loss = {:.8}", r.epoch, r.train.loss);
    if let Some(v) = &r.val {
        s.push_str(&format!(", validation loss = {:.8}", v.loss));
    }
    s
}

/// Trains on `data` as `cfg` says, from `prev` for warm starts and `partial_fit`.
fn fit(
    cfg: &Config,
    data: Data,
    prev: Option<&Fitted>,
    mode: Mode,
    watch: &mut Watch,
) -> Result<(Fitted, History)> {
    let ds = data.dataset()?;
    let mut p = cfg.pipeline()?;
    if mode == Mode::Partial {
        // scikit-learn's partial_fit: one pass, no early stopping or validation part
        p.val_split = 0.0;
        p.trainer.early_stopping = None;
    }
    let mut prepared = match (prev, mode) {
        (Some(f), Mode::Warm | Mode::Partial) => {
            let state = f.state.clone().filter(|_| mode == Mode::Partial);
            let done = state.as_ref().map_or(0, |s| s.epoch);
            if mode == Mode::Partial {
                p.trainer.epochs = done + 1;
            }
            p.prepare_warm(f.model.clone(), state, &ds)?
        }
        _ => {
            if mode == Mode::Partial {
                p.trainer.epochs = 1;
                p.scale_targets = false;
            }
            p.prepare(&ds, None)?
        }
    };
    prepared.out = None;
    let mut observer = |e: Event| watch.on_event(e);
    let hooks = backprop::pipeline::Hooks {
        observer: Some(&mut observer),
        ..Default::default()
    };
    let out = prepared.run(hooks)?;
    let history = out.history.check()?;
    Ok((
        Fitted {
            model: out.model,
            state: Some(out.state),
        },
        history,
    ))
}

/// The per-epoch record as a dict of lists, and the ending.
fn history_dict<'py>(py: Python<'py>, h: &History) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let train: Vec<f32> = h.epochs.iter().map(|r| r.train.loss).collect();
    d.set_item("loss", train)?;
    let val = |f: fn(&backprop::train::Metrics) -> Option<f32>| -> Vec<Option<f32>> {
        h.epochs
            .iter()
            .map(|r| r.val.as_ref().and_then(f))
            .collect()
    };
    d.set_item("val_loss", val(|m| Some(m.loss)))?;
    d.set_item("val_accuracy", val(|m| m.accuracy))?;
    d.set_item("val_r2", val(|m| m.r2))?;
    d.set_item("best_epoch", h.best_epoch)?;
    d.set_item("restored_best", h.restored_best)?;
    let stop = match h.stop {
        StopReason::Completed => "completed",
        StopReason::EarlyStopping => "early_stopping",
        StopReason::TargetLoss => "target_loss",
        StopReason::Callback | StopReason::Interrupted { .. } => "interrupted",
        StopReason::NonFiniteLoss { .. } => "non_finite_loss",
        StopReason::Diverged { .. } => "diverged",
    };
    d.set_item("stop", stop)?;
    Ok(d)
}

/// Targets from either class indices with their names or a value matrix.
fn targets(
    labels: Option<PyReadonlyArray1<'_, i64>>,
    class_names: Option<Vec<String>>,
    values: Option<PyReadonlyArray2<'_, f32>>,
) -> PyResult<Targets> {
    match (labels, class_names, values) {
        (Some(l), Some(names), None) => {
            let l = l
                .as_slice()
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            let labels = l
                .iter()
                .map(|&v| u32::try_from(v).unwrap_or(u32::MAX))
                .collect();
            Ok(Targets::Classes { labels, names })
        }
        (None, None, Some(v)) => {
            let k = v.shape()[1];
            let data = v
                .as_slice()
                .map_err(|e| PyValueError::new_err(e.to_string()))?
                .to_vec();
            let names = (0..k).map(|j| format!("y{j}")).collect();
            Ok(Targets::Values { data, names })
        }
        _ => Err(PyValueError::new_err(
            "give labels with class_names, or values",
        )),
    }
}

/// Trains and returns `(Fitted, history dict, interrupted)`. `config` is the JSON of
/// [`Config`]; `mode` is `fresh`, `warm` or `partial`; `prev` the fitted model to go on from.
#[pyfunction]
#[pyo3(signature = (x, config, mode, labels=None, class_names=None, values=None, sample_weight=None, feature_names=None, prev=None, verbose=false, n_threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn train<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    config: &str,
    mode: &str,
    labels: Option<PyReadonlyArray1<'py, i64>>,
    class_names: Option<Vec<String>>,
    values: Option<PyReadonlyArray2<'py, f32>>,
    sample_weight: Option<PyReadonlyArray1<'py, f32>>,
    feature_names: Option<Vec<String>>,
    prev: Option<PyRef<'py, Fitted>>,
    verbose: bool,
    n_threads: Option<usize>,
) -> PyResult<(Fitted, Bound<'py, PyDict>, bool)> {
    let cfg: Config =
        serde_json::from_str(config).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mode = match mode {
        "fresh" => Mode::Fresh,
        "warm" => Mode::Warm,
        "partial" => Mode::Partial,
        m => return Err(PyValueError::new_err(format!("unknown mode {m:?}"))),
    };
    let weights = match sample_weight {
        Some(w) => Some(
            w.as_slice()
                .map_err(|e| PyValueError::new_err(e.to_string()))?
                .to_vec(),
        ),
        None => None,
    };
    let data = Data {
        x: x.as_slice()
            .map_err(|e| PyValueError::new_err(e.to_string()))?
            .to_vec(),
        d: x.shape()[1],
        targets: targets(labels, class_names, values)?,
        weights,
        feature_names,
    };
    let prev = prev.as_deref();
    let mut watch = Watch {
        verbose,
        error: None,
    };
    let threads = backprop::num_threads();
    if let Some(n) = n_threads {
        backprop::set_num_threads(n);
    }
    let result = py.allow_threads(|| fit(&cfg, data, prev, mode, &mut watch));
    backprop::set_num_threads(threads);
    let (fitted, history) = result.map_err(value_error)?;
    let interrupted = match watch.error {
        Some(e) if e.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) => true,
        Some(e) => return Err(e),
        None => false,
    };
    let h = history_dict(py, &history)?;
    Ok((fitted, h, interrupted))
}
