//! The whole of `backprop train` as one library call: split the data (seeded, stratified), fit
//! the scaling on the training part, build the network from its description, train with a
//! [`Trainer`], write checkpoints, keep the held-out test report, and save the model file.
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

use crate::data::{split, Dataset, ScaleKind, Scaler, SplitSizes, Targets};
use crate::error::{Error, Result};
use crate::io::{Checkpoint, DataInfo, Model, StateDict, TargetScale, TaskInfo};
use crate::loss::Loss;
use crate::nn::{Activation, Init, Mlp, MlpSpec};
use crate::params::Parameters;
use crate::rng::Rng;
use crate::train::{
    evaluate, Control, Event, Fit, GradientReduce, History, Metrics, Pretrain, StopReason,
    TrainState, Trainer,
};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

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

    /// The default hidden width for `rows` samples: 64 below 10,000 rows, 256 from there (by
    /// scripts/defaults.py: 64 holds its own on iris, digits and diabetes, while MNIST needs the
    /// wider layer for 98 % — 97.16 % with 64, 98.00 % with 256).
    pub fn auto_width(rows: usize) -> usize {
        if rows < 10_000 {
            64
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

/// What a run is about to do, as the `start` hook sees it.
pub struct Start<'a> {
    /// Samples in the training, validation and test parts.
    pub sizes: [usize; 3],
    /// The network.
    pub spec: &'a MlpSpec,
    /// Scalar parameters.
    pub params: usize,
    /// The loss.
    pub loss: Loss,
    /// The epoch the run ends at, and the epochs already done (a resume).
    pub epochs: (usize, usize),
}

/// What a caller can attach to a run: a start hook and a callback (progress), and a stop flag
/// (signals).
#[derive(Default)]
pub struct Hooks<'a> {
    /// Called once before training, with the split sizes and the network.
    pub start: Option<&'a mut dyn FnMut(&Start)>,
    /// Called after every batch and epoch.
    pub callback: Option<&'a mut dyn FnMut(Event) -> Control>,
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

    /// Splits, scales, builds, trains, evaluates and saves. `test` replaces the test split
    /// (MNIST brings its own).
    pub fn run(&self, data: &Dataset, test: Option<&Dataset>, hooks: Hooks) -> Result<Outcome> {
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
        let class_weights = if self.balanced_class_weights {
            if loss != Loss::CrossEntropy {
                return Err(Error::invalid(
                    "class weights",
                    format!("balanced, with loss {loss}"),
                    "cross_entropy (class weights scale its terms)",
                ));
            }
            crate::train::balanced_class_weights(&train)
        } else {
            self.trainer.class_weights.clone()
        };
        let trainer = Trainer {
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
        };
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
        let parts = Parts {
            train,
            val,
            test: held,
        };
        self.train(model, trainer, None, info, parts, hooks)
    }

    /// Continues a checkpointed run on the same data until `trainer.epochs` of the checkpoint
    /// (or `epochs`, to extend it). The data must be the one the run started on (checked by its
    /// fingerprint); splits and scaling are the checkpoint's.
    pub fn resume(
        &self,
        ckpt: Checkpoint,
        data: &Dataset,
        test: Option<&Dataset>,
        epochs: Option<usize>,
        hooks: Hooks,
    ) -> Result<Outcome> {
        let info = ckpt.data.clone().ok_or_else(|| {
            Error::invalid(
                "checkpoint",
                "no data fingerprint",
                "a checkpoint written by this version",
            )
        })?;
        let fp = data.fingerprint();
        if info.fingerprint != fp || info.rows != data.len() {
            return Err(Error::invalid(
                "data for --resume",
                format!("{} rows with fingerprint {fp}", data.len()),
                "the data the checkpoint was trained on (same rows, same values, same order)",
            ));
        }
        let meta = &ckpt.model.meta;
        let mut rng = Rng::seed(meta.seed);
        let sizes = SplitSizes::Fractions {
            val: info.val_split,
            test: info.test_split,
        };
        let (mut train, mut val, mut held) = split(data, sizes, &mut rng)?;
        if let Some(t) = test {
            held = t.clone();
        }
        for d in [&mut train, &mut val, &mut held] {
            if meta
                .scaler
                .n_features()
                .is_some_and(|n| n != d.n_features())
            {
                return Err(Error::invalid(
                    "data for --resume",
                    d.n_features(),
                    "the checkpoint's feature count",
                ));
            }
            meta.scaler.transform(d);
        }
        if let Some(ts) = &info.target_scale {
            for d in [&mut train, &mut val] {
                d.map_target_values(|j, t| (t - ts.mean[j]) / ts.std[j]);
            }
        }
        let mut trainer = ckpt.trainer.clone();
        if let Some(e) = epochs {
            trainer.epochs = e;
        }
        let parts = Parts {
            train,
            val,
            test: held,
        };
        self.train(ckpt.model, trainer, Some(ckpt.state), info, parts, hooks)
    }

    fn train(
        &self,
        mut model: Model,
        trainer: Trainer,
        state: Option<TrainState>,
        info: DataInfo,
        parts: Parts,
        hooks: Hooks,
    ) -> Result<Outcome> {
        let Parts { train, val, test } = parts;
        if let Some(start) = hooks.start {
            start(&Start {
                sizes: [train.len(), val.len(), test.len()],
                spec: &model.meta.architecture,
                params: model.params.numel(),
                loss: model.meta.loss,
                epochs: (trainer.epochs, state.as_ref().map_or(0, |s| s.epoch)),
            });
        }
        let ckpt_path = self.checkpoint.clone().or_else(|| {
            self.out
                .as_ref()
                .map(|o| PathBuf::from(format!("{}.ckpt", o.display())))
        });
        let mut last: Option<Checkpoint> = None;
        let mut ckpt_error = None;
        let mut user = hooks.callback;
        let reduce = hooks.gradient_reduce;
        let meta = model.meta.clone();
        let mut callback = |e: Event| -> Control {
            let mut answer = Control::Continue;
            if let Event::Epoch {
                report,
                state,
                params,
                ..
            } = &e
            {
                let c = checkpoint(&meta, params, &trainer, state, &info);
                let due = self
                    .checkpoint_every
                    .is_some_and(|n| n > 0 && report.epoch % n == 0);
                if let (true, Some(path), Ok(c)) = (due, &ckpt_path, &c) {
                    if let Err(err) = c.save(path) {
                        ckpt_error = Some(err);
                        answer = Control::Stop;
                    }
                }
                last = c.ok();
            }
            let stop = user.as_mut().is_some_and(|cb| cb(e) == Control::Stop);
            if stop {
                Control::Stop
            } else {
                answer
            }
        };
        let fit = Fit {
            validation: (!val.is_empty()).then_some(&val),
            resume: state,
            callback: Some(&mut callback),
            stop: hooks.stop,
            gradient_reduce: match reduce {
                Some(r) => Some(r),
                None => None,
            },
        };
        let history = trainer.fit_with(&model.net, &mut model.params, &train, fit)?;
        if let Some(err) = ckpt_error {
            return Err(err);
        }
        // the end-of-run checkpoint (the last complete epoch): with --checkpoint-every, and
        // always when interrupted, so a stopped run can be resumed
        let interrupted = matches!(history.stop, StopReason::Interrupted { .. });
        let mut written = None;
        if let (Some(c), Some(path)) = (&last, &ckpt_path) {
            if self.checkpoint_every.is_some() || interrupted {
                c.save(path)?;
                written = Some(path.clone());
            }
        }
        if let Some(ts) = &info.target_scale {
            fold_target_scale(&mut model, ts)?;
        }
        if let Some(out) = &self.out {
            model.save(out)?;
        }
        let failed = matches!(
            history.stop,
            StopReason::NonFiniteLoss { .. } | StopReason::Diverged { .. }
        );
        let test_m = if test.is_empty() || failed {
            None
        } else {
            Some(evaluate(&model.net, &model.params, model.meta.loss, &test)?)
        };
        Ok(Outcome {
            model,
            history,
            test: test_m,
            sizes: [train.len(), val.len(), test.len()],
            checkpoint: written,
        })
    }
}

struct Parts {
    train: Dataset,
    val: Dataset,
    test: Dataset,
}

fn checkpoint(
    meta: &crate::io::ModelMeta,
    params: &Parameters,
    trainer: &Trainer,
    state: &TrainState,
    info: &DataInfo,
) -> Result<Checkpoint> {
    let net = Mlp::from_params(meta.architecture.clone(), params)?;
    Ok(Checkpoint {
        model: Model {
            meta: meta.clone(),
            net,
            params: params.clone(),
        },
        trainer: trainer.clone(),
        state: state.clone(),
        data: Some(info.clone()),
    })
}

/// Whether target scaling can be folded into this network's output layer exactly.
fn foldable(spec: &MlpSpec, loss: Loss) -> bool {
    let last = spec.layers.last().expect("validated: at least one layer");
    matches!(
        loss,
        Loss::Mse | Loss::SquaredError | Loss::HalfSse | Loss::Mae
    ) && last.activation == Activation::Identity
        && last.bias == crate::nn::Bias::PerUnit
        && last.tie.is_none()
        && last.trainable.weight
        && last.trainable.bias
}

/// Per-target mean and standard deviation (f64 sums) of a regression set; `None` for classes.
fn target_scale(train: &Dataset) -> Option<TargetScale> {
    let Targets::Values { data, names } = train.targets() else {
        return None;
    };
    let (k, n) = (names.len(), train.len().max(1) as f64);
    let mut mean = vec![0.0f64; k];
    data.iter()
        .enumerate()
        .for_each(|(i, &v)| mean[i % k] += v as f64 / n);
    let mut var = vec![0.0f64; k];
    data.iter()
        .enumerate()
        .for_each(|(i, &v)| var[i % k] += (v as f64 - mean[i % k]).powi(2) / n);
    let std = var
        .iter()
        .map(|v| if *v > 0.0 { v.sqrt() as f32 } else { 1.0 })
        .collect();
    Some(TargetScale {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    })
}

/// y = std·(W·x + b) + mean, as the output layer's own weights: W ← diag(std)·W,
/// b ← std·b + mean.
fn fold_target_scale(model: &mut Model, ts: &TargetScale) -> Result<()> {
    let last = model
        .net
        .layers
        .last()
        .expect("validated: at least one layer");
    let (w, b) = (last.weight, last.bias.expect("foldable: a per-unit bias"));
    let inp = last.in_features;
    let p = &mut model.params;
    for (j, row) in p[w].data_mut().chunks_exact_mut(inp).enumerate() {
        row.iter_mut().for_each(|v| *v *= ts.std[j]);
    }
    for (j, v) in p[b].data_mut().iter_mut().enumerate() {
        *v = *v * ts.std[j] + ts.mean[j];
    }
    Ok(())
}

fn is_binary(v: &[f32]) -> bool {
    v.iter().all(|&x| x == 0.0 || x == 1.0)
}

/// The output layer's width and default activation for `data` under `loss`.
fn output_layer(data: &Dataset, loss: Loss) -> Result<(usize, Activation)> {
    Ok(match (data.targets(), loss) {
        (Targets::Classes { names, .. }, l) if l.takes_classes() => {
            (names.len(), Activation::Identity)
        }
        (Targets::Classes { names, .. }, _) if names.len() <= 2 => (1, Activation::Sigmoid),
        (Targets::Classes { names, .. }, Loss::BceWithLogits) => {
            return Err(Error::invalid(
                "loss",
                format!("bce for {} classes", names.len()),
                "two classes for bce (cross_entropy for more)",
            ))
        }
        (Targets::Classes { names, .. }, _) => (names.len(), Activation::Sigmoid),
        (Targets::Values { .. }, l) if l.takes_classes() => {
            return Err(Error::invalid(
                "loss",
                l,
                "a loss for numeric targets (the target is numeric: try --task classification)",
            ))
        }
        (Targets::Values { names, .. }, Loss::BceWithLogits) => (names.len(), Activation::Sigmoid),
        (Targets::Values { names, .. }, _) => (names.len(), Activation::Identity),
    })
}

fn task_of(data: &Dataset) -> TaskInfo {
    match data.targets() {
        Targets::Classes { names, .. } => TaskInfo::Classification {
            classes: names.clone(),
        },
        Targets::Values { names, .. } => TaskInfo::Regression {
            targets: names.clone(),
        },
    }
}
