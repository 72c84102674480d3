//! [`Prepared`]: a run with every decision made — parts split and scaled, the network built,
//! the trainer settled — ready to be trained by [`Prepared::run`] or stepped by
//! [`Prepared::start`]. Every front (the command line's `train` and `cv`, the distributed path,
//! the browser playground) goes through it, so none repeats the pipeline's choices.

use super::infer::{fold_target_scale, foldable, target_scale, task_of};
use super::{Pipeline, SmallData};
use crate::data::{split, Dataset, Scaler, SplitSizes};
use crate::error::{Error, Result};
use crate::io::{Checkpoint, DataInfo, Model};
use crate::loss::Loss;
use crate::nn::{Activation, Init, Mlp};
use crate::params::Parameters;
use crate::rng::Rng;
use crate::train::{
    evaluate, Control, EpochReport, Event, Fit, GradientReduce, History, Metrics, Observer,
    Session, StopReason, TrainState, Trainer,
};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// A run ready to train: what [`Pipeline::prepare`] (or [`Pipeline::prepare_resume`]) decided.
///
/// ```
/// use backprop::data::{read_csv_from, CsvOptions};
/// use backprop::pipeline::{Network, Pipeline};
///
/// let csv = format!("a,b,y\n{}", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n".repeat(8));
/// let data = read_csv_from(csv.as_bytes(), "xor.csv", &CsvOptions::default())?;
/// let mut p = Pipeline::default();
/// p.network = Network::hidden(&[8]);
/// let mut prepared = p.prepare(&data, None)?;
/// assert_eq!(prepared.sizes(), [32, 0, 0]); // 32 rows: the small-data rule keeps them all
/// assert_eq!(prepared.trainer.epochs, 100); // ... and caps the epochs
/// let mut session = prepared.start(Default::default())?;
/// let first = session.next_epoch()?.expect("one epoch");
/// assert_eq!(first.epoch, 1);
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The network with its starting weights, and everything a model file records (the loss,
    /// the task, the scaling, the initialiser that drew the weights).
    pub model: Model,
    /// The trainer as it will run: the chosen loss, the small-data rule applied, class weights.
    pub trainer: Trainer,
    /// The training part, scaled (and with standardised targets where they fold).
    pub train: Dataset,
    /// The validation part (empty when there is none), scaled like the training part.
    pub val: Dataset,
    /// The test part (empty when there is none), scaled; its targets stay in their own units.
    pub test: Dataset,
    /// The state to continue from (a checkpoint's), or `None` for a fresh run.
    pub resume: Option<TrainState>,
    /// What a checkpoint records of the data: its fingerprint, the split, the target scaling.
    pub info: DataInfo,
    /// The small-data rule, when it applied ([`SmallData`]).
    pub small_data: Option<SmallData>,
    /// Where the model is saved at the end (`None` = not saved).
    pub out: Option<PathBuf>,
    /// Where checkpoints go (`None`: `OUT.ckpt` beside the model, or nowhere without one).
    pub checkpoint: Option<PathBuf>,
    /// A checkpoint every this many epochs, and at the end.
    pub checkpoint_every: Option<usize>,
}

/// What a caller can attach to a run: an observer (progress), a stop flag (signals), and the
/// processes of a distributed run.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Told of every batch and epoch; may stop the run.
    pub observer: Option<&'a mut dyn Observer>,
    /// Once set, training stops at the end of the current batch and what was learnt is saved.
    pub stop: Option<&'a AtomicBool>,
    /// Data-parallel training: the gradient sum over processes ([`Fit::gradient_reduce`]).
    pub gradient_reduce: Option<&'a mut dyn GradientReduce>,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The trained model (best weights when restore-best is on), as saved.
    pub model: Model,
    /// The per-epoch record and why it stopped.
    pub history: History,
    /// Metrics on the held-out test part, with the saved model.
    pub test: Option<Metrics>,
    /// Samples in the training, validation and test parts.
    pub sizes: [usize; 3],
    /// The checkpoint written at the end, if any.
    pub checkpoint: Option<PathBuf>,
    /// The run's state after its last complete epoch (optimizer moments, generator, history):
    /// what [`Pipeline::prepare_warm`] continues from.
    pub state: TrainState,
}

impl Pipeline {
    /// Splits, scales and builds: everything [`Pipeline::run`] decides before training. `test`
    /// replaces the test split (MNIST brings its own).
    pub fn prepare(&self, data: &Dataset, test: Option<&Dataset>) -> Result<Prepared> {
        let seed = self.trainer.seed;
        let mut rng = Rng::seed(seed);
        let test_f = if test.is_some() { 0.0 } else { self.test_split };
        let small = self.small_data_for(data);
        let val_f = if small.is_some() { 0.0 } else { self.val_split };
        let sizes = SplitSizes::Fractions {
            val: val_f,
            test: test_f,
        };
        let (mut train, mut val, mut held) = split(data, sizes, &mut rng)?;
        if let Some(t) = test {
            held = t.clone();
        }
        let loss = self.loss_for(data)?;
        let spec = self.spec_for(data, loss)?;
        let hidden_act = spec
            .layers
            .first()
            .map_or(Activation::Identity, |l| l.activation);
        let init = self.init.unwrap_or(match hidden_act {
            Activation::Relu | Activation::LeakyRelu(_) => Init::KaimingUniform,
            _ => Init::XavierUniform,
        });
        let scaler = Scaler::fit(self.scale, &train);
        for d in [&mut train, &mut val, &mut held] {
            scaler.transform(d);
        }
        let mut params = Parameters::new();
        let net = Mlp::new(spec.clone(), &mut params, init, &mut rng)?;
        if let Some(weights) = &self.init_from {
            if self.pretrain.is_some() {
                return Err(Error::invalid(
                    "pre-training",
                    "with starting weights from a file",
                    "one source of starting weights: the file or pre-training",
                ));
            }
            weights.assign(&spec, &mut params)?;
        }
        if let Some(pre) = &self.pretrain {
            pre.run(&net, &mut params, &train)?;
        }
        let mut meta = Model::meta(
            spec,
            loss,
            task_of(data),
            data.feature_names.clone(),
            scaler,
            init,
            seed,
        );
        meta.target_columns = data.target_columns.clone();
        meta.columns = data.columns.clone();
        let model = Model { meta, net, params };
        let trainer = self.trainer_for(loss, small, &train, &val)?;
        let target_scale = (self.scale_targets && foldable(&model.meta.architecture, loss))
            .then(|| target_scale(&train))
            .flatten();
        if let Some(ts) = &target_scale {
            for d in [&mut train, &mut val] {
                d.map_target_values(|j, t| (t - ts.mean[j]) / ts.std[j]);
            }
        }
        let info = DataInfo {
            fingerprint: data.fingerprint(),
            rows: data.len(),
            val_split: val_f,
            test_split: test_f,
            target_scale,
        };
        Ok(self.prepared(model, trainer, [train, val, held], None, info, small))
    }

    /// The trainer a fresh run uses: the pipeline's, with the loss chosen, the small-data rule
    /// applied, and balanced class weights counted on the training part.
    pub(super) fn trainer_for(
        &self,
        loss: Loss,
        small: Option<SmallData>,
        train: &Dataset,
        val: &Dataset,
    ) -> Result<Trainer> {
        if self.trainer.validation_split > 0.0 {
            return Err(Error::invalid(
                "trainer.validation_split",
                self.trainer.validation_split,
                "0 in a pipeline: it splits once, by val_split",
            ));
        }
        let class_weights = if self.balanced_class_weights {
            if loss != Loss::CrossEntropy {
                return Err(Error::invalid(
                    "class weights",
                    format!("balanced, with loss {loss}"),
                    "cross_entropy (class weights scale its terms)",
                ));
            }
            crate::train::balanced_class_weights(train)
        } else {
            self.trainer.class_weights.clone()
        };
        Ok(Trainer {
            loss,
            early_stopping: match small {
                Some(s) => Some(s.early_stopping),
                None => self.trainer.early_stopping.filter(|_| !val.is_empty()),
            },
            epochs: small.map_or(self.trainer.epochs, |s| {
                self.trainer.epochs.min(s.max_epochs)
            }),
            class_weights,
            ..self.trainer.clone()
        })
    }

    pub(super) fn prepared(
        &self,
        model: Model,
        trainer: Trainer,
        [train, val, test]: [Dataset; 3],
        resume: Option<TrainState>,
        info: DataInfo,
        small_data: Option<SmallData>,
    ) -> Prepared {
        Prepared {
            model,
            trainer,
            train,
            val,
            test,
            resume,
            info,
            small_data,
            out: self.out.clone(),
            checkpoint: self.checkpoint.clone(),
            checkpoint_every: self.checkpoint_every,
        }
    }
}

impl Prepared {
    /// Samples in the training, validation and test parts.
    pub fn sizes(&self) -> [usize; 3] {
        [self.train.len(), self.val.len(), self.test.len()]
    }

    /// The epochs already done (a resume's) and the epoch the run ends at.
    pub fn epochs(&self) -> (usize, usize) {
        (
            self.resume.as_ref().map_or(0, |s| s.epoch),
            self.trainer.epochs,
        )
    }

    /// Where checkpoints go: the explicit path, else `OUT.ckpt` beside the model.
    pub fn checkpoint_path(&self) -> Option<PathBuf> {
        self.checkpoint.clone().or_else(|| {
            self.out
                .as_ref()
                .map(|o| PathBuf::from(format!("{}.ckpt", o.display())))
        })
    }

    /// Starts the run, to be driven epoch by epoch ([`Session::next_epoch`]); the resume state,
    /// if any, is taken (a second `start` begins afresh).
    pub fn start<'s, 'h: 's>(&'s mut self, hooks: Hooks<'h>) -> Result<Session<'s>> {
        let hooks = Fit {
            observer: hooks.observer,
            stop: hooks.stop,
            gradient_reduce: hooks.gradient_reduce,
            ..Fit::default()
        }
        .reborrow();
        let fit = Fit {
            validation: (!self.val.is_empty()).then_some(&self.val),
            resume: self.resume.take(),
            ..hooks
        };
        self.trainer
            .start(&self.model.net, &mut self.model.params, &self.train, fit)
    }

    /// Trains, writing checkpoints when due (and at the end of an interrupted run, so it can
    /// be resumed), then folds the target scaling into the model, saves it, and evaluates the
    /// test part.
    ///
    /// A regression trained on standardised targets reports in the targets' own units: the
    /// observer's epoch reports and batch losses and the returned history are converted
    /// ([`Metrics::in_target_units`]), like the test report, so that every number shown is
    /// comparable ([`Prepared::start`] leaves them in the units the trainer sees).
    pub fn run(mut self, hooks: Hooks) -> Result<Outcome> {
        let units = self.units();
        let Hooks {
            observer,
            stop,
            gradient_reduce,
        } = hooks;
        let mut converting;
        let observer: Option<&mut dyn Observer> = match (&units, observer) {
            (Some(u), Some(inner)) => {
                converting = InUnits {
                    inner,
                    units: u.clone(),
                };
                Some(&mut converting)
            }
            (_, Some(o)) => Some(o),
            (_, None) => None,
        };
        let hooks = Hooks {
            observer,
            stop,
            gradient_reduce: match gradient_reduce {
                Some(r) => Some(r),
                None => None,
            },
        };
        let ckpt_path = self.checkpoint_path();
        let every = self.checkpoint_every;
        let (meta, trainer, info) = (
            self.model.meta.clone(),
            self.trainer.clone(),
            self.info.clone(),
        );
        let save = |s: &Session| -> Result<Option<PathBuf>> {
            let Some(path) = &ckpt_path else {
                return Ok(None);
            };
            let net = Mlp::from_params(meta.architecture.clone(), s.last_complete_params())?;
            Checkpoint {
                model: Model {
                    meta: meta.clone(),
                    net,
                    params: s.last_complete_params().clone(),
                },
                trainer: trainer.clone(),
                state: s.state().clone(),
                data: Some(info.clone()),
            }
            .save(path)?;
            Ok(Some(path.clone()))
        };
        let mut session = self.start(hooks)?;
        let mut ran = false;
        while let Some(report) = session.next_epoch()? {
            ran = true;
            if every.is_some_and(|n| n > 0 && report.epoch % n == 0) {
                save(&session)?;
            }
        }
        // the end-of-run checkpoint (the last complete epoch): with --checkpoint-every, and
        // always when interrupted, so a stopped run can be resumed
        let interrupted = matches!(session.stop_reason(), Some(StopReason::Interrupted { .. }));
        let mut written = None;
        if ran && (every.is_some() || interrupted) {
            written = save(&session)?;
        }
        let (mut history, state) = session.finish_with_state();
        if let Some(u) = &units {
            for e in &mut history.epochs {
                u.convert(e);
            }
        }
        self.finish(history, state, written)
    }

    /// How to report in the targets' own units, when training sees them standardised.
    fn units(&self) -> Option<Units> {
        self.info.target_scale.as_ref().map(|ts| Units {
            std: ts.std.clone(),
            mae: self.trainer.loss == Loss::Mae,
        })
    }

    /// After training: the target scaling folded in, the model saved, the test part scored.
    fn finish(
        mut self,
        history: History,
        state: TrainState,
        checkpoint: Option<PathBuf>,
    ) -> Result<Outcome> {
        if let Some(ts) = &self.info.target_scale {
            fold_target_scale(&mut self.model, ts)?;
        }
        if let Some(out) = &self.out {
            self.model.save(out)?;
        }
        let failed = matches!(
            history.stop,
            StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. }
        );
        let model = self.model;
        let test = if self.test.is_empty() || failed {
            None
        } else {
            Some(evaluate(
                &model.net,
                &model.params,
                model.meta.loss,
                &self.test,
            )?)
        };
        Ok(Outcome {
            model,
            history,
            test,
            sizes: [self.train.len(), self.val.len(), self.test.len()],
            checkpoint,
            state,
        })
    }
}

/// Standardised regression targets' scale, to report metrics in the targets' own units.
#[derive(Clone, Debug)]
struct Units {
    std: Vec<f32>,
    /// The loss is an absolute error (scales by std, not std²).
    mae: bool,
}

impl Units {
    fn convert(&self, e: &mut EpochReport) {
        e.train = e.train.in_target_units(&self.std, self.mae);
        if let Some(v) = &mut e.val {
            *v = v.in_target_units(&self.std, self.mae);
        }
    }

    /// A batch loss's factor: std² (std for an absolute loss), averaged over the outputs.
    fn batch_factor(&self) -> f32 {
        let k = self.std.len().max(1) as f32;
        match self.mae {
            true => self.std.iter().sum::<f32>() / k,
            false => self.std.iter().map(|s| s * s).sum::<f32>() / k,
        }
    }
}

/// An observer that sees metrics in the targets' own units.
struct InUnits<'a> {
    inner: &'a mut dyn Observer,
    units: Units,
}

impl Observer for InUnits<'_> {
    fn on_event(&mut self, e: Event) -> Control {
        match e {
            Event::Epoch {
                report,
                state,
                params,
            } => {
                let mut r = report.clone();
                self.units.convert(&mut r);
                self.inner.on_event(Event::Epoch {
                    report: &r,
                    state,
                    params,
                })
            }
            Event::Batch {
                epoch,
                batch,
                batches,
                loss,
                samples,
                accuracy,
            } => self.inner.on_event(Event::Batch {
                epoch,
                batch,
                batches,
                loss: loss * self.units.batch_factor(),
                samples,
                accuracy,
            }),
        }
    }
}
