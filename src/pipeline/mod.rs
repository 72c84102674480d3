//! The whole of `backprop train` as one library call: split the data (seeded, stratified), fit
//! the scaling on the training part, build the network from its description, train with a
//! [`Trainer`], write checkpoints, keep the held-out test report, and save the model file.
//!
//! Two steps, so that every front makes the same decisions: [`Pipeline::prepare`] decides
//! everything before training and returns a [`Prepared`] run (inspect it, print it), and
//! [`Prepared::run`] trains it — or [`Prepared::start`] hands out the [`Session`](crate::train::Session)
//! to drive epoch by epoch. [`Pipeline::run`] is both at once.
//!
//! ```
//! use backprop::data::{read_csv_from, CsvOptions};
//! use backprop::pipeline::{Network, Pipeline};
//!
//! let csv = format!("a,b,y\n{}", "0,0,0\n0,1,1\n1,0,1\n1,1,0\n".repeat(8));
//! let data = read_csv_from(csv.as_bytes(), "xor.csv", &CsvOptions::default())?;
//! let mut p = Pipeline::default();
//! p.network = Network::hidden(&[8]);
//! p.trainer.epochs = 5;
//! p.val_split = 0.0;
//! p.test_split = 0.0;
//! let out = p.run(&data, None, Default::default())?;
//! assert_eq!(out.history.epochs.len(), 5);
//! assert_eq!(out.model.out_features(), 2); // one output per class, for cross-entropy
//! # Ok::<(), backprop::Error>(())
//! ```

pub mod cv;
mod infer;
mod prepared;
mod resume;

pub use cv::CrossValidation;
pub use prepared::{Hooks, Outcome, Prepared};

use crate::data::{Dataset, ScaleKind, Targets};
use crate::error::{Error, Result};
use crate::io::{Checkpoint, StateDict};
use crate::loss::Loss;
use crate::nn::{Activation, Init, MlpSpec};
use crate::train::{Pretrain, Trainer};
use infer::{is_binary, output_layer};
use std::path::PathBuf;

/// Which network to train.
#[derive(Clone, Debug, PartialEq)]
pub enum Network {
    /// Hidden layers of these sizes; the output layer (its width and activation) is chosen from
    /// the data and the loss: one unit per class for cross-entropy, one sigmoid unit for a
    /// binary target with any other loss, one unit per regression target.
    Hidden {
        /// Units per hidden layer; `None` = one layer of [`Network::auto_width`] units.
        sizes: Option<Vec<usize>>,
        /// θ of the hidden layers.
        activation: Activation,
        /// θ of the output layer, if not the default (identity; sigmoid for 0/1 targets under a
        /// squared-error or BCE loss).
        output_activation: Option<Activation>,
        /// Dropout after each hidden layer.
        dropout: f32,
        /// Batch norm (PyTorch's defaults) on every hidden layer, before its activation.
        batch_norm: bool,
    },
    /// A complete description; its input and output widths must fit the data.
    Spec(MlpSpec),
}

impl Network {
    /// ReLU hidden layers of these sizes (the command line's `--hidden`).
    pub fn hidden(sizes: &[usize]) -> Network {
        Network::Hidden {
            sizes: Some(sizes.to_vec()),
            activation: Activation::Relu,
            output_activation: None,
            dropout: 0.0,
            batch_norm: false,
        }
    }

    /// The default: one ReLU hidden layer whose width comes from the data's size.
    pub fn auto() -> Network {
        Network::Hidden {
            sizes: None,
            activation: Activation::Relu,
            output_activation: None,
            dropout: 0.0,
            batch_norm: false,
        }
    }

    /// The default hidden width for `rows` samples: 100 below 10,000 rows (scikit-learn's
    /// width), 256 from there. By scripts/defaults.py and scripts/compare-tables.py over 10
    /// splits each: 100 units tie or beat scikit-learn's defaults on iris, digits, diabetes,
    /// penguins and cars, where 64 fell short on penguins; MNIST needs the wider layer for
    /// 98 % (97.16 % with 64, 98.00 % with 256).
    ///
    /// ```
    /// use backprop::pipeline::Network;
    ///
    /// assert_eq!(Network::auto_width(150), 100);
    /// assert_eq!(Network::auto_width(60_000), 256);
    /// ```
    pub fn auto_width(rows: usize) -> usize {
        if rows < 10_000 {
            100
        } else {
            256
        }
    }
}

/// The default for small data sets, like scikit-learn's `MLPClassifier`: below `max_rows` rows,
/// hold out no validation part (the pipeline's `val_split` is not used), train for at most
/// `max_epochs`, and stop when the *training* loss has not improved by `early_stopping.min_delta`
/// for `early_stopping.patience` epochs (scikit-learn's `tol` 1e-4 and `n_iter_no_change` 10).
///
/// A 10 % validation part of a few hundred rows is a handful of samples: too few to stop on, and
/// missing from training (scripts/defaults.py: iris median accuracy 0.967 → 1.000, diabetes R²
/// no longer negative on any seed).
///
/// ```
/// use backprop::pipeline::{Pipeline, SmallData};
///
/// let small = SmallData::default();
/// assert_eq!((small.max_rows, small.max_epochs), (1000, 100));
/// assert_eq!(Pipeline::default().small_data, Some(small));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SmallData {
    /// The rule applies to data (before any test split) with fewer rows than this.
    pub max_rows: usize,
    /// The epochs are capped at this.
    pub max_epochs: usize,
    /// The stopping rule, on the training loss.
    pub early_stopping: crate::train::EarlyStopping,
}

impl Default for SmallData {
    /// Fewer than 1,000 rows; at most 100 epochs; stop after 10 epochs without a training-loss
    /// improvement of 1e-4, keeping the last weights (as scikit-learn does).
    fn default() -> SmallData {
        SmallData {
            max_rows: 1000,
            max_epochs: 100,
            early_stopping: crate::train::EarlyStopping {
                monitor: crate::train::Monitor::Loss,
                patience: 10,
                min_delta: 1e-4,
                restore_best: false,
            },
        }
    }
}

/// A training run as `backprop train` does it. `trainer.loss` is used when `loss` is `None`
/// only if the data does not decide it: see [`Pipeline::loss_for`].
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// The network.
    pub network: Network,
    /// The loss; `None` picks one from the data (cross-entropy for classes, BCE for several 0/1
    /// targets or a single output unit on two classes, MSE otherwise).
    pub loss: Option<Loss>,
    /// How to train (its `loss` is replaced by the chosen loss; its `seed` seeds everything).
    pub trainer: Trainer,
    /// The initialiser; `None` = Kaiming uniform under ReLU, Xavier uniform otherwise.
    pub init: Option<Init>,
    /// Starting weights from a file (a PyTorch `state_dict` saved with safetensors, or a model
    /// file), mapped onto the network's layers in order and checked name by name and shape by
    /// shape ([`StateDict::to_params`]); training fine-tunes from them. `None` = drawn by `init`.
    pub init_from: Option<StateDict>,
    /// Feature scaling fitted on the training part (default: auto).
    pub scale: ScaleKind,
    /// Standardise regression targets for training (per target, on the training part) and fold
    /// the inverse into the output layer of the saved model, so it predicts in the targets' own
    /// units (default: on; applies to an identity output layer with a per-unit bias under a
    /// squared or absolute error loss). Training and validation losses are then reported in
    /// standardised units; the test report and the model are in the original ones.
    pub scale_targets: bool,
    /// Weight the cross-entropy by class, scikit-learn's "balanced" `n / (classes · n_c)`
    /// counted on the training part (`trainer.class_weights` gives weights by hand).
    pub balanced_class_weights: bool,
    /// Greedy layer-wise pre-training of the hidden layers before training (autoencoders on the
    /// training part's features; see [`Pretrain`]).
    pub pretrain: Option<Pretrain>,
    /// Fraction held out for validation (early stopping watches it).
    pub val_split: f32,
    /// The rule for small data sets, which replaces `val_split`, caps `trainer.epochs` and
    /// replaces `trainer.early_stopping` below its row count (default: on; `None` = off).
    pub small_data: Option<SmallData>,
    /// Fraction held out for the final test report (ignored when a test set is given).
    pub test_split: f32,
    /// Where to save the model (`None` = don't save).
    pub out: Option<PathBuf>,
    /// Where to write checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (and at the end).
    pub checkpoint_every: Option<usize>,
}

impl Default for Pipeline {
    /// The command line's defaults: one hidden layer of ReLU units (64, or 256 for 10,000 rows
    /// and more: [`Network::auto_width`]), Adam (lr 1e-3), batch 32,
    /// 200 epochs, early stopping with patience 10 on a 10 % validation split — below 1,000 rows
    /// no validation split, at most 100 epochs and a training-loss plateau stop ([`SmallData`]) —
    /// no test split,
    /// automatic feature scaling, standardised regression targets, seed 0, nothing saved.
    fn default() -> Pipeline {
        let trainer = Trainer {
            epochs: 200,
            early_stopping: Some(crate::train::EarlyStopping::new(10)),
            ..Trainer::default()
        };
        Pipeline {
            network: Network::auto(),
            loss: None,
            trainer,
            init: None,
            init_from: None,
            scale: ScaleKind::Auto,
            scale_targets: true,
            balanced_class_weights: false,
            pretrain: None,
            val_split: 0.1,
            small_data: Some(SmallData::default()),
            test_split: 0.0,
            out: None,
            checkpoint: None,
            checkpoint_every: None,
        }
    }
}

impl Pipeline {
    /// The loss this pipeline trains `data` with.
    pub fn loss_for(&self, data: &Dataset) -> Result<Loss> {
        if let Some(l) = self.loss {
            return Ok(l);
        }
        let out_units = match &self.network {
            Network::Spec(s) => Some(s.out_features()),
            Network::Hidden { .. } => None,
        };
        Ok(match data.targets() {
            Targets::Classes { .. } if out_units == Some(1) => Loss::BceWithLogits,
            Targets::Classes { .. } => Loss::CrossEntropy,
            Targets::Values { data: v, names } if names.len() > 1 && is_binary(v) => {
                Loss::BceWithLogits
            }
            Targets::Values { .. } => Loss::Mse,
        })
    }

    /// The small-data rule that applies to `data`, if any (see [`SmallData`]).
    pub fn small_data_for(&self, data: &Dataset) -> Option<SmallData> {
        self.small_data.filter(|s| data.len() < s.max_rows)
    }

    /// The network description for `data` under `loss`, checked against the data's widths.
    pub fn spec_for(&self, data: &Dataset, loss: Loss) -> Result<MlpSpec> {
        let spec = match &self.network {
            Network::Spec(s) => s.clone(),
            Network::Hidden {
                sizes,
                activation,
                output_activation,
                dropout,
                batch_norm,
            } => {
                let (out, default_act) = output_layer(data, loss)?;
                let mut spec = MlpSpec::new(data.n_features());
                let auto = [Network::auto_width(data.len())];
                for &h in sizes.as_deref().unwrap_or(&auto) {
                    spec = spec.layer(h, *activation).dropout(*dropout);
                    if *batch_norm {
                        spec = spec.batch_norm(crate::nn::BatchNormSpec::default());
                    }
                }
                spec.layer(out, output_activation.unwrap_or(default_act))
            }
        };
        spec.validate()?;
        if spec.in_features != data.n_features() {
            return Err(Error::network(
                "network",
                format!(
                    "takes {} inputs but the data has {} features",
                    spec.in_features,
                    data.n_features()
                ),
            ));
        }
        crate::train::check_output_width(loss, data, spec.out_features())?;
        Ok(spec)
    }

    /// Splits, scales, builds, trains, evaluates and saves: [`Pipeline::prepare`], then
    /// [`Prepared::run`]. `test` replaces the test split (MNIST brings its own).
    pub fn run(&self, data: &Dataset, test: Option<&Dataset>, hooks: Hooks) -> Result<Outcome> {
        self.prepare(data, test)?.run(hooks)
    }

    /// Continues a checkpointed run: [`Pipeline::prepare_resume`], then [`Prepared::run`].
    pub fn resume(
        &self,
        ckpt: Checkpoint,
        data: &Dataset,
        test: Option<&Dataset>,
        epochs: Option<usize>,
        hooks: Hooks,
    ) -> Result<Outcome> {
        self.prepare_resume(ckpt, data, test, epochs)?.run(hooks)
    }
}
