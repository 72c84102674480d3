//! Optimizers: turn gradients into parameter updates.
//!
//! Names, defaults and update formulas follow PyTorch's `torch.optim`; a doc line says wherever we
//! differ. State (momentum buffers, step counts) is explicit and can be saved in a checkpoint.

use crate::autograd::Gradients;
use crate::error::Result;
use crate::params::Parameters;
use crate::tensor::Tensor;

/// An optimizer: updates parameters from their gradients.
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
}
