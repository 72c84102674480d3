//! The training loop: full-batch, online (batch 1) or mini-batch gradient descent over epochs.
//!
//! Each epoch shuffles the samples with the run's seeded generator (unless `shuffle` is off),
//! then for each batch records forward + loss on a graph, backpropagates, optionally clips, and
//! lets the optimizer step. After each epoch the validation set (if any) is evaluated without
//! recording, the [`EpochReport`] goes to the caller's callback, and the stopping rules run:
//! early stopping on the monitored loss (validation if present, else training) with patience and
//! restore-best, a target loss, or the callback asking to stop. The library prints nothing.
//!
//! A NaN or infinite loss stops training with [`Error::NonFiniteLoss`]; the parameters are
//! restored to their values at the end of the last complete epoch (the last good weights).

mod ensemble;
mod metrics;

pub use ensemble::Ensemble;
pub use metrics::Metrics;
pub(crate) use metrics::Readout;

use crate::autograd::{Graph, Tape};
use crate::data::{split, Dataset, SplitSizes};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::params::Parameters;
use crate::rng::Rng;
use metrics::Accumulator;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Mixed into the seed for the validation split, so it does not share the shuffling stream.
const VAL_SPLIT_STREAM: u64 = 0x7661_6c5f_7370_6c74; // "val_splt"

/// Early stopping: stop when the monitored loss has not improved by more than `min_delta` for
/// `patience` epochs (Keras' `EarlyStopping`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f32,
    /// Whether to restore the parameters of the best epoch when stopping (and at the end).
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Patience `p`, `min_delta` 0, restore-best on.
    pub fn new(patience: usize) -> EarlyStopping {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The loss to minimise.
    pub loss: Loss,
    /// Number of epochs (full passes over the training set).
    pub epochs: usize,
    /// Samples per update: 1 = online, 0 = the whole set (full batch). Default 32, as Keras.
    pub batch_size: usize,
    /// Whether to reshuffle the samples every epoch (seeded).
    pub shuffle: bool,
    /// Seed of the run's generator (shuffling, dropout).
    pub seed: u64,
    /// Fraction of the training set held out for validation when no validation set is given
    /// (stratified for classes, drawn with a generator seeded from `seed`). 0 = none.
    pub val_split: f32,
    /// Early stopping, if wanted.
    pub early_stopping: Option<EarlyStopping>,
    /// Stop once the monitored loss is at or below this.
    pub target_loss: Option<f32>,
    /// Clip the global gradient norm to this before each step.
    pub clip_grad_norm: Option<f32>,
    /// Clamp every gradient element into ±this before each step.
    pub clip_grad_value: Option<f32>,
}

impl TrainConfig {
    /// A configuration with the given loss and the defaults: 20 epochs, batch 32, shuffling, seed 0.
    pub fn new(loss: Loss) -> TrainConfig {
        TrainConfig {
            loss,
            epochs: 20,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            val_split: 0.0,
            early_stopping: None,
            target_loss: None,
            clip_grad_norm: None,
            clip_grad_value: None,
        }
    }
}

/// What happened in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Metrics accumulated over the epoch's batches (as Keras reports them).
    pub train: Metrics,
    /// Metrics on the validation set after the epoch.
    pub val: Option<Metrics>,
    /// The learning rate used.
    pub lr: f32,
    /// Wall time of the epoch in seconds.
    pub seconds: f64,
}

/// Why training stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// All epochs ran.
    Completed,
    /// Early stopping ran out of patience.
    EarlyStopping,
    /// The target loss was reached.
    TargetLoss,
    /// The callback asked to stop.
    Callback,
}

/// The per-epoch record of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// One report per epoch run (including any before a resume).
    pub epochs: Vec<EpochReport>,
    /// Why the run ended.
    pub stop: StopReason,
    /// The best epoch by the monitored loss (1-based).
    pub best_epoch: Option<usize>,
}

/// Everything needed to continue a run exactly: saved in checkpoints.
#[derive(Clone, Debug)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: usize,
    /// The run's generator, positioned at the start of the next epoch.
    pub rng: Rng,
    /// Reports so far.
    pub history: Vec<EpochReport>,
    /// Best monitored loss and its epoch.
    pub best: Option<(f32, usize)>,
    /// Parameters of the best epoch (kept when early stopping restores the best).
    pub best_params: Option<Parameters>,
    /// Epochs since the last improvement.
    pub bad_epochs: usize,
}

impl TrainState {
    /// The state of a run that has not started.
    pub fn new(seed: u64) -> TrainState {
        TrainState {
            epoch: 0,
            rng: Rng::seed(seed),
            history: vec![],
            best: None,
            best_params: None,
            bad_epochs: 0,
        }
    }
}

/// What the callback sees.
pub enum Event<'a> {
    /// A batch finished.
    Batch {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// Batches per epoch.
        batches: usize,
        /// This batch's loss.
        loss: f32,
        /// Samples processed so far in this epoch.
        samples: usize,
        /// Accuracy over this epoch's batches so far (classifiers only).
        accuracy: Option<f32>,
    },
    /// An epoch finished; the state is what a checkpoint saves.
    Epoch {
        /// The epoch's report.
        report: &'a EpochReport,
        /// The run's state after the epoch.
        state: &'a TrainState,
        /// The parameters after the epoch.
        params: &'a Parameters,
        /// The optimizer after the epoch.
        optimizer: &'a dyn Optimizer,
    },
}

/// The callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop after this event.
    Stop,
}

/// How targets enter the graph for a given loss and dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Indices,
    OneHot(usize),
    Values(usize),
}

fn plan(loss: Loss, data: &Dataset, out: usize) -> Result<(Encoding, Readout)> {
    match (data.num_classes(), loss.takes_classes()) {
        (Some(k), true) if out == k => Ok((Encoding::Indices, Readout::Argmax)),
        (Some(k), true) => Err(Error::invalid(
            "output width",
            out,
            if k > 0 {
                "one output per class"
            } else {
                "classes"
            },
        )),
        (None, true) => Err(Error::invalid(
            "loss",
            loss,
            "a regression loss for regression targets (not cross_entropy or hinge)",
        )),
        (Some(k), false) if out == 1 && k <= 2 => Ok((
            Encoding::Values(1),
            Readout::Threshold(if loss == Loss::BceWithLogits { 0 } else { 1 }),
        )),
        (Some(k), false) if out == k => Ok((Encoding::OneHot(k), Readout::Argmax)),
        (Some(_), false) => Err(Error::invalid(
            "output width",
            out,
            "1 (binary) or one output per class",
        )),
        (None, false) if out == data.target_width() => Ok((Encoding::Values(out), Readout::Values)),
        (None, false) => Err(Error::invalid(
            "output width",
            out,
            "one output per regression target",
        )),
    }
}

fn fill_targets(
    data: &Dataset,
    idx: &[usize],
    enc: Encoding,
    buf: &mut [f32],
    truth: &mut Vec<f32>,
) {
    truth.resize(idx.len() * data.target_width(), 0.0);
    data.gather_targets(idx, truth);
    match enc {
        Encoding::Indices | Encoding::Values(_) => buf.copy_from_slice(truth),
        Encoding::OneHot(k) => {
            buf.fill(0.0);
            for (r, &c) in truth.iter().enumerate() {
                buf[r * k + c as usize] = 1.0;
            }
        }
    }
}

fn target_shape(enc: Encoding, m: usize) -> Vec<usize> {
    match enc {
        Encoding::Indices => vec![m],
        Encoding::OneHot(k) | Encoding::Values(k) => vec![m, k],
    }
}

/// The targets of samples `idx` as the loss expects them for a network with `out_features`
/// outputs: class indices, one-hot rows, or values.
pub fn encode_targets(
    loss: Loss,
    data: &Dataset,
    out_features: usize,
    idx: &[usize],
) -> Result<crate::tensor::Tensor> {
    let (enc, _) = plan(loss, data, out_features)?;
    let shape = target_shape(enc, idx.len());
    let mut buf = vec![0.0; shape.iter().product()];
    fill_targets(data, idx, enc, &mut buf, &mut vec![]);
    crate::tensor::Tensor::from_vec(buf, shape.as_slice())
}

/// Evaluates `model` on `data` without recording: loss and metrics.
pub fn evaluate(
    model: &dyn Module,
    params: &Parameters,
    loss: Loss,
    data: &Dataset,
    out_features: usize,
) -> Result<Metrics> {
    let mut tape = Tape::new();
    evaluate_with(&mut tape, model, params, loss, data, out_features)
}

fn evaluate_with(
    tape: &mut Tape,
    model: &dyn Module,
    params: &Parameters,
    loss: Loss,
    data: &Dataset,
    out: usize,
) -> Result<Metrics> {
    let (enc, readout) = plan(loss, data, out)?;
    let mut acc = Accumulator::default();
    let mut truth = vec![];
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(1024) {
        let mut g = Graph::no_grad(tape, params);
        let x = g.input_with([chunk.len(), data.n_features()], |b| {
            data.gather_features(chunk, b)
        });
        let t = g.input_with(target_shape(enc, chunk.len()).as_slice(), |b| {
            fill_targets(data, chunk, enc, b, &mut truth)
        });
        let y = model.forward(&mut g, x)?;
        let l = loss.apply(&mut g, y, t);
        acc.add(g.value(l).item(), g.value(y).data(), out, &truth, readout);
    }
    Ok(acc.finish(readout))
}

/// Trains `model` (whose parameters are `params`) on `train`, from scratch.
///
/// `out_features` is the width of the model's output. See the module docs for the loop.
#[allow(clippy::too_many_arguments)]
pub fn fit(
    model: &dyn Module,
    params: &mut Parameters,
    out_features: usize,
    opt: &mut dyn Optimizer,
    train: &Dataset,
    val: Option<&Dataset>,
    cfg: &TrainConfig,
    callback: &mut dyn FnMut(Event) -> Control,
) -> Result<History> {
    fit_from(
        TrainState::new(cfg.seed),
        model,
        params,
        out_features,
        opt,
        train,
        val,
        cfg,
        callback,
    )
}

/// Continues a run from a saved [`TrainState`] (see [`fit`]).
#[allow(clippy::too_many_arguments)]
pub fn fit_from(
    mut state: TrainState,
    model: &dyn Module,
    params: &mut Parameters,
    out_features: usize,
    opt: &mut dyn Optimizer,
    train: &Dataset,
    val: Option<&Dataset>,
    cfg: &TrainConfig,
    callback: &mut dyn FnMut(Event) -> Control,
) -> Result<History> {
    let held_out;
    let (train, val) = match val {
        None if cfg.val_split > 0.0 => {
            let mut rng = Rng::seed(cfg.seed ^ VAL_SPLIT_STREAM);
            let (t, v, _) = split(
                train,
                SplitSizes::Fractions {
                    val: cfg.val_split,
                    test: 0.0,
                },
                &mut rng,
            )?;
            held_out = (t, v);
            (&held_out.0, Some(&held_out.1))
        }
        _ => (train, val),
    };
    let (enc, readout) = plan(cfg.loss, train, out_features)?;
    if train.is_empty() {
        return Err(Error::invalid("training set", 0, "at least one sample"));
    }
    let n = train.len();
    let bs = if cfg.batch_size == 0 {
        n
    } else {
        cfg.batch_size.min(n)
    };
    let batches = n.div_ceil(bs);
    let mut order: Vec<usize> = (0..n).collect();
    let (mut tape, mut acc, mut truth) = (Tape::new(), Accumulator::default(), vec![]);
    let mut snapshot = params.clone();
    let mut stop = StopReason::Completed;

    while state.epoch < cfg.epochs {
        let epoch = state.epoch + 1;
        let start = Instant::now();
        let mut rng = state.rng.clone();
        if cfg.shuffle {
            order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
            rng.shuffle(&mut order);
        }
        tape.set_rng(rng);
        acc.reset();
        for (b, idx) in order.chunks(bs).enumerate() {
            let m = idx.len();
            let mut g = Graph::new(&mut tape, params);
            let x = g.input_with([m, train.n_features()], |buf| {
                train.gather_features(idx, buf)
            });
            let t = g.input_with(target_shape(enc, m).as_slice(), |buf| {
                fill_targets(train, idx, enc, buf, &mut truth)
            });
            let y = model.forward(&mut g, x)?;
            let l = cfg.loss.apply(&mut g, y, t);
            let lv = g.value(l).item();
            if !lv.is_finite() {
                *params = snapshot;
                return Err(Error::NonFiniteLoss {
                    value: lv,
                    epoch,
                    batch: b + 1,
                });
            }
            acc.add(lv, g.value(y).data(), out_features, &truth, readout);
            let mut grads = g.backward(l);
            if let Some(c) = cfg.clip_grad_value {
                grads.clip_grad_value(c);
            }
            if let Some(c) = cfg.clip_grad_norm {
                grads.clip_grad_norm(c);
            }
            opt.step(params, &grads);
            let ev = Event::Batch {
                epoch,
                batch: b + 1,
                batches,
                loss: lv,
                samples: (b * bs + m).min(n),
                accuracy: acc.running_accuracy(readout),
            };
            if callback(ev) == Control::Stop {
                stop = StopReason::Callback;
            }
            if stop == StopReason::Callback {
                break;
            }
        }
        state.rng = tape
            .take_rng()
            .expect("internal error: the tape lost the run's generator");
        let train_metrics = acc.finish(readout);
        let val_metrics = match val {
            Some(v) => Some(evaluate_with(
                &mut tape,
                model,
                params,
                cfg.loss,
                v,
                out_features,
            )?),
            None => None,
        };
        let monitored = val_metrics.as_ref().map_or(train_metrics.loss, |m| m.loss);
        if !monitored.is_finite() {
            *params = snapshot;
            return Err(Error::NonFiniteLoss {
                value: monitored,
                epoch,
                batch: batches,
            });
        }
        let report = EpochReport {
            epoch,
            train: train_metrics,
            val: val_metrics,
            lr: opt.lr(),
            seconds: start.elapsed().as_secs_f64(),
        };
        state.epoch = epoch;
        state.history.push(report.clone());
        let min_delta = cfg.early_stopping.map_or(0.0, |e| e.min_delta);
        if state.best.is_none_or(|(b, _)| monitored < b - min_delta) {
            state.best = Some((monitored, epoch));
            state.bad_epochs = 0;
            if cfg.early_stopping.is_some_and(|e| e.restore_best) {
                state.best_params = Some(params.clone());
            }
        } else {
            state.bad_epochs += 1;
        }
        snapshot.clone_from(params);
        let ev = Event::Epoch {
            report: &report,
            state: &state,
            params,
            optimizer: opt,
        };
        if callback(ev) == Control::Stop {
            stop = StopReason::Callback;
        }
        if stop == StopReason::Callback {
            break;
        }
        if cfg.target_loss.is_some_and(|t| monitored <= t) {
            stop = StopReason::TargetLoss;
            break;
        }
        if cfg
            .early_stopping
            .is_some_and(|e| state.bad_epochs >= e.patience)
        {
            stop = StopReason::EarlyStopping;
            break;
        }
    }
    if let (Some(e), Some(best)) = (cfg.early_stopping, state.best_params.as_ref()) {
        if e.restore_best {
            params.clone_from(best);
        }
    }
    Ok(History {
        epochs: state.history,
        stop,
        best_epoch: state.best.map(|(_, e)| e),
    })
}
