//! An optimizer described as data: what a checkpoint stores and what the command line builds.

use crate::error::{Error, Result};
use crate::optim::{Adagrad, Adam, AdamW, Lbfgs, Optimizer, Quickprop, RmsProp, Rprop, Sgd};
use serde::{Deserialize, Serialize};

/// An optimizer's name and hyper-parameters.
///
/// ```
/// use backprop::optim::OptimizerConfig;
/// let cfg = OptimizerConfig::default_for("sgd", Some(0.05)).unwrap().with_momentum(0.9);
/// let opt = cfg.build().unwrap();
/// assert_eq!(opt.lr(), 0.05);
/// assert!(OptimizerConfig::default_for("lbfgs", None).unwrap().is_full_batch_closure());
/// assert!(OptimizerConfig::default_for("newton", None).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`Sgd`].
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum μ.
        momentum: f32,
        /// Dampening τ.
        dampening: f32,
        /// L2 weight decay λ.
        weight_decay: f32,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// [`Adagrad`].
    Adagrad {
        /// Learning rate.
        lr: f32,
        /// Learning-rate decay.
        lr_decay: f32,
        /// L2 weight decay.
        weight_decay: f32,
        /// Initial accumulator value.
        initial_accumulator_value: f32,
        /// ε.
        eps: f32,
    },
    /// [`RmsProp`].
    Rmsprop {
        /// Learning rate.
        lr: f32,
        /// Smoothing constant α.
        alpha: f32,
        /// ε.
        eps: f32,
        /// L2 weight decay.
        weight_decay: f32,
        /// Momentum.
        momentum: f32,
        /// Centered variant.
        centered: bool,
    },
    /// [`Adam`].
    Adam {
        /// Learning rate.
        lr: f32,
        /// (β₁, β₂).
        betas: (f32, f32),
        /// ε.
        eps: f32,
        /// L2 weight decay.
        weight_decay: f32,
        /// AMSGrad variant.
        amsgrad: bool,
    },
    /// [`AdamW`].
    Adamw {
        /// Learning rate.
        lr: f32,
        /// (β₁, β₂).
        betas: (f32, f32),
        /// ε.
        eps: f32,
        /// Decoupled weight decay.
        weight_decay: f32,
        /// AMSGrad variant.
        amsgrad: bool,
    },
    /// [`Rprop`].
    Rprop {
        /// Initial step size Δ₀.
        lr: f32,
        /// (η⁻, η⁺).
        etas: (f32, f32),
        /// (Δmin, Δmax).
        step_sizes: (f32, f32),
    },
    /// [`Quickprop`].
    Quickprop {
        /// Learning rate ε of the gradient-descent term.
        lr: f32,
        /// Maximum growth factor μ.
        mu: f32,
        /// Weight decay λ, added to the slope.
        weight_decay: f32,
    },
    /// [`Lbfgs`]. The trainer runs it full batch: each epoch is one [`Lbfgs::step_closure`] over
    /// the whole training set, whatever the batch size.
    Lbfgs {
        /// First trial step of each line search.
        lr: f32,
        /// Iterations per epoch (per call).
        max_iter: usize,
        /// Loss evaluations per epoch (`None` = `max_iter · 5/4`).
        max_eval: Option<usize>,
        /// Gradient tolerance.
        tolerance_grad: f32,
        /// Loss/parameter change tolerance.
        tolerance_change: f32,
        /// Remembered (s, y) pairs.
        history_size: usize,
    },
}

impl Default for OptimizerConfig {
    /// Adam with PyTorch's defaults (lr 1e-3), as scikit-learn's MLP and the command line use.
    fn default() -> OptimizerConfig {
        OptimizerConfig::adam(1e-3)
    }
}

impl OptimizerConfig {
    /// Plain SGD with learning rate `lr` (add momentum with [`OptimizerConfig::with_momentum`]).
    pub fn sgd(lr: f32) -> OptimizerConfig {
        OptimizerConfig::default_for("sgd", Some(lr)).expect("sgd is a known optimizer")
    }

    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn adam(lr: f32) -> OptimizerConfig {
        OptimizerConfig::default_for("adam", Some(lr)).expect("adam is a known optimizer")
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        match *self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adagrad { lr, .. }
            | OptimizerConfig::Rmsprop { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adamw { lr, .. }
            | OptimizerConfig::Rprop { lr, .. }
            | OptimizerConfig::Quickprop { lr, .. }
            | OptimizerConfig::Lbfgs { lr, .. } => lr,
        }
    }

    /// Whether this is L-BFGS, which the trainer runs on the full batch through a closure.
    pub fn is_full_batch_closure(&self) -> bool {
        matches!(self, OptimizerConfig::Lbfgs { .. })
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

    /// PyTorch's defaults for the named optimizer, with `lr` if given (SGD's default lr here is
    /// 0.01, since PyTorch has none; Quickprop, which PyTorch lacks, has ε = 0.1 and μ = 1.75;
    /// L-BFGS has history 10, scipy's, where PyTorch keeps 100).
    pub fn default_for(name: &str, lr: Option<f32>) -> Result<OptimizerConfig> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "sgd" => {
                let o = Sgd::new(lr.unwrap_or(0.01));
                OptimizerConfig::Sgd {
                    lr: o.lr,
                    momentum: o.momentum,
                    dampening: o.dampening,
                    weight_decay: o.weight_decay,
                    nesterov: o.nesterov,
                }
            }
            "adagrad" => {
                let o = Adagrad::default();
                OptimizerConfig::Adagrad {
                    lr: lr.unwrap_or(o.lr),
                    lr_decay: o.lr_decay,
                    weight_decay: o.weight_decay,
                    initial_accumulator_value: o.initial_accumulator_value,
                    eps: o.eps,
                }
            }
            "rmsprop" => {
                let o = RmsProp::default();
                OptimizerConfig::Rmsprop {
                    lr: lr.unwrap_or(o.lr),
                    alpha: o.alpha,
                    eps: o.eps,
                    weight_decay: o.weight_decay,
                    momentum: o.momentum,
                    centered: o.centered,
                }
            }
            "adam" => {
                let o = Adam::default();
                OptimizerConfig::Adam {
                    lr: lr.unwrap_or(o.lr),
                    betas: o.betas,
                    eps: o.eps,
                    weight_decay: o.weight_decay,
                    amsgrad: o.amsgrad,
                }
            }
            "adamw" => {
                let o = AdamW::default();
                OptimizerConfig::Adamw {
                    lr: lr.unwrap_or(o.lr),
                    betas: o.betas,
                    eps: o.eps,
                    weight_decay: o.weight_decay,
                    amsgrad: o.amsgrad,
                }
            }
            "rprop" => {
                let o = Rprop::new(lr.unwrap_or(0.1));
                OptimizerConfig::Rprop {
                    lr: o.lr,
                    etas: o.etas,
                    step_sizes: o.step_sizes,
                }
            }
            "quickprop" => {
                let o = Quickprop::new(lr.unwrap_or(Quickprop::default().lr));
                OptimizerConfig::Quickprop {
                    lr: o.lr,
                    mu: o.mu,
                    weight_decay: o.weight_decay,
                }
            }
            "lbfgs" => {
                let o = Lbfgs::new(lr.unwrap_or(Lbfgs::default().lr));
                OptimizerConfig::Lbfgs {
                    lr: o.lr,
                    max_iter: o.max_iter,
                    max_eval: o.max_eval,
                    tolerance_grad: o.tolerance_grad,
                    tolerance_change: o.tolerance_change,
                    history_size: o.history_size,
                }
            }
            other => {
                return Err(Error::invalid(
                    "optimizer",
                    other,
                    "one of sgd, adagrad, rmsprop, adam, adamw, rprop, quickprop, lbfgs",
                ))
            }
        })
    }

    /// Sets momentum (SGD, RMSprop); ignored by the others.
    pub fn with_momentum(mut self, m: f32) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd { momentum, .. } | OptimizerConfig::Rmsprop { momentum, .. } => {
                *momentum = m
            }
            _ => {}
        }
        self
    }

    /// Sets weight decay (all but Rprop and L-BFGS, which have none).
    pub fn with_weight_decay(mut self, w: f32) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd { weight_decay, .. }
            | OptimizerConfig::Adagrad { weight_decay, .. }
            | OptimizerConfig::Rmsprop { weight_decay, .. }
            | OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::Adamw { weight_decay, .. }
            | OptimizerConfig::Quickprop { weight_decay, .. } => *weight_decay = w,
            OptimizerConfig::Rprop { .. } | OptimizerConfig::Lbfgs { .. } => {}
        }
        self
    }

    /// Sets the L-BFGS history size (L-BFGS only; ignored by the others).
    pub fn with_history_size(mut self, n: usize) -> OptimizerConfig {
        if let OptimizerConfig::Lbfgs { history_size, .. } = &mut self {
            *history_size = n;
        }
        self
    }

    /// Sets L-BFGS's iterations per epoch (L-BFGS only; ignored by the others).
    pub fn with_max_iter(mut self, n: usize) -> OptimizerConfig {
        if let OptimizerConfig::Lbfgs { max_iter, .. } = &mut self {
            *max_iter = n;
        }
        self
    }

    /// Sets Nesterov momentum (SGD only).
    pub fn with_nesterov(mut self, on: bool) -> OptimizerConfig {
        if let OptimizerConfig::Sgd { nesterov, .. } = &mut self {
            *nesterov = on;
        }
        self
    }

    /// The optimizer's short name.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adagrad { .. } => "adagrad",
            OptimizerConfig::Rmsprop { .. } => "rmsprop",
            OptimizerConfig::Adam { .. } => "adam",
            OptimizerConfig::Adamw { .. } => "adamw",
            OptimizerConfig::Rprop { .. } => "rprop",
            OptimizerConfig::Quickprop { .. } => "quickprop",
            OptimizerConfig::Lbfgs { .. } => "lbfgs",
        }
    }

    /// Builds (and validates) the optimizer.
    pub fn build(&self) -> Result<Box<dyn Optimizer>> {
        Ok(match *self {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
            } => Box::new(
                Sgd::new(lr)
                    .momentum(momentum)
                    .dampening(dampening)
                    .weight_decay(weight_decay)
                    .nesterov(nesterov)
                    .build()?,
            ),
            OptimizerConfig::Adagrad {
                lr,
                lr_decay,
                weight_decay,
                initial_accumulator_value,
                eps,
            } => {
                let mut o = Adagrad::new(lr);
                (
                    o.lr_decay,
                    o.weight_decay,
                    o.initial_accumulator_value,
                    o.eps,
                ) = (lr_decay, weight_decay, initial_accumulator_value, eps);
                Box::new(o.build()?)
            }
            OptimizerConfig::Rmsprop {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                let mut o = RmsProp::new(lr);
                (o.alpha, o.eps, o.weight_decay, o.momentum, o.centered) =
                    (alpha, eps, weight_decay, momentum, centered);
                Box::new(o.build()?)
            }
            OptimizerConfig::Adam {
                lr,
                betas,
                eps,
                weight_decay,
                amsgrad,
            } => {
                let mut o = Adam::new(lr);
                (o.betas, o.eps, o.weight_decay, o.amsgrad) = (betas, eps, weight_decay, amsgrad);
                Box::new(o.build()?)
            }
            OptimizerConfig::Adamw {
                lr,
                betas,
                eps,
                weight_decay,
                amsgrad,
            } => {
                let mut o = AdamW::new(lr);
                (o.betas, o.eps, o.weight_decay, o.amsgrad) = (betas, eps, weight_decay, amsgrad);
                Box::new(o.build()?)
            }
            OptimizerConfig::Rprop {
                lr,
                etas,
                step_sizes,
            } => {
                let mut o = Rprop::new(lr);
                (o.etas, o.step_sizes) = (etas, step_sizes);
                Box::new(o.build()?)
            }
            OptimizerConfig::Quickprop {
                lr,
                mu,
                weight_decay,
            } => Box::new(
                Quickprop::new(lr)
                    .mu(mu)
                    .weight_decay(weight_decay)
                    .build()?,
            ),
            OptimizerConfig::Lbfgs {
                lr,
                max_iter,
                max_eval,
                tolerance_grad,
                tolerance_change,
                history_size,
            } => {
                let mut o = Lbfgs::new(lr);
                (o.max_iter, o.max_eval, o.history_size) = (max_iter, max_eval, history_size);
                (o.tolerance_grad, o.tolerance_change) = (tolerance_grad, tolerance_change);
                Box::new(o.build()?)
            }
        })
    }
}
