//! [`Trainer::fit`]: the epoch loop (see the [module docs](super)).

use super::distributed::{GradientReduce, Shard, Sync};
use super::targets::{fill_targets, plan, target_shape, Encoding};
use super::{Control, EpochReport, Event, History, Monitor, StopReason, TrainState, Trainer};
use crate::autograd::{Graph, Tape, Var};
use crate::data::{split, Dataset, SplitSizes};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::{backward_step, AnyOptimizer, Lbfgs, LearningRate, LossAndGrads, LrScheduler};
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use crate::tensor::{set_precision, Precision, Tensor};
use crate::train::metrics::Accumulator;
use crate::train::Metrics;
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
use std::time::Instant;

/// wasm32-unknown-unknown has no clock (`std::time::Instant::now` panics there): in a browser
/// build, epochs are timed as 0 s.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
struct Instant;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
impl Instant {
    fn now() -> Instant {
        Instant
    }
    fn elapsed(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// Mixed into the seed for the validation split, so it does not share the shuffling stream.
const VAL_SPLIT_STREAM: u64 = 0x7661_6c5f_7370_6c74; // "val_splt"

/// A loss this many times the first batch's (or above [`DIVERGED_ABS`]) counts as diverged.
const DIVERGED_FACTOR: f32 = 1e6;
const DIVERGED_ABS: f32 = 1e30;

/// The optional parts of a [`Trainer::fit_with`] call.
#[derive(Default)]
pub struct Fit<'a> {
    /// A validation set (otherwise `validation_split` of the training set, if set).
    pub validation: Option<&'a Dataset>,
    /// A saved state to continue from (a checkpoint's), instead of a fresh run.
    pub resume: Option<TrainState>,
    /// Called after every batch and epoch; may change the optimizer or stop the run.
    pub callback: Option<&'a mut dyn FnMut(Event) -> Control>,
    /// Checked after every batch: once set, the run stops (e.g. from a SIGINT handler).
    pub stop: Option<&'a AtomicBool>,
    /// Data-parallel training: this process trains on its share of every batch and the
    /// gradients are summed over processes here (see [`GradientReduce`]).
    pub gradient_reduce: Option<&'a mut dyn GradientReduce>,
}

impl Trainer {
    /// Trains `model` (whose parameters are `params`) on `train` from scratch.
    pub fn fit(
        &self,
        model: &dyn Module,
        params: &mut Parameters,
        train: &Dataset,
    ) -> Result<History> {
        self.fit_with(model, params, train, Fit::default())
    }

    /// Trains with a validation set, a state to resume from, a callback or a stop flag.
    pub fn fit_with(
        &self,
        model: &dyn Module,
        params: &mut Parameters,
        train: &Dataset,
        mut fit: Fit,
    ) -> Result<History> {
        model.check_trainable()?;
        let _precision = PrecisionScope::set(self.precision);
        if let Some(w) = &self.class_weights {
            let k = train.num_classes();
            if self.loss != Loss::CrossEntropy
                || k != Some(w.len())
                || w.iter().any(|v| v.is_nan() || *v < 0.0)
            {
                return Err(Error::invalid(
                    "class weights",
                    format!("{} weights, loss {}, {:?} classes", w.len(), self.loss, k),
                    "one non-negative weight per class, with cross_entropy",
                ));
            }
        }
        let held_out;
        let (train, val) = match fit.validation {
            None if self.validation_split > 0.0 => {
                let mut rng = Rng::seed(self.seed ^ VAL_SPLIT_STREAM);
                let sizes = SplitSizes::Fractions {
                    val: self.validation_split,
                    test: 0.0,
                };
                let (t, v, _) = split(train, sizes, &mut rng)?;
                held_out = (t, v);
                (&held_out.0, Some(&held_out.1))
            }
            v => (train, v),
        };
        if train.is_empty() {
            return Err(Error::invalid("training set", 0, "at least one sample"));
        }
        let mut opt = self.optimizer.build()?;
        let fresh = fit.resume.is_none();
        let mut state = fit
            .resume
            .take()
            .unwrap_or_else(|| TrainState::new(self.seed));
        if !state.optimizer_state.is_empty() {
            opt.load_state_checked(params, &state.optimizer_state)?;
        }
        if let Some(lr) = state.lr {
            opt.set_lr(lr);
        }
        let mut schedule = state.schedule.clone().or_else(|| self.lr_schedule.clone());
        if fresh {
            if let Some(s) = &mut schedule {
                s.start(&mut opt);
            }
        }
        let mut tape = Tape::new();
        tape.set_frozen(&self.frozen(model, params)?);
        let mut run = Run {
            cfg: self,
            model,
            train,
            val,
            tape,
            stop_flag: fit.stop,
            sync: fit.gradient_reduce.map(Sync::new),
        };
        let mut nothing = |_: Event| Control::Continue;
        let callback: &mut dyn FnMut(Event) -> Control = match fit.callback {
            Some(c) => c,
            None => &mut nothing,
        };
        run.epochs(&mut state, params, &mut opt, &mut schedule, callback)
    }

    /// The ids of every frozen parameter: the model's own and those named in `freeze`.
    fn frozen(&self, model: &dyn Module, params: &Parameters) -> Result<Vec<ParamId>> {
        let mut ids = model.frozen();
        for name in &self.freeze {
            ids.push(params.find(name).ok_or_else(|| {
                Error::invalid(
                    "freeze",
                    name,
                    "the state-dict name of a parameter, e.g. layers.0.bias",
                )
            })?);
        }
        Ok(ids)
    }
}

/// THE place where the trainer decides whether each update is applied inside backward
/// ([`backward_step`]) or after it: only when that gives the same bytes — the trainer
/// allows it ([`Trainer::optimizer_in_backward`]) and nothing transforms the gradients between
/// backward and the step (clipping here; any gradient hook, e.g. an all-reduce between
/// processes, must also make this false). Every gradient optimizer updates each parameter on its
/// own ([`crate::optim::Optimizer`]), so any of them may.
fn optimizer_in_backward(cfg: &Trainer) -> bool {
    cfg.optimizer_in_backward && cfg.clip_grad_value.is_none() && cfg.clip_grad_norm.is_none()
}

/// The trainer's product precision on this thread for the duration of a fit; the previous one
/// is restored on every way out.
struct PrecisionScope(Precision);

impl PrecisionScope {
    fn set(p: Precision) -> PrecisionScope {
        PrecisionScope(set_precision(p))
    }
}

impl Drop for PrecisionScope {
    fn drop(&mut self) {
        set_precision(self.0);
    }
}

struct Run<'a> {
    cfg: &'a Trainer,
    model: &'a dyn Module,
    train: &'a Dataset,
    val: Option<&'a Dataset>,
    tape: Tape,
    stop_flag: Option<&'a AtomicBool>,
    sync: Option<Sync<'a>>,
}

impl Run<'_> {
    fn epochs(
        &mut self,
        state: &mut TrainState,
        params: &mut Parameters,
        opt: &mut AnyOptimizer,
        schedule: &mut Option<crate::optim::LrSchedule>,
        callback: &mut dyn FnMut(Event) -> Control,
    ) -> Result<History> {
        let cfg = self.cfg;
        let mut snapshot = params.clone();
        let mut stop = StopReason::Completed;
        while state.epoch < cfg.epochs {
            let epoch = state.epoch + 1;
            let start = Instant::now();
            let lr = opt.lr();
            let train_metrics = match self.epoch(epoch, state, params, opt, callback)? {
                Ok(m) => m,
                Err(reason) => {
                    stop = reason;
                    if matches!(
                        reason,
                        StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. }
                    ) {
                        params.clone_from(&snapshot);
                    }
                    break;
                }
            };
            let val_metrics = match self.val {
                Some(v) => Some(evaluate_with(
                    &mut self.tape,
                    self.model,
                    params,
                    cfg.loss,
                    v,
                )?),
                None => None,
            };
            let monitored = match (cfg.early_stopping.map(|e| e.monitor), &val_metrics) {
                (Some(Monitor::Loss), _) | (_, None) => train_metrics.loss,
                (_, Some(v)) => v.loss,
            };
            if !monitored.is_finite() {
                params.clone_from(&snapshot);
                stop = StopReason::NonFiniteLoss {
                    value: monitored,
                    epoch,
                    batch: 0,
                };
                break;
            }
            let report = EpochReport {
                epoch,
                train: train_metrics,
                val: val_metrics,
                lr,
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
            if let Some(s) = schedule.as_mut() {
                s.step(opt, Some(monitored));
            }
            state.schedule = schedule.clone();
            state.optimizer_state = opt.state();
            state.lr = Some(opt.lr());
            snapshot.clone_from(params);
            let ev = Event::Epoch {
                report: &report,
                state,
                params,
                optimizer: opt,
            };
            let mut answer = callback(ev);
            if let Some(s) = &mut self.sync {
                if s.any([answer == Control::Stop])?[0] {
                    answer = Control::Stop;
                }
            }
            state.lr = Some(opt.lr());
            if answer == Control::Stop {
                stop = StopReason::Callback;
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
        let restore = cfg.early_stopping.is_some_and(|e| e.restore_best);
        let mut restored_best = false;
        if let (true, Some(best)) = (restore, state.best_params.as_ref()) {
            params.clone_from(best);
            restored_best = true;
        }
        Ok(History {
            epochs: state.history.clone(),
            stop,
            best_epoch: state.best.map(|(_, e)| e),
            restored_best,
        })
    }

    /// One pass over the training set; `Ok(Err(cut))` when it ended early.
    fn epoch(
        &mut self,
        epoch: usize,
        state: &mut TrainState,
        params: &mut Parameters,
        opt: &mut AnyOptimizer,
        callback: &mut dyn FnMut(Event) -> Control,
    ) -> Result<std::result::Result<Metrics, StopReason>> {
        let opt = match opt {
            AnyOptimizer::Lbfgs(lbfgs) => {
                return self.lbfgs_epoch(epoch, state, params, lbfgs, callback)
            }
            AnyOptimizer::Gradient(opt) => &mut **opt,
        };
        let (cfg, train) = (self.cfg, self.train);
        let out = train_width(self.model, params, train)?;
        let (enc, readout) = plan(cfg.loss, train, out)?;
        let n = train.len();
        let bs = if cfg.batch_size == 0 {
            n
        } else {
            cfg.batch_size.min(n)
        };
        let batches = n.div_ceil(bs);
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = state.rng.clone();
        if cfg.shuffle {
            rng.shuffle(&mut order);
        }
        self.tape.set_rng(rng);
        let (mut acc, mut truth) = (Accumulator::default(), vec![]);
        // (never with a gradient all-reduce: the sum must be complete before any step)
        let fused = optimizer_in_backward(cfg) && self.sync.is_none();
        for (b, batch) in order.chunks(bs).enumerate() {
            let m = batch.len();
            let shard = match &self.sync {
                Some(s) => s.shard(batch, cfg.loss),
                None => Shard::whole(batch),
            };
            let mut g = Graph::new(&mut self.tape, params);
            let (y, l) = record_loss(&mut g, self.model, cfg, train, shard.idx, enc, &mut truth)?;
            let mut lv = g.value(l).item();
            if let Some(f) = shard.metric_scale {
                acc.add(lv * f, g.value(y).data(), out, &truth, readout);
            }
            if fused {
                if let Some(reason) =
                    bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, b + 1)
                {
                    self.tape.take_rng();
                    return Ok(Err(reason));
                }
                state.first_loss.get_or_insert(lv);
                // (the graph's borrow of `params` ends here)
                backward_step(&mut self.tape, l, params, opt)?;
            } else {
                let mut grads = g.backward(l);
                if let Some(s) = &mut self.sync {
                    lv = s.reduce_batch(params, &mut grads, lv, &shard)?;
                }
                if let Some(reason) =
                    bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, b + 1)
                {
                    self.tape.take_rng();
                    return Ok(Err(reason));
                }
                state.first_loss.get_or_insert(lv);
                if let Some(c) = cfg.clip_grad_value {
                    grads.clip_grad_value(c);
                }
                if let Some(c) = cfg.clip_grad_norm {
                    grads.clip_grad_norm(c);
                }
                opt.step(params, &grads);
            }
            self.tape.update_running_stats(params);
            let ev = Event::Batch {
                epoch,
                batch: b + 1,
                batches,
                loss: lv,
                samples: (b * bs + m).min(n),
                accuracy: acc.running_accuracy(readout),
            };
            let mut stop = callback(ev) == Control::Stop;
            let mut flagged = self.stop_flag.is_some_and(|f| f.load(Ordering::Relaxed));
            if let Some(s) = &mut self.sync {
                [stop, flagged] = s.any([stop, flagged])?;
            }
            if stop || flagged {
                self.tape.take_rng();
                return Ok(Err(if flagged {
                    StopReason::Interrupted { epoch }
                } else {
                    StopReason::Callback
                }));
            }
        }
        state.rng = self
            .tape
            .take_rng()
            .expect("internal error: the tape lost the run's generator");
        if let Some(s) = &mut self.sync {
            s.end_epoch(&mut acc, out, params, epoch)?;
        }
        Ok(Ok(acc.finish(readout)))
    }
}

impl Run<'_> {
    /// One L-BFGS epoch: one [`Lbfgs::step_closure`] on the whole training set — the batch size
    /// and shuffling do not apply — each evaluation recorded by the batch loop's own
    /// [`record_loss`] (so frozen parameters get no gradient, passed on as zeros, and stay put;
    /// class weights apply). The epoch reports the metrics of its first evaluation, at the
    /// parameters it started from, as a full batch does. Gradient clipping is refused: the line
    /// search needs the true gradient.
    fn lbfgs_epoch(
        &mut self,
        epoch: usize,
        state: &mut TrainState,
        params: &mut Parameters,
        opt: &mut Lbfgs,
        callback: &mut dyn FnMut(Event) -> Control,
    ) -> Result<std::result::Result<Metrics, StopReason>> {
        let (cfg, train, model) = (self.cfg, self.train, self.model);
        if cfg.clip_grad_norm.is_some() || cfg.clip_grad_value.is_some() {
            return Err(Error::invalid(
                "gradient clipping",
                "with lbfgs",
                "no clipping with lbfgs: its line search needs the true gradient",
            ));
        }
        let out = train_width(model, params, train)?;
        let (enc, readout) = plan(cfg.loss, train, out)?;
        let all: Vec<usize> = (0..train.len()).collect();
        let mut truth = vec![];
        let mut first: Option<(f32, Accumulator)> = None;
        self.tape.set_rng(state.rng.clone());
        let (tape, sync) = (&mut self.tape, &mut self.sync);
        let shard = match sync {
            Some(s) => s.shard(&all, cfg.loss),
            None => Shard::whole(&all),
        };
        let mut f = |p: &Parameters| -> Result<LossAndGrads> {
            let mut g = Graph::new(tape, p);
            let (y, l) = record_loss(&mut g, model, cfg, train, shard.idx, enc, &mut truth)?;
            let mut lv = g.value(l).item();
            let mut acc = Accumulator::default();
            if let (None, Some(f)) = (&first, shard.metric_scale) {
                acc.add(lv * f, g.value(y).data(), out, &truth, readout);
            }
            let grads = g.backward(l);
            let zeros = |id: ParamId| Tensor::zeros(*p[id].shape());
            let gs = p
                .ids()
                .map(|id| grads.get(id).cloned().unwrap_or_else(|| zeros(id)));
            let mut gs: Vec<Tensor> = gs.collect();
            if let Some(s) = sync.as_mut() {
                lv = s.reduce_list(&mut gs, lv, &shard)?;
            }
            first.get_or_insert((lv, acc));
            Ok((lv, gs))
        };
        let result = opt.step_closure(params, &mut f);
        state.rng = self
            .tape
            .take_rng()
            .expect("internal error: the tape lost the run's generator");
        result?;
        // batch norm: the running statistics move once per epoch, by the last evaluation's
        // batch statistics (PyTorch's LBFGS moves them at every closure call)
        self.tape.update_running_stats(params);
        let (lv, mut acc) = first.expect("internal error: L-BFGS evaluates the loss at least once");
        if let Some(reason) = bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, 1) {
            return Ok(Err(reason));
        }
        if let Some(s) = &mut self.sync {
            s.end_epoch(&mut acc, out, params, epoch)?;
        }
        state.first_loss.get_or_insert(lv);
        let ev = Event::Batch {
            epoch,
            batch: 1,
            batches: 1,
            loss: lv,
            samples: train.len(),
            accuracy: acc.running_accuracy(readout),
        };
        let mut stop = callback(ev) == Control::Stop;
        let mut flagged = self.stop_flag.is_some_and(|f| f.load(Ordering::Relaxed));
        if let Some(s) = &mut self.sync {
            [stop, flagged] = s.any([stop, flagged])?;
        }
        if stop || flagged {
            return Ok(Err(if flagged {
                StopReason::Interrupted { epoch }
            } else {
                StopReason::Callback
            }));
        }
        Ok(Ok(acc.finish(readout)))
    }
}

/// Records the forward pass and the loss of the samples `idx` on `g`, returning (output, loss):
/// the graph of a batch, and of each L-BFGS evaluation.
fn record_loss(
    g: &mut Graph,
    model: &dyn Module,
    cfg: &Trainer,
    data: &Dataset,
    idx: &[usize],
    enc: Encoding,
    truth: &mut Vec<f32>,
) -> Result<(Var, Var)> {
    let m = idx.len();
    let x = g.input_with([m, data.n_features()], |buf| data.gather_features(idx, buf));
    let t = g.input_with(target_shape(enc, m).as_slice(), |buf| {
        fill_targets(data, idx, enc, buf, truth)
    });
    let (_, y) = model.forward_for_loss(g, x, cfg.loss)?;
    let l = match &cfg.class_weights {
        Some(w) => {
            let k = w.len();
            let wt = g.input_with([m, k], |buf| weighted_onehot(truth, w, buf));
            Loss::weighted_cross_entropy(g, y, wt)
        }
        None => cfg.loss.apply(g, y, t),
    };
    Ok((y, l))
}

/// One-hot rows of the class indices in `truth`, each scaled by its class's weight.
fn weighted_onehot(truth: &[f32], w: &[f32], buf: &mut [f32]) {
    let k = w.len();
    buf.fill(0.0);
    for (r, &c) in truth.iter().enumerate() {
        buf[r * k + c as usize] = w[c as usize];
    }
}

/// Whether a batch loss ends the run: NaN/∞, or (when watched) divergence.
fn bad_loss(
    v: f32,
    first: Option<f32>,
    watch: bool,
    epoch: usize,
    batch: usize,
) -> Option<StopReason> {
    if !v.is_finite() {
        return Some(StopReason::NonFiniteLoss {
            value: v,
            epoch,
            batch,
        });
    }
    let first = first.unwrap_or(v);
    let limit = if first.abs() > 0.0 {
        (first.abs() * DIVERGED_FACTOR).min(DIVERGED_ABS)
    } else {
        DIVERGED_ABS
    };
    (watch && v > limit).then_some(StopReason::Diverged {
        value: v,
        first,
        epoch,
        batch,
    })
}

/// The width of the model's output on this data (one forward of one sample, not recorded).
fn train_width(model: &dyn Module, params: &Parameters, data: &Dataset) -> Result<usize> {
    let mut tape = Tape::new();
    let mut g = Graph::no_grad(&mut tape, params);
    let x = g.input_with([1, data.n_features()], |b| data.gather_features(&[0], b));
    let y = model.forward(&mut g, x)?;
    Ok(g.shape(y).last())
}

/// Evaluates `model` on `data` without recording: loss and metrics, as the trainer reports them.
pub fn evaluate(
    model: &dyn Module,
    params: &Parameters,
    loss: Loss,
    data: &Dataset,
) -> Result<Metrics> {
    evaluate_with(&mut Tape::new(), model, params, loss, data)
}

fn evaluate_with(
    tape: &mut Tape,
    model: &dyn Module,
    params: &Parameters,
    loss: Loss,
    data: &Dataset,
) -> Result<Metrics> {
    if data.is_empty() {
        return Err(Error::invalid("evaluation set", 0, "at least one sample"));
    }
    let out = train_width(model, params, data)?;
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
        let (_, y) = model.forward_for_loss(&mut g, x, loss)?;
        let l = loss.apply(&mut g, y, t);
        acc.add(g.value(l).item(), g.value(y).data(), out, &truth, readout);
    }
    Ok(acc.finish(readout))
}
