//! [`Graph`]: records the forward pass of one step on a [`Tape`] — inputs, parameters and
//! the ops between them, each node's value computed as it is recorded.

use super::backward::Store;
use super::{Gradients, Op, OpKind, Tape, Values, Var};
use crate::params::{ParamId, Parameters};
use crate::tensor::{Shape, Tensor};

/// A computation being recorded: ops run immediately on concrete values and are remembered for
/// [`Graph::backward`]. Borrow a [`Tape`] (for its buffers) and the [`Parameters`] it reads.
///
/// Seed 003's forward() / backward() on its sigmoid neuron `f = σ(w0·x0 + w1·x1 + w2)` with
/// w = (2, −3, −3), x = (−1, −2): forward gives σ(1) = 0.73; backward multiplies each local
/// gradient by the upstream one, σ′(1) = 0.2, so ∂f/∂w0 = x0·0.2 = −0.2 and ∂f/∂x0 = w0·0.2 = 0.4.
///
/// ```
/// use backprop::{Graph, Parameters, Tape, Tensor};
/// let mut ps = Parameters::new();
/// let w = ps.add("w", Tensor::from_vec(vec![2.0, -3.0], [2, 1])?);
/// let b = ps.add("w2", Tensor::from_vec(vec![-3.0], [1])?);
/// let mut tape = Tape::new();
/// let mut g = Graph::new(&mut tape, &ps);
/// let x = g.input(&Tensor::from_vec(vec![-1.0, -2.0], [1, 2])?);
/// let (wv, bv) = (g.param(w), g.param(b));
/// let xw = g.matmul(x, wv);
/// let s = g.add(xw, bv);
/// let f = g.sigmoid(s);
/// let out = g.sum(f);
/// assert!((g.value(out).item() - 0.731).abs() < 1e-3);
/// let grads = g.backward(out);
/// let dw = grads.get(w).unwrap().to_vec();
/// assert!((dw[0] + 0.197).abs() < 1e-3 && (dw[1] + 0.393).abs() < 1e-3); // x·σ′
/// assert!((grads.get(b).unwrap().item() - 0.197).abs() < 1e-3); // the add gate passes σ′ on
/// # Ok::<(), backprop::Error>(())
/// ```
pub struct Graph<'t, 'p> {
    pub(super) tape: &'t mut Tape,
    pub(super) params: &'p Parameters,
    pub(super) grad_enabled: bool,
    pub(super) training: bool,
}

impl<'t, 'p> Graph<'t, 'p> {
    /// A new, empty graph recording on `tape` (whose previous contents are discarded, buffers kept).
    pub fn new(tape: &'t mut Tape, params: &'p Parameters) -> Graph<'t, 'p> {
        tape.ops.clear();
        tape.needs_grad.clear();
        tape.uses.clear();
        tape.list.clear();
        tape.param_nodes.clear();
        tape.param_nodes.resize(params.len(), None);
        tape.pending_stats.clear();
        tape.recorded = true;
        Graph {
            tape,
            params,
            grad_enabled: true,
            training: true,
        }
    }

    /// A graph for inference: values are computed but no op is recorded for backward, no
    /// gradient state is kept, and [`Graph::backward`] panics.
    pub fn no_grad(tape: &'t mut Tape, params: &'p Parameters) -> Graph<'t, 'p> {
        let mut g = Graph::new(tape, params);
        g.tape.recorded = false;
        g.grad_enabled = false;
        g.training = false;
        g
    }

    /// Whether training-mode behaviour (dropout) is on: true for [`Graph::new`], false for
    /// [`Graph::no_grad`], like PyTorch's `model.train()` / `model.eval()`.
    pub fn training(&self) -> bool {
        self.training
    }

    /// Switches training-mode behaviour on or off.
    pub fn set_training(&mut self, on: bool) {
        self.training = on;
    }

    /// The parameters this graph reads.
    pub fn params(&self) -> &'p Parameters {
        self.params
    }

    /// Whether ops are being recorded for backward.
    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.tape.ops.len()
    }

    /// Whether nothing is recorded yet.
    pub fn is_empty(&self) -> bool {
        self.tape.ops.is_empty()
    }

    /// The value of a node.
    pub fn value(&self, v: Var) -> &Tensor {
        self.values().get(v)
    }

    /// The kind of op that produced a node (`None` for inputs and parameters).
    pub fn op_kind(&self, v: Var) -> Option<OpKind> {
        self.tape.ops[v.index()].kind()
    }

    /// The shape of a node's value.
    pub fn shape(&self, v: Var) -> Shape {
        *self.value(v).shape()
    }

    fn values(&self) -> Values<'_> {
        Values {
            done: &self.tape.values,
            ops: &self.tape.ops,
            params: self.params,
        }
    }

    /// Records an input (or constant) by copying `t` into the tape's buffer.
    pub fn input(&mut self, t: &Tensor) -> Var {
        self.push(Op::Leaf, &[], |_, out, _| out.assign(t))
    }

    /// Records an input of `shape` whose buffer `fill` writes directly (no intermediate tensor).
    pub fn input_with(&mut self, shape: impl Into<Shape>, fill: impl FnOnce(&mut [f32])) -> Var {
        let shape = shape.into();
        self.push(Op::Leaf, &[], |_, out, _| {
            out.resize(shape);
            fill(out.data_mut());
        })
    }

    /// The node of a parameter. Asking twice gives the same node, so a weight used in two places
    /// (shared weights) receives the sum of both gradients.
    pub fn param(&mut self, id: ParamId) -> Var {
        assert!(
            id.0 < self.params.len(),
            "parameter {id:?} is not in this graph's store"
        );
        if let Some(v) = self.tape.param_nodes[id.0] {
            return v;
        }
        let frozen = self.tape.frozen.get(id.0).copied().unwrap_or(false);
        let v = self.push_node(Op::Param(id), self.grad_enabled && !frozen);
        self.tape.param_nodes[id.0] = Some(v);
        v
    }

    fn push_node(&mut self, op: Op, needs: bool) -> Var {
        let t = &mut *self.tape;
        let i = t.ops.len();
        if t.values.len() <= i {
            t.values.push(Tensor::default());
            t.grads.push(Tensor::default());
            t.aux.push(Tensor::default());
        }
        t.ops.push(op);
        t.needs_grad.push(needs);
        t.uses.push(0);
        Var(i as u32)
    }

    /// Records an op: runs `forward(values, out, aux)` into the new node's buffers.
    pub(crate) fn push(
        &mut self,
        op: Op,
        inputs: &[Var],
        forward: impl FnOnce(&Values, &mut Tensor, &mut Tensor),
    ) -> Var {
        let n = self.tape.ops.len();
        for v in inputs {
            assert!(v.index() < n, "{v:?} does not belong to this graph");
            self.tape.uses[v.index()] += 1;
        }
        let needs = self.grad_enabled && inputs.iter().any(|v| self.tape.needs_grad[v.index()]);
        let i = self
            .push_node(if self.grad_enabled { op } else { Op::Leaf }, needs)
            .index();
        let t = &mut *self.tape;
        let (done, rest) = t.values.split_at_mut(i);
        let vals = Values {
            done,
            ops: &t.ops,
            params: self.params,
        };
        forward(&vals, &mut rest[0], &mut t.aux[i]);
        Var(i as u32)
    }

    /// Stores a list of vars on the tape (for ops with many inputs) and returns its start.
    pub(crate) fn push_list(&mut self, vars: &[Var]) -> u32 {
        let start = self.tape.list.len() as u32;
        self.tape.list.extend_from_slice(vars);
        start
    }

    /// Runs backpropagation from a scalar `loss` and returns ∂loss/∂p for every parameter p that
    /// the loss depends on (and ∂loss/∂v for any recorded node v, through [`Gradients::wrt`]).
    ///
    /// # Panics
    /// If `loss` does not hold exactly one value, or the graph was made with [`Graph::no_grad`].
    pub fn backward(self, loss: Var) -> Gradients<'t> {
        assert!(self.grad_enabled, "backward() on a no_grad graph");
        let t = self.tape;
        t.run_backward(loss, Store::Read(self.params));
        Gradients { tape: t }
    }
}
