//! The optimizer step applied inside backward: an [`Optimizer`] as the [`GradHook`] that
//! autograd calls as soon as each parameter's gradient is final, and the fused row update of a
//! one-sample linear layer ([`Optimizer::step_outer`]) behind it.

use crate::autograd::{GradHook, Tape, Var};
use crate::error::Result;
use crate::optim::Optimizer;
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;

/// Any optimizer as a [`GradHook`]: each parameter is updated by [`Optimizer::step_param`] as
/// soon as its gradient is final, and a one-sample linear weight row by row
/// ([`Optimizer::step_outer`]) where the optimizer has that form.
pub struct StepInBackward<'a>(pub &'a mut dyn Optimizer);

impl GradHook for StepInBackward<'_> {
    fn grad_final(&mut self, id: ParamId, param: &mut Tensor, grad: &Tensor) {
        self.0.step_param(id, param, grad);
    }

    fn outer_final(
        &mut self,
        id: ParamId,
        param: &mut Tensor,
        delta: &[f32],
        x: &[f32],
        before_row: &mut dyn FnMut(usize, &[f32]),
    ) -> bool {
        self.0.step_outer(id, param, delta, x, before_row)
    }
}

/// Backpropagation from `loss` through the graph last recorded on `tape`, with `opt`'s step
/// applied inside it: each parameter is updated as soon as its gradient is final
/// ([`Tape::backward_with`]), so the update of a large weight follows its gradient product while
/// both are still in cache, and no separate pass over all gradients is made. Bit-identical to
/// [`crate::Graph::backward`] followed by [`Optimizer::step`]. Gradient transforms (clipping by
/// global norm, an all-reduce between processes) cannot be applied in between: use
/// [`crate::Graph::backward`] then.
///
/// Use the graph no more after recording the loss, so `params` can be borrowed mutably:
///
/// ```
/// use backprop::optim::{backward_step, Sgd, SgdConfig};
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![1.0, -2.0], [2])?);
/// let mut opt = Sgd::new(SgdConfig { lr: 0.1, ..SgdConfig::default() })?;
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let sq = g.square(wv);
/// let s = g.sum(sq);
/// let loss = g.scale(s, 0.5); // ∂loss/∂w = w
/// backward_step(&mut tape, loss, &mut ps, &mut opt)?;
/// assert_eq!(ps[w].to_vec(), vec![0.9, -1.8]); // w − 0.1·w
/// # Ok::<(), backprop::Error>(())
/// ```
///
/// # Errors
/// As [`Tape::backward_with`].
pub fn backward_step(
    tape: &mut Tape,
    loss: Var,
    params: &mut Parameters,
    opt: &mut dyn Optimizer,
) -> Result<()> {
    tape.backward_with(loss, params, &mut StepInBackward(opt))
}
