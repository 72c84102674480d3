//! ReduceLROnPlateau, as PyTorch's `torch.optim.lr_scheduler.ReduceLROnPlateau`.
//!
//! After each epoch, with metric x (e.g. validation loss) and the best value so far x*:
//!
//! ```text
//! improved  ⇔  x < x*·(1 − threshold)   (mode Min, threshold mode Rel; x* starts at +∞)
//! improved:  x* ← x, bad ← 0;   otherwise bad ← bad + 1
//! in cooldown: cooldown left ← cooldown left − 1, bad ← 0
//! bad > patience:  lr ← max(lr·factor, min_lr) (skipped if it changes by ≤ eps),
//!                  cooldown left ← cooldown, bad ← 0
//! ```
//!
//! So with patience p the lr drops at the (p+1)-th epoch in a row without improvement.

use crate::error::{Error, Result};
use crate::optim::rate::{LearningRate, LrScheduler};
use crate::optim::state::non_negative;
use serde::{Deserialize, Serialize};

/// Whether a smaller or a larger metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMode {
    /// Smaller is better (a loss).
    Min,
    /// Larger is better (an accuracy).
    Max,
}

/// How the threshold for "improved" is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 ∓ threshold)`.
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Reduces the lr by `factor` when a metric has stopped improving for more than `patience`
/// epochs. Defaults are PyTorch's: mode Min, factor 0.1, patience 10, threshold 1e-4
/// (relative), cooldown 0, min_lr 0, eps 1e-8.
///
/// ```
/// use backprop::optim::{LearningRate, LrScheduler, ReduceLrOnPlateau, Sgd, SgdConfig};
/// let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..SgdConfig::default() }).unwrap();
/// let mut sched = ReduceLrOnPlateau::new().patience(1).factor(0.5).build().unwrap();
/// for loss in [3.0, 2.0, 2.0, 2.0] {
///     sched.step(&mut opt, Some(loss));
/// }
/// assert_eq!(opt.lr(), 0.5); // the second epoch in a row without improvement
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReduceLrOnPlateau {
    /// Whether smaller (Min) or larger (Max) metrics are better.
    pub mode: PlateauMode,
    /// Multiplies the lr on a plateau; in [0, 1).
    pub factor: f32,
    /// Epochs without improvement to tolerate before reducing.
    pub patience: usize,
    /// The least change that counts as an improvement (≥ 0).
    pub threshold: f32,
    /// Whether `threshold` is relative or absolute.
    pub threshold_mode: ThresholdMode,
    /// Epochs after a reduction during which bad epochs are not counted.
    pub cooldown: usize,
    /// The lr is never reduced below this (≥ 0).
    pub min_lr: f32,
    /// Reductions smaller than this are skipped.
    pub eps: f32,
    best: Option<f32>,
    num_bad_epochs: usize,
    cooldown_counter: usize,
}

impl ReduceLrOnPlateau {
    /// A schedule with PyTorch's defaults.
    pub fn new() -> ReduceLrOnPlateau {
        ReduceLrOnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
        }
    }

    /// Sets whether smaller or larger is better.
    pub fn mode(mut self, mode: PlateauMode) -> ReduceLrOnPlateau {
        self.mode = mode;
        self
    }

    /// Sets the reduction factor.
    pub fn factor(mut self, factor: f32) -> ReduceLrOnPlateau {
        self.factor = factor;
        self
    }

    /// Sets the patience.
    pub fn patience(mut self, patience: usize) -> ReduceLrOnPlateau {
        self.patience = patience;
        self
    }

    /// Sets the threshold and how it is measured.
    pub fn threshold(mut self, threshold: f32, mode: ThresholdMode) -> ReduceLrOnPlateau {
        self.threshold = threshold;
        self.threshold_mode = mode;
        self
    }

    /// Sets the cooldown.
    pub fn cooldown(mut self, cooldown: usize) -> ReduceLrOnPlateau {
        self.cooldown = cooldown;
        self
    }

    /// Sets the lowest lr.
    pub fn min_lr(mut self, min_lr: f32) -> ReduceLrOnPlateau {
        self.min_lr = min_lr;
        self
    }

    /// Checks factor in [0, 1) (PyTorch checks `factor < 1`), threshold, min_lr, eps ≥ 0, and
    /// that a best value read back from a checkpoint is not NaN.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.factor) {
            return Err(Error::invalid("factor", self.factor, "must be in [0, 1)"));
        }
        non_negative("threshold", self.threshold)?;
        non_negative("min_lr", self.min_lr)?;
        non_negative("eps", self.eps)?;
        if let Some(b) = self.best.filter(|b| b.is_nan()) {
            return Err(Error::invalid("plateau best", b, "a number, not NaN"));
        }
        Ok(())
    }

    /// [`ReduceLrOnPlateau::validate`]s and returns the schedule, ending a builder chain.
    pub fn build(self) -> Result<ReduceLrOnPlateau> {
        self.validate()?;
        Ok(self)
    }

    /// The best metric seen so far (before the first: +∞ in mode Min, −∞ in mode Max).
    pub fn best(&self) -> f32 {
        match (self.best, self.mode) {
            (Some(b), _) => b,
            (None, PlateauMode::Min) => f32::INFINITY,
            (None, PlateauMode::Max) => f32::NEG_INFINITY,
        }
    }

    /// Epochs in a row without improvement (reset by a reduction and during cooldown).
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    fn is_better(&self, x: f32) -> bool {
        let (best, t) = (self.best(), self.threshold);
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => x < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => x < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => x > best * (1.0 + t),
            (PlateauMode::Max, ThresholdMode::Abs) => x > best + t,
        }
    }
}

impl Default for ReduceLrOnPlateau {
    fn default() -> ReduceLrOnPlateau {
        ReduceLrOnPlateau::new()
    }
}

impl LrScheduler for ReduceLrOnPlateau {
    /// Counts the epoch as good or bad by `metric` and reduces the lr on a plateau. With no
    /// metric nothing changes: the epoch is not counted (PyTorch requires a metric).
    fn step(&mut self, opt: &mut dyn LearningRate, metric: Option<f32>) {
        let Some(x) = metric else { return };
        if self.is_better(x) {
            self.best = Some(x);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            let old = opt.lr();
            let new = (old * self.factor).max(self.min_lr);
            if old - new > self.eps {
                opt.set_lr(new);
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
    }
}
