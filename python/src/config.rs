//! The estimator's settings, as the Python side sends them (JSON), turned into the library's
//! [`Pipeline`]: every decision about training is the library's; this file only maps
//! scikit-learn's names onto it.

use backprop::nn::{Activation, Init};
use backprop::optim::{
    AdamConfig, LbfgsConfig, LrSchedule, OptimizerConfig, ReduceLrOnPlateau, SgdConfig,
};
use backprop::pipeline::{Network, Pipeline};
use backprop::tensor::Precision;
use backprop::train::{EarlyStopping, Monitor};
use backprop::{data::ScaleKind, Error, Loss, Result};

/// The library's error for a setting out of its range.
pub(crate) fn invalid(name: &'static str, value: impl ToString, expected: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value: value.to_string(),
        expected,
    }
}
use serde::Deserialize;

/// One `fit`'s settings: scikit-learn's MLP parameters (resolved by the Python side: `batch_size`
/// is a number, `random_state` a seed) and ours.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub hidden_layer_sizes: Vec<usize>,
    pub activation: String,
    pub solver: String,
    pub alpha: f32,
    pub batch_size: usize,
    pub learning_rate: String,
    pub learning_rate_init: f32,
    pub max_iter: usize,
    pub tol: f32,
    pub n_iter_no_change: usize,
    pub early_stopping: bool,
    pub validation_fraction: f32,
    pub shuffle: bool,
    pub seed: u64,
    pub momentum: f32,
    pub nesterovs_momentum: bool,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub loss: String,
    pub dropout: f32,
    pub batch_norm: bool,
    pub restore_best_weights: bool,
    pub precision: String,
    pub scale: String,
    pub scale_targets: bool,
    pub init: String,
}

fn parse<T: std::str::FromStr>(what: &'static str, v: &str, expected: &'static str) -> Result<T> {
    v.parse().map_err(|_| invalid(what, v, expected))
}

impl Config {
    /// The hidden layers' θ by scikit-learn's names (and the library's own).
    fn activation(&self) -> Result<Activation> {
        Ok(match self.activation.as_str() {
            "identity" => Activation::Identity,
            "logistic" => Activation::Sigmoid,
            other => parse(
                "activation",
                other,
                "identity, logistic, tanh or relu (or leaky_relu)",
            )?,
        })
    }

    /// The optimizer: `alpha` (scikit-learn's L2 penalty `α/2·‖W‖²/batch`) becomes the
    /// optimizer's weight decay `α/batch`.
    fn optimizer(&self) -> Result<OptimizerConfig> {
        let lr = self.learning_rate_init;
        let wd = self.alpha / self.batch_size.max(1) as f32;
        Ok(match self.solver.as_str() {
            "adam" => OptimizerConfig::Adam(AdamConfig {
                lr,
                betas: (self.beta_1, self.beta_2),
                eps: self.epsilon,
                weight_decay: wd,
                ..AdamConfig::default()
            }),
            "sgd" => OptimizerConfig::Sgd(SgdConfig {
                lr,
                momentum: self.momentum,
                weight_decay: wd,
                nesterov: self.nesterovs_momentum && self.momentum > 0.0,
                ..SgdConfig::default()
            }),
            // one L-BFGS iteration per epoch: max_iter counts iterations, as scipy's does
            "lbfgs" => OptimizerConfig::Lbfgs(LbfgsConfig {
                max_iter: 1,
                ..LbfgsConfig::default()
            }),
            other => OptimizerConfig::default_for(other, Some(lr))?,
        })
    }

    /// `learning_rate`: constant, or adaptive (÷5 after `n_iter_no_change` epochs without a
    /// training-loss improvement of `tol`).
    fn schedule(&self) -> Result<Option<LrSchedule>> {
        Ok(match self.learning_rate.as_str() {
            "constant" => None,
            "adaptive" => {
                let mut p = ReduceLrOnPlateau::new();
                p.factor = 0.2;
                p.patience = self.n_iter_no_change;
                p.threshold = self.tol;
                p.threshold_mode = backprop::optim::ThresholdMode::Abs;
                p.min_lr = 1e-6;
                Some(LrSchedule::Plateau(p))
            }
            other => {
                return Err(invalid(
                    "learning_rate",
                    other,
                    "constant or adaptive (invscaling is not supported)",
                ))
            }
        })
    }

    /// The library's pipeline for this configuration: no small-data rule and no test part
    /// (scikit-learn's semantics are explicit), a validation part only with early stopping.
    pub fn pipeline(&self) -> Result<Pipeline> {
        let mut p = Pipeline {
            network: Network::Hidden {
                sizes: Some(self.hidden_layer_sizes.clone()),
                activation: self.activation()?,
                output_activation: None,
                dropout: self.dropout,
                batch_norm: self.batch_norm,
            },
            loss: Some(parse::<Loss>("loss", &self.loss, "a loss name")?),
            scale: parse::<ScaleKind>("scale", &self.scale, "auto, standard, minmax or none")?,
            scale_targets: self.scale_targets,
            init: Some(parse::<Init>(
                "init",
                &self.init,
                "xavier_uniform, xavier_normal, kaiming_uniform, kaiming_normal or pytorch",
            )?),
            small_data: None,
            test_split: 0.0,
            val_split: if self.early_stopping {
                self.validation_fraction
            } else {
                0.0
            },
            ..Pipeline::default()
        };
        let t = &mut p.trainer;
        t.optimizer = self.optimizer()?;
        t.lr_schedule = self.schedule()?;
        t.epochs = self.max_iter;
        t.batch_size = self.batch_size;
        t.shuffle = self.shuffle;
        t.seed = self.seed;
        t.precision = parse::<Precision>("precision", &self.precision, "f32 or bf16")?;
        // scikit-learn stops after more than n_iter_no_change epochs without an improvement
        // of tol; adaptive rates lower the rate instead of stopping
        t.early_stopping = (self.learning_rate != "adaptive").then_some(EarlyStopping {
            monitor: if self.early_stopping {
                Monitor::ValLoss
            } else {
                Monitor::Loss
            },
            patience: self.n_iter_no_change + 1,
            min_delta: self.tol,
            restore_best: self.early_stopping && self.restore_best_weights,
        });
        Ok(p)
    }
}
