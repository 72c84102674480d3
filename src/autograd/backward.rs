//! The reverse pass: backpropagation over the tape (`δ` of every node from the loss back), the
//! hook that sees each parameter's gradient as soon as it is final, and the [`Gradients`] a
//! pass leaves.

use super::{ops, Backward, GradSink, Op, Tape, Values, Var};
use crate::error::{Error, Result};
use crate::params::{ParamId, Parameters};
use crate::tensor::Tensor;

/// Receives each parameter's gradient during a backward pass, as soon as it is final: after
/// every op that reads the parameter has added its part, and before the pass reads anything
/// that depends on it again. [`Tape::backward_with`] calls it; an optimizer applying its update
/// inside backward (`backprop::optim::backward_step`) or an all-reduce that starts sending a
/// gradient while the rest is still being computed hang on it.
///
/// ```
/// use backprop::autograd::GradHook;
/// use backprop::{Graph, ParamId, Parameters, Tape, Tensor};
/// // Collects (parameter, ∂loss/∂parameter) in the order the gradients become final.
/// struct Log(Vec<(usize, Vec<f32>)>);
/// impl GradHook for Log {
///     fn grad_final(&mut self, id: ParamId, _param: &mut Tensor, grad: &Tensor) {
///         self.0.push((id.0, grad.to_vec()));
///     }
/// }
/// let mut ps = Parameters::new();
/// let a = ps.add("a", Tensor::from_vec(vec![2.0], [1]).unwrap());
/// let b = ps.add("b", Tensor::from_vec(vec![3.0], [1]).unwrap());
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let (av, bv) = (g.param(a), g.param(b));
/// let ab = g.mul(av, bv);
/// let loss = g.sum(ab);
/// let mut log = Log(vec![]);
/// tape.backward_with(loss, &mut ps, &mut log).unwrap();
/// assert_eq!(log.0, vec![(1, vec![2.0]), (0, vec![3.0])]); // the reverse of recording
/// ```
pub trait GradHook {
    /// The gradient `grad` of parameter `id` (whose value is `param`) is final. The hook may
    /// change `param` (an optimizer step): nothing later in the pass reads it.
    fn grad_final(&mut self, id: ParamId, param: &mut Tensor, grad: &Tensor);

    /// The gradient of the `(rows, cols)` weight `id` is final and is the outer product
    /// `grad[i][j] = delta[i]·x[j]` (one sample through a linear layer), which is never stored.
    /// A hook that takes it in this form streams `param` row by row: for each row `i` in order,
    /// `before_row(i, old row i)`, then whatever it does to row `i`; it returns `true`. One that
    /// does not returns `false` before calling `before_row` at all, and then receives the
    /// stored gradient through [`GradHook::grad_final`] as usual. The default returns `false`.
    fn outer_final(
        &mut self,
        id: ParamId,
        param: &mut Tensor,
        delta: &[f32],
        x: &[f32],
        before_row: &mut dyn FnMut(usize, &[f32]),
    ) -> bool {
        let _ = (id, param, delta, x, before_row);
        false
    }
}

/// The parameters a backward pass reads, and optionally the hook that sees (and may update) each
/// one as soon as its gradient is final.
pub(super) enum Store<'a> {
    Read(&'a Parameters),
    Update(&'a mut Parameters, &'a mut dyn GradHook),
}

impl Tape {
    /// Backpropagation from `loss` through the graph last recorded on this tape (the graph
    /// itself is gone, so `params` can be borrowed mutably), calling `hook` for each parameter
    /// as soon as its gradient is final — when the reverse loop reaches the parameter's node,
    /// after every op that reads it — so that work on a large weight (an optimizer's update)
    /// follows its gradient product while both are still in cache. A linear layer's weight read
    /// by that op alone, in a one-sample pass, is offered as an outer product first
    /// ([`GradHook::outer_final`]). The gradients computed are exactly those of
    /// [`Graph::backward`](super::Graph::backward); a hook that changes nothing leaves the same bytes.
    ///
    /// # Errors
    /// If the last graph was a [`Graph::no_grad`](super::Graph::no_grad) one, `loss` is not one of its nodes or does not
    /// hold exactly one value, or `params` is not the store the graph was recorded with (another
    /// number of parameters).
    pub fn backward_with(
        &mut self,
        loss: Var,
        params: &mut Parameters,
        hook: &mut dyn GradHook,
    ) -> Result<()> {
        self.check_recorded(loss, params)?;
        self.run_backward(loss, Store::Update(params, hook));
        Ok(())
    }

    /// [`Graph::backward`](super::Graph::backward) of the graph last recorded on this tape, for when the graph was
    /// dropped to end its borrow of `params` (checked as [`Tape::backward_with`]).
    ///
    /// # Errors
    /// As [`Tape::backward_with`].
    pub fn backward_recorded(&mut self, loss: Var, params: &Parameters) -> Result<Gradients<'_>> {
        self.check_recorded(loss, params)?;
        self.run_backward(loss, Store::Read(params));
        Ok(Gradients { tape: self })
    }

    /// The gradients left by the last backward pass on this tape, to change them after a
    /// [`Tape::backward_with`] (a distributed run writes the sums over its processes here).
    /// Only meaningful right after a pass.
    pub(crate) fn gradients(&mut self) -> Gradients<'_> {
        Gradients { tape: self }
    }

    /// Checks that `loss` is a scalar node of a recorded graph read from `params`.
    fn check_recorded(&self, loss: Var, params: &Parameters) -> Result<()> {
        if !self.recorded {
            return Err(Error::invalid(
                "backward",
                "a no_grad graph",
                "a graph recorded with Graph::new",
            ));
        }
        let l = loss.index();
        if l >= self.ops.len() || self.values[l].numel() != 1 {
            return Err(Error::invalid(
                "loss",
                format!("node {l} of a graph of {} nodes", self.ops.len()),
                "a node of the last graph holding one value",
            ));
        }
        if params.len() != self.param_nodes.len() {
            return Err(Error::invalid(
                "parameters",
                format!("{} tensors", params.len()),
                "the store the graph was recorded with",
            ));
        }
        Ok(())
    }

    /// The reverse loop over the tape (see [`Graph::backward`](super::Graph::backward)).
    pub(super) fn run_backward(&mut self, loss: Var, mut store: Store) {
        let t = self;
        let l = loss.index();
        assert_eq!(
            t.values[l].numel(),
            1,
            "backward() needs a scalar loss, got shape {:?}",
            t.values[l].shape()
        );
        t.written.clear();
        t.written.resize(t.ops.len(), false);
        if t.needs_grad[l] {
            t.grads[l].reset_zeros(*t.values[l].shape());
            t.grads[l].data_mut()[0] = 1.0;
            t.written[l] = true;
        }
        for j in (0..=l).rev() {
            if !t.needs_grad[j] || !t.written[j] {
                continue;
            }
            let op = t.ops[j];
            if let Op::Param(id) = op {
                // Every op that reads this parameter comes later on the tape and has run: its
                // gradient is final, and nothing left in the loop reads its value.
                if let Store::Update(params, hook) = &mut store {
                    hook.grad_final(id, &mut params[id], &t.grads[j]);
                }
                continue;
            }
            if let (Op::Linear(x, w, bias), Store::Update(params, hook)) = (op, &mut store) {
                if t.linear_in_backward(j, [x, w], bias, params, &mut **hook) {
                    continue;
                }
            }
            let params: &Parameters = match &store {
                Store::Read(p) => p,
                Store::Update(p, _) => p,
            };
            let (lower, upper) = t.grads.split_at_mut(j);
            let (written, _) = t.written.split_at_mut(j);
            let values = Values {
                done: &t.values,
                ops: &t.ops,
                params,
            };
            let b = Backward {
                values,
                out: &t.values[j],
                aux: &t.aux[j],
                dy: &upper[0],
                sink: GradSink {
                    grads: lower,
                    written,
                    needs: &t.needs_grad,
                    values,
                },
                list: &t.list,
            };
            op_backward(op, b);
        }
    }

    /// The optimizer-in-backward form of a linear layer's backward at node `j`: when the op is
    /// W's only reader, the hook may take W's gradient inside it (one sample: row by row, never
    /// stored). `true` when it did, and the op's backward (dX, the bias) is then complete.
    fn linear_in_backward(
        &mut self,
        j: usize,
        [x, w]: [Var; 2],
        bias: Option<Var>,
        params: &mut Parameters,
        hook: &mut dyn GradHook,
    ) -> bool {
        let t = self;
        let Op::Param(id) = t.ops[w.index()] else {
            return false;
        };
        if t.uses[w.index()] != 1 || !t.needs_grad[w.index()] {
            return false;
        }
        let mut wt = std::mem::take(&mut params[id]);
        let (lower, upper) = t.grads.split_at_mut(j);
        let (written, _) = t.written.split_at_mut(j);
        let mut sink = GradSink {
            grads: lower,
            written,
            needs: &t.needs_grad,
            values: Values {
                done: &t.values,
                ops: &t.ops,
                params,
            },
        };
        let (xv, dy) = (&t.values[x.index()], &upper[0]);
        let done = ops::matmul::linear_backward_update(x, xv, dy, &mut sink, &mut wt, id, hook);
        if done {
            if let Some(bias) = bias {
                ops::matmul::bias_backward(bias, dy, &mut sink);
            }
        }
        params[id] = wt;
        done
    }
}

/// One op's backward: its inputs' gradients from its output's (`b.dy`), the rule written beside
/// the op's forward in `ops/`.
fn op_backward(op: Op, b: Backward) {
    match op {
        Op::Leaf | Op::Param(_) => {}
        Op::Unary(u, x) => ops::elementwise::backward(u, x, b),
        Op::Binary(o, x, y) => ops::binary::backward(o, x, y, b),
        Op::Matmul(x, w) => ops::matmul::backward(x, w, b),
        Op::Linear(x, w, bias) => ops::matmul::linear_backward(x, w, bias, b),
        Op::Sum(x, dim) => ops::reduce::sum_backward(x, dim, b),
        Op::Max(x, dim) => ops::reduce::max_backward(x, dim, b),
        Op::Transpose(x) => ops::shape::transpose_backward(x, b),
        Op::Reshape(x) => ops::shape::reshape_backward(x, b),
        Op::Concat { start, count } => ops::shape::concat_backward(start, count, b),
        Op::Slice(x, s, n) => ops::shape::slice_backward(x, s, n, b),
        Op::LogSoftmax(x) => ops::softmax::log_softmax_backward(x, b),
        Op::CrossEntropy(x, target) => ops::softmax::cross_entropy_backward(x, target, b),
        Op::BatchNorm(x, gamma, beta, train) => ops::batch_norm::backward(x, gamma, beta, train, b),
    }
}

/// The gradients of one backward pass: ∂loss/∂p for each parameter the loss depends on.
/// They may be clipped in place before an optimizer step.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![3.0, 4.0], [2])?);
/// let unused = ps.add("unused", Tensor::zeros([1]));
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let wv = g.param(w);
/// let sq = g.square(wv);
/// let e = g.sum(sq); // E = Σ w²
/// let mut grads = g.backward(e);
/// assert_eq!(grads.get(w).unwrap().to_vec(), vec![6.0, 8.0]); // 2w
/// assert_eq!(grads.wrt(sq).unwrap().to_vec(), vec![1.0, 1.0]); // ∂E/∂(w²): the δ of a node
/// assert!(grads.get(unused).is_none());
/// assert_eq!(grads.norm(), 10.0);
/// assert_eq!(grads.clip_grad_norm(5.0), 10.0); // returns the norm before clipping
/// let clipped = grads.get(w).unwrap().to_vec();
/// assert!((clipped[0] - 3.0).abs() < 1e-5 && (clipped[1] - 4.0).abs() < 1e-5);
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Gradients<'t> {
    pub(super) tape: &'t mut Tape,
}

impl Gradients<'_> {
    /// ∂loss/∂p, or `None` if the loss does not depend on `p`.
    pub fn get(&self, p: ParamId) -> Option<&Tensor> {
        let v = (*self.tape.param_nodes.get(p.0)?)?;
        self.wrt(v)
    }

    /// ∂loss/∂v for any recorded node that leads to a parameter, e.g. the δ of a layer.
    pub fn wrt(&self, v: Var) -> Option<&Tensor> {
        let i = v.index();
        (i < self.tape.written.len() && self.tape.written[i]).then(|| &self.tape.grads[i])
    }

    /// ∂loss/∂p, mutable (for clipping or custom transforms).
    pub fn get_mut(&mut self, p: ParamId) -> Option<&mut Tensor> {
        let i = (*self.tape.param_nodes.get(p.0)?)?.index();
        (i < self.tape.written.len() && self.tape.written[i]).then(|| &mut self.tape.grads[i])
    }

    fn each_param_grad(&mut self, mut f: impl FnMut(&mut [f32])) {
        let t = &mut *self.tape;
        for v in t.param_nodes.iter().flatten() {
            let i = v.index();
            if i < t.written.len() && t.written[i] {
                f(t.grads[i].data_mut());
            }
        }
    }

    /// The global L2 norm of all parameter gradients, taken together.
    pub fn norm(&mut self) -> f32 {
        let mut s = 0.0f64;
        self.each_param_grad(|g| s += g.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>());
        s.sqrt() as f32
    }

    /// Scales all parameter gradients so their global L2 norm is at most `max_norm`, like
    /// PyTorch's `clip_grad_norm_`. Returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f32) -> f32 {
        let norm = self.norm();
        let scale = max_norm / (norm + 1e-6);
        if scale < 1.0 {
            self.each_param_grad(|g| g.iter_mut().for_each(|x| *x *= scale));
        }
        norm
    }

    /// Clamps every parameter gradient element into `[-clip, clip]`, like `clip_grad_value_`.
    pub fn clip_grad_value(&mut self, clip: f32) {
        self.each_param_grad(|g| g.iter_mut().for_each(|x| *x = x.clamp(-clip, clip)));
    }
}
