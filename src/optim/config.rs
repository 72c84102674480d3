//! An optimizer described as data: what a checkpoint stores and what the command line builds.

use crate::error::{Error, Result};
use crate::optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, Lbfgs, LbfgsConfig, LearningRate, Optimizer,
    Quickprop, QuickpropConfig, RmsProp, RmsPropConfig, Rprop, RpropConfig, Sgd, SgdConfig,
};
use crate::params::Parameters;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// An optimizer and its settings, one config struct per optimizer.
///
/// As JSON it is the config's fields with the optimizer's `name` (`"sgd"`, `"adagrad"`,
/// `"rmsprop"`, `"adam"`, `"adamw"`, `"rprop"`, `"quickprop"`, `"lbfgs"`); `adamw` is
/// [`AdamConfig`] with decoupled weight decay. Reading one runs the same checks as building one
/// ([`OptimizerConfig::validate`]): a file cannot hold what code could not build.
///
/// ```
/// use backprop::optim::{AdamConfig, LearningRate, OptimizerConfig};
/// let cfg = OptimizerConfig::default_for("sgd", Some(0.05))?.with_momentum(0.9);
/// let opt = cfg.build()?;
/// assert_eq!(opt.lr(), 0.05);
/// assert!(OptimizerConfig::default_for("lbfgs", None)?.is_full_batch_closure());
/// assert!(OptimizerConfig::default_for("newton", None).is_err());
/// // AdamW is Adam with decoupled weight decay, named "adamw" in files
/// let adamw = OptimizerConfig::Adam(AdamConfig::adamw());
/// let json = serde_json::to_string(&adamw).unwrap();
/// assert!(json.starts_with(r#"{"name":"adamw","lr":0.001,"betas":[0.9,0.999]"#), "{json}");
/// assert_eq!(serde_json::from_str::<OptimizerConfig>(&json).unwrap(), adamw);
/// // values a builder would refuse are refused when read, naming the field
/// let bad = json.replace("0.999", "1.5");
/// let err = serde_json::from_str::<OptimizerConfig>(&bad).unwrap_err().to_string();
/// assert!(err.contains("beta2") && err.contains("[0, 1)"), "{err}");
/// # Ok::<(), backprop::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub enum OptimizerConfig {
    /// [`Sgd`].
    Sgd(SgdConfig),
    /// [`Adagrad`].
    Adagrad(AdagradConfig),
    /// [`RmsProp`].
    RmsProp(RmsPropConfig),
    /// [`Adam`], and AdamW ([`AdamConfig::decoupled_weight_decay`]).
    Adam(AdamConfig),
    /// [`Rprop`].
    Rprop(RpropConfig),
    /// [`Quickprop`].
    Quickprop(QuickpropConfig),
    /// [`Lbfgs`]. The trainer runs it full batch: each epoch is one [`Lbfgs::step_closure`] over
    /// the whole training set, whatever the batch size.
    Lbfgs(LbfgsConfig),
}

/// The JSON form: the config's fields beside the optimizer's name, as files have always held.
#[derive(Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
enum Wire {
    Sgd(SgdConfig),
    Adagrad(AdagradConfig),
    Rmsprop(RmsPropConfig),
    Adam(AdamConfig),
    Adamw(AdamConfig),
    Rprop(RpropConfig),
    Quickprop(QuickpropConfig),
    Lbfgs(LbfgsConfig),
}

impl TryFrom<Wire> for OptimizerConfig {
    type Error = Error;
    fn try_from(w: Wire) -> Result<OptimizerConfig> {
        let cfg = match w {
            Wire::Sgd(c) => OptimizerConfig::Sgd(c),
            Wire::Adagrad(c) => OptimizerConfig::Adagrad(c),
            Wire::Rmsprop(c) => OptimizerConfig::RmsProp(c),
            Wire::Adam(c) => OptimizerConfig::Adam(c),
            Wire::Adamw(c) => OptimizerConfig::Adam(AdamConfig {
                decoupled_weight_decay: true,
                ..c
            }),
            Wire::Rprop(c) => OptimizerConfig::Rprop(c),
            Wire::Quickprop(c) => OptimizerConfig::Quickprop(c),
            Wire::Lbfgs(c) => OptimizerConfig::Lbfgs(c),
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl From<OptimizerConfig> for Wire {
    fn from(cfg: OptimizerConfig) -> Wire {
        match cfg {
            OptimizerConfig::Sgd(c) => Wire::Sgd(c),
            OptimizerConfig::Adagrad(c) => Wire::Adagrad(c),
            OptimizerConfig::RmsProp(c) => Wire::Rmsprop(c),
            // the name says it: the flag is not written again
            OptimizerConfig::Adam(c) if c.decoupled_weight_decay => Wire::Adamw(AdamConfig {
                decoupled_weight_decay: false,
                ..c
            }),
            OptimizerConfig::Adam(c) => Wire::Adam(c),
            OptimizerConfig::Rprop(c) => Wire::Rprop(c),
            OptimizerConfig::Quickprop(c) => Wire::Quickprop(c),
            OptimizerConfig::Lbfgs(c) => Wire::Lbfgs(c),
        }
    }
}

impl Default for OptimizerConfig {
    /// Adam with PyTorch's defaults (lr 1e-3), as scikit-learn's MLP and the command line use.
    fn default() -> OptimizerConfig {
        OptimizerConfig::Adam(AdamConfig::default())
    }
}

impl OptimizerConfig {
    /// Plain SGD with learning rate `lr` (add momentum with [`OptimizerConfig::with_momentum`]).
    pub fn sgd(lr: f32) -> OptimizerConfig {
        OptimizerConfig::Sgd(SgdConfig {
            lr,
            ..SgdConfig::default()
        })
    }

    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn adam(lr: f32) -> OptimizerConfig {
        OptimizerConfig::Adam(AdamConfig {
            lr,
            ..AdamConfig::default()
        })
    }

    /// The learning rate (L-BFGS: the first trial step of each line search).
    pub fn lr(&self) -> f32 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adagrad(c) => c.lr,
            OptimizerConfig::RmsProp(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
            OptimizerConfig::Rprop(c) => c.lr,
            OptimizerConfig::Quickprop(c) => c.lr,
            OptimizerConfig::Lbfgs(c) => c.lr,
        }
    }

    fn lr_mut(&mut self) -> &mut f32 {
        match self {
            OptimizerConfig::Sgd(c) => &mut c.lr,
            OptimizerConfig::Adagrad(c) => &mut c.lr,
            OptimizerConfig::RmsProp(c) => &mut c.lr,
            OptimizerConfig::Adam(c) => &mut c.lr,
            OptimizerConfig::Rprop(c) => &mut c.lr,
            OptimizerConfig::Quickprop(c) => &mut c.lr,
            OptimizerConfig::Lbfgs(c) => &mut c.lr,
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f32) -> OptimizerConfig {
        *self.lr_mut() = lr;
        self
    }

    /// Whether this is L-BFGS, which the trainer runs on the full batch through a closure.
    pub fn is_full_batch_closure(&self) -> bool {
        matches!(self, OptimizerConfig::Lbfgs(_))
    }

    /// The names [`OptimizerConfig::default_for`] accepts.
    pub const NAMES: [&'static str; 8] = [
        "sgd",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
        "rprop",
        "quickprop",
        "lbfgs",
    ];

    /// The named optimizer with its config's defaults (PyTorch's, see each config), and `lr` if
    /// given. Without `lr`, SGD's is 0.01 here (PyTorch's default, 1e-3, is rarely what a
    /// command line wants).
    pub fn default_for(name: &str, lr: Option<f32>) -> Result<OptimizerConfig> {
        let cfg = match name.to_ascii_lowercase().as_str() {
            "sgd" => OptimizerConfig::sgd(0.01),
            "adagrad" => OptimizerConfig::Adagrad(AdagradConfig::default()),
            "rmsprop" => OptimizerConfig::RmsProp(RmsPropConfig::default()),
            "adam" => OptimizerConfig::Adam(AdamConfig::default()),
            "adamw" => OptimizerConfig::Adam(AdamConfig::adamw()),
            "rprop" => OptimizerConfig::Rprop(RpropConfig::default()),
            "quickprop" => OptimizerConfig::Quickprop(QuickpropConfig::default()),
            "lbfgs" => OptimizerConfig::Lbfgs(LbfgsConfig::default()),
            other => {
                return Err(Error::invalid(
                    "optimizer",
                    other,
                    "one of sgd, adagrad, rmsprop, adam, adamw, rprop, quickprop, lbfgs",
                ))
            }
        };
        Ok(match lr {
            Some(lr) => cfg.with_lr(lr),
            None => cfg,
        })
    }

    /// Sets momentum (SGD, RMSprop); ignored by the others.
    pub fn with_momentum(mut self, m: f32) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd(c) => c.momentum = m,
            OptimizerConfig::RmsProp(c) => c.momentum = m,
            _ => {}
        }
        self
    }

    /// Sets weight decay (all but Rprop and L-BFGS, which have none).
    pub fn with_weight_decay(mut self, w: f32) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd(c) => c.weight_decay = w,
            OptimizerConfig::Adagrad(c) => c.weight_decay = w,
            OptimizerConfig::RmsProp(c) => c.weight_decay = w,
            OptimizerConfig::Adam(c) => c.weight_decay = w,
            OptimizerConfig::Quickprop(c) => c.weight_decay = w,
            OptimizerConfig::Rprop(_) | OptimizerConfig::Lbfgs(_) => {}
        }
        self
    }

    /// Sets the L-BFGS history size (L-BFGS only; ignored by the others).
    pub fn with_history_size(mut self, n: usize) -> OptimizerConfig {
        if let OptimizerConfig::Lbfgs(c) = &mut self {
            c.history_size = n;
        }
        self
    }

    /// Sets L-BFGS's iterations per epoch (L-BFGS only; ignored by the others).
    pub fn with_max_iter(mut self, n: usize) -> OptimizerConfig {
        if let OptimizerConfig::Lbfgs(c) = &mut self {
            c.max_iter = n;
        }
        self
    }

    /// Sets Nesterov momentum (SGD only).
    pub fn with_nesterov(mut self, on: bool) -> OptimizerConfig {
        if let OptimizerConfig::Sgd(c) = &mut self {
            c.nesterov = on;
        }
        self
    }

    /// The optimizer's short name, as [`OptimizerConfig::default_for`] takes it and files hold it.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd(_) => "sgd",
            OptimizerConfig::Adagrad(_) => "adagrad",
            OptimizerConfig::RmsProp(_) => "rmsprop",
            OptimizerConfig::Adam(c) if c.decoupled_weight_decay => "adamw",
            OptimizerConfig::Adam(_) => "adam",
            OptimizerConfig::Rprop(_) => "rprop",
            OptimizerConfig::Quickprop(_) => "quickprop",
            OptimizerConfig::Lbfgs(_) => "lbfgs",
        }
    }

    /// Checks the settings (the config's own `validate`).
    ///
    /// # Errors
    /// The first setting out of its range, naming it and the range.
    pub fn validate(&self) -> Result<()> {
        match self {
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adagrad(c) => c.validate(),
            OptimizerConfig::RmsProp(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
            OptimizerConfig::Rprop(c) => c.validate(),
            OptimizerConfig::Quickprop(c) => c.validate(),
            OptimizerConfig::Lbfgs(c) => c.validate(),
        }
    }

    /// Builds (and validates) the optimizer: a gradient [`Optimizer`], or [`Lbfgs`].
    pub fn build(&self) -> Result<AnyOptimizer> {
        let boxed: Box<dyn Optimizer> = match *self {
            OptimizerConfig::Sgd(c) => Box::new(Sgd::new(c)?),
            OptimizerConfig::Adagrad(c) => Box::new(Adagrad::new(c)?),
            OptimizerConfig::RmsProp(c) => Box::new(RmsProp::new(c)?),
            OptimizerConfig::Adam(c) => Box::new(Adam::new(c)?),
            OptimizerConfig::Rprop(c) => Box::new(Rprop::new(c)?),
            OptimizerConfig::Quickprop(c) => Box::new(Quickprop::new(c)?),
            OptimizerConfig::Lbfgs(c) => return Ok(AnyOptimizer::Lbfgs(Lbfgs::new(c)?)),
        };
        Ok(AnyOptimizer::Gradient(boxed))
    }
}

/// A built optimizer, as the trainer holds it: a gradient [`Optimizer`] stepped once per batch,
/// or [`Lbfgs`], driven once per epoch by a full-batch closure. Both have a learning rate (for
/// schedules) and state (for checkpoints).
pub enum AnyOptimizer {
    /// SGD, Adagrad, RMSprop, Adam(W), Rprop or Quickprop.
    Gradient(Box<dyn Optimizer>),
    /// L-BFGS.
    Lbfgs(Lbfgs),
}

impl AnyOptimizer {
    /// The optimizer's state as named tensors, for checkpoints.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        match self {
            AnyOptimizer::Gradient(o) => o.state(),
            AnyOptimizer::Lbfgs(o) => o.state(),
        }
    }

    /// Restores state saved by [`AnyOptimizer::state`], after checking it against `params`.
    ///
    /// # Errors
    /// State that does not fit `params` or this optimizer.
    pub fn load_state_checked(
        &mut self,
        params: &Parameters,
        state: &[(String, Tensor)],
    ) -> Result<()> {
        match self {
            AnyOptimizer::Gradient(o) => o.load_state_checked(params, state),
            AnyOptimizer::Lbfgs(o) => o.load_state_checked(params, state),
        }
    }
}

impl LearningRate for AnyOptimizer {
    fn lr(&self) -> f32 {
        match self {
            AnyOptimizer::Gradient(o) => o.lr(),
            AnyOptimizer::Lbfgs(o) => o.lr(),
        }
    }

    fn set_lr(&mut self, lr: f32) {
        match self {
            AnyOptimizer::Gradient(o) => o.set_lr(lr),
            AnyOptimizer::Lbfgs(o) => o.set_lr(lr),
        }
    }
}
