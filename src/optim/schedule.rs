//! Learning-rate schedules, as PyTorch's `torch.optim.lr_scheduler`. Call
//! [`LrScheduler::step`] once per epoch, after the epoch's optimizer steps.
//!
//! With base rate η₀ (the optimizer's lr when the schedule first steps) and e the number of
//! schedule steps so far, the rate for the next epoch is:
//!
//! ```text
//! StepLr:             η₀ · γ^⌊e / step_size⌋
//! ExponentialLr:      η₀ · γ^e
//! CosineAnnealingLr:  η_min + (η₀ − η_min)·(1 + cos(π·e / T_max))/2
//! ReduceLrOnPlateau:  η ← max(η·factor, min_lr) after more than `patience` epochs without
//!                     improvement, then `cooldown` epochs in which bad epochs are not counted
//! ```
//!
//! Unlike PyTorch, whose `step()` uses a chainable form (`lr *= γ` at each boundary), the first
//! three are computed in closed form from η₀ (in f64); the values are the same up to rounding,
//! but a change made to the lr by something else is overwritten at the next step.

use crate::error::{Error, Result};
use crate::optim::state::non_negative;
use serde::{Deserialize, Serialize};

pub use super::plateau::{PlateauMode, ReduceLrOnPlateau, ThresholdMode};
pub use super::rate::{LearningRate, LrScheduler};

fn positive_int(name: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(Error::invalid(name, v, "must be at least 1"));
    }
    Ok(())
}

/// Checks the base rate η₀ a schedule recorded (read back from a checkpoint): ≥ 0 and finite.
pub(super) fn base_rate(base: Option<f32>) -> Result<()> {
    match base {
        Some(b) if !(b >= 0.0 && b.is_finite()) => Err(Error::invalid(
            "schedule base lr",
            b,
            "must be >= 0 and finite",
        )),
        _ => Ok(()),
    }
}

/// Multiplies the lr by γ every `step_size` epochs. Default γ = 0.1, as PyTorch.
///
/// ```
/// use backprop::optim::{LrScheduler, LearningRate, Sgd, SgdConfig, StepLr};
/// let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
/// let mut sched = StepLr::new(2).gamma(0.5).build().unwrap();
/// let mut lrs = vec![];
/// for _ in 0..4 {
///     sched.step(&mut opt, None);
///     lrs.push(opt.lr());
/// }
/// assert_eq!(lrs, vec![1.0, 0.5, 0.5, 0.25]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLr {
    /// Epochs between decays (≥ 1).
    pub step_size: usize,
    /// Multiplicative factor γ (≥ 0).
    pub gamma: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<f32>,
    #[serde(default)]
    epoch: usize,
}

impl StepLr {
    /// Decays every `step_size` epochs by γ = 0.1.
    pub fn new(step_size: usize) -> StepLr {
        StepLr {
            step_size,
            gamma: 0.1,
            base: None,
            epoch: 0,
        }
    }

    /// Sets γ.
    pub fn gamma(mut self, gamma: f32) -> StepLr {
        self.gamma = gamma;
        self
    }

    /// Checks step_size ≥ 1 and γ ≥ 0 (PyTorch checks neither), and a saved base rate.
    pub fn validate(&self) -> Result<()> {
        positive_int("step_size", self.step_size)?;
        non_negative("gamma", self.gamma)?;
        base_rate(self.base)
    }

    /// [`StepLr::validate`]s and returns the schedule, ending a builder chain.
    pub fn build(self) -> Result<StepLr> {
        self.validate()?;
        Ok(self)
    }
}

impl LrScheduler for StepLr {
    fn step(&mut self, opt: &mut dyn LearningRate, _metric: Option<f32>) {
        let base = *self.base.get_or_insert(opt.lr());
        self.epoch += 1;
        let k = (self.epoch / self.step_size.max(1)) as i32;
        opt.set_lr((base as f64 * (self.gamma as f64).powi(k)) as f32);
    }
}

/// Multiplies the lr by γ every epoch.
///
/// ```
/// use backprop::optim::{ExponentialLr, LrScheduler, LearningRate, Sgd, SgdConfig};
/// let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
/// let mut sched = ExponentialLr::new(0.5).build().unwrap();
/// sched.step(&mut opt, None);
/// sched.step(&mut opt, None);
/// assert_eq!(opt.lr(), 0.25);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentialLr {
    /// Multiplicative factor γ (≥ 0).
    pub gamma: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<f32>,
    #[serde(default)]
    epoch: usize,
}

impl ExponentialLr {
    /// Decays by γ every epoch.
    pub fn new(gamma: f32) -> ExponentialLr {
        ExponentialLr {
            gamma,
            base: None,
            epoch: 0,
        }
    }

    /// Checks γ ≥ 0 (PyTorch does not), and a saved base rate.
    pub fn validate(&self) -> Result<()> {
        non_negative("gamma", self.gamma)?;
        base_rate(self.base)
    }

    /// [`ExponentialLr::validate`]s and returns the schedule, ending a builder chain.
    pub fn build(self) -> Result<ExponentialLr> {
        self.validate()?;
        Ok(self)
    }
}

impl LrScheduler for ExponentialLr {
    fn step(&mut self, opt: &mut dyn LearningRate, _metric: Option<f32>) {
        let base = *self.base.get_or_insert(opt.lr());
        self.epoch += 1;
        opt.set_lr((base as f64 * (self.gamma as f64).powi(self.epoch as i32)) as f32);
    }
}

/// Anneals the lr from η₀ to `eta_min` along half a cosine over `t_max` epochs (SGDR without
/// restarts). Past `t_max` the cosine continues, so the lr rises again, as PyTorch's.
///
/// ```
/// use backprop::optim::{CosineAnnealingLr, LrScheduler, LearningRate, Sgd, SgdConfig};
/// let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
/// let mut sched = CosineAnnealingLr::new(2).build().unwrap();
/// sched.step(&mut opt, None);
/// assert!((opt.lr() - 0.5).abs() < 1e-6); // (1 + cos(π/2))/2
/// sched.step(&mut opt, None);
/// assert_eq!(opt.lr(), 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CosineAnnealingLr {
    /// Epochs from η₀ down to `eta_min` (≥ 1).
    pub t_max: usize,
    /// The lowest lr (≥ 0); default 0.
    #[serde(default)]
    pub eta_min: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<f32>,
    #[serde(default)]
    epoch: usize,
}

impl CosineAnnealingLr {
    /// Anneals to 0 over `t_max` epochs.
    pub fn new(t_max: usize) -> CosineAnnealingLr {
        CosineAnnealingLr {
            t_max,
            eta_min: 0.0,
            base: None,
            epoch: 0,
        }
    }

    /// Sets the lowest lr.
    pub fn eta_min(mut self, eta_min: f32) -> CosineAnnealingLr {
        self.eta_min = eta_min;
        self
    }

    /// Checks t_max ≥ 1 and eta_min ≥ 0, and a saved base rate.
    pub fn validate(&self) -> Result<()> {
        positive_int("t_max", self.t_max)?;
        non_negative("eta_min", self.eta_min)?;
        base_rate(self.base)
    }

    /// [`CosineAnnealingLr::validate`]s and returns the schedule, ending a builder chain.
    pub fn build(self) -> Result<CosineAnnealingLr> {
        self.validate()?;
        Ok(self)
    }
}

impl LrScheduler for CosineAnnealingLr {
    fn step(&mut self, opt: &mut dyn LearningRate, _metric: Option<f32>) {
        let base = *self.base.get_or_insert(opt.lr()) as f64;
        self.epoch += 1;
        let (min, x) = (
            self.eta_min as f64,
            self.epoch as f64 / self.t_max.max(1) as f64,
        );
        opt.set_lr((min + (base - min) * (1.0 + (std::f64::consts::PI * x).cos()) / 2.0) as f32);
    }
}
