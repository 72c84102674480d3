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
//! | [`Adam`] (AdamW: decoupled decay) | bias-corrected moments `m̂`, `v̂`; `θ ← θ − lr·m̂/(√v̂ + ε)` |
//! | [`Rprop`] | per-weight step Δ grows ×η⁺ while the sign of g holds, shrinks ×η⁻ when it flips |
//! | [`Quickprop`] | per-weight jump to the minimum of a parabola through the last two slopes, at most μ× the last step |
//! | [`Lbfgs`] | `θ ← θ + t·d`, `d = −H·g` from the last m (Δθ, Δg) pairs, t by a strong-Wolfe line search (full batch, via a closure) |
//!
//! Learning-rate schedules ([`StepLr`], [`ExponentialLr`], [`CosineAnnealingLr`],
//! [`ReduceLrOnPlateau`], [`LinearWarmup`]) live in [`schedule`] and are stepped once per epoch;
//! [`LrSchedule`] holds any of them (with its state) as data for the trainer and checkpoints.
//!
//! Each optimizer has one config struct ([`SgdConfig`], [`AdamConfig`], …: serde, `Default` with
//! PyTorch's values, `validate()`), is built by `new(config)`, and is described as data by
//! [`OptimizerConfig`], which checks its values however it is made (read from a file included).
//!
//! Optimizers allocate their state lazily, the first time a parameter has a gradient; after that
//! a step allocates nothing.
//!
//! Two steps of SGD with momentum on `E = (w − 3)²` from `w = 1`, by hand:
//! step 1: g = 2(1 − 3) = −4, b = g, w = 1 − 0.1·(−4) = 1.4;
//! step 2: g = 2(1.4 − 3) = −3.2, b = 0.5·(−4) − 3.2 = −5.2, w = 1.4 + 0.52 = 1.92.
//!
//! ```
//! use backprop::optim::{Optimizer, Sgd, SgdConfig};
//! use backprop::{Graph, Parameters, Tape, Tensor};
//! let mut params = Parameters::new();
//! let w = params.add("w", Tensor::from_vec(vec![1.0], [1])?);
//! let three = Tensor::from_vec(vec![3.0], [1])?;
//! let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.5, ..SgdConfig::default() })?;
//! let mut tape = Tape::new();
//! let mut after = vec![];
//! for _ in 0..2 {
//!     let mut g = Graph::new(&mut tape, &params);
//!     let (wv, t) = (g.param(w), g.input(&three));
//!     let d = g.sub(wv, t);
//!     let sq = g.square(d);
//!     let e = g.sum(sq);
//!     let grads = g.backward(e);
//!     opt.step(&mut params, &grads);
//!     after.push(params[w].item());
//! }
//! assert!((after[0] - 1.4).abs() < 1e-6 && (after[1] - 1.92).abs() < 1e-6, "{after:?}");
//! # Ok::<(), backprop::Error>(())
//! ```

mod adagrad;
mod adam;
mod config;
mod decay;
mod in_backward;
mod lbfgs;
mod lr_schedule;
mod plateau;
mod quickprop;
mod rate;
mod rmsprop;
mod rprop;
pub mod schedule;
mod sgd;
mod state;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use config::{AnyOptimizer, OptimizerConfig};
pub use in_backward::{backward_step, StepInBackward};
pub use lbfgs::{Lbfgs, LbfgsConfig, LossAndGrads};
pub use lr_schedule::{LinearWarmup, LrSchedule};
pub use quickprop::{Quickprop, QuickpropConfig};
pub use rate::{LearningRate, LrScheduler};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use schedule::{
    CosineAnnealingLr, ExponentialLr, PlateauMode, ReduceLrOnPlateau, StepLr, ThresholdMode,
};
pub use sgd::{Sgd, SgdConfig};
pub(crate) use state::check_against as check_state;

use crate::autograd::Gradients;
use crate::error::Result;
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;

/// A gradient optimizer: updates each parameter from its own gradient (and its own state).
/// Every optimizer here but [`Lbfgs`] is one; L-BFGS needs the loss at several points and is
/// driven by a closure instead ([`Lbfgs::step_closure`], [`AnyOptimizer`]).
///
/// Because each parameter is updated on its own, updating them one at a time, in any order,
/// gives exactly the bytes of [`Optimizer::step`]; so the trainer may apply each update inside
/// backward, as soon as that parameter's gradient is final ([`backward_step`]).
///
/// State tensors are named `{kind}.{parameter index}` with PyTorch's kinds (`momentum_buffer.0`,
/// `exp_avg.2`, `step.2`, …). `step.{i}` holds a count in a one-element tensor; every other state
/// tensor has the shape of parameter `i`.
///
/// ```
/// use backprop::optim::{Optimizer, Sgd, SgdConfig};
/// use backprop::{ParamId, Tensor};
/// let mut opt = Sgd::new(SgdConfig { lr: 0.5, ..SgdConfig::default() })?;
/// let mut p = Tensor::from_vec(vec![1.0, 2.0], [2])?;
/// let g = Tensor::from_vec(vec![2.0, -2.0], [2])?;
/// opt.step_param(ParamId(0), &mut p, &g);
/// assert_eq!(p.to_vec(), vec![0.0, 3.0]);
/// # Ok::<(), backprop::Error>(())
/// ```
pub trait Optimizer: LearningRate {
    /// Updates one parameter `p` (index `id` in its store) from its gradient `g`.
    ///
    /// # Panics
    /// If `g` or the state kept for `id` has another shape than `p` (state for another model:
    /// load it with [`Optimizer::load_state_checked`], which reports that as an error).
    fn step_param(&mut self, id: ParamId, p: &mut Tensor, g: &Tensor);

    /// One update of every parameter that has a gradient, in order; parameters without one
    /// are left alone.
    fn step(&mut self, params: &mut Parameters, grads: &Gradients) {
        for (i, p) in params.tensors_mut().iter_mut().enumerate() {
            if let Some(g) = grads.get(ParamId(i)) {
                self.step_param(ParamId(i), p, g);
            }
        }
    }

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

    /// [`Optimizer::step_param`] for a `(rows, cols)` weight whose gradient is the outer product
    /// `g[i][j] = delta[i]·x[j]` (one sample through a linear layer), computed row by row and
    /// never stored: for each row `i` in order, `before_row(i, old row i)` is called, then row
    /// `i` is updated. Bit-identical to materialising `g` (as `delta[i]·x[j]`, or 0 where
    /// `delta[i]` is 0) and calling `step_param`. An optimizer that has no such form (in its
    /// current state) returns `false` without calling `before_row` or changing anything; the
    /// default always does.
    fn step_outer(
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
