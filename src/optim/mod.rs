//! Optimizers: turn gradients into parameter updates.
//!
//! Names, defaults and update formulas follow PyTorch's `torch.optim`; a doc line says wherever we
//! differ. State (momentum buffers, step counts) is explicit and can be saved in a checkpoint.
//!
//! | optimizer | update (g = ∂loss/∂θ, per element) |
//! | --- | --- |
//! | [`Sgd`] | `b ← μb + (1−τ)g`, `θ ← θ − lr·b` (optionally Nesterov, L2 weight decay) |
//! | [`Adagrad`] | `s ← s + g²`, `θ ← θ − lr·g/(√s + ε)` |
//! | [`RmsProp`] | `v ← αv + (1−α)g²`, `θ ← θ − lr·g/(√v + ε)` |
//! | [`Adam`], [`AdamW`] | bias-corrected moments `m̂`, `v̂`; `θ ← θ − lr·m̂/(√v̂ + ε)` |
//! | [`Rprop`] | per-weight step Δ grows ×η⁺ while the sign of g holds, shrinks ×η⁻ when it flips |
//! | [`Quickprop`] | per-weight jump to the minimum of a parabola through the last two slopes, at most μ× the last step |
//! | [`Lbfgs`] | `θ ← θ + t·d`, `d = −H·g` from the last m (Δθ, Δg) pairs, t by a strong-Wolfe line search (full batch, via a closure) |
//!
//! Learning-rate schedules ([`StepLr`], [`ExponentialLr`], [`CosineAnnealingLr`],
//! [`ReduceLrOnPlateau`], [`LinearWarmup`]) live in [`schedule`] and are stepped once per epoch;
//! [`LrSchedule`] holds any of them (with its state) as data for the trainer and checkpoints.
//!
//! Optimizers allocate their state lazily, the first time a parameter has a gradient; after that
//! a step allocates nothing.

mod adagrad;
mod adam;
mod adamw;
mod config;
mod lbfgs;
mod lr_schedule;
mod plateau;
mod quickprop;
mod rmsprop;
mod rprop;
pub mod schedule;
mod sgd;
mod state;

pub use adagrad::Adagrad;
pub use adam::Adam;
pub use adamw::AdamW;
pub use config::OptimizerConfig;
pub use lbfgs::{Lbfgs, LossAndGrads};
pub use lr_schedule::{LinearWarmup, LrSchedule};
pub use quickprop::Quickprop;
pub use rmsprop::RmsProp;
pub use rprop::Rprop;
pub use schedule::{
    CosineAnnealingLr, ExponentialLr, LrScheduler, PlateauMode, ReduceLrOnPlateau, StepLr,
    ThresholdMode,
};
pub use sgd::Sgd;
pub(crate) use state::check_against as check_state;

use crate::autograd::Gradients;
use crate::error::Result;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// An optimizer: updates parameters from their gradients.
///
/// State tensors are named `{kind}.{parameter index}` with PyTorch's kinds (`momentum_buffer.0`,
/// `exp_avg.2`, `step.2`, …). `step.{i}` holds a count in a one-element tensor; every other state
/// tensor has the shape of parameter `i`.
pub trait Optimizer {
    /// One update of every parameter that has a gradient; parameters without one are left alone.
    fn step(&mut self, params: &mut Parameters, grads: &Gradients);
    /// The current learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate (used by schedules).
    fn set_lr(&mut self, lr: f32);
    /// The optimizer's internal state as named tensors (e.g. `momentum_buffer.3`), for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores state saved by [`Optimizer::state`].
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;

    /// [`Optimizer::load_state`], after checking that every state tensor names a parameter of
    /// `params` and has its shape. Use this when loading a checkpoint: with plain `load_state`,
    /// state for a different model is only detected by a panic in the next [`Optimizer::step`].
    fn load_state_checked(
        &mut self,
        params: &Parameters,
        state: &[(String, Tensor)],
    ) -> Result<()> {
        state::check_against(params, state)?;
        self.load_state(state)
    }

    /// The optimizer as [`Lbfgs`], if it is one: the trainer gives L-BFGS a full-batch closure
    /// ([`Lbfgs::step_closure`]) instead of calling [`Optimizer::step`]. `None` for the others.
    fn as_lbfgs(&mut self) -> Option<&mut Lbfgs> {
        None
    }
}
