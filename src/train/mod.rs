//! The training loop: full-batch, online (batch 1) or mini-batch gradient descent over epochs,
//! configured by one [`Trainer`] and run by one [`Session`] ([`Trainer::start`], then
//! [`Session::next_epoch`] until it returns `None`; [`Trainer::fit`] does both).
//!
//! Each epoch shuffles the samples with the run's seeded generator (unless `shuffle` is off),
//! then for each batch records forward + loss on a graph, backpropagates, optionally clips, and
//! lets the optimizer step; frozen parameters get no gradient and are never changed. After each
//! epoch the validation set (if any) is evaluated without recording, the learning-rate schedule
//! steps, the [`EpochReport`] goes to the [`Observer`] (which may stop the run), and the
//! stopping rules run: early stopping on the monitored loss with patience and restore-best, a
//! target loss, a stop flag (set by a signal handler), or the observer asking to stop. The
//! library prints nothing.
//!
//! A NaN or infinite loss — or one that has grown past 10⁶ times the first batch's loss, or past
//! 10³⁰ (unless `stop_on_divergence` is off) — ends the run with [`StopReason::NonFiniteLoss`] or
//! [`StopReason::Diverged`]: the parameters are restored to the best epoch's when restore-best is
//! on, else to the end of the last complete epoch. [`History::check`] turns those into errors.
//!
//! ```
//! use backprop::data::{Dataset, Features, Targets};
//! use backprop::nn::{Activation, Init, Mlp, MlpSpec};
//! use backprop::optim::OptimizerConfig;
//! use backprop::train::Trainer;
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
//! let history = Trainer::new(Loss::Mse)
//!     .optimizer(OptimizerConfig::sgd(0.5).with_momentum(0.9))
//!     .epochs(2000)
//!     .batch_size(0) // full batch
//!     .fit(&net, &mut params, &data)?;
//! assert!(history.epochs.last().unwrap().train.loss < 0.01);
//! # Ok::<(), backprop::Error>(())
//! ```

mod distributed;
mod ensemble;
mod epoch;
mod fit;
mod history;
mod metrics;
mod observer;
mod pretrain;
pub mod session;
mod targets;

pub use distributed::GradientReduce;
pub use ensemble::Ensemble;
pub use epoch::evaluate;
pub use fit::Fit;
pub use history::{EpochReport, History, StopReason, TrainState};
pub use observer::{Control, Event, Observer};
pub use session::Session;

pub use metrics::Metrics;
pub(crate) use metrics::Readout;
pub use pretrain::Pretrain;
pub(crate) use targets::check_output_width;
pub use targets::encode_targets;

use crate::loss::Loss;
use crate::optim::{LrSchedule, OptimizerConfig};
use crate::Error;
use serde::{Deserialize, Serialize};

/// Which loss early stopping (and a plateau schedule, and the target loss) watches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Monitor {
    /// The validation loss (Keras' `val_loss`); the training loss when there is no validation set.
    #[default]
    ValLoss,
    /// The training loss (Keras' `loss`).
    Loss,
}

/// Early stopping: stop when the monitored loss has not improved by more than `min_delta` for
/// `patience` epochs (Keras' `EarlyStopping`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// What is watched.
    #[serde(default)]
    pub monitor: Monitor,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest decrease that counts as an improvement.
    pub min_delta: f32,
    /// Whether to restore the parameters of the best epoch when stopping (and at the end).
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Patience `p` on the validation loss, `min_delta` 0, restore-best on.
    pub fn new(patience: usize) -> EarlyStopping {
        EarlyStopping {
            monitor: Monitor::ValLoss,
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

/// How to train: every setting of a run, with Keras' and PyTorch's names and defaults
/// (20 epochs, batches of 32, shuffling, Adam with lr 1e-3, seed 0). It is plain data —
/// serialisable, stored in checkpoints — and [`Trainer::fit`] runs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trainer {
    /// The loss to minimise.
    pub loss: Loss,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Number of epochs (full passes over the training set).
    pub epochs: usize,
    /// Samples per update: 1 = online, 0 = the whole set (full batch). Default 32, as Keras.
    pub batch_size: usize,
    /// Whether to reshuffle the samples every epoch (seeded).
    pub shuffle: bool,
    /// Seed of the run's generator (shuffling, dropout, the validation split).
    pub seed: u64,
    /// Fraction of the training set held out for validation when no validation set is given
    /// (stratified for classes, drawn with a generator seeded from `seed`). 0 = none.
    pub validation_split: f32,
    /// Early stopping, if wanted.
    pub early_stopping: Option<EarlyStopping>,
    /// Stop once the monitored loss is at or below this.
    pub target_loss: Option<f32>,
    /// Clip the global gradient norm to this before each step.
    pub clip_grad_norm: Option<f32>,
    /// Clamp every gradient element into ±this before each step.
    pub clip_grad_value: Option<f32>,
    /// The learning-rate schedule, stepped once per epoch.
    pub lr_schedule: Option<LrSchedule>,
    /// State-dict names of parameters to leave unchanged, besides those the network itself
    /// marks as not trainable.
    pub freeze: Vec<String>,
    /// Stop (keeping the last good weights) when the loss grows past 10⁶ × its first value or
    /// past 10³⁰, as for a NaN.
    pub stop_on_divergence: bool,
    /// Per-class weights of the training loss (cross-entropy only), e.g. scikit-learn's
    /// "balanced" `n / (classes · n_c)` from [`balanced_class_weights`]. Validation metrics stay
    /// unweighted.
    pub class_weights: Option<Vec<f32>>,
    /// Apply each parameter's update inside backward, as soon as its gradient is final
    /// ([`crate::optim::backward_step`]), where that gives exactly the same result: for every
    /// optimizer but L-BFGS, without gradient clipping. Saves a pass over every weight, gradient and
    /// optimizer buffer per step (most of a batch-1 step). Default true; false always runs
    /// backward, then the optimizer.
    pub optimizer_in_backward: bool,
    /// The precision of the matrix products of training (forward and backward): f32, or bf16
    /// operands with f32 sums. Master weights and optimizer state stay f32.
    pub precision: crate::tensor::Precision,
}

/// scikit-learn's `class_weight="balanced"`: `w_c = n / (classes · n_c)` over `data`'s labels
/// (a class with no samples gets weight 0). `None` for regression data.
///
/// ```
/// use backprop::data::{Dataset, Features, Targets};
/// let ds = Dataset::new(Features::F32(vec![0.0; 4]), 1,
///     Targets::Classes { labels: vec![0, 0, 0, 1], names: vec!["a".into(), "b".into()] }).unwrap();
/// assert_eq!(backprop::train::balanced_class_weights(&ds), Some(vec![4.0 / 6.0, 2.0]));
/// ```
pub fn balanced_class_weights(data: &crate::data::Dataset) -> Option<Vec<f32>> {
    let crate::data::Targets::Classes { labels, names } = data.targets() else {
        return None;
    };
    let mut counts = vec![0usize; names.len()];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    let (n, k) = (labels.len() as f64, names.len() as f64);
    Some(
        counts
            .iter()
            .map(|&c| {
                if c == 0 {
                    0.0
                } else {
                    (n / (k * c as f64)) as f32
                }
            })
            .collect(),
    )
}

impl Default for Trainer {
    fn default() -> Trainer {
        Trainer {
            loss: Loss::Mse,
            optimizer: OptimizerConfig::default(),
            epochs: 20,
            batch_size: 32,
            shuffle: true,
            seed: 0,
            validation_split: 0.0,
            early_stopping: None,
            target_loss: None,
            clip_grad_norm: None,
            clip_grad_value: None,
            lr_schedule: None,
            freeze: vec![],
            stop_on_divergence: true,
            class_weights: None,
            optimizer_in_backward: true,
            precision: crate::tensor::Precision::F32,
        }
    }
}

impl Trainer {
    /// Checks every setting that a builder or a file can get wrong: the clipping thresholds
    /// (positive and finite: a negative one would reverse the gradients, or panic in a clamp),
    /// the validation fraction, the target loss, early stopping's `min_delta`, the class
    /// weights. [`Trainer::start`] calls it, so a trainer read from a checkpoint is held to the
    /// same rules as one built in code.
    ///
    /// ```
    /// use backprop::{train::Trainer, Loss};
    /// assert!(Trainer::new(Loss::Mse).clip_grad_value(1.0).validate().is_ok());
    /// assert!(Trainer::new(Loss::Mse).clip_grad_value(-1.0).validate().is_err());
    /// assert!(Trainer::new(Loss::Mse).clip_grad_norm(f32::NAN).validate().is_err());
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        let positive = |c: Option<f32>| c.is_none_or(|c| c.is_finite() && c > 0.0);
        if !positive(self.clip_grad_value) {
            let c = self.clip_grad_value.unwrap_or_default();
            return Err(Error::invalid(
                "clip_grad_value",
                c,
                "a positive, finite number",
            ));
        }
        if !positive(self.clip_grad_norm) {
            let c = self.clip_grad_norm.unwrap_or_default();
            return Err(Error::invalid(
                "clip_grad_norm",
                c,
                "a positive, finite number",
            ));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            let v = self.validation_split;
            return Err(Error::invalid(
                "validation_split",
                v,
                "a fraction in [0, 1)",
            ));
        }
        if self.target_loss.is_some_and(f32::is_nan) {
            return Err(Error::invalid("target_loss", f32::NAN, "a number"));
        }
        if let Some(e) = self.early_stopping {
            if !(e.min_delta.is_finite() && e.min_delta >= 0.0) {
                let v = e.min_delta;
                return Err(Error::invalid("min_delta", v, "a finite number ≥ 0"));
            }
        }
        if let Some(w) = &self.class_weights {
            if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                let v = format!("{w:?}");
                return Err(Error::invalid("class_weights", v, "finite weights ≥ 0"));
            }
        }
        Ok(())
    }

    /// The defaults with the given loss.
    pub fn new(loss: Loss) -> Trainer {
        Trainer {
            loss,
            ..Trainer::default()
        }
    }

    /// Sets the optimizer.
    pub fn optimizer(mut self, o: OptimizerConfig) -> Trainer {
        self.optimizer = o;
        self
    }

    /// Sets the number of epochs.
    pub fn epochs(mut self, n: usize) -> Trainer {
        self.epochs = n;
        self
    }

    /// Sets the batch size (0 = full batch, 1 = online).
    pub fn batch_size(mut self, n: usize) -> Trainer {
        self.batch_size = n;
        self
    }

    /// Turns per-epoch shuffling on or off.
    pub fn shuffle(mut self, on: bool) -> Trainer {
        self.shuffle = on;
        self
    }

    /// Sets the run's seed.
    pub fn seed(mut self, seed: u64) -> Trainer {
        self.seed = seed;
        self
    }

    /// Holds out this fraction of the training set for validation.
    pub fn validation_split(mut self, f: f32) -> Trainer {
        self.validation_split = f;
        self
    }

    /// Sets early stopping.
    pub fn early_stopping(mut self, e: EarlyStopping) -> Trainer {
        self.early_stopping = Some(e);
        self
    }

    /// Stops once the monitored loss reaches `t`.
    pub fn target_loss(mut self, t: f32) -> Trainer {
        self.target_loss = Some(t);
        self
    }

    /// Allows (the default) or forbids applying updates inside backward; see
    /// [`Trainer::optimizer_in_backward`](struct.Trainer.html#structfield.optimizer_in_backward).
    pub fn optimizer_in_backward(mut self, on: bool) -> Trainer {
        self.optimizer_in_backward = on;
        self
    }

    /// Sets the precision of the products of training, e.g. bf16:
    ///
    /// ```
    /// use backprop::{tensor::Precision, train::Trainer, Loss};
    /// let t = Trainer::new(Loss::CrossEntropy).precision(Precision::Bf16);
    /// assert_eq!(t.precision, Precision::Bf16);
    /// ```
    pub fn precision(mut self, p: crate::tensor::Precision) -> Trainer {
        self.precision = p;
        self
    }

    /// Clips the global gradient norm.
    pub fn clip_grad_norm(mut self, c: f32) -> Trainer {
        self.clip_grad_norm = Some(c);
        self
    }

    /// Clamps gradient elements.
    pub fn clip_grad_value(mut self, c: f32) -> Trainer {
        self.clip_grad_value = Some(c);
        self
    }

    /// Sets the learning-rate schedule.
    pub fn lr_schedule(mut self, s: LrSchedule) -> Trainer {
        self.lr_schedule = Some(s);
        self
    }

    /// Freezes parameters by state-dict name (e.g. `layers.0.bias`).
    pub fn freeze(mut self, names: &[&str]) -> Trainer {
        self.freeze.extend(names.iter().map(|s| s.to_string()));
        self
    }
}
