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
use crate::params::{ParamId, Parameters};
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

    /// Whether [`Optimizer::step_param`] is supported: the step treats every parameter on its
    /// own, so updating them one at a time (in any order) gives exactly the bytes of
    /// [`Optimizer::step`]. True for SGD (with or without momentum), Adam and AdamW; the
    /// trainer then applies each update inside backward, as soon as that parameter's gradient
    /// is final ([`crate::Tape::backward_step`]).
    fn per_parameter(&self) -> bool {
        false
    }

    /// Updates one parameter `p` (index `id` in its store) from its gradient `g`: what
    /// [`Optimizer::step`] does to that parameter. Returns `false`, and changes nothing, for an
    /// optimizer whose [`Optimizer::per_parameter`] is false.
    ///
    /// ```
    /// use backprop::optim::{Optimizer, Sgd};
    /// use backprop::{ParamId, Tensor};
    /// let mut opt = Sgd::new(0.5);
    /// let mut p = Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap();
    /// let g = Tensor::from_vec(vec![2.0, -2.0], [2]).unwrap();
    /// assert!(opt.step_param(ParamId(0), &mut p, &g));
    /// assert_eq!(p.to_vec(), vec![0.0, 3.0]);
    /// ```
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor) -> bool {
        let _ = (id, p, g);
        false
    }

    /// Whether [`Optimizer::step_param_outer`] would update parameter `id` now.
    fn can_step_outer(&self, id: ParamId) -> bool {
        let _ = id;
        false
    }

    /// [`Optimizer::step_param`] for a `(rows, cols)` weight whose gradient is the outer product
    /// `g[i][j] = delta[i]·x[j]` (one sample through a linear layer), computed row by row and
    /// never stored: for each row `i` in order, `before_row(i, old row i)` is called, then row
    /// `i` is updated. Bit-identical to materialising `g` (as `delta[i]·x[j]`, or 0 where
    /// `delta[i]` is 0) and calling `step_param`. Returns `false`, changing nothing, where
    /// [`Optimizer::can_step_outer`] is false.
    fn step_param_outer(
        &mut self,
        id: ParamId,
        p: &mut Tensor,
        delta: &[f32],
        x: &[f32],
        before_row: &mut dyn FnMut(usize, &[f32]),
    ) -> bool {
        let _ = (id, p, delta, x, before_row);
        false
    }
}
