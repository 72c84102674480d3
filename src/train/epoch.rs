//! One epoch of a [`Session`](super::Session): the batch loop (forward, loss, backward, clip,
//! step) or one L-BFGS step on the whole set, and the stop check both share.

use super::distributed::{Shard, Sync};
use super::metrics::Accumulator;
use super::observer::{notify, Control, Event, Observer};
use super::targets::{fill_targets, plan, target_shape, Encoding};
use super::{Metrics, StopReason, TrainState, Trainer};
use crate::autograd::{Graph, Tape, Var};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::{backward_step, AnyOptimizer, Lbfgs, LossAndGrads};
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// A loss this many times the first batch's (or above [`DIVERGED_ABS`]) counts as diverged.
const DIVERGED_FACTOR: f32 = 1e6;
const DIVERGED_ABS: f32 = 1e30;

/// How an epoch ended: its metrics, or why it was cut short.
type EpochEnd = std::result::Result<Metrics, StopReason>;

/// What an epoch works with: the settings, the model, the data and the hooks of the session.
pub(super) struct Run<'a> {
    pub cfg: &'a Trainer,
    pub model: &'a dyn Module,
    pub train: Cow<'a, Dataset>,
    pub val: Option<Cow<'a, Dataset>>,
    pub tape: Tape,
    pub hooks: Hooks<'a>,
    /// Apply each update inside backward ([`optimizer_in_backward`]), decided once at the start.
    pub fused: bool,
}

/// The session's ways out: an observer, a stop flag, the other processes of a distributed run.
pub(super) struct Hooks<'a> {
    pub observer: Option<&'a mut dyn Observer>,
    pub stop_flag: Option<&'a AtomicBool>,
    pub sync: Option<Sync<'a>>,
}

/// THE place where the trainer decides whether each update is applied inside backward
/// ([`backward_step`]) or after it: only when that gives the same bytes — the trainer allows it
/// ([`Trainer::optimizer_in_backward`]) and nothing transforms the gradients between backward and
/// the step (clipping, or a gradient all-reduce between processes: the sum must be complete
/// before any step). Every gradient optimizer updates each parameter on its own
/// ([`crate::optim::Optimizer`]), so any of them may; L-BFGS never runs a batch loop.
pub(super) fn optimizer_in_backward(cfg: &Trainer, distributed: bool) -> bool {
    cfg.optimizer_in_backward
        && cfg.clip_grad_value.is_none()
        && cfg.clip_grad_norm.is_none()
        && !distributed
}

impl Hooks<'_> {
    /// Whether any process asks to stop (this one's answer when training alone): one agreement
    /// so that no rank is left waiting in a collective.
    pub fn agree_any(&mut self, stop: bool) -> Result<bool> {
        Ok(match &mut self.sync {
            Some(s) => s.any([stop])?[0],
            None => stop,
        })
    }

    /// After every batch, the one check of the batch loop and of L-BFGS: tells the observer,
    /// reads the stop flag, agrees with the other processes; `Some` ends the epoch. With `defer`
    /// (the batch loop of a distributed run) the requests are kept for the next gradient sum,
    /// which agrees on them instead of a collective of their own.
    fn after_batch(&mut self, ev: Event, defer: bool) -> Result<Option<StopReason>> {
        let epoch = match ev {
            Event::Batch { epoch, .. } => epoch,
            Event::Epoch { report, .. } => report.epoch,
        };
        let stop = notify(&mut self.observer, ev) == Control::Stop;
        let flagged = self.stop_flag.is_some_and(|f| f.load(Ordering::Relaxed));
        let agreed = match &mut self.sync {
            Some(s) if defer => {
                s.defer([stop, flagged]);
                return Ok(None);
            }
            Some(s) => s.any([stop, flagged])?,
            None => [stop, flagged],
        };
        Ok(stop_reason(agreed, epoch))
    }
}

/// The run's end for the stop requests [observer, stop flag], the flag first.
fn stop_reason([stop, flagged]: [bool; 2], epoch: usize) -> Option<StopReason> {
    if flagged {
        Some(StopReason::Interrupted { epoch })
    } else if stop {
        Some(StopReason::Callback)
    } else {
        None
    }
}

impl Run<'_> {
    /// One pass over the training set (or one L-BFGS step); `Ok(Err(cut))` when it ended early.
    pub fn epoch(
        &mut self,
        epoch: usize,
        state: &mut TrainState,
        params: &mut Parameters,
        opt: &mut AnyOptimizer,
    ) -> Result<EpochEnd> {
        let opt = match opt {
            AnyOptimizer::Lbfgs(lbfgs) => return self.lbfgs_epoch(epoch, state, params, lbfgs),
            AnyOptimizer::Gradient(opt) => &mut **opt,
        };
        let Run {
            cfg,
            model,
            train,
            tape,
            hooks,
            fused,
            ..
        } = self;
        let (cfg, model, train): (&Trainer, &dyn Module, &Dataset) = (cfg, *model, train);
        let out = train_width(model, params, train)?;
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
        tape.set_rng(rng);
        let (mut acc, mut truth) = (Accumulator::default(), vec![]);
        for (b, batch) in order.chunks(bs).enumerate() {
            let m = batch.len();
            let shard = match &hooks.sync {
                Some(s) => s.shard(batch, cfg.loss),
                None => Shard::whole(batch),
            };
            let mut g = Graph::new(tape, params);
            let (y, l) = record_loss(&mut g, model, cfg, train, shard.idx, enc, &mut truth)?;
            let mut lv = g.value(l).item();
            if let Some(f) = shard.metric_scale {
                acc.add(lv * f, g.value(y).data(), out, &truth, readout);
            }
            if *fused {
                if let Some(reason) =
                    bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, b + 1)
                {
                    tape.take_rng();
                    return Ok(Err(reason));
                }
                state.first_loss.get_or_insert(lv);
                // (the graph's borrow of `params` ends here)
                backward_step(tape, l, params, opt)?;
            } else {
                // a stop raised after the last batch arrives with the sums: no step then
                let (mut grads, stop) = match &mut hooks.sync {
                    Some(s) => {
                        let r = s.backward_reduced(tape, l, params, lv, &shard)?;
                        lv = r.loss;
                        (r.grads, stop_reason(r.stop, epoch))
                    }
                    None => (g.backward(l), None),
                };
                if let Some(reason) = stop.or_else(|| {
                    bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, b + 1)
                }) {
                    tape.take_rng();
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
            tape.update_running_stats(params);
            let ev = Event::Batch {
                epoch,
                batch: b + 1,
                batches,
                loss: lv,
                samples: (b * bs + m).min(n),
                accuracy: acc.running_accuracy(readout),
            };
            if let Some(reason) = hooks.after_batch(ev, true)? {
                tape.take_rng();
                return Ok(Err(reason));
            }
        }
        state.rng = tape
            .take_rng()
            .expect("internal error: the tape lost the run's generator");
        if let Some(s) = &mut hooks.sync {
            let stop = s.end_epoch(&mut acc, out, params, epoch)?;
            return Ok(stop_reason(stop, epoch).map_or_else(|| Ok(acc.finish(readout)), Err));
        }
        Ok(Ok(acc.finish(readout)))
    }

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
    ) -> Result<EpochEnd> {
        let Run {
            cfg,
            model,
            train,
            tape,
            hooks,
            ..
        } = self;
        let (cfg, model, train): (&Trainer, &dyn Module, &Dataset) = (cfg, *model, train);
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
        tape.set_rng(state.rng.clone());
        let sync = &mut hooks.sync;
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
        state.rng = tape
            .take_rng()
            .expect("internal error: the tape lost the run's generator");
        result?;
        // batch norm: the running statistics move once per epoch, by the last evaluation's
        // batch statistics (PyTorch's LBFGS moves them at every closure call)
        tape.update_running_stats(params);
        let (lv, mut acc) = first.expect("internal error: L-BFGS evaluates the loss at least once");
        if let Some(reason) = bad_loss(lv, state.first_loss, cfg.stop_on_divergence, epoch, 1) {
            return Ok(Err(reason));
        }
        if let Some(s) = &mut hooks.sync {
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
        if let Some(reason) = hooks.after_batch(ev, false)? {
            return Ok(Err(reason));
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
    let mut sw = vec![];
    if data.batch_weights(idx, &mut sw) {
        return Ok((y, sample_weighted_loss(g, cfg, y, t, truth, &mut sw)));
    }
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

/// The loss under sample weights `sw` (mean 1 over the batch), times the class weights of
/// each sample's class where there are some (cross-entropy).
fn sample_weighted_loss(
    g: &mut Graph,
    cfg: &Trainer,
    y: Var,
    t: Var,
    truth: &[f32],
    sw: &mut [f32],
) -> Var {
    if let Some(cw) = &cfg.class_weights {
        for (w, &c) in sw.iter_mut().zip(truth) {
            *w *= cw[c as usize];
        }
    }
    cfg.loss.apply_weighted(g, y, t, sw)
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

pub(super) fn evaluate_with(
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
