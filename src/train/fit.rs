//! [`Trainer::start`], [`Trainer::fit`]: set a run up (see the [module docs](super)).

use super::distributed::{GradientReduce, Sync};
use super::epoch::{optimizer_in_backward, Hooks, Run};
use super::observer::Observer;
use super::session::Session;
use super::{History, TrainState, Trainer};
use crate::autograd::Tape;
use crate::data::{split, Dataset, SplitSizes};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::LearningRate;
use crate::params::{ParamId, Parameters};
use crate::rng::Rng;
use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

/// Mixed into the seed for the validation split, so it does not share the shuffling stream.
const VAL_SPLIT_STREAM: u64 = 0x7661_6c5f_7370_6c74; // "val_splt"

/// The optional parts of a run ([`Trainer::start`], [`Trainer::fit_with`]).
#[derive(Default)]
pub struct Fit<'a> {
    /// A validation set (otherwise `validation_split` of the training set, if set).
    pub validation: Option<&'a Dataset>,
    /// A saved state to continue from (a checkpoint's), instead of a fresh run.
    pub resume: Option<TrainState>,
    /// Told of every batch and epoch; may stop the run.
    pub observer: Option<&'a mut dyn Observer>,
    /// Checked after every batch: once set, the run stops (e.g. from a SIGINT handler).
    pub stop: Option<&'a AtomicBool>,
    /// Data-parallel training: this process trains on its share of every batch and the
    /// gradients are summed over processes here (see [`GradientReduce`]).
    pub gradient_reduce: Option<&'a mut dyn GradientReduce>,
}

impl<'h> Fit<'h> {
    /// The same parts for a shorter borrow (`&mut dyn` is invariant, so this is spelt out).
    pub fn reborrow<'s>(self) -> Fit<'s>
    where
        'h: 's,
    {
        Fit {
            validation: self.validation,
            resume: self.resume,
            observer: match self.observer {
                Some(o) => Some(o),
                None => None,
            },
            stop: self.stop,
            gradient_reduce: match self.gradient_reduce {
                Some(r) => Some(r),
                None => None,
            },
        }
    }
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

    /// Trains with a validation set, a state to resume from, an observer or a stop flag: the
    /// whole of a [`Session`].
    pub fn fit_with(
        &self,
        model: &dyn Module,
        params: &mut Parameters,
        train: &Dataset,
        fit: Fit,
    ) -> Result<History> {
        let mut session = self.start(model, params, train, fit.reborrow())?;
        while session.next_epoch()?.is_some() {}
        Ok(session.finish())
    }

    /// Checks the settings against the model and the data and starts a run, to be driven
    /// epoch by epoch ([`Session::next_epoch`]).
    pub fn start<'a>(
        &'a self,
        model: &'a dyn Module,
        params: &'a mut Parameters,
        train: &'a Dataset,
        mut fit: Fit<'a>,
    ) -> Result<Session<'a>> {
        self.validate()?;
        model.check_trainable()?;
        if self.optimizer.is_full_batch_closure() && model.is_stochastic() {
            return Err(Error::invalid(
                "optimizer",
                "lbfgs with dropout",
                "no dropout with lbfgs: its line search compares losses at different steps, \
                 which dropout would draw from different random networks",
            ));
        }
        self.check_class_weights(train)?;
        let (train, val) = match fit.validation {
            None if self.validation_split > 0.0 => {
                let mut rng = Rng::seed(self.seed ^ VAL_SPLIT_STREAM);
                let sizes = SplitSizes::Fractions {
                    val: self.validation_split,
                    test: 0.0,
                };
                let (t, v, _) = split(train, sizes, &mut rng)?;
                (Cow::Owned(t), Some(Cow::Owned(v)))
            }
            v => (Cow::Borrowed(train), v.map(Cow::Borrowed)),
        };
        if train.is_empty() {
            return Err(Error::invalid("training set", 0, "at least one sample"));
        }
        let mut opt = self.optimizer.build()?;
        let fresh = fit.resume.is_none();
        let state = fit
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
        if fit.gradient_reduce.is_some() && train.weights().is_some() {
            return Err(Error::invalid(
                "sample weights",
                "in a distributed run",
                "one process (each process would normalise its share of a batch alone)",
            ));
        }
        let sync = fit.gradient_reduce.map(Sync::new);
        let fused = optimizer_in_backward(self, sync.is_some());
        let snapshot = params.clone();
        Ok(Session {
            run: Run {
                cfg: self,
                model,
                train,
                val,
                tape,
                hooks: Hooks {
                    observer: fit.observer,
                    stop_flag: fit.stop,
                    sync,
                },
                fused,
            },
            params,
            opt,
            schedule,
            state,
            snapshot,
            stopped: None,
        })
    }

    /// Class weights, if set, fit the loss and the data.
    fn check_class_weights(&self, train: &Dataset) -> Result<()> {
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
        Ok(())
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
