//! [`Session`]: one training run driven epoch by epoch — the one loop every front drives.
//!
//! [`Trainer::start`](super::Trainer::start) checks the settings and the data and returns a
//! session; each [`Session::next_epoch`] runs one epoch (all its batches, the validation pass,
//! the schedule step, the stopping rules) and returns its report; [`Session::finish`] restores
//! the best weights where asked and returns the [`History`].
//! [`Trainer::fit`](super::Trainer::fit) is `start`, `next_epoch` until `None`, `finish`.
//! Between epochs the caller may look at the state (to write a
//! checkpoint, draw a curve) or change the learning rate.
//!
//! ```
//! use backprop::data::{Dataset, Features, Targets};
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec};
//! use backprop::optim::OptimizerConfig;
//! use backprop::train::{Fit, Trainer};
//! use backprop::{Loss, Parameters, Rng};
//!
//! let data = Dataset::new(
//!     Features::F32(vec![0., 0., 0., 1., 1., 0., 1., 1.]),
//!     2,
//!     Targets::Values { data: vec![0., 1., 1., 0.], names: vec!["y".into()] },
//! )?;
//! let mut params = Parameters::new();
//! let spec = MlpSpec::from_sizes(&[2, 2, 1], Activation::Sigmoid, Activation::Sigmoid);
//! let net = Mlp::new(spec, &mut params, Init::Uniform(1.0), &mut Rng::seed(3))?;
//! let trainer = Trainer::new(Loss::Mse)
//!     .optimizer(OptimizerConfig::sgd(0.5).with_momentum(0.9))
//!     .epochs(2000)
//!     .batch_size(0);
//! let mut session = trainer.start(&net, &mut params, &data, Fit::default())?;
//! let mut losses = vec![];
//! while let Some(report) = session.next_epoch()? {
//!     losses.push(report.train.loss);
//! }
//! let history = session.finish();
//! assert_eq!(losses.len(), 2000);
//! assert!(history.epochs.last().unwrap().train.loss < 0.01);
//! # Ok::<(), backprop::Error>(())
//! ```

use super::epoch::{evaluate_with, Run};
use super::observer::{notify, Control, Event};
use super::{EpochReport, History, Monitor, StopReason, TrainState};
use crate::error::Result;
use crate::optim::{AnyOptimizer, LearningRate, LrSchedule, LrScheduler};
use crate::params::Parameters;
use crate::tensor::{set_precision, Precision};
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

/// The trainer's product precision on this thread while a session works; the previous one is
/// restored on every way out.
pub(super) struct PrecisionScope(Precision);

impl PrecisionScope {
    pub(super) fn set(p: Precision) -> PrecisionScope {
        PrecisionScope(set_precision(p))
    }
}

impl Drop for PrecisionScope {
    fn drop(&mut self) {
        set_precision(self.0);
    }
}

/// A training run in progress (see the [module docs](self)): made by
/// [`Trainer::start`](super::Trainer::start).
pub struct Session<'a> {
    pub(super) run: Run<'a>,
    pub(super) params: &'a mut Parameters,
    pub(super) opt: AnyOptimizer,
    pub(super) schedule: Option<LrSchedule>,
    pub(super) state: TrainState,
    /// The parameters at the end of the last complete epoch (what a NaN restores, and what a
    /// checkpoint of an interrupted run saves).
    pub(super) snapshot: Parameters,
    pub(super) stopped: Option<StopReason>,
}

impl Session<'_> {
    /// Runs the next epoch and returns its report; `None` once the run has ended (all epochs
    /// done, a stopping rule, an observer's or the stop flag's stop, a NaN). An epoch after
    /// which a stopping rule fires is still returned; the call after it gives `None`.
    pub fn next_epoch(&mut self) -> Result<Option<EpochReport>> {
        if self.stopped.is_some() {
            return Ok(None);
        }
        let cfg = self.run.cfg;
        if self.state.epoch >= cfg.epochs {
            self.stopped = Some(StopReason::Completed);
            return Ok(None);
        }
        let _precision = PrecisionScope::set(cfg.precision);
        let epoch = self.state.epoch + 1;
        let start = Instant::now();
        let lr = self.opt.lr();
        let params = &mut *self.params;
        let train = match self
            .run
            .epoch(epoch, &mut self.state, params, &mut self.opt)?
        {
            Ok(m) => m,
            Err(reason) => {
                if matches!(
                    reason,
                    StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. }
                ) {
                    params.clone_from(&self.snapshot);
                }
                self.stopped = Some(reason);
                return Ok(None);
            }
        };
        let val = match self.run.val.as_deref() {
            Some(v) => Some(evaluate_with(
                &mut self.run.tape,
                self.run.model,
                params,
                cfg.loss,
                v,
            )?),
            None => None,
        };
        let monitored = match (cfg.early_stopping.map(|e| e.monitor), &val) {
            (Some(Monitor::Loss), _) | (_, None) => train.loss,
            (_, Some(v)) => v.loss,
        };
        if !monitored.is_finite() {
            params.clone_from(&self.snapshot);
            self.stopped = Some(StopReason::NonFiniteLoss {
                value: monitored,
                epoch,
                batch: 0,
            });
            return Ok(None);
        }
        let report = EpochReport {
            epoch,
            train,
            val,
            lr,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.end_epoch(&report, monitored)?;
        Ok(Some(report))
    }

    /// The bookkeeping after a complete epoch: history, best epoch, schedule, the observer, the
    /// stopping rules.
    fn end_epoch(&mut self, report: &EpochReport, monitored: f32) -> Result<()> {
        let (cfg, state, params) = (self.run.cfg, &mut self.state, &mut *self.params);
        state.epoch = report.epoch;
        state.history.push(report.clone());
        let min_delta = cfg.early_stopping.map_or(0.0, |e| e.min_delta);
        if state.best.is_none_or(|(b, _)| monitored < b - min_delta) {
            state.best = Some((monitored, report.epoch));
            state.bad_epochs = 0;
            if cfg.early_stopping.is_some_and(|e| e.restore_best) {
                match &mut state.best_params {
                    Some(b) => b.clone_from(params),
                    None => state.best_params = Some(params.clone()),
                }
            }
        } else {
            state.bad_epochs += 1;
        }
        if let Some(s) = self.schedule.as_mut() {
            s.step(&mut self.opt, Some(monitored));
        }
        state.schedule.clone_from(&self.schedule);
        state.optimizer_state = self.opt.state();
        state.lr = Some(self.opt.lr());
        self.snapshot.clone_from(params);
        let ev = Event::Epoch {
            report,
            state,
            params,
        };
        let stop = notify(&mut self.run.hooks.observer, ev) == Control::Stop;
        if self.run.hooks.agree_any(stop)? {
            self.stopped = Some(StopReason::Callback);
        } else if cfg.target_loss.is_some_and(|t| monitored <= t) {
            self.stopped = Some(StopReason::TargetLoss);
        } else if cfg
            .early_stopping
            .is_some_and(|e| state.bad_epochs >= e.patience)
        {
            self.stopped = Some(StopReason::EarlyStopping);
        }
        Ok(())
    }

    /// The run's state after the last complete epoch: what a checkpoint saves beside
    /// [`Session::last_complete_params`].
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// The parameters as they are now (mid-epoch after an interruption).
    pub fn params(&self) -> &Parameters {
        self.params
    }

    /// The parameters at the end of the last complete epoch: with [`Session::state`], a
    /// checkpoint from which the run continues exactly.
    pub fn last_complete_params(&self) -> &Parameters {
        &self.snapshot
    }

    /// Why the run ended, once it has (`None` while it can go on).
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stopped
    }

    /// The learning rate of the next epoch.
    pub fn lr(&self) -> f32 {
        self.opt.lr()
    }

    /// Sets the learning rate from the next batch on (a schedule, if any, steps from it).
    pub fn set_lr(&mut self, lr: f32) {
        self.opt.set_lr(lr);
        self.state.lr = Some(lr);
    }

    /// L-BFGS's count of loss evaluations so far (its line search evaluates several times per
    /// epoch); `None` for the other optimizers, which evaluate once per batch.
    pub fn lbfgs_evaluations(&self) -> Option<u64> {
        match &self.opt {
            AnyOptimizer::Lbfgs(l) => Some(l.func_evals()),
            AnyOptimizer::Gradient(_) => None,
        }
    }

    /// Ends the run: restores the best epoch's weights where early stopping asks for it, and
    /// returns the history. A run ended before its last epoch without a stopping rule counts
    /// as stopped by the caller ([`StopReason::Callback`]).
    pub fn finish(self) -> History {
        let cfg = self.run.cfg;
        let stop = self.stopped.unwrap_or(if self.state.epoch >= cfg.epochs {
            StopReason::Completed
        } else {
            StopReason::Callback
        });
        let restore = cfg.early_stopping.is_some_and(|e| e.restore_best);
        let mut restored_best = false;
        if let (true, Some(best)) = (restore, self.state.best_params.as_ref()) {
            self.params.clone_from(best);
            restored_best = true;
        }
        History {
            best_epoch: self.state.best.map(|(_, e)| e),
            epochs: self.state.history,
            stop,
            restored_best,
        }
    }

    /// Ends the run like [`Session::finish`] and also hands back the state, to continue it later
    /// with [`Fit::resume`](super::Fit::resume) (the browser playground trains a few epochs per
    /// frame this way).
    pub fn finish_with_state(self) -> (History, TrainState) {
        let state = self.state.clone();
        (self.finish(), state)
    }
}
